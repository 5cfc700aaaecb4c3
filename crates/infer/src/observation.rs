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

/// How σ is given for in-memory data.
#[derive(Debug, Clone)]
pub enum NoiseInput {
    /// A noise map (1σ per pixel, same shape as the image) and the name
    /// that error messages and the record use for it.
    Map { name: String, map: Image },
    /// A constant 1σ.
    Rms(f64),
    /// Estimate σ from the image: the sky RMS of the border plus, when an
    /// exposure time (seconds, for an image in counts per second) is known,
    /// the source's Poisson term with `gain` electrons per count (1 when None).
    Estimate { exposure_s: Option<f64>, gain: Option<f64> },
    /// Nothing given and no estimate wanted: refused.
    Missing,
}

/// An observation held in memory (from FITS files, or from numpy arrays in
/// the Python package), before the checks of [`Observation::new`].
#[derive(Debug, Clone)]
pub struct ObservationInput {
    /// Name of the image in error messages (its path, or "image").
    pub name: String,
    pub image: Image,
    pub noise: NoiseInput,
    /// PSF kernel (odd square, normalized here) and its name.
    pub psf: Option<(String, Image)>,
    /// Mask (non-zero pixels excluded) and its name.
    pub mask: Option<(String, Image)>,
    /// Pixel scale in arcsec given by the user (wins over the header's).
    pub pixel_scale: Option<f64>,
    /// Pixel scale in arcsec from the FITS header, if any.
    pub header_pixel_scale: Option<f64>,
}

impl Observation {
    /// Loads and checks the inputs; errors are one line naming the file or flag.
    pub fn load(files: &ObservationFiles) -> Result<Observation, String> {
        let read = |path: &Path| read_image(path, None).map_err(|e| e.to_string());
        let fits = read(&files.image)?;
        let noise = match (&files.noise, files.noise_rms) {
            (Some(_), Some(_)) => return Err("noise: give --noise or --noise-rms, not both".into()),
            (Some(path), None) => NoiseInput::Map { name: path.display().to_string(), map: read(path)?.image },
            (None, Some(rms)) => NoiseInput::Rms(rms),
            (None, None) if files.estimate_noise => {
                let keyword = |name: &str| read_keyword(&files.image, None, name).ok().flatten().filter(|v| v.is_finite() && *v > 0.0);
                NoiseInput::Estimate { exposure_s: keyword("EXPTIME"), gain: keyword("GAIN").or_else(|| keyword("CCDGAIN")) }
            }
            (None, None) => NoiseInput::Missing,
        };
        let named = |path: &Option<PathBuf>| -> Result<Option<(String, Image)>, String> {
            path.as_ref().map(|p| Ok((p.display().to_string(), read(p)?.image))).transpose()
        };
        Observation::new(ObservationInput {
            name: files.image.display().to_string(),
            image: fits.image,
            noise,
            psf: named(&files.psf)?,
            mask: named(&files.mask)?,
            pixel_scale: files.pixel_scale,
            header_pixel_scale: fits.pixel_scale_arcsec,
        })
    }

    /// Checks an observation held in memory; errors are one line naming the input.
    pub fn new(input: ObservationInput) -> Result<Observation, String> {
        let ObservationInput { name, image, noise, psf, mask, pixel_scale, header_pixel_scale } = input;
        let error = |what: &str, message: String| format!("{what}: {message}");
        let (nx, ny) = (image.nx, image.ny);
        if nx < 8 || ny < 8 {
            return Err(error(&name, format!("image of {nx}×{ny} pixels is too small (at least 8×8)")));
        }
        let finite: Vec<f64> = image.data.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return Err(error(&name, "has no finite pixel".into()));
        }
        if finite.iter().all(|&v| v == finite[0]) {
            return Err(error(&name, "is constant: there is nothing to fit".into()));
        }
        let (pixel_scale, pixel_scale_origin) = match (pixel_scale, header_pixel_scale) {
            (Some(s), _) if s.is_finite() && s > 0.0 => (s, "given"),
            (Some(s), _) => return Err(format!("pixel-scale: must be a positive number of arcsec, got {s}")),
            (None, Some(s)) => (s, "header"),
            (None, None) => {
                return Err(error(&name, "the header gives no pixel scale (CD1_1, CDELT1 or PIXSCALE): pass --pixel-scale ARCSEC".into()))
            }
        };
        let (sigma, noise_origin): (Vec<f64>, String) = match noise {
            NoiseInput::Map { name: noise_name, map } => {
                if (map.nx, map.ny) != (nx, ny) {
                    return Err(error(&noise_name, format!("noise map is {}×{}, the image {nx}×{ny}", map.nx, map.ny)));
                }
                if let Some(k) = map.data.iter().position(|&v| v < 0.0) {
                    return Err(error(
                        &noise_name,
                        format!("negative noise value {} at pixel (row {}, column {})", map.data[k], k / nx, k % nx),
                    ));
                }
                (map.data, format!("noise map {noise_name}"))
            }
            NoiseInput::Rms(rms) if rms.is_finite() && rms > 0.0 => (vec![rms; nx * ny], format!("constant 1σ = {rms} (given)")),
            NoiseInput::Rms(rms) => return Err(format!("noise-rms: must be a positive number, got {rms}")),
            NoiseInput::Estimate { exposure_s, gain } => estimated_noise(&name, &image, exposure_s, gain)?,
            NoiseInput::Missing => return Err("noise: give a noise map with --noise NOISE.fits or a constant 1σ with --noise-rms X".into()),
        };
        let mut sigma = usable_sigma(sigma, &image.data);
        let unusable = sigma.iter().filter(|s| s.is_infinite()).count();
        let mut masked_by_mask = 0;
        if let Some((mask_name, mask)) = &mask {
            if (mask.nx, mask.ny) != (nx, ny) {
                return Err(error(mask_name, format!("mask is {}×{}, the image {nx}×{ny}", mask.nx, mask.ny)));
            }
            for (s, &m) in sigma.iter_mut().zip(&mask.data) {
                if m != 0.0 && s.is_finite() {
                    *s = f64::INFINITY;
                    masked_by_mask += 1;
                }
            }
        }
        if sigma.iter().all(|s| s.is_infinite()) {
            return Err(error(&name, "no pixel is left to fit (all masked, non-finite or with zero noise)".into()));
        }
        let psf = match psf {
            None => None,
            Some((psf_name, kernel)) => {
                if kernel.nx != kernel.ny || kernel.nx % 2 == 0 {
                    return Err(error(&psf_name, format!("PSF must be square with an odd side, got {}×{}", kernel.nx, kernel.ny)));
                }
                if !(kernel.data.iter().all(|v| v.is_finite()) && kernel.data.iter().sum::<f64>() > 0.0) {
                    return Err(error(&psf_name, "PSF must be finite and sum to a positive value".into()));
                }
                Some(Kernel::from_image(kernel).map_err(|e| error(&psf_name, e.to_string()))?)
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
fn estimated_noise(name: &str, image: &Image, exposure: Option<f64>, gain: Option<f64>) -> Result<(Vec<f64>, String), String> {
    let sky = estimate_sky(&image.data, image.nx, image.ny, 0.5)
        .ok_or_else(|| format!("{name}: too few finite border pixels to estimate the sky noise: pass --noise or --noise-rms"))?;
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
        return Err(format!("{name}: the border pixels have zero scatter: the noise cannot be estimated; pass --noise or --noise-rms"));
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
