//! Elliptical power law, lenstronomy `EPL` (theta_E, gamma, e1, e2, center_x, center_y).
//!
//! κ = (3−γ)/2 · (θ_E/√(q x'² + y'²/q))^(γ−1). With t = γ − 1, b = θ_E√q and
//! R = √(q²x'² + y'²), φ = atan2(y', q x') in the major-axis frame, the
//! deflection is Tessore & Metcalf (2015):
//! α'_x + iα'_y = 2b/(1+q) · (b/R)^(t−1) · Ω(φ), where Ω is their
//! hypergeometric series Ω = Σ Ω_n, Ω_0 = e^{iφ},
//! Ω_n = −f (2n−(2−t))/(2n+(2−t)) e^{2iφ} Ω_{n−1}, f = (1−q)/(1+q),
//! summed until the terms fall below double precision. ψ = (x'α'_x + y'α'_y)/(2−t).
//! γ = 2 reproduces the SIE.

use super::MassProfile;
use crate::ellipticity::{e1e2_to_q_phi, Frame};
use crate::params::ParamSpec;

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("theta_E", "arcsec", 0.0, 1e3),
    ParamSpec::required("gamma", "", 1.01, 2.99),
    ParamSpec::component("e1"),
    ParamSpec::component("e2"),
    ParamSpec::position("center_x"),
    ParamSpec::position("center_y"),
];

/// Elliptical radius (arcsec) below which the profile is evaluated at this radius.
const R_MIN: f64 = 1e-10;
const MAX_TERMS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Epl {
    frame: Frame,
    q: f64,
    /// b = θ_E √q (arcsec).
    b: f64,
    /// t = γ − 1.
    t: f64,
}

impl Epl {
    pub fn new(theta_e: f64, gamma: f64, e1: f64, e2: f64, center_x: f64, center_y: f64) -> Self {
        let (q, phi) = e1e2_to_q_phi(e1, e2);
        Epl { frame: Frame::new(center_x, center_y, phi), q, b: theta_e * q.sqrt(), t: gamma - 1.0 }
    }

    fn deflection_major_axis(&self, x: f64, y: f64) -> (f64, f64) {
        let (q, t) = (self.q, self.t);
        let r = (q * q * x * x + y * y).sqrt().max(R_MIN);
        let phi = y.atan2(q * x);
        let f = (1.0 - q) / (1.0 + q);
        let (c2, s2) = ((2.0 * phi).cos(), (2.0 * phi).sin());
        let (mut re, mut im) = (phi.cos(), phi.sin());
        let (mut sum_re, mut sum_im) = (re, im);
        for n in 1..MAX_TERMS {
            let factor = -f * (2.0 * n as f64 - (2.0 - t)) / (2.0 * n as f64 + (2.0 - t));
            let (nre, nim) = (factor * (re * c2 - im * s2), factor * (re * s2 + im * c2));
            re = nre;
            im = nim;
            sum_re += re;
            sum_im += im;
            if re.abs() + im.abs() < 1e-17 * (sum_re.abs() + sum_im.abs()) {
                break;
            }
        }
        let scale = 2.0 * self.b / (1.0 + q) * (self.b / r).powf(t - 1.0);
        (scale * sum_re, scale * sum_im)
    }
}

impl MassProfile for Epl {
    fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        let (xp, yp) = self.frame.to_profile(x, y);
        let (ax, ay) = self.deflection_major_axis(xp, yp);
        self.frame.vector_to_sky(ax, ay)
    }

    fn kappa(&self, x: f64, y: f64) -> f64 {
        let (xp, yp) = self.frame.to_profile(x, y);
        let r = (self.q * self.q * xp * xp + yp * yp).sqrt().max(R_MIN);
        (2.0 - self.t) / 2.0 * (self.b / r).powf(self.t)
    }

    fn potential(&self, x: f64, y: f64) -> f64 {
        let (xp, yp) = self.frame.to_profile(x, y);
        let (ax, ay) = self.deflection_major_axis(xp, yp);
        (xp * ax + yp * ay) / (2.0 - self.t)
    }
}
