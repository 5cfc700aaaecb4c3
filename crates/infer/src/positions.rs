//! Multiple-image positions and the source-plane consistency of a trial
//! lens: the guard of a pixelated-source lens search against "demagnified"
//! solutions (Nightingale & Dye 2015; PyAutoLens's position threshold,
//! Nightingale et al. 2018). A pixelated source can reproduce the arcs
//! through a lens that is too light, as a larger, barely lensed source;
//! the evidence of such a lens is close to the truth's, and on SLACS the
//! search drifted there (θ_E below the parametric stage's on 16 of 18
//! lenses). Points that are images of one source point under the
//! parametric stage's lens must trace to nearby source-plane points under
//! every trial lens: the search rejects lenses that scatter them by more
//! than a threshold.

use crate::minimize::nelder_mead;
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::PixelGrid;
use serde::Serialize;

/// Threshold as a fraction of the lens's θ_E: for an SIS, images at
/// θ_E ± β traced through (1 − ε) θ_E lie 2εθ_E apart, so 0.05 θ_E lets
/// the pixelated search move θ_E by ±2.5 % from the parametric stage's.
/// Side by side (SLACS, SIE; lenstronomy-made set, SIE + shear), θ_E mean
/// |error| and q mean |error|: 0.1 θ_E or 2 pixels 4.5 %, 0.100 and 2.8 %,
/// 0.107; 0.05 θ_E or 1 pixel 3.7 %, 0.093 and 2.6 %, 0.090 (docs/results.md).
const THRESHOLD_THETA_E: f64 = 0.05;
/// Smallest threshold in pixels.
const MIN_THRESHOLD_PIXELS: f64 = 1.0;

/// Sets of image-plane points, each set mapped by one lens to one source
/// point, and how far apart (arcsec) the traced positions of a set may lie
/// under a trial lens.
#[derive(Debug, Clone, Serialize)]
pub struct Positions {
    /// Each set's (x, y) in arcsec, the grid's frame; every set has at least two.
    pub sets: Vec<Vec<(f64, f64)>>,
    pub threshold_arcsec: f64,
}

impl Positions {
    /// The images under `lens` inside `grid` of each of `sources` (arcsec),
    /// with a threshold of 0.05 θ_E or a pixel, whichever is larger; sources
    /// with a single image are left out (they constrain nothing this way),
    /// None when all are.
    pub fn of(lens: &LenstronomyLens, sources: &[(f64, f64)], grid: &PixelGrid) -> Option<Self> {
        let sets: Vec<Vec<(f64, f64)>> =
            sources.iter().map(|&source| image_positions(lens, source, grid)).filter(|set| set.len() >= 2).collect();
        (!sets.is_empty())
            .then(|| Positions { sets, threshold_arcsec: (THRESHOLD_THETA_E * lens.theta_E).max(MIN_THRESHOLD_PIXELS * grid.pixel_scale) })
    }

    /// The largest distance (arcsec) between two points of one set traced
    /// to the source plane through `lens`.
    pub fn max_separation(&self, lens: &LenstronomyLens) -> f64 {
        let model = lens.lens_model();
        let mut largest: f64 = 0.0;
        for set in &self.sets {
            let traced: Vec<(f64, f64)> = set.iter().map(|&(x, y)| model.ray_shoot(x, y)).collect();
            for (i, a) in traced.iter().enumerate() {
                for b in &traced[i + 1..] {
                    largest = largest.max((a.0 - b.0).hypot(a.1 - b.1));
                }
            }
        }
        largest
    }

    /// By how much (arcsec) `lens` exceeds the threshold: ≤ 0 when it is consistent.
    pub fn excess(&self, lens: &LenstronomyLens) -> f64 {
        self.max_separation(lens) - self.threshold_arcsec
    }
}

