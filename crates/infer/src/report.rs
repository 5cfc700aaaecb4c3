//! The products of a reconstruction, written into one directory: FITS maps
//! (observed cutout, source with its source-plane pixel scale, model, lens
//! light, residual, normalized residual, κ), `result.json` (the lens in
//! lenstronomy's keywords, AstroRIM's normalized Θ and physical units, the
//! preparation and the fit's figures of merit), the κ profiles as CSV and
//! the diagnostic panel, and `coolest.json` (the COOLEST standard). Every
//! file is written atomically.

use crate::coolest::{coolest_document, CoolestInputs};
use crate::lens_light::SersicComponent;
use crate::pipeline::LensReconstruction;
use crate::posterior::{Chain, PosteriorSummary};
use crate::profiles::{azimuthal_kappa, critical_curves_and_caustics, enclosed_kappa_area, mean_kappa};
use astrorim_io::atomic::write_bytes;
use astrorim_io::corner::save_corner;
use astrorim_io::figure::Series;
use astrorim_io::fits::{write_fits, HduOut, Keyword, Precision};
use astrorim_io::panel::{percentiles, save_panel, Cell, ImageCell, LineCell, Scaling};
use astrorim_io::IoError;
use astrorim_physics::cosmology::{FlatLcdm, LensDistances};
use astrorim_physics::ellipticity::{e1e2_to_q_phi, shear_cartesian_to_polar};
use astrorim_physics::Image;
use serde_json::{json, Value};
use std::path::Path;

/// What the report needs beyond the reconstruction.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Lens and source redshifts, for physical units.
    pub redshifts: Option<(f64, f64)>,
    pub cosmology: FlatLcdm,
    /// Name shown in the panel's title (the input file).
    pub name: String,
    pub seconds: f64,
    /// Where the first guess came from, in words.
    pub start: String,
}

impl ReportOptions {
    /// Distances of the redshifts, when given.
    pub fn distances(&self) -> Option<LensDistances> {
        self.redshifts.and_then(|(zl, zs)| self.cosmology.lens_distances(zl, zs).ok())
    }
}

/// Radii (arcsec) of the κ profile: 0.05 θ_E … 3 θ_E, 60 points.
fn radii(theta_e: f64) -> Vec<f64> {
    (0..60).map(|k| theta_e * (0.05 + 2.95 * k as f64 / 59.0)).collect()
}

fn fits(path: &Path, data: &[f64], n: usize, scale: f64, content: &str, extra: Vec<Keyword>) -> Result<(), IoError> {
    let image = Image { nx: n, ny: data.len() / n, data: data.to_vec() };
    let mut keywords =
        vec![Keyword::text("ORIGIN", "astrorim reconstruct", "software that wrote this file"), Keyword::text("CONTENT", content, "")];
    keywords.extend(extra);
    write_fits(path, &[HduOut { name: None, image: &image, keywords }], Precision::F64, Some(scale))
}

/// The maps derived from a reconstruction, on the cutout grid (row-major, y up).
#[derive(Debug, Clone)]
pub struct Maps {
    /// data − model.
    pub residual: Vec<f64>,
    /// (data − model)/σ; 0 where the pixel was not fitted.
    pub normalized_residual: Vec<f64>,
    /// Convergence of the fitted lens at pixel centres.
    pub kappa: Vec<f64>,
    /// The data less the lens light: the lensed source's arcs.
    pub arcs: Vec<f64>,
}

impl Maps {
    pub fn of(r: &LensReconstruction) -> Maps {
        let model = r.fit.lens.lens_model();
        let residual: Vec<f64> = r.prepared.data.iter().zip(&r.model).map(|(d, f)| d - f).collect();
        let normalized_residual = residual.iter().zip(&r.sigma).map(|(v, s)| if s.is_finite() && *s > 0.0 { v / s } else { 0.0 }).collect();
        Maps {
            residual,
            normalized_residual,
            kappa: r.prepared.grid.map(|x, y| model.kappa(x, y)).data,
            arcs: r.prepared.data.iter().zip(&r.light_image).map(|(d, l)| d - l).collect(),
        }
    }
}

