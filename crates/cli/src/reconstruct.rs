//! `astrorim reconstruct IMAGE.fits …`: an observed lens → its unlensed
//! source, a refined lens model in lenstronomy's keywords and physical
//! units, and a diagnostic panel (the pipeline is `astrorim_infer::pipeline`,
//! the products `astrorim_infer::report`).

use crate::posterior::{finished, resume_chain, run_posterior, PosteriorArgs, Solver};
use crate::render::add_white_noise;
use anyhow::{anyhow, Result};
use astrorim_infer::inversion::Regularization;
use astrorim_infer::observation::{Observation, ObservationFiles};
use astrorim_infer::pipeline::{reconstruct_lens, PipelineOptions};
use astrorim_infer::posterior::{check_sampled_family, Interval};
use astrorim_infer::prep::PrepOptions;
use astrorim_infer::refine::{LensFamily, RefineOptions};
use astrorim_infer::report::{write_products, ReportOptions};
use astrorim_io::atomic::write_bytes;
use astrorim_io::fits::{write_fits, HduOut, Keyword, Precision};
use astrorim_physics::cosmology::FlatLcdm;
use astrorim_physics::ellipticity::e1e2_to_q_phi;
use astrorim_physics::render::render;
use astrorim_physics::scene::parse_scene;
use astrorim_physics::Image;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct ReconstructArgs {
    /// Observed image (FITS, linear flux per pixel).
    #[arg(required_unless_present_any = ["list", "demo"])]
    image: Option<PathBuf>,
    /// Simulate the example lens (examples/sie_shear_sersic.json, white noise
    /// of σ = 0.005 from a fixed seed, its Moffat PSF, z = 0.5 → 2), write it
    /// to OUT/input.fits and OUT/input_psf.fits, reconstruct it, and write the
    /// truth beside the estimate (OUT/truth_vs_estimate.json).
    #[arg(long, conflicts_with_all = ["image", "list"])]
    demo: bool,
    /// Reconstruct every lens of a CSV table instead (header: image and
    /// optionally name, noise, noise_rms, psf, mask, pixel_scale, z_lens,
    /// z_source, center_x, center_y; paths relative to the table; an empty
    /// cell or absent column falls back to the flags): OUT/NAME/ per lens
    /// (NAME from the name column, else PARENT_STEM of the image path) and
    /// OUT/summary.csv, one row per lens with its status. A failing lens
    /// does not stop the rest; lenses with a result.json already are skipped
    /// (resume).
    #[arg(long, conflicts_with = "image")]
    list: Option<PathBuf>,
    /// With --list: only rows I, I+N, I+2N, … (0-based I; cluster job arrays, see docs/batch.md).
    #[arg(long, requires = "list")]
    shard: Option<String>,
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
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    center: Option<Vec<f64>>,
    /// Pixels to leave out (FITS, same shape; non-zero = excluded).
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Side of the fitted cutout in arcsec (default 5″, at most what the image holds).
    #[arg(long)]
    cutout: Option<f64>,
    /// Do not mask neighbouring objects automatically.
    #[arg(long)]
    no_auto_mask: bool,
    /// Source prior of the inversion: brightness, gradient or curvature.
    #[arg(long, default_value = "gradient")]
    regularization: Regularization,
    /// Source grid side (pixels) during the refinement and for the final source.
    #[arg(long, default_value_t = 28)]
    search_source_grid: usize,
    #[arg(long, default_value_t = 48)]
    source_grid: usize,
    /// Objective evaluations of the refinement in all (each re-solves the source).
    #[arg(long, default_value_t = 600)]
    max_evaluations: usize,
    /// The search runs on the image binned by this factor (1 = full
    /// resolution throughout), then a short simplex polishes the lens at full resolution.
    #[arg(long, default_value_t = 2)]
    search_binning: usize,
    /// The lens search's simplex stops when the standard deviation of
    /// −ln evidence over its vertices is below this (or on the budget).
    #[arg(long, default_value_t = 1e-3)]
    simplex_tolerance: f64,
    /// The lens model: `sie+shear` (an SIE with external shear,
    /// lenstronomy's ['SIE', 'SHEAR']) or `sie` (an SIE alone, the model of
    /// Bolton et al. 2008's SLACS fits; not with --uncertainty).
    #[arg(long, default_value = "sie+shear", value_parser = LensFamily::parse)]
    lens_model: LensFamily,
    #[command(flatten)]
    pub posterior: PosteriorArgs,
    /// Output directory.
    #[arg(long, default_value = "reconstruction")]
    out: PathBuf,
}

