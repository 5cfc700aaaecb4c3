//! `astrorim compare REF.fits IMG.fits [--normalize none|max|minmax] [--json]`.

use anyhow::{anyhow, Result};
use astrorim_io::fits::read_image;
use astrorim_metrics::{mse, normalize, psnr, ssim_gaussian, ssim_uniform7, Normalize};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompareArgs {
    /// Reference image (FITS).
    reference: PathBuf,
    /// Image to score (FITS, same shape).
    image: PathBuf,
    /// Per-image scaling before the metrics (minmax: the AstroRIM paper's [0, 1] normalization).
    #[arg(long, value_enum, default_value_t = Scaling::Minmax)]
    normalize: Scaling,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Scaling {
    None,
    Max,
    Minmax,
}

#[derive(Serialize)]
struct Scores {
    mse: f64,
    ssim: f64,
    ssim_uniform7: f64,
    psnr: f64,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let a = read_image(&args.reference, None)?.image;
    let b = read_image(&args.image, None)?.image;
    if (a.nx, a.ny) != (b.nx, b.ny) {
        return Err(anyhow!("{}: shape {}×{} differs from the reference's {}×{}", args.image.display(), b.nx, b.ny, a.nx, a.ny));
    }
    if a.nx < 11 || a.ny < 11 {
        return Err(anyhow!("{}: images must be at least 11 pixels a side for SSIM", args.reference.display()));
    }
    let how = match args.normalize {
        Scaling::None => Normalize::None,
        Scaling::Max => Normalize::Max,
        Scaling::Minmax => Normalize::MinMax,
    };
    let (x, y) = (normalize(&a.data, how), normalize(&b.data, how));
    // Data range: 1 for normalized images, else the reference's range.
    let range = match how {
        Normalize::None => {
            let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
            (hi - lo).max(f64::MIN_POSITIVE)
        }
        _ => 1.0,
    };
    let s = Scores {
        mse: mse(&x, &y),
        ssim: ssim_gaussian(&x, &y, a.nx, a.ny, range),
        ssim_uniform7: ssim_uniform7(&x, &y, a.nx, a.ny, range),
        psnr: psnr(&x, &y, range),
    };
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "MSE {:.6e}  SSIM (Gaussian σ=1.5) {:.6}  SSIM (uniform 7×7) {:.6}  PSNR {:.3} dB",
            s.mse, s.ssim, s.ssim_uniform7, s.psnr
        );
    }
    Ok(())
}
