//! `astrorim sample …` and `astrorim reconstruct --uncertainty`: the lens
//! posterior after the refinement (`astrorim_infer::posterior`), its chain
//! written as it grows (`chain.npz`, resumed when present), a corner plot,
//! `posterior.json` and a `posterior` entry in `result.json`. The source
//! solver inside the likelihood is the inversion or the RIM (`--solver`);
//! the lens light is sampled with the lens unless `--fix-light`.

use anyhow::{anyhow, Result};
use astrorim_infer::pipeline::LensReconstruction;
use astrorim_infer::posterior::{
    check_sampled_family, likelihood_in_words, map_position, read_chain, sample_with, sampled_problem, summarize, write_chain, Chain,
    InversionLikelihood, LensLikelihood, PosteriorOptions, PosteriorSummary, DEFAULT_TEMPERATURE, PARAMETER_NAMES,
};
use astrorim_infer::refine::RefineOptions;
use astrorim_infer::report::write_posterior;
use astrorim_infer::sampled_light::LightSampling;
use astrorim_nn::checkpoint::{default_model_dir, load_checkpoint};
use astrorim_nn::device::default_device;
use astrorim_nn::rim_likelihood::RimLikelihood;
use astrorim_physics::cosmology::LensDistances;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Clone, Debug)]
pub struct PosteriorArgs {
    /// After the refinement, sample the lens posterior (affine-invariant
    /// ensemble MCMC, the source solved inside the likelihood): OUT/chain.npz
    /// (written as it grows; an interrupted run resumes from it),
    /// OUT/corner.png, OUT/posterior.json and "posterior" in result.json.
    #[arg(long)]
    pub uncertainty: bool,
    /// Walkers of the ensemble (even, at least twice the sampled
    /// parameters; default: twice them, at least 16 — 30 with one
    /// lens-light component and the sky sampled, 40 with two, 16 with --fix-light).
    #[arg(long)]
    pub walkers: Option<usize>,
    /// Hold the lens light and the sky level at their fit instead of
    /// sampling the light's Sérsic parameters and the sky's offset with the
    /// lens (7 parameters instead of 15 or 20: faster, but the lens's
    /// intervals then ignore the light's and the sky's uncertainty).
    #[arg(long)]
    pub fix_light: bool,
    /// Steps of the ensemble (each moves every walker: walkers × steps source solves).
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Seed of the sampler's random numbers.
    #[arg(long, default_value_t = 1)]
    pub sampler_seed: u64,
    /// The source solver inside the posterior's likelihood: `inversion`
    /// (the evidence of the regularized inversion, the source marginalized)
    /// or `rim` (−χ²/2 with the RIM's source, Morningstar et al. 2019 Fig. 9;
    /// each half-ensemble's lenses reconstructed as one batch).
    #[arg(long, value_enum, default_value_t = Solver::Inversion)]
    pub solver: Solver,
    /// The model whose RIM `--solver rim` uses (a directory with
    /// model.safetensors and model.json; default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The likelihood's temperature T: the chain samples L^(1/T) × prior.
    /// Default: 1.6 with `--solver inversion` (calibrated on simulated
    /// lenses: the evidence is overconfident about the lens;
    /// docs/results.md), 1 with `--solver rim` (not calibrated).
    #[arg(long)]
    pub temperature: Option<f64>,
}

/// The posterior's source solver.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Solver {
    Inversion,
    Rim,
}

impl PosteriorArgs {
    pub fn options(&self) -> Result<PosteriorOptions> {
        if self.model.is_some() && self.solver != Solver::Rim {
            return Err(anyhow!("model: only --solver rim uses a model"));
        }
        let temperature = self.temperature.unwrap_or(match self.solver {
            Solver::Inversion => DEFAULT_TEMPERATURE,
            Solver::Rim => 1.0,
        });
        PosteriorOptions::new(self.walkers, self.steps, self.sampler_seed)
            .and_then(|o| o.with_temperature(temperature))
            .map_err(|e| anyhow!(e))
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
    if !path.exists() {
        return Ok(Chain::default());
    }
    let chain = read_chain(&path, &options)?;
    let light_sampled = chain.ndim() > PARAMETER_NAMES.len();
    if light_sampled == args.fix_light {
        let how = |sampled: bool| if sampled { "with the lens light sampled" } else { "with the lens light held (--fix-light)" };
        return Err(anyhow!(
            "{}: was sampled {}, this run asks for it {}: use the same setting to resume it, or another --out",
            path.display(),
            how(light_sampled),
            how(!args.fix_light)
        ));
    }
    Ok(chain)
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
    check_sampled_family(refine.family).map_err(|e| anyhow!(e))?;
    let problem = result.lens_problem();
    let coarse = sampled_problem(&problem, refine);
    let problem = coarse.as_ref().map_or(problem, |c| c.view(&problem));
    let light = (!args.fix_light).then(|| LightSampling::of(result, refine));
    let likelihood: Box<dyn LensLikelihood> = match args.solver {
        Solver::Inversion => Box::new(InversionLikelihood::about(&problem, &map, refine).map_err(|e| anyhow!("{}: {e}", out.display()))?),
        Solver::Rim => {
            let dir = args.model.clone().unwrap_or_else(default_model_dir);
            let device = default_device();
            let (model, meta) = load_checkpoint(&dir, &device)?;
            let rim = RimLikelihood::new(model.rim, meta.config.iterations, &problem, &map, &device)
                .map_err(|e| anyhow!("{}: solver rim: {e}", out.display()))?;
            Box::new(rim)
        }
    };
    let chain = sample_with(&problem, &map, &options, chain, likelihood.as_ref(), light.as_ref(), |c| -> Result<(), String> {
        write_chain(&chain_path, c, &options).map_err(|e| e.to_string())?;
        progress.set_position(c.steps() as u64);
        Ok(())
    })
    .map_err(|e| anyhow!("{}: {e}", out.display()))?;
    progress.finish_and_clear();
    let mut summary = summarize(&chain, &map, distances, start.elapsed().as_secs_f64());
    summary.likelihood = likelihood_in_words(likelihood.description(), &chain);
    write_posterior(out, &chain, &summary, &map_position(&map, light.as_ref().map(LightSampling::fitted).as_ref()))?;
    for warning in &summary.diagnostics.warnings {
        eprintln!("astrorim: warning: {}: {warning}", out.display());
    }
    Ok(summary)
}
