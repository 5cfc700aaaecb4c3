//! Non-negative least squares for the few linear amplitudes of a
//! parametric model (source components, lens light): minimize
//! Σ w (d − Σ_k a_k I_k)² over a ≥ 0, given the normal equations.

use faer::linalg::solvers::Solve;
use faer::Mat;

/// Largest number of amplitudes [`non_negative_least_squares`] accepts:
/// it visits all 2ⁿ subsets.
pub const MAX_AMPLITUDES: usize = 8;

/// Amplitudes a ≥ 0 minimizing aᵀGa − 2aᵀr, i.e. Σ w (d − Σ_k a_k I_k)²
/// with the Gram matrix G_kl = Σ w I_k I_l (row-major, n × n) and r_k =
/// Σ w I_k d. Exact: every subset of free amplitudes is solved
/// unconstrained (faer's partial-pivoting LU) and the best non-negative
/// solution kept, so the result is the optimum whatever the columns'
/// correlations — where an active-set solver would iterate, 2ⁿ tiny solves
/// for the n ≤ [`MAX_AMPLITUDES`] amplitudes of a parametric model. All
/// zeros when no column fits (every r_k ≤ 0).
pub fn non_negative_least_squares(gram: &[f64], rhs: &[f64]) -> Vec<f64> {
    let n = rhs.len();
    assert!(n <= MAX_AMPLITUDES && gram.len() == n * n, "{n} amplitudes with a {}-entry Gram matrix", gram.len());
    let mut best = (0.0, vec![0.0; n]);
    for subset in 1usize..(1 << n) {
        let free: Vec<usize> = (0..n).filter(|k| subset >> k & 1 == 1).collect();
        let a = Mat::from_fn(free.len(), free.len(), |i, j| gram[free[i] * n + free[j]]);
        let r = Mat::from_fn(free.len(), 1, |i, _| rhs[free[i]]);
        let x = a.partial_piv_lu().solve(&r);
        let solution: Vec<f64> = (0..free.len()).map(|i| x[(i, 0)]).collect();
        if solution.iter().any(|&v| !(v >= 0.0 && v.is_finite())) {
            continue;
        }
        // At the subset's optimum aᵀGa − 2aᵀr = −aᵀr; recomputed from G so
        // that a near-singular subset's inexact solve is judged by its real value.
        let quadratic: f64 =
            free.iter().zip(&solution).flat_map(|(&k, ak)| free.iter().zip(&solution).map(move |(&l, al)| ak * al * gram[k * n + l])).sum();
        let objective = quadratic - 2.0 * free.iter().zip(&solution).map(|(&k, a)| a * rhs[k]).sum::<f64>();
        if objective < best.0 {
            let mut a = vec![0.0; n];
            for (&k, v) in free.iter().zip(solution) {
                a[k] = v;
            }
            best = (objective, a);
        }
    }
    best.1
}

/// G and r of [`non_negative_least_squares`] from `templates` (each of
/// unit amplitude), `data` and weights `w` (pixels of weight 0 ignored).
pub fn normal_equations(templates: &[&[f64]], data: &[f64], w: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = templates.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).zip(w).filter(|(_, &w)| w > 0.0).map(|((x, y), w)| w * x * y).sum::<f64>();
    let gram = (0..n * n).map(|kl| dot(templates[kl / n], templates[kl % n])).collect();
    let rhs = templates.iter().map(|t| dot(t, data)).collect();
    (gram, rhs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solve(templates: &[&[f64]], data: &[f64]) -> Vec<f64> {
        let (g, r) = normal_equations(templates, data, &vec![1.0; data.len()]);
        non_negative_least_squares(&g, &r)
    }

    #[test]
    fn interior_optimum_is_the_unconstrained_solution() {
        let (s, l) = ([1.0, 0.0, 1.0], [0.0, 1.0, 1.0]);
        let a = solve(&[&s, &l], &[2.0, 3.0, 5.0]);
        assert!((a[0] - 2.0).abs() < 1e-12 && (a[1] - 3.0).abs() < 1e-12, "{a:?}");
    }

    #[test]
    fn a_negative_amplitude_is_clipped_and_the_rest_refitted() {
        // d = 2 S − L: the best non-negative fit is S alone, a = S·d / S·S = 3/2.
        let (s, l) = ([1.0, 0.0, 1.0], [0.0, 1.0, 1.0]);
        let a = solve(&[&s, &l], &[2.0, -1.0, 1.0]);
        assert!((a[0] - 1.5).abs() < 1e-12 && a[1] == 0.0, "{a:?}");
        assert_eq!(solve(&[&s, &l], &[-1.0, -1.0, -2.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn agrees_with_a_brute_force_grid_search_on_three_correlated_columns() {
        // Correlated columns; the unconstrained fit is (2.42, −2.27, 0.71) and
        // the non-negative optimum keeps columns 0 and 2 (0.357, 0.539).
        let t: [[f64; 5]; 3] = [[1.0, 0.9, 0.2, 0.0, 0.3], [0.9, 1.0, 0.1, 0.4, 0.0], [0.0, 0.5, 1.0, 0.8, 0.6]];
        let d = [1.0, -0.5, 0.7, 0.2, 1.5];
        let a = solve(&[&t[0], &t[1], &t[2]], &d);
        let cost = |a: &[f64]| (0..5).map(|p| (d[p] - (0..3).map(|k| a[k] * t[k][p]).sum::<f64>()).powi(2)).sum::<f64>();
        let mut best = f64::INFINITY;
        let step = 0.005;
        for i in 0..400 {
            for j in 0..400 {
                for k in 0..400 {
                    best = best.min(cost(&[i as f64 * step, j as f64 * step, k as f64 * step]));
                }
            }
        }
        assert!(a[1] == 0.0 && (a[0] - 0.357).abs() < 1e-3 && (a[2] - 0.539).abs() < 1e-3, "{a:?}");
        assert!(cost(&a) <= best + 1e-12, "NNLS {} against the grid's {best}", cost(&a));
        assert!(cost(&a) > best - 1e-3, "the grid should come close: {} vs {best}", cost(&a));
    }
}
