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
                let sigma = fwhm / (8.0 * 2f64.ln()).sqrt();
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
        let (q, phi) = e1e2_to_q_phi(e1, e2);
        let frame = Frame::new(offset.0, offset.1, phi);
        Kernel::from_fn(pixel_scale, size, subsampling, |x, y| {
            let (xp, yp) = frame.to_profile(x, y);
            shape.profile((q * xp * xp + yp * yp / q).sqrt())
        })
    }

    /// Integrates `f(x, y)` (arcsec offsets from the kernel centre) over each
    /// pixel of a `size × size` kernel by `subsampling²` samples, then normalizes.
    pub fn from_fn(pixel_scale: f64, size: usize, subsampling: usize, f: impl Fn(f64, f64) -> f64) -> Self {
        assert!(!size.is_multiple_of(2), "kernel size must be odd");
        let c = (size as f64 - 1.0) / 2.0;
        let n = subsampling.max(1);
        let mut data = Vec::with_capacity(size * size);
        for a in 0..size {
            for b in 0..size {
                let mut acc = 0.0;
                for u in 0..n {
                    for v in 0..n {
                        let x = (b as f64 - c + (v as f64 + 0.5) / n as f64 - 0.5) * pixel_scale;
                        let y = (a as f64 - c + (u as f64 + 0.5) / n as f64 - 0.5) * pixel_scale;
                        acc += f(x, y);
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn kernels_are_normalized_and_have_the_asked_fwhm() {
        let s = 0.01;
        for shape in [
            PsfShape::Gaussian { fwhm: 0.3, e1: 0.0, e2: 0.0 },
            PsfShape::Moffat { fwhm: 0.3, beta: 3.0, e1: 0.0, e2: 0.0 },
            PsfShape::Airy { fwhm: 0.3 },
            PsfShape::Moffat { fwhm: 0.2, beta: 2.5, e1: 0.1, e2: -0.05 },
        ] {
            let k = Kernel::analytic(shape, s).unwrap();
            assert!((k.data().iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert_eq!(k.size() % 2, 1);
            if shape.ellipticity() == (0.0, 0.0) {
                let got = fwhm_along_x(&k, s);
                assert!((got - shape.fwhm()).abs() < 0.02 * shape.fwhm(), "{shape:?}: FWHM {got}");
            }
        }
    }

    #[test]
    fn elliptical_kernel_is_elongated_along_its_position_angle() {
        // e1 > 0: major axis along x.
        let k = Kernel::sample(PsfShape::Gaussian { fwhm: 0.2, e1: 0.3, e2: 0.0 }, 0.02, 41);
        let c = 20;
        assert!(k.data()[c * 41 + c + 5] > k.data()[(c + 5) * 41 + c]);
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