/// One lens's inputs (from the flags or a batch row).
#[derive(Debug, Clone, Default)]
struct Item {
    name: String,
    files: ObservationFiles,
    redshifts: Option<(f64, f64)>,
    center: Option<(f64, f64)>,
}

/// The headline numbers of one reconstruction (batch summary, console).
struct Outcome {
    theta_e: f64,
    q: f64,
    reduced_chi2_before: f64,
    reduced_chi2: f64,
    n_data: usize,
    evaluations: usize,
    seconds: f64,
    converged: bool,
    sigma_v: Option<f64>,
    /// The posterior's θ_E median and 68 % interval (with --uncertainty).
    theta_e_interval: Option<Interval>,
}

fn check_redshifts(z_lens: Option<f64>, z_source: Option<f64>) -> Result<Option<(f64, f64)>> {
    match (z_lens, z_source) {
        (Some(zl), Some(zs)) if zl > 0.0 && zs > zl && zs.is_finite() => Ok(Some((zl, zs))),
        (Some(zl), Some(zs)) => Err(anyhow!("z-source: must exceed z-lens > 0, got z-lens {zl}, z-source {zs}")),
        (None, None) => Ok(None),
        _ => Err(anyhow!("z-lens and z-source: give both or neither")),
    }
}

fn reconstruct_one(item: &Item, args: &ReconstructArgs, cosmology: FlatLcdm, out: &Path, show_progress: bool) -> Result<Outcome> {
    let start = Instant::now();
    let resumed = if args.posterior.uncertainty { Some(resume_chain(out, &args.posterior)?) } else { None };
    let obs = Observation::load(&item.files).map_err(|e| anyhow!(e))?;
    let options = PipelineOptions {
        prep: PrepOptions { center_pixel: item.center, cutout_arcsec: args.cutout },
        auto_mask: !args.no_auto_mask,
        refine: RefineOptions {
            source_size: args.search_source_grid,
            final_source_size: args.source_grid,
            regularization: args.regularization,
            max_evaluations: args.max_evaluations,
            search_binning: args.search_binning,
            simplex_tolerance: args.simplex_tolerance,
            family: args.lens_model,
            ..RefineOptions::default()
        },
        hint: None,
    };
    let image = &item.files.image;
    let result = reconstruct_lens(&obs, &options).map_err(|e| anyhow!("{}: {e}", image.display()))?;
    let report = ReportOptions {
        redshifts: item.redshifts,
        cosmology,
        name: item.name.clone(),
        seconds: start.elapsed().as_secs_f64(),
        start: astrorim_infer::pipeline::START_DESCRIPTION.into(),
    };
    write_products(out, &result, &report)?;
    let distances = report.distances();
    let posterior = match resumed {
        Some(chain) => Some(run_posterior(&result, &options.refine, &args.posterior, chain, distances.as_ref(), out, show_progress)?),
        None => None,
    };
    let s = &result.summary;
    let lens = result.fit.lens;
    Ok(Outcome {
        theta_e: lens.theta_E,
        q: e1e2_to_q_phi(lens.e1, lens.e2).0,
        reduced_chi2_before: s.reduced_chi2_before,
        reduced_chi2: s.reduced_chi2,
        n_data: s.n_data,
        evaluations: s.evaluations,
        seconds: start.elapsed().as_secs_f64(),
        converged: s.optimizer_converged,
        sigma_v: distances.map(|d| d.sigma_v_sis_kms(lens.theta_E)),
        theta_e_interval: posterior.and_then(|p| p.intervals.get("theta_e_arcsec").copied()),
    })
}

