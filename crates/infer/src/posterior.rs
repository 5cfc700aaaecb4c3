//! The posterior of the lens parameters (SIE + external shear, lenstronomy's
//! keywords) and, by default, of the lens light's Sérsic parameters
//! ([`crate::sampled_light`]), by affine-invariant ensemble MCMC (emcee's
//! differential-evolution and stretch moves, ter Braak 2006 and Goodman &
//! Weare 2010, [`ensemble_step`]), with the source solved inside the
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

use crate::inversion::FillOrdering;
use crate::laplace::laplace;
use crate::profiles::enclosed_kappa_area;
use crate::refine::{CoarseProblem, LensFamily, LensProblem, RefineOptions};
use crate::sampled_light::{LightSampling, SampledLight};
use astrorim_io::npz::{read_npz_array, write_npz, NpyArray, NpyData};
use astrorim_io::IoError;
use astrorim_physics::cosmology::LensDistances;
use astrorim_physics::ellipticity::{e1e2_to_q_phi, shear_cartesian_to_polar};
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::PixelGrid;
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The lens's sampled parameters, the chain's first columns (lenstronomy's
/// keywords; θ_E in arcsec); the lens light's and the sky offset's follow when they are sampled
/// ([`LightSampling::names`]).
pub const PARAMETER_NAMES: [&str; 7] = ["theta_E", "e1", "e2", "center_x", "center_y", "gamma1", "gamma2"];
const NDIM: usize = PARAMETER_NAMES.len();

/// Walkers when none are asked for: twice the sampled parameters, at least this.
const MIN_DEFAULT_WALKERS: usize = 16;

/// [`InversionLikelihood`], in words.
const INVERSION_LIKELIHOOD: &str = "ln Bayesian evidence of the regularized source inversion at fixed λ (source marginalized; Suyu et al. 2006), on the lens-light-subtracted image binned as in the refinement's search, the source grid following each lens";

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

/// The likelihood's temperature by default, measured on simulations (2026-12-04,
/// `astrorim bench coverage`; docs/results.md): on simulated lenses with
/// Sérsic sources the refined lens's ln ε exceeds the truth's by 7.0 on
/// average over 11 lenses (2·Δ ln ε: mean 12.7), where a calibrated
/// likelihood of 7 parameters gives χ²₇/2 (mean 3.5) — the evidence of a
/// source prior that does not match the source (a Gaussian smoothness
/// prior for a cuspy Sérsic) is overconfident about the lens by ≈ 1.8 in
/// ln L, as a misspecified likelihood is (its curvature smaller than its
/// scatter). Sampling L^(1/2) widens the intervals by ≈ √2 to match.
/// With the sky level sampled too (twenty-third session) the same rule
/// gives T ≈ 1.4 (mean 4.97 over 30 lenses) and T = 2 over-covers θ_E's
/// 68 % interval (0.80); run at T = 1.5 on 42 further lenses (twenty-fourth
/// and twenty-fifth sessions) θ_E is inside its 68 % / 95 % intervals for
/// 0.67 / 0.90 of them and q for 0.60 / 0.93: T = 1.5 under-covers at 95 %,
/// so T stays 2 (the heavy tail is a minority of lenses whose evidence
/// prefers another lens, docs/results.md).
pub const DEFAULT_TEMPERATURE: f64 = 2.0;

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

/// The likelihood the sampler explores: ln L of lenses, the source solved
/// (or reconstructed) for each. A batch is evaluated together, so that a
/// solver that runs faster on many lenses at once (the RIM) can.
pub trait LensLikelihood: Sync {
    /// ln L of each lens, the source solved under it (NaN or −∞ where that
    /// fails): of the problem's data, or with `data` of lens i's own (the
    /// image less its proposed lens light, on the problem's grid).
    fn log_likelihoods(&self, lenses: &[LenstronomyLens], data: Option<&[Vec<f64>]>) -> Vec<f64>;
    /// The regularization strength λ the likelihood holds fixed (NaN for a
    /// solver without one), written with the chain.
    fn lambda(&self) -> f64;
    /// The likelihood, in words (`posterior.json → likelihood`).
    fn description(&self) -> &'static str;
}

/// The likelihood of the refinement's search: the Bayesian evidence ln ε(η)
/// of the regularized source inversion for the lens, at the λ of the
/// evidence maximum for the most probable lens (the source marginalized,
/// Suyu et al. 2006), on a source grid following each lens. A batch is
/// solved in parallel, one inversion per lens.
pub struct InversionLikelihood<'a> {
    problem: LensProblem<'a>,
    lambda: f64,
    options: RefineOptions,
    /// The most probable lens's fill-reducing ordering, for every lens's inversion.
    ordering: FillOrdering,
}

