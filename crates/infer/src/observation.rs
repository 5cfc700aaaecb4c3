//! An observed image with everything a fit needs, loaded from FITS files and
//! checked: the pixel scale (from the header's CD matrix, CDELT or PIXSCALE,
//! or given), a per-pixel 1σ noise map (a map or a constant RMS), an
//! optional PSF and an optional mask. Masked or unusable pixels (no finite
//! datum; a noise value that is zero, not finite or over 1e4 × the median)
//! carry σ = ∞ (weight zero), never NaN.

use crate::background::{estimate_sky, noise_map};
use crate::inversion::has_weight;
use astrorim_io::fits::{read_image, read_keyword};
use astrorim_physics::psf::Kernel;
use astrorim_physics::Image;
use std::path::{Path, PathBuf};

/// A noise value this many times the map's median marks a bad pixel.
const HUGE_NOISE_FACTOR: f64 = 1e4;

/// σ with every unusable pixel set to ∞: no finite datum, or a noise value
/// that is zero, negative, not finite or over [`HUGE_NOISE_FACTOR`] × the
/// median. Noise maps flag bad pixels so (SLACS: 1e8); such a value is a
/// flag, not a measurement, and as ∞ it neither weighs nor counts as a datum
/// (kept, it would lower the reduced χ²).
fn usable_sigma(sigma: Vec<f64>, data: &[f64]) -> Vec<f64> {
    let mut finite: Vec<f64> = sigma.iter().copied().filter(|s| s.is_finite() && *s > 0.0).collect();
    finite.sort_by(f64::total_cmp);
    let flag = finite.get(finite.len() / 2).map_or(f64::INFINITY, |median| HUGE_NOISE_FACTOR * median);
    sigma.into_iter().zip(data).map(|(s, d)| if has_weight(s, *d) && s < flag { s } else { f64::INFINITY }).collect()
}

/// Where the inputs come from.
#[derive(Debug, Clone, Default)]
pub struct ObservationFiles {
    pub image: PathBuf,
    /// Noise map (1σ per pixel, same shape as the image).
    pub noise: Option<PathBuf>,
    /// Or a constant 1σ.
    pub noise_rms: Option<f64>,
    pub psf: Option<PathBuf>,
    /// Mask: non-zero pixels are excluded from the fit.
    pub mask: Option<PathBuf>,
    /// Pixel scale in arcsec, overriding the header.
    pub pixel_scale: Option<f64>,
    /// Without a noise map or RMS, estimate the noise from the image
    /// ([`crate::background`]) instead of refusing.
    pub estimate_noise: bool,
}

/// A loaded, validated observation.
#[derive(Debug, Clone)]
pub struct Observation {
    pub image: Image,
    /// 1σ per pixel; ∞ where the pixel is masked or unusable.
    pub sigma: Vec<f64>,
    pub psf: Option<Kernel>,
    pub pixel_scale: f64,
    /// "header" or "given".
    pub pixel_scale_origin: &'static str,
    /// Where σ came from, in words (recorded in the outputs).
    pub noise_origin: String,
    /// Pixels with weight zero, and why: mask, non-finite datum, noise ≤ 0 or non-finite.
    pub masked_by_mask: usize,
    pub unusable: usize,
}

fn error(path: &Path, message: impl std::fmt::Display) -> String {
    format!("{}: {message}", path.display())
}

