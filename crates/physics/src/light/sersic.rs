//! Sérsic profile, lenstronomy `SERSIC` (amp, R_sersic, n_sersic, center_x,
//! center_y) and `SERSIC_ELLIPSE` (+ e1, e2).
//!
//! I = amp · exp(−k ((R/R_sersic)^{1/n} − 1)), k = 1.9992 n − 0.3271, so amp is
//! the surface brightness at R_sersic; R = √(q x'² + y'²/q) (product-average
//! radius). Like lenstronomy, R is floored at 1e-5 arcsec, k at 1e-5, and the
//! profile is zero beyond 1000 R_sersic.

use super::LightProfile;
use crate::ellipticity::{e1e2_to_q_phi, Frame};
use crate::params::ParamSpec;

pub(super) const PARAMS_CIRCULAR: &[ParamSpec] = &[
    ParamSpec::required("amp", "flux/arcsec²", -1e30, 1e30),
    ParamSpec::required("R_sersic", "arcsec", 1e-6, 1e4),
    ParamSpec::required("n_sersic", "", 0.1, 12.0),
    ParamSpec::position("center_x"),
    ParamSpec::position("center_y"),
];

pub(super) const PARAMS_ELLIPSE: &[ParamSpec] = &[
    ParamSpec::required("amp", "flux/arcsec²", -1e30, 1e30),
    ParamSpec::required("R_sersic", "arcsec", 1e-6, 1e4),
    ParamSpec::required("n_sersic", "", 0.1, 12.0),
    ParamSpec::component("e1"),
    ParamSpec::component("e2"),
    ParamSpec::position("center_x"),
    ParamSpec::position("center_y"),
];

const R_SMOOTHING: f64 = 1e-5;
const MAX_R_FRACTION: f64 = 1000.0;

/// Slope, offset and floor of lenstronomy's linear b_n(n): the one Sérsic
/// formula of the project (the differentiable operator in the nn crate
/// evaluates it on tensors with these constants).
pub const SERSIC_K_SLOPE: f64 = 1.9992;
pub const SERSIC_K_OFFSET: f64 = 0.3271;
pub const SERSIC_K_FLOOR: f64 = 1e-5;

/// The Sérsic b_n (lenstronomy's linear approximation), floored at 1e-5.
pub fn sersic_k(n: f64) -> f64 {
    (SERSIC_K_SLOPE * n - SERSIC_K_OFFSET).max(SERSIC_K_FLOOR)
}

#[derive(Debug, Clone)]
pub struct Sersic {
    amp: f64,
    r_sersic: f64,
    inv_n: f64,
    k: f64,
    q: f64,
    frame: Frame,
}

impl Sersic {
    pub fn new(amp: f64, r_sersic: f64, n_sersic: f64, e1: f64, e2: f64, center_x: f64, center_y: f64) -> Self {
        let (q, phi) = e1e2_to_q_phi(e1, e2);
        Sersic { amp, r_sersic, inv_n: 1.0 / n_sersic, k: sersic_k(n_sersic), q, frame: Frame::new(center_x, center_y, phi) }
    }
}

impl LightProfile for Sersic {
    #[inline]
    fn surface_brightness(&self, x: f64, y: f64) -> f64 {
        let (xp, yp) = self.frame.to_profile(x, y);
        let r = (self.q * xp * xp + yp * yp / self.q).sqrt().max(R_SMOOTHING);
        let frac = r / self.r_sersic;
        if frac > MAX_R_FRACTION {
            return 0.0;
        }
        // n = 1 (an exponential disc, the parametric source of the lens
        // search) skips the power: x¹ is x exactly, so the value is the same.
        let scaled = if self.inv_n == 1.0 { frac } else { frac.powf(self.inv_n) };
        self.amp * (-self.k * (scaled - 1.0)).exp()
    }
}
