//! Probability distributions as they are written in preset TOML files:
//! `{ uniform = [0.9, 1.5] }`, `{ normal = [130, 25] }`,
//! `{ trunc_normal = [130, 25, 80, 380] }`, `{ log_uniform = [1e-3, 1e-1] }`,
//! `{ beta = [1.6, 3.0] }`, `{ fixed = 1.0 }`; counts as
//! `{ int_uniform = [1, 6] }` or `{ poisson = 1.0 }`.

use crate::SimError;
use rand::Rng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

/// A real-valued distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    Fixed(f64),
    Uniform([f64; 2]),
    LogUniform([f64; 2]),
    Normal([f64; 2]),
    /// mean, σ, lower, upper (resampled until inside).
    TruncNormal([f64; 4]),
    Beta([f64; 2]),
}

/// A distribution of non-negative integers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CountDist {
    Fixed(u32),
    IntUniform([u32; 2]),
    Poisson(f64),
}

impl Dist {
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform([a, b]) => a + (b - a) * rng.gen::<f64>(),
            Dist::LogUniform([a, b]) => (a.ln() + (b.ln() - a.ln()) * rng.gen::<f64>()).exp(),
            Dist::Normal([m, s]) => m + s * rng.sample::<f64, _>(rand_distr::StandardNormal),
            Dist::TruncNormal([m, s, lo, hi]) => loop {
                let v = m + s * rng.sample::<f64, _>(rand_distr::StandardNormal);
                if (lo..=hi).contains(&v) {
                    break v;
                }
            },
            Dist::Beta([a, b]) => rand_distr::Beta::new(a, b).expect("validated").sample(rng),
        }
    }

    /// The smallest and largest values the distribution can produce.
    pub fn support(&self) -> (f64, f64) {
        match *self {
            Dist::Fixed(v) => (v, v),
            Dist::Uniform([a, b]) | Dist::LogUniform([a, b]) => (a, b),
            Dist::Normal(_) => (f64::NEG_INFINITY, f64::INFINITY),
            Dist::TruncNormal([_, _, lo, hi]) => (lo, hi),
            Dist::Beta(_) => (0.0, 1.0),
        }
    }

    /// Cumulative distribution function (for goodness-of-fit tests); None
    /// for the Beta distribution, which has no closed form.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        let phi = |z: f64| 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
        Some(match *self {
            Dist::Fixed(v) => (x >= v) as u8 as f64,
            Dist::Uniform([a, b]) => ((x - a) / (b - a)).clamp(0.0, 1.0),
            Dist::LogUniform([a, b]) => ((x.max(a).ln() - a.ln()) / (b.ln() - a.ln())).clamp(0.0, 1.0),
            Dist::Normal([m, s]) => phi((x - m) / s),
            Dist::TruncNormal([m, s, lo, hi]) => {
                let (pl, ph) = (phi((lo - m) / s), phi((hi - m) / s));
                ((phi((x.clamp(lo, hi) - m) / s) - pl) / (ph - pl)).clamp(0.0, 1.0)
            }
            Dist::Beta(_) => return None,
        })
    }

    /// Checks the parameters and that the support lies within [lo, hi];
    /// errors name `field`.
    pub fn validate(&self, field: &str, lo: f64, hi: f64) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Preset { field: field.to_string(), message: m });
        let finite = match *self {
            Dist::Fixed(v) => v.is_finite(),
            Dist::Uniform(p) | Dist::LogUniform(p) | Dist::Normal(p) | Dist::Beta(p) => p.iter().all(|v| v.is_finite()),
            Dist::TruncNormal(p) => p.iter().all(|v| v.is_finite()),
        };
        if !finite {
            return bad("parameters must be finite numbers".into());
        }
        match *self {
            Dist::Uniform([a, b]) | Dist::LogUniform([a, b]) if a > b => return bad(format!("lower bound {a} exceeds upper bound {b}")),
            Dist::LogUniform([a, _]) if a <= 0.0 => return bad("log_uniform needs positive bounds".into()),
            Dist::Normal([_, s]) | Dist::TruncNormal([_, s, _, _]) if s <= 0.0 => return bad(format!("σ must be positive, got {s}")),
            Dist::TruncNormal([_, _, l, h]) if l >= h => return bad(format!("truncation [{l}, {h}] is empty")),
            Dist::Beta([a, b]) if a <= 0.0 || b <= 0.0 => return bad("beta parameters must be positive".into()),
            _ => {}
        }
        let (s_lo, s_hi) = self.support();
        if s_lo < lo || s_hi > hi {
            return bad(format!("values may fall outside the valid range [{lo}, {hi}] (support [{s_lo}, {s_hi}])"));
        }
        Ok(())
    }
}

