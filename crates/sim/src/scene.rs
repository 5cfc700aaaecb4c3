//! Rendering one sample's noiseless light: the source on its grid, the
//! lensed image by ray shooting at super resolution, lens light and
//! contaminants, the PSF at super resolution, and block averaging.
//!
//! Units: the source grid holds surface brightness × image-pixel area (ADU
//! per image pixel, as the source would appear unlensed), so the lensed
//! image is the mean of the grid sampled at β over each pixel's rays, and
//! flux is conserved by construction. Both the stored ground truth and the
//! lensed image come from this one grid.

use crate::draw::{Draw, PsfDraw, SersicDraw};
use crate::preset::Preset;
use crate::raytrace::{bilinear, FastLens};
use astrorim_physics::convolve::convolve_same;
use astrorim_physics::light::LightProfile;
use astrorim_physics::psf::{Kernel, PsfShape};
use astrorim_physics::PixelGrid;

/// Sub-samples per source pixel and axis when rendering the source grid.
const SOURCE_SUBSAMPLING: usize = 2;
/// Longest super-resolution PSF kernel side, in super pixels.
const MAX_SUPER_KERNEL: usize = 257;

/// The source grid: `size × size`, row-major, ADU per image pixel.
pub fn render_source(draw: &Draw, preset: &Preset) -> Vec<f32> {
    let n = preset.image.source_size;
    let scale = draw.truth.source_pixel_scale;
    let grid = PixelGrid::new(n, n, scale, SOURCE_SUBSAMPLING).expect("valid source grid");
    let offsets = grid.subpixel_offsets();
    let src = &draw.source;
    let profiles: Vec<_> = src.components.iter().map(|c| c.profile()).collect();
    let smooth = grid.map(|xc, yc| {
        let mut acc = 0.0;
        for &dy in &offsets {
            for &dx in &offsets {
                let (x, y) = (xc + dx, yc + dy);
                let mut sb: f64 = profiles.iter().map(|p| p.surface_brightness(x, y)).sum();
                if let Some((amp, phi0, r_max)) = src.spiral {
                    let (u, v) = (x - src.x, y - src.y);
                    sb *= 1.0 + amp * (3.0 * v.atan2(u) + 5.0 * u.hypot(v) / r_max + phi0).sin();
                }
                acc += sb;
            }
        }
        acc / (offsets.len() * offsets.len()) as f64
    });
    let peak = smooth.data.iter().cloned().fold(0.0, f64::max);
    let mut data = smooth.data;
    for &(amp, sigma, cx, cy) in &src.clumps {
        let (a, inv) = (amp * peak, 1.0 / (2.0 * sigma * sigma));
        for i in 0..n {
            let y = grid.y_of_row(i) - cy;
            for j in 0..n {
                let x = grid.x_of_col(j) - cx;
                data[i * n + j] += a * (-(x * x + y * y) * inv).exp();
            }
        }
    }
    // Normalize: Σ x · (s_src/s_img)² = total source flux (ADU).
    let area_ratio = (scale / draw.pixel_scale).powi(2);
    let total: f64 = data.iter().sum::<f64>() * area_ratio;
    let norm = if total > 0.0 { src.flux / total } else { 0.0 };
    data.iter().map(|&v| (v * norm) as f32).collect()
}

/// The PSF of `psf` sampled on pixels of `scale` arcsec (`subsampling²`
/// samples per pixel), with its coma lobe: a displaced copy twice as wide
/// carrying the given fraction of the flux.
pub fn psf_kernel(psf: &PsfDraw, scale: f64, size: usize, subsampling: usize) -> Kernel {
    let core = Kernel::sample_shifted(psf.shape, scale, size, (0.0, 0.0), subsampling);
    match psf.coma {
        None => core,
        Some((strength, dx, dy)) => {
            let lobe = Kernel::sample_shifted(widen(psf.shape, 2.0), scale, size, (dx, dy), subsampling);
            let mixed = core.data().iter().zip(lobe.data()).map(|(a, b)| (1.0 - strength) * a + strength * b).collect();
            Kernel::from_pixels(size, size, mixed).expect("a mixture of normalized kernels is a valid kernel")
        }
    }
}

fn widen(shape: PsfShape, factor: f64) -> PsfShape {
    match shape {
        PsfShape::Gaussian { fwhm, e1, e2 } => PsfShape::Gaussian { fwhm: fwhm * factor, e1, e2 },
        PsfShape::Moffat { fwhm, beta, e1, e2 } => PsfShape::Moffat { fwhm: fwhm * factor, beta, e1, e2 },
        PsfShape::Airy { fwhm } => PsfShape::Airy { fwhm: fwhm * factor },
    }
}

/// Adds a Sérsic evaluated at the super-resolution grid inside a box of
/// ±10 R_e (beyond it the profile is negligible for the contaminants).
fn add_sersic_boxed(buf: &mut [f32], ns: usize, super_scale: f64, weight: f64, g: &SersicDraw) {
    let profile = g.profile();
    let half = (ns as f64 - 1.0) / 2.0;
    let r = 10.0 * g.r_sersic / super_scale;
    let (cj, ci) = (g.x / super_scale + half, g.y / super_scale + half);
    let (j0, j1) = ((cj - r).floor().max(0.0) as usize, ((cj + r).ceil().max(0.0) as usize).min(ns));
    let (i0, i1) = ((ci - r).floor().max(0.0) as usize, ((ci + r).ceil().max(0.0) as usize).min(ns));
    for i in i0..i1 {
        let y = (i as f64 - half) * super_scale;
        for j in j0..j1 {
            let x = (j as f64 - half) * super_scale;
            buf[i * ns + j] += (profile.surface_brightness(x, y) * weight) as f32;
        }
    }
}

