//! Poisson deviates for the detector's photon noise.
//!
//! Hand-written because `rand_distr`'s Poisson rejects from a Cauchy
//! envelope with a tangent, a logarithm and a log-gamma per trial, which
//! was a sixth of the simulator's time (one draw per pixel, means of
//! 10²–10⁴ electrons). Here: inversion by sequential search for small
//! means, and Hörmann's transformed rejection with squeeze (PTRS; W.
//! Hörmann 1993, Insurance: Mathematics and Economics 12, 39–45) for
//! μ ≥ 10, which accepts most draws from two uniforms without any
//! transcendental function.

use rand::Rng;

/// Below this mean, inversion; from it on, PTRS (the paper's range).
const PTRS_FROM: f64 = 10.0;

/// One Poisson(μ) deviate (μ ≥ 0; zero for μ = 0), as f64.
pub fn poisson<R: Rng + ?Sized>(mu: f64, rng: &mut R) -> f64 {
    if mu < PTRS_FROM {
        inversion(mu, rng)
    } else {
        ptrs(mu, rng)
    }
}

/// Sequential search of the cumulative distribution from k = 0.
fn inversion<R: Rng + ?Sized>(mu: f64, rng: &mut R) -> f64 {
    let u: f64 = rng.gen();
    let mut p = (-mu).exp();
    let mut cumulative = p;
    let mut k = 0u32;
    // The tail beyond ~50 + 10μ is below f64 resolution: stop there.
    while u > cumulative && k < 50 + 10 * mu as u32 {
        k += 1;
        p *= mu / k as f64;
        cumulative += p;
    }
    k as f64
}

/// Transformed rejection with squeeze (Hörmann 1993, algorithm PTRS).
fn ptrs<R: Rng + ?Sized>(mu: f64, rng: &mut R) -> f64 {
    let sqrt_mu = mu.sqrt();
    let b = 0.931 + 2.53 * sqrt_mu;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let v_r = 0.9277 - 3.6224 / (b - 2.0);
    // ln μ only for the draws the squeeze does not settle (about a quarter).
    let mut ln_mu = None;
    loop {
        let u = rng.gen::<f64>() - 0.5;
        let v: f64 = rng.gen();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + mu + 0.43).floor();
        if us >= 0.07 && v <= v_r {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        let ln_mu = *ln_mu.get_or_insert_with(|| mu.ln());
        if (v * inv_alpha / (a / (us * us) + b)).ln() <= -mu + k * ln_mu - ln_factorial(k) {
            return k;
        }
    }
}

/// ln k! for integral k ≥ 0: a table below 10, above it Stirling's series
/// to the n⁻⁷ term, n = k + 1 (absolute error < 1e-12).
fn ln_factorial(k: f64) -> f64 {
    const TABLE: [f64; 10] = [
        0.0,
        0.0,
        std::f64::consts::LN_2,
        1.791_759_469_228_055,
        3.178_053_830_347_146,
        4.787_491_742_782_046,
        6.579_251_212_010_101,
        8.525_161_361_065_415,
        10.604_602_902_745_25,
        12.801_827_480_081_469,
    ];
    if k < 10.0 {
        return TABLE[k as usize];
    }
    let n = k + 1.0;
    let inv = 1.0 / n;
    let inv2 = inv * inv;
    // ln Γ(n) = (n − ½) ln n − n + ½ ln 2π + 1/(12n) − 1/(360n³) + 1/(1260n⁵) − 1/(1680n⁷).
    (n - 0.5) * n.ln() - n + 0.918_938_533_204_672_8 + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// χ² of a million draws against the exact probability mass function
    /// over bins expecting at least 20 counts (the tails pooled into one),
    /// with its degrees of freedom.
    fn chi2(mu: f64) -> (f64, f64) {
        let draws = 1_000_000;
        let mut rng = ChaCha8Rng::seed_from_u64(mu.to_bits());
        let mut counts = std::collections::HashMap::new();
        for _ in 0..draws {
            *counts.entry(poisson(mu, &mut rng) as i64).or_insert(0u64) += 1;
        }
        let pmf = |k: i64| (-mu + k as f64 * mu.ln() - libm::lgamma(k as f64 + 1.0)).exp();
        let (mut chi2, mut bins) = (0.0, 0);
        let (mut pooled_expected, mut pooled_seen) = (0.0, 0.0);
        let top = (mu + 12.0 * mu.sqrt() + 20.0) as i64;
        for k in 0..=top {
            let expected = pmf(k) * draws as f64;
            let seen = *counts.get(&k).unwrap_or(&0) as f64;
            if expected >= 20.0 {
                chi2 += (seen - expected).powi(2) / expected;
                bins += 1;
            } else {
                pooled_expected += expected;
                pooled_seen += seen;
            }
        }
        pooled_seen += counts.iter().filter(|(&k, _)| k > top).map(|(_, &c)| c).sum::<u64>() as f64;
        if pooled_expected > 0.0 {
            chi2 += (pooled_seen - pooled_expected).powi(2) / pooled_expected.max(1.0);
            bins += 1;
        }
        (chi2, (bins - 1) as f64)
    }

    #[test]
    fn draws_follow_the_poisson_distribution() {
        // Both branches and the switch between them. A correct sampler gives
        // χ² = dof ± √(2 dof); a wrong constant in PTRS gives χ² ≫ dof at a
        // million draws.
        for mu in [0.3, 4.0, 9.9, 10.0, 11.0, 37.5, 800.0, 20_000.0] {
            let (chi2, dof) = chi2(mu);
            assert!(chi2 < dof + 4.0 * (2.0 * dof).sqrt(), "μ = {mu}: χ² = {chi2} for {dof} degrees of freedom");
        }
    }
    #[test]
    fn log_factorial_matches_lgamma() {
        for k in 0..400 {
            let (a, b) = (ln_factorial(k as f64), libm::lgamma(k as f64 + 1.0));
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "ln {k}! = {b}, got {a}");
        }
    }

    #[test]
    fn mean_and_variance_are_mu() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for mu in [2.0, 12.0, 37.5, 800.0, 5e5] {
            let n = 1_000_000;
            let x: Vec<f64> = (0..n).map(|_| poisson(mu, &mut rng)).collect();
            let mean = x.iter().sum::<f64>() / n as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            // Standard errors: √(μ/n) for the mean, ≈ μ√(2/n) for the variance.
            assert!((mean - mu).abs() < 5.0 * (mu / n as f64).sqrt(), "μ = {mu}: mean {mean}");
            assert!((var - mu).abs() < 5.0 * mu * (2.0 / n as f64).sqrt(), "μ = {mu}: variance {var}");
        }
    }
}