impl<'a> InversionLikelihood<'a> {
    /// The likelihood about the most probable lens `map` (its inversion sets λ).
    pub fn about(problem: &LensProblem<'a>, map: &LenstronomyLens, refine: &RefineOptions) -> Result<Self, String> {
        let grid = crate::refine::source_grid_for(map, problem.grid, problem.arc_pixels, refine.source_size);
        let (at_map, _, ordering) = problem
            .solve_ordered(map, &grid, None, refine, None)
            .map_err(|e| format!("the inversion at the most probable lens failed: {e}"))?;
        Ok(InversionLikelihood { problem: *problem, lambda: at_map.lambda, options: *refine, ordering })
    }
}

impl LensLikelihood for InversionLikelihood<'_> {
    fn log_likelihoods(&self, lenses: &[LenstronomyLens], data: Option<&[Vec<f64>]>) -> Vec<f64> {
        lenses
            .par_iter()
            .enumerate()
            .map(|(i, lens)| {
                let problem = LensProblem { data: data.map_or(self.problem.data, |d| &d[i]), ..self.problem };
                problem.evidence_following(lens, self.lambda, &self.options, Some(&self.ordering))
            })
            .collect()
    }

    fn lambda(&self) -> f64 {
        self.lambda
    }

    fn description(&self) -> &'static str {
        INVERSION_LIKELIHOOD
    }
}

/// ln posterior on the sampler's coordinates x = (ln θ_E, e1, e2, x, y, γ1,
/// γ2, then the light's, [`LightSampling::encode`]): ln L / T + ln θ_E (the
/// Jacobian of a prior uniform in θ_E) + the Gaussian prior of e and γ
/// ([`log_shape_prior`]) + the light's Jacobian and (over T) its
/// central-disc term, −∞ outside the prior's bounds; with the number of
/// likelihood evaluations spent.
struct Posterior<'a> {
    problem: &'a LensProblem<'a>,
    likelihood: &'a dyn LensLikelihood,
    light: Option<&'a LightSampling>,
    /// ln L is divided by this ([`PosteriorOptions::temperature`]).
    temperature: f64,
}

impl Posterior<'_> {
    /// Sampled parameters.
    fn ndim(&self) -> usize {
        NDIM + self.light.map_or(0, LightSampling::dimension)
    }

    fn evaluate(&self, xs: &[Vec<f64>]) -> (Vec<f64>, usize) {
        // Each proposal inside the prior: its lens, ln of the prior's Jacobian, its light.
        let decoded: Vec<Option<(LenstronomyLens, f64, Option<SampledLight>)>> = xs
            .iter()
            .map(|x| {
                let lens = LensFamily::SieShear.decode(&x[..NDIM], self.problem.theta_e_bounds, self.problem.center_bounds)?;
                let log_prior = x[0] + log_shape_prior(&lens);
                match self.light {
                    Some(sampling) => sampling.decode(&x[NDIM..]).map(|(light, j)| (lens, log_prior + j, Some(light))),
                    None => Some((lens, log_prior, None)),
                }
            })
            .collect();
        let inside: Vec<&(LenstronomyLens, f64, Option<SampledLight>)> = decoded.iter().flatten().collect();
        let lenses: Vec<LenstronomyLens> = inside.iter().map(|(lens, _, _)| *lens).collect();
        let (data, central): (Vec<Vec<f64>>, Vec<f64>) = match self.light {
            Some(sampling) => {
                inside.par_iter().map(|(_, _, light)| sampling.residual(light.as_ref().expect("a light per proposal"))).unzip()
            }
            None => (Vec::new(), vec![0.0; inside.len()]),
        };
        let values = self.likelihood.log_likelihoods(&lenses, self.light.map(|_| data.as_slice()));
        let mut scored = inside.iter().zip(values).zip(central).map(|(((_, jacobian, _), v), c)| (v + c) / self.temperature + jacobian);
        let lp = decoded
            .iter()
            .map(|d| match d {
                Some(_) => {
                    let v = scored.next().expect("one value per proposal inside the prior");
                    if v.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        v
                    }
                }
                None => f64::NEG_INFINITY,
            })
            .collect();
        (lp, lenses.len())
    }

    /// Chain columns (natural units) of sampler coordinates `x`.
    fn natural(&self, x: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.len());
        out.push(x[0].exp());
        out.extend_from_slice(&x[1..NDIM]);
        if self.light.is_some() {
            out.extend(LightSampling::natural(&x[NDIM..]));
        }
        out
    }
}

/// The prior's standard deviations of the ellipticity components e1, e2
/// and of the shear components γ1, γ2 (Gaussians about zero, truncated at
/// |e| ≤ 0.5 and |γ| ≤ 0.3). Weakly informative: galaxy lenses are
/// rarely flatter than q ≈ 0.5 (|e| = 0.33) and external shears are a few
/// hundredths (σ_γ = 0.05 is PyAutoLens's default shear prior). A prior
/// uniform in the components, the earlier choice, puts density ∝ |e| on the
/// ellipticity and ∝ |γ| on the shear, so along the ellipticity–shear
/// degeneracy it pushed nearly round lenses towards q ≈ 0.7 (measured on
/// simulations, docs/results.md).
pub const ELLIPTICITY_PRIOR_SD: f64 = 0.2;
pub const SHEAR_PRIOR_SD: f64 = 0.05;