/// The noiseless detector-resolution image (ADU per pixel, before sky and
/// detector effects) and the source grid it was lensed from.
pub fn render_expected(draw: &Draw, preset: &Preset) -> (Vec<f64>, Vec<f32>) {
    let n = preset.image.size;
    let ss = preset.image.supersampling;
    let ns = n * ss;
    let s = draw.pixel_scale;
    let super_scale = s / ss as f64;
    let source = render_source(draw, preset);
    let n_src = preset.image.source_size;
    let src_scale = draw.truth.source_pixel_scale as f32;

    let lens = FastLens::new(&draw.lens);
    let half = (ns as f32 - 1.0) / 2.0;
    let mut buf = vec![0f32; ns * ns];
    let xs: Vec<f32> = (0..ns).map(|j| (j as f32 - half) * super_scale as f32).collect();
    let mut ys = vec![0f32; ns];
    let (mut bx, mut by) = (vec![0f32; ns], vec![0f32; ns]);
    let lens_light = draw.lens_light.map(|l| FastSersic::new(&l, s * s));
    for i in 0..ns {
        ys.fill((i as f32 - half) * super_scale as f32);
        lens.ray_shoot(&xs, &ys, &mut bx, &mut by);
        let row = &mut buf[i * ns..(i + 1) * ns];
        for j in 0..ns {
            row[j] = bilinear(&source, n_src, src_scale, bx[j], by[j]);
        }
        if let Some(ll) = &lens_light {
            ll.add_row(&xs, ys[0], row);
        }
    }
    // Unlensed contaminants: field galaxies, and stars as points (the PSF shapes them).
    for g in &draw.contaminants.galaxies {
        add_sersic_boxed(&mut buf, ns, super_scale, s * s, g);
    }
    for &(flux, x, y) in &draw.contaminants.stars {
        let (j, i) = ((x / super_scale + half as f64).round(), (y / super_scale + half as f64).round());
        if (0.0..ns as f64).contains(&j) && (0.0..ns as f64).contains(&i) {
            // A point of `flux` ADU in one super pixel: the block mean divides by ss².
            buf[i as usize * ns + j as usize] += (flux * (ss * ss) as f64) as f32;
        }
    }
    let size = Kernel::default_size(draw.psf.shape, super_scale).min(MAX_SUPER_KERNEL);
    let kernel = psf_kernel(&draw.psf, super_scale, size, 1);
    let k32: Vec<f32> = kernel.data().iter().map(|&v| v as f32).collect();
    let conv = convolve_same(&buf, ns, ns, &k32, kernel.size());
    let mut out = vec![0f64; n * n];
    let inv = 1.0 / (ss * ss) as f64;
    for i in 0..ns {
        for j in 0..ns {
            out[(i / ss) * n + j / ss] += conv[i * ns + j] as f64;
        }
    }
    out.iter_mut().for_each(|v| *v *= inv);
    (out, source)
}

/// An elliptical Sérsic evaluated eight pixels at a time.
pub struct FastSersic {
    amp: f32,
    cx: f32,
    cy: f32,
    cos: f32,
    sin: f32,
    q: f32,
    inv_r: f32,
    inv_n: f32,
    k: f32,
}

impl FastSersic {
    /// `area` converts surface brightness to the buffer's unit (× pixel area).
    pub fn new(l: &SersicDraw, area: f64) -> Self {
        let (q, phi) = astrorim_physics::ellipticity::e1e2_to_q_phi(l.e1, l.e2);
        FastSersic {
            amp: (l.amp() * area) as f32,
            cx: l.x as f32,
            cy: l.y as f32,
            cos: phi.cos() as f32,
            sin: phi.sin() as f32,
            q: q as f32,
            inv_r: (1.0 / l.r_sersic) as f32,
            inv_n: (1.0 / l.n) as f32,
            k: astrorim_physics::light::sersic_k(l.n) as f32,
        }
    }

    pub fn add_row(&self, xs: &[f32], y: f32, row: &mut [f32]) {
        use wide::f32x8;
        let dy = f32x8::splat(y - self.cy);
        let (c, s) = (f32x8::splat(self.cos), f32x8::splat(self.sin));
        let q = f32x8::splat(self.q);
        let mut j = 0;
        while j < xs.len() {
            let mut lane = [0f32; 8];
            let m = (xs.len() - j).min(8);
            lane[..m].copy_from_slice(&xs[j..j + m]);
            let dx = f32x8::from(lane) - f32x8::splat(self.cx);
            let xp = c * dx + s * dy;
            let yp = c * dy - s * dx;
            let r = ((q * xp * xp + yp * yp / q).sqrt() * f32x8::splat(self.inv_r)).max(f32x8::splat(1e-5));
            let pw = (r.ln() * f32x8::splat(self.inv_n)).exp();
            let v = f32x8::splat(self.amp) * (f32x8::splat(-self.k) * (pw - f32x8::splat(1.0))).exp();
            for (o, val) in row[j..j + m].iter_mut().zip(v.to_array()) {
                *o += val;
            }
            j += 8;
        }
    }
}
