//! `astrorim sample …` and `astrorim reconstruct --uncertainty`: the lens
//! posterior after the refinement (`astrorim_infer::posterior`), its chain
//! written as it grows (`chain.npz`, resumed when present), a corner plot,
//! `posterior.json` and a `posterior` entry in `result.json`.

use anyhow::{anyhow, Result};
use astrorim_infer::pipeline::LensReconstruction;
use astrorim_infer::posterior::{read_chain, sample_lens, summarize, write_chain, Chain, PosteriorOptions, PosteriorSummary};
use astrorim_infer::refine::RefineOptions;
use astrorim_infer::report::write_posterior;
use astrorim_physics::cosmology::LensDistances;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;

#[derive(Args, Clone, Debug)]
pub struct PosteriorArgs {
    /// After the refinement, sample the lens posterior (affine-invariant
    /// ensemble MCMC, the source solved inside the likelihood): OUT/chain.npz
    /// (written as it grows; an interrupted run resumes from it),
    /// OUT/corner.png, OUT/posterior.json and "posterior" in result.json.
    #[arg(long)]
    pub uncertainty: bool,
    /// Walkers of the ensemble (even, ≥ 14).
    #[arg(long, default_value_t = 16)]
    pub walkers: usize,
    /// Steps of the ensemble (each moves every walker: walkers × steps source solves).
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Seed of the sampler's random numbers.
    #[arg(long, default_value_t = 1)]
    pub sampler_seed: u64,
}

impl PosteriorArgs {
    pub fn options(&self) -> Result<PosteriorOptions> {
        PosteriorOptions::new(self.walkers, self.steps, self.sampler_seed).map_err(|e| anyhow!(e))
    }
}

/// Whether `dir` holds a finished posterior of `steps` steps (batch resume).
pub fn finished(dir: &Path, steps: usize) -> bool {
    std::fs::read(dir.join("posterior.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["diagnostics"]["steps"].as_u64())
        .is_some_and(|s| s as usize >= steps)
}

/// The chain in `out` to continue (empty when there is none), read before
/// any work: a chain this run could not continue is refused at once.
pub fn resume_chain(out: &Path, args: &PosteriorArgs) -> Result<Chain> {
    let options = args.options()?;
    let path = out.join("chain.npz");
    Ok(if path.exists() { read_chain(&path, &options)? } else { Chain::new(options.walkers) })
}

/// Samples the posterior of `result`'s lens, continuing `chain` (from
/// [`resume_chain`]), and writes its products into `out`.
pub fn run_posterior(
    result: &LensReconstruction,
    refine: &RefineOptions,
    args: &PosteriorArgs,
    chain: Chain,
    distances: Option<&LensDistances>,
    out: &Path,
    show_progress: bool,
) -> Result<PosteriorSummary> {
    let options = args.options()?;
    let chain_path = out.join("chain.npz");
    let progress = if show_progress { ProgressBar::new(options.steps as u64) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("posterior {bar:40} {pos}/{len} steps, {elapsed} elapsed, ETA {eta}").expect("a valid template"),
    );
    progress.set_position(chain.steps() as u64);
    let start = Instant::now();
    let map = result.fit.lens;
    let chain = sample_lens(&result.lens_problem(), &map, refine, &options, chain, |c| -> Result<(), String> {
        write_chain(&chain_path, c, &options).map_err(|e| e.to_string())?;
        progress.set_position(c.steps() as u64);
        Ok(())
    })
    .map_err(|e| anyhow!("{}: {e}", out.display()))?;
    progress.finish_and_clear();
    let summary = summarize(&chain, &map, distances, start.elapsed().as_secs_f64());
    write_posterior(out, &chain, &summary, &map)?;
    for warning in &summary.diagnostics.warnings {
        eprintln!("astrorim: warning: {}: {warning}", out.display());
    }
    Ok(summary)
}
