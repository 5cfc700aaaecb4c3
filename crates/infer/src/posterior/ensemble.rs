//! The ensemble's random numbers (one generator per walker and block), its
//! starting positions ([`initial_ensemble`]) and its moves ([`ensemble_step`]).

use super::density::Posterior;
use super::{LightSampling, PosteriorOptions};
use crate::laplace::laplace;
use crate::refine::LensFamily;
use astrorim_physics::param_map::LenstronomyLens;
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// A generator for walker `walker` in the block starting at `step` (SplitMix64 of the three).
pub(super) fn walker_rng(seed: u64, step: u64, walker: u64) -> Pcg64 {
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
pub(super) fn symmetric_unit(rng: &mut Pcg64) -> f64 {
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
pub(super) fn initial_ensemble(
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
pub(super) fn ensemble_step(posterior: &Posterior, ensemble: &mut [Vec<f64>], lp: &mut [f64], rngs: &mut [Pcg64]) -> (usize, usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walker_generators_differ_by_block_and_walker() {
        let draw = |s, t, w| walker_rng(s, t, w).next_u64();
        assert_eq!(draw(1, 50, 3), draw(1, 50, 3));
        assert_ne!(draw(1, 50, 3), draw(1, 100, 3));
        assert_ne!(draw(1, 50, 3), draw(1, 50, 4));
        assert_ne!(draw(1, 50, 3), draw(2, 50, 3));
    }
}
