//! External shear, lenstronomy `SHEAR` (gamma1, gamma2, ra_0, dec_0):
//! ψ = ½γ1(x²−y²) + γ2 x y about (ra_0, dec_0); α = (γ1 x + γ2 y, γ2 x − γ1 y); κ = 0.

use super::MassProfile;
use crate::params::ParamSpec;

pub(super) const PARAMS: &[ParamSpec] =
    &[ParamSpec::component("gamma1"), ParamSpec::component("gamma2"), ParamSpec::position("ra_0"), ParamSpec::position("dec_0")];

#[derive(Debug, Clone)]
pub struct Shear {
    gamma1: f64,
    gamma2: f64,
    ra_0: f64,
    dec_0: f64,
}

impl Shear {
    pub fn new(gamma1: f64, gamma2: f64, ra_0: f64, dec_0: f64) -> Self {
        Shear { gamma1, gamma2, ra_0, dec_0 }
    }
}

impl MassProfile for Shear {
    fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.ra_0, y - self.dec_0);
        (self.gamma1 * dx + self.gamma2 * dy, self.gamma2 * dx - self.gamma1 * dy)
    }

    fn kappa(&self, _x: f64, _y: f64) -> f64 {
        0.0
    }

    fn potential(&self, x: f64, y: f64) -> f64 {
        let (dx, dy) = (x - self.ra_0, y - self.dec_0);
        0.5 * self.gamma1 * (dx * dx - dy * dy) + self.gamma2 * dx * dy
    }
}
