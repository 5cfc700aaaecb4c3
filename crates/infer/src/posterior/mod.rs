//! The posterior of the lens parameters (SIE + external shear, lenstronomy's
//! keywords) and, by default, of the lens light's Sérsic parameters
//! ([`crate::sampled_light`]), by affine-invariant ensemble MCMC (emcee's
//! differential-evolution and stretch moves, ter Braak 2006 and Goodman &
//! Weare 2010, `ensemble::ensemble_step`), with the source solved inside the
//! likelihood; the walkers start from the posterior's Laplace
//! approximation about the refinement's fit ([`crate::laplace`]).
//!
//! Likelihood ([`LensLikelihood`]; by default [`InversionLikelihood`], the
//! RIM's is `astrorim_nn::rim_likelihood`): the Bayesian evidence of the
//! regularized source inversion for the lens, ln ε(η) at a fixed
//! regularization strength λ (set by the evidence at the most probable
//! lens), on the same lens-light-subtracted data, noise, mask and source
//! grid rule as the refinement
//! ([`crate::refine`]) — the source marginalized analytically, as in
//! Suyu et al. (2006) and Morningstar et al. (2019, §4). The lens light is
//! sampled with the lens, with an offset of the subtracted sky level
//! ([`crate::sampled_light`]: each proposal's data are the image less its
//! light and sky offset) or both held at their fit. Prior:
//! uniform in θ_E and the centre inside the refinement's bounds (θ_E
//! within its bounds, centre within the tolerance of the fitted light's
//! centre), Gaussian about zero in e1, e2 and γ1, γ2
//! ([`ELLIPTICITY_PRIOR_SD`], [`SHEAR_PRIOR_SD`]; |e| ≤ 0.5, |γ| ≤ 0.3);
//! the light's in its module. The likelihood is tempered
//! ([`DEFAULT_TEMPERATURE`]).
//!
//! Determinism: walker `w`'s random numbers for the block of steps starting
//! at step `t` come from a generator seeded by (seed, t, w), so a chain does
//! not depend on the thread count, and one resumed from its file at a block
//! boundary continues exactly as an uninterrupted run would.
//!
//! This module holds the run's settings, the chain and the driver
//! ([`sample_lens`], [`sample_with`]); the posterior density in `density`,
//! the starting ensemble and the moves in `ensemble`, τ and the burn-in in
//! `diagnostics`, the intervals and `result.json`'s record in `summary`, the
//! chain's npz file in `chain_file`.

mod chain_file;
mod density;
mod diagnostics;
mod ensemble;
mod summary;

pub use chain_file::{read_chain, write_chain};
pub use density::{
    log_likelihood, log_shape_prior, sampled_binning, sampled_problem, InversionLikelihood, LensLikelihood, ELLIPTICITY_PRIOR_SD,
    SHEAR_PRIOR_SD,
};
pub use diagnostics::{diagnose, integrated_time, Diagnostics, Interval};
pub use summary::{likelihood_in_words, map_position, position, samples, summarize, PosteriorSummary};

use crate::refine::{LensFamily, LensProblem, RefineOptions};
use crate::sampled_light::LightSampling;
use astrorim_physics::param_map::LenstronomyLens;
use density::Posterior;
use ensemble::{ensemble_step, initial_ensemble, walker_rng};
use rand_pcg::Pcg64;

/// The lens's sampled parameters, the chain's first columns (lenstronomy's
/// keywords; θ_E in arcsec); the lens light's and the sky offset's follow when they are sampled
/// ([`LightSampling::names`]).
pub const PARAMETER_NAMES: [&str; 7] = ["theta_E", "e1", "e2", "center_x", "center_y", "gamma1", "gamma2"];
const NDIM: usize = PARAMETER_NAMES.len();

/// Walkers when none are asked for: twice the sampled parameters, at least this.
const MIN_DEFAULT_WALKERS: usize = 16;

