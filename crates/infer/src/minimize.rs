//! Derivative-free minimization of the fits' objectives (lens light, lens
//! refinement): argmin's Nelder–Mead simplex, from a start and per-parameter
//! step sizes. The objectives are not differentiable in closed form (the
//! source is re-solved inside them), so a simplex method is the natural
//! choice; bounds are imposed by the objective returning +∞ outside them.

use argmin::core::{CostFunction, Error, Executor, State};
use argmin::solver::neldermead::NelderMead;

/// The result of one minimization.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    /// Objective evaluations spent.
    pub evaluations: usize,
    /// Whether the simplex's spread of values fell below the tolerance
    /// before the evaluation budget ran out.
    pub converged: bool,
}

struct Objective<'a> {
    f: &'a (dyn Fn(&[f64]) -> f64 + Sync),
    count: &'a std::sync::atomic::AtomicUsize,
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Self::Param) -> Result<f64, Error> {
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let v = (self.f)(x);
        // Nelder–Mead orders vertices by value: a NaN would break the order.
        Ok(if v.is_nan() { f64::INFINITY } else { v })
    }
}

/// Minimizes `f` from `start` with an initial simplex of `start` and
/// `start + steps[i]·e_i`; stops when the standard deviation of the
/// simplex's values is below `tolerance` or after about `max_evaluations`
/// evaluations (checked per iteration, each of which costs 1–n+2).
pub fn nelder_mead(f: &(dyn Fn(&[f64]) -> f64 + Sync), start: &[f64], steps: &[f64], tolerance: f64, max_evaluations: usize) -> Minimum {
    assert_eq!(start.len(), steps.len(), "one step per parameter");
    let mut simplex = vec![start.to_vec()];
    for (i, &s) in steps.iter().enumerate() {
        let mut v = start.to_vec();
        v[i] += s;
        simplex.push(v);
    }
    let count = std::sync::atomic::AtomicUsize::new(0);
    let objective = Objective { f, count: &count };
    let solver = NelderMead::new(simplex).with_sd_tolerance(tolerance).expect("the tolerance is non-negative");
    // An iteration costs about two evaluations on average.
    let iterations = (max_evaluations / 2).max(1) as u64;
    let result = Executor::new(objective, solver).configure(|state| state.max_iters(iterations)).run();
    let evaluations = count.load(std::sync::atomic::Ordering::Relaxed);
    match result {
        Ok(res) => {
            let state = res.state();
            let converged = state.get_iter() < iterations;
            let x = state.get_best_param().cloned().unwrap_or_else(|| start.to_vec());
            Minimum { value: state.get_best_cost(), x, evaluations, converged }
        }
        // argmin errors only on invalid set-ups (checked above); keep the start.
        Err(_) => Minimum { x: start.to_vec(), value: f(start), evaluations, converged: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrock_and_of_a_bounded_quadratic() {
        let rosenbrock = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = nelder_mead(&rosenbrock, &[-1.2, 1.0], &[0.5, 0.5], 1e-14, 5000);
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{:?}", m.x);
        assert!(m.converged);
        // A bound by +∞: minimum of (x − 3)² on x ≤ 2 is at the bound.
        let bounded = |x: &[f64]| if x[0] > 2.0 || x[1].abs() > 5.0 { f64::INFINITY } else { (x[0] - 3.0).powi(2) + x[1] * x[1] };
        let m = nelder_mead(&bounded, &[0.0, 1.0], &[0.5, 0.5], 1e-14, 5000);
        assert!((m.x[0] - 2.0).abs() < 1e-4 && m.x[1].abs() < 1e-4, "{:?}", m.x);
    }
}
