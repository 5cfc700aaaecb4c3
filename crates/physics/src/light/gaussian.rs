//! Circular Gaussian, lenstronomy `GAUSSIAN` (amp, sigma, center_x, center_y):
//! amp is the total flux, I = amp/(2πσ²) · exp(−r²/2σ²).

use super::LightProfile;
use crate::params::ParamSpec;

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("amp", "flux", -1e30, 1e30),
    ParamSpec::required("sigma", "arcsec", 1e-6, 1e4),
    ParamSpec::position("center_x"),
    ParamSpec::position("center_y"),
];

#[derive(Debug, Clone)]
pub struct Gaussian {
    norm: f64,
    inv_two_sigma2: f64,
    center_x: f64,
    center_y: f64,
}

impl Gaussian {
    pub fn new(amp: f64, sigma: f64, center_x: f64, center_y: f64) -> Self {
        Gaussian {
            norm: amp / (2.0 * std::f64::consts::PI * sigma * sigma),
            inv_two_sigma2: 1.0 / (2.0 * sigma * sigma),
            center_x,
            center_y,
        }
    }
}

impl LightProfile for Gaussian {
    #[inline]
    fn surface_brightness(&self, x: f64, y: f64) -> f64 {
        let (dx, dy) = (x - self.center_x, y - self.center_y);
        self.norm * (-(dx * dx + dy * dy) * self.inv_two_sigma2).exp()
    }
}
