//! Singular isothermal sphere, lenstronomy `SIS` (theta_E, center_x, center_y):
//! α = θ_E (x, y)/r, κ = θ_E/(2r), ψ = θ_E r.

use super::MassProfile;
use crate::params::ParamSpec;

pub(super) const PARAMS: &[ParamSpec] =
    &[ParamSpec::required("theta_E", "arcsec", 0.0, 1e3), ParamSpec::position("center_x"), ParamSpec::position("center_y")];

/// Radius (arcsec) below which κ is evaluated at this radius to stay finite.
const R_MIN: f64 = 1e-10;

#[derive(Debug, Clone)]
pub struct Sis {
    theta_e: f64,
    center_x: f64,
    center_y: f64,
}

impl Sis {
    pub fn new(theta_e: f64, center_x: f64, center_y: f64) -> Self {
        Sis { theta_e, center_x, center_y }
    }
}

impl MassProfile for Sis {
    fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.center_x, y - self.center_y);
        let r = dx.hypot(dy);
        if r == 0.0 {
            return (0.0, 0.0);
        }
        (self.theta_e * dx / r, self.theta_e * dy / r)
    }

    fn kappa(&self, x: f64, y: f64) -> f64 {
        0.5 * self.theta_e / (x - self.center_x).hypot(y - self.center_y).max(R_MIN)
    }

    fn potential(&self, x: f64, y: f64) -> f64 {
        self.theta_e * (x - self.center_x).hypot(y - self.center_y)
    }
}
