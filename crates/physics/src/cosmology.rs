//! Flat ΛCDM distances and lensing masses (no radiation, as in the AstroRIM
//! Table 1 convention and astropy's `FlatLambdaCDM(H0, Om0)` with Tcmb0 = 0).
//!
//! Distances are angular-diameter distances in Mpc; Σ_crit is in M☉ per
//! arcsec² at the lens; masses in M☉; velocities in km/s.

use crate::PhysicsError;

/// Speed of light, km/s.
pub const C_KMS: f64 = 299_792.458;
/// Speed of light, m/s.
const C_MS: f64 = 299_792_458.0;
/// Newton's constant, m³ kg⁻¹ s⁻² (CODATA 2018, as astropy).
const G_SI: f64 = 6.674_30e-11;
/// Megaparsec in metres (IAU 2015, as astropy).
const MPC_M: f64 = 3.085_677_581_491_367e22;
/// Solar mass in kg (IAU 2015 nominal GM☉ / G, as astropy).
const MSUN_KG: f64 = 1.988_409_870_698_051e30;
/// One arcsecond in radians.
pub const ARCSEC_RAD: f64 = std::f64::consts::PI / 648_000.0;

/// Simpson intervals for the comoving-distance integral; E(z) is smooth, so
/// this is exact to ~1e-12 relative for z ≲ 20.
const SIMPSON_INTERVALS: usize = 2048;

/// A flat ΛCDM cosmology.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatLcdm {
    /// Hubble constant, km/s/Mpc.
    pub h0: f64,
    /// Matter density today; Ω_Λ = 1 − Ω_m.
    pub omega_m: f64,
}

impl Default for FlatLcdm {
    fn default() -> Self {
        FlatLcdm { h0: 70.0, omega_m: 0.3 }
    }
}

/// The distances and critical density of one lens–source pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LensDistances {
    pub d_lens_mpc: f64,
    pub d_source_mpc: f64,
    pub d_lens_source_mpc: f64,
    pub sigma_crit_msun_per_arcsec2: f64,
}

/// What `astrorim cosmo` reports: the distances and Σ_crit of a lens–source
/// pair and, given θ_E (arcsec), the SIS velocity dispersion and the mass
/// inside θ_E of a circular lens (π θ_E² Σ_crit).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CosmoSummary {
    pub d_lens_mpc: f64,
    pub d_source_mpc: f64,
    pub d_lens_source_mpc: f64,
    pub sigma_crit_msun_per_arcsec2: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theta_e_arcsec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma_v_sis_kms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mass_einstein_msun: Option<f64>,
}

impl FlatLcdm {
    /// The summary of `z_lens → z_source` (and θ_E when given); errors name the field.
    pub fn summary(&self, z_lens: f64, z_source: f64, theta_e: Option<f64>) -> Result<CosmoSummary, PhysicsError> {
        let d = self.lens_distances(z_lens, z_source)?;
        if let Some(t) = theta_e {
            if !(t.is_finite() && t > 0.0) {
                return Err(PhysicsError::invalid("theta_e", format!("must be a positive number of arcsec, got {t}")));
            }
        }
        Ok(CosmoSummary {
            d_lens_mpc: d.d_lens_mpc,
            d_source_mpc: d.d_source_mpc,
            d_lens_source_mpc: d.d_lens_source_mpc,
            sigma_crit_msun_per_arcsec2: d.sigma_crit_msun_per_arcsec2,
            theta_e_arcsec: theta_e,
            sigma_v_sis_kms: theta_e.map(|t| d.sigma_v_sis_kms(t)),
            mass_einstein_msun: theta_e.map(|t| d.einstein_mass_msun(t)),
        })
    }

    pub fn new(h0: f64, omega_m: f64) -> Result<Self, PhysicsError> {
        if !(h0.is_finite() && h0 > 0.0) {
            return Err(PhysicsError::invalid("h0", format!("must be positive, got {h0}")));
        }
        if !(omega_m.is_finite() && (0.0..=1.0).contains(&omega_m)) {
            return Err(PhysicsError::invalid("omega_m", format!("must be in [0, 1], got {omega_m}")));
        }
        Ok(FlatLcdm { h0, omega_m })
    }

    fn e_of_z(&self, z: f64) -> f64 {
        (self.omega_m * (1.0 + z).powi(3) + 1.0 - self.omega_m).sqrt()
    }

    /// Line-of-sight comoving distance to redshift z, Mpc.
    pub fn comoving_distance(&self, z: f64) -> f64 {
        let n = SIMPSON_INTERVALS;
        let h = z / n as f64;
        let f = |zz: f64| 1.0 / self.e_of_z(zz);
        let mut sum = f(0.0) + f(z);
        for k in 1..n {
            sum += if k % 2 == 1 { 4.0 } else { 2.0 } * f(k as f64 * h);
        }
        C_KMS / self.h0 * sum * h / 3.0
    }