/// Settings of a posterior run.
#[derive(Debug, Clone, Copy)]
pub struct PosteriorOptions {
    /// Walkers (even, at least twice the sampled parameters); None: twice
    /// the parameters, at least 16 ([`Self::walkers_for`]).
    pub walkers: Option<usize>,
    /// Steps of the ensemble (each moves every walker once: `walkers` likelihood evaluations).
    pub steps: usize,
    pub seed: u64,
    /// Steps per block: the chain is handed to the caller (written to disk) after each.
    pub block: usize,
    /// The likelihood's temperature T: the chain samples L^(1/T) × prior
    /// ([`DEFAULT_TEMPERATURE`]; 1: the evidence as it is).
    pub temperature: f64,
}

/// The likelihood's temperature by default, measured on simulations
/// (`astrorim bench coverage`; docs/results.md): on simulated lenses with
/// Sérsic sources the refined lens's ln ε exceeds the truth's by ≈ 1.75 ×
/// χ²₇/2 (mean(2Δ ln ε)/7 = 1.76 over 253 lenses), where a calibrated
/// likelihood of 7 parameters gives χ²₇/2 — the evidence of a source prior
/// that does not match the source (a Gaussian smoothness prior for a cuspy
/// Sérsic) is overconfident about the lens, as a misspecified likelihood is
/// (its curvature smaller than its scatter); sampling L^(1/T) widens the
/// intervals by ≈ √T. θ_E needs less widening than q (their intervals'
/// nominal-coverage T, pooled over 253 lenses: θ_E 68 % 1.46, q 68 % 1.80),
/// and 1.6 lies between them. Chosen from 154 lenses sampled at T = 1.75
/// (twenty-eighth session) and checked on 99 lenses the choice did not
/// see, sampled at T = 1.6: θ_E inside its 68 % / 95 % intervals for
/// 0.73 / 0.97 of them, q for 0.68 / 0.96 (twenty-ninth session).
pub const DEFAULT_TEMPERATURE: f64 = 1.6;

/// Steps between hand-overs of the chain (writes to disk) by default.
pub const CHAIN_BLOCK: usize = 50;

impl Default for PosteriorOptions {
    fn default() -> Self {
        PosteriorOptions { walkers: None, steps: 2000, seed: 1, block: CHAIN_BLOCK, temperature: DEFAULT_TEMPERATURE }
    }
}

impl PosteriorOptions {
    /// Checked settings (blocks of [`CHAIN_BLOCK`]); errors name the option.
    /// Walkers are checked against the lens's 7 parameters here and against
    /// all the sampled ones (with the light's) when the run starts.
    pub fn new(walkers: Option<usize>, steps: usize, seed: u64) -> Result<Self, String> {
        if let Some(w) = walkers {
            check_walkers(w, NDIM)?;
        }
        if steps == 0 {
            return Err("steps: must be at least 1".into());
        }
        Ok(PosteriorOptions { walkers, steps, seed, block: CHAIN_BLOCK, temperature: DEFAULT_TEMPERATURE })
    }

    /// These settings at the likelihood's temperature `t` (finite, > 0); the error names the option.
    pub fn with_temperature(self, t: f64) -> Result<Self, String> {
        if !(t > 0.0 && t.is_finite()) {
            return Err(format!("temperature: must be a positive number, got {t}"));
        }
        Ok(PosteriorOptions { temperature: t, ..self })
    }

    /// The walkers for `ndim` sampled parameters: those asked for, or twice
    /// `ndim` (at least [`MIN_DEFAULT_WALKERS`]).
    pub fn walkers_for(&self, ndim: usize) -> usize {
        self.walkers.unwrap_or((2 * ndim).max(MIN_DEFAULT_WALKERS))
    }
}

/// An even number of walkers, at least twice the `ndim` parameters (the
/// ensemble's moves need it to span them); the error names the option.
fn check_walkers(walkers: usize, ndim: usize) -> Result<(), String> {
    if walkers < 2 * ndim || walkers % 2 != 0 {
        return Err(format!("walkers: need an even number ≥ {} (twice the {ndim} sampled parameters), got {walkers}", 2 * ndim));
    }
    Ok(())
}

