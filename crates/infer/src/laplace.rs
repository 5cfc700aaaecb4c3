//! The Laplace approximation of a ln posterior near its mode, by finite
//! differences of batched evaluations: Newton steps to the mode and the
//! covariance −H⁻¹ there. The ensemble sampler starts its walkers from it
//! ([`crate::posterior`]), so that they begin in the posterior's bulk
//! rather than travel to it: started in a small box about the refinement's
//! fit, whose lens-light amplitude and sky offset lie several σ from the
//! posterior's mode along their degeneracy, the walkers of a simulated
//! lens took ≈ 400 steps to reach it (docs/results.md).
//!
//! Hand-written: it is a few dozen lines on top of faer's dense Cholesky,
//! and the Hessian's 2d + 2d(d − 1) points must be evaluated as one batch
//! (the source solves run in parallel), which the crates' numerical
//! differentiation, one point at a time, does not do.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};

/// Newton steps at most.
const MAX_NEWTON_STEPS: usize = 6;

/// A Newton step that gains less than this in ln p ends the search: the
/// posterior's bulk lies about d/2 below its peak, so smaller gains do not
/// move where the walkers start (on a simulated lens of `bench coverage`
/// the rounds gained 38.9, 3.8, 0.39, 0.07).
const MIN_GAIN: f64 = 0.5;

/// The Laplace approximation: the mode found, ln p there, and the covariance −H⁻¹.
#[derive(Debug, Clone)]
pub struct Laplace {
    pub mode: Vec<f64>,
    pub log_prob: f64,
    /// −H⁻¹ at the last point where the Hessian was taken (the mode, or
    /// one Newton step before it), row-major d × d.
    pub covariance: Vec<Vec<f64>>,
    /// The lower Cholesky factor of `covariance` (draws: mode + L z).
    pub cholesky: Vec<Vec<f64>>,
    pub newton_steps: usize,
}

/// The gradient and −H of ln p at `x` by central differences with steps
/// `s` (the Hessian's off-diagonal from the four points x ± sᵢeᵢ ± sⱼeⱼ);
/// None when a point is not finite.
fn derivatives(log_prob: &mut dyn FnMut(&[Vec<f64>]) -> Vec<f64>, x: &[f64], fx: f64, s: &[f64]) -> Option<(Vec<f64>, Mat<f64>)> {
    let d = x.len();
    let moved = |moves: &[(usize, f64)]| displaced(x, &moves.iter().map(|&(i, sign)| (i, sign * s[i])).collect::<Vec<_>>());
    let pairs: Vec<(usize, usize)> = (0..d).flat_map(|i| (0..i).map(move |j| (i, j))).collect();
    let mut points: Vec<Vec<f64>> = (0..d).flat_map(|i| [moved(&[(i, 1.0)]), moved(&[(i, -1.0)])]).collect();
    for &(i, j) in &pairs {
        for (a, b) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
            points.push(moved(&[(i, a), (j, b)]));
        }
    }
    let values = log_prob(&points);
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut gradient = vec![0.0; d];
    let mut neg_hessian = Mat::<f64>::zeros(d, d);
    for i in 0..d {
        let (plus, minus) = (values[2 * i], values[2 * i + 1]);
        gradient[i] = (plus - minus) / (2.0 * s[i]);
        neg_hessian[(i, i)] = -(plus - 2.0 * fx + minus) / (s[i] * s[i]);
    }
    for (k, &(i, j)) in pairs.iter().enumerate() {
        let v = &values[2 * d + 4 * k..2 * d + 4 * k + 4];
        let h = (v[0] - v[1] - v[2] + v[3]) / (4.0 * s[i] * s[j]);
        neg_hessian[(i, j)] = -h;
        neg_hessian[(j, i)] = -h;
    }
    Some((gradient, neg_hessian))
}

/// `x` with each (coordinate, shift) of `moves` added.
fn displaced(x: &[f64], moves: &[(usize, f64)]) -> Vec<f64> {
    let mut y = x.to_vec();
    for &(i, shift) in moves {
        y[i] += shift;
    }
    y
}

fn rows(m: &Mat<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows()).map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect()).collect()
}

