//! The one mapping between lenstronomy's lens parameters and AstroRIM's
//! normalized parameterization Θ = (b, q, φ, x0, y0, γ, γ_φ, κ_s, r_s).
//!
//! AstroRIM works on a normalized image grid spanning [−1, 1] across the N
//! pixels of side s, so one normalized unit is (N/2)·s arcsec:
//! θ_E = b·(N/2)·s, center = (x0, y0)·(N/2)·s, Rs = r_s·(N/2)·s.
//! (q, φ) and (γ, γ_φ) follow lenstronomy's ellipticity and shear polar forms.
//! κ_s is the NFW characteristic convergence ρ0·Rs (so that κ = 2 κ_s F(X));
//! with ρ0 = alpha_Rs/(4 Rs² (1 + ln ½)) this gives κ_s = alpha_Rs/(4 Rs (1 + ln ½)).

use crate::ellipticity::{e1e2_to_q_phi, q_phi_to_e1e2, shear_cartesian_to_polar, shear_polar_to_cartesian};
use crate::mass::{LensModel, MassProfile, Nfw, Shear, Sie};
use serde::{Deserialize, Serialize};

/// SIE + external shear + NFW in lenstronomy's keywords (arcsec). The NFW is
/// centred on the SIE; `rs = alpha_rs = 0` means no halo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct LenstronomyLens {
    pub theta_E: f64,
    pub e1: f64,
    pub e2: f64,
    pub center_x: f64,
    pub center_y: f64,
    pub gamma1: f64,
    pub gamma2: f64,
    pub Rs: f64,
    pub alpha_Rs: f64,
}

/// AstroRIM's normalized lens parameters (dimensionless).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AstroRimLens {
    pub b: f64,
    pub q: f64,
    pub phi: f64,
    pub x0: f64,
    pub y0: f64,
    pub gamma: f64,
    pub gamma_phi: f64,
    pub kappa_s: f64,
    pub r_s: f64,
}

/// Names of the nine AstroRIM parameters in their canonical order.
pub const ASTRORIM_NAMES: [&str; 9] = ["b", "q", "phi", "x0", "y0", "gamma", "gamma_phi", "kappa_s", "r_s"];

/// Arcsec per normalized unit for an N-pixel grid of pixel scale s.
pub fn arcsec_per_unit(n_pixels: usize, pixel_scale: f64) -> f64 {
    n_pixels as f64 / 2.0 * pixel_scale
}

const NFW_NORM: f64 = 0.306_852_819_440_054_7; // 1 + ln ½

impl LenstronomyLens {
    /// The SIE and the shear as a scene's lens list (`[{"type": "SIE", …},
    /// {"type": "SHEAR", …}]`, lenstronomy's keywords; the halo left out):
    /// what `result.json` reports and `invert --lens` reads.
    pub fn sie_shear_list(&self) -> serde_json::Value {
        serde_json::json!([
            {"type": "SIE", "theta_E": self.theta_E, "e1": self.e1, "e2": self.e2, "center_x": self.center_x, "center_y": self.center_y},
            {"type": "SHEAR", "gamma1": self.gamma1, "gamma2": self.gamma2},
        ])
    }

    /// The profiles: SIE, SHEAR (about the origin, lenstronomy's default
    /// ra_0 = dec_0 = 0) and, when `alpha_Rs > 0`, an NFW on the SIE's centre.
    pub fn lens_model(&self) -> LensModel {
        let mut profiles: Vec<Box<dyn MassProfile>> = vec![
            Box::new(Sie::new(self.theta_E, self.e1, self.e2, self.center_x, self.center_y)),
            Box::new(Shear::new(self.gamma1, self.gamma2, 0.0, 0.0)),
        ];
        if self.alpha_Rs > 0.0 && self.Rs > 0.0 {
            profiles.push(Box::new(Nfw::new(self.Rs, self.alpha_Rs, self.center_x, self.center_y)));
        }
        LensModel::new(profiles)
    }

    pub fn to_astrorim(&self, n_pixels: usize, pixel_scale: f64) -> AstroRimLens {
        let u = arcsec_per_unit(n_pixels, pixel_scale);
        let (q, phi) = e1e2_to_q_phi(self.e1, self.e2);
        let (gamma, gamma_phi) = shear_cartesian_to_polar(self.gamma1, self.gamma2);
        let kappa_s = if self.Rs > 0.0 { self.alpha_Rs / (4.0 * self.Rs * NFW_NORM) } else { 0.0 };
        AstroRimLens {
            b: self.theta_E / u,
            q,
            phi,
            x0: self.center_x / u,
            y0: self.center_y / u,
            gamma,
            gamma_phi,
            kappa_s,
            r_s: self.Rs / u,
        }
    }
}

impl AstroRimLens {
    pub fn to_lenstronomy(&self, n_pixels: usize, pixel_scale: f64) -> LenstronomyLens {
        let u = arcsec_per_unit(n_pixels, pixel_scale);
        let (e1, e2) = q_phi_to_e1e2(self.q, self.phi);
        let (gamma1, gamma2) = shear_polar_to_cartesian(self.gamma, self.gamma_phi);
        let rs = self.r_s * u;
        LenstronomyLens {
            theta_E: self.b * u,
            e1,
            e2,
            center_x: self.x0 * u,
            center_y: self.y0 * u,
            gamma1,
            gamma2,
            Rs: rs,
            alpha_Rs: 4.0 * self.kappa_s * rs * NFW_NORM,
        }
    }

    pub fn to_array(&self) -> [f64; 9] {
        [self.b, self.q, self.phi, self.x0, self.y0, self.gamma, self.gamma_phi, self.kappa_s, self.r_s]
    }

    /// The inverse of [`Self::to_array`]: the nine parameters in [`ASTRORIM_NAMES`] order.
    pub fn from_array(t: [f64; 9]) -> Self {
        AstroRimLens { b: t[0], q: t[1], phi: t[2], x0: t[3], y0: t[4], gamma: t[5], gamma_phi: t[6], kappa_s: t[7], r_s: t[8] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reference_mapping() {
        let l = LenstronomyLens {
            theta_E: 1.2,
            e1: 0.1,
            e2: -0.05,
            center_x: 0.04,
            center_y: -0.08,
            gamma1: 0.03,
            gamma2: 0.01,
            Rs: 12.0,
            alpha_Rs: 0.8,
        };
        let a = l.to_astrorim(96, 0.04);
        // REFERENCE.md: θ_E[arcsec] = b · (N/2) · pixel_scale.
        assert!((a.b * 48.0 * 0.04 - 1.2).abs() < 1e-12);
        let back = a.to_lenstronomy(96, 0.04);
        assert_eq!(AstroRimLens::from_array(a.to_array()).to_array(), a.to_array());
        assert_eq!(a.to_array()[0], a.b);
        assert_eq!(a.to_array()[8], a.r_s);
        for (x, y) in [
            (l.theta_E, back.theta_E),
            (l.e1, back.e1),
            (l.e2, back.e2),
            (l.center_x, back.center_x),
            (l.gamma1, back.gamma1),
            (l.gamma2, back.gamma2),
            (l.Rs, back.Rs),
            (l.alpha_Rs, back.alpha_Rs),
        ] {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        // κ = 2 κ_s F(X): at X = 1, F = 1/3.
        let nfw = crate::mass::Nfw::new(l.Rs, l.alpha_Rs, 0.0, 0.0);
        use crate::mass::MassProfile;
        assert!((nfw.kappa(12.0, 0.0) - 2.0 * a.kappa_s / 3.0).abs() < 1e-12);
    }
}