/// The chain so far: positions as [step][walker][parameter] (θ_E, the
/// light's amplitude and R_sersic, not their logarithms) and ln posterior
/// as [step][walker]. A new chain is empty ([`Chain::default`]): its
/// walkers and columns are set when it starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chain {
    pub walkers: usize,
    /// The columns' names: [`PARAMETER_NAMES`], then the light's and the sky offset's when sampled.
    pub names: Vec<String>,
    pub positions: Vec<f64>,
    pub log_prob: Vec<f64>,
    /// Accepted moves over all steps and walkers.
    pub accepted: usize,
    /// Likelihood evaluations spent (each re-solves the source).
    pub evaluations: usize,
    /// The fixed regularization strength of the likelihood (NaN before the first block).
    pub lambda: f64,
    /// The likelihood's temperature the chain samples at (set when it starts).
    pub temperature: f64,
    /// The last ensemble in the sampler's coordinates (ln θ_E first), [walker][parameter]:
    /// a resumed run continues from these exact values (exp then ln of θ_E would not round-trip).
    pub last: Vec<Vec<f64>>,
}

impl Chain {
    /// Sampled parameters (columns).
    pub fn ndim(&self) -> usize {
        self.names.len()
    }

    pub fn steps(&self) -> usize {
        self.log_prob.len() / self.walkers.max(1)
    }

    /// Position of `walker` at `step`.
    pub fn at(&self, step: usize, walker: usize) -> &[f64] {
        let d = self.ndim();
        let k = (step * self.walkers + walker) * d;
        &self.positions[k..k + d]
    }

    pub fn acceptance_fraction(&self) -> f64 {
        self.accepted as f64 / (self.steps() * self.walkers).max(1) as f64
    }

    /// Every parameter's samples after `burn_in` steps, [parameter][sample], in [`Self::names`] order.
    pub fn columns(&self, burn_in: usize) -> Vec<Vec<f64>> {
        let d = self.ndim();
        let start = burn_in.min(self.steps()) * self.walkers * d;
        (0..d).map(|p| self.positions[start..].iter().skip(p).step_by(d).copied().collect()).collect()
    }

    /// The series of parameter `p` for each walker, from step `from` on.
    pub fn series(&self, p: usize, from: usize) -> Vec<Vec<f64>> {
        (0..self.walkers).map(|w| (from..self.steps()).map(|t| self.at(t, w)[p]).collect()).collect()
    }
}

/// The sampler explores an SIE with external shear (the seven columns of
/// [`PARAMETER_NAMES`]); any other lens model is refused, in words that
/// name it.
pub fn check_sampled_family(family: LensFamily) -> Result<(), String> {
    match family {
        LensFamily::SieShear => Ok(()),
        other => Err(format!("the posterior samples an SIE with external shear (sie+shear), not {}", other.lens_model_list().join(" + "))),
    }
}

/// Runs (or continues) the ensemble about the most probable lens `map` until
/// `options.steps`, calling `on_block` with the chain after every block (to
/// write it and report progress; an error there stops the run). `chain`
/// holds the steps done so far (empty for a new run). The likelihood is
/// that of the refinement's search ([`InversionLikelihood`]): `problem`
/// binned by `refine.search_binning` where its sides allow
/// ([`sampled_problem`]), the source on a `refine.source_size`² grid, λ at
/// its evidence maximum for `map`. With `light` the lens light is sampled
/// too (built for the same `refine`, [`LightSampling::of`]).
pub fn sample_lens<E: From<String>>(
    problem: &LensProblem,
    map: &LenstronomyLens,
    refine: &RefineOptions,
    options: &PosteriorOptions,
    chain: Chain,
    light: Option<&LightSampling>,
    on_block: impl FnMut(&Chain) -> Result<(), E>,
) -> Result<Chain, E> {
    check_sampled_family(refine.family)?;
    let coarse = sampled_problem(problem, refine);
    let problem = &coarse.as_ref().map_or(*problem, |c| c.view(problem));
    let likelihood = InversionLikelihood::about(problem, map, refine)?;
    sample_with(problem, map, options, chain, &likelihood, light, on_block)
}