    /// Angular-diameter distance to z, Mpc.
    pub fn angular_diameter_distance(&self, z: f64) -> f64 {
        self.comoving_distance(z) / (1.0 + z)
    }

    /// Angular-diameter distance from z1 to z2 > z1 (flat universe), Mpc.
    pub fn angular_diameter_distance_z1z2(&self, z1: f64, z2: f64) -> f64 {
        (self.comoving_distance(z2) - self.comoving_distance(z1)) / (1.0 + z2)
    }

    /// D_d, D_s, D_ds and Σ_crit for a lens at `z_lens` and a source at `z_source`.
    pub fn lens_distances(&self, z_lens: f64, z_source: f64) -> Result<LensDistances, PhysicsError> {
        if !(z_lens.is_finite() && z_lens > 0.0) {
            return Err(PhysicsError::invalid("z_lens", format!("must be positive, got {z_lens}")));
        }
        if !(z_source.is_finite() && z_source > z_lens) {
            return Err(PhysicsError::invalid("z_source", format!("must exceed z_lens = {z_lens}, got {z_source}")));
        }
        let d_d = self.angular_diameter_distance(z_lens);
        let d_s = self.angular_diameter_distance(z_source);
        let d_ds = self.angular_diameter_distance_z1z2(z_lens, z_source);
        // Σ_crit = c²/(4πG) · D_s/(D_d D_ds), in kg/m², then per arcsec² at D_d.
        let sigma_si = C_MS * C_MS / (4.0 * std::f64::consts::PI * G_SI) * d_s / (d_d * d_ds * MPC_M);
        let arcsec_m = d_d * MPC_M * ARCSEC_RAD;
        Ok(LensDistances {
            d_lens_mpc: d_d,
            d_source_mpc: d_s,
            d_lens_source_mpc: d_ds,
            sigma_crit_msun_per_arcsec2: sigma_si * arcsec_m * arcsec_m / MSUN_KG,
        })
    }
}

impl FlatLcdm {
    /// Critical density 3H(z)²/(8πG) in M☉/Mpc³.
    pub fn critical_density_msun_per_mpc3(&self, z: f64) -> f64 {
        let h_si = self.h0 * self.e_of_z(z) * 1e3 / MPC_M;
        3.0 * h_si * h_si / (8.0 * std::f64::consts::PI * G_SI) * MPC_M.powi(3) / MSUN_KG
    }

    /// lenstronomy NFW parameters (Rs, alpha_Rs) in arcsec for a halo of
    /// M200 (M☉, within the radius enclosing 200 ρ_crit(z_lens)) and
    /// concentration c = r200/Rs: ρ_s = (200/3) ρ_crit c³/(ln(1+c) − c/(1+c)),
    /// κ = Σ/Σ_crit = 2 ρ_s Rs F(X)/Σ_crit, so alpha_Rs = 4 (ρ_s Rs/Σ_crit) Rs_angle (1 + ln ½).
    pub fn nfw_angles(&self, m200_msun: f64, concentration: f64, d: &LensDistances, z_lens: f64) -> (f64, f64) {
        let rho_c = self.critical_density_msun_per_mpc3(z_lens);
        let r200 = (3.0 * m200_msun / (4.0 * std::f64::consts::PI * 200.0 * rho_c)).cbrt();
        let rs = r200 / concentration;
        let c = concentration;
        let rho_s = 200.0 / 3.0 * rho_c * c.powi(3) / ((1.0 + c).ln() - c / (1.0 + c));
        let rs_angle = rs / d.d_lens_mpc / ARCSEC_RAD;
        let sigma_crit_mpc2 = d.sigma_crit_msun_per_arcsec2 / (d.d_lens_mpc * ARCSEC_RAD).powi(2);
        (rs_angle, 4.0 * rho_s * rs / sigma_crit_mpc2 * rs_angle * (1.0 + 0.5f64.ln()))
    }
}

impl LensDistances {
    /// Mass inside the Einstein radius, M(<θ_E) = π θ_E² Σ_crit, M☉.
    pub fn einstein_mass_msun(&self, theta_e_arcsec: f64) -> f64 {
        std::f64::consts::PI * theta_e_arcsec * theta_e_arcsec * self.sigma_crit_msun_per_arcsec2
    }

    /// SIS velocity dispersion for an Einstein radius: σ_v = c √(θ_E D_s/(4π D_ds)), km/s.
    pub fn sigma_v_sis_kms(&self, theta_e_arcsec: f64) -> f64 {
        C_KMS * (theta_e_arcsec * ARCSEC_RAD * self.d_source_mpc / (4.0 * std::f64::consts::PI * self.d_lens_source_mpc)).sqrt()
    }

