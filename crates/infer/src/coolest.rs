//! The lens model in the COOLEST standard (Galan et al. 2023; the `coolest`
//! Python package 0.1.x reads it): a lens Galaxy (SIE mass, Sérsic light), an
//! ExternalShear MassField, and the source Galaxy as a pixelated regular grid
//! (`source.fits`), with the observation (`observed.fits`), instrument and
//! cosmology. Mode "MAP": point estimates only.
//!
//! Conventions (docs/coolest.md): COOLEST position angles are in degrees
//! east of north in [−90, 90], its x axis along the image's columns and y
//! along its rows (north up, east left — the usual orientation; for an image
//! rotated on the sky the angles are relative to its columns and rows). Its
//! routines convert an angle to the mathematical one as φ − 90°, so
//! φ_COOLEST = φ_lenstronomy (from +x, counter-clockwise) + 90°. Its SIE θ_E
//! and Sérsic radius share lenstronomy's product-average elliptical radius
//! √(q x² + y²/q), and its I_eff is lenstronomy's amp (surface brightness at
//! R_sersic).

use crate::lens_light::LensLight;
use crate::operator::SourceGrid;
use astrorim_physics::cosmology::FlatLcdm;
use astrorim_physics::ellipticity::{e1e2_to_q_phi, shear_cartesian_to_polar};
use astrorim_physics::param_map::LenstronomyLens;
use serde_json::{json, Map, Value};

/// A lenstronomy angle (radians from +x, counter-clockwise) as a COOLEST
/// position angle: degrees east of north in [−90, 90).
pub fn position_angle_degrees(phi_rad: f64) -> f64 {
    (phi_rad.to_degrees() + 90.0 + 90.0).rem_euclid(180.0) - 90.0
}

fn parameter(id: &str, value: f64) -> Value {
    json!({
        "fixed": false,
        "id": id,
        "point_estimate": {"value": value},
        "posterior_stats": {"mean": null, "median": null, "percentile_16th": null, "percentile_84th": null},
        "prior": {"type": null},
    })
}

fn profile(id: &str, kind: &str, values: &[(&str, f64)]) -> Value {
    let mut parameters = Map::new();
    for (name, value) in values {
        parameters.insert(name.to_string(), parameter(&format!("{id}-{name}"), *value));
    }
    json!({"id": id, "type": kind, "parameters": parameters})
}

fn grid(path: &str, center: (f64, f64), half_width: f64, n: usize) -> Value {
    json!({
        "field_of_view_x": [center.0 - half_width, center.0 + half_width],
        "field_of_view_y": [center.1 - half_width, center.1 + half_width],
        "fits_file": {"path": path},
        "num_pix_x": n,
        "num_pix_y": n,
    })
}

/// What the COOLEST file describes.
#[derive(Debug, Clone, Copy)]
pub struct CoolestInputs<'a> {
    pub lens: &'a LenstronomyLens,
    pub light: &'a LensLight,
    pub source: &'a SourceGrid,
    /// The fitted cutout: side in pixels and pixel scale (arcsec).
    pub n_pixels: usize,
    pub pixel_scale: f64,
    /// Lens and source redshifts (0 when unknown: COOLEST requires a number).
    pub redshifts: Option<(f64, f64)>,
    pub cosmology: FlatLcdm,
}

/// The COOLEST JSON document (files referenced relative to it).
pub fn coolest_document(c: &CoolestInputs) -> Value {
    let (q, phi) = e1e2_to_q_phi(c.lens.e1, c.lens.e2);
    let (gamma, phi_ext) = shear_cartesian_to_polar(c.lens.gamma1, c.lens.gamma2);
    let (z_lens, z_source) = c.redshifts.unwrap_or((0.0, 0.0));
    let mass = profile(
        "0-galaxy-mass-0-SIE",
        "SIE",
        &[
            ("theta_E", c.lens.theta_E),
            ("q", q),
            ("phi", position_angle_degrees(phi)),
            ("center_x", c.lens.center_x),
            ("center_y", c.lens.center_y),
        ],
    );
    let light: Vec<Value> = c
        .light
        .components
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let (q, phi) = e1e2_to_q_phi(s.e1, s.e2);
            profile(
                &format!("0-galaxy-light-{k}-Sersic"),
                "Sersic",
                &[
                    ("I_eff", s.amp),
                    ("theta_eff", s.R_sersic),
                    ("n", s.n_sersic),
                    ("q", q),
                    ("phi", position_angle_degrees(phi)),
                    ("center_x", s.center_x),
                    ("center_y", s.center_y),
                ],
            )
        })
        .collect();
    let shear =
        profile("1-massfield-mass-0-ExternalShear", "ExternalShear", &[("gamma_ext", gamma), ("phi_ext", position_angle_degrees(phi_ext))]);
    let source_light = json!({
        "id": "2-galaxy-light-0-PixelatedRegularGrid",
        "type": "PixelatedRegularGrid",
        "parameters": {"pixels": grid("source.fits", (c.source.center_x, c.source.center_y), c.source.half_width, c.source.size)},
    });
    let half = 0.5 * c.n_pixels as f64 * c.pixel_scale;
    json!({
        "standard": "COOLEST",
        "mode": "MAP",
        "meta": {"software": "astrorim", "coolest.__version__": "0.1.11"},
        "coordinates_origin": {"ra": "00h00m00s", "dec": "+00d00m00s"},
        "lensing_entities": [
            {"type": "Galaxy", "name": "lens", "redshift": z_lens, "mass_model": [mass], "light_model": light},
            {"type": "MassField", "name": "external shear", "redshift": z_lens, "mass_model": [shear]},
            {"type": "Galaxy", "name": "source", "redshift": z_source, "mass_model": [], "light_model": [source_light]},
        ],
        "observation": {
            "pixels": grid("observed.fits", (0.0, 0.0), half, c.n_pixels),
            "exposure_time": null,
            "mag_zero_point": null,
            "mag_sky_brightness": null,
            "noise": {"type": null},
        },
        "instrument": {"name": "", "band": "", "pixel_size": c.pixel_scale, "readout_noise": 0.0, "psf": {"type": null, "description": null}},
        "cosmology": {"H0": c.cosmology.h0, "Om0": c.cosmology.omega_m, "astropy_name": "FlatLambdaCDM"},
        "likelihoods": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_angles_are_east_of_north_in_the_standard_range() {
        // Major axis along +y (north) is 0; along +x is ±90; 45° from +x is −45 (north-west of a north-up, east-left image).
        assert!(position_angle_degrees(std::f64::consts::FRAC_PI_2).abs() < 1e-12);
        assert!((position_angle_degrees(0.0).abs() - 90.0).abs() < 1e-12);
        assert!((position_angle_degrees(std::f64::consts::FRAC_PI_4) + 45.0).abs() < 1e-12);
        for k in -20..20 {
            let a = position_angle_degrees(k as f64 * 0.37);
            assert!((-90.0..90.0).contains(&a));
        }
    }
}
