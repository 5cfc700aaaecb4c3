//! Fast ray shooting for the simulator: f32, `LANES` rays at a time (`wide`),
//! for the SIE, SIS and external shear that every sample has; rarer
//! components (the NFW halo) use the f64 reference profiles of
//! `astrorim-physics`. Hand-vectorized because no crate evaluates lens
//! deflections in SIMD; `tests` bind it to the reference to 1e-5 arcsec.

use crate::draw::LensDraw;
use crate::lanes::{self, I32Lanes, Lanes, LANES};
use astrorim_physics::ellipticity::e1e2_to_q_phi;
use astrorim_physics::mass::{MassProfile, Nfw};

/// Largest axis ratio used: √(1−q²) must stay representable.
const Q_MAX: f64 = 1.0 - 1e-6;

#[derive(Debug, Clone, Copy)]
struct SieLanes {
    cx: f32,
    cy: f32,
    cos: f32,
    sin: f32,
    q: f32,
    /// b/√(1−q²) with b = θ_E √q.
    scale: f32,
    /// √(1−q²).
    e: f32,
}

/// A lens prepared for vectorized ray shooting.
pub struct FastLens {
    sies: Vec<SieLanes>,
    sises: Vec<(f32, f32, f32)>,
    gamma1: f32,
    gamma2: f32,
    nfw: Option<Nfw>,
}

impl FastLens {
    pub fn new(lens: &LensDraw) -> Self {
        let sies = lens
            .sies
            .iter()
            .map(|s| {
                let (q, phi) = e1e2_to_q_phi(s.e1, s.e2);
                let q = q.min(Q_MAX);
                let e = (1.0 - q * q).sqrt();
                SieLanes {
                    cx: s.x as f32,
                    cy: s.y as f32,
                    cos: phi.cos() as f32,
                    sin: phi.sin() as f32,
                    q: q as f32,
                    scale: (s.theta_e * q.sqrt() / e) as f32,
                    e: e as f32,
                }
            })
            .collect();
        FastLens {
            sies,
            sises: lens.subhalos.iter().map(|&(t, x, y)| (t as f32, x as f32, y as f32)).collect(),
            gamma1: lens.gamma1 as f32,
            gamma2: lens.gamma2 as f32,
            nfw: lens.nfw.map(|(rs, a, x, y)| Nfw::new(rs, a, x, y)),
        }
    }

    /// Source-plane positions β = θ − α(θ) of the rays at (`x`, `y`).
    #[inline]
    pub fn ray_shoot(&self, x: Lanes, y: Lanes) -> (Lanes, Lanes) {
        let (ax, ay) = self.deflection(x, y);
        let (mut bx, mut by) = (x - ax, y - ay);
        if let Some(nfw) = &self.nfw {
            let (xs, ys) = (x.to_array(), y.to_array());
            let (mut bxs, mut bys) = (bx.to_array(), by.to_array());
            for l in 0..LANES {
                let (ax, ay) = nfw.deflection(xs[l] as f64, ys[l] as f64);
                bxs[l] -= ax as f32;
                bys[l] -= ay as f32;
            }
            (bx, by) = (Lanes::from(bxs), Lanes::from(bys));
        }
        (bx, by)
    }

    /// Deflection of `LANES` rays by the SIEs, SIS subhalos and shear.
    #[inline]
    fn deflection(&self, x: Lanes, y: Lanes) -> (Lanes, Lanes) {
        let one = Lanes::splat(1.0);
        let tiny = Lanes::splat(1e-12);
        let mut ax = Lanes::splat(self.gamma1) * x + Lanes::splat(self.gamma2) * y;
        let mut ay = Lanes::splat(self.gamma2) * x - Lanes::splat(self.gamma1) * y;
        for s in &self.sies {
            let dx = x - Lanes::splat(s.cx);
            let dy = y - Lanes::splat(s.cy);
            let (c, sn) = (Lanes::splat(s.cos), Lanes::splat(s.sin));
            let xp = c * dx + sn * dy;
            let yp = c * dy - sn * dx;
            let q = Lanes::splat(s.q);
            // NIE with a vanishing core, major-axis frame (see astrorim-physics mass::sie).
            let e_over_psi = Lanes::splat(s.e) / (q * q * xp * xp + yp * yp).sqrt().max(tiny);
            let ax_p = (e_over_psi * xp).atan();
            let z = e_over_psi * yp;
            // atanh z = ½ ln1p(2z/(1−z)), accurate for small z.
            let ay_p = Lanes::splat(0.5) * (Lanes::splat(2.0) * z / (one - z)).ln_1p();
            let scale = Lanes::splat(s.scale);
            let (ax_p, ay_p) = (scale * ax_p, scale * ay_p);
            ax += c * ax_p - sn * ay_p;
            ay += sn * ax_p + c * ay_p;
        }
        for &(t, cx, cy) in &self.sises {
            let dx = x - Lanes::splat(cx);
            let dy = y - Lanes::splat(cy);
            let inv_r = Lanes::splat(t) / (dx * dx + dy * dy).sqrt().max(tiny);
            ax += inv_r * dx;
            ay += inv_r * dy;
        }
        (ax, ay)
    }
}