/// The content of `result.json`: the lens in lenstronomy's keywords,
/// AstroRIM's normalized Θ and physical units, the preparation and the fit's
/// figures of merit. A derived quantity that is not finite is an error
/// (naming `name`), never a number or a JSON null.
pub fn result_document(r: &LensReconstruction, options: &ReportOptions, name: &Path) -> Result<Value, IoError> {
    let grid = r.prepared.grid;
    let (n, s) = (grid.nx, grid.pixel_scale);
    let lens = r.fit.lens;
    let model = lens.lens_model();
    let distances = options.distances();
    let kappa_area_e = enclosed_kappa_area(&model, (lens.center_x, lens.center_y), lens.theta_E);
    let mut headline = vec![
        ("theta_e_arcsec", lens.theta_E),
        ("e1", lens.e1),
        ("e2", lens.e2),
        ("center_x", lens.center_x),
        ("center_y", lens.center_y),
        ("gamma1", lens.gamma1),
        ("gamma2", lens.gamma2),
        ("reduced_chi2", r.summary.reduced_chi2),
        ("kappa_area_einstein_arcsec2", kappa_area_e),
    ];
    if let Some(d) = distances {
        headline.push(("sigma_v_kms", d.sigma_v_sis_kms(lens.theta_E)));
        headline.push(("mass_einstein_msun", kappa_area_e * d.sigma_crit_msun_per_arcsec2));
    }
    if let Some((quantity, _)) = headline.iter().find(|(_, v)| !v.is_finite()) {
        return Err(IoError::file(name, format!("the fit produced a non-finite {quantity}; nothing written")));
    }
    let theta_e = lens.theta_E;
    let source = &r.fit.source_grid;
    let (q, phi) = e1e2_to_q_phi(lens.e1, lens.e2);
    let (gamma, phi_ext) = shear_cartesian_to_polar(lens.gamma1, lens.gamma2);
    let rec = &r.prepared.record;
    let physical = distances.map(|d| {
        json!({
            "z_lens": options.redshifts.map(|z| z.0),
            "z_source": options.redshifts.map(|z| z.1),
            "h0": options.cosmology.h0,
            "omega_m": options.cosmology.omega_m,
            "d_lens_mpc": d.d_lens_mpc,
            "d_source_mpc": d.d_source_mpc,
            "d_lens_source_mpc": d.d_lens_source_mpc,
            "sigma_crit_msun_per_arcsec2": d.sigma_crit_msun_per_arcsec2,
            "sigma_v_kms_definition": "singular isothermal sphere of the same θ_E: σ_v = c √(θ_E D_s / (4π D_ds))",
            "mass_einstein_msun_definition": "projected mass inside the circle r = θ_E about the lens centre: Σ_crit ∫κ dA",
        })
    });
    let light: Vec<Value> = r.light.components.iter().map(SersicComponent::scene_entry).collect();
    let result = json!({
        "theta_e_arcsec": theta_e,
        "q": q,
        "phi_rad": phi,
        "center_x": lens.center_x,
        "center_y": lens.center_y,
        "gamma_ext": gamma,
        "phi_ext_rad": phi_ext,
        "sigma_v_kms": distances.map(|d| d.sigma_v_sis_kms(theta_e)),
        "mass_einstein_msun": distances.map(|d| kappa_area_e * d.sigma_crit_msun_per_arcsec2),
        "reduced_chi2": r.summary.reduced_chi2,
        "converged": r.summary.optimizer_converged,
        "converged_reason": r.summary.stopped_because,
        "residuals_consistent_with_noise": r.summary.residuals_consistent_with_noise,
        "seconds": options.seconds,
        "conventions": "lenstronomy: arcsec, x along image columns (FITS NAXIS1), y along rows, origin at the cutout centre; φ counter-clockwise from +x; q = minor/major; SIE θ_E in lenstronomy's (intermediate-axis) normalization; the shear acts about (0, 0)",
        "center_pixel_input": r.prepared.input_pixel(lens.center_x, lens.center_y),
        "lens_model_list": r.summary.lens_model.lens_model_list(),
        "lens": lens.sie_shear_list(),
        "lens_light": light,
        "astrorim_theta": lens.to_astrorim(n, s),
        "astrorim_theta_grid": {"n_pixels": n, "pixel_scale_arcsec": s},
        "physical": physical,
        "kappa_area_einstein_arcsec2": kappa_area_e,
        "start": options.start,
        "source_grid": source,
        "source_pixel_scale_arcsec": source.pixel_scale(),
        "fit": r.summary,
        "preparation": rec,
    });
    Ok(result)
}

