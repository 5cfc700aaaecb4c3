//! Spherical NFW halo, lenstronomy `NFW` (Rs, alpha_Rs, center_x, center_y),
//! after Wright & Brainerd (2000) and Golse & Kneib (2002).
//!
//! ρ0 = alpha_Rs/(4 Rs² (1 + ln ½)), X = R/Rs:
//! |α| = 4 ρ0 Rs² g(X)/X with g(X) = ln(X/2) + L(X), so |α(Rs)| = alpha_Rs;
//! κ = 2 ρ0 Rs F(X), F(X) = (1 − L(X))/(X² − 1);
//! ψ = 2 ρ0 Rs³ h(X), h(X) = ln²(X/2) − atanh²(√(1−X²)) (X < 1) or
//! ln²(X/2) + atan²(√(X²−1)) (X > 1).
//! Here L(X) = atanh(t)/t with t = √(1−X²) for X < 1 and atan(t)/t with
//! t = √(X²−1) for X > 1 (the usual acosh(1/X)/√(1−X²) and acos(1/X)/√(X²−1),
//! rewritten so that X → 1 is well conditioned). Both equal Σ s^k/(2k+1) in
//! s = 1 − X², which is used near X = 1. The AstroRIM paper's Eqs. 18–19 are
//! not used: they are about 50% off.

use super::MassProfile;
use crate::params::ParamSpec;

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("Rs", "arcsec", 1e-6, 1e4),
    ParamSpec::required("alpha_Rs", "arcsec", 0.0, 1e3),
    ParamSpec::position("center_x"),
    ParamSpec::position("center_y"),
];

/// |1 − X²| below which the series of L and F are used.
const SERIES_LIMIT: f64 = 1e-2;
/// Smallest X at which κ and ψ are evaluated (κ diverges logarithmically).
const X_MIN: f64 = 1e-9;

#[derive(Debug, Clone)]
pub struct Nfw {
    rs: f64,
    rho0: f64,
    center_x: f64,
    center_y: f64,
}

impl Nfw {
    pub fn new(rs: f64, alpha_rs: f64, center_x: f64, center_y: f64) -> Self {
        let rho0 = alpha_rs / (4.0 * rs * rs * (1.0 + 0.5f64.ln()));
        Nfw { rs, rho0, center_x, center_y }
    }
}

/// Σ_{k≥k0} s^(k−k0)/(2k+1), summed to double precision for |s| < SERIES_LIMIT.
fn series(s: f64, k0: u32) -> f64 {
    let mut sum = 0.0;
    let mut pow = 1.0;
    for k in k0..k0 + 10 {
        sum += pow / (2 * k + 1) as f64;
        pow *= s;
    }
    sum
}

/// L(X) = acosh(1/X)/√(1−X²) (X < 1), 1 (X = 1), acos(1/X)/√(X²−1) (X > 1).
fn l_of(x: f64) -> f64 {
    let s = (1.0 - x) * (1.0 + x);
    if s.abs() < SERIES_LIMIT {
        series(s, 0)
    } else if s > 0.0 {
        let t = s.sqrt();
        t.atanh() / t
    } else {
        let t = (-s).sqrt();
        t.atan() / t
    }
}

/// F(X) = (1 − L(X))/(X² − 1), the κ shape.
fn f_of(x: f64) -> f64 {
    let s = (1.0 - x) * (1.0 + x);
    if s.abs() < SERIES_LIMIT {
        series(s, 1)
    } else {
        (1.0 - l_of(x)) / (x * x - 1.0)
    }
}

/// g(X) = ln(X/2) + L(X), the enclosed-mass shape.
fn g_of(x: f64) -> f64 {
    (x / 2.0).ln() + l_of(x)
}

/// h(X), the potential shape.
fn h_of(x: f64) -> f64 {
    let ln2 = (x / 2.0).ln().powi(2);
    let s = (1.0 - x) * (1.0 + x);
    if s > 0.0 {
        ln2 - s.sqrt().atanh().powi(2)
    } else {
        ln2 + (-s).sqrt().atan().powi(2)
    }
}

impl MassProfile for Nfw {
    fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.center_x, y - self.center_y);
        let r = dx.hypot(dy);
        if r == 0.0 {
            return (0.0, 0.0);
        }
        let big_x = r / self.rs;
        // |α| (x, y)/R = 4 ρ0 Rs² g(X)/X · (x, y)/R
        let a = 4.0 * self.rho0 * self.rs * self.rs * g_of(big_x) / (big_x * r);
        (a * dx, a * dy)
    }

    fn kappa(&self, x: f64, y: f64) -> f64 {
        let big_x = ((x - self.center_x).hypot(y - self.center_y) / self.rs).max(X_MIN);
        2.0 * self.rho0 * self.rs * f_of(big_x)
    }

    fn potential(&self, x: f64, y: f64) -> f64 {
        let big_x = ((x - self.center_x).hypot(y - self.center_y) / self.rs).max(X_MIN);
        2.0 * self.rho0 * self.rs.powi(3) * h_of(big_x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflection_at_rs_is_alpha_rs() {
        let nfw = Nfw::new(2.5, 0.7, 0.0, 0.0);
        let (ax, ay) = nfw.deflection(2.5, 0.0);
        assert!((ax - 0.7).abs() < 1e-14 && ay == 0.0);
    }

    #[test]
    fn shapes_are_continuous_through_x_equals_one() {
        for &d in &[1e-12, 1e-8, 1e-5, 9e-3, 1.1e-2] {
            for f in [l_of, f_of, g_of, h_of] {
                let (below, above) = (f(1.0 - d), f(1.0 + d));
                assert!((below - above).abs() < 3.0 * d, "jump {below} vs {above} at d = {d}");
            }
        }
        assert!((f_of(1.0) - 1.0 / 3.0).abs() < 1e-15);
        assert!((g_of(1.0) - (1.0 + 0.5f64.ln())).abs() < 1e-15);
        // The series and the closed form agree where they meet.
        let x = (1.0 - SERIES_LIMIT * 1.0001f64).sqrt();
        let s = (1.0 - x) * (1.0 + x);
        assert!((series(s, 0) - s.sqrt().atanh() / s.sqrt()).abs() < 1e-14);
    }
}