/// Runs one lens of a batch so that a defect of the code on this lens (a
/// panic) becomes its error row instead of stopping the batch.
fn contain_panic(work: impl FnOnce() -> Result<Outcome>) -> Result<Outcome> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let what = payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
        Err(anyhow!("internal error (please report it): {}", what.unwrap_or_else(|| "a panic".into())))
    })
}

/// The batch table's rows as items; errors name the table, row and column.
fn read_batch(path: &Path, args: &ReconstructArgs) -> Result<Vec<Result<Item, String>>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
    let header = reader.headers().map_err(|e| anyhow!("{}: no CSV header: {e}", path.display()))?.clone();
    const KNOWN: [&str; 11] =
        ["name", "image", "noise", "noise_rms", "psf", "mask", "pixel_scale", "z_lens", "z_source", "center_x", "center_y"];
    if let Some(unknown) = header.iter().find(|h| !KNOWN.contains(h)) {
        return Err(anyhow!("{}: unknown column '{unknown}' (known: {})", path.display(), KNOWN.join(", ")));
    }
    if !header.iter().any(|h| h == "image") {
        return Err(anyhow!("{}: the header has no 'image' column", path.display()));
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut items = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let row = line + 2;
        let item = (|| -> Result<Item, String> {
            let record = record.map_err(|e| format!("{}: row {row}: {e}", path.display()))?;
            let cell =
                |name: &str| header.iter().position(|h| h == name).and_then(|i| record.get(i)).map(str::trim).filter(|v| !v.is_empty());
            let number = |name: &str| -> Result<Option<f64>, String> {
                cell(name)
                    .map(|v| v.parse::<f64>().map_err(|_| format!("{}: row {row}, column {name}: '{v}' is not a number", path.display())))
                    .transpose()
            };
            let file = |name: &str| cell(name).map(|v| base.join(v));
            let image = file("image").ok_or_else(|| format!("{}: row {row}: empty image", path.display()))?;
            let name = match cell("name") {
                Some(name) => name.to_string(),
                None => folder_name(&image),
            };
            if name.contains(['/', '\\']) || name == "." || name == ".." {
                return Err(format!("{}: row {row}, column name: '{name}' cannot be a directory name", path.display()));
            }
            let redshifts =
                check_redshifts(number("z_lens")?, number("z_source")?).map_err(|e| format!("{}: row {row}: {e}", path.display()))?;
            let center = match (number("center_x")?, number("center_y")?) {
                (Some(x), Some(y)) => Some((x, y)),
                (None, None) => None,
                _ => return Err(format!("{}: row {row}: give both center_x and center_y or neither", path.display())),
            };
            Ok(Item {
                name,
                files: ObservationFiles {
                    image,
                    noise: file("noise").or_else(|| args.noise.clone()),
                    noise_rms: number("noise_rms")?.or(args.noise_rms),
                    psf: file("psf").or_else(|| args.psf.clone()),
                    mask: file("mask").or_else(|| args.mask.clone()),
                    pixel_scale: number("pixel_scale")?.or(args.pixel_scale),
                    estimate_noise: true,
                },
                redshifts: match redshifts {
                    Some(z) => Some(z),
                    None => check_redshifts(args.z_lens, args.z_source).map_err(|e| e.to_string())?,
                },
                center,
            })
        })();
        items.push(item);
    }
    Ok(items)
}