/// ln of the prior's Gaussian factors on (e1, e2) and (γ1, γ2), up to a constant.
pub fn log_shape_prior(lens: &LenstronomyLens) -> f64 {
    -0.5 * (lens.e1.powi(2) + lens.e2.powi(2)) / ELLIPTICITY_PRIOR_SD.powi(2)
        - 0.5 * (lens.gamma1.powi(2) + lens.gamma2.powi(2)) / SHEAR_PRIOR_SD.powi(2)
}

/// A generator for walker `walker` in the block starting at `step` (SplitMix64 of the three).
fn walker_rng(seed: u64, step: u64, walker: u64) -> Pcg64 {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ walker.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Pcg64::seed_from_u64(z ^ (z >> 31))
}

/// A uniform draw in [0, 1).
fn unit(rng: &mut Pcg64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform draw in [−1, 1).
fn symmetric_unit(rng: &mut Pcg64) -> f64 {
    2.0 * unit(rng) - 1.0
}

/// A standard normal draw (Box–Muller; the cosine branch only, so each draw
/// takes two uniforms and the stream does not depend on earlier draws' parity).
fn standard_normal(rng: &mut Pcg64) -> f64 {
    let radius = (-2.0 * (1.0 - unit(rng)).ln()).sqrt();
    radius * (std::f64::consts::TAU * unit(rng)).cos()
}

/// The starting ensemble and its ln posterior: walkers drawn from the
/// Laplace approximation of the posterior about the most probable lens
/// ([`laplace`], from the refinement's fit: Newton steps to the mode, its
/// covariance −H⁻¹), so that they start in the posterior's bulk; where it
/// does not exist (−H not positive definite, or the difference points
/// outside the prior even at an eighth of their steps) a small box about
/// the most probable lens (half-widths 0.5 % in θ_E, 0.01 in e and γ, a
/// tenth of a pixel in the centre, the light's
/// [`LightSampling::start_half_widths`]). Each walker is redrawn (its spread halved
/// every 20 tries) until its posterior is finite; the walkers still to
/// place are evaluated together. Returns the ensemble, its ln posterior
/// and the evaluations spent.
fn initial_ensemble(
    posterior: &Posterior,
    map: &LenstronomyLens,
    options: &PosteriorOptions,
) -> Result<(Vec<Vec<f64>>, Vec<f64>, usize), String> {
    let s = posterior.problem.grid.pixel_scale;
    let mut centre = LensFamily::SieShear.encode(map);
    let mut half = vec![0.005, 0.01, 0.01, 0.1 * s, 0.1 * s, 0.01, 0.01];
    if let Some(light) = posterior.light {
        centre.extend(LightSampling::encode(&light.fitted()));
        half.extend(light.start_half_widths());
    }
    let mut evaluations = 0;
    let approximation = laplace(
        &mut |xs: &[Vec<f64>]| {
            let (values, n) = posterior.evaluate(xs);
            evaluations += n;
            values
        },
        &centre,
        &half,
    );
    let walkers = options.walkers_for(posterior.ndim());
    let mut rngs: Vec<Pcg64> = (0..walkers).map(|w| walker_rng(options.seed, u64::MAX, w as u64)).collect();
    let draw = |rng: &mut Pcg64, shrink: f64| -> Vec<f64> {
        match &approximation {
            Some(fit) => {
                let z: Vec<f64> = (0..fit.mode.len()).map(|_| standard_normal(rng)).collect();
                fit.mode
                    .iter()
                    .zip(&fit.cholesky)
                    .map(|(m, row)| m + shrink * row.iter().zip(&z).map(|(l, z)| l * z).sum::<f64>())
                    .collect()
            }
            None => centre.iter().zip(&half).map(|(c, h)| c + shrink * h * symmetric_unit(rng)).collect(),
        }
    };
    let mut ensemble = vec![Vec::new(); walkers];
    let mut lp = vec![f64::NEG_INFINITY; walkers];
    for attempt in 0..200 {
        let pending: Vec<usize> = (0..walkers).filter(|&w| !lp[w].is_finite()).collect();
        if pending.is_empty() {
            break;
        }
        let shrink = 0.5f64.powi(attempt / 20);
        let xs: Vec<Vec<f64>> = pending.iter().map(|&w| draw(&mut rngs[w], shrink)).collect();
        let (values, n) = posterior.evaluate(&xs);
        evaluations += n;
        for ((&w, x), v) in pending.iter().zip(xs).zip(values) {
            (ensemble[w], lp[w]) = (x, v);
        }
    }
    if lp.iter().any(|v| !v.is_finite()) {
        return Err("the posterior is not finite anywhere near the most probable lens (the source solve fails there)".to_string());
    }
    Ok((ensemble, lp, evaluations))
}

/// The stretch move's scale a (Goodman & Weare 2010; emcee's default 2).
const STRETCH_SCALE: f64 = 2.0;

/// The fraction of walker updates that take the differential-evolution move.
const DE_FRACTION: f64 = 0.8;

/// One step of the ensemble: every walker of one half proposes a move
/// built from the other half and accepts it by the Metropolis rule; the
/// first half moves, then the second against the moved first (Foreman-Mackey
/// et al. 2013, Algorithm 3). Each walker takes, with probability
/// [`DE_FRACTION`], the differential-evolution move Y = X_k + γ (X_j1 − X_j2)
/// with j1 ≠ j2 of the other half and γ = 2.38/√(2d) (ter Braak 2006;
/// Nelson et al. 2014; emcee's `DEMove`), accepted with min(1, p(Y)/p(X_k)),
/// else the stretch move Y = X_j + z (X_k − X_j) towards a walker j of the
/// other half, z ~ g(z) ∝ 1/√z on [1/a, a], accepted with min(1, z^{d−1}
/// p(Y)/p(X_k)) (Goodman & Weare 2010). Both moves are affine invariant;
/// the stretch move alone mixes ever more slowly as the dimension grows
/// (Huijser et al. 2015), and on the 15 parameters of a lens, its light and
/// the sky the mixture halves τ (docs/results.md). Each half's proposals are
/// evaluated together. Walker k draws its move, partners, z and the
/// acceptance from `rngs[k]`, so the step does not depend on how the
/// evaluation is parallelized. Returns the moves accepted and the
/// likelihood evaluations spent.
///
/// Hand-written rather than taken from `hammer-and-sample`, whose model
/// evaluates one walker at a time: the RIM's cost per lens falls several
/// fold when a half-ensemble is reconstructed as one batch.
fn ensemble_step(posterior: &Posterior, ensemble: &mut [Vec<f64>], lp: &mut [f64], rngs: &mut [Pcg64]) -> (usize, usize) {
    let walkers = ensemble.len();
    let half = walkers / 2;
    let ndim = ensemble[0].len();
    let de_scale = 2.38 / (2.0 * ndim as f64).sqrt();
    let (mut accepted, mut evaluations) = (0, 0);
    // A uniform index below n.
    let index = |rng: &mut Pcg64, n: usize| ((rng.next_u64() as u128 * n as u128) >> 64) as usize;
    for moving in [0..half, half..walkers] {
        let others: Vec<usize> = (0..walkers).filter(|w| !moving.contains(w)).collect();
        // ln of each proposal's Hastings factor: z^{d−1} for the stretch, 1 for DE.
        let mut log_factors = Vec::with_capacity(half);
        let proposals: Vec<Vec<f64>> = moving
            .clone()
            .map(|k| {
                if unit(&mut rngs[k]) < DE_FRACTION {
                    let a = index(&mut rngs[k], others.len());
                    let b = (a + 1 + index(&mut rngs[k], others.len() - 1)) % others.len();
                    let (j1, j2) = (others[a], others[b]);
                    log_factors.push(0.0);
                    ensemble[k].iter().zip(&ensemble[j1]).zip(&ensemble[j2]).map(|((xk, x1), x2)| xk + de_scale * (x1 - x2)).collect()
                } else {
                    let j = others[index(&mut rngs[k], others.len())];
                    let z = ((STRETCH_SCALE - 1.0) * unit(&mut rngs[k]) + 1.0).powi(2) / STRETCH_SCALE;
                    log_factors.push((ndim as f64 - 1.0) * z.ln());
                    ensemble[j].iter().zip(&ensemble[k]).map(|(xj, xk)| xj + z * (xk - xj)).collect()
                }
            })
            .collect();
        let (values, n) = posterior.evaluate(&proposals);
        evaluations += n;
        for (((k, y), v), log_factor) in moving.zip(proposals).zip(values).zip(log_factors) {
            if unit(&mut rngs[k]).ln() < log_factor + v - lp[k] {
                (ensemble[k], lp[k]) = (y, v);
                accepted += 1;
            }
        }
    }
    (accepted, evaluations)
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

/// The search's binned copy of `problem`, when its sides allow (as in
/// [`crate::refine::refine`]): the data the posterior samples.
pub fn sampled_problem(problem: &LensProblem, refine: &RefineOptions) -> Option<CoarseProblem> {
    match sampled_binning(problem.grid, refine) {
        1 => None,
        factor => CoarseProblem::of(problem, factor),
    }
}

/// The block size by which the posterior bins an image on `grid`
/// ([`sampled_problem`]; 1: not binned).
pub fn sampled_binning(grid: &PixelGrid, refine: &RefineOptions) -> usize {
    if CoarseProblem::applies(grid, refine.search_binning) {
        refine.search_binning
    } else {
        1
    }
}

/// ln ε of `lens` under the sampler's likelihood (the problem binned as in
/// the search, the source grid following the lens) at `lambda`: to compare
/// the truth with the most probable lens on simulations.
pub fn log_likelihood(problem: &LensProblem, lens: &LenstronomyLens, refine: &RefineOptions, lambda: f64) -> f64 {
    let coarse = sampled_problem(problem, refine);
    coarse.as_ref().map_or(*problem, |c| c.view(problem)).evidence_following(lens, lambda, refine, None)
}

/// The integrated autocorrelation time τ of one parameter's chains (one
/// series per walker, equal lengths), in steps: the walkers' normalized
/// autocorrelation functions averaged, τ(M) = 1 + 2 Σ_{t=1..M} ρ(t), with
/// the window M the smallest for which M ≥ 5 τ(M) (Sokal 1997; the
/// estimator emcee recommends, Foreman-Mackey et al. 2013). Hand-written:
/// the crate's estimator takes one series, not the ensemble's average.
pub fn integrated_time(series: &[Vec<f64>]) -> f64 {
    let n = series.first().map_or(0, Vec::len);
    if n < 2 {
        return f64::NAN;
    }
    let centred: Vec<(Vec<f64>, f64)> = series
        .iter()
        .map(|s| {
            let mean = s.iter().sum::<f64>() / n as f64;
            let c: Vec<f64> = s.iter().map(|v| v - mean).collect();
            let variance = c.iter().map(|v| v * v).sum::<f64>() / n as f64;
            (c, variance)
        })
        .filter(|(_, v)| *v > 0.0)
        .collect();
    if centred.is_empty() {
        return f64::NAN;
    }
    let mut tau = 1.0;
    for lag in 1..n {
        let rho: f64 =
            centred.iter().map(|(c, variance)| c[lag..].iter().zip(c).map(|(a, b)| a * b).sum::<f64>() / n as f64 / variance).sum::<f64>()
                / centred.len() as f64;
        tau += 2.0 * rho;
        if lag as f64 >= 5.0 * tau {
            break;
        }
    }
    tau
}

/// Median and the 68 % and 95 % central intervals of a sample.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Interval {
    pub median: f64,
    pub p16: f64,
    pub p84: f64,
    pub p2_5: f64,
    pub p97_5: f64,
}

impl Interval {
    /// None for an empty or non-finite sample.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let r = p * (sorted.len() - 1) as f64;
            let (i, f) = (r.floor() as usize, r.fract());
            sorted[i] + f * (sorted[(i + 1).min(sorted.len() - 1)] - sorted[i])
        };
        Some(Interval { median: at(0.5), p16: at(0.16), p84: at(0.84), p2_5: at(0.025), p97_5: at(0.975) })
    }

    /// Whether `value` lies inside the 68 % (`wide` false) or 95 % interval.
    pub fn contains(&self, value: f64, wide: bool) -> bool {
        if wide {
            (self.p2_5..=self.p97_5).contains(&value)
        } else {
            (self.p16..=self.p84).contains(&value)
        }
    }
}

