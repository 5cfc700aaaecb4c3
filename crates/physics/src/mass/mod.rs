//! Mass profiles (lenstronomy's LensModel): deflection α, convergence κ and
//! lensing potential ψ, in arcsec, arcsec (dimensionless κ) and arcsec².

mod epl;
mod nfw;
mod shear;
mod sie;
mod sis;

pub use epl::Epl;
pub use nfw::Nfw;
pub use shear::Shear;
pub use sie::Sie;
pub use sis::Sis;

use crate::params::{parse_typed, ParamSpec};
use crate::PhysicsError;
use serde_json::{Map, Value};

/// A deflector: α = ∇ψ and κ = ½∇·α hold for every implementation (tested).
pub trait MassProfile: Send + Sync + std::fmt::Debug {
    /// Deflection (α_x, α_y) in arcsec at image-plane position (x, y) arcsec.
    fn deflection(&self, x: f64, y: f64) -> (f64, f64);
    /// Convergence κ (dimensionless).
    fn kappa(&self, x: f64, y: f64) -> f64;
    /// Lensing potential ψ in arcsec².
    fn potential(&self, x: f64, y: f64) -> f64;
}

/// The lenstronomy type names this crate knows, with their parameters.
pub fn registry() -> &'static [(&'static str, &'static [ParamSpec])] {
    &[("SIE", sie::PARAMS), ("SIS", sis::PARAMS), ("SHEAR", shear::PARAMS), ("NFW", nfw::PARAMS), ("EPL", epl::PARAMS)]
}

/// Builds a profile from its lenstronomy type name and parameter values in
/// the order of its `PARAMS` table (already bounds-checked).
pub fn build(type_name: &str, p: &[f64]) -> Option<Box<dyn MassProfile>> {
    Some(match type_name {
        "SIE" => Box::new(Sie::new(p[0], p[1], p[2], p[3], p[4])),
        "SIS" => Box::new(Sis::new(p[0], p[1], p[2])),
        "SHEAR" => Box::new(Shear::new(p[0], p[1], p[2], p[3])),
        "NFW" => Box::new(Nfw::new(p[0], p[1], p[2], p[3])),
        "EPL" => Box::new(Epl::new(p[0], p[1], p[2], p[3], p[4], p[5])),
        _ => return None,
    })
}

/// Parses one `{"type": ..., lenstronomy keywords...}` object.
pub fn from_json(obj: &Map<String, Value>, context: &str) -> Result<Box<dyn MassProfile>, PhysicsError> {
    let (type_name, values) = parse_typed(obj, context, "mass", registry())?;
    Ok(build(type_name, &values).expect("every registered type builds"))
}

/// A sum of mass profiles (lenstronomy's LensModel with a list of types).
#[derive(Debug, Default)]
pub struct LensModel {
    pub profiles: Vec<Box<dyn MassProfile>>,
}

impl LensModel {
    pub fn new(profiles: Vec<Box<dyn MassProfile>>) -> Self {
        LensModel { profiles }
    }

