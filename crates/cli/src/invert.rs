//! `astrorim invert IMAGE.fits --lens LENS.json …`: the pixelated source of
//! an observed lens for a given lens model by regularized linear inversion,
//! its regularization strength by the Bayesian evidence.

use anyhow::{anyhow, Context, Result};
use astrorim_infer::inversion::{Inversion, Regularization};
use astrorim_infer::observation::{Observation, ObservationFiles};
use astrorim_infer::operator::{LensingOperator, SourceGrid};
use astrorim_io::atomic::write_bytes;
use astrorim_io::figure::{LinePlot, Series};
use astrorim_io::fits::{write_fits, HduOut, Keyword, Precision};
use astrorim_physics::scene::parse_lens_list;
use astrorim_physics::{Image, PixelGrid};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct InvertArgs {
    /// Observed image (FITS; flux per pixel, background-subtracted, lens light removed or masked).
    image: PathBuf,
    /// Lens model: a JSON object with a "lens" list in the scene format (a scene file works).
    #[arg(long)]
    lens: PathBuf,
    /// PSF kernel (FITS, odd square; normalized on reading).
    #[arg(long)]
    psf: Option<PathBuf>,
    /// Noise map (FITS, 1σ per pixel; zero or non-finite values mask the pixel).
    #[arg(long, conflicts_with = "noise_rms")]
    noise: Option<PathBuf>,
    /// Constant 1σ noise instead of a map.
    #[arg(long)]
    noise_rms: Option<f64>,
    /// Pixels to leave out (FITS, same shape; non-zero = excluded).
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Pixel scale in arcsec (default: from the header).
    #[arg(long)]
    pixel_scale: Option<f64>,
    /// Source grid side in pixels.
    #[arg(long, default_value_t = 64)]
    source_grid: usize,
    /// Source grid width in arcsec (default: half the image's field).
    #[arg(long)]
    source_fov: Option<f64>,
    /// Source grid centre X,Y in arcsec (default: the image centre, 0,0).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    source_center: Option<Vec<f64>>,
    /// Rays per pixel side.
    #[arg(long, default_value_t = 2)]
    supersampling: usize,
    /// Source prior: brightness, gradient or curvature.
    #[arg(long, default_value = "gradient")]
    regularization: Regularization,
    /// Regularization strength, or "auto" to maximize the Bayesian evidence.
    #[arg(long, default_value = "auto")]
    lambda: String,
    /// PSF taps below this fraction of the peak are dropped (the rest renormalized).
    #[arg(long, default_value_t = 1e-3)]
    psf_floor: f64,
    /// Output directory: source.fits, model.fits, residual.fits, evidence.csv, evidence.png, inversion.json.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: InvertArgs) -> Result<()> {
    let start = Instant::now();
    let lambda = match args.lambda.as_str() {
        "auto" => None,
        text => match text.parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => Some(v),
            _ => return Err(anyhow!("lambda: must be a positive number or 'auto', got '{text}'")),
        },
    };
    if !(4..=512).contains(&args.source_grid) {
        return Err(anyhow!("source-grid: must be in 4..=512, got {}", args.source_grid));
    }
    if !(0.0..1.0).contains(&args.psf_floor) {
        return Err(anyhow!("psf-floor: must be in [0, 1), got {}", args.psf_floor));
    }
    let obs = Observation::load(&ObservationFiles {
        image: args.image.clone(),
        noise: args.noise.clone(),
        noise_rms: args.noise_rms,
        psf: args.psf.clone(),
        mask: args.mask.clone(),
        pixel_scale: args.pixel_scale,
        estimate_noise: false,
    })
    .map_err(|e| anyhow!(e))?;
    let text = std::fs::read_to_string(&args.lens).with_context(|| format!("{}: cannot read", args.lens.display()))?;
    let lens = parse_lens_list(&text).map_err(|e| anyhow!("{}: {e}", args.lens.display()))?;
    let (nx, ny) = (obs.image.nx, obs.image.ny);
    let grid = PixelGrid::new(nx, ny, obs.pixel_scale, args.supersampling).map_err(|e| anyhow!("supersampling: {e}"))?;
    let width = match args.source_fov {
        Some(w) if w > 0.0 && w.is_finite() => w,
        Some(w) => return Err(anyhow!("source-fov: must be a positive number of arcsec, got {w}")),
        None => 0.5 * nx.max(ny) as f64 * obs.pixel_scale,
    };
    let (center_x, center_y) = match args.source_center.as_deref() {
        Some(&[x, y]) if x.is_finite() && y.is_finite() => (x, y),
        Some(_) => return Err(anyhow!("source-center: give two finite numbers X,Y in arcsec")),
        None => (0.0, 0.0),
    };
    let source = SourceGrid { size: args.source_grid, half_width: width / 2.0, center_x, center_y };
    let op = LensingOperator::new(&grid, &lens, &source, obs.psf.as_ref(), args.psf_floor);
    let inversion =
        Inversion::new(&op, &obs.image.data, &obs.sigma, args.regularization).map_err(|e| anyhow!("{}: {e}", args.image.display()))?;
    let (best, curve) = match lambda {
        Some(l) => {
            let s = inversion.solve(l).map_err(|e| anyhow!("lambda: {e}"))?;
            let point = vec![(s.lambda, s.log_evidence)];
            (s, point)
        }
        None => inversion.optimize().map_err(|e| anyhow!("{}: {e}", args.image.display()))?,
    };
    let seconds = start.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out).with_context(|| format!("{}: cannot create", args.out.display()))?;
    let m = source.size;
    let source_image = Image { nx: m, ny: m, data: best.source.clone() };
    let model = Image { nx, ny, data: best.model.clone() };
    let residual = Image { nx, ny, data: obs.image.data.iter().zip(&best.model).map(|(d, f)| d - f).collect() };
    let common =
        |what: &str| vec![Keyword::text("ORIGIN", "astrorim invert", "software that wrote this file"), Keyword::text("CONTENT", what, "")];
    let mut source_keys = common("most probable source (flux per image-pixel area)");
    source_keys.push(Keyword::float("SRCX", center_x, "source grid centre x [arcsec]"));
    source_keys.push(Keyword::float("SRCY", center_y, "source grid centre y [arcsec]"));
    write_fits(
        &args.out.join("source.fits"),
        &[HduOut { name: None, image: &source_image, keywords: source_keys }],
        Precision::F64,
        Some(source.pixel_scale()),
    )?;
    write_fits(
        &args.out.join("model.fits"),
        &[HduOut { name: None, image: &model, keywords: common("model image F s") }],
        Precision::F64,
        Some(obs.pixel_scale),
    )?;
    write_fits(
        &args.out.join("residual.fits"),
        &[HduOut { name: None, image: &residual, keywords: common("data - model") }],
        Precision::F64,
        Some(obs.pixel_scale),
    )?;
    let mut csv = String::from("lambda,log_evidence\n");
    for (l, e) in &curve {
        csv.push_str(&format!("{l:.6e},{e:.6}\n"));
    }
    write_bytes(&args.out.join("evidence.csv"), csv.as_bytes())?;
    let plot = LinePlot {
        title: "Bayesian evidence of the regularization strength",
        x_label: "log10 lambda",
        y_label: "ln evidence",
        log_y: false,
    };
    plot.save(
        &args.out.join("evidence.png"),
        &[Series {
            label: format!("{:?} regularization", args.regularization).to_lowercase(),
            points: curve.iter().map(|(l, e)| (l.log10(), *e)).collect(),
        }],
    )?;
    let json = serde_json::json!({
        "lambda": best.lambda,
        "log_evidence": best.log_evidence,
        "chi2": best.chi2,
        "reduced_chi2": best.reduced_chi2,
        "n_data": inversion.n_data(),
        "regularization": best.regularization,
        "lambda_search": if lambda.is_some() { "given" } else { "evidence maximum" },
        "source_grid": source,
        "source_pixel_scale_arcsec": source.pixel_scale(),
        "pixel_scale_arcsec": obs.pixel_scale,
        "pixel_scale_origin": obs.pixel_scale_origin,
        "supersampling": args.supersampling,
        "rays_outside_source_grid": op.lost_fraction,
        "psf_truncated_flux": op.psf_truncated_flux,
        "masked_pixels": obs.masked_by_mask,
        "unusable_pixels": obs.unusable,
        "seconds": seconds,
    });
    write_bytes(&args.out.join("inversion.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    if op.lost_fraction > 0.01 {
        eprintln!(
            "astrorim: warning: {:.1} % of the traced rays fall outside the source grid; widen it with --source-fov",
            100.0 * op.lost_fraction
        );
    }
    eprintln!(
        "{}: λ = {:.3e}, ln ε = {:.2}, reduced χ² = {:.3} over {} pixels, {:.2} s",
        args.out.display(),
        best.lambda,
        best.log_evidence,
        best.reduced_chi2,
        inversion.n_data(),
        seconds
    );
    Ok(())
}
