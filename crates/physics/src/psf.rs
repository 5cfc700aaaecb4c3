//! Point-spread functions as normalized, odd-sized pixel kernels.
//!
//! Kernel pixel (row a, column b) sits at offset ((b − c)·s, (a − c)·s) from
//! the centre, c = (size − 1)/2, s the kernel's pixel scale, i.e. the same
//! orientation as images. Analytic PSFs are integrated over each kernel pixel
//! by 5×5 sub-sampling, with the elliptical radius R = √(q x'² + y'²/q) so that
//! `fwhm` is the circularized FWHM.

use crate::ellipticity::{e1e2_to_q_phi, Frame};
use crate::{Image, PhysicsError};

/// Sub-samples per kernel pixel and axis when integrating an analytic PSF.
const KERNEL_SUBSAMPLING: usize = 5;
/// Largest kernel side accepted (pixels).
pub const MAX_KERNEL_SIZE: usize = 1025;
/// A Gaussian's σ for its FWHM: FWHM = σ √(8 ln 2).
fn gaussian_sigma(fwhm: f64) -> f64 {
    fwhm / (8.0 * 2f64.ln()).sqrt()
}

/// FWHM of the Airy pattern in units of λ/D.
const AIRY_FWHM_LAMBDA_OVER_D: f64 = 1.028_993_969_962_188;

/// A normalized (sum = 1), square, odd-sized convolution kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    size: usize,
    data: Vec<f64>,
}

/// Analytic PSF shapes; widths in arcsec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PsfShape {
    Gaussian { fwhm: f64, e1: f64, e2: f64 },
    Moffat { fwhm: f64, beta: f64, e1: f64, e2: f64 },
    Airy { fwhm: f64 },
}

impl PsfShape {
    /// Unnormalized profile at elliptical radius `r` (arcsec).
    fn profile(&self, r: f64) -> f64 {
        match *self {
            PsfShape::Gaussian { fwhm, .. } => {
                let sigma = gaussian_sigma(fwhm);
                (-0.5 * (r / sigma).powi(2)).exp()
            }
            PsfShape::Moffat { fwhm, beta, .. } => {
                let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
                (1.0 + (r / alpha).powi(2)).powf(-beta)
            }
            PsfShape::Airy { fwhm } => {
                let u = std::f64::consts::PI * AIRY_FWHM_LAMBDA_OVER_D * r / fwhm;
                if u < 1e-8 {
                    1.0
                } else {
                    (2.0 * libm::j1(u) / u).powi(2)
                }
            }
        }
    }

    /// Circularized FWHM in arcsec.
    pub fn fwhm(&self) -> f64 {
        match *self {
            PsfShape::Gaussian { fwhm, .. } | PsfShape::Moffat { fwhm, .. } | PsfShape::Airy { fwhm } => fwhm,
        }
    }

    fn ellipticity(&self) -> (f64, f64) {
        match *self {
            PsfShape::Gaussian { e1, e2, .. } | PsfShape::Moffat { e1, e2, .. } => (e1, e2),
            PsfShape::Airy { .. } => (0.0, 0.0),
        }
    }

    /// Kernel half-width in FWHMs: the Moffat and Airy wings need more room.
    fn extent_in_fwhm(&self) -> f64 {
        match *self {
            PsfShape::Gaussian { .. } => 2.0,
            PsfShape::Moffat { .. } | PsfShape::Airy { .. } => 4.0,
        }
    }

    /// Checks widths, β and ellipticity; errors name the `psf.*` field.
    pub fn validate(&self) -> Result<(), PhysicsError> {
        let fwhm = self.fwhm();
        if !(fwhm.is_finite() && fwhm > 0.0) {
            return Err(PhysicsError::invalid("psf.fwhm", format!("must be a positive number of arcsec, got {fwhm}")));
        }
        if let PsfShape::Moffat { beta, .. } = *self {
            if !(beta.is_finite() && beta > 1.0) {
                return Err(PhysicsError::invalid("psf.beta", format!("Moffat β must exceed 1, got {beta}")));
            }
        }
        let (e1, e2) = self.ellipticity();
        if !(e1.is_finite() && e2.is_finite()) || e1.hypot(e2) >= 1.0 {
            return Err(PhysicsError::invalid("psf.e1", "ellipticity must satisfy √(e1²+e2²) < 1"));
        }
        Ok(())
    }
}