/// Writes every product into `dir` (created if needed) and returns `result.json`'s content.
pub fn write_products(dir: &Path, r: &LensReconstruction, options: &ReportOptions) -> Result<Value, IoError> {
    let result = result_document(r, options, dir)?;
    std::fs::create_dir_all(dir).map_err(|e| IoError::file(dir, format!("cannot create: {e}")))?;
    let grid = r.prepared.grid;
    let (n, s) = (grid.nx, grid.pixel_scale);
    let lens = r.fit.lens;
    let model = lens.lens_model();
    let center = (lens.center_x, lens.center_y);
    let distances = options.distances();
    let kappa_area_e = enclosed_kappa_area(&model, center, lens.theta_E);
    let theta_e = lens.theta_E;
    let (q, phi) = e1e2_to_q_phi(lens.e1, lens.e2);
    let (gamma, phi_ext) = shear_cartesian_to_polar(lens.gamma1, lens.gamma2);
    let rec = &r.prepared.record;
    let Maps { residual, normalized_residual: normalized, kappa, arcs } = Maps::of(r);

    // FITS maps.
    let source = &r.fit.source_grid;
    let m = source.size;
    fits(&dir.join("observed.fits"), &r.prepared.data, n, s, "sky-subtracted cutout that was fitted", vec![])?;
    fits(
        &dir.join("source.fits"),
        &r.fit.solution.source,
        m,
        source.pixel_scale(),
        "most probable source (flux per image-pixel area)",
        vec![
            Keyword::float("SRCX", source.center_x, "source grid centre x [arcsec]"),
            Keyword::float("SRCY", source.center_y, "source grid centre y [arcsec]"),
        ],
    )?;
    fits(&dir.join("model.fits"), &r.model, n, s, "lens light + lensed source", vec![])?;
    fits(&dir.join("lens_light.fits"), &r.light_image, n, s, "lens light model (PSF-convolved)", vec![])?;
    fits(&dir.join("residual.fits"), &residual, n, s, "data - model", vec![])?;
    fits(&dir.join("normalized_residual.fits"), &normalized, n, s, "(data - model)/sigma; 0 where not fitted", vec![])?;
    fits(&dir.join("kappa.fits"), &kappa, n, s, "convergence of the fitted lens at pixel centres", vec![])?;

    // Profiles.
    let mut radial = String::from("r_arcsec,kappa_mean,kappa_area_arcsec2,mass_msun\n");
    let mut radial_points = Vec::new();
    let mut mass_points = Vec::new();
    for r_k in radii(theta_e) {
        let k = mean_kappa(&model, center, r_k);
        let area = enclosed_kappa_area(&model, center, r_k);
        let mass = distances.map(|d| area * d.sigma_crit_msun_per_arcsec2);
        radial.push_str(&format!("{r_k:.6},{k:.6e},{area:.6e},{}\n", mass.map_or(String::new(), |v| format!("{v:.6e}"))));
        radial_points.push((r_k, k));
        mass_points.push((r_k, mass.unwrap_or(area)));
    }
    write_bytes(&dir.join("kappa_radial.csv"), radial.as_bytes())?;
    let mut azimuthal = String::from("position_angle_deg,kappa\n");
    for (angle, k) in azimuthal_kappa(&model, center, theta_e) {
        azimuthal.push_str(&format!("{angle},{k:.6e}\n"));
    }
    write_bytes(&dir.join("kappa_azimuthal.csv"), azimuthal.as_bytes())?;

    write_bytes(&dir.join("result.json"), serde_json::to_string_pretty(&result).expect("JSON values serialize").as_bytes())?;
    let coolest = coolest_document(&CoolestInputs {
        lens: &lens,
        light: &r.light,
        source,
        n_pixels: n,
        pixel_scale: s,
        redshifts: options.redshifts,
        cosmology: options.cosmology,
    });
    write_bytes(&dir.join("coolest.json"), serde_json::to_string_pretty(&coolest).expect("JSON values serialize").as_bytes())?;

    // The panel.
    let half = 0.5 * n as f64 * s;
    let extent = (-half, half, -half, half);
    let (critical, caustics) = critical_curves_and_caustics(&model, half, 241);
    let observed_scaling = Scaling::asinh_auto(&r.prepared.data);
    let (slo, shi) = (source.center_x - source.half_width, source.center_x + source.half_width);
    let (tlo, thi) = (source.center_y - source.half_width, source.center_y + source.half_width);
    let kappa_limits = percentiles(&kappa, 0.0, 0.99);
    let units = "flux / pixel".to_string();
    let table: Vec<(String, String)> = vec![
        ("θ_E".into(), format!("{theta_e:.4} arcsec")),
        ("q, φ".into(), format!("{q:.3}, {:.1}°", phi.to_degrees())),
        ("centre".into(), format!("({:.3}, {:.3}) arcsec", lens.center_x, lens.center_y)),
        ("γ_ext, φ_ext".into(), format!("{gamma:.3}, {:.1}°", phi_ext.to_degrees())),
        ("σ_v (SIS)".into(), distances.map_or("— (no redshifts)".into(), |d| format!("{:.0} km/s", d.sigma_v_sis_kms(theta_e)))),
        (
            "M(<θ_E)".into(),
            distances.map_or("— (no redshifts)".into(), |d| format!("{:.3e} M_sun", kappa_area_e * d.sigma_crit_msun_per_arcsec2)),
        ),
        ("reduced chi^2".into(), format!("{:.3} ({} pixels)", r.summary.reduced_chi2, r.summary.n_data)),
        ("chi^2 first guess -> final".into(), format!("{:.4e} -> {:.4e}", r.summary.chi2_before, r.summary.chi2_after)),
        ("lens light".into(), format!("{} Sérsic", r.summary.lens_light_components)),
        ("λ, ln evidence".into(), format!("{:.2e}, {:.1}", r.summary.lambda, r.summary.log_evidence)),
        ("masked neighbours".into(), format!("{} ({} px)", rec.neighbours.len(), rec.masked_neighbour_pixels)),
        ("converged".into(), format!("{}", r.summary.optimizer_converged)),
        ("time".into(), format!("{:.1} s", options.seconds)),
    ];
    let cells = vec![
        Cell::Image(ImageCell {
            title: "observed (sky-subtracted)".into(),
            data: &r.prepared.data,
            nx: n,
            ny: n,
            extent,
            scaling: observed_scaling,
            colorbar_label: units.clone(),
            overlays: vec![],
        }),
        Cell::Image(ImageCell {
            title: "model".into(),
            data: &r.model,
            nx: n,
            ny: n,
            extent,
            scaling: observed_scaling,
            colorbar_label: units.clone(),
            overlays: vec![],
        }),
        Cell::Image(ImageCell {
            title: "normalized residual".into(),
            data: &normalized,
            nx: n,
            ny: n,
            extent,
            scaling: Scaling::Symmetric { limit: 5.0 },
            colorbar_label: "(data − model)/σ".into(),
            overlays: vec![],
        }),
        Cell::Image(ImageCell {
            title: "arcs (lens light subtracted)".into(),
            data: &arcs,
            nx: n,
            ny: n,
            extent,
            scaling: Scaling::asinh_auto(&arcs),
            colorbar_label: units.clone(),
            overlays: vec![("critical curve".into(), critical.clone())],
        }),
        Cell::Image(ImageCell {
            title: "source".into(),
            data: &r.fit.solution.source,
            nx: m,
            ny: m,
            extent: (slo, shi, tlo, thi),
            scaling: Scaling::asinh_auto(&r.fit.solution.source),
            colorbar_label: "flux / image pixel area".into(),
            overlays: vec![("caustic".into(), caustics)],
        }),
        Cell::Image(ImageCell {
            title: "convergence κ".into(),
            data: &kappa,
            nx: n,
            ny: n,
            extent,
            scaling: Scaling::Asinh { min: 0.0, max: kappa_limits.1.max(1e-6), softening: 0.5 },
            colorbar_label: "κ".into(),
            overlays: vec![("critical curve".into(), critical)],
        }),
        Cell::Lines(LineCell {
            title: "radial convergence".into(),
            x_label: "r [arcsec]".into(),
            y_label: "azimuthal mean κ".into(),
            series: vec![Series { label: "mean κ(r)".into(), points: radial_points }],
            markers: vec![(theta_e, "θ_E".into())],
            log_y: true,
        }),
        Cell::Lines(LineCell {
            title: "enclosed mass".into(),
            x_label: "r [arcsec]".into(),
            y_label: if distances.is_some() { "M(<r) [M_sun]".into() } else { "κ-weighted area [arcsec^2] (no redshifts)".into() },
            series: vec![Series { label: "M(<r)".into(), points: mass_points }],
            markers: vec![(theta_e, "θ_E".into())],
            log_y: true,
        }),
        Cell::Table { title: "lens model".into(), rows: table },
    ];
    save_panel(&dir.join("panel.png"), &format!("astrorim reconstruct: {}", options.name), 3, &cells)?;
    Ok(result)
}