/// The chain's convergence diagnostics and which steps count as samples.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostics {
    pub steps: usize,
    pub walkers: usize,
    pub acceptance_fraction: f64,
    /// τ per parameter (steps) after the burn-in, in the chain's column order.
    pub autocorrelation_time: Vec<f64>,
    /// Steps after the burn-in divided by the largest τ (≥ 50 for a reliable τ and posterior).
    pub steps_per_tau: f64,
    /// Steps dropped from the start: 3 τ of the whole chain (whose τ a
    /// start outside the posterior's bulk lengthens), at most half the chain.
    pub burn_in_steps: usize,
    pub warnings: Vec<String>,
}

/// The burn-in of `chain`, τ of the steps after it, the acceptance, and a
/// plain warning for each sign that it has not mixed (shorter than 50 τ after the burn-in, acceptance outside
/// 0.15–0.7, a walker that never moved).
pub fn diagnose(chain: &Chain) -> Diagnostics {
    let steps = chain.steps();
    let largest = |tau: &[f64]| tau.iter().copied().filter(|v| v.is_finite()).fold(f64::NAN, f64::max);
    let tau_from = |from: usize| -> Vec<f64> { (0..chain.ndim()).map(|p| integrated_time(&chain.series(p, from))).collect() };
    // The burn-in from τ of the whole chain, which a start outside the
    // posterior's bulk lengthens (the burn-in then errs long)...
    let whole = largest(&tau_from(0));
    let burn = if whole.is_finite() { ((3.0 * whole).ceil() as usize).min(steps / 2) } else { steps / 2 };
    // ...and τ of the samples kept (emcee's practice: the burn-in discarded first).
    let tau = tau_from(burn);
    let tau_max = largest(&tau);
    let steps_per_tau = (steps - burn) as f64 / tau_max;
    let acceptance = chain.acceptance_fraction();
    let mut warnings = Vec::new();
    if !(steps_per_tau >= 50.0) {
        warnings.push(format!(
            "the chain keeps {} steps after {burn} of burn-in, {steps_per_tau:.1} autocorrelation times (τ_max = {tau_max:.1} steps): under 50 τ, so τ and the intervals are not reliable; run more steps (--steps, it resumes)",
            steps - burn
        ));
    }
    if !(0.15..=0.7).contains(&acceptance) {
        warnings.push(format!("acceptance fraction {acceptance:.3} is outside 0.15–0.7: the ensemble is not mixing well"));
    }
    let stuck = (0..chain.walkers).filter(|&w| steps > 1 && (1..steps).all(|t| chain.at(t, w) == chain.at(0, w))).count();
    if stuck > 0 {
        warnings.push(format!("{stuck} of {} walkers never moved", chain.walkers));
    }
    Diagnostics {
        steps,
        walkers: chain.walkers,
        acceptance_fraction: acceptance,
        autocorrelation_time: tau,
        steps_per_tau,
        burn_in_steps: burn,
        warnings,
    }
}

