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
    let data = convolve_same(&image.data, image.nx, image.ny, kernel.data(), kernel.size());
    Image { nx: image.nx, ny: image.ny, data }
}

/// "Same"-size, zero-padded true convolution of a row-major `ny × nx` array
/// with an odd `k × k` kernel, by real FFTs (realfft over rustfft), in f32 or
/// f64. Plans are cached per thread, so repeated calls of one size are cheap.
pub fn convolve_same<T: FftFloat>(data: &[T], nx: usize, ny: usize, kernel: &[T], k: usize) -> Vec<T> {
    assert_eq!(data.len(), nx * ny);
    assert_eq!(kernel.len(), k * k);
    let c = (k - 1) / 2;
    // Linear (not circular) convolution needs at least n + k − 1 samples per axis.
    let px = fast_length(nx + k - 1);
    let py = fast_length(ny + k - 1);
    T::with_planner(|planner| {
        let fa = forward2(planner, data, nx, ny, 0, px, py);
        let fb = forward2(planner, kernel, k, k, 0, px, py);
        let product: Vec<Complex<T>> = fa.iter().zip(&fb).map(|(u, v)| *u * *v).collect();
        let norm = T::one() / T::from_usize(px * py).expect("size fits");
        inverse2(planner, product, px, py, c..c + ny, c, nx, norm)
    })
}

/// PSF convolution at super resolution followed by `factor × factor` block
/// averaging (lenstronomy's `supersampling_convolution=True`): the "same"-size
/// zero-padded true convolution of the row-major `side × side` array `data`
/// with the odd `k × k` kernel, then the mean of each block, returned as
/// `(side/factor)²` row-major values. Equal to [`convolve_same`] followed by
/// the block mean to rounding, but the inverse transform runs at the coarse
/// resolution: the kernel is widened by the box of the block mean, the
/// product spectrum is folded onto the coarse grid (decimation by `factor`
/// sums its `factor²` aliases), and only that is transformed back.
pub fn convolve_binned<T: FftFloat>(data: &[T], side: usize, kernel: &[T], k: usize, factor: usize) -> Vec<T> {
    assert!(factor >= 1 && side.is_multiple_of(factor), "side {side} is not a multiple of {factor}");
    assert_eq!(data.len(), side * side);
    assert_eq!(kernel.len(), k * k);
    let (f, n, c) = (factor, side / factor, (k - 1) / 2);
    // g = kernel ⊛ box(f×f)/f²: s = data ⊛ g holds, at index t + c + f − 1,
    // the mean of the "same" convolution over the block starting at t. The
    // box separates, so g is the kernel widened along rows, then columns.
    let kb = k + f - 1;
    let inv_f2 = T::one() / T::from_usize(f * f).expect("small");
    let rows: Vec<Vec<T>> = kernel.chunks_exact(k).map(|row| box_widened(row, f)).collect();
    let columns: Vec<Vec<T>> = (0..kb).map(|b| box_widened(&rows.iter().map(|r| r[b]).collect::<Vec<T>>(), f)).collect();
    let g: Vec<T> = (0..kb * kb).map(|i| columns[i % kb][i / kb]).collect();
    // Shift the data by `o` so that the block starts c + f − 1 + o = f·q are
    // multiples of f: coarse pixel I is then sample I + q of the decimated s.
    let d = c + f - 1;
    let q = d.div_ceil(f);
    let o = q * f - d;
    // Circular wrap-around leaves the read samples untouched when p ≥ side + f·q
    // (and the widened kernel must fit: p ≥ kb).
    let m = fast_length((n + q).max(kb.div_ceil(f)));
    let p = m * f;
    T::with_planner(|planner| {
        let x = forward2(planner, data, side, side, o, p, p);
        let gs = forward2(planner, &g, kb, kb, 0, p, p);
        let (h, hm) = (p / 2 + 1, m / 2 + 1);
        let zero = Complex::new(T::zero(), T::zero());
        let mut folded = vec![zero; hm * m];
        let (mut product, mut reflected) = (vec![zero; p], vec![zero; m]);
        for v in 0..hm {
            let out = &mut folded[v * m..(v + 1) * m];
            reflected.fill(zero);
            for u in (v..p).step_by(m) {
                // The upper half of a real signal's spectrum is S(u, w) = S̄(p − u, −w):
                // rows u ≥ h are row p − u reflected in w and conjugated, and
                // folding commutes with both, so they are folded unreflected first.
                let (row, target) = if u < h { (u, &mut *out) } else { (p - u, &mut reflected[..]) };
                let (xr, gr) = (&x[row * p..(row + 1) * p], &gs[row * p..(row + 1) * p]);
                product.iter_mut().zip(xr.iter().zip(gr)).for_each(|(o, (a, b))| *o = *a * *b);
                for block in product.chunks_exact(m) {
                    target.iter_mut().zip(block).for_each(|(o, s)| *o = *o + *s);
                }
            }
            for (w, o) in out.iter_mut().enumerate() {
                *o = (*o + reflected[(m - w) % m].conj()) * inv_f2;
            }
        }
        let norm = T::one() / T::from_usize(m * m).expect("size fits");
        inverse2(planner, folded, m, m, q..q + n, q, n, norm)
    })
}

