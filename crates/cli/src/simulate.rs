//! `astrorim simulate`: training data from the AstroRIM simulator variants.

use anyhow::{anyhow, Context, Result};
use astrorim_io::png::{Mosaic, Stretch};
use astrorim_sim::dataset::{generate, prepare, Generator, RunSpec, TEST_SET_PER_VARIANT, TEST_SET_SEED};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct SimulateArgs {
    /// Variant: v1 … v6, or mix (all six, see --mix-weights); --test-set for the held-out set.
    #[arg(long, default_value = "v1", conflicts_with = "preset")]
    variant: String,
    /// A preset TOML file (a user-defined variant) instead of --variant.
    #[arg(long)]
    preset: Option<PathBuf>,
    /// Weights of v1..v6 for --variant mix, comma-separated.
    #[arg(long, value_delimiter = ',')]
    mix_weights: Option<Vec<f64>>,
    /// Number of samples in the dataset.
    #[arg(short = 'n', long = "count")]
    count: Option<u64>,
    /// Seed: sample k is drawn from a stream that depends only on (seed, k).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory (manifest.json, shard-*.npz, truth-*.csv, truth.csv).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Samples per chunk file.
    #[arg(long, default_value_t = 1000)]
    shard_size: u64,
    /// Generate only chunks c with c mod N = I − 1 (split a run across processes or machines).
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Write a PNG grid of examples (lensed | source | noise map) instead of a dataset.
    #[arg(long)]
    preview: Option<PathBuf>,
    /// Examples in the preview.
    #[arg(long, default_value_t = 6)]
    preview_count: u64,
    /// The fixed held-out test set: 150 samples of each of v1…v6 (900), from
    /// a seed that training refuses, in chunks of one variant each.
    #[arg(long, conflicts_with_all = ["preset", "mix_weights", "count", "seed", "shard_size", "preview"])]
    test_set: bool,
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 2/4")?;
    let (i, n): (u64, u64) = (i.trim().parse().map_err(|_| "I must be an integer")?, n.trim().parse().map_err(|_| "N must be an integer")?);
    if n == 0 || i == 0 || i > n {
        return Err(format!("{i}/{n}: need 1 ≤ I ≤ N"));
    }
    Ok((i, n))
}

fn generator(args: &SimulateArgs) -> Result<Generator> {
    if args.test_set {
        return Ok(Generator::named("test-set", None)?);
    }
    Ok(match &args.preset {
        Some(path) => Generator::from_file(path)?,
        None => Generator::named(&args.variant, args.mix_weights.as_deref())?,
    })
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let generator = generator(&args)?;
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(anyhow!("threads: must be at least 1"));
        }
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().context("cannot start the worker threads")?;
    }
    if let Some(path) = &args.preview {
        return preview(&generator, args.seed, args.preview_count, path);
    }
    let (count, seed, shard_size) = if args.test_set {
        (TEST_SET_PER_VARIANT * generator.members.len() as u64, TEST_SET_SEED, TEST_SET_PER_VARIANT)
    } else {
        (args.count.ok_or_else(|| anyhow!("n: give the number of samples with -n (or --preview PATH)"))?, args.seed, args.shard_size)
    };
    let out = args.out.clone().ok_or_else(|| anyhow!("out: give the output directory with --out"))?;
    let spec = RunSpec { generator, count, seed, shard_size, shard: args.shard, out };
    let (chunks, samples) = prepare(&spec)?;
    let bar = ProgressBar::new(samples);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} samples  {per_sec}  ETA {eta}").expect("valid template"),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    generate(&spec, &chunks, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    eprintln!(
        "{}: {} samples in {} chunk(s) written ({} already present)",
        spec.out.display(),
        samples,
        chunks.len(),
        spec.my_chunks().len() - chunks.len()
    );
    Ok(())
}

fn preview(generator: &Generator, seed: u64, count: u64, path: &std::path::Path) -> Result<()> {
    if count == 0 {
        return Err(anyhow!("preview-count: must be at least 1"));
    }
    let (n, m, _) = generator.shapes()?;
    let mut mosaic = Mosaic::new(3, count as usize, 192);
    for k in 0..count {
        let s = generator.simulate(seed, k);
        mosaic.put(0, k as usize, &s.image, n, n, Stretch::Asinh);
        mosaic.put(1, k as usize, &s.source, m, m, Stretch::Asinh);
        mosaic.put(2, k as usize, &s.noise, n, n, Stretch::Asinh);
    }
    mosaic.save(path)?;
    eprintln!("{}: {count} examples (columns: lensed image, unlensed source, noise map)", path.display());
    Ok(())
}
