//! Preparing an observation for the fit: the sky level subtracted, the lens
//! located and a square cutout centred on it (the noise map, mask and
//! unusable pixels carried along), and, once a first lens-light model
//! exists, the residual's segmentation into the arcs and the neighbouring
//! objects that are not part of the lens system (masked, and recorded).
//! The fit works at the observation's native pixel scale: nothing is
//! resampled, so the noise stays uncorrelated.

use crate::background::estimate_sky;
use crate::observation::Observation;
use astrorim_physics::psf::Kernel;
use astrorim_physics::PixelGrid;
use serde::Serialize;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct PrepOptions {
    /// Lens centre as (column, row), 0-based pixels of the input image.
    pub center_pixel: Option<(f64, f64)>,
    /// Side of the cutout in arcsec (default [`DEFAULT_CUTOUT_ARCSEC`], at
    /// most what fits in the image around the centre).
    pub cutout_arcsec: Option<f64>,
}

/// Default cutout side: enough for Einstein radii up to ~2″ with their arcs.
pub const DEFAULT_CUTOUT_ARCSEC: f64 = 5.0;

/// The cutout the fit works on.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Cutout grid (supersampling 1; the fits choose their own).
    pub grid: PixelGrid,
    /// Sky-subtracted data, row-major.
    pub data: Vec<f64>,
    /// 1σ per pixel; ∞ = not fitted.
    pub sigma: Vec<f64>,
    pub psf: Option<Kernel>,
    pub record: Preparation,
}

impl Prepared {
    /// A point of the cutout's frame (arcsec from the cutout's centre, x along
    /// columns) as 0-based (column, row) pixels of the input image.
    pub fn input_pixel(&self, x: f64, y: f64) -> [f64; 2] {
        let (g, r) = (&self.grid, &self.record);
        [
            r.cutout_col0 as f64 + (g.nx as f64 - 1.0) / 2.0 + x / g.pixel_scale,
            r.cutout_row0 as f64 + (g.ny as f64 - 1.0) / 2.0 + y / g.pixel_scale,
        ]
    }

    /// The inverse of [`Prepared::input_pixel`]: input (column, row) → the cutout's frame (arcsec).
    pub fn cutout_position(&self, column: f64, row: f64) -> (f64, f64) {
        let (g, r) = (&self.grid, &self.record);
        (
            (column - r.cutout_col0 as f64 - (g.nx as f64 - 1.0) / 2.0) * g.pixel_scale,
            (row - r.cutout_row0 as f64 - (g.ny as f64 - 1.0) / 2.0) * g.pixel_scale,
        )
    }
}

/// The preparation, as recorded in `result.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Preparation {
    pub input_nx: usize,
    pub input_ny: usize,
    pub pixel_scale_arcsec: f64,
    /// "header" or "given".
    pub pixel_scale_origin: String,
    pub noise_origin: String,
    /// Sky level subtracted (image units) and the sky RMS, from the whole
    /// input image outside a central disc, 3σ-clipped.
    pub sky_level: f64,
    pub sky_rms: f64,
    pub sky_pixels: usize,
    /// Lens centre in the input image (column, row; 0-based) and how it was found.
    pub lens_center_pixel: [f64; 2],
    pub lens_center_origin: String,
    /// Cutout: first column and row in the input image, side in pixels, side in arcsec.
    pub cutout_col0: usize,
    pub cutout_row0: usize,
    pub cutout_size: usize,
    pub cutout_arcsec: f64,
    /// How the cutout's side was chosen: "given", or the default.
    pub cutout_rule: String,
    /// "none: the fit works at the native pixel scale".
    pub resampling: String,
    /// Pixels of the cutout with weight zero: non-finite or zero/negative noise, the user's mask.
    pub unusable_pixels: usize,
    pub masked_by_user: usize,
    /// Neighbouring objects masked automatically (empty when disabled).
    pub neighbours: Vec<Neighbour>,
    pub masked_neighbour_pixels: usize,
    pub auto_mask: bool,
}