/// [`sample_lens`] with any source solver: `problem` gives the prior's
/// bounds (and the pixel scale of the starting steps), `likelihood` the
/// data's ln L, `light` (when the lens light is sampled) each proposal's
/// data. A chain resumed from disk is checked against this likelihood: its
/// columns must be this run's, and its last ensemble is evaluated again —
/// a ln posterior that differs from the one stored (other data, settings or
/// solver) is refused.
pub fn sample_with<E: From<String>>(
    problem: &LensProblem,
    map: &LenstronomyLens,
    options: &PosteriorOptions,
    mut chain: Chain,
    likelihood: &dyn LensLikelihood,
    light: Option<&LightSampling>,
    mut on_block: impl FnMut(&Chain) -> Result<(), E>,
) -> Result<Chain, E> {
    let posterior = Posterior { problem, likelihood, light, temperature: options.temperature };
    let names: Vec<String> =
        PARAMETER_NAMES.iter().map(|n| n.to_string()).chain(light.map_or_else(Vec::new, LightSampling::names)).collect();
    let walkers = if chain.steps() == 0 { options.walkers_for(names.len()) } else { chain.walkers };
    check_walkers(walkers, names.len())?;
    if chain.steps() > 0 {
        if chain.names != names {
            return Err(columns_mismatch(&chain.names, &names).into());
        }
        if options.walkers.is_some_and(|w| w != chain.walkers) {
            return Err(format!("the chain on disk has {} walkers, not {}", chain.walkers, walkers).into());
        }
    }
    (chain.walkers, chain.names) = (walkers, names);
    let lambda = likelihood.lambda();
    if chain.steps() > 0 && !(chain.lambda.is_nan() && lambda.is_nan()) && !((chain.lambda / lambda - 1.0).abs() < 1e-9) {
        return Err(format!(
            "the chain on disk was sampled with λ = {:.6e}, this reconstruction gives {lambda:.6e}: it belongs to other data, settings or solver (use another --out)",
            chain.lambda
        )
        .into());
    }
    chain.lambda = lambda;
    if chain.steps() > 0 && chain.temperature != options.temperature {
        return Err(format!(
            "the chain on disk was sampled at temperature {}, this run asks for {}: use the same --temperature to resume it, or another --out",
            chain.temperature, options.temperature
        )
        .into());
    }
    chain.temperature = options.temperature;
    let (mut current, mut lp) = if chain.steps() == 0 {
        let (ensemble, lp, evaluations) = initial_ensemble(&posterior, map, options)?;
        chain.evaluations += evaluations;
        (ensemble, lp)
    } else {
        let stored = chain.log_prob[chain.log_prob.len() - chain.walkers..].to_vec();
        let (lp, _) = posterior.evaluate(&chain.last);
        if let Some((a, b)) = stored.iter().zip(&lp).find(|(a, b)| !same_log_prob(**a, **b)) {
            return Err(format!(
                "the chain on disk does not belong to this likelihood (ln posterior {a:.6} stored for its last ensemble, {b:.6} now): other data, settings or solver (use another --out)"
            )
            .into());
        }
        (chain.last.clone(), stored)
    };
    while chain.steps() < options.steps {
        let start = chain.steps();
        let n = options.block.max(1).min(options.steps - start);
        let mut rngs: Vec<Pcg64> = (0..walkers).map(|w| walker_rng(options.seed, start as u64, w as u64)).collect();
        for _ in 0..n {
            let (accepted, evaluations) = ensemble_step(&posterior, &mut current, &mut lp, &mut rngs);
            chain.accepted += accepted;
            chain.evaluations += evaluations;
            chain.log_prob.extend_from_slice(&lp);
            for x in &current {
                chain.positions.extend(posterior.natural(x));
            }
        }
        chain.last.clone_from(&current);
        on_block(&chain)?;
    }
    Ok(chain)
}