    /// SIS Einstein radius for a velocity dispersion: θ_E = 4π (σ_v/c)² D_ds/D_s, arcsec.
    pub fn theta_e_sis_arcsec(&self, sigma_v_kms: f64) -> f64 {
        4.0 * std::f64::consts::PI * (sigma_v_kms / C_KMS).powi(2) * self.d_lens_source_mpc / self.d_source_mpc / ARCSEC_RAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rxj1131_published_values() {
        // REFERENCE.md §2 / AstroRIM Table 1: z = (0.295, 0.658), θ_E = 1.9″.
        let d = FlatLcdm::default().lens_distances(0.295, 0.658).unwrap();
        let sv = d.sigma_v_sis_kms(1.9);
        let m = d.einstein_mass_msun(1.9);
        assert!((sv - 360.7).abs() < 0.5, "σ_v = {sv}");
        assert!((m / 7.95e11 - 1.0).abs() < 5e-3, "M_E = {m:e}");
    }

    #[test]
    fn sigma_v_and_theta_e_invert_each_other() {
        let d = FlatLcdm::new(67.7, 0.31).unwrap().lens_distances(0.5, 2.0).unwrap();
        assert!((d.theta_e_sis_arcsec(d.sigma_v_sis_kms(1.23)) - 1.23).abs() < 1e-12);
    }

    #[test]
    fn einstein_de_sitter_has_a_closed_form() {
        // Ω_m = 1: D_C = 2c/H0 (1 − 1/√(1+z)).
        let c = FlatLcdm::new(70.0, 1.0).unwrap();
        let z: f64 = 1.7;
        let exact = 2.0 * C_KMS / 70.0 * (1.0 - 1.0 / (1.0 + z).sqrt());
        assert!((c.comoving_distance(z) / exact - 1.0).abs() < 1e-12);
    }

    #[test]
    fn flat_lambda_cdm_matches_published_and_independent_distances() {
        // astropy's documentation: FlatLambdaCDM(H0=70, Om0=0.3).comoving_distance(0.5)
        // = 1888.62539593 Mpc (Tcmb0 = 0).
        let c = FlatLcdm::default();
        assert!((c.comoving_distance(0.5) / 1888.62539593 - 1.0).abs() < 1e-9, "{}", c.comoving_distance(0.5));
        // An independent quadrature of the Λ term: over the scale factor,
        // D_C = c/H0 ∫_a^1 da / (a² E(a)), E(a)² = Ω_m a⁻³ + Ω_Λ, by the
        // midpoint rule (not the code's Simpson over z).
        for (om, z) in [(0.3, 1.0), (0.25, 2.5), (0.5, 0.3)] {
            let c = FlatLcdm::new(70.0, om).unwrap();
            let a0 = 1.0 / (1.0 + z);
            let n = 400_000;
            let h = (1.0 - a0) / n as f64;
            let integral: f64 = (0..n)
                .map(|k| {
                    let a = a0 + (k as f64 + 0.5) * h;
                    1.0 / (a * a * (om / (a * a * a) + 1.0 - om).sqrt())
                })
                .sum::<f64>()
                * h;
            let expected = C_KMS / 70.0 * integral;
            assert!(
                (c.comoving_distance(z) / expected - 1.0).abs() < 1e-9,
                "Ω_m = {om}, z = {z}: {} vs {expected}",
                c.comoving_distance(z)
            );
        }
    }

    #[test]
    fn nfw_from_m200_encloses_its_mass() {
        // The projected mass inside Rs: M_2D(Rs) = 4π ρ_s Rs³ (1 + ln ½) must equal
        // alpha_Rs · Rs_angle · π Σ_crit (since M_2D(R) = π R α(R) Σ_crit).
        let c = FlatLcdm::default();
        let d = c.lens_distances(0.4, 1.5).unwrap();
        let (m200, conc) = (1e13, 6.0);
        let (rs_angle, alpha_rs) = c.nfw_angles(m200, conc, &d, 0.4);
        let rho_c = c.critical_density_msun_per_mpc3(0.4);
        let r200 = (3.0 * m200 / (4.0 * std::f64::consts::PI * 200.0 * rho_c)).cbrt();
        let rs = r200 / conc;
        let rho_s = 200.0 / 3.0 * rho_c * conc.powi(3) / ((1.0 + conc).ln() - conc / (1.0 + conc));
        let m2d = 4.0 * std::f64::consts::PI * rho_s * rs.powi(3) * (1.0 + 0.5f64.ln());
        let from_lensing = std::f64::consts::PI * rs_angle * alpha_rs * d.sigma_crit_msun_per_arcsec2;
        assert!((m2d / from_lensing - 1.0).abs() < 1e-12);
        // ρ_crit today for H0 = 70: 1.36e11 M☉/Mpc³.
        assert!((c.critical_density_msun_per_mpc3(0.0) / 1.3599e11 - 1.0).abs() < 1e-3);
    }

    #[test]
    fn rejects_unordered_redshifts() {
        let e = FlatLcdm::default().lens_distances(0.5, 0.4).unwrap_err();
        assert!(e.to_string().starts_with("z_source"));
    }
}