/// [`convolve_binned`] for a separable kernel `k[a][b] = ky[a]·kx[b]` (both
/// odd, of one length k): two 1-D passes, each evaluated only at the block
/// means it keeps, in O(side²·(k + factor)/factor) instead of FFTs. Each axis
/// applies h = (1-D kernel ⊛ box of `factor` taps)/factor at every
/// `factor`-th output; splitting the input into its `factor` phases makes
/// every tap a contiguous multiply-add over the coarse axis.
pub fn convolve_binned_separable<T: FftFloat>(data: &[T], side: usize, kx: &[T], ky: &[T], factor: usize) -> Vec<T> {
    assert!(factor >= 1 && side.is_multiple_of(factor), "side {side} is not a multiple of {factor}");
    assert!(data.len() == side * side && kx.len() == ky.len() && kx.len() % 2 == 1);
    let (f, n, k) = (factor, side / factor, kx.len());
    let (c, kb) = ((k - 1) / 2, k + f - 1);
    let (hx, hy) = (box_widened(kx, f), box_widened(ky, f));
    // Coarse output J takes input j = f·J + d − t for tap t, d = c + f − 1.
    // With j = f·m + ρ: phase ρ = (d − t) mod f at m = J + ⌊(d − t)/f⌋.
    // Phases are stored with `pad` zeros on both sides for the edges.
    let d = (c + f - 1) as isize;
    let pad = kb.div_ceil(f) + 1;
    let width = n + 2 * pad;
    let taps: Vec<(usize, usize)> = (0..kb)
        .map(|t| {
            let shift = d - t as isize;
            (shift.rem_euclid(f as isize) as usize, (pad as isize + shift.div_euclid(f as isize)) as usize)
        })
        .collect();
    let pass = |lines: &mut dyn Iterator<Item = &[T]>, h: &[T], count: usize| -> Vec<T> {
        let mut out = vec![T::zero(); count * n];
        let mut phases = vec![T::zero(); f * width];
        for (line, target) in lines.zip(out.chunks_exact_mut(n)) {
            for (rho, phase) in phases.chunks_exact_mut(width).enumerate() {
                phase[pad..pad + n].iter_mut().zip(line.iter().skip(rho).step_by(f)).for_each(|(p, &v)| *p = v);
            }
            for (&(rho, start), &w) in taps.iter().zip(h) {
                let src = &phases[rho * width + start..rho * width + start + n];
                target.iter_mut().zip(src).for_each(|(o, &v)| *o = *o + w * v);
            }
        }
        out
    };
    // Rows first (side rows → n coarse columns), then columns of that.
    let rows = pass(&mut data.chunks_exact(side), &hx, side);
    let columns: Vec<Vec<T>> = (0..n).map(|j| (0..side).map(|i| rows[i * n + j]).collect()).collect();
    let transposed = pass(&mut columns.iter().map(Vec::as_slice), &hy, n);
    (0..n * n).map(|k| transposed[(k % n) * n + k / n]).collect()
}