/// The images of source-plane point `source` under `lens`: local minima
/// over the pixel centres of `grid` of |β(θ) − β₀|, each polished by a
/// simplex on |β(θ) − β₀|² and kept when it maps to within 10⁻³ pixel of β₀;
/// images closer than a pixel to one already found are the same image.
pub fn image_positions(lens: &LenstronomyLens, source: (f64, f64), grid: &PixelGrid) -> Vec<(f64, f64)> {
    let model = lens.lens_model();
    let (nx, ny, s) = (grid.nx, grid.ny, grid.pixel_scale);
    let distance2 = |x: f64, y: f64| {
        let (bx, by) = model.ray_shoot(x, y);
        (bx - source.0).powi(2) + (by - source.1).powi(2)
    };
    let d: Vec<f64> = (0..nx * ny).map(|p| distance2(grid.x_of_col(p % nx), grid.y_of_row(p / nx))).collect();
    let mut found: Vec<(f64, f64)> = Vec::new();
    for row in 1..ny.saturating_sub(1) {
        for col in 1..nx.saturating_sub(1) {
            let p = row * nx + col;
            let is_minimum = (-1i64..=1).all(|dr| {
                (-1i64..=1).all(|dc| {
                    let q = ((row as i64 + dr) as usize) * nx + (col as i64 + dc) as usize;
                    q == p || d[p] <= d[q]
                })
            });
            if !is_minimum {
                continue;
            }
            let best =
                nelder_mead(&|v: &[f64]| distance2(v[0], v[1]), &[grid.x_of_col(col), grid.y_of_row(row)], &[0.3 * s, 0.3 * s], 1e-16, 300);
            let (x, y) = (best.x[0], best.x[1]);
            if best.value.sqrt() < 1e-3 * s && found.iter().all(|f| (f.0 - x).hypot(f.1 - y) > s) {
                found.push((x, y));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> PixelGrid {
        PixelGrid { nx: 80, ny: 80, pixel_scale: 0.05, supersampling: 1 }
    }

    fn sis(theta_e: f64) -> LenstronomyLens {
        LenstronomyLens {
            theta_E: theta_e,
            e1: 0.0,
            e2: 0.0,
            center_x: 0.0,
            center_y: 0.0,
            gamma1: 0.0,
            gamma2: 0.0,
            Rs: 0.0,
            alpha_Rs: 0.0,
        }
    }

    #[test]
    fn an_sis_images_an_offset_source_at_theta_e_plus_and_minus_beta() {
        // SIS: a source at β on the x axis has images at x = θ_E + β and −(θ_E − β).
        let points = image_positions(&sis(1.0), (0.2, 0.0), &grid());
        assert_eq!(points.len(), 2, "{points:?}");
        let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        assert!((xs[0] + 0.8).abs() < 1e-4 && (xs[1] - 1.2).abs() < 1e-4, "{points:?}");
        assert!(points.iter().all(|p| p.1.abs() < 1e-4));
    }

    #[test]
    fn an_elliptical_lens_makes_four_images_of_a_source_inside_its_caustic() {
        let lens = LenstronomyLens { e1: 0.1, e2: 0.08, center_x: 0.03, center_y: -0.02, ..sis(1.0) };
        let points = image_positions(&lens, (0.05, -0.01), &grid());
        assert_eq!(points.len(), 4, "{points:?}");
        let model = lens.lens_model();
        for &(x, y) in &points {
            let (bx, by) = model.ray_shoot(x, y);
            assert!((bx - 0.05).hypot(by + 0.01) < 1e-4);
        }
        // The four trace to one point through their lens, not through a lighter one.
        let positions = Positions::of(&lens, &[(0.05, -0.01)], &grid()).expect("four images");
        assert!(positions.max_separation(&lens) < 1e-4);
        assert!(positions.max_separation(&LenstronomyLens { theta_E: 0.95, ..lens }) > 0.05);
    }

    #[test]
    fn a_lighter_lens_scatters_the_images_in_the_source_plane() {
        // SIS images at ±(θ_E ± β) traced through θ_E' = (1 − ε) θ_E lie 2εθ_E apart.
        let positions = Positions::of(&sis(1.0), &[(0.2, 0.0), (1.5, 0.0)], &grid()).expect("two images");
        assert_eq!(positions.sets.len(), 1, "the singly imaged source is left out");
        assert!(positions.max_separation(&sis(1.0)) < 1e-4);
        assert!((positions.max_separation(&sis(0.9)) - 0.2).abs() < 1e-3);
        assert!((positions.threshold_arcsec - 0.05).abs() < 1e-12);
        assert!(positions.excess(&sis(0.98)) < 0.0 && positions.excess(&sis(0.97)) > 0.0);
        // A source outside the caustic of an SIS has one image: no constraint.
        assert!(Positions::of(&sis(1.0), &[(1.5, 0.0)], &grid()).is_none());
        // Two sets: the one scattered more decides.
        let two = Positions::of(&sis(1.0), &[(0.2, 0.0), (0.0, 0.5)], &grid()).expect("two sets");
        assert_eq!(two.sets.len(), 2);
        assert!((two.max_separation(&sis(0.9)) - 0.2).abs() < 1e-3);
    }
}
