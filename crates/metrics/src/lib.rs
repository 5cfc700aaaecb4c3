//! Image-quality metrics exactly as scikit-image 0.26 computes them
//! (REFERENCE.md §4), on f64 row-major images.
//!
//! - `ssim_gaussian`: the AstroRIM paper's SSIM — Gaussian window σ = 1.5,
//!   radius int(3.5σ + 0.5) = 5, no sample-covariance factor, crop 5 px;
//! - `ssim_uniform7`: scikit-image's default — 7 × 7 mean filter,
//!   covariance factor 49/48, crop 3 px;
//!
//! both with "reflect" boundaries (d c b a | a b c d), C1 = (0.01 R)²,
//! C2 = (0.03 R)², R the data range.

/// How images are scaled before comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    None,
    /// Divide by the maximum.
    Max,
    /// Map [min, max] to [0, 1] (the paper's per-example normalization).
    MinMax,
}

pub fn normalize(data: &[f64], how: Normalize) -> Vec<f64> {
    let (lo, hi) = data.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    match how {
        Normalize::None => data.to_vec(),
        Normalize::Max if hi != 0.0 => data.iter().map(|v| v / hi).collect(),
        Normalize::MinMax if hi > lo => data.iter().map(|v| (v - lo) / (hi - lo)).collect(),
        _ => vec![0.0; data.len()],
    }
}

pub fn mse(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64
}

/// Peak signal-to-noise ratio in dB for data range `range`.
pub fn psnr(a: &[f64], b: &[f64], range: f64) -> f64 {
    10.0 * (range * range / mse(a, b)).log10()
}

/// Index into [0, n) with scipy.ndimage "reflect" boundaries.
fn reflect(mut i: isize, n: isize) -> usize {
    loop {
        if i < 0 {
            i = -i - 1;
        } else if i >= n {
            i = 2 * n - i - 1;
        } else {
            return i as usize;
        }
    }
}

/// Separable correlation with symmetric 1-D taps, reflect boundaries.
fn filter(data: &[f64], nx: usize, ny: usize, taps: &[f64]) -> Vec<f64> {
    let r = (taps.len() / 2) as isize;
    let mut tmp = vec![0.0; nx * ny];
    for i in 0..ny {
        for j in 0..nx {
            tmp[i * nx + j] =
                taps.iter().enumerate().map(|(t, w)| w * data[i * nx + reflect(j as isize + t as isize - r, nx as isize)]).sum();
        }
    }
    let mut out = vec![0.0; nx * ny];
    for i in 0..ny {
        for j in 0..nx {
            out[i * nx + j] =
                taps.iter().enumerate().map(|(t, w)| w * tmp[reflect(i as isize + t as isize - r, ny as isize) * nx + j]).sum();
        }
    }
    out
}

fn ssim_with(x: &[f64], y: &[f64], nx: usize, ny: usize, taps: &[f64], cov_norm: f64, range: f64) -> f64 {
    assert_eq!(x.len(), nx * ny);
    assert_eq!(y.len(), nx * ny);
    let pad = taps.len() / 2;
    assert!(nx > 2 * pad && ny > 2 * pad, "images must be larger than the SSIM window");
    let prod = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).collect::<Vec<f64>>();
    let (ux, uy) = (filter(x, nx, ny, taps), filter(y, nx, ny, taps));
    let (uxx, uyy, uxy) = (filter(&prod(x, x), nx, ny, taps), filter(&prod(y, y), nx, ny, taps), filter(&prod(x, y), nx, ny, taps));
    let (c1, c2) = ((0.01 * range).powi(2), (0.03 * range).powi(2));
    let mut sum = 0.0;
    let mut count = 0usize;
    for i in pad..ny - pad {
        for j in pad..nx - pad {
            let k = i * nx + j;
            let vx = cov_norm * (uxx[k] - ux[k] * ux[k]);
            let vy = cov_norm * (uyy[k] - uy[k] * uy[k]);
            let vxy = cov_norm * (uxy[k] - ux[k] * uy[k]);
            let s = (2.0 * ux[k] * uy[k] + c1) * (2.0 * vxy + c2) / ((ux[k] * ux[k] + uy[k] * uy[k] + c1) * (vx + vy + c2));
            sum += s;
            count += 1;
        }
    }
    sum / count as f64
}

