//! The lensing operator of a pixelated source as a sparse matrix F (image
//! pixels × source pixels): every sub-pixel ray θ is traced to β = θ − α(θ),
//! the source grid is interpolated bilinearly there, each pixel averages its
//! sub-pixel rays, and the PSF blurs the result, so that the model image is
//! F s. This is the simulator's and the RIM's image formation (bilinear
//! sampling of one source grid, pixel mean, PSF at the pixel scale) written
//! as a matrix, which the regularized inversion needs explicitly.

use astrorim_physics::mass::LensModel;
use astrorim_physics::psf::Kernel;
use astrorim_physics::PixelGrid;
use serde::{Deserialize, Serialize};

/// A square source-plane grid of `size²` pixels spanning ±`half_width`
/// arcsec about (`center_x`, `center_y`). Pixel (column j, row i) has its
/// centre at center + ((j, i) − (size − 1)/2)·s with s = 2·half_width/size,
/// the image grid's convention. Values are surface brightness in image flux
/// per image-pixel area (the simulator's source convention).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SourceGrid {
    pub size: usize,
    pub half_width: f64,
    pub center_x: f64,
    pub center_y: f64,
}

impl SourceGrid {
    /// Source pixel side in arcsec.
    pub fn pixel_scale(&self) -> f64 {
        2.0 * self.half_width / self.size as f64
    }

    /// Centre (x, y) in arcsec of source pixel `k` (row-major).
    pub fn center_of(&self, k: usize) -> (f64, f64) {
        let (s, half) = (self.pixel_scale(), (self.size as f64 - 1.0) / 2.0);
        (self.center_x + ((k % self.size) as f64 - half) * s, self.center_y + ((k / self.size) as f64 - half) * s)
    }

    /// Bilinear weights at (x, y): up to four (pixel, weight) pairs; pixels
    /// beyond the grid count as zero (so weights fade to zero over the last
    /// half pixel). `None` when (x, y) is outside the grid altogether.
    pub fn bilinear(&self, x: f64, y: f64) -> Option<[(usize, f64); 4]> {
        let (s, half) = (self.pixel_scale(), (self.size as f64 - 1.0) / 2.0);
        let u = (x - self.center_x) / s + half;
        let v = (y - self.center_y) / s + half;
        let m = self.size as f64;
        if !(u > -1.0 && u < m && v > -1.0 && v < m) {
            return None;
        }
        let (j0, i0) = (u.floor(), v.floor());
        let (fu, fv) = (u - j0, v - i0);
        let mut out = [(0usize, 0.0f64); 4];
        for (k, (dj, di, w)) in
            [(0.0, 0.0, (1.0 - fu) * (1.0 - fv)), (1.0, 0.0, fu * (1.0 - fv)), (0.0, 1.0, (1.0 - fu) * fv), (1.0, 1.0, fu * fv)]
                .into_iter()
                .enumerate()
        {
            let (j, i) = (j0 + dj, i0 + di);
            if j >= 0.0 && j < m && i >= 0.0 && i < m {
                out[k] = ((i as usize) * self.size + j as usize, w);
            }
        }
        Some(out)
    }
}

/// F in compressed rows (one row per image pixel, row-major image order),
/// each row's entries sorted by source pixel.
#[derive(Debug, Clone)]
pub struct LensingOperator {
    pub nx: usize,
    pub ny: usize,
    pub n_source: usize,
    row_ptr: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
    /// Fraction of the traced sub-pixel rays (of the pixels traced) that fall outside the source grid.
    pub lost_fraction: f64,
    /// Fraction of the PSF's flux in the taps dropped below the truncation
    /// threshold (the kept taps are renormalized to sum to one).
    pub psf_truncated_flux: f64,
}

/// Merges `entries` (column, value) into a sorted row without duplicates,
/// using `dense` (all zeros, length ≥ every column) as scratch.
fn merge_row(entries: &[(u32, f64)], dense: &mut [f64], touched: &mut Vec<u32>, out_cols: &mut Vec<u32>, out_vals: &mut Vec<f64>) {
    for &(c, v) in entries {
        if dense[c as usize] == 0.0 {
            touched.push(c);
        }
        dense[c as usize] += v;
    }
    touched.sort_unstable();
    touched.dedup();
    for &c in touched.iter() {
        let v = std::mem::take(&mut dense[c as usize]);
        if v != 0.0 {
            out_cols.push(c);
            out_vals.push(v);
        }
    }
    touched.clear();
}

impl LensingOperator {
    /// Builds F for `grid` (its supersampling sets the rays per pixel),
    /// `lens`, `source` and an optional `psf` whose taps below `psf_floor` ×
    /// its peak are dropped (0 keeps every tap).
    pub fn new(grid: &PixelGrid, lens: &LensModel, source: &SourceGrid, psf: Option<&Kernel>, psf_floor: f64) -> Self {
        Self::new_masked(grid, lens, source, psf, psf_floor, None)
    }

