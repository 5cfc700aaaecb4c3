//! `astrorim bench`: timings on this machine (single thread unless stated).

use anyhow::{anyhow, Context, Result};
use astrorim_physics::render::render;
use astrorim_physics::scene::parse_scene;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchTarget,
}

#[derive(Subcommand)]
enum BenchTarget {
    /// Time `render` on a scene (default: a 96×96, 4× supersampled SIE + shear scene).
    Render {
        /// Scene JSON; defaults to the built-in benchmark scene.
        scene: Option<PathBuf>,
        /// Number of timed repetitions.
        #[arg(short, long, default_value_t = 50)]
        repeats: usize,
    },
    /// RIM inference latency (known-lens, 96×96 image, 96×96 source, 10 iterations) at batch 1 and 16.
    Rim {
        /// Timed repetitions per batch size.
        #[arg(short, long, default_value_t = 5)]
        repeats: usize,
    },
    /// Simulator throughput per variant on one thread (images per second).
    Simulate {
        /// Samples per variant.
        #[arg(short = 'n', long, default_value_t = 100)]
        count: u64,
        /// Variants to time, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "v1,v2,v3,v4,v5,v6,mix")]
        variants: Vec<String>,
    },
}

/// The benchmark scene of issue #2: 96×96 pixels, 4× supersampling, SIE +
/// shear, two Sérsic sources, Sérsic lens light, Moffat PSF.
const DEFAULT_SCENE: &str = include_str!("../../../examples/sie_shear_sersic.json");

pub fn run(args: BenchArgs) -> Result<()> {
    match args.what {
        BenchTarget::Rim { repeats } => bench_rim(repeats.max(1)),
        BenchTarget::Simulate { count, variants } => {
            for v in variants {
                let generator = astrorim_sim::dataset::Generator::named(&v, None)?;
                let start = Instant::now();
                let mut checksum = 0.0f64;
                for k in 0..count.max(1) {
                    checksum += generator.simulate(1, k).image.iter().map(|&x| x as f64).sum::<f64>();
                }
                let per = start.elapsed().as_secs_f64() / count.max(1) as f64;
                println!("simulate {v}: {:.2} ms per image, {:.1} images/s on one thread (checksum {checksum:.4e})", per * 1e3, 1.0 / per);
            }
            Ok(())
        }
        BenchTarget::Render { scene, repeats } => {
            let text = match &scene {
                Some(p) => std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?,
                None => DEFAULT_SCENE.to_string(),
            };
            let scene = parse_scene(&text)
                .map_err(|e| anyhow!("scene: {e}"))?
                .into_scene(|f| -> Result<_> { Err(anyhow!("psf.file {f}: FITS kernels are not supported in bench")) })?;
            let repeats = repeats.max(1);
            render(&scene);
            let start = Instant::now();
            let mut checksum = 0.0;
            for _ in 0..repeats {
                checksum += render(&scene).sum();
            }
            let per = start.elapsed().as_secs_f64() / repeats as f64;
            let g = scene.grid;
            println!(
                "render {}×{} supersampling {}: {:.2} ms per image ({:.1} images/s, one thread; checksum {checksum:.6e})",
                g.nx,
                g.ny,
                g.supersampling,
                per * 1e3,
                1.0 / per
            );
            Ok(())
        }
    }
}

/// Times `reconstruct` on v1 samples with an untrained RIM (the cost does not
/// depend on the weights).
fn bench_rim(repeats: usize) -> Result<()> {
    use astrorim_nn::forward::ForwardOperator;
    use astrorim_nn::data::{batch, source_half_width};
    use astrorim_nn::known_lens::reconstruct;
    use astrorim_sim::dataset::{generate, prepare, DatasetReader, Generator, RunSpec};
    let dir = std::env::temp_dir().join(format!("astrorim-bench-rim-{}", std::process::id()));
    let spec = RunSpec { generator: Generator::named("v1", None)?, count: 16, seed: 1, shard_size: 16, shard: None, out: dir.clone() };
    let (chunks, _) = prepare(&spec)?;
    generate(&spec, &chunks, &|_| {})?;
    let reader = DatasetReader::open(&dir)?;
    let chunk = reader.load(0)?;
    let device = astrorim_nn::device::default_device();
    let m = &reader.manifest;
    let op = ForwardOperator::new(m.image_size, 1, m.source_size, source_half_width(&chunk, m.image_size, m.source_size), &device);
    let rim = astrorim_nn::rim::Rim::new(&device);
    for b in [1usize, 16] {
        let rows: Vec<usize> = (0..b).collect();
        let input = batch(&chunk, &rows, None, &op, m.psf_size, &device);
        let f = input.operator(&op);
        reconstruct(&rim, &f, &input.observed, &input.sigma, 10);
        let start = Instant::now();
        for _ in 0..repeats {
            let x = reconstruct(&rim, &f, &input.observed, &input.sigma, 10).pop().expect("10 iterations");
            x.into_data();
        }
        let per = start.elapsed().as_secs_f64() / repeats as f64;
        println!("rim batch {b}: {:.1} ms per batch, {:.1} ms per image (10 iterations, 96×96)", per * 1e3, per * 1e3 / b as f64);
        let x = input.target.clone();
        let start = Instant::now();
        for _ in 0..repeats * 10 {
            f.likelihood_gradient(&x, &input.observed, &input.sigma).into_data();
        }
        let grad = start.elapsed().as_secs_f64() / (repeats * 10) as f64;
        let state = rim.initial_state(b, m.source_size, &device);
        let start = Instant::now();
        for _ in 0..repeats * 10 {
            rim.step(x.clone(), x.clone(), state.clone()).0.into_data();
        }
        let net = start.elapsed().as_secs_f64() / (repeats * 10) as f64;
        println!("  per iteration: likelihood gradient {:.1} ms, update network {:.1} ms", grad * 1e3, net * 1e3);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