/// A 1-D kernel convolved with the `factor`-tap box of a block mean and
/// divided by `factor`: `kernel.len() + factor − 1` taps.
fn box_widened<T: FftFloat>(kernel: &[T], factor: usize) -> Vec<T> {
    let k = kernel.len();
    let inv_f = T::one() / T::from_usize(factor).expect("small");
    (0..k + factor - 1)
        .map(|t| (0..factor).filter(|&s| t >= s && t - s < k).fold(T::zero(), |acc, s| acc + kernel[t - s]) * inv_f)
        .collect()
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

/// Forward 2-D FFT of a row-major `ny × nx` real array placed at row and
/// column `offset` of a zero `py × px` array: real FFTs along the `ny`
/// non-zero rows, then complex FFTs along columns. Returns the half spectrum
/// transposed: `(px/2 + 1) × py`, column-major in frequency, which is what
/// [`inverse2`] takes.
fn forward2<T: FftFloat>(
    planner: &mut Planners<T>,
    data: &[T],
    nx: usize,
    ny: usize,
    offset: usize,
    px: usize,
    py: usize,
) -> Vec<Complex<T>> {
    let h = px / 2 + 1;
    let r2c = planner.real.plan_fft_forward(px);
    let mut row = vec![T::zero(); px];
    let mut row_spec = vec![Complex::new(T::zero(), T::zero()); h];
    let mut scratch = r2c.make_scratch_vec();
    let mut transposed = vec![Complex::new(T::zero(), T::zero()); h * py];
    for i in 0..ny {
        row.fill(T::zero());
        row[offset..offset + nx].copy_from_slice(&data[i * nx..(i + 1) * nx]);
        r2c.process_with_scratch(&mut row, &mut row_spec, &mut scratch).expect("lengths match the plan");
        for (u, v) in row_spec.iter().enumerate() {
            transposed[u * py + offset + i] = *v;
        }
    }
    // The other rows are zero and stay zero: no transform needed for them.
    planner.complex.plan_fft_forward(py).process(&mut transposed);
    transposed
}

/// Inverse of [`forward2`] (scaled by `norm`), returning only rows `rows` and
/// columns `col0..col0 + nx` of the `py × px` result.
#[allow(clippy::too_many_arguments)]
fn inverse2<T: FftFloat>(
    planner: &mut Planners<T>,
    mut transposed: Vec<Complex<T>>,
    px: usize,
    py: usize,
    rows: std::ops::Range<usize>,
    col0: usize,
    nx: usize,
    norm: T,
) -> Vec<T> {
    let h = px / 2 + 1;
    planner.complex.plan_fft_inverse(py).process(&mut transposed);
    let c2r = planner.real.plan_fft_inverse(px);
    let mut spec = vec![Complex::new(T::zero(), T::zero()); h];
    let mut row = vec![T::zero(); px];
    let mut scratch = c2r.make_scratch_vec();
    let mut out = Vec::with_capacity(rows.len() * nx);
    for i in rows {
        for (u, v) in spec.iter_mut().enumerate() {
            *v = transposed[u * py + i];
        }
        // The imaginary parts of the DC and Nyquist bins are rounding noise here.
        spec[0].im = T::zero();
        if px.is_multiple_of(2) {
            spec[h - 1].im = T::zero();
        }
        c2r.process_with_scratch(&mut spec, &mut row, &mut scratch).expect("lengths match the plan");
        out.extend(row[col0..col0 + nx].iter().map(|&v| v * norm));
    }
    out
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
            let image = Image { nx, ny, data: (0..nx * ny).map(|_| rng.gen_range(-1.0..1.0)).collect() };
            let kernel = Kernel::from_pixels(k, k, (0..k * k).map(|_| rng.gen_range(0.0..1.0)).collect()).unwrap();
            let (a, b) = (convolve_direct(&image, &kernel), convolve_fft(&image, &kernel));
            let err = a.data.iter().zip(&b.data).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max);
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
        let err = a.iter().zip(&b).map(|(u, v)| (u - *v as f64).abs()).fold(0.0, f64::max);
        assert!(err < 1e-4 * a.iter().cloned().fold(0.0, f64::max), "{err}");
    }

    #[test]
    fn binned_convolution_equals_convolution_then_block_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for &(n, factor, k) in &[(6, 4, 13), (9, 2, 5), (5, 3, 21), (7, 1, 3), (4, 4, 61)] {
            let side = n * factor;
            let image: Vec<f64> = (0..side * side).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let kernel: Vec<f64> = (0..k * k).map(|_| rng.gen_range(0.0..1.0)).collect();
            let fine = convolve_same(&image, side, side, &kernel, k);
            let binned = convolve_binned(&image, side, &kernel, k, factor);
            let scale = fine.iter().map(|v| v.abs()).fold(0.0, f64::max);
            for i in 0..n {
                for j in 0..n {
                    let mut mean = 0.0;
                    for r in 0..factor {
                        for s in 0..factor {
                            mean += fine[(i * factor + r) * side + j * factor + s];
                        }
                    }
                    mean /= (factor * factor) as f64;
                    let err = (mean - binned[i * n + j]).abs();
                    assert!(err < 1e-12 * scale, "n {n}, factor {factor}, k {k}, pixel ({i}, {j}): {mean} vs {}", binned[i * n + j]);
                }
            }
        }
    }

    #[test]
    fn separable_binned_convolution_equals_the_fft_path() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for &(n, factor, k) in &[(6, 4, 13), (9, 2, 5), (5, 3, 21), (7, 1, 3), (4, 4, 61), (24, 4, 41)] {
            let side = n * factor;
            let image: Vec<f64> = (0..side * side).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let kx: Vec<f64> = (0..k).map(|_| rng.gen_range(0.0..1.0)).collect();
            let ky: Vec<f64> = (0..k).map(|_| rng.gen_range(0.0..1.0)).collect();
            let outer: Vec<f64> = ky.iter().flat_map(|y| kx.iter().map(move |x| x * y)).collect();
            let fft = convolve_binned(&image, side, &outer, k, factor);
            let direct = convolve_binned_separable(&image, side, &kx, &ky, factor);
            let scale = fft.iter().map(|v| v.abs()).fold(0.0, f64::max);
            let err = fft.iter().zip(&direct).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-12 * scale, "n {n}, factor {factor}, k {k}: {err}");
        }
    }

    #[test]
    fn convolution_flips_the_kernel() {
        // A point at the centre reproduces the kernel itself (not its mirror).
        let mut image = Image::zeros(5, 5);
        image.data[12] = 1.0;
        let kernel = Kernel::from_pixels(3, 3, vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]).unwrap();
        let out = convolve_direct(&image, &kernel);
        assert!((out.at(1, 2) - 0.25).abs() < 1e-15);
        assert!((out.at(3, 3) - 0.75).abs() < 1e-15);
    }
}
