//! The simulator images a source through the lens equation and conserves flux.

use astrorim_sim::draw::{draw, sample_rng, LensDraw, SieDraw};
use astrorim_sim::preset::builtin;
use astrorim_sim::scene::render_expected;

#[test]
fn a_smooth_source_behind_an_sis_images_as_the_lens_equation_says() {
    // The simulator's image of an n = ½ Sérsic (a Gaussian, ln I linear in
    // R²) behind an SIS, against I_src(β) at β = θ − θ_E θ/|θ| (the SIS
    // deflection written out here): the ratio is one constant (the flux
    // normalization) over every pixel away from the lens centre.
    let mut p = builtin("v1").unwrap();
    p.lens_light.enabled = false;
    p.image.source_fov = 2.0;
    let mut d = draw(&p, "v1", 0, &mut sample_rng(1, 0));
    let theta_e = 1.1;
    d.lens = LensDraw { sies: vec![SieDraw { theta_e: 1.1, e1: 0.0, e2: 0.0, x: 0.0, y: 0.0 }], ..Default::default() };
    d.source.components.clear();
    d.source.clumps.clear();
    d.source.spiral = None;
    let (re, cx, cy) = (1.6, 0.3, -0.2);
    d.source.components.push(astrorim_sim::draw::SersicDraw { flux: 1.0, r_sersic: re, n: 0.5, e1: 0.0, e2: 0.0, x: cx, y: cy });
    d.source.flux = 1.0;
    // A PSF far below the pixel scale, so that the image is the lensed source itself.
    d.psf = astrorim_sim::draw::PsfDraw { shape: astrorim_physics::psf::PsfShape::Gaussian { fwhm: 1e-3, e1: 0.0, e2: 0.0 }, coma: None };
    let (image, _) = render_expected(&d, &p);
    let (n, s) = (p.image.size, d.pixel_scale);
    let k = 1.9992 * 0.5 - 0.3271;
    let mut ratios = Vec::new();
    for i in 8..n - 8 {
        for j in 8..n - 8 {
            let (x, y) = ((j as f64 - (n as f64 - 1.0) / 2.0) * s, (i as f64 - (n as f64 - 1.0) / 2.0) * s);
            let r = x.hypot(y);
            if r < 0.3 {
                continue;
            }
            // The pixel's mean over its 4 × 4 rays, as the simulator's pixels are.
            let mut expected = 0.0;
            for a in 0..4 {
                for b in 0..4 {
                    let (xs, ys) = (x + ((b as f64 + 0.5) / 4.0 - 0.5) * s, y + ((a as f64 + 0.5) / 4.0 - 0.5) * s);
                    let rs = xs.hypot(ys);
                    let (bx, by) = (xs - theta_e * xs / rs, ys - theta_e * ys / rs);
                    expected += (-k * ((bx - cx).powi(2) + (by - cy).powi(2)) / (re * re)).exp() / 16.0;
                }
            }
            ratios.push(image[i * n + j] / expected);
        }
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let worst = ratios.iter().fold(0.0f64, |m, r| m.max((r / mean - 1.0).abs()));
    assert!(worst < 2e-3, "image / (I_src at the SIS-traced β) varies by {worst:.2e} across pixels");
}

#[test]
fn unlensed_flux_is_the_source_flux() {
    let mut p = builtin("v1").unwrap();
    p.lens_light.enabled = false;
    let mut d = draw(&p, "v1", 3, &mut sample_rng(2, 3));
    d.lens = LensDraw { sies: vec![SieDraw { theta_e: 0.0, e1: 0.0, e2: 0.0, x: 0.0, y: 0.0 }], ..Default::default() };
    d.source.x = 0.0;
    d.source.y = 0.0;
    for c in &mut d.source.components {
        c.x = 0.0;
        c.y = 0.0;
    }
    let (image, _) = render_expected(&d, &p);
    let total: f64 = image.iter().sum();
    assert!((total / d.source.flux - 1.0).abs() < 2e-3, "{total} vs {}", d.source.flux);
}