/// Bilinear interpolation of a row-major `n × n` grid with pixel `scale`
/// centred on the origin (the grid convention of `PixelGrid`); zero outside.
#[inline]
pub fn bilinear(grid: &[f32], n: usize, scale: f32, x: f32, y: f32) -> f32 {
    let half = (n as f32 - 1.0) / 2.0;
    let u = x / scale + half;
    let v = y / scale + half;
    let last = (n - 1) as f32;
    if u >= 0.0 && v >= 0.0 && u < last && v < last {
        // Fully inside: u, v ≥ 0, so truncation is the floor.
        let (j0, i0) = (u as usize, v as usize);
        let (fx, fy) = (u - j0 as f32, v - i0 as f32);
        let k = i0 * n + j0;
        let (a, b, c, d) = (grid[k], grid[k + 1], grid[k + n], grid[k + n + 1]);
        return (1.0 - fy) * (a + fx * (b - a)) + fy * (c + fx * (d - c));
    }
    if !(u > -1.0 && v > -1.0 && u < n as f32 && v < n as f32) {
        return 0.0;
    }
    let (j0, i0) = (u.floor(), v.floor());
    let (fx, fy) = (u - j0, v - i0);
    let (j0, i0) = (j0 as isize, i0 as isize);
    let at = |i: isize, j: isize| -> f32 {
        if i < 0 || j < 0 || i >= n as isize || j >= n as isize {
            0.0
        } else {
            grid[i as usize * n + j as usize]
        }
    };
    (1.0 - fy) * ((1.0 - fx) * at(i0, j0) + fx * at(i0, j0 + 1)) + fy * ((1.0 - fx) * at(i0 + 1, j0) + fx * at(i0 + 1, j0 + 1))
}

