//! The simulator's lensing conserves surface brightness and flux.

use astrorim_sim::draw::{draw, sample_rng, LensDraw, SieDraw};
use astrorim_sim::preset::builtin;
use astrorim_sim::scene::render_expected;

#[test]
fn uniform_source_stays_uniform_under_lensing() {
    // Surface brightness conservation: a uniform source grid gives a uniform
    // lensed image wherever the rays land on the grid.
    let mut p = builtin("v1").unwrap();
    p.lens_light.enabled = false;
    p.image.source_fov = 2.0;
    let mut d = draw(&p, "v1", 0, &mut sample_rng(1, 0));
    d.source.components.clear();
    d.source.clumps.clear();
    d.source.spiral = None;
    // A very wide, flat Gaussian stands in for a uniform source.
    d.source.components.push(astrorim_sim::draw::SersicDraw { flux: 1.0, r_sersic: 1e3, n: 0.5, e1: 0.0, e2: 0.0, x: 0.0, y: 0.0 });
    d.source.flux = 1.0;
    let (image, source) = render_expected(&d, &p);
    let level = source[source.len() / 2 + 48] as f64;
    let n = p.image.size;
    for i in 20..n - 20 {
        for j in 20..n - 20 {
            let v = image[i * n + j];
            assert!((v / level - 1.0).abs() < 1e-3, "pixel ({i}, {j}): {v} vs {level}");
        }
    }
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
