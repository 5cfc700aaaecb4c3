//! Ray-shooting renderer (lenstronomy's ImSim without noise).
//!
//! Each pixel is sampled at `supersampling²` sub-pixel centres; a ray at θ
//! sees source light at β = θ − α(θ) plus lens light at θ. The pixel value is
//! the mean sub-pixel surface brightness times the pixel area (flux per
//! pixel), and the PSF is then applied at the pixel resolution.

use crate::convolve::convolve_fft;
use crate::light::LightModel;
use crate::mass::LensModel;
use crate::psf::Kernel;
use crate::{Image, PixelGrid};

/// Everything needed to render one noiseless image.
#[derive(Debug)]
pub struct Scene {
    pub grid: PixelGrid,
    pub lens: LensModel,
    pub source: LightModel,
    pub lens_light: LightModel,
    pub psf: Option<Kernel>,
}

/// Flux per pixel of lensed source + lens light, before the PSF.
pub fn render_unconvolved(scene: &Scene) -> Image {
    let grid = &scene.grid;
    let offsets = grid.subpixel_offsets();
    let weight = grid.pixel_area() / (offsets.len() * offsets.len()) as f64;
    grid.map(|xc, yc| {
        let mut acc = 0.0;
        for &dy in &offsets {
            for &dx in &offsets {
                let (x, y) = (xc + dx, yc + dy);
                let (bx, by) = scene.lens.ray_shoot(x, y);
                acc += scene.source.surface_brightness(bx, by) + scene.lens_light.surface_brightness(x, y);
            }
        }
        acc * weight
    })
}

/// The observed noiseless image: [`render_unconvolved`] convolved with the PSF.
pub fn render(scene: &Scene) -> Image {
    let image = render_unconvolved(scene);
    match &scene.psf {
        Some(kernel) => convolve_fft(&image, kernel),
        None => image,
    }
}

/// Deflection (α_x, α_y) and convergence κ at pixel centres.
pub fn lens_maps(grid: &PixelGrid, lens: &LensModel) -> [Image; 3] {
    [grid.map(|x, y| lens.deflection(x, y).0), grid.map(|x, y| lens.deflection(x, y).1), grid.map(|x, y| lens.kappa(x, y))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light::Gaussian;
    use crate::mass::Sie;

    #[test]
    fn unlensed_gaussian_flux_is_its_amplitude() {
        let scene = Scene {
            grid: PixelGrid::new(64, 64, 0.05, 3).unwrap(),
            lens: LensModel::default(),
            source: LightModel::new(vec![Box::new(Gaussian::new(2.0, 0.2, 0.03, -0.01))]),
            lens_light: LightModel::default(),
            psf: None,
        };
        assert!((render(&scene).sum() - 2.0).abs() < 1e-6);
    }

    #[test]
    fn uniform_source_keeps_uniform_surface_brightness() {
        // Lensing conserves surface brightness: a uniform source stays uniform.
        let scene = Scene {
            grid: PixelGrid::new(32, 32, 0.1, 2).unwrap(),
            lens: LensModel::new(vec![Box::new(Sie::new(1.0, 0.1, 0.05, 0.0, 0.0))]),
            source: LightModel::new(vec![Box::new(Gaussian::new(2.0 * std::f64::consts::PI * 1e8, 1e4, 0.0, 0.0))]),
            lens_light: LightModel::default(),
            psf: None,
        };
        let image = render(&scene);
        let expected = 1.0 * 0.01;
        assert!(image.data.iter().all(|v| (v - expected).abs() < 1e-9), "{:?}", &image.data[..4]);
    }
}
