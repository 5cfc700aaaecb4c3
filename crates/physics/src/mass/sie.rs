//! Singular isothermal ellipsoid, lenstronomy `SIE` (theta_E, e1, e2, center_x, center_y).
//!
//! κ = (θ_E/2)/√(q x'² + y'²/q), θ_E the circularized ("product-average")
//! Einstein radius. The deflection is the Kormann et al. (1994) / NIE form in
//! the major-axis frame with b = θ_E√q and a negligible core s = 1e-10/√q
//! (it only keeps the centre finite). The AstroRIM paper's Eq. 16 is not
//! curl-free and is deliberately not used.

use super::MassProfile;
use crate::ellipticity::{e1e2_to_q_phi, Frame};
use crate::params::ParamSpec;

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("theta_E", "arcsec", 0.0, 1e3),
    ParamSpec::component("e1"),
    ParamSpec::component("e2"),
    ParamSpec::position("center_x"),
    ParamSpec::position("center_y"),
];

/// Largest axis ratio used: q = 1 exactly makes √(1−q²) vanish.
const Q_MAX: f64 = 1.0 - 1e-10;

#[derive(Debug, Clone)]
pub struct Sie {
    frame: Frame,
    q: f64,
    /// NIE normalisation b = θ_E √q (arcsec).
    b: f64,
    /// Core radius (arcsec), 1e-10/√q.
    s: f64,
    theta_e: f64,
}

impl Sie {
    pub fn new(theta_e: f64, e1: f64, e2: f64, center_x: f64, center_y: f64) -> Self {
        let (q, phi) = e1e2_to_q_phi(e1, e2);
        let q = q.min(Q_MAX);
        Sie { frame: Frame::new(center_x, center_y, phi), q, b: theta_e * q.sqrt(), s: 1e-10 / q.sqrt(), theta_e }
    }

    /// Deflection in the major-axis frame.
    fn deflection_major_axis(&self, x: f64, y: f64) -> (f64, f64) {
        let q = self.q;
        let psi = (q * q * (self.s * self.s + x * x) + y * y).sqrt();
        let e = (1.0 - q * q).sqrt();
        let ax = self.b / e * (e * x / (psi + self.s)).atan();
        let ay = self.b / e * (e * y / (psi + q * q * self.s)).atanh();
        (ax, ay)
    }
}

impl MassProfile for Sie {
    fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        let (xp, yp) = self.frame.to_profile(x, y);
        let (ax, ay) = self.deflection_major_axis(xp, yp);
        self.frame.vector_to_sky(ax, ay)
    }

    fn kappa(&self, x: f64, y: f64) -> f64 {
        let (xp, yp) = self.frame.to_profile(x, y);
        let q = self.q;
        0.5 * self.theta_e / (q * xp * xp + yp * yp / q + q * self.s * self.s).sqrt()
    }

    /// ψ = x'α'_x + y'α'_y, exact for the singular isothermal profile
    /// (the O(s) core term, ≲1e-10 arcsec², is neglected).
    fn potential(&self, x: f64, y: f64) -> f64 {
        let (xp, yp) = self.frame.to_profile(x, y);
        let (ax, ay) = self.deflection_major_axis(xp, yp);
        xp * ax + yp * ay
    }
}
