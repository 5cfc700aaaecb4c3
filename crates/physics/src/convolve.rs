//! 2-D convolution of an image with a PSF kernel, "same" output size, zero
//! padding outside the image (scipy's `fftconvolve(mode="same")`, which is
//! what lenstronomy uses). True convolution: the kernel is flipped, so
//! out[i][j] = Σ_ab k[a][b] · img[i + c − a][j + c − b], c = (size − 1)/2.

use crate::psf::Kernel;
use crate::Image;
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

/// FFT convolution (rustfft), equal to [`convolve_direct`] to rounding.
pub fn convolve_fft(image: &Image, kernel: &Kernel) -> Image {
    let k = kernel.size();
    let c = (k - 1) / 2;
    // Linear (not circular) convolution needs at least nx + k − 1 columns.
    let (px, py) = (image.nx + k - 1, image.ny + k - 1);
    let mut planner = FftPlanner::<f64>::new();
    let mut a = vec![Complex::new(0.0, 0.0); px * py];
    for i in 0..image.ny {
        for j in 0..image.nx {
            a[i * px + j].re = image.data[i * image.nx + j];
        }
    }
    let mut b = vec![Complex::new(0.0, 0.0); px * py];
    for i in 0..k {
        for j in 0..k {
            b[i * px + j].re = kernel.data()[i * k + j];
        }
    }
    fft2(&mut planner, &mut a, px, py, false);
    fft2(&mut planner, &mut b, px, py, false);
    for (u, v) in a.iter_mut().zip(&b) {
        *u *= v;
    }
    fft2(&mut planner, &mut a, px, py, true);
    let norm = 1.0 / (px * py) as f64;
    let mut out = Image::zeros(image.nx, image.ny);
    for i in 0..image.ny {
        for j in 0..image.nx {
            out.data[i * image.nx + j] = a[(i + c) * px + j + c].re * norm;
        }
    }
    out
}

/// In-place unnormalized 2-D FFT of a row-major `ny × nx` array.
fn fft2(
    planner: &mut FftPlanner<f64>,
    data: &mut [Complex<f64>],
    nx: usize,
    ny: usize,
    inverse: bool,
) {
    let row_fft = if inverse {
        planner.plan_fft_inverse(nx)
    } else {
        planner.plan_fft_forward(nx)
    };
    row_fft.process(data);
    let col_fft = if inverse {
        planner.plan_fft_inverse(ny)
    } else {
        planner.plan_fft_forward(ny)
    };
    let mut column = vec![Complex::new(0.0, 0.0); ny];
    for j in 0..nx {
        for i in 0..ny {
            column[i] = data[i * nx + j];
        }
        col_fft.process(&mut column);
        for i in 0..ny {
            data[i * nx + j] = column[i];
        }
    }
}

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