/// Writes the posterior's products into `dir`, beside those of
/// [`write_products`]: `corner.png` (after the burn-in, the most probable
/// lens and light `reference` marked, in the chain's columns —
/// [`crate::posterior::map_position`]), `posterior.json`, and the summary
/// as `posterior` in `result.json`. Returns the summary as JSON.
pub fn write_posterior(dir: &Path, chain: &Chain, summary: &PosteriorSummary, reference: &[f64]) -> Result<Value, IoError> {
    let burn_in = summary.diagnostics.burn_in_steps;
    let labels: Vec<String> = chain.names.iter().map(|n| corner_label(n)).collect();
    save_corner(
        &dir.join("corner.png"),
        &format!(
            "Lens posterior: {} samples ({} walkers × {} steps after {burn_in} burn-in), acceptance {:.2}{}",
            summary.samples,
            chain.walkers,
            chain.steps() - burn_in,
            summary.diagnostics.acceptance_fraction,
            if summary.temperature == 1.0 { String::new() } else { format!(", ln L / {}", summary.temperature) }
        ),
        &labels.iter().map(String::as_str).collect::<Vec<_>>(),
        &chain.columns(burn_in),
        Some(("the refined (most probable) lens and lens light", reference)),
    )?;
    let value = serde_json::to_value(summary).expect("the summary serializes");
    write_bytes(&dir.join("posterior.json"), serde_json::to_string_pretty(&value).expect("JSON values serialize").as_bytes())?;
    let result_path = dir.join("result.json");
    let bytes = std::fs::read(&result_path).map_err(|e| IoError::file(&result_path, format!("cannot read: {e}")))?;
    let mut document: Value = serde_json::from_slice(&bytes).map_err(|e| IoError::file(&result_path, format!("not JSON: {e}")))?;
    document["posterior"] = value.clone();
    write_bytes(&result_path, serde_json::to_string_pretty(&document).expect("JSON values serialize").as_bytes())?;
    Ok(value)
}

/// A chain column's axis label in the corner plot (units where the column has them).
fn corner_label(name: &str) -> String {
    match name {
        "theta_E" => "θ_E (arcsec)".into(),
        "center_x" => "centre x (arcsec)".into(),
        "center_y" => "centre y (arcsec)".into(),
        "gamma1" => "γ1".into(),
        "gamma2" => "γ2".into(),
        "light_center_x" => "light centre x (arcsec)".into(),
        "light_center_y" => "light centre y (arcsec)".into(),
        "sky_offset" => "sky offset (image units)".into(),
        other if other.ends_with("R_sersic") => format!("{other} (arcsec)"),
        other => other.into(),
    }
}