impl Kernel {
    /// Normalizes a user-given kernel. It must be square, odd-sized, finite and
    /// have a positive sum.
    pub fn from_pixels(nx: usize, ny: usize, data: Vec<f64>) -> Result<Self, PhysicsError> {
        if nx != ny {
            return Err(PhysicsError::invalid("psf.kernel", format!("must be square, got {ny} rows × {nx} columns")));
        }
        if nx.is_multiple_of(2) {
            return Err(PhysicsError::invalid("psf.kernel", format!("side must be odd, got {nx}")));
        }
        if nx > MAX_KERNEL_SIZE {
            return Err(PhysicsError::invalid("psf.kernel", format!("side {nx} exceeds {MAX_KERNEL_SIZE}")));
        }
        if data.len() != nx * ny {
            return Err(PhysicsError::invalid("psf.kernel", "rows have unequal lengths"));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(PhysicsError::invalid("psf.kernel", "contains NaN or infinite values"));
        }
        if data.iter().sum::<f64>() <= 0.0 {
            return Err(PhysicsError::invalid("psf.kernel", "must have a positive sum"));
        }
        Ok(Kernel::normalized(nx, data))
    }

    /// Normalizes an image used as a kernel (e.g. one read from FITS).
    pub fn from_image(image: Image) -> Result<Self, PhysicsError> {
        Kernel::from_pixels(image.nx, image.ny, image.data)
    }

    /// Samples an analytic PSF on pixels of `pixel_scale` arcsec. The side is
    /// odd and covers ±2 FWHM (Gaussian) or ±4 FWHM (Moffat, Airy), at least 3.
    pub fn analytic(shape: PsfShape, pixel_scale: f64) -> Result<Self, PhysicsError> {
        shape.validate()?;
        let half = (shape.extent_in_fwhm() * shape.fwhm() / pixel_scale).ceil().max(1.0) as usize;
        let size = 2 * half + 1;
        if size > MAX_KERNEL_SIZE {
            return Err(PhysicsError::invalid(
                "psf.fwhm",
                format!("{} arcsec is too wide for pixels of {pixel_scale} arcsec", shape.fwhm()),
            ));
        }
        Ok(Kernel::sample(shape, pixel_scale, size))
    }

    /// Samples an analytic PSF on a `size × size` kernel (size odd).
    pub fn sample(shape: PsfShape, pixel_scale: f64, size: usize) -> Self {
        Kernel::sample_shifted(shape, pixel_scale, size, (0.0, 0.0), KERNEL_SUBSAMPLING)
    }

    /// Samples an analytic PSF whose centre is displaced by `offset` (arcsec),
    /// integrating each kernel pixel with `subsampling²` samples.
    pub fn sample_shifted(shape: PsfShape, pixel_scale: f64, size: usize, offset: (f64, f64), subsampling: usize) -> Self {
        let (e1, e2) = shape.ellipticity();
        if let Some([gx, gy]) = Kernel::separable_factors(shape, pixel_scale, size, offset, subsampling) {
            return Kernel::normalized(size, gy.iter().flat_map(|y| gx.iter().map(move |x| x * y)).collect());
        }
        let (q, phi) = e1e2_to_q_phi(e1, e2);
        let frame = Frame::new(offset.0, offset.1, phi);
        Kernel::from_fn(pixel_scale, size, subsampling, |x, y| {
            let (xp, yp) = frame.to_profile(x, y);
            shape.profile((q * xp * xp + yp * yp / q).sqrt())
        })
    }

    /// The kernel of [`Kernel::sample_shifted`] as the outer product
    /// `k[a][b] = gy[a]·gx[b]` of two axes, each summing to 1, when the PSF
    /// separates: a round Gaussian is exp(−x²/2σ²)·exp(−y²/2σ²), and so is its
    /// pixel integral. `None` for every other shape.
    pub fn separable_factors(
        shape: PsfShape,
        pixel_scale: f64,
        size: usize,
        offset: (f64, f64),
        subsampling: usize,
    ) -> Option<[Vec<f64>; 2]> {
        let PsfShape::Gaussian { fwhm, e1, e2 } = shape else { return None };
        if e1 != 0.0 || e2 != 0.0 {
            return None;
        }
        assert!(!size.is_multiple_of(2), "kernel size must be odd");
        let sigma = gaussian_sigma(fwhm);
        let axis = |shift: f64| -> Vec<f64> {
            let g: Vec<f64> = (0..size)
                .map(|a| pixel_samples(a, size, subsampling, pixel_scale).map(|t| (-0.5 * ((t - shift) / sigma).powi(2)).exp()).sum())
                .collect();
            let total: f64 = g.iter().sum();
            g.into_iter().map(|v| v / total).collect()
        };
        Some([axis(offset.0), axis(offset.1)])
    }

