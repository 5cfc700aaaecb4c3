//! `astrorim invert IMAGE.fits --lens LENS.json …`: the pixelated source of
//! an observed lens for a given lens model by regularized linear inversion,
//! its regularization strength by the Bayesian evidence.

use anyhow::{anyhow, Context, Result};
use astrorim_infer::baseline::{invert_observation, InvertOptions, Inverted};
use astrorim_infer::inversion::Regularization;
use astrorim_infer::observation::{Observation, ObservationFiles};
use astrorim_io::atomic::write_bytes;
use astrorim_io::figure::{LinePlot, Series};
use astrorim_io::fits::{write_fits, HduOut, Keyword, Precision};
use astrorim_physics::scene::parse_lens_list;
use astrorim_physics::Image;
use clap::Args;
use std::path::PathBuf;

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
    let lambda = match args.lambda.as_str() {
        "auto" => None,
        text => match text.parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => Some(v),
            _ => return Err(anyhow!("lambda: must be a positive number or 'auto', got '{text}'")),
        },
    };
    let source_center = match args.source_center.as_deref() {
        Some(&[x, y]) => (x, y),
        Some(_) => return Err(anyhow!("source-center: give two finite numbers X,Y in arcsec")),
        None => (0.0, 0.0),
    };
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
    let options = InvertOptions {
        source_size: args.source_grid,
        source_fov: args.source_fov,
        source_center,
        supersampling: args.supersampling,
        regularization: args.regularization,
        lambda,
        psf_floor: args.psf_floor,
    };
    let Inverted { source_grid: source, best, curve, record: json } =
        invert_observation(&obs, &lens, &options, &args.image.display().to_string()).map_err(|e| anyhow!(e))?;
    let (nx, ny) = (obs.image.nx, obs.image.ny);
    let (center_x, center_y) = source_center;
    let seconds = json["seconds"].as_f64().unwrap_or(f64::NAN);
    let lost_fraction = json["rays_outside_source_grid"].as_f64().unwrap_or(0.0);
    let (n_data, reduced_chi2) = (json["n_data"].as_u64().unwrap_or(0), best.reduced_chi2);

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
    write_bytes(&args.out.join("inversion.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    if lost_fraction > 0.01 {
        eprintln!(
            "astrorim: warning: {:.1} % of the traced rays fall outside the source grid; widen it with --source-fov",
            100.0 * lost_fraction
        );
    }
    eprintln!(
        "{}: λ = {:.3e}, ln ε = {:.2}, reduced χ² = {:.3} over {} pixels, {:.2} s",
        args.out.display(),
        best.lambda,
        best.log_evidence,
        reduced_chi2,
        n_data,
        seconds
    );
    Ok(())
}
