//! 2-D convolution of an image with a PSF kernel, "same" output size, zero
//! padding outside the image (scipy's `fftconvolve(mode="same")`, which is
//! what lenstronomy uses). True convolution: the kernel is flipped, so
//! out[i][j] = Σ_ab k[a][b] · img[i + c − a][j + c − b], c = (size − 1)/2.

use crate::psf::Kernel;
use crate::Image;
use realfft::RealFftPlanner;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Direct (O(N·K²)) convolution; the reference the FFT path is tested against.
pub fn convolve_direct(image: &Image, kernel: &Kernel) -> Image {
    let (nx, ny, k) = (image.nx as isize, image.ny as isize, kernel.size() as isize);
    let c = (k - 1) / 2;
    let kd = kernel.data();
    let mut out = Image::zeros(image.nx, image.ny);
    for i in 0..ny {
        for j in 0..nx {
            let mut acc = 0.0;
            for a in 0..k {
                let si = i + c - a;
                if si < 0 || si >= ny {
                    continue;
                }
                for b in 0..k {
                    let sj = j + c - b;
                    if sj < 0 || sj >= nx {
                        continue;
                    }
                    acc += kd[(a * k + b) as usize] * image.data[(si * nx + sj) as usize];
                }
            }
            out.data[(i * nx + j) as usize] = acc;
        }
    }
    out
}

/// FFT convolution, equal to [`convolve_direct`] to rounding.
pub fn convolve_fft(image: &Image, kernel: &Kernel) -> Image {
    let data = convolve_same(
        &image.data,
        image.nx,
        image.ny,
        kernel.data(),
        kernel.size(),
    );
    Image {
        nx: image.nx,
        ny: image.ny,
        data,
    }
}

/// "Same"-size, zero-padded true convolution of a row-major `ny × nx` array
/// with an odd `k × k` kernel, by real FFTs (realfft over rustfft), in f32 or
/// f64. Plans are cached per thread, so repeated calls of one size are cheap.
pub fn convolve_same<T: FftFloat>(
    data: &[T],
    nx: usize,
    ny: usize,
    kernel: &[T],
    k: usize,
) -> Vec<T> {
    assert_eq!(data.len(), nx * ny);
    assert_eq!(kernel.len(), k * k);
    let c = (k - 1) / 2;
    // Linear (not circular) convolution needs at least n + k − 1 samples per axis.
    let px = fast_length(nx + k - 1);
    let py = fast_length(ny + k - 1);
    let mut a = vec![T::zero(); px * py];
    for i in 0..ny {
        a[i * px..i * px + nx].copy_from_slice(&data[i * nx..(i + 1) * nx]);
    }
    let mut b = vec![T::zero(); px * py];
    for i in 0..k {
        b[i * px..i * px + k].copy_from_slice(&kernel[i * k..(i + 1) * k]);
    }
    T::with_planner(|planner| {
        let (fa, fb) = (
            forward2(planner, &mut a, px, py),
            forward2(planner, &mut b, px, py),
        );
        let product: Vec<Complex<T>> = fa.iter().zip(&fb).map(|(u, v)| *u * *v).collect();
        let full = inverse2(planner, product, px, py);
        let norm = T::one() / T::from_usize(px * py).expect("size fits");
        let mut out = Vec::with_capacity(nx * ny);
        for i in 0..ny {
            out.extend(
                full[(i + c) * px + c..(i + c) * px + c + nx]
                    .iter()
                    .map(|&v| v * norm),
            );
        }
        out
    })
}

/// The smallest length ≥ n of the form 2^a 3^b 5^c (fast FFT sizes).
fn fast_length(n: usize) -> usize {
    (n..)
        .find(|&m| {
            let mut r = m;
            for p in [2, 3, 5] {
                while r % p == 0 {
                    r /= p;
                }
            }
            r == 1
        })
        .expect("a smooth number exists")
}

/// Forward 2-D FFT of a real `py × px` array: real FFT along rows, complex
/// FFT along columns; returns the `py × (px/2 + 1)` half spectrum, row-major.
fn forward2<T: FftFloat>(
    planner: &mut Planners<T>,
    data: &mut [T],
    px: usize,
    py: usize,
) -> Vec<Complex<T>> {
    let h = px / 2 + 1;
    let r2c = planner.real.plan_fft_forward(px);
    let mut spectrum = vec![Complex::new(T::zero(), T::zero()); py * h];
    for (row, out) in data.chunks_exact_mut(px).zip(spectrum.chunks_exact_mut(h)) {
        r2c.process(row, out).expect("lengths match the plan");
    }
    columns(
        planner.complex.plan_fft_forward(py).as_ref(),
        &mut spectrum,
        h,
        py,
    );
    spectrum
}

