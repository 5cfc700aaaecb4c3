//! Whether a chain has mixed: the integrated autocorrelation time
//! ([`integrated_time`]), the burn-in and the warnings ([`diagnose`]); and
//! the intervals of a sample ([`Interval`]).

use super::Chain;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posterior::ensemble::{symmetric_unit, walker_rng};

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
}