/// A lens as a chain position, in [`PARAMETER_NAMES`] order.
pub fn position(lens: &LenstronomyLens) -> [f64; NDIM] {
    [lens.theta_E, lens.e1, lens.e2, lens.center_x, lens.center_y, lens.gamma1, lens.gamma2]
}

/// The most probable lens and, when sampled, the lens light and sky offset in the chain's columns.
pub fn map_position(map: &LenstronomyLens, light: Option<&SampledLight>) -> Vec<f64> {
    let mut out = position(map).to_vec();
    if let Some(light) = light {
        out.extend(LightSampling::position(light));
    }
    out
}

/// The samples after the burn-in, as lenses.
pub fn samples(chain: &Chain, burn_in: usize) -> Vec<LenstronomyLens> {
    (burn_in..chain.steps())
        .flat_map(|t| (0..chain.walkers).map(move |w| (t, w)))
        .map(|(t, w)| {
            let p = &chain.at(t, w)[..NDIM];
            LenstronomyLens {
                theta_E: p[0],
                e1: p[1],
                e2: p[2],
                center_x: p[3],
                center_y: p[4],
                gamma1: p[5],
                gamma2: p[6],
                Rs: 0.0,
                alpha_Rs: 0.0,
            }
        })
        .collect()
}

/// What `result.json` records of a posterior run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PosteriorSummary {
    pub sampler: &'static str,
    pub likelihood: String,
    pub prior: String,
    pub lambda: f64,
    /// The likelihood's temperature T (the chain samples L^(1/T) × prior).
    pub temperature: f64,
    pub evaluations: usize,
    pub seconds: f64,
    pub diagnostics: Diagnostics,
    /// Samples after the burn-in (steps × walkers).
    pub samples: usize,
    /// Median, 68 % and 95 % intervals: θ_E, q, φ, γ_ext, φ_ext, centre, and
    /// with redshifts σ_v and M(<θ_E); the lens light's sampled parameters
    /// under their chain names. Angles are unwrapped about the most
    /// probable lens's (radians, lenstronomy's convention).
    pub intervals: BTreeMap<String, Interval>,
}