    /// Total deflection (arcsec).
    pub fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        self.profiles.iter().fold((0.0, 0.0), |(ax, ay), p| {
            let (dx, dy) = p.deflection(x, y);
            (ax + dx, ay + dy)
        })
    }

    /// Source-plane position β = θ − α(θ) (arcsec).
    pub fn ray_shoot(&self, x: f64, y: f64) -> (f64, f64) {
        let (ax, ay) = self.deflection(x, y);
        (x - ax, y - ay)
    }

    pub fn kappa(&self, x: f64, y: f64) -> f64 {
        self.profiles.iter().map(|p| p.kappa(x, y)).sum()
    }

    pub fn potential(&self, x: f64, y: f64) -> f64 {
        self.profiles.iter().map(|p| p.potential(x, y)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One instance of every registered profile, with generic parameters.
    fn all_profiles() -> Vec<(&'static str, Box<dyn MassProfile>)> {
        vec![
            ("SIE", Box::new(Sie::new(1.2, 0.15, -0.1, 0.05, -0.1))),
            ("SIE round-ish", Box::new(Sie::new(0.9, 1e-4, 0.0, 0.0, 0.0))),
            ("SIS", Box::new(Sis::new(1.1, 0.1, 0.2))),
            ("SHEAR", Box::new(Shear::new(0.04, -0.03, 0.1, 0.0))),
            ("NFW", Box::new(Nfw::new(3.0, 0.4, -0.1, 0.05))),
            ("EPL", Box::new(Epl::new(1.3, 2.2, 0.1, 0.2, 0.0, 0.1))),
            ("EPL shallow", Box::new(Epl::new(0.8, 1.7, -0.25, 0.05, 0.1, 0.0))),
        ]
    }

    #[test]
    fn registry_covers_every_profile_type() {
        let mut seen: Vec<&str> = all_profiles().iter().map(|(n, _)| n.split(' ').next().unwrap()).collect();
        seen.dedup();
        seen.sort();
        let mut registered: Vec<&str> = registry().iter().map(|(n, _)| *n).collect();
        registered.sort();
        assert_eq!(seen, registered);
    }

    #[test]
    fn deflection_is_gradient_of_potential_and_kappa_half_divergence() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let h = 1e-5;
        for (name, p) in all_profiles() {
            for _ in 0..200 {
                let x: f64 = rng.gen_range(-3.0..3.0);
                let y: f64 = rng.gen_range(-3.0..3.0);
                if (x * x + y * y).sqrt() < 0.05 {
                    continue;
                }
                let (ax, ay) = p.deflection(x, y);
                let dpx = (p.potential(x + h, y) - p.potential(x - h, y)) / (2.0 * h);
                let dpy = (p.potential(x, y + h) - p.potential(x, y - h)) / (2.0 * h);
                assert!((ax - dpx).abs() < 1e-6 * (1.0 + ax.abs()), "{name}: α_x {ax} vs ∂ψ/∂x {dpx} at ({x},{y})");
                assert!((ay - dpy).abs() < 1e-6 * (1.0 + ay.abs()), "{name}: α_y {ay} vs ∂ψ/∂y {dpy} at ({x},{y})");
                let div = (p.deflection(x + h, y).0 - p.deflection(x - h, y).0) / (2.0 * h)
                    + (p.deflection(x, y + h).1 - p.deflection(x, y - h).1) / (2.0 * h);
                let k = p.kappa(x, y);
                assert!((k - 0.5 * div).abs() < 1e-5 * (1.0 + k.abs()), "{name}: κ {k} vs ½∇·α {} at ({x},{y})", 0.5 * div);
            }
        }
    }

    #[test]
    fn finite_at_centre_and_near_degenerate_points() {
        let points = [(0.0, 0.0), (1e-12, 0.0), (0.0, -1e-12), (3.0, 0.0), (0.0, 3.0 + 1e-13)];
        for (name, p) in all_profiles() {
            for &(x, y) in &points {
                let (ax, ay) = p.deflection(x, y);
                let v = [ax, ay, p.kappa(x, y), p.potential(x, y)];
                assert!(v.iter().all(|v| v.is_finite()), "{name} not finite at ({x},{y}): {v:?}");
            }
        }
        let round = Sie::new(1.0, 0.0, 0.0, 0.0, 0.0);
        let (ax, ay) = round.deflection(0.6, 0.8);
        assert!((ax - 0.6).abs() < 1e-6 && (ay - 0.8).abs() < 1e-6, "q → 1 SIE must approach the SIS");
    }

    #[test]
    fn epl_with_gamma_two_is_the_sie() {
        let sie = Sie::new(1.3, 0.2, -0.15, 0.1, -0.05);
        let epl = Epl::new(1.3, 2.0, 0.2, -0.15, 0.1, -0.05);
        for &(x, y) in &[(0.4, 1.1), (-1.5, 0.2), (0.05, -0.7), (2.0, 2.0)] {
            let (a, b) = (sie.deflection(x, y), epl.deflection(x, y));
            assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9, "{a:?} vs {b:?}");
            assert!((sie.kappa(x, y) - epl.kappa(x, y)).abs() < 1e-10);
            assert!((sie.potential(x, y) - epl.potential(x, y)).abs() < 1e-9);
        }
    }

    #[test]
    fn parses_json_and_names_bad_fields() {
        let obj: Map<String, Value> = serde_json::from_str(r#"{"type": "SIE", "theta_E": 1.0, "e1": 0.1, "e2": 0.0}"#).unwrap();
        let p = from_json(&obj, "lens[0]").unwrap();
        assert!(p.kappa(1.0, 0.0) > 0.0);
        let obj: Map<String, Value> = serde_json::from_str(r#"{"type": "PEMD", "theta_E": 1.0}"#).unwrap();
        assert!(from_json(&obj, "lens[1]").unwrap_err().to_string().starts_with("lens[1].type"));
        let obj: Map<String, Value> = serde_json::from_str(r#"{"type": "NFW", "Rs": -1.0, "alpha_Rs": 1.0}"#).unwrap();
        assert!(from_json(&obj, "lens[2]").unwrap_err().to_string().contains("Rs"));
    }
}
