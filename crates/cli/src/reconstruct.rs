//! `astrorim reconstruct IMAGE.fits …`: an observed lens → its unlensed
//! source, a refined lens model in lenstronomy's keywords and physical
//! units, and a diagnostic panel (the pipeline is `astrorim_infer::pipeline`,
//! the products `astrorim_infer::report`).

use anyhow::{anyhow, Result};
use astrorim_infer::inversion::Regularization;
use astrorim_infer::observation::{Observation, ObservationFiles};
use astrorim_infer::pipeline::{reconstruct_lens, PipelineOptions};
use astrorim_infer::prep::PrepOptions;
use astrorim_infer::refine::RefineOptions;
use astrorim_infer::report::{write_products, ReportOptions};
use astrorim_physics::cosmology::FlatLcdm;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct ReconstructArgs {
    /// Observed image (FITS, linear flux per pixel).
    image: PathBuf,
    /// Noise map (FITS, 1σ per pixel; zero, huge or non-finite values mask the pixel).
    #[arg(long, conflicts_with = "noise_rms")]
    noise: Option<PathBuf>,
    /// Constant 1σ noise. Without --noise or --noise-rms the noise is estimated
    /// from the sky (plus the source's Poisson term when the header gives EXPTIME), and said so.
    #[arg(long)]
    noise_rms: Option<f64>,
    /// PSF kernel (FITS, odd square; normalized on reading).
    #[arg(long)]
    psf: Option<PathBuf>,
    /// Pixel scale in arcsec (default: from the header's CD matrix, CDELT or PIXSCALE).
    #[arg(long)]
    pixel_scale: Option<f64>,
    /// Lens redshift (with --z-source: σ_v, Einstein mass, M(<r)).
    #[arg(long, requires = "z_source")]
    z_lens: Option<f64>,
    #[arg(long, requires = "z_lens")]
    z_source: Option<f64>,
    /// Hubble constant (km/s/Mpc) and Ω_m of the flat ΛCDM cosmology.
    #[arg(long, default_value_t = 70.0)]
    h0: f64,
    #[arg(long, default_value_t = 0.3)]
    omega_m: f64,
    /// Lens centre X,Y as 0-based column,row of the input image (default: found).
    #[arg(long, value_delimiter = ',', num_args = 2)]
    center: Option<Vec<f64>>,
    /// Pixels to leave out (FITS, same shape; non-zero = excluded).
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Side of the fitted cutout in arcsec.
    #[arg(long, default_value_t = astrorim_infer::prep::DEFAULT_CUTOUT_ARCSEC)]
    cutout: f64,
    /// Do not mask neighbouring objects automatically.
    #[arg(long)]
    no_auto_mask: bool,
    /// Source prior of the inversion: brightness, gradient or curvature.
    #[arg(long, default_value = "gradient")]
    regularization: Regularization,
    /// Source grid side (pixels) during the refinement and for the final source.
    #[arg(long, default_value_t = 32)]
    search_source_grid: usize,
    #[arg(long, default_value_t = 48)]
    source_grid: usize,
    /// Objective evaluations of the refinement in all (each re-solves the source).
    #[arg(long, default_value_t = 1200)]
    max_evaluations: usize,
    /// Output directory.
    #[arg(long, default_value = "reconstruction")]
    out: PathBuf,
}

pub fn run(args: ReconstructArgs) -> Result<()> {
    let start = Instant::now();
    let center = match args.center.as_deref() {
        None => None,
        Some(&[x, y]) if x.is_finite() && y.is_finite() => Some((x, y)),
        Some(_) => return Err(anyhow!("center: give two finite numbers X,Y (0-based column,row)")),
    };
    let redshifts = match (args.z_lens, args.z_source) {
        (Some(zl), Some(zs)) => {
            if !(zl > 0.0 && zs > zl && zs.is_finite()) {
                return Err(anyhow!("z-source: must exceed z-lens > 0, got z-lens {zl}, z-source {zs}"));
            }
            Some((zl, zs))
        }
        _ => None,
    };
    let cosmology = FlatLcdm::new(args.h0, args.omega_m).map_err(|e| anyhow!("{e}"))?;
    if !(8..=256).contains(&args.source_grid) || !(8..=256).contains(&args.search_source_grid) {
        return Err(anyhow!("source-grid: must be in 8..=256 (also --search-source-grid)"));
    }
    let obs = Observation::load(&ObservationFiles {
        image: args.image.clone(),
        noise: args.noise.clone(),
        noise_rms: args.noise_rms,
        psf: args.psf.clone(),
        mask: args.mask.clone(),
        pixel_scale: args.pixel_scale,
        estimate_noise: true,
    })
    .map_err(|e| anyhow!(e))?;
    let options = PipelineOptions {
        prep: PrepOptions { center_pixel: center, cutout_arcsec: Some(args.cutout) },
        auto_mask: !args.no_auto_mask,
        refine: RefineOptions {
            source_size: args.search_source_grid,
            final_source_size: args.source_grid,
            regularization: args.regularization,
            max_evaluations: args.max_evaluations,
            ..RefineOptions::default()
        },
        hint: None,
    };
    let result = reconstruct_lens(&obs, &options).map_err(|e| anyhow!("{}: {e}", args.image.display()))?;
    let report = ReportOptions {
        redshifts,
        cosmology,
        name: args.image.display().to_string(),
        seconds: start.elapsed().as_secs_f64(),
        start: "the arcs' radius from the lens-light-subtracted image (several starts, chosen by evidence)".into(),
    };
    write_products(&args.out, &result, &report)?;
    let s = &result.summary;
    eprintln!(
        "{}: θ_E = {:.4}″, q = {:.3}, reduced χ² {:.3} → {:.3} ({} pixels), {} evaluations, {:.1} s",
        args.out.display(),
        result.fit.lens.theta_E,
        astrorim_physics::ellipticity::e1e2_to_q_phi(result.fit.lens.e1, result.fit.lens.e2).0,
        s.reduced_chi2_before,
        s.reduced_chi2,
        s.n_data,
        s.evaluations,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