/// Angles of period π unwrapped into (reference − π/2, reference + π/2].
fn unwrap_about(angles: &mut [f64], reference: f64) {
    use std::f64::consts::PI;
    for a in angles {
        *a -= PI * ((*a - reference) / PI).round();
    }
}

/// Intervals of the post-burn-in samples, σ_v and the Einstein mass with
/// `distances` (M(<θ_E) on at most 4 000 evenly spaced samples: it needs a
/// contour integral per sample).
pub fn summarize(chain: &Chain, map: &LenstronomyLens, distances: Option<&LensDistances>, seconds: f64) -> PosteriorSummary {
    let diagnostics = diagnose(chain);
    let lenses = samples(chain, diagnostics.burn_in_steps);
    let column = |f: &dyn Fn(&LenstronomyLens) -> f64| -> Vec<f64> { lenses.iter().map(f).collect() };
    let (_, phi_map) = e1e2_to_q_phi(map.e1, map.e2);
    let (_, phi_ext_map) = shear_cartesian_to_polar(map.gamma1, map.gamma2);
    let mut phi = column(&|l| e1e2_to_q_phi(l.e1, l.e2).1);
    unwrap_about(&mut phi, phi_map);
    let mut phi_ext = column(&|l| shear_cartesian_to_polar(l.gamma1, l.gamma2).1);
    unwrap_about(&mut phi_ext, phi_ext_map);
    let mut columns: Vec<(String, Vec<f64>)> = [
        ("theta_e_arcsec", column(&|l| l.theta_E)),
        ("q", column(&|l| e1e2_to_q_phi(l.e1, l.e2).0)),
        ("phi_rad", phi),
        ("gamma_ext", column(&|l| shear_cartesian_to_polar(l.gamma1, l.gamma2).0)),
        ("phi_ext_rad", phi_ext),
        ("center_x", column(&|l| l.center_x)),
        ("center_y", column(&|l| l.center_y)),
        ("e1", column(&|l| l.e1)),
        ("e2", column(&|l| l.e2)),
        ("gamma1", column(&|l| l.gamma1)),
        ("gamma2", column(&|l| l.gamma2)),
    ]
    .into_iter()
    .map(|(name, values)| (name.to_string(), values))
    .collect();
    let all = chain.columns(diagnostics.burn_in_steps);
    columns.extend(chain.names.iter().zip(all).skip(NDIM).map(|(name, values)| (name.clone(), values)));
    if let Some(d) = distances {
        columns.push(("sigma_v_kms".into(), column(&|l| d.sigma_v_sis_kms(l.theta_E))));
        let stride = lenses.len().div_ceil(4000).max(1);
        let masses: Vec<f64> = lenses
            .par_iter()
            .step_by(stride)
            .map(|l| enclosed_kappa_area(&l.lens_model(), (l.center_x, l.center_y), l.theta_E) * d.sigma_crit_msun_per_arcsec2)
            .collect();
        columns.push(("mass_einstein_msun".into(), masses));
    }
    let intervals = columns.into_iter().filter_map(|(name, values)| Interval::of(&values).map(|i| (name, i))).collect();
    PosteriorSummary {
        sampler: "affine-invariant ensemble MCMC: each walker's move differential evolution (ter Braak 2006; γ = 2.38/√(2d)) with probability 0.8, else the stretch move (Goodman & Weare 2010; a = 2); each half-ensemble's proposals evaluated together",
        likelihood: likelihood_in_words(INVERSION_LIKELIHOOD, chain),
        prior: format!(
            "uniform in θ_E (within the refinement's bounds) and the centre (within the tolerance of the fitted lens light's centre); Gaussian about 0 in e1, e2 (σ {ELLIPTICITY_PRIOR_SD}, |e| ≤ 0.5) and γ1, γ2 (σ {SHEAR_PRIOR_SD}, |γ| ≤ 0.3); {}",
            if chain.ndim() > NDIM { LightSampling::prior_in_words() } else { "the lens light fixed at its fit".into() }
        ),
        lambda: chain.lambda,
        temperature: chain.temperature,
        evaluations: chain.evaluations,
        seconds,
        samples: lenses.len(),
        diagnostics,
        intervals,
    }
}