/// [`bilinear`] of the grid at the rays (`bx`, `by`): interior lanes by
/// hardware gathers, lanes beyond the grid's zero border give 0 without
/// loads, lanes on the border take the scalar path.
#[inline]
pub fn bilinear_lanes(grid: &[f32], n: usize, scale: f32, bx: Lanes, by: Lanes) -> Lanes {
    assert!(grid.len() == n * n && n >= 2);
    let half = Lanes::splat((n as f32 - 1.0) / 2.0);
    let (zero, minus_one, inv_scale) = (Lanes::splat(0.0), Lanes::splat(-1.0), Lanes::splat(1.0 / scale));
    let (last, side) = (Lanes::splat((n - 1) as f32), Lanes::splat(n as f32));
    let u = bx * inv_scale + half;
    let v = by * inv_scale + half;
    let touching = u.simd_gt(minus_one) & v.simd_gt(minus_one) & u.simd_lt(side) & v.simd_lt(side);
    if !touching.any() {
        return zero;
    }
    let interior = u.simd_ge(zero) & v.simd_ge(zero) & u.simd_lt(last) & v.simd_lt(last);
    // Interior lanes: u, v ≥ 0, so truncation is the floor; other lanes read pixel 0.
    let (uc, vc) = (interior.select(u, zero), interior.select(v, zero));
    let (j0, i0) = (uc.trunc_int(), vc.trunc_int());
    let (fx, fy) = (uc - j0.round_float(), vc - i0.round_float());
    let k = (i0 * I32Lanes::splat(n as i32) + j0).to_array();
    let a = lanes::gather(grid, k);
    let b = lanes::gather(grid, k.map(|k| k + 1));
    let c = lanes::gather(grid, k.map(|k| k + n as i32));
    let d = lanes::gather(grid, k.map(|k| k + n as i32 + 1));
    let value = interior.select((Lanes::splat(1.0) - fy) * (a + fx * (b - a)) + fy * (c + fx * (d - c)), zero);
    let border = (touching & !interior).to_bitmask();
    if border == 0 {
        return value;
    }
    let (mut out, bx, by) = (value.to_array(), bx.to_array(), by.to_array());
    for l in (0..LANES).filter(|l| border & (1 << l) != 0) {
        out[l] = bilinear(grid, n, scale, bx[l], by[l]);
    }
    Lanes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::SieDraw;

    #[test]
    fn matches_the_reference_lens_model() {
        let lens = LensDraw {
            sies: vec![
                SieDraw { theta_e: 1.2, e1: 0.2, e2: -0.1, x: 0.03, y: -0.02 },
                SieDraw { theta_e: 0.4, e1: 0.0, e2: 0.05, x: 1.5, y: 0.7 },
                SieDraw { theta_e: 0.8, e1: 0.0, e2: 0.0, x: -1.0, y: 0.0 },
            ],
            subhalos: vec![(0.01, 0.9, 0.4)],
            gamma1: 0.04,
            gamma2: -0.02,
            nfw: Some((15.0, 0.8, 0.03, -0.02)),
        };
        let fast = FastLens::new(&lens);
        let reference = lens.model();
        let n = 203;
        let x: Vec<f32> = (0..n).map(|k| -1.9 + 3.8 * k as f32 / n as f32).collect();
        let y: Vec<f32> = (0..n).map(|k| 1.7 - 3.1 * (k as f32 / n as f32).powi(2)).collect();
        let (mut bx, mut by) = (vec![0.0; n], vec![0.0; n]);
        for start in (0..n).step_by(LANES) {
            let (sx, sy) = fast.ray_shoot(lanes::load(&x, start), lanes::load(&y, start));
            lanes::store(sx, &mut bx, start);
            lanes::store(sy, &mut by, start);
        }
        for k in 0..n {
            let (rx, ry) = reference.ray_shoot(x[k] as f64, y[k] as f64);
            assert!(
                (rx - bx[k] as f64).abs() < 1e-5 && (ry - by[k] as f64).abs() < 1e-5,
                "ray {k}: ({rx}, {ry}) vs ({}, {})",
                bx[k],
                by[k]
            );
        }
    }

    #[test]
    fn bilinear_reproduces_linear_functions_and_grid_values() {
        let n = 8;
        let s = 0.1f32;
        let half = (n as f32 - 1.0) / 2.0;
        let grid: Vec<f32> = (0..n * n).map(|k| ((k % n) as f32 - half) * s * 2.0 + ((k / n) as f32 - half) * s).collect();
        let v = bilinear(&grid, n, s, 0.123, -0.077);
        assert!((v - (0.246 - 0.077)).abs() < 1e-5);
        assert_eq!(bilinear(&grid, n, s, 5.0, 0.0), 0.0);
    }

    /// Zero-padded bilinear interpolation written as a sum of tent
    /// functions over every grid value (a different formulation from the
    /// code's), at grid coordinates (u, v) = position / scale + (n − 1)/2.
    fn tent_reference(grid: &[f32], n: usize, u: f64, v: f64) -> f64 {
        let tent = |t: f64| (1.0 - t.abs()).max(0.0);
        (0..n * n).map(|k| grid[k] as f64 * tent(u - (k % n) as f64) * tent(v - (k / n) as f64)).sum()
    }

    #[test]
    fn interpolation_matches_tent_functions_inside_on_the_border_and_outside() {
        let (n, s) = (7usize, 0.1f32);
        let half = (n as f64 - 1.0) / 2.0;
        let grid: Vec<f32> = (0..n * n).map(|k| 1.0 + (k % n) as f32 + 10.0 * (k / n) as f32 + ((k * 37) % 11) as f32 / 7.0).collect();
        // A lattice of grid coordinates from −1.5 to n + 0.5 (outside, the
        // zero border, the interior, the last row and column exactly).
        let coords: Vec<f64> =
            (0..=4 * (n + 2)).map(|k| -1.5 + 0.25 * k as f64 + 0.01).chain([-1.0, 0.0, half, (n - 1) as f64, n as f64 - 0.5]).collect();
        let mut rays = Vec::new();
        for &u in &coords {
            for &v in &coords {
                rays.push(((u - half) * s as f64, (v - half) * s as f64, tent_reference(&grid, n, u, v)));
            }
        }
        for &(x, y, expected) in &rays {
            let got = bilinear(&grid, n, s, x as f32, y as f32) as f64;
            assert!((got - expected).abs() <= 2e-5 * expected.abs().max(1.0), "scalar at ({x}, {y}): {got} vs {expected}");
        }
        let (xs, ys): (Vec<f32>, Vec<f32>) = rays.iter().map(|r| (r.0 as f32, r.1 as f32)).unzip();
        let mut out = vec![f32::NAN; xs.len()];
        for start in (0..xs.len()).step_by(LANES) {
            lanes::store(bilinear_lanes(&grid, n, s, lanes::load(&xs, start), lanes::load(&ys, start)), &mut out, start);
        }
        for (k, &(x, y, expected)) in rays.iter().enumerate() {
            assert!((out[k] as f64 - expected).abs() <= 2e-5 * expected.abs().max(1.0), "lanes at ({x}, {y}): {} vs {expected}", out[k]);
        }
    }

    #[test]
    fn vectorized_lanes_equal_the_scalar_interpolation() {
        let n = 16;
        let s = 0.05f32;
        let grid: Vec<f32> = (0..n * n).map(|k| ((k * 7919) % 101) as f32 / 100.0).collect();
        // 37 rays: full chunks inside, chunks straddling the edge, a partial last chunk.
        let bx: Vec<f32> = (0..37).map(|k| -0.3 + 0.013 * k as f32 + if k > 24 { 0.5 } else { 0.0 }).collect();
        let by: Vec<f32> = (0..37).map(|k| 0.25 - 0.017 * k as f32).collect();
        let mut out = vec![f32::NAN; 37];
        for start in (0..37).step_by(LANES) {
            lanes::store(bilinear_lanes(&grid, n, s, lanes::load(&bx, start), lanes::load(&by, start)), &mut out, start);
        }
        for k in 0..37 {
            let scalar = bilinear(&grid, n, s, bx[k], by[k]);
            assert!((out[k] - scalar).abs() <= 1e-6, "ray {k}: {} vs {scalar}", out[k]);
        }
        assert!(out.contains(&0.0) && out.iter().any(|&v| v > 0.0));
    }
}