/// One automatically masked object.
#[derive(Debug, Clone, Serialize)]
pub struct Neighbour {
    /// Flux-weighted centroid, arcsec from the cutout centre.
    pub x: f64,
    pub y: f64,
    pub pixels: usize,
    /// Why it was judged not to belong to the lens system.
    pub reason: String,
}

/// Smooths with the 5×5 binomial kernel (σ ≈ 1 px), ignoring pixels whose
/// weight is zero; used to find peaks and to segment robustly against
/// single-pixel noise.
fn smooth(data: &[f64], usable: &[bool], nx: usize, ny: usize) -> Vec<f64> {
    const K: [f64; 5] = [1.0, 4.0, 6.0, 4.0, 1.0];
    let mut out = vec![0.0; nx * ny];
    for i in 0..ny {
        for j in 0..nx {
            let (mut acc, mut norm) = (0.0, 0.0);
            for (a, ka) in K.iter().enumerate() {
                let ii = i as isize + a as isize - 2;
                if ii < 0 || ii >= ny as isize {
                    continue;
                }
                for (b, kb) in K.iter().enumerate() {
                    let jj = j as isize + b as isize - 2;
                    if jj < 0 || jj >= nx as isize {
                        continue;
                    }
                    let p = ii as usize * nx + jj as usize;
                    if usable[p] {
                        acc += ka * kb * data[p];
                        norm += ka * kb;
                    }
                }
            }
            out[i * nx + j] = if norm > 0.0 { acc / norm } else { 0.0 };
        }
    }
    out
}

/// Local maxima of the smoothed image fainter than this fraction of the
/// brightest are not lens-centre candidates.
const CENTER_CANDIDATE_FRACTION: f64 = 0.2;

