//! `astrorim render SCENE.json -o OUT.fits [--maps]`.

use anyhow::{anyhow, Context, Result};
use astrorim_io::fits::{read_image, write_fits, HduOut, Keyword, Precision};
use astrorim_physics::psf::Kernel;
use astrorim_physics::render::{lens_maps, render};
use astrorim_physics::scene::parse_scene;
use astrorim_physics::Image;
use clap::{Args, ValueEnum};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::path::PathBuf;

#[derive(Args)]
pub struct RenderArgs {
    /// Scene description (JSON; lenstronomy profile keywords).
    scene: PathBuf,
    /// Output FITS file; the primary HDU holds the image (flux per pixel).
    #[arg(short, long)]
    output: PathBuf,
    /// Also write ALPHA_X, ALPHA_Y (arcsec) and KAPPA at pixel centres as extensions.
    #[arg(long)]
    maps: bool,
    /// Add white Gaussian noise of this 1σ (flux per pixel) to the image, drawn from --seed.
    #[arg(long)]
    noise_rms: Option<f64>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the scene's PSF kernel (pixel scale of the image) to this FITS file.
    #[arg(long)]
    psf_out: Option<PathBuf>,
    /// Sample type of the written HDUs.
    #[arg(long, value_enum, default_value_t = SampleType::F64)]
    precision: SampleType,
}

#[derive(Clone, Copy, ValueEnum)]
enum SampleType {
    F32,
    F64,
}

/// Adds N(0, rms²) to every value, drawn in order from ChaCha8 seeded with `seed`.
pub(crate) fn add_white_noise(data: &mut [f64], rms: f64, seed: u64) {
    let normal = Normal::new(0.0, rms).expect("σ is positive and finite");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for v in data {
        *v += normal.sample(&mut rng);
    }
}

pub fn run(args: RenderArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.scene).with_context(|| format!("{}: cannot read", args.scene.display()))?;
    let spec = parse_scene(&text).map_err(|e| anyhow!("{}: {e}", args.scene.display()))?;
    let scene_dir = args.scene.parent().map(PathBuf::from).unwrap_or_default();
    let scene = spec
        .into_scene(|file| -> Result<Kernel> {
            let path = scene_dir.join(file);
            let image = read_image(&path, None)?.image;
            Kernel::from_image(image).map_err(|e| anyhow!("{}: {e}", path.display()))
        })
        .map_err(|e| anyhow!("{}: {e:#}", args.scene.display()))?;
    let mut image = render(&scene);
    let grid = scene.grid;
    if let Some(rms) = args.noise_rms {
        if !(rms.is_finite() && rms > 0.0) {
            return Err(anyhow!("noise-rms: must be a positive number, got {rms}"));
        }
        add_white_noise(&mut image.data, rms, args.seed);
    }
    let mut keywords = vec![
        Keyword::text("ORIGIN", "astrorim", "software that wrote this file"),
        Keyword::text("BUNIT", "flux/pixel", "surface brightness x pixel area"),
        Keyword::int("SUPERSMP", grid.supersampling as i64, "supersampling factor per axis"),
    ];
    if let Some(psf) = &scene.psf {
        keywords.push(Keyword::int("PSFSIZE", psf.size() as i64, "PSF kernel side [pixels]"));
    }
    if let Some(rms) = args.noise_rms {
        keywords.push(Keyword::float("NOISERMS", rms, "white Gaussian noise added [flux/pixel]"));
        keywords.push(Keyword::int("NOISESD", args.seed as i64, "seed of the noise"));
    }
    let maps = if args.maps { Some(lens_maps(&grid, &scene.lens)) } else { None };
    let mut hdus = vec![HduOut { name: None, image: &image, keywords }];
    if let Some([ax, ay, kappa]) = &maps {
        hdus.push(HduOut { name: Some("ALPHA_X"), image: ax, keywords: vec![Keyword::text("BUNIT", "arcsec", "deflection along x")] });
        hdus.push(HduOut { name: Some("ALPHA_Y"), image: ay, keywords: vec![Keyword::text("BUNIT", "arcsec", "deflection along y")] });
        hdus.push(HduOut { name: Some("KAPPA"), image: kappa, keywords: vec![Keyword::text("BUNIT", "", "convergence")] });
    }
    let precision = match args.precision {
        SampleType::F32 => Precision::F32,
        SampleType::F64 => Precision::F64,
    };
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(anyhow!("{}: output directory does not exist", args.output.display()));
        }
    }
    write_fits(&args.output, &hdus, precision, Some(grid.pixel_scale))?;
    if let Some(path) = &args.psf_out {
        let psf = scene.psf.as_ref().ok_or_else(|| anyhow!("psf-out: the scene has no PSF"))?;
        let kernel = Image { nx: psf.size(), ny: psf.size(), data: psf.data().to_vec() };
        let keywords = vec![
            Keyword::text("ORIGIN", "astrorim", "software that wrote this file"),
            Keyword::text("CONTENT", "PSF kernel (unit sum)", ""),
        ];
        write_fits(path, &[HduOut { name: None, image: &kernel, keywords }], precision, Some(grid.pixel_scale))?;
    }
    Ok(())
}
