//! The posterior density the sampler explores: the likelihood of a lens
//! with the source solved for it ([`LensLikelihood`]; the inversion's
//! evidence, [`InversionLikelihood`]), on the search's binned data
//! ([`sampled_problem`]), tempered and times the prior ([`Posterior`]).

use super::{LightSampling, NDIM};
use crate::inversion::FillOrdering;
use crate::refine::{CoarseProblem, LensFamily, LensProblem, RefineOptions};
use crate::sampled_light::SampledLight;
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::PixelGrid;
use rayon::prelude::*;

/// [`InversionLikelihood`], in words.
pub(super) const INVERSION_LIKELIHOOD: &str = "ln Bayesian evidence of the regularized source inversion at fixed λ (source marginalized; Suyu et al. 2006), on the lens-light-subtracted image binned as in the refinement's search, the source grid following each lens";
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
pub(super) struct Posterior<'a> {
    pub(super) problem: &'a LensProblem<'a>,
    pub(super) likelihood: &'a dyn LensLikelihood,
    pub(super) light: Option<&'a LightSampling>,
    /// ln L is divided by this ([`super::PosteriorOptions::temperature`]).
    pub(super) temperature: f64,
}

impl Posterior<'_> {
    /// Sampled parameters.
    pub(super) fn ndim(&self) -> usize {
        NDIM + self.light.map_or(0, LightSampling::dimension)
    }

    pub(super) fn evaluate(&self, xs: &[Vec<f64>]) -> (Vec<f64>, usize) {
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
    pub(super) fn natural(&self, x: &[f64]) -> Vec<f64> {
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