/// How round the peak at pixel `p` of the smoothed image is: the ratio of
/// the smaller to the larger curvature (eigenvalues of −H, the Hessian by
/// central differences over ±2 pixels), in [0, 1]. A galaxy's centre is
/// round (≈ its axis ratio); an arc is a ridge (≈ 0).
fn roundness(smoothed: &[f64], nx: usize, ny: usize, p: usize) -> f64 {
    let (i, j) = ((p / nx) as isize, (p % nx) as isize);
    let at = |di: isize, dj: isize| {
        let (ii, jj) = ((i + di).clamp(0, ny as isize - 1), (j + dj).clamp(0, nx as isize - 1));
        smoothed[ii as usize * nx + jj as usize]
    };
    let c = at(0, 0);
    let hxx = -(at(0, 2) - 2.0 * c + at(0, -2));
    let hyy = -(at(2, 0) - 2.0 * c + at(-2, 0));
    let hxy = -(at(2, 2) - at(2, -2) - at(-2, 2) + at(-2, -2)) / 4.0;
    let (mean, spread) = (0.5 * (hxx + hyy), (0.25 * (hxx - hyy).powi(2) + hxy * hxy).sqrt());
    let (small, large) = (mean - spread, mean + spread);
    if large > 0.0 {
        (small / large).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The lens centre (column, row) in an image: among the local maxima of the
/// smoothed image within the central disc of half the shorter side (and at
/// least [`CENTER_CANDIDATE_FRACTION`] of the brightest), the one with the
/// largest brightness × roundness — the lens galaxy rather than a brighter
/// stretch of arc — refined to the flux-weighted centroid of the smoothed
/// image within 2 pixels.
pub fn find_center(data: &[f64], sigma: &[f64], nx: usize, ny: usize) -> (f64, f64) {
    let usable: Vec<bool> = sigma.iter().zip(data).map(|(s, d)| s.is_finite() && d.is_finite()).collect();
    let smoothed = smooth(data, &usable, nx, ny);
    let (cx, cy) = ((nx as f64 - 1.0) / 2.0, (ny as f64 - 1.0) / 2.0);
    let radius = 0.25 * nx.min(ny) as f64;
    let central: Vec<usize> = (0..nx * ny).filter(|&p| ((p % nx) as f64 - cx).hypot((p / nx) as f64 - cy) <= radius).collect();
    let brightest = *central.iter().max_by(|&&a, &&b| smoothed[a].total_cmp(&smoothed[b])).expect("the central disc holds pixels");
    let is_local_max = |p: usize| {
        let (i, j) = ((p / nx) as isize, (p % nx) as isize);
        (-1..=1).all(|di| {
            (-1..=1).all(|dj| {
                let (ii, jj) = (i + di, j + dj);
                ii < 0 || jj < 0 || ii >= ny as isize || jj >= nx as isize || smoothed[ii as usize * nx + jj as usize] <= smoothed[p]
            })
        })
    };
    let floor = CENTER_CANDIDATE_FRACTION * smoothed[brightest];
    let score = |p: usize| smoothed[p] * roundness(&smoothed, nx, ny, p);
    let peak = central
        .iter()
        .copied()
        .filter(|&p| smoothed[p] > 0.0 && smoothed[p] >= floor && is_local_max(p))
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .filter(|&p| score(p) > 0.0)
        .unwrap_or(brightest);
    let (pi, pj) = ((peak / nx) as isize, (peak % nx) as isize);
    let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
    for i in (pi - 2).max(0)..=(pi + 2).min(ny as isize - 1) {
        for j in (pj - 2).max(0)..=(pj + 2).min(nx as isize - 1) {
            let w = smoothed[i as usize * nx + j as usize].max(0.0);
            sx += w * j as f64;
            sy += w * i as f64;
            sw += w;
        }
    }
    if sw > 0.0 {
        (sx / sw, sy / sw)
    } else {
        (pj as f64, pi as f64)
    }
}

/// Sky subtraction, lens centre and cutout. Errors name the flag.
pub fn prepare(obs: &Observation, options: &PrepOptions) -> Result<Prepared, String> {
    let (nx, ny) = (obs.image.nx, obs.image.ny);
    let s = obs.pixel_scale;
    let sky = estimate_sky(&obs.image.data, nx, ny, 0.5);
    let (sky_level, sky_rms, sky_pixels) = sky.map_or((0.0, f64::NAN, 0), |k| (k.level, k.rms, k.pixels));
    let data: Vec<f64> = obs.image.data.iter().map(|v| v - sky_level).collect();
    let (center, center_origin) = match options.center_pixel {
        Some((x, y)) => {
            if !(x >= 0.0 && y >= 0.0 && x <= (nx - 1) as f64 && y <= (ny - 1) as f64) {
                return Err(format!("center: ({x}, {y}) is outside the {nx}×{ny} image (0-based column,row)"));
            }
            ((x, y), "given".to_string())
        }
        None => (
            find_center(&data, &obs.sigma, nx, ny),
            "roundest bright peak of the smoothed image within the central half (brightness × roundness), refined to its centroid"
                .to_string(),
        ),
    };
    // The largest even side that fits around the centre, capped by the requested size.
    let want = options.cutout_arcsec.unwrap_or(DEFAULT_CUTOUT_ARCSEC);
    if !(want.is_finite() && want > 0.0) {
        return Err(format!("cutout: must be a positive number of arcsec, got {want}"));
    }
    let room = |c: f64, n: usize| 2.0 * (c + 0.5).min(n as f64 - c - 0.5);
    let max_side = room(center.0, nx).min(room(center.1, ny)).floor() as usize;
    let side = ((want / s).round() as usize).min(max_side) & !1;
    if side < 16 {
        return Err(format!(
            "center: the lens at column {:.1}, row {:.1} is too close to the image edge for a cutout (at least 16 pixels needed, {side} fit)",
            center.0, center.1
        ));
    }
    let col0 = (center.0 - (side as f64 - 1.0) / 2.0).round().clamp(0.0, (nx - side) as f64) as usize;
    let row0 = (center.1 - (side as f64 - 1.0) / 2.0).round().clamp(0.0, (ny - side) as f64) as usize;
    let take =
        |v: &[f64]| -> Vec<f64> { (0..side).flat_map(|i| (0..side).map(move |j| (row0 + i) * nx + col0 + j)).map(|p| v[p]).collect() };
    let cut_data = take(&data);
    let cut_sigma = take(&obs.sigma);
    let mut masked_by_user = 0;
    let mut unusable = 0;
    for (p, s) in cut_sigma.iter().enumerate() {
        if s.is_infinite() {
            // The observation marks both with ∞; a finite datum with finite noise was masked by the user.
            if cut_data[p].is_finite() {
                masked_by_user += 1;
            } else {
                unusable += 1;
            }
        }
    }
    let record = Preparation {
        input_nx: nx,
        input_ny: ny,
        pixel_scale_arcsec: s,
        pixel_scale_origin: obs.pixel_scale_origin.to_string(),
        noise_origin: obs.noise_origin.clone(),
        sky_level,
        sky_rms,
        sky_pixels,
        lens_center_pixel: [center.0, center.1],
        lens_center_origin: center_origin,
        cutout_col0: col0,
        cutout_row0: row0,
        cutout_size: side,
        cutout_arcsec: side as f64 * s,
        cutout_rule: if options.cutout_arcsec.is_some() { "given".into() } else { format!("default {DEFAULT_CUTOUT_ARCSEC}″") },
        resampling: "none: the fit works at the native pixel scale".into(),
        unusable_pixels: unusable,
        masked_by_user,
        neighbours: Vec::new(),
        masked_neighbour_pixels: 0,
        auto_mask: false,
    };
    Ok(Prepared {
        grid: PixelGrid::new(side, side, s, 1).expect("side ≥ 16 and a valid scale"),
        data: cut_data.iter().map(|v| if v.is_finite() { *v } else { 0.0 }).collect(),
        sigma: cut_sigma,
        psf: obs.psf.clone(),
        record,
    })
}

/// A connected set of pixels above the threshold.
#[derive(Debug, Clone)]
pub struct Component {
    pub pixels: Vec<usize>,
    /// Flux-weighted centroid (arcsec, grid coordinates).
    pub x: f64,
    pub y: f64,
    /// Flux-weighted spreads about the lens centre: radial σ_r and tangential σ_t = r̄ σ_φ (arcsec).
    pub radius: f64,
    pub sigma_r: f64,
    pub sigma_t: f64,
    pub flux: f64,
}

impl Component {
    /// Tangentially elongated: what lensed arcs look like from the lens centre.
    pub fn is_arc(&self) -> bool {
        self.sigma_t >= 1.5 * self.sigma_r
    }
}

/// Connected regions (4-neighbour) of at least `min_pixels` where the
/// smoothed `residual` exceeds `threshold` σ, with their moments about `center`.
pub fn segment(residual: &[f64], sigma: &[f64], grid: &PixelGrid, center: (f64, f64), threshold: f64, min_pixels: usize) -> Vec<Component> {
    let (nx, ny) = (grid.nx, grid.ny);
    let usable: Vec<bool> = sigma.iter().map(|s| s.is_finite() && *s > 0.0).collect();
    let smoothed = smooth(residual, &usable, nx, ny);
    // The 5×5 binomial kernel (1-D weights [1,4,6,4,1]/16, Σw² = 70/256)
    // scales white noise's σ by 70/256 in 2-D.
    const NOISE_RATIO: f64 = 70.0 / 256.0;
    let above: Vec<bool> = (0..nx * ny).map(|p| usable[p] && smoothed[p] > threshold * sigma[p] * NOISE_RATIO).collect();
    let mut label = vec![usize::MAX; nx * ny];
    let mut out = Vec::new();
    for seed in 0..nx * ny {
        if !above[seed] || label[seed] != usize::MAX {
            continue;
        }
        let id = out.len();
        let mut stack = vec![seed];
        label[seed] = id;
        let mut pixels = Vec::new();
        while let Some(p) = stack.pop() {
            pixels.push(p);
            let (i, j) = (p / nx, p % nx);
            let mut visit = |q: usize| {
                if above[q] && label[q] == usize::MAX {
                    label[q] = id;
                    stack.push(q);
                }
            };
            if i > 0 {
                visit(p - nx);
            }
            if i + 1 < ny {
                visit(p + nx);
            }
            if j > 0 {
                visit(p - 1);
            }
            if j + 1 < nx {
                visit(p + 1);
            }
        }
        out.push(pixels);
    }
    out.into_iter()
        .filter(|p| p.len() >= min_pixels)
        .map(|pixels| {
            let coords = |p: usize| (grid.x_of_col(p % nx) - center.0, grid.y_of_row(p / nx) - center.1);
            let w = |p: usize| smoothed[p].max(0.0);
            let flux: f64 = pixels.iter().map(|&p| w(p)).sum::<f64>().max(f64::MIN_POSITIVE);
            let (mx, my) = pixels.iter().fold((0.0, 0.0), |(a, b), &p| {
                let (x, y) = coords(p);
                (a + w(p) * x, b + w(p) * y)
            });
            let (mx, my) = (mx / flux, my / flux);
            let r_mean = pixels.iter().map(|&p| w(p) * coords(p).0.hypot(coords(p).1)).sum::<f64>() / flux;
            let phi_mean = my.atan2(mx);
            let (mut vr, mut vphi) = (0.0, 0.0);
            for &p in &pixels {
                let (x, y) = coords(p);
                let dphi = (y.atan2(x) - phi_mean + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI;
                vr += w(p) * (x.hypot(y) - r_mean).powi(2);
                vphi += w(p) * dphi * dphi;
            }
            Component {
                x: mx + center.0,
                y: my + center.1,
                radius: r_mean,
                sigma_r: (vr / flux).sqrt(),
                sigma_t: r_mean * (vphi / flux).sqrt(),
                flux,
                pixels,
            }
        })
        .collect()
}

/// The arcs' radius: the flux-weighted median distance from the lens centre
/// of the residual's pixels beyond [`core_radius`] in arc-like components
/// (in all components when none is arc-like). The core is left out because
/// there the lens light's misfit dominates the residual (on SLACS it pulled
/// the estimate to 0.3–0.5″ for arcs at 1.2–1.4″). None when nothing is
/// detected beyond the core.
pub fn arc_radius(components: &[Component], grid: &PixelGrid, center: (f64, f64), residual: &[f64]) -> Option<f64> {
    let r_min = core_radius(grid.pixel_scale);
    let radius_of = |p: usize| pixel_radius(grid, center, p);
    let outside = |c: &&Component| c.pixels.iter().any(|&p| radius_of(p) >= r_min);
    let arcs: Vec<&Component> = components.iter().filter(|c| c.is_arc()).filter(outside).collect();
    let chosen: Vec<&Component> = if arcs.is_empty() { components.iter().filter(outside).collect() } else { arcs };
    let mut radii: Vec<(f64, f64)> =
        chosen.iter().flat_map(|c| c.pixels.iter()).map(|&p| (radius_of(p), residual[p].max(0.0))).filter(|&(r, _)| r >= r_min).collect();
    let total: f64 = radii.iter().map(|r| r.1).sum();
    if radii.is_empty() || total <= 0.0 {
        return None;
    }
    radii.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut acc = 0.0;
    for (r, w) in &radii {
        acc += w;
        if acc >= 0.5 * total {
            return Some(*r);
        }
    }
    radii.last().map(|r| r.0)
}

/// Distance (arcsec) of pixel `p` (row-major on `grid`) from `center`.
pub fn pixel_radius(grid: &PixelGrid, center: (f64, f64), p: usize) -> f64 {
    (grid.x_of_col(p % grid.nx) - center.0).hypot(grid.y_of_row(p / grid.nx) - center.1)
}

/// Radius (arcsec) about the lens centre inside which residuals are not
/// taken for lensed light when estimating the arcs' radius: 3 pixels or
/// 0.3″, whichever is larger.
pub fn core_radius(pixel_scale: f64) -> f64 {
    (3.0 * pixel_scale).max(0.3)
}

/// Smallest segment taken for a neighbouring object, in pixels.
const NEIGHBOUR_MIN_PIXELS: usize = 20;

/// The components judged not to belong to the lens system: at least
/// 20 pixels, not arc-like and centred beyond 1.5 × the arc radius (lensed
/// images, arcs and the counter-images inside them are kept), or, with no
/// arc radius, beyond 40 % of the cutout's half-side.
pub fn neighbours(components: &[Component], arc_radius: Option<f64>, grid: &PixelGrid) -> Vec<(Neighbour, Vec<usize>)> {
    let half = 0.5 * grid.nx as f64 * grid.pixel_scale;
    let limit = arc_radius.map_or(0.4 * half, |r| 1.5 * r);
    components
        .iter()
        .filter(|c| !c.is_arc() && c.radius > limit && c.pixels.len() >= NEIGHBOUR_MIN_PIXELS)
        .map(|c| {
            (
                Neighbour {
                    x: c.x,
                    y: c.y,
                    pixels: c.pixels.len(),
                    reason: format!(
                        "not arc-like (σ_t/σ_r = {:.2} < 1.5) and {:.2}″ from the lens, beyond {:.2}″",
                        c.sigma_t / c.sigma_r.max(1e-12),
                        c.radius,
                        limit
                    ),
                },
                c.pixels.clone(),
            )
        })
        .collect()
}

/// `pixels` grown by `radius` pixels (square), for masking a neighbour's wings.
pub fn dilate(pixels: &[usize], nx: usize, ny: usize, radius: usize) -> Vec<usize> {
    let mut mark = vec![false; nx * ny];
    for &p in pixels {
        let (i, j) = (p / nx, p % nx);
        for ii in i.saturating_sub(radius)..=(i + radius).min(ny - 1) {
            for jj in j.saturating_sub(radius)..=(j + radius).min(nx - 1) {
                mark[ii * nx + jj] = true;
            }
        }
    }
    (0..nx * ny).filter(|&p| mark[p]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lens galaxy (round Gaussian, peak 1) at column 30, row 34 and a
    /// brighter arc (a ridge of peak 2.5 on the circle r = 12 px about it).
    fn galaxy_and_arc(n: usize) -> Vec<f64> {
        let (gx, gy) = (30.0, 34.0);
        (0..n * n)
            .map(|p| {
                let (x, y) = ((p % n) as f64, (p / n) as f64);
                let (dx, dy) = (x - gx, y - gy);
                let r = dx.hypot(dy);
                let galaxy = (-(dx * dx + dy * dy) / (2.0 * 3.0_f64.powi(2))).exp();
                let along = dy.atan2(dx);
                let arc = 2.5 * (-(r - 12.0).powi(2) / (2.0 * 1.2_f64.powi(2))).exp() * (-(along / 0.8).powi(2)).exp();
                galaxy + arc
            })
            .collect()
    }

    #[test]
    fn the_centre_is_the_galaxy_not_the_brighter_arc() {
        let n = 64;
        let data = galaxy_and_arc(n);
        let sigma = vec![0.01; n * n];
        let (x, y) = find_center(&data, &sigma, n, n);
        assert!((x - 30.0).abs() < 0.5 && (y - 34.0).abs() < 0.5, "centre ({x}, {y}), galaxy at (30, 34)");
        // The arc is the brightest point of the image: brightness alone would pick it.
        let brightest = (0..n * n).max_by(|&a, &b| data[a].total_cmp(&data[b])).unwrap();
        assert!(((brightest % n) as f64 - 42.0).abs() < 1.5, "the arc's peak is near column 42");
    }
}
