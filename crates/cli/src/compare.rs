//! `astrorim compare REF.fits IMG.fits [--normalize none|max|minmax] [--json]`.

use anyhow::{anyhow, Result};
use astrorim_io::fits::read_image;
use astrorim_metrics::{compare, Normalize};
use clap::{Args, ValueEnum};
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
    let s = compare(&a.data, &b.data, a.nx, a.ny, how);
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