/// The Laplace approximation of `log_prob` (ln p of a batch of points)
/// from `start`, with `steps` the first finite-difference steps (about the
/// posterior's width or smaller). Each round takes the Hessian with steps
/// the conditional standard deviations 1/√(−Hᵢᵢ) of the round before,
/// then a Newton step x + (−H)⁻¹ g, halved up to three times until ln p
/// rises; it ends when a step gains under [`MIN_GAIN`], none rises, or after six.
/// Where a difference point is not finite (beyond the prior's edge) the
/// steps are halved, at most three times. None when ln p at `start` is not
/// finite, the points still reach beyond the edge, or −H is not positive
/// definite.
pub fn laplace(log_prob: &mut dyn FnMut(&[Vec<f64>]) -> Vec<f64>, start: &[f64], steps: &[f64]) -> Option<Laplace> {
    let d = start.len();
    let mut x = start.to_vec();
    let mut fx = log_prob(&[x.clone()])[0];
    if !fx.is_finite() {
        return None;
    }
    // Conditional widths from the diagonal alone first: the steps given may
    // be far smaller than the posterior's width in some directions. A
    // coordinate whose points leave the support has its step halved, at most
    // three times: a start on the prior's edge has no approximation.
    let mut s = steps.to_vec();
    let mut pending: Vec<usize> = (0..d).collect();
    for _ in 0..4 {
        let points: Vec<Vec<f64>> = pending.iter().flat_map(|&i| [1.0, -1.0].map(|sign| displaced(&x, &[(i, sign * s[i])]))).collect();
        let values = log_prob(&points);
        let mut outside = Vec::new();
        for (k, &i) in pending.iter().enumerate() {
            let curvature = -(values[2 * k] - 2.0 * fx + values[2 * k + 1]) / (s[i] * s[i]);
            if !curvature.is_finite() {
                outside.push(i);
                s[i] *= 0.5;
            } else if curvature > 0.0 {
                s[i] = 1.0 / curvature.sqrt();
            }
        }
        pending = outside;
        if pending.is_empty() {
            break;
        }
    }
    if !pending.is_empty() {
        return None;
    }
    let mut newton_steps = 0;
    let mut last = None;
    for _ in 0..MAX_NEWTON_STEPS {
        // Points beyond the prior's edge: the steps halved, at most three times.
        let mut derived = None;
        for _ in 0..4 {
            derived = derivatives(log_prob, &x, fx, &s);
            if derived.is_some() {
                break;
            }
            s.iter_mut().for_each(|v| *v *= 0.5);
        }
        let (gradient, neg_hessian) = derived?;
        let Ok(llt) = neg_hessian.llt(Side::Lower) else {
            return None;
        };
        let covariance = llt.inverse();
        last = Some(covariance.clone());
        s = (0..d).map(|i| 1.0 / neg_hessian[(i, i)].sqrt()).collect();
        let delta: Vec<f64> = (0..d).map(|i| (0..d).map(|j| covariance[(i, j)] * gradient[j]).sum()).collect();
        let tries: Vec<Vec<f64>> = (0..4).map(|k| x.iter().zip(&delta).map(|(xi, di)| xi + di * 0.5f64.powi(k)).collect()).collect();
        let values = log_prob(&tries);
        let Some(k) = values.iter().position(|&v| v > fx) else {
            break;
        };
        let gain = values[k] - fx;
        (x, fx) = (tries[k].clone(), values[k]);
        newton_steps += 1;
        if gain < MIN_GAIN {
            break;
        }
    }
    let covariance = last?;
    let cholesky = covariance.llt(Side::Lower).ok()?.L().to_owned();
    let lower = Mat::from_fn(d, d, |i, j| if j <= i { cholesky[(i, j)] } else { 0.0 });
    Some(Laplace { mode: x, log_prob: fx, covariance: rows(&covariance), cholesky: rows(&lower), newton_steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ln N(x; μ, Σ) up to a constant for the 3-d Σ with correlation 0.9
    /// between its first two coordinates and widths (1, 0.01, 5).
    fn gaussian(x: &[f64]) -> f64 {
        let mu = [2.0, -1.0, 0.5];
        let sd = [1.0, 0.01, 5.0];
        let rho = 0.9;
        let z: Vec<f64> = (0..3).map(|i| (x[i] - mu[i]) / sd[i]).collect();
        -0.5 * ((z[0] * z[0] - 2.0 * rho * z[0] * z[1] + z[1] * z[1]) / (1.0 - rho * rho) + z[2] * z[2])
    }

    #[test]
    fn a_gaussian_gives_its_mean_and_covariance_in_one_newton_step() {
        let mut f = |xs: &[Vec<f64>]| xs.iter().map(|x| gaussian(x)).collect::<Vec<f64>>();
        // 8σ from the mean along the correlated pair, steps 100× too small.
        let fit = laplace(&mut f, &[10.0, -0.92, 0.5], &[0.01, 1e-4, 0.05]).unwrap();
        for (m, want) in fit.mode.iter().zip([2.0, -1.0, 0.5]) {
            assert!((m - want).abs() < 1e-9, "{:?}", fit.mode);
        }
        let want: [[f64; 3]; 3] = [[1.0, 0.9 * 0.01, 0.0], [0.9 * 0.01, 1e-4, 0.0], [0.0, 0.0, 25.0]];
        for i in 0..3 {
            for j in 0..3 {
                let scale = want[i][i].sqrt() * want[j][j].sqrt();
                assert!((fit.covariance[i][j] - want[i][j]).abs() < 1e-9 * scale, "{i}{j}: {:?}", fit.covariance);
            }
        }
        // L Lᵀ = Σ.
        for i in 0..3 {
            for j in 0..3 {
                let llt: f64 = (0..3).map(|k| fit.cholesky[i][k] * fit.cholesky[j][k]).sum();
                assert!((llt - fit.covariance[i][j]).abs() < 1e-12 * 25.0);
            }
        }
        // The first step lands on the mode (a second gains only rounding).
        assert!(fit.newton_steps <= 2);
        assert!((fit.log_prob - 0.0).abs() < 1e-12);
    }

    #[test]
    fn a_quartic_peak_is_reached_by_several_steps() {
        // ln p = −(u⁴ + u²) − v² − uv/2 with u = x − 1, v = y + 2: its peak
        // (1, −2) is reached by Newton steps, not in one.
        let mut f = |xs: &[Vec<f64>]| {
            xs.iter()
                .map(|p| {
                    let (u, v) = (p[0] - 1.0, p[1] + 2.0);
                    -(u.powi(4) + u * u) - v * v - 0.5 * u * v
                })
                .collect::<Vec<f64>>()
        };
        let fit = laplace(&mut f, &[3.0, 0.0], &[0.1, 0.1]).unwrap();
        assert!(fit.newton_steps >= 2);
        assert!(fit.log_prob > -MIN_GAIN && fit.log_prob <= 0.0, "{fit:?}");
    }

    #[test]
    fn no_approximation_at_a_saddle_or_outside_the_support() {
        let mut saddle = |xs: &[Vec<f64>]| xs.iter().map(|v| v[0] * v[0] - v[1] * v[1]).collect::<Vec<f64>>();
        assert!(laplace(&mut saddle, &[0.3, 0.2], &[0.1, 0.1]).is_none());
        let mut outside = |xs: &[Vec<f64>]| xs.iter().map(|_| f64::NEG_INFINITY).collect::<Vec<f64>>();
        assert!(laplace(&mut outside, &[0.0], &[0.1]).is_none());
    }

    #[test]
    fn near_the_supports_edge_the_steps_shrink_until_they_stay_inside() {
        // ln N(x; 0.3, 0.1²) on x ≥ 0: from 0.3 the steps 0.5, then 0.25, cross the edge, 0.125 not...
        let mut bounded = |xs: &[Vec<f64>]| {
            xs.iter().map(|v| if v[0] < 0.0 { f64::NEG_INFINITY } else { -0.5 * ((v[0] - 0.3) / 0.1).powi(2) }).collect::<Vec<f64>>()
        };
        let fit = laplace(&mut bounded, &[0.3], &[0.5]).unwrap();
        assert!((fit.mode[0] - 0.3).abs() < 1e-9 && (fit.covariance[0][0] - 0.01).abs() < 1e-9, "{fit:?}");
        // ...but from 0.001 they do even at 0.5/8.
        assert!(laplace(&mut bounded, &[0.001], &[0.5]).is_none());
    }
}