pub fn run(args: ReconstructArgs) -> Result<()> {
    let cosmology = FlatLcdm::new(args.h0, args.omega_m).map_err(|e| anyhow!("{e}"))?;
    if !(1..=4).contains(&args.search_binning) {
        return Err(anyhow!("search-binning: must be 1 to 4, got {}", args.search_binning));
    }
    if !(args.simplex_tolerance > 0.0 && args.simplex_tolerance.is_finite()) {
        return Err(anyhow!("simplex-tolerance: must be a positive number, got {}", args.simplex_tolerance));
    }
    if !(8..=256).contains(&args.source_grid) || !(8..=256).contains(&args.search_source_grid) {
        return Err(anyhow!("source-grid: must be in 8..=256 (also --search-source-grid)"));
    }
    if args.posterior.uncertainty {
        args.posterior.options()?;
        check_sampled_family(args.lens_model).map_err(|e| anyhow!("lens-model: with --uncertainty, {e}"))?;
    } else if args.posterior.solver != Solver::Inversion || args.posterior.model.is_some() {
        return Err(anyhow!("solver: only the posterior (--uncertainty, or astrorim sample) has a source solver to choose"));
    } else if args.posterior.fix_light || args.posterior.walkers.is_some() {
        return Err(anyhow!("fix-light, walkers: only the posterior (--uncertainty, or astrorim sample) samples"));
    }
    if let Some(table) = &args.list {
        return run_batch(table, &args, cosmology);
    }
    if args.demo {
        return run_demo(&args, cosmology);
    }
    let image = args.image.clone().expect("clap requires IMAGE without --list");
    let center = match args.center.as_deref() {
        None => None,
        Some(&[x, y]) if x.is_finite() && y.is_finite() => Some((x, y)),
        Some(_) => return Err(anyhow!("center: give two finite numbers X,Y (0-based column,row)")),
    };
    let item = Item {
        name: image.display().to_string(),
        files: ObservationFiles {
            image,
            noise: args.noise.clone(),
            noise_rms: args.noise_rms,
            psf: args.psf.clone(),
            mask: args.mask.clone(),
            pixel_scale: args.pixel_scale,
            estimate_noise: true,
        },
        redshifts: check_redshifts(args.z_lens, args.z_source)?,
        center,
    };
    let o = reconstruct_one(&item, &args, cosmology, &args.out, true)?;
    eprintln!(
        "{}: θ_E = {:.4}″{}, q = {:.3}, reduced χ² {:.3} → {:.3} ({} pixels), {} evaluations, {:.1} s",
        args.out.display(),
        o.theta_e,
        interval_text(o.theta_e_interval),
        o.q,
        o.reduced_chi2_before,
        o.reduced_chi2,
        o.n_data,
        o.evaluations,
        o.seconds
    );
    Ok(())
}

/// The demo's scene, noise and redshifts.
const DEMO_SCENE: &str = include_str!("../../../examples/sie_shear_sersic.json");
const DEMO_NOISE_RMS: f64 = 0.005;
const DEMO_SEED: u64 = 2019;
const DEMO_REDSHIFTS: (f64, f64) = (0.5, 2.0);