impl CountDist {
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match *self {
            CountDist::Fixed(n) => n,
            CountDist::IntUniform([a, b]) => rng.gen_range(a..=b),
            CountDist::Poisson(l) if l > 0.0 => crate::poisson::poisson(l, rng) as u32,
            CountDist::Poisson(_) => 0,
        }
    }

    pub fn validate(&self, field: &str, max: u32) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Preset { field: field.to_string(), message: m });
        match *self {
            CountDist::Fixed(n) if n > max => bad(format!("{n} exceeds the maximum {max}")),
            CountDist::IntUniform([a, b]) if a > b || b > max => bad(format!("range [{a}, {b}] must be ordered and at most {max}")),
            CountDist::Poisson(l) if !(l.is_finite() && l >= 0.0 && l <= max as f64) => bad(format!("mean {l} must be in [0, {max}]")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_from_toml_and_validates() {
        #[derive(Deserialize)]
        struct T {
            a: Dist,
            b: CountDist,
        }
        let t: T = toml::from_str("a = { uniform = [0.9, 1.5] }\nb = { poisson = 1.0 }").unwrap();
        assert_eq!(t.a, Dist::Uniform([0.9, 1.5]));
        assert!(t.a.validate("a", 0.0, 2.0).is_ok());
        assert!(t.a.validate("a", 1.0, 2.0).is_err());
        assert!(Dist::Normal([0.0, -1.0]).validate("x", f64::NEG_INFINITY, f64::INFINITY).is_err());
        assert!(toml::from_str::<T>("a = { uniformm = [0, 1] }\nb = { fixed = 1 }").is_err());
        assert_eq!(t.b, CountDist::Poisson(1.0));
    }

    #[test]
    fn truncated_normal_stays_inside() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let d = Dist::TruncNormal([130.0, 25.0, 80.0, 180.0]);
        assert!((0..10_000).map(|_| d.sample(&mut rng)).all(|v| (80.0..=180.0).contains(&v)));
    }

    /// Kolmogorov–Smirnov distance between `n` draws and a CDF written out here.
    fn ks(d: &Dist, n: usize, seed: u64, cdf: impl Fn(f64) -> f64) -> f64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v.iter().enumerate().fold(0.0f64, |m, (i, &x)| {
            let f = cdf(x);
            m.max((f - i as f64 / n as f64).abs()).max(((i + 1) as f64 / n as f64 - f).abs())
        })
    }

    #[test]
    fn draws_follow_their_distributions() {
        // KS at n = 20 000: the 0.1 % critical value is 1.95/√n = 0.0138.
        let (n, critical) = (20_000, 1.95 / (20_000f64).sqrt());
        let erf_cdf = |m: f64, s: f64| move |x: f64| 0.5 * libm::erfc(-(x - m) / (s * std::f64::consts::SQRT_2));
        type Cdf = Box<dyn Fn(f64) -> f64>;
        let cases: Vec<(Dist, Cdf)> = vec![
            (Dist::Uniform([0.9, 1.5]), Box::new(|x: f64| ((x - 0.9) / 0.6).clamp(0.0, 1.0))),
            (Dist::LogUniform([1e-3, 1e-1]), Box::new(|x: f64| ((x / 1e-3).ln() / 100f64.ln()).clamp(0.0, 1.0))),
            (Dist::Normal([130.0, 25.0]), Box::new(erf_cdf(130.0, 25.0))),
            (
                Dist::TruncNormal([130.0, 25.0, 80.0, 180.0]),
                Box::new(move |x: f64| {
                    let phi = erf_cdf(130.0, 25.0);
                    ((phi(x) - phi(80.0)) / (phi(180.0) - phi(80.0))).clamp(0.0, 1.0)
                }),
            ),
        ];
        for (k, (d, cdf)) in cases.iter().enumerate() {
            let distance = ks(d, n, 10 + k as u64, cdf);
            assert!(distance < critical, "{d:?}: KS distance {distance} ≥ {critical}");
            // The crate's own CDF (used by the preset statistics tests) agrees.
            for x in [0.95, 1.2, 0.01, 120.0, 150.0] {
                assert!((d.cdf(x).unwrap() - cdf(x)).abs() < 1e-12, "{d:?} cdf({x})");
            }
        }
        assert_eq!(Dist::Fixed(2.5).sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0)), 2.5);
        assert_eq!((Dist::Fixed(2.5).cdf(2.4), Dist::Fixed(2.5).cdf(2.5)), (Some(0.0), Some(1.0)));
        assert!(Dist::Beta([2.0, 3.0]).cdf(0.5).is_none());
        // Beta(a, b): mean a/(a + b), variance ab/((a + b)²(a + b + 1)).
        let (a, b) = (1.6, 3.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let v: Vec<f64> = (0..n).map(|_| Dist::Beta([a, b]).sample(&mut rng)).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let (want_mean, want_var) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
        assert!((mean - want_mean).abs() < 4.0 * (want_var / n as f64).sqrt(), "beta mean {mean}");
        assert!((var / want_var - 1.0).abs() < 0.05, "beta variance {var} vs {want_var}");
    }

    #[test]
    fn supports_and_validation_errors() {
        assert_eq!(Dist::Uniform([1.0, 2.0]).support(), (1.0, 2.0));
        assert_eq!(Dist::LogUniform([0.1, 2.0]).support(), (0.1, 2.0));
        assert_eq!(Dist::TruncNormal([0.0, 1.0, -2.0, 3.0]).support(), (-2.0, 3.0));
        assert_eq!(Dist::Beta([1.0, 1.0]).support(), (0.0, 1.0));
        assert_eq!(Dist::Fixed(4.0).support(), (4.0, 4.0));
        assert_eq!(Dist::Normal([0.0, 1.0]).support(), (f64::NEG_INFINITY, f64::INFINITY));
        let err = |d: Dist| d.validate("f", -10.0, 10.0).unwrap_err().to_string();
        assert!(err(Dist::Uniform([2.0, 1.0])).contains("exceeds"));
        assert!(err(Dist::LogUniform([0.0, 1.0])).contains("positive"));
        assert!(err(Dist::TruncNormal([0.0, 1.0, 2.0, 2.0])).contains("empty"));
        assert!(err(Dist::TruncNormal([0.0, 0.0, 1.0, 2.0])).contains("σ"));
        assert!(err(Dist::Beta([0.0, 1.0])).contains("beta"));
        assert!(err(Dist::Fixed(f64::NAN)).contains("finite"));
        assert!(err(Dist::Fixed(11.0)).contains("outside"));
        assert!(err(Dist::Normal([0.0, 1.0])).contains("outside"), "an unbounded normal cannot fit a bounded range");
        assert!(Dist::Uniform([1.0, 1.0]).validate("f", 0.0, 2.0).is_ok());
        assert!(Dist::Beta([2.0, 5.0]).validate("f", 0.0, 1.0).is_ok());
        let count_err = |d: CountDist| d.validate("c", 6).unwrap_err().to_string();
        assert!(count_err(CountDist::Fixed(7)).contains("exceeds"));
        assert!(count_err(CountDist::IntUniform([3, 2])).contains("ordered"));
        assert!(count_err(CountDist::IntUniform([1, 7])).contains("ordered"));
        assert!(count_err(CountDist::Poisson(-1.0)).contains("mean"));
        assert!(count_err(CountDist::Poisson(6.5)).contains("mean"));
        assert!(CountDist::Fixed(6).validate("c", 6).is_ok() && CountDist::Poisson(6.0).validate("c", 6).is_ok());
    }

    #[test]
    fn counts_have_their_means_and_ranges() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let n = 20_000;
        let draws: Vec<u32> = (0..n).map(|_| CountDist::IntUniform([1, 6]).sample(&mut rng)).collect();
        assert_eq!((*draws.iter().min().unwrap(), *draws.iter().max().unwrap()), (1, 6), "both ends included");
        let mean = draws.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((mean - 3.5).abs() < 4.0 * (35.0 / 12.0 / n as f64).sqrt(), "int_uniform mean {mean}");
        let draws: Vec<f64> = (0..n).map(|_| CountDist::Poisson(2.3).sample(&mut rng) as f64).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!((mean - 2.3).abs() < 4.0 * (2.3 / n as f64).sqrt() && (var / 2.3 - 1.0).abs() < 0.05, "poisson mean {mean}, var {var}");
        assert_eq!(CountDist::Poisson(0.0).sample(&mut rng), 0);
        assert_eq!(CountDist::Fixed(3).sample(&mut rng), 3);
    }
}