/// The 1-D taps of the paper's SSIM window: a Gaussian of σ = 1.5 pixels,
/// radius int(3.5σ + 0.5) = 5 (11 taps), normalized to sum 1 (scikit-image's
/// `gaussian_weights=True`).
pub fn ssim_gaussian_taps() -> Vec<f64> {
    let sigma: f64 = 1.5;
    let r = (3.5 * sigma + 0.5) as isize;
    let w: Vec<f64> = (-r..=r).map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|v| v / s).collect()
}

/// SSIM with the Gaussian window of the AstroRIM paper.
pub fn ssim_gaussian(x: &[f64], y: &[f64], nx: usize, ny: usize, range: f64) -> f64 {
    ssim_with(x, y, nx, ny, &ssim_gaussian_taps(), 1.0, range)
}

/// SSIM with scikit-image's default 7 × 7 uniform window.
pub fn ssim_uniform7(x: &[f64], y: &[f64], nx: usize, ny: usize, range: f64) -> f64 {
    ssim_with(x, y, nx, ny, &[1.0 / 7.0; 7], 49.0 / 48.0, range)
}

/// The scores of `compare`: MSE, SSIM (both windows) and PSNR (dB).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    pub mse: f64,
    pub ssim: f64,
    pub ssim_uniform7: f64,
    pub psnr: f64,
}

/// Scores of image `b` against the reference `a` (both `nx × ny`, at least
/// 11 a side for SSIM), each scaled by `how` first; the data range R is 1
/// for scaled images, else the reference's range.
pub fn compare(a: &[f64], b: &[f64], nx: usize, ny: usize, how: Normalize) -> Scores {
    let (x, y) = (normalize(a, how), normalize(b, how));
    let range = match how {
        Normalize::None => {
            let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
            (hi - lo).max(f64::MIN_POSITIVE)
        }
        _ => 1.0,
    };
    Scores {
        mse: mse(&x, &y),
        ssim: ssim_gaussian(&x, &y, nx, ny, range),
        ssim_uniform7: ssim_uniform7(&x, &y, nx, ny, range),
        psnr: psnr(&x, &y, range),
    }
}

/// 2-D discrete Fourier transform of a real `nx × ny` row-major image (rows, then columns).
fn dft2(data: &[f64], nx: usize, ny: usize) -> Vec<rustfft::num_complex::Complex<f64>> {
    use rustfft::num_complex::Complex;
    let mut planner = rustfft::FftPlanner::<f64>::new();
    let mut out: Vec<Complex<f64>> = data.iter().map(|&v| Complex::new(v, 0.0)).collect();
    let row = planner.plan_fft_forward(nx);
    for chunk in out.chunks_mut(nx) {
        row.process(chunk);
    }
    let column = planner.plan_fft_forward(ny);
    let mut buffer = vec![Complex::new(0.0, 0.0); ny];
    for i in 0..nx {
        for j in 0..ny {
            buffer[j] = out[j * nx + i];
        }
        column.process(&mut buffer);
        for j in 0..ny {
            out[j * nx + i] = buffer[j];
        }
    }
    out
}

/// Centres of the `bins` equal annuli of (0, 0.5] cycles per pixel that
/// [`coherence_spectrum`] reports on.
pub fn coherence_bin_centres(bins: usize) -> Vec<f64> {
    (0..bins).map(|bin| (bin as f64 + 0.5) * 0.5 / bins as f64).collect()
}