    /// [`LensingOperator::new`] with rows only for the `active` pixels
    /// (row-major flags; the others' rows are empty, their model zero): the
    /// rays of a pixel are traced only if the PSF carries its light into an
    /// active pixel, so masked pixels (the lens light's core, neighbours,
    /// flagged noise) cost nothing.
    pub fn new_masked(
        grid: &PixelGrid,
        lens: &LensModel,
        source: &SourceGrid,
        psf: Option<&Kernel>,
        psf_floor: f64,
        active: Option<&[bool]>,
    ) -> Self {
        let (nx, ny, n_source) = (grid.nx, grid.ny, source.size * source.size);
        let is_active = |p: usize| active.is_none_or(|a| a[p]);
        // Pixels whose unconvolved rows an active pixel's PSF reaches.
        let reach = psf.map_or(0, |k| (k.size() - 1) / 2);
        let traced: Vec<bool> = match active {
            None => vec![true; nx * ny],
            Some(a) => {
                let mut t = vec![false; nx * ny];
                for p in (0..nx * ny).filter(|&p| a[p]) {
                    let (i, j) = (p / nx, p % nx);
                    for ii in i.saturating_sub(reach)..(i + reach + 1).min(ny) {
                        for jj in j.saturating_sub(reach)..(j + reach + 1).min(nx) {
                            t[ii * nx + jj] = true;
                        }
                    }
                }
                t
            }
        };
        let offsets = grid.subpixel_offsets();
        let rays = (offsets.len() * offsets.len()) as f64;
        let mut dense = vec![0.0; n_source];
        let mut touched = Vec::new();
        let (mut s_ptr, mut s_cols, mut s_vals) = (vec![0usize], Vec::new(), Vec::new());
        let mut entries: Vec<(u32, f64)> = Vec::new();
        let mut lost = 0usize;
        for i in 0..ny {
            for j in 0..nx {
                entries.clear();
                if !traced[i * nx + j] {
                    s_ptr.push(s_cols.len());
                    continue;
                }
                for &dy in &offsets {
                    for &dx in &offsets {
                        let (bx, by) = lens.ray_shoot(grid.x_of_col(j) + dx, grid.y_of_row(i) + dy);
                        match source.bilinear(bx, by) {
                            Some(w) => entries.extend(w.iter().filter(|p| p.1 != 0.0).map(|&(k, v)| (k as u32, v / rays))),
                            None => lost += 1,
                        }
                    }
                }
                merge_row(&entries, &mut dense, &mut touched, &mut s_cols, &mut s_vals);
                s_ptr.push(s_cols.len());
            }
        }
        let lost_fraction = lost as f64 / traced.iter().filter(|&&t| t).count().max(1) as f64 / rays;
        let Some(kernel) = psf else {
            return LensingOperator {
                nx,
                ny,
                n_source,
                row_ptr: s_ptr,
                cols: s_cols,
                vals: s_vals,
                lost_fraction,
                psf_truncated_flux: 0.0,
            };
        };
        // Keep the taps above the floor, renormalized.
        let (k, data) = (kernel.size(), kernel.data());
        let peak = data.iter().cloned().fold(0.0, f64::max);
        let taps: Vec<(usize, usize, f64)> =
            (0..k * k).filter(|&t| data[t] > 0.0 && data[t] >= psf_floor * peak).map(|t| (t / k, t % k, data[t])).collect();
        let kept: f64 = taps.iter().map(|t| t.2).sum();
        let total: f64 = data.iter().sum();
        let c = (k - 1) / 2;
        // True convolution: out[i][j] = Σ_ab K[a][b] in[i − a + c][j − b + c].
        let (mut row_ptr, mut cols, mut vals) = (vec![0usize], Vec::new(), Vec::new());
        for i in 0..ny {
            for j in 0..nx {
                entries.clear();
                if !is_active(i * nx + j) {
                    row_ptr.push(cols.len());
                    continue;
                }
                for &(a, b, w) in &taps {
                    let (si, sj) = (i as isize - a as isize + c as isize, j as isize - b as isize + c as isize);
                    if si < 0 || sj < 0 || si >= ny as isize || sj >= nx as isize {
                        continue;
                    }
                    let p = si as usize * nx + sj as usize;
                    let weight = w / kept;
                    entries.extend((s_ptr[p]..s_ptr[p + 1]).map(|e| (s_cols[e], s_vals[e] * weight)));
                }
                merge_row(&entries, &mut dense, &mut touched, &mut cols, &mut vals);
                row_ptr.push(cols.len());
            }
        }
        LensingOperator { nx, ny, n_source, row_ptr, cols, vals, lost_fraction, psf_truncated_flux: 1.0 - kept / total }
    }

    /// Row `p` (image pixel, row-major) as (source pixel, weight) pairs.
    pub fn row(&self, p: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        (self.row_ptr[p]..self.row_ptr[p + 1]).map(|e| (self.cols[e] as usize, self.vals[e]))
    }