/// `description` of a likelihood (its [`LensLikelihood::description`]) as
/// `chain` used it: with the lens light sampled, what each proposal's data were; tempered, at which temperature.
pub fn likelihood_in_words(description: &str, chain: &Chain) -> String {
    let light = if chain.ndim() > NDIM {
        "; the lens light sampled: each proposal's data are the image less its light and sky offset, and the central disc (no lensed source there) adds −χ²/2 of the light and sky alone"
    } else {
        ""
    };
    let tempered = if chain.temperature == 1.0 {
        String::new()
    } else {
        format!("; tempered: the chain samples L^(1/T) with T = {} (intervals ≈ √T wider than L's own)", chain.temperature)
    };
    format!("{description}{light}{tempered}")
}

/// Writes the chain as `path` (npz, rewritten atomically after every block):
/// `chain` [step, walker, parameter], `log_prob` [step, walker],
/// `parameter_names`, the last ensemble in the sampler's coordinates
/// (`resume_state`), and the run's `accepted`, `evaluations`, `lambda`, `temperature`,
/// `seed` and `block` (a resumed run must use the same seed and block).
pub fn write_chain(path: &Path, chain: &Chain, options: &PosteriorOptions) -> Result<(), IoError> {
    let steps = chain.steps();
    let ndim = chain.ndim();
    let width = chain.names.iter().map(|n| n.len()).max().unwrap_or(1);
    let names: Vec<u8> = chain.names.iter().flat_map(|n| n.bytes().chain(std::iter::repeat(0)).take(width)).collect();
    let counters = [chain.accepted as u64, chain.evaluations as u64, options.seed, options.block as u64];
    let lambda = [chain.lambda];
    let temperature = [chain.temperature];
    let last: Vec<f64> = chain.last.iter().flatten().copied().collect();
    write_npz(
        path,
        &[
            NpyArray { name: "chain", shape: vec![steps, chain.walkers, ndim], data: NpyData::F64(&chain.positions) },
            NpyArray { name: "log_prob", shape: vec![steps, chain.walkers], data: NpyData::F64(&chain.log_prob) },
            NpyArray { name: "parameter_names", shape: vec![ndim], data: NpyData::Bytes { data: &names, width } },
            NpyArray { name: "accepted_evaluations_seed_block", shape: vec![4], data: NpyData::U64(&counters) },
            NpyArray { name: "lambda", shape: vec![1], data: NpyData::F64(&lambda) },
            NpyArray { name: "temperature", shape: vec![1], data: NpyData::F64(&temperature) },
            NpyArray { name: "resume_state", shape: vec![chain.last.len(), ndim], data: NpyData::F64(&last) },
        ],
    )
}

