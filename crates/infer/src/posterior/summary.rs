//! What a finished chain says: its samples as lenses, the intervals of the
//! lens's parameters and the derived σ_v and Einstein mass, and how the run
//! is recorded in `result.json` ([`summarize`]).

use super::density::INVERSION_LIKELIHOOD;
use super::{diagnose, Chain, Diagnostics, Interval, LightSampling, ELLIPTICITY_PRIOR_SD, NDIM, SHEAR_PRIOR_SD};
use crate::profiles::enclosed_kappa_area;
use crate::sampled_light::SampledLight;
use astrorim_physics::cosmology::LensDistances;
use astrorim_physics::ellipticity::{e1e2_to_q_phi, shear_cartesian_to_polar};
use astrorim_physics::param_map::LenstronomyLens;
use rayon::prelude::*;
use std::collections::BTreeMap;

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
