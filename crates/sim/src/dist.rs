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
}