/// Coherence spectrum of two `nx × ny` images (Morningstar et al. 2019,
/// Fig. 5): C(k) = P₁₂(k) / √(P₁₁(k) P₂₂(k)), with P₁₂ = Σ Re(F₁ F₂*) and
/// P₁₁, P₂₂ the power summed over the modes whose |k| falls in each of
/// `bins` equal annuli of (0, 0.5] cycles per pixel (0.5: the Nyquist
/// frequency along an axis; the DC mode and the corners beyond 0.5 are left
/// out). 1 where the images agree at that scale up to a factor, 0 where
/// they are unrelated, −1 where anticorrelated; NaN for an annulus with no
/// power in either image. Returns (bin centre, C) pairs.
pub fn coherence_spectrum(a: &[f64], b: &[f64], nx: usize, ny: usize, bins: usize) -> Vec<(f64, f64)> {
    let (fa, fb) = (dft2(a, nx, ny), dft2(b, nx, ny));
    let freq = |k: usize, n: usize| if 2 * k <= n { k as f64 / n as f64 } else { k as f64 / n as f64 - 1.0 };
    let mut sums = vec![(0.0, 0.0, 0.0); bins];
    for j in 0..ny {
        for i in 0..nx {
            let k = freq(i, nx).hypot(freq(j, ny));
            if k == 0.0 || k > 0.5 {
                continue;
            }
            let bin = (((k / 0.5) * bins as f64).ceil() as usize).clamp(1, bins) - 1;
            let (x, y) = (fa[j * nx + i], fb[j * nx + i]);
            let s = &mut sums[bin];
            s.0 += (x * y.conj()).re;
            s.1 += x.norm_sqr();
            s.2 += y.norm_sqr();
        }
    }
    coherence_bin_centres(bins)
        .into_iter()
        .zip(&sums)
        .map(|(k, &(cross, p1, p2))| (k, if p1 > 0.0 && p2 > 0.0 { cross / (p1 * p2).sqrt() } else { f64::NAN }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_score_one_and_reflect_matches_scipy() {
        let img: Vec<f64> = (0..400).map(|k| ((k * 7919) % 97) as f64 / 97.0).collect();
        assert!((ssim_gaussian(&img, &img, 20, 20, 1.0) - 1.0).abs() < 1e-12);
        assert!((ssim_uniform7(&img, &img, 20, 20, 1.0) - 1.0).abs() < 1e-12);
        assert_eq!((-3..7).map(|i| reflect(i, 4)).collect::<Vec<_>>(), vec![2, 1, 0, 0, 1, 2, 3, 3, 2, 1]);
        assert!((psnr(&[0.0, 1.0], &[0.1, 1.0], 1.0) - 10.0 * (1.0f64 / 0.005).log10()).abs() < 1e-12);
    }

    #[test]
    fn coherence_of_phase_shifted_waves_is_the_cosine_of_the_shift() {
        // a = cos(2π k₀ x), b = cos(2π k₀ x + φ) with k₀ = 6/48 cycles per pixel: C(k₀) = cos φ.
        let (n, k0, phi) = (48usize, 6.0 / 48.0, 0.9f64);
        let wave =
            |shift: f64| -> Vec<f64> { (0..n * n).map(|p| (2.0 * std::f64::consts::PI * k0 * (p % n) as f64 + shift).cos()).collect() };
        let spectrum = coherence_spectrum(&wave(0.0), &wave(phi), n, n, 8);
        let bin = (k0 / 0.5 * 8.0).ceil() as usize - 1;
        assert!((spectrum[bin].1 - phi.cos()).abs() < 1e-12, "C = {} vs cos φ = {}", spectrum[bin].1, phi.cos());
        // The bin centres span (0, 0.5).
        assert!((spectrum[0].0 - 0.5 / 16.0).abs() < 1e-15 && (spectrum[7].0 - 0.5 * 15.0 / 16.0).abs() < 1e-15);
    }

    #[test]
    fn coherence_is_one_for_a_scaled_copy_and_minus_one_for_a_negated_one() {
        let (nx, ny) = (20usize, 14usize);
        let a: Vec<f64> = (0..nx * ny).map(|p| ((p * 7919) % 97) as f64 / 97.0).collect();
        let scaled: Vec<f64> = a.iter().map(|v| 3.0 * v).collect();
        let negated: Vec<f64> = a.iter().map(|v| -v).collect();
        for (_, c) in coherence_spectrum(&a, &scaled, nx, ny, 5) {
            assert!((c - 1.0).abs() < 1e-12, "{c}");
        }
        for (_, c) in coherence_spectrum(&a, &negated, nx, ny, 5) {
            assert!((c + 1.0).abs() < 1e-12, "{c}");
        }
    }
}