/// Why a chain on disk with the columns `on_disk` cannot be resumed by a
/// run sampling `run`, and what to do: the light's setting differs
/// (`--fix-light`), or both sample the light over other columns (another
/// lens-light model, or a chain of an earlier astrorim).
fn columns_mismatch(on_disk: &[String], run: &[String]) -> String {
    let sampled = |n: &[String]| n.len() > NDIM;
    let held = |n: &[String]| if sampled(n) { "the lens light sampled" } else { "the lens light held at its fit" };
    let advice = if sampled(on_disk) == sampled(run) {
        "other parameters (another lens-light model, or a chain of an earlier astrorim), so it cannot be resumed: use another --out"
    } else {
        "use the same light setting (--fix-light or not) to resume it, or another --out"
    };
    format!(
        "the chain on disk has the columns {} ({}), this run samples {} ({}): {advice}",
        on_disk.join(", "),
        held(on_disk),
        run.join(", "),
        held(run)
    )
}

/// Whether two ln posteriors of one ensemble agree: exactly for an exact
/// solver, to f32 rounding for the RIM (whose sums may be ordered
/// differently in a batch of another size).
fn same_log_prob(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-4 * a.abs().max(b.abs()) + 1e-2
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrorim_physics::grid::PixelGrid;

    #[test]
    fn columns_follow_the_parameter_order_after_the_burn_in() {
        let mut chain = Chain { walkers: 2, names: PARAMETER_NAMES.map(String::from).to_vec(), ..Chain::default() };
        // Position value = 100 step + 10 walker + parameter.
        for step in 0..3 {
            for walker in 0..2 {
                chain.positions.extend((0..NDIM).map(|p| (100 * step + 10 * walker + p) as f64));
                chain.log_prob.push(0.0);
            }
        }
        let columns = chain.columns(1);
        assert_eq!(columns.len(), NDIM);
        assert_eq!(columns[0], vec![100.0, 110.0, 200.0, 210.0]);
        assert_eq!(columns[6], vec![106.0, 116.0, 206.0, 216.0]);
        assert_eq!(position(&samples(&chain, 2)[1]), [210.0, 211.0, 212.0, 213.0, 214.0, 215.0, 216.0]);
    }

    /// A Gaussian "likelihood" of the lens parameters, independent per
    /// parameter (θ_E itself, not ln θ_E, is Gaussian: with the prior
    /// uniform in θ_E its posterior is the same Gaussian); records the size
    /// of every batch it is handed.
    struct Gaussian {
        mean: [f64; NDIM],
        sd: [f64; NDIM],
        batches: std::sync::Mutex<Vec<usize>>,
    }

    impl LensLikelihood for Gaussian {
        fn log_likelihoods(&self, lenses: &[LenstronomyLens], data: Option<&[Vec<f64>]>) -> Vec<f64> {
            assert!(data.is_none(), "the lens light is not sampled here");
            self.batches.lock().unwrap().push(lenses.len());
            lenses
                .iter()
                .map(|l| {
                    let p = [l.theta_E, l.e1, l.e2, l.center_x, l.center_y, l.gamma1, l.gamma2];
                    -0.5 * p.iter().zip(self.mean).zip(self.sd).map(|((p, m), s)| ((p - m) / s).powi(2)).sum::<f64>()
                })
                .collect()
        }

        fn lambda(&self) -> f64 {
            f64::NAN
        }

        fn description(&self) -> &'static str {
            "a Gaussian"
        }
    }

    fn gaussian(shift: f64) -> Gaussian {
        Gaussian {
            mean: [1.0 + shift, 0.1, -0.05, 0.01, -0.02, 0.03, 0.02],
            sd: [0.01, 0.02, 0.03, 0.005, 0.004, 0.01, 0.02],
            batches: Default::default(),
        }
    }

    fn run_gaussian(target: &Gaussian, steps: usize, chain: Chain) -> Result<Chain, String> {
        run_gaussian_at(target, steps, chain, 1.0)
    }

    fn run_gaussian_at(target: &Gaussian, steps: usize, chain: Chain, temperature: f64) -> Result<Chain, String> {
        let grid = PixelGrid::new(8, 8, 0.05, 1).unwrap();
        let problem = LensProblem {
            data: &[],
            sigma: &[],
            grid: &grid,
            psf: None,
            arc_pixels: &[],
            theta_e_bounds: (0.5, 2.0),
            center_bounds: ((0.0, 0.0), 0.1),
            positions: None,
        };
        let map = LenstronomyLens {
            theta_E: 1.0,
            e1: 0.1,
            e2: -0.05,
            center_x: 0.01,
            center_y: -0.02,
            gamma1: 0.03,
            gamma2: 0.02,
            Rs: 0.0,
            alpha_Rs: 0.0,
        };
        let options = PosteriorOptions { walkers: None, steps, seed: 5, block: 50, temperature };
        sample_with(&problem, &map, &options, chain, target, None, |_| Ok::<(), String>(()))
    }

    /// The ensemble's moves sample a known posterior: means within 4 standard
    /// errors (τ-corrected), standard deviations within 12 % — the
    /// Gaussian's L^(1/T) (standard deviations √T times the likelihood's)
    /// times the Gaussian prior of e and γ, at T = 1 and 2, every τ under 45
    /// steps; the starting ensemble reaches the likelihood as one batch, and
    /// then each half's proposals.
    #[test]
    fn the_ensemble_moves_sample_a_gaussian() {
        for temperature in [1.0, 2.0] {
            samples_a_gaussian_at(temperature);
        }
    }

    fn samples_a_gaussian_at(temperature: f64) {
        let likelihood = gaussian(0.0);
        let chain = run_gaussian_at(&likelihood, 3000, Chain::default(), temperature).unwrap();
        assert_eq!(chain.temperature, temperature);
        // The Laplace approximation's batches (its start, its 2d diagonal
        // points, then 2d² points and 4 Newton tries a round), the starting
        // ensemble in one batch, then each half's proposals.
        let batches = likelihood.batches.lock().unwrap().clone();
        let start = batches.len() - 1 - 2 * 3000;
        assert_eq!(batches[..2], [1, 2 * NDIM]);
        assert!(batches[2..start].chunks(2).all(|round| round == [2 * NDIM * NDIM, 4]), "{:?}", &batches[..start]);
        assert_eq!(batches[start], 16);
        assert!(batches[start + 1..].iter().all(|&b| b == 8));
        // The posterior: L^(1/T) times the prior, Gaussian in e1, e2, γ1, γ2 (columns 1, 2, 5, 6).
        let mut target = gaussian(0.0);
        for p in 0..NDIM {
            let precision = 1.0 / (temperature * likelihood.sd[p].powi(2));
            let prior_precision = match p {
                1 | 2 => ELLIPTICITY_PRIOR_SD.powi(-2),
                5 | 6 => SHEAR_PRIOR_SD.powi(-2),
                _ => 0.0,
            };
            target.mean[p] = likelihood.mean[p] * precision / (precision + prior_precision);
            target.sd[p] = (precision + prior_precision).powf(-0.5);
        }
        let d = diagnose(&chain);
        assert!((0.2..0.6).contains(&d.acceptance_fraction), "acceptance {}", d.acceptance_fraction);
        // The mixture mixes: τ 22–35 steps here, where the stretch move alone took 67–93 (2026-12-04).
        assert!(d.autocorrelation_time.iter().all(|&t| t < 45.0), "τ {:?}", d.autocorrelation_time);
        let burn = 500;
        for (p, column) in chain.columns(burn).iter().enumerate() {
            let n = column.len() as f64;
            let mean = column.iter().sum::<f64>() / n;
            let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            let tau = d.autocorrelation_time[p];
            let standard_error = target.sd[p] * (tau / n).sqrt();
            assert!((mean - target.mean[p]).abs() < 4.0 * standard_error, "{}: mean {mean} for {}", PARAMETER_NAMES[p], target.mean[p]);
            assert!((sd / target.sd[p] - 1.0).abs() < 0.12, "T {temperature}, {}: sd {sd} for {}", PARAMETER_NAMES[p], target.sd[p]);
        }
    }

    /// Walkers start in the posterior's bulk even when the most probable lens
    /// handed over is 8 σ from it in θ_E (the Laplace approximation's Newton
    /// steps): after one step the ensemble's θ_E mean is within one σ of the
    /// posterior's (16 walkers: 4 standard errors) and its spread within
    /// a factor 1.6 of σ — the old start, a box of ±0.5 % about the lens
    /// handed over, would sit 8 σ off with a tenth of the spread.
    #[test]
    fn the_walkers_start_in_the_posteriors_bulk() {
        let target = gaussian(0.08);
        let chain = run_gaussian(&target, 1, Chain::default()).unwrap();
        let theta: Vec<f64> = (0..chain.walkers).map(|w| chain.at(0, w)[0]).collect();
        let n = theta.len() as f64;
        let mean = theta.iter().sum::<f64>() / n;
        let sd = (theta.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!((mean - target.mean[0]).abs() < target.sd[0], "θ_E mean {mean} for {}", target.mean[0]);
        assert!((1.0 / 1.6..1.6).contains(&(sd / target.sd[0])), "θ_E spread {sd} for {}", target.sd[0]);
    }

    /// A chain continued from its file equals the uninterrupted one; one
    /// continued against another likelihood, or at another temperature, is refused.
    #[test]
    fn a_resumed_chain_continues_exactly_and_only_on_its_likelihood() {
        let target = gaussian(0.0);
        let full = run_gaussian(&target, 200, Chain::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.npz");
        let options = PosteriorOptions { walkers: Some(16), steps: 100, seed: 5, block: 50, temperature: 1.0 };
        write_chain(&path, &run_gaussian(&target, 100, Chain::default()).unwrap(), &options).unwrap();
        let resumed = run_gaussian(&target, 200, read_chain(&path, &options).unwrap()).unwrap();
        assert!(resumed.positions == full.positions && resumed.log_prob == full.log_prob, "the resumed chain differs");
        assert_eq!((resumed.accepted, resumed.evaluations), (full.accepted, full.evaluations));
        let error = run_gaussian(&gaussian(0.002), 200, read_chain(&path, &options).unwrap()).unwrap_err();
        assert!(error.contains("does not belong to this likelihood"), "{error}");
        let error = run_gaussian_at(&target, 200, read_chain(&path, &options).unwrap(), 2.0).unwrap_err();
        assert!(error.contains("temperature 1, this run asks for 2"), "{error}");
        let error = read_chain(&path, &PosteriorOptions { temperature: 2.0, ..options }).unwrap_err().to_string();
        assert!(error.contains("temperature 1, this run asks for 2"), "{error}");
        // A chain over other columns: the light sampled on disk, held now.
        let mut other = read_chain(&path, &options).unwrap();
        other.names.push("amplitude".into());
        let error = run_gaussian(&target, 200, other).unwrap_err();
        assert!(error.contains("use the same light setting (--fix-light or not)"), "{error}");
    }

    /// The advice names the light setting only when it is what differs.
    #[test]
    fn a_chain_over_other_columns_is_refused_with_its_reason() {
        let names = |extra: &[&str]| PARAMETER_NAMES.iter().chain(extra).map(|n| n.to_string()).collect::<Vec<_>>();
        let (held, sampled) = (names(&[]), names(&["amplitude", "sky_offset"]));
        let earlier = names(&["amplitude"]);
        assert!(columns_mismatch(&held, &sampled).contains("the lens light held at its fit), this run samples"));
        assert!(columns_mismatch(&sampled, &held).contains("use the same light setting"));
        let message = columns_mismatch(&earlier, &sampled);
        assert!(message.contains("cannot be resumed: use another --out") && !message.contains("light setting"), "{message}");
        assert!(message.contains("amplitude, sky_offset"), "{message}");
    }
}