/// Reads a chain written by [`write_chain`] to resume it; an error (one
/// line, naming the file) when it is unreadable or was run with other
/// walkers (when `options` names them), seed, block or temperature. Whether its columns
/// are this run's is checked when it resumes ([`sample_with`]).
pub fn read_chain(path: &Path, options: &PosteriorOptions) -> Result<Chain, IoError> {
    let bad = |m: String| IoError::file(path, m);
    let positions = read_npz_array(path, "chain")?;
    let shape = positions.shape.clone();
    let positions = positions.to_f64().ok_or_else(|| bad("chain: not a float array".into()))?;
    let log_prob = read_npz_array(path, "log_prob")?.to_f64().ok_or_else(|| bad("log_prob: not a float array".into()))?;
    let counters =
        read_npz_array(path, "accepted_evaluations_seed_block")?.to_u64().ok_or_else(|| bad("counters: not a u64 array".into()))?;
    let lambda = read_npz_array(path, "lambda")?.to_f64().ok_or_else(|| bad("lambda: not a float array".into()))?;
    // Chains written before the temperature existed were sampled at T = 1.
    let temperature = match read_npz_array(path, "temperature") {
        Ok(t) => t.to_f64().filter(|t| t.len() == 1).ok_or_else(|| bad("temperature: not one float".into()))?[0],
        Err(_) => 1.0,
    };
    let last = read_npz_array(path, "resume_state")?.to_f64().ok_or_else(|| bad("resume_state: not a float array".into()))?;
    let names = read_npz_array(path, "parameter_names")?.to_strings().ok_or_else(|| bad("parameter_names: not a string array".into()))?;
    if shape.len() != 3
        || shape[2] < NDIM
        || names.len() != shape[2]
        || log_prob.len() != shape[0] * shape[1]
        || counters.len() != 4
        || lambda.len() != 1
        || last.len() != shape[1] * shape[2]
    {
        return Err(bad(format!("chain of shape {shape:?} is not this sampler's (steps, walkers, parameters ≥ {NDIM})")));
    }
    let walkers_differ = options.walkers.is_some_and(|w| w != shape[1]);
    if walkers_differ || counters[2] != options.seed || counters[3] != options.block as u64 {
        return Err(bad(format!(
            "was sampled with {} walkers, seed {}, block {}; this run asks for {}, {}, {}: use the same settings to resume it, or another --out",
            shape[1],
            counters[2],
            counters[3],
            options.walkers.map_or("the default walkers".into(), |w| w.to_string()),
            options.seed,
            options.block
        )));
    }
    if temperature != options.temperature {
        return Err(bad(format!(
            "was sampled at temperature {temperature}, this run asks for {}: use the same --temperature to resume it, or another --out",
            options.temperature
        )));
    }
    Ok(Chain {
        walkers: shape[1],
        names,
        positions,
        log_prob,
        accepted: counters[0] as usize,
        evaluations: counters[1] as usize,
        lambda: lambda[0],
        temperature,
        last: last.chunks(shape[2]).map(<[f64]>::to_vec).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrorim_physics::grid::PixelGrid;

    /// An AR(1) series x_t = ρ x_{t−1} + ε has τ = (1 + ρ)/(1 − ρ).
    #[test]
    fn integrated_time_of_ar1_matches_its_closed_form() {
        for rho in [0.5, 0.9] {
            let series: Vec<Vec<f64>> = (0..16)
                .map(|w| {
                    let mut rng = walker_rng(7, 0, w);
                    let mut x = 0.0;
                    (0..20_000)
                        .map(|_| {
                            // A sum of 12 uniforms in [−1, 1): variance 4, close to normal.
                            let e: f64 = (0..12).map(|_| symmetric_unit(&mut rng)).sum();
                            x = rho * x + e;
                            x
                        })
                        .collect()
                })
                .collect();
            let tau = integrated_time(&series);
            let exact = (1.0 + rho) / (1.0 - rho);
            assert!((tau / exact - 1.0).abs() < 0.08, "ρ {rho}: τ {tau} against {exact}");
        }
    }

    #[test]
    fn intervals_of_a_uniform_grid() {
        let values: Vec<f64> = (0..=1000).map(|k| k as f64 / 1000.0).collect();
        let i = Interval::of(&values).unwrap();
        assert!((i.median - 0.5).abs() < 1e-12 && (i.p16 - 0.16).abs() < 1e-12 && (i.p97_5 - 0.975).abs() < 1e-12);
        assert!(i.contains(0.2, false) && !i.contains(0.1, false) && i.contains(0.03, true));
        assert!(Interval::of(&[]).is_none() && Interval::of(&[1.0, f64::NAN]).is_none());
    }

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

    #[test]
    fn walker_generators_differ_by_block_and_walker() {
        let draw = |s, t, w| walker_rng(s, t, w).next_u64();
        assert_eq!(draw(1, 50, 3), draw(1, 50, 3));
        assert_ne!(draw(1, 50, 3), draw(1, 100, 3));
        assert_ne!(draw(1, 50, 3), draw(1, 50, 4));
        assert_ne!(draw(1, 50, 3), draw(2, 50, 3));
    }
}