impl Observation {
    /// Loads and checks the inputs; errors are one line naming the file or flag.
    pub fn load(files: &ObservationFiles) -> Result<Observation, String> {
        let read = |path: &Path| read_image(path, None).map_err(|e| e.to_string());
        let fits = read(&files.image)?;
        let image = fits.image;
        let (nx, ny) = (image.nx, image.ny);
        if nx < 8 || ny < 8 {
            return Err(error(&files.image, format!("image of {nx}×{ny} pixels is too small (at least 8×8)")));
        }
        let finite: Vec<f64> = image.data.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return Err(error(&files.image, "has no finite pixel"));
        }
        if finite.iter().all(|&v| v == finite[0]) {
            return Err(error(&files.image, "is constant: there is nothing to fit"));
        }
        let (pixel_scale, pixel_scale_origin) = match (files.pixel_scale, fits.pixel_scale_arcsec) {
            (Some(s), _) if s.is_finite() && s > 0.0 => (s, "given"),
            (Some(s), _) => return Err(format!("pixel-scale: must be a positive number of arcsec, got {s}")),
            (None, Some(s)) => (s, "header"),
            (None, None) => {
                return Err(error(&files.image, "the header gives no pixel scale (CD1_1, CDELT1 or PIXSCALE): pass --pixel-scale ARCSEC"))
            }
        };
        let (sigma, noise_origin): (Vec<f64>, String) = match (&files.noise, files.noise_rms) {
            (Some(_), Some(_)) => return Err("noise: give --noise or --noise-rms, not both".into()),
            (Some(path), None) => {
                let noise = read(path)?.image;
                if (noise.nx, noise.ny) != (nx, ny) {
                    return Err(error(path, format!("noise map is {}×{}, the image {nx}×{ny}", noise.nx, noise.ny)));
                }
                if let Some(k) = noise.data.iter().position(|&v| v < 0.0) {
                    return Err(error(
                        path,
                        format!("negative noise value {} at pixel (row {}, column {})", noise.data[k], k / nx, k % nx),
                    ));
                }
                (noise.data, format!("noise map {}", path.display()))
            }
            (None, Some(rms)) if rms.is_finite() && rms > 0.0 => (vec![rms; nx * ny], format!("constant 1σ = {rms} (given)")),
            (None, Some(rms)) => return Err(format!("noise-rms: must be a positive number, got {rms}")),
            (None, None) if files.estimate_noise => estimated_noise(&files.image, &image)?,
            (None, None) => return Err("noise: give a noise map with --noise NOISE.fits or a constant 1σ with --noise-rms X".into()),
        };
        let mut sigma = usable_sigma(sigma, &image.data);
        let unusable = sigma.iter().filter(|s| s.is_infinite()).count();
        let mut masked_by_mask = 0;
        if let Some(path) = &files.mask {
            let mask = read(path)?.image;
            if (mask.nx, mask.ny) != (nx, ny) {
                return Err(error(path, format!("mask is {}×{}, the image {nx}×{ny}", mask.nx, mask.ny)));
            }
            for (s, &m) in sigma.iter_mut().zip(&mask.data) {
                if m != 0.0 && s.is_finite() {
                    *s = f64::INFINITY;
                    masked_by_mask += 1;
                }
            }
        }
        if sigma.iter().all(|s| s.is_infinite()) {
            return Err(error(&files.image, "no pixel is left to fit (all masked, non-finite or with zero noise)"));
        }
        let psf = match &files.psf {
            None => None,
            Some(path) => {
                let kernel = read(path)?.image;
                if kernel.nx != kernel.ny || kernel.nx % 2 == 0 {
                    return Err(error(path, format!("PSF must be square with an odd side, got {}×{}", kernel.nx, kernel.ny)));
                }
                if !(kernel.data.iter().all(|v| v.is_finite()) && kernel.data.iter().sum::<f64>() > 0.0) {
                    return Err(error(path, "PSF must be finite and sum to a positive value"));
                }
                Some(Kernel::from_image(kernel).map_err(|e| error(path, e))?)
            }
        };
        Ok(Observation { image, sigma, psf, pixel_scale, pixel_scale_origin, noise_origin, masked_by_mask, unusable })
    }
}

/// σ per pixel estimated from the image: the sky RMS of the border (outside
/// the central disc of half the shorter side) plus, when the header gives
/// EXPTIME, the Poisson term of the source for an image in counts per second
/// with GAIN (or CCDGAIN; 1 when absent: counts are electrons) electrons per
/// count. The description says which.
fn estimated_noise(path: &Path, image: &Image) -> Result<(Vec<f64>, String), String> {
    let sky = estimate_sky(&image.data, image.nx, image.ny, 0.5)
        .ok_or_else(|| error(path, "too few finite border pixels to estimate the sky noise: pass --noise or --noise-rms"))?;
    let keyword = |name: &str| read_keyword(path, None, name).ok().flatten().filter(|v| v.is_finite() && *v > 0.0);
    let exposure = keyword("EXPTIME");
    let gain = keyword("GAIN").or_else(|| keyword("CCDGAIN"));
    let electrons_per_unit = exposure.map(|t| t * gain.unwrap_or(1.0));
    let origin = match (exposure, gain) {
        (Some(t), g) => format!(
            "estimated: sky RMS {:.4e} from {} border pixels (3σ-clipped MAD) plus source Poisson noise for counts/s with EXPTIME {t} s and gain {} e⁻/count{}",
            sky.rms,
            sky.pixels,
            g.unwrap_or(1.0),
            if g.is_none() { " (no GAIN in the header: 1 assumed)" } else { "" }
        ),
        (None, _) => format!(
            "estimated: sky RMS {:.4e} from {} border pixels (3σ-clipped MAD) only; the header has no EXPTIME, so the source's Poisson noise is left out",
            sky.rms, sky.pixels
        ),
    };
    if !(sky.rms > 0.0) {
        return Err(error(path, "the border pixels have zero scatter: the noise cannot be estimated; pass --noise or --noise-rms"));
    }
    Ok((noise_map(&image.data, &sky, electrons_per_unit), origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flagged_noise_values_become_infinite() {
        let sigma = vec![0.02, 0.03, 1e8, 0.0, -1.0, f64::NAN, 0.025, 0.02 * 9e3, 0.02];
        let data = vec![1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let got = usable_sigma(sigma, &data);
        let inf = f64::INFINITY;
        // The (upper) median of the positive finite σ is 0.03, the flag 300: 1e8 is a flag, 180 a measurement.
        assert_eq!(got, vec![0.02, inf, inf, inf, inf, inf, 0.025, 180.0, 0.02]);
    }
}