    /// Integrates `f(x, y)` (arcsec offsets from the kernel centre) over each
    /// pixel of a `size × size` kernel by `subsampling²` samples, then normalizes.
    pub fn from_fn(pixel_scale: f64, size: usize, subsampling: usize, f: impl Fn(f64, f64) -> f64) -> Self {
        assert!(!size.is_multiple_of(2), "kernel size must be odd");
        let mut data = Vec::with_capacity(size * size);
        for a in 0..size {
            for b in 0..size {
                let acc = pixel_samples(a, size, subsampling, pixel_scale)
                    .map(|y| pixel_samples(b, size, subsampling, pixel_scale).map(|x| f(x, y)).sum::<f64>())
                    .sum();
                data.push(acc);
            }
        }
        Kernel::normalized(size, data)
    }

    /// Sets values below 1e-12 of the peak to zero, then scales the kernel to
    /// unit sum. The dropped tails are far below any detector's dynamic range,
    /// and stored as f32 they would be denormal numbers, which slow every
    /// later convolution on a CPU tenfold.
    fn normalized(size: usize, mut data: Vec<f64>) -> Self {
        let floor = 1e-12 * data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        data.iter_mut().filter(|v| v.abs() < floor).for_each(|v| *v = 0.0);
        let sum: f64 = data.iter().sum();
        Kernel { size, data: data.into_iter().map(|v| v / sum).collect() }
    }

    /// Odd kernel side covering ±2 FWHM (Gaussian) or ±4 FWHM (Moffat, Airy)
    /// at `pixel_scale`, at least 3.
    pub fn default_size(shape: PsfShape, pixel_scale: f64) -> usize {
        2 * (shape.extent_in_fwhm() * shape.fwhm() / pixel_scale).ceil().max(1.0) as usize + 1
    }

    /// Side length in pixels (odd).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Row-major values, summing to 1.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
}

