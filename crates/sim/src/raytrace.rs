//! Fast ray shooting for the simulator: f32, eight rays at a time (`wide`),
//! for the SIE, SIS and external shear that every sample has; rarer
//! components (the NFW halo) use the f64 reference profiles of
//! `astrorim-physics`. Hand-vectorized because no crate evaluates lens
//! deflections in SIMD; `tests` bind it to the reference to 1e-5 arcsec.

use crate::draw::LensDraw;
use astrorim_physics::ellipticity::e1e2_to_q_phi;
use astrorim_physics::mass::{MassProfile, Nfw};
use wide::f32x8;

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

    /// Source-plane positions β = θ − α(θ) of the rays at `x[i]`, `y[i]`.
    pub fn ray_shoot(&self, x: &[f32], y: &[f32], bx: &mut [f32], by: &mut [f32]) {
        let n = x.len();
        assert!(y.len() == n && bx.len() == n && by.len() == n);
        let mut i = 0;
        while i + 8 <= n {
            let xs = f32x8::from(<[f32; 8]>::try_from(&x[i..i + 8]).expect("8 lanes"));
            let ys = f32x8::from(<[f32; 8]>::try_from(&y[i..i + 8]).expect("8 lanes"));
            let (ax, ay) = self.deflection8(xs, ys);
            bx[i..i + 8].copy_from_slice(&(xs - ax).to_array());
            by[i..i + 8].copy_from_slice(&(ys - ay).to_array());
            i += 8;
        }
        if i < n {
            let mut xs = [0f32; 8];
            let mut ys = [0f32; 8];
            xs[..n - i].copy_from_slice(&x[i..]);
            ys[..n - i].copy_from_slice(&y[i..]);
            let (xv, yv) = (f32x8::from(xs), f32x8::from(ys));
            let (ax, ay) = self.deflection8(xv, yv);
            bx[i..].copy_from_slice(&(xv - ax).to_array()[..n - i]);
            by[i..].copy_from_slice(&(yv - ay).to_array()[..n - i]);
        }
        if let Some(nfw) = &self.nfw {
            for k in 0..n {
                let (ax, ay) = nfw.deflection(x[k] as f64, y[k] as f64);
                bx[k] -= ax as f32;
                by[k] -= ay as f32;
            }
        }
    }

    /// Deflection of eight rays by the SIEs, SIS subhalos and shear.
    fn deflection8(&self, x: f32x8, y: f32x8) -> (f32x8, f32x8) {
        let one = f32x8::splat(1.0);
        let tiny = f32x8::splat(1e-12);
        let mut ax = f32x8::splat(self.gamma1) * x + f32x8::splat(self.gamma2) * y;
        let mut ay = f32x8::splat(self.gamma2) * x - f32x8::splat(self.gamma1) * y;
        for s in &self.sies {
            let dx = x - f32x8::splat(s.cx);
            let dy = y - f32x8::splat(s.cy);
            let (c, sn) = (f32x8::splat(s.cos), f32x8::splat(s.sin));
            let xp = c * dx + sn * dy;
            let yp = c * dy - sn * dx;
            let q = f32x8::splat(s.q);
            // NIE with a vanishing core, major-axis frame (see astrorim-physics mass::sie).
            let psi = (q * q * xp * xp + yp * yp).sqrt().max(tiny);
            let e = f32x8::splat(s.e);
            let ax_p = (e * xp / psi).atan();
            let z = e * yp / psi;
            // atanh z = ½ ln1p(2z/(1−z)), accurate for small z.
            let ay_p = f32x8::splat(0.5) * (f32x8::splat(2.0) * z / (one - z)).ln_1p();
            let scale = f32x8::splat(s.scale);
            let (ax_p, ay_p) = (scale * ax_p, scale * ay_p);
            ax += c * ax_p - sn * ay_p;
            ay += sn * ax_p + c * ay_p;
        }
        for &(t, cx, cy) in &self.sises {
            let dx = x - f32x8::splat(cx);
            let dy = y - f32x8::splat(cy);
            let inv_r = f32x8::splat(t) / (dx * dx + dy * dy).sqrt().max(tiny);
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
        fast.ray_shoot(&x, &y, &mut bx, &mut by);
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
}