fn run_demo(args: &ReconstructArgs, cosmology: FlatLcdm) -> Result<()> {
    let spec = parse_scene(DEMO_SCENE).map_err(|e| anyhow!("demo scene: {e}"))?;
    let scene =
        spec.into_scene(|file| Err(anyhow!("the demo scene names no PSF file ({file})"))).map_err(|e| anyhow!("demo scene: {e:#}"))?;
    let mut image = render(&scene);
    add_white_noise(&mut image.data, DEMO_NOISE_RMS, DEMO_SEED);
    std::fs::create_dir_all(&args.out).map_err(|e| anyhow!("{}: cannot create: {e}", args.out.display()))?;
    let grid = scene.grid;
    let input = args.out.join("input.fits");
    let psf_path = args.out.join("input_psf.fits");
    let keys = |what: &str| {
        vec![Keyword::text("ORIGIN", "astrorim reconstruct --demo", "software that wrote this file"), Keyword::text("CONTENT", what, "")]
    };
    write_fits(
        &input,
        &[HduOut { name: None, image: &image, keywords: keys("simulated lens, white noise") }],
        Precision::F64,
        Some(grid.pixel_scale),
    )?;
    let psf = scene.psf.as_ref().expect("the demo scene has a PSF");
    let kernel = Image { nx: psf.size(), ny: psf.size(), data: psf.data().to_vec() };
    write_fits(
        &psf_path,
        &[HduOut { name: None, image: &kernel, keywords: keys("PSF kernel (unit sum)") }],
        Precision::F64,
        Some(grid.pixel_scale),
    )?;
    let item = Item {
        name: "demo: examples/sie_shear_sersic.json".into(),
        files: ObservationFiles {
            image: input,
            noise_rms: Some(DEMO_NOISE_RMS),
            psf: Some(psf_path),
            estimate_noise: false,
            ..ObservationFiles::default()
        },
        redshifts: Some(DEMO_REDSHIFTS),
        center: None,
    };
    let o = reconstruct_one(&item, args, cosmology, &args.out, true)?;
    // Truth and estimate in the input image's frame (the estimate is fitted on a cutout).
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(args.out.join("result.json"))?)?;
    let truth: serde_json::Value = serde_json::from_str(DEMO_SCENE)?;
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let (sie, shear) = (&truth["lens"][0], &truth["lens"][1]);
    let (q_true, phi_true) = e1e2_to_q_phi(number(&sie["e1"]), number(&sie["e2"]));
    let (gamma_true, phi_ext_true) =
        astrorim_physics::ellipticity::shear_cartesian_to_polar(number(&shear["gamma1"]), number(&shear["gamma2"]));
    let centre = |pixel: f64, n: usize| (pixel - (n as f64 - 1.0) / 2.0) * grid.pixel_scale;
    let c = &result["center_pixel_input"];
    let comparison = serde_json::json!({
        "frame": "the input image's: arcsec from its centre, x along columns",
        "truth": {"theta_e_arcsec": number(&sie["theta_E"]), "q": q_true, "phi_rad": phi_true, "center_x": number(&sie["center_x"]), "center_y": number(&sie["center_y"]), "gamma_ext": gamma_true, "phi_ext_rad": phi_ext_true},
        "estimate": {"theta_e_arcsec": o.theta_e, "q": o.q, "phi_rad": result["phi_rad"], "center_x": centre(number(&c[0]), grid.nx), "center_y": centre(number(&c[1]), grid.ny), "gamma_ext": result["gamma_ext"], "phi_ext_rad": result["phi_ext_rad"]},
        "theta_e_relative_error": o.theta_e / number(&sie["theta_E"]) - 1.0,
        "q_error": o.q - q_true,
    });
    write_bytes(&args.out.join("truth_vs_estimate.json"), serde_json::to_string_pretty(&comparison)?.as_bytes())?;
    eprintln!(
        "{}: demo lens θ_E = {:.4}″ (truth {:.4}″, {:+.2} %), q = {:.3} (truth {:.3}), reduced χ² {:.3}, {:.1} s; see panel.png",
        args.out.display(),
        o.theta_e,
        number(&sie["theta_E"]),
        100.0 * (o.theta_e / number(&sie["theta_E"]) - 1.0),
        o.q,
        q_true,
        o.reduced_chi2,
        o.seconds
    );
    Ok(())
}

/// The folder of a lens without a name: PARENT_STEM of its image path
/// (e.g. J0946+1006_image), so that images of one name in different folders
/// do not share a folder.
fn folder_name(image: &Path) -> String {
    let stem = image.file_stem().map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());
    match image.parent().and_then(|p| p.file_name()) {
        Some(parent) => format!("{}_{stem}", parent.to_string_lossy()),
        None => stem,
    }
}