    /// The model image F s (row-major, nx × ny).
    pub fn apply(&self, source: &[f64]) -> Vec<f64> {
        (0..self.nx * self.ny).map(|p| self.row(p).map(|(k, w)| w * source[k]).sum()).collect()
    }

    /// Stored non-zeros of F.
    pub fn nnz(&self) -> usize {
        self.vals.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrorim_physics::convolve::convolve_fft;
    use astrorim_physics::grid::Image;
    use astrorim_physics::mass::{Shear, Sie};
    use rand::{Rng, SeedableRng};

    fn lens() -> LensModel {
        LensModel::new(vec![Box::new(Sie::new(0.8, 0.1, -0.05, 0.02, -0.03)), Box::new(Shear::new(0.02, 0.01, 0.0, 0.0))])
    }

    #[test]
    fn bilinear_interpolates_linear_functions_exactly_inside_the_grid() {
        let g = SourceGrid { size: 10, half_width: 0.5, center_x: 0.1, center_y: -0.2 };
        let f = |x: f64, y: f64| 2.0 + 3.0 * x - 5.0 * y;
        let values: Vec<f64> = (0..100).map(|k| g.center_of(k)).map(|(x, y)| f(x, y)).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            // Points between the outermost pixel centres.
            let (x, y) = (0.1 + rng.gen_range(-0.44..0.44), -0.2 + rng.gen_range(-0.44..0.44));
            let w = g.bilinear(x, y).unwrap();
            let got: f64 = w.iter().map(|&(k, v)| v * values[k]).sum();
            assert!((got - f(x, y)).abs() < 1e-12, "{got} vs {}", f(x, y));
            assert!((w.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert!(g.bilinear(0.1 + 0.56, -0.2).is_none(), "beyond the grid edge");
    }

    #[test]
    fn applying_f_equals_tracing_then_convolving() {
        // F s against an independent computation: ray-trace each sub-pixel,
        // interpolate, average, then the physics crate's FFT convolution.
        let grid = PixelGrid::new(24, 20, 0.08, 2).unwrap();
        let source = SourceGrid { size: 16, half_width: 0.6, center_x: 0.0, center_y: 0.0 };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let s: Vec<f64> = (0..256).map(|_| rng.gen_range(0.0..1.0)).collect();
        let kernel = Kernel::from_pixels(5, 5, (0..25).map(|t| 1.0 + ((t * 7) % 5) as f64).collect()).unwrap();
        let lens = lens();
        let op = LensingOperator::new(&grid, &lens, &source, Some(&kernel), 0.0);
        let offsets = grid.subpixel_offsets();
        let unblurred = Image {
            nx: 24,
            ny: 20,
            data: (0..480)
                .map(|p| {
                    let (i, j) = (p / 24, p % 24);
                    let mut acc = 0.0;
                    for &dy in &offsets {
                        for &dx in &offsets {
                            let (bx, by) = lens.ray_shoot(grid.x_of_col(j) + dx, grid.y_of_row(i) + dy);
                            acc += source.bilinear(bx, by).map_or(0.0, |w| w.iter().map(|&(k, v)| v * s[k]).sum());
                        }
                    }
                    acc / 4.0
                })
                .collect(),
        };
        let expected = convolve_fft(&unblurred, &kernel);
        let got = op.apply(&s);
        let worst = got.iter().zip(&expected.data).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-12, "max |F s − K * (S s)| = {worst}");
        assert_eq!(op.psf_truncated_flux, 0.0);
        // Every row sorted by source pixel, without duplicates, blurred or not.
        for f in [&op, &LensingOperator::new(&grid, &lens, &source, None, 0.0)] {
            for p in 0..480 {
                let columns: Vec<usize> = f.row(p).map(|(k, _)| k).collect();
                assert!(columns.windows(2).all(|w| w[0] < w[1]), "row {p}: {columns:?}");
            }
        }
        // Taps below half the peak dropped: fewer non-zeros, the dropped flux reported.
        let truncated = LensingOperator::new(&grid, &lens, &source, Some(&kernel), 0.5);
        assert!(truncated.psf_truncated_flux > 0.0 && truncated.nnz() < op.nnz());
        // Rows for an annulus only: the active pixels as in the full F s
        // (their PSF reaches traced pixels outside the annulus), zero elsewhere.
        let active: Vec<bool> = (0..480).map(|p| (grid.x_of_col(p % 24).hypot(grid.y_of_row(p / 24)) - 0.6).abs() < 0.2).collect();
        let masked = LensingOperator::new_masked(&grid, &lens, &source, Some(&kernel), 0.0, Some(&active)).apply(&s);
        for p in 0..480 {
            let want = if active[p] { expected.data[p] } else { 0.0 };
            assert!((masked[p] - want).abs() < 1e-12, "pixel {p} (active {}): {} vs {want}", active[p], masked[p]);
        }
        assert!(active.iter().filter(|&&a| a).count() > 60 && active.iter().any(|&a| !a));
    }
}
