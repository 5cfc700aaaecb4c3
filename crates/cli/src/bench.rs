//! `astrorim bench`: timings on this machine (single thread unless stated).

use anyhow::{anyhow, Context, Result};
use astrorim_infer::posterior::PosteriorOptions;
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
    /// Semilinear inversion with evidence optimization: a v1 image (96×96) and
    /// its true lens, a 64×64 source grid, gradient regularization.
    Invert {
        /// Simulated samples to invert (seed 1, indices 0…).
        #[arg(short = 'n', long, default_value_t = 5)]
        count: u64,
        /// Rays per pixel side.
        #[arg(long, default_value_t = 2)]
        supersampling: usize,
        /// Source grid side.
        #[arg(long, default_value_t = 64)]
        source_grid: usize,
    },
    /// Calibration of the lens posterior: simulated lenses refined and
    /// sampled, the fraction of true θ_E and q inside the 68 % and 95 % intervals.
    Coverage {
        /// Lenses to simulate (indices FROM…).
        #[arg(short = 'n', long, default_value_t = 50)]
        count: u64,
        /// First lens index.
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Walkers (default: twice the sampled parameters, at least 16).
        #[arg(long)]
        walkers: Option<usize>,
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Hold the lens light at its fit (as `sample --fix-light`).
        #[arg(long)]
        fix_light: bool,
        /// Simulate the same lenses without their lens light (a diagnostic:
        /// the pipeline is given the true centre, which it otherwise finds
        /// from the light, and the light is held at its fit).
        #[arg(long)]
        no_lens_light: bool,
        /// The likelihood's temperature (as `sample --temperature`).
        #[arg(long, default_value_t = astrorim_infer::posterior::DEFAULT_TEMPERATURE)]
        temperature: f64,
        /// CSV of the per-lens intervals.
        #[arg(long, default_value = "coverage.csv")]
        out: PathBuf,
        /// Also write each simulated lens into this directory (created if
        /// needed): `lens_K.fits` (the noisy image, pixel scale in its
        /// header), `lens_K_psf.fits` and `lens_K_truth.json` (the true
        /// scene: `astrorim render` draws it without noise, `invert --lens`
        /// reads its lens), to rerun `astrorim reconstruct` on it.
        #[arg(long)]
        save: Option<PathBuf>,
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
        BenchTarget::Coverage { count, from, seed, walkers, steps, fix_light, no_lens_light, temperature, out, save } => {
            let options =
                PosteriorOptions::new(walkers, steps, seed).and_then(|o| o.with_temperature(temperature)).map_err(|e| anyhow!(e))?;
            let lenses = crate::coverage::Lenses { range: from..from + count, seed, lens_light: !no_lens_light, save };
            crate::coverage::run_coverage(&lenses, options, !(fix_light || no_lens_light), &out)
        }
        BenchTarget::Invert { count, supersampling, source_grid } => bench_invert(count, supersampling, source_grid),
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

/// Inference latency (operator binding, back-projection and 10 RIM
/// iterations; in joint mode also the encoder) at batch 1 and 16, the split
/// of one iteration, and training throughput (known-lens and joint, batch 8),
/// on v1 samples with untrained weights (the cost does not depend on them).
fn bench_rim(repeats: usize) -> Result<()> {
    use astrorim_nn::data::{batch, source_half_width};
    use astrorim_nn::forward::ForwardOperator;
    use astrorim_nn::joint::PsfSource;
    use astrorim_nn::known_lens::Iterate;
    use astrorim_nn::model::{AstroRim, Mode};
    use astrorim_nn::train::{train, TrainConfig};
    use astrorim_sim::dataset::{generate, prepare, DatasetReader, Generator, RunSpec};
    let dir = std::env::temp_dir().join(format!("astrorim-bench-rim-{}", std::process::id()));
    let data = dir.join("data");
    let spec = RunSpec { generator: Generator::named("v1", None)?, count: 48, seed: 1, shard_size: 16, shard: None, out: data.clone() };
    let (chunks, _) = prepare(&spec)?;
    generate(&spec, &chunks, &|_| {})?;
    let reader = DatasetReader::open(&data)?;
    let chunk = reader.load(0)?;
    let device = astrorim_nn::device::default_device();
    let m = &reader.manifest;
    let op = ForwardOperator::new(m.image_size, 1, m.source_size, source_half_width(&chunk, 0, m.image_size, m.source_size), &device);
    for mode in [Mode::KnownLens, Mode::Joint] {
        let model = AstroRim::new(mode, m.psf_size, &device, Some(0));
        for b in [1usize, 16] {
            let rows: Vec<usize> = (0..b).collect();
            let input = batch(&chunk, &rows, None, &op, m.psf_size, &device);
            let run = || {
                model
                    .reconstruct(&op, &input, PsfSource::Observed, Iterate { iterations: 10, positive: false, lens_gradient: false })
                    .source()
                    .into_data()
            };
            run();
            let start = Instant::now();
            for _ in 0..repeats {
                run();
            }
            let per = start.elapsed().as_secs_f64() / repeats as f64;
            println!(
                "inference {mode:?} batch {b}: {:.1} ms per batch, {:.1} ms per image (10 iterations, 96×96)",
                per * 1e3,
                per * 1e3 / b as f64
            );
            if mode == Mode::KnownLens {
                let f = input.operator(&op);
                let x = input.target.clone();
                let start = Instant::now();
                for _ in 0..repeats * 10 {
                    f.likelihood_gradient(&x, &input.observed, &input.sigma).into_data();
                }
                let grad = start.elapsed().as_secs_f64() / (repeats * 10) as f64;
                let state = model.rim.initial_state(b, m.source_size, &device);
                let start = Instant::now();
                for _ in 0..repeats * 10 {
                    model.rim.step(x.clone(), x.clone(), state.clone()).0.into_data();
                }
                let net = start.elapsed().as_secs_f64() / (repeats * 10) as f64;
                println!("  per iteration: likelihood gradient {:.1} ms, update network {:.1} ms", grad * 1e3, net * 1e3);
            }
        }
    }
    for mode in ["known-lens", "joint"] {
        let out = dir.join(mode);
        let config_path = dir.join(format!("{mode}.toml"));
        let text = format!(
            "data = {:?}\nout = {:?}\nmode = \"{mode}\"\nbatch_size = 8\nsteps = {}\nvalidate_every = 1000\nvalidation_samples = 1\n",
            data.display().to_string(),
            out.display().to_string(),
            repeats + 1
        );
        std::fs::write(&config_path, text)?;
        let rate = std::cell::Cell::new(0.0);
        let start = std::cell::Cell::new(None::<Instant>);
        train(&TrainConfig::from_toml(&config_path)?, &device, &|r| {
            // The first step is warm-up; time the rest.
            match start.get() {
                None => start.set(Some(Instant::now())),
                Some(t) => rate.set(8.0 * (r.step - 1) as f64 / t.elapsed().as_secs_f64()),
            }
        })?;
        println!("training {mode}: {:.2} samples/s (batch 8, 10 iterations, backward and AdamW step)", rate.get());
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Times the inversion of simulated v1 images with their true lens.
fn bench_invert(count: u64, supersampling: usize, source_size: usize) -> Result<()> {
    use astrorim_infer::inversion::{Inversion, Regularization};
    use astrorim_infer::operator::{LensingOperator, SourceGrid};
    use astrorim_physics::param_map::LenstronomyLens;
    use astrorim_physics::psf::Kernel;
    use astrorim_physics::PixelGrid;
    let generator = astrorim_sim::dataset::Generator::named("v1", None)?;
    let preset = &generator.members[0].1;
    for k in 0..count.max(1) {
        let sample = generator.simulate(1, k);
        let t = &sample.truth;
        let lens = LenstronomyLens {
            theta_E: t.theta_E,
            e1: t.e1,
            e2: t.e2,
            center_x: t.center_x,
            center_y: t.center_y,
            gamma1: t.gamma1,
            gamma2: t.gamma2,
            Rs: t.nfw_Rs,
            alpha_Rs: t.nfw_alpha_Rs,
        }
        .lens_model();
        let n = preset.image.size;
        let grid = PixelGrid::new(n, n, t.pixel_scale, supersampling)?;
        let psf = Kernel::from_pixels(preset.image.psf_size, preset.image.psf_size, sample.psf.iter().map(|&v| v as f64).collect())?;
        let half_width = preset.image.source_fov * n as f64 * t.pixel_scale / 2.0;
        let source = SourceGrid { size: source_size, half_width, center_x: 0.0, center_y: 0.0 };
        // The known-lens setting: subtract the lens light (the noiseless image
        // minus the lensed true source, through the simulator's own 4× rays
        // on its own source grid).
        let truth_grid = SourceGrid { size: preset.image.source_size, half_width, center_x: 0.0, center_y: 0.0 };
        let lensed = LensingOperator::new(&PixelGrid::new(n, n, t.pixel_scale, 4)?, &lens, &truth_grid, Some(&psf), 0.0)
            .apply(&sample.source.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let data: Vec<f64> = sample.image.iter().zip(&sample.clean).zip(&lensed).map(|((&y, &c), l)| (y - c) as f64 + l).collect();
        let sigma: Vec<f64> = sample.noise.iter().map(|&v| v as f64).collect();
        let start = Instant::now();
        let op = LensingOperator::new(&grid, &lens, &source, Some(&psf), 1e-3);
        let built = start.elapsed().as_secs_f64();
        let inversion = Inversion::new(&op, &data, &sigma, Regularization::Gradient).map_err(|e| anyhow!("{e}"))?;
        let prepared = start.elapsed().as_secs_f64();
        let (best, curve) = inversion.optimize().map_err(|e| anyhow!("{e}"))?;
        let total = start.elapsed().as_secs_f64();
        println!(
            "invert v1 #{k}: {total:.3} s (operator {built:.3} s, F nnz {}, normal equations {:.3} s, {} evidence evaluations {:.3} s); λ = {:.3e}, ln ε = {:.2}, reduced χ² = {:.3}",
            op.nnz(),
            prepared - built,
            curve.len(),
            total - prepared,
            best.lambda,
            best.log_evidence,
            best.reduced_chi2
        );
    }
    Ok(())
}