/// Inverse of [`forward2`] (unnormalized).
fn inverse2<T: FftFloat>(
    planner: &mut Planners<T>,
    mut spectrum: Vec<Complex<T>>,
    px: usize,
    py: usize,
) -> Vec<T> {
    let h = px / 2 + 1;
    columns(
        planner.complex.plan_fft_inverse(py).as_ref(),
        &mut spectrum,
        h,
        py,
    );
    let c2r = planner.real.plan_fft_inverse(px);
    let mut out = vec![T::zero(); px * py];
    for (row, spec) in out.chunks_exact_mut(px).zip(spectrum.chunks_exact_mut(h)) {
        // The imaginary parts of the DC and Nyquist bins are rounding noise here.
        spec[0].im = T::zero();
        if px % 2 == 0 {
            spec[h - 1].im = T::zero();
        }
        c2r.process(spec, row).expect("lengths match the plan");
    }
    out
}

/// Complex FFT of every column of a row-major `ny × nx` array, in place.
fn columns<T: FftFloat>(fft: &dyn rustfft::Fft<T>, data: &mut [Complex<T>], nx: usize, ny: usize) {
    let mut column = vec![Complex::new(T::zero(), T::zero()); ny * nx];
    // Transpose, transform contiguous columns in one batch, transpose back.
    for i in 0..ny {
        for j in 0..nx {
            column[j * ny + i] = data[i * nx + j];
        }
    }
    fft.process(&mut column);
    for i in 0..ny {
        for j in 0..nx {
            data[i * nx + j] = column[j * ny + i];
        }
    }
}

/// Real and complex FFT planners of one float type.
pub struct Planners<T: rustfft::FftNum> {
    real: RealFftPlanner<T>,
    complex: FftPlanner<T>,
}

/// f32 or f64, with a per-thread cache of FFT plans.
pub trait FftFloat: rustfft::FftNum + num_traits::Float {
    fn with_planner<R>(f: impl FnOnce(&mut Planners<Self>) -> R) -> R;
}

macro_rules! fft_float {
    ($t:ty, $cache:ident) => {
        thread_local! {
            static $cache: std::cell::RefCell<Planners<$t>> =
                std::cell::RefCell::new(Planners { real: RealFftPlanner::new(), complex: FftPlanner::new() });
        }
        impl FftFloat for $t {
            fn with_planner<R>(f: impl FnOnce(&mut Planners<Self>) -> R) -> R {
                $cache.with(|p| f(&mut p.borrow_mut()))
            }
        }
    };
}
fft_float!(f32, PLANNERS_F32);
fft_float!(f64, PLANNERS_F64);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fft_equals_direct_for_asymmetric_kernels() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for &(nx, ny, k) in &[(17, 12, 5), (8, 8, 1), (20, 31, 9), (5, 7, 11)] {
            let image = Image {
                nx,
                ny,
                data: (0..nx * ny).map(|_| rng.gen_range(-1.0..1.0)).collect(),
            };
            let kernel =
                Kernel::from_pixels(k, k, (0..k * k).map(|_| rng.gen_range(0.0..1.0)).collect())
                    .unwrap();
            let (a, b) = (
                convolve_direct(&image, &kernel),
                convolve_fft(&image, &kernel),
            );
            let err = a
                .data
                .iter()
                .zip(&b.data)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-13, "{nx}×{ny}, k = {k}: {err}");
        }
    }

    #[test]
    fn f32_path_matches_f64() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (nx, ny, k) = (37, 30, 7);
        let image: Vec<f64> = (0..nx * ny).map(|_| rng.gen_range(0.0..1.0)).collect();
        let kernel: Vec<f64> = (0..k * k).map(|_| rng.gen_range(0.0..1.0)).collect();
        let a = convolve_same(&image, nx, ny, &kernel, k);
        let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let b = convolve_same(&to32(&image), nx, ny, &to32(&kernel), k);
        let err = a
            .iter()
            .zip(&b)
            .map(|(u, v)| (u - *v as f64).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-4 * a.iter().cloned().fold(0.0, f64::max), "{err}");
    }

    #[test]
    fn convolution_flips_the_kernel() {
        // A point at the centre reproduces the kernel itself (not its mirror).
        let mut image = Image::zeros(5, 5);
        image.data[12] = 1.0;
        let kernel =
            Kernel::from_pixels(3, 3, vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]).unwrap();
        let out = convolve_direct(&image, &kernel);
        assert!((out.at(1, 2) - 0.25).abs() < 1e-15);
        assert!((out.at(3, 3) - 0.75).abs() < 1e-15);
    }
}