/// `I/N` of --shard.
fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parsed = text.split_once('/').and_then(|(i, n)| Some((i.trim().parse::<usize>().ok()?, n.trim().parse::<usize>().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => Err(anyhow!("shard: expected I/N with 0 ≤ I < N, got '{text}'")),
    }
}

fn run_batch(table: &Path, args: &ReconstructArgs, cosmology: FlatLcdm) -> Result<()> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let mut items = read_batch(table, args)?;
    if let Some((i, n)) = shard {
        items = items.into_iter().enumerate().filter(|(k, _)| k % n == i).map(|(_, item)| item).collect();
    }
    let mut seen = std::collections::HashSet::new();
    for item in items.iter_mut() {
        if let Ok(it) = item {
            if !seen.insert(it.name.clone()) {
                *item = Err(format!("{}: lens folder '{}' appears twice: give the rows distinct names", table.display(), it.name));
            }
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|e| anyhow!("{}: cannot create: {e}", args.out.display()))?;
    let progress = ProgressBar::new(items.len() as u64);
    progress
        .set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} lenses, {elapsed} elapsed, ETA {eta}").expect("a valid template"));
    // Lenses in parallel; each one's starts also run in parallel (rayon nests).
    let rows: Vec<String> = items
        .par_iter()
        .map(|item| {
            let row = match item {
                Err(message) => format!("{},error,{}", "", csv_field(message)),
                Ok(item)
                    if args.out.join(&item.name).join("result.json").exists()
                        && (!args.posterior.uncertainty || finished(&args.out.join(&item.name), args.posterior.steps)) =>
                {
                    format!("{},skipped,already reconstructed (delete its folder to redo)", csv_field(&item.name))
                }
                Ok(item) => match contain_panic(|| reconstruct_one(item, args, cosmology, &args.out.join(&item.name), false)) {
                    Ok(o) => format!(
                        "{},ok,,{:.6},{:.4},{},{:.4},{:.4},{},{:.1}",
                        csv_field(&item.name),
                        o.theta_e,
                        o.q,
                        o.sigma_v.map_or(String::new(), |v| format!("{v:.1}")),
                        o.reduced_chi2_before,
                        o.reduced_chi2,
                        o.converged,
                        o.seconds
                    ),
                    Err(e) => format!("{},error,{}", csv_field(&item.name), csv_field(&format!("{e:#}"))),
                },
            };
            progress.inc(1);
            row
        })
        .collect();
    progress.finish_and_clear();
    let failed = rows.iter().filter(|r| r.contains(",error,")).count();
    let mut text = String::from("name,status,message,theta_e_arcsec,q,sigma_v_kms,reduced_chi2_before,reduced_chi2,converged,seconds\n");
    for row in &rows {
        text.push_str(row);
        text.push('\n');
    }
    let summary = match shard {
        Some((i, n)) => format!("summary-{i}-of-{n}.csv"),
        None => "summary.csv".into(),
    };
    write_bytes(&args.out.join(&summary), text.as_bytes())?;
    let skipped = rows.iter().filter(|r| r.contains(",skipped,")).count();
    eprintln!(
        "{}: {} lenses reconstructed, {skipped} skipped (done before), {failed} failed (see {summary})",
        args.out.display(),
        rows.len() - failed - skipped
    );
    Ok(())
}

/// " (posterior median, 68 % interval)" for the console, or nothing.
fn interval_text(interval: Option<Interval>) -> String {
    interval.map_or(String::new(), |i| format!(" (posterior {:.4} −{:.4} +{:.4})", i.median, i.median - i.p16, i.p84 - i.median))
}

/// A CSV cell: quoted when it holds a comma, quote or newline.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\"").replace('\n', " "))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_named_by_parent_and_stem_and_shards_parse() {
        assert_eq!(folder_name(Path::new("/data/slacs/J0946+1006/image.fits")), "J0946+1006_image");
        assert_eq!(folder_name(Path::new("lens.fits")), "lens");
        assert_eq!(parse_shard("2/5").unwrap(), (2, 5));
        assert!(parse_shard("5/5").is_err() && parse_shard("1/0").is_err() && parse_shard("a/b").is_err());
    }
}