/// Offsets (arcsec from the kernel centre) of the `subsampling` sample
/// positions across pixel `index` of a `size`-pixel kernel axis: the
/// midpoints of equal sub-intervals.
fn pixel_samples(index: usize, size: usize, subsampling: usize, pixel_scale: f64) -> impl Iterator<Item = f64> {
    let c = (size as f64 - 1.0) / 2.0;
    let n = subsampling.max(1);
    (0..n).map(move |v| (index as f64 - c + (v as f64 + 0.5) / n as f64 - 0.5) * pixel_scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_factors_are_unit_axes_of_the_two_dimensional_kernel() {
        // A round Gaussian separates: each axis sums to 1 (the simulator
        // convolves with the axes directly) and their outer product is the
        // kernel integrated in two dimensions; other shapes do not.
        let (s, size, offset) = (0.05, 15, (0.013, -0.021));
        let round = PsfShape::Gaussian { fwhm: 0.12, e1: 0.0, e2: 0.0 };
        let [gx, gy] = Kernel::separable_factors(round, s, size, offset, 5).expect("a round Gaussian separates");
        assert!((gx.iter().sum::<f64>() - 1.0).abs() < 1e-12 && (gy.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let sigma = 0.12 / (8.0 * 2f64.ln()).sqrt();
        let direct = Kernel::from_fn(s, size, 5, |x, y| (-0.5 * ((x - offset.0).powi(2) + (y - offset.1).powi(2)) / (sigma * sigma)).exp());
        for a in 0..size {
            for b in 0..size {
                assert!((gy[a] * gx[b] - direct.data()[a * size + b]).abs() < 1e-12, "tap ({a}, {b})");
            }
        }
        assert!(Kernel::separable_factors(PsfShape::Gaussian { fwhm: 0.12, e1: 0.1, e2: 0.0 }, s, size, offset, 5).is_none());
        assert!(Kernel::separable_factors(PsfShape::Airy { fwhm: 0.12 }, s, size, offset, 5).is_none());
    }

    /// Measured FWHM (arcsec) along the x axis through the centre, by linear
    /// interpolation of the half-maximum crossing of the central row.
    fn fwhm_along_x(k: &Kernel, s: f64) -> f64 {
        let c = k.size() / 2;
        let row = &k.data()[c * k.size()..(c + 1) * k.size()];
        let half = row[c] / 2.0;
        let j = (c..k.size()).find(|&j| row[j] < half).unwrap();
        let frac = (row[j - 1] - half) / (row[j - 1] - row[j]);
        2.0 * ((j - 1 - c) as f64 + frac) * s
    }

    #[test]
    fn kernels_have_the_asked_fwhm_and_gaussian_variance() {
        let s = 0.01;
        for shape in [
            PsfShape::Gaussian { fwhm: 0.3, e1: 0.0, e2: 0.0 },
            PsfShape::Moffat { fwhm: 0.3, beta: 3.0, e1: 0.0, e2: 0.0 },
            PsfShape::Airy { fwhm: 0.3 },
            PsfShape::Moffat { fwhm: 0.2, beta: 2.5, e1: 0.1, e2: -0.05 },
        ] {
            let k = Kernel::analytic(shape, s).unwrap();
            assert_eq!(k.size() % 2, 1);
            if shape.ellipticity() == (0.0, 0.0) {
                let got = fwhm_along_x(&k, s);
                assert!((got - shape.fwhm()).abs() < 0.02 * shape.fwhm(), "{shape:?}: FWHM {got}");
            }
        }
        // A pixel-integrated Gaussian's variance along x is σ² + s²/12 (the
        // box of one pixel adds its own); ±2 FWHM truncation removes ~1e-7 of it.
        let (sigma, s) = (0.05, 0.02);
        let k = Kernel::sample(PsfShape::Gaussian { fwhm: sigma * (8.0 * 2f64.ln()).sqrt(), e1: 0.0, e2: 0.0 }, s, 41);
        let c = 20.0;
        let variance: f64 = k.data().iter().enumerate().map(|(t, v)| v * (((t % 41) as f64 - c) * s).powi(2)).sum();
        let expected = sigma * sigma + s * s / 12.0;
        assert!((variance / expected - 1.0).abs() < 2e-3, "variance {variance} vs {expected}");
    }

    #[test]
    fn elliptical_kernel_is_elongated_along_its_position_angle() {
        // e1 > 0: major axis along x.
        let k = Kernel::sample(PsfShape::Gaussian { fwhm: 0.2, e1: 0.3, e2: 0.0 }, 0.02, 41);
        let c = 20;
        assert!(k.data()[c * 41 + c + 5] > k.data()[(c + 5) * 41 + c]);
    }

    #[test]
    fn round_gaussians_take_the_separable_path_exactly() {
        let shape = PsfShape::Gaussian { fwhm: 0.09, e1: 0.0, e2: 0.0 };
        let fast = Kernel::sample_shifted(shape, 0.04, 21, (0.013, -0.021), 5);
        let frame = Frame::new(0.013, -0.021, 0.0);
        let general = Kernel::from_fn(0.04, 21, 5, |x, y| {
            let (xp, yp) = frame.to_profile(x, y);
            shape.profile(xp.hypot(yp))
        });
        let err = fast.data().iter().zip(general.data()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-15, "{err}");
    }

    #[test]
    fn rejects_bad_kernels() {
        assert!(Kernel::from_pixels(2, 2, vec![1.0; 4]).is_err());
        assert!(Kernel::from_pixels(3, 1, vec![1.0; 3]).is_err());
        assert!(Kernel::from_pixels(3, 3, vec![0.0; 9]).is_err());
        assert!(Kernel::from_pixels(1, 1, vec![f64::NAN]).is_err());
        assert!(Kernel::analytic(PsfShape::Gaussian { fwhm: -1.0, e1: 0.0, e2: 0.0 }, 0.05).is_err());
        assert!(Kernel::analytic(PsfShape::Moffat { fwhm: 0.1, beta: 0.5, e1: 0.0, e2: 0.0 }, 0.05).is_err());
    }
}
