//! Light profiles (lenstronomy's LightModel): surface brightness in flux
//! units per arcsec², with lenstronomy's amplitude conventions.

mod gaussian;
mod sersic;

pub use sersic::{sersic_k, SERSIC_K_FLOOR, SERSIC_K_OFFSET, SERSIC_K_SLOPE};

pub use gaussian::Gaussian;
pub use sersic::Sersic;

use crate::params::{parse_typed, ParamSpec};
use crate::PhysicsError;
use serde_json::{Map, Value};

/// A surface-brightness distribution on the sky (or source plane).
pub trait LightProfile: Send + Sync + std::fmt::Debug {
    /// Surface brightness at (x, y) arcsec, in flux per arcsec².
    fn surface_brightness(&self, x: f64, y: f64) -> f64;
}

/// The lenstronomy type names this crate knows, with their parameters.
pub fn registry() -> &'static [(&'static str, &'static [ParamSpec])] {
    &[("SERSIC", sersic::PARAMS_CIRCULAR), ("SERSIC_ELLIPSE", sersic::PARAMS_ELLIPSE), ("GAUSSIAN", gaussian::PARAMS)]
}

/// Builds a profile from its type name and values in `PARAMS` order.
pub fn build(type_name: &str, p: &[f64]) -> Option<Box<dyn LightProfile>> {
    Some(match type_name {
        "SERSIC" => Box::new(Sersic::new(p[0], p[1], p[2], 0.0, 0.0, p[3], p[4])),
        "SERSIC_ELLIPSE" => Box::new(Sersic::new(p[0], p[1], p[2], p[3], p[4], p[5], p[6])),
        "GAUSSIAN" => Box::new(Gaussian::new(p[0], p[1], p[2], p[3])),
        _ => return None,
    })
}

/// Parses one `{"type": ..., lenstronomy keywords...}` object.
pub fn from_json(obj: &Map<String, Value>, context: &str) -> Result<Box<dyn LightProfile>, PhysicsError> {
    let (type_name, values) = parse_typed(obj, context, "light", registry())?;
    Ok(build(type_name, &values).expect("every registered type builds"))
}

/// A sum of light profiles.
#[derive(Debug, Default)]
pub struct LightModel {
    pub profiles: Vec<Box<dyn LightProfile>>,
}

impl LightModel {
    pub fn new(profiles: Vec<Box<dyn LightProfile>>) -> Self {
        LightModel { profiles }
    }

    pub fn surface_brightness(&self, x: f64, y: f64) -> f64 {
        self.profiles.iter().map(|p| p.surface_brightness(x, y)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ∫ I dA on a fine grid, arcsec² units.
    fn total_flux(p: &dyn LightProfile, half: f64, n: usize) -> f64 {
        let h = 2.0 * half / n as f64;
        let mut sum = 0.0;
        for i in 0..n {
            for j in 0..n {
                sum += p.surface_brightness(-half + (j as f64 + 0.5) * h, -half + (i as f64 + 0.5) * h);
            }
        }
        sum * h * h
    }

    #[test]
    fn gaussian_amp_is_total_flux() {
        let g = Gaussian::new(3.5, 0.2, 0.05, -0.02);
        assert!((total_flux(&g, 2.0, 800) - 3.5).abs() < 1e-6);
    }

    #[test]
    fn sersic_n1_half_light_radius_matches_its_analytic_flux() {
        // For n = 1, I = amp e^{−k(R/R_s − 1)}: total flux 2π amp e^{k} R_s²/k² (circular).
        let s = Sersic::new(1.0, 0.3, 1.0, 0.0, 0.0, 0.0, 0.0);
        let k: f64 = 1.9992 - 0.3271;
        let expected = 2.0 * std::f64::consts::PI * k.exp() * 0.09 / (k * k);
        let got = total_flux(&s, 8.0, 1600);
        assert!((got - expected).abs() / expected < 1e-4, "{got} vs {expected}");
    }

    #[test]
    fn elliptical_sersic_conserves_circularised_flux() {
        let round = Sersic::new(1.0, 0.3, 2.0, 0.0, 0.0, 0.0, 0.0);
        let flat = Sersic::new(1.0, 0.3, 2.0, 0.2, -0.1, 0.0, 0.0);
        let (a, b) = (total_flux(&round, 10.0, 2000), total_flux(&flat, 10.0, 2000));
        assert!((a - b).abs() / a < 2e-3, "{a} vs {b}");
    }
}
