//! The forward operator against the f64 physics renderer, its adjoint, and
//! its gradients against finite differences.

use astrorim_nn::forward::ForwardOperator;
use astrorim_physics::light::{Gaussian, LightModel, LightProfile, Sersic};
use astrorim_physics::mass::{LensModel, Nfw, Shear, Sie};
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::psf::Kernel;
use astrorim_physics::render::{render, Scene};
use astrorim_physics::PixelGrid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

const N: usize = 48;
const S: f64 = 0.06;
const SS: usize = 4;

fn device() -> Device {
    Device::default()
}

fn lens() -> LenstronomyLens {
    LenstronomyLens {
        theta_E: 0.95,
        e1: 0.12,
        e2: -0.07,
        center_x: 0.04,
        center_y: -0.03,
        gamma1: 0.03,
        gamma2: -0.02,
        Rs: 3.0,
        alpha_Rs: 0.35,
    }
}

fn theta_tensor(l: &LenstronomyLens, device: &Device) -> Tensor<2> {
    let a = l.to_astrorim(N, S).to_array();
    Tensor::from_data(TensorData::new(a.iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 9]), device)
}

fn kernel() -> Kernel {
    let rows: Vec<f64> = (0..49)
        .map(|k| {
            let (x, y) = ((k % 7) as f64 - 3.0, (k / 7) as f64 - 3.0);
            (-(x * x / 2.0 + y * y / 1.2) / 1.5).exp() * (1.0 + 0.2 * x).max(0.1)
        })
        .collect();
    Kernel::from_pixels(7, 7, rows).unwrap()
}

fn to_vec(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn agrees_with_the_physics_renderer() {
    let device = device();
    let l = lens();
    let source_profile = Gaussian::new(1.0, 0.12, 0.05, -0.03);
    // Source grid: M = 192 pixels over ±0.6 normalized units (0.0045″ pixels).
    let (m, half) = (192usize, 0.6f32);
    let unit = N as f64 / 2.0 * S;
    let src_scale = 2.0 * half as f64 * unit / m as f64;
    let src: Vec<f32> = (0..m * m)
        .map(|k| {
            let (x, y) = (((k % m) as f64 - (m as f64 - 1.0) / 2.0) * src_scale, ((k / m) as f64 - (m as f64 - 1.0) / 2.0) * src_scale);
            (source_profile.surface_brightness(x, y) * S * S) as f32
        })
        .collect();
    let op = ForwardOperator::new(N, SS, m, half, &device);
    let k = kernel();
    let psf = Tensor::from_data(TensorData::new(k.data().iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 1, 7, 7]), &device);
    let ours = to_vec(op.forward(&Tensor::from_data(TensorData::new(src, [1, 1, m, m]), &device), &theta_tensor(&l, &device), &psf, None));

    let scene = Scene {
        grid: PixelGrid::new(N, N, S, SS).unwrap(),
        lens: LensModel::new(vec![
            Box::new(Sie::new(l.theta_E, l.e1, l.e2, l.center_x, l.center_y)),
            Box::new(Shear::new(l.gamma1, l.gamma2, 0.0, 0.0)),
            Box::new(Nfw::new(l.Rs, l.alpha_Rs, l.center_x, l.center_y)),
        ]),
        source: LightModel::new(vec![Box::new(source_profile)]),
        lens_light: LightModel::default(),
        psf: Some(k),
    };
    let reference = render(&scene);
    let num: f64 = reference.data.iter().zip(&ours).map(|(a, b)| (a - *b as f64).powi(2)).sum();
    let den: f64 = reference.data.iter().map(|a| a * a).sum();
    let rel = (num / den).sqrt();
    assert!(rel < 3e-3, "relative L2 difference {rel}");
}

/// One Sérsic: the differentiable operator's lens light (f32, normalized
/// to its flux in the field) has the renderer's f64 SERSIC shape, at several
/// indices including n = 0.5 and 1 where b_n approximations differ most.
#[test]
fn lens_light_is_the_renderers_sersic() {
    let device = device();
    let l = lens();
    let op = ForwardOperator::new(N, SS, 8, 1.0, &device);
    let unit = N as f64 / 2.0 * S;
    let theta = theta_tensor(&l, &device);
    for (r_e, n) in [(0.35, 0.5), (0.5, 1.0), (0.8, 2.5), (0.6, 4.0)] {
        let light = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, (r_e / unit) as f32, n as f32], [1, 3]), &device);
        let ours = to_vec(op.sersic_light(&theta, &light));
        let scene = Scene {
            grid: PixelGrid::new(N, N, S, SS).unwrap(),
            lens: LensModel::default(),
            source: LightModel::default(),
            lens_light: LightModel::new(vec![Box::new(Sersic::new(1.0, r_e, n, 0.0, 0.0, l.center_x, l.center_y))]),
            psf: None,
        };
        let reference = render(&scene);
        let total: f64 = reference.data.iter().sum();
        let num: f64 = reference.data.iter().zip(&ours).map(|(a, b)| (a / total - *b as f64).powi(2)).sum();
        let den: f64 = reference.data.iter().map(|a| (a / total).powi(2)).sum();
        let rel = (num / den).sqrt();
        assert!(rel < 1e-4, "n = {n}: relative L2 difference {rel:.2e} between the operator's and the renderer's Sérsic");
    }
}

/// The inversion's sparse operator (f64, arcsec, infer crate) and the RIM's
/// differentiable one (f32, normalized units, grid_sample) are one operator:
/// same rays, same bilinear convention, same pixel mean, same PSF.
#[test]
fn the_inversion_and_the_rim_share_one_operator() {
    use astrorim_infer::operator::{LensingOperator, SourceGrid};
    let device = device();
    let l = lens();
    let (m, half) = (40usize, 0.7f32);
    let unit = N as f64 / 2.0 * S;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let src: Vec<f64> = (0..m * m).map(|k| (((k % m) as f64 * 0.4).sin() + 1.2) * rng.gen_range(0.5..1.0)).collect();
    let k = kernel();
    let grid = SourceGrid { size: m, half_width: half as f64 * unit, center_x: 0.0, center_y: 0.0 };
    let sparse = LensingOperator::new(&PixelGrid::new(N, N, S, SS).unwrap(), &l.lens_model(), &grid, Some(&k), 0.0).apply(&src);
    let op = ForwardOperator::new(N, SS, m, half, &device);
    let psf = Tensor::from_data(TensorData::new(k.data().iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 1, 7, 7]), &device);
    let source = Tensor::from_data(TensorData::new(src.iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 1, m, m]), &device);
    let dense = to_vec(op.forward(&source, &theta_tensor(&l, &device), &psf, None));
    let num: f64 = sparse.iter().zip(&dense).map(|(a, b)| (a - *b as f64).powi(2)).sum();
    let den: f64 = sparse.iter().map(|a| a * a).sum();
    let rel = (num / den).sqrt();
    assert!(rel < 1e-5, "relative L2 difference {rel:.2e} between the inversion's and the RIM's operator");
}

#[test]
fn deflection_matches_the_physics_profiles_through_the_parameter_map() {
    let device = device();
    let l = lens();
    let op = ForwardOperator::new(N, 1, 8, 1.0, &device);
    let (ax, ay) = op.deflection(&theta_tensor(&l, &device));
    let (ax, ay) = (ax.into_data().try_into_vec::<f32>().unwrap(), ay.into_data().try_into_vec::<f32>().unwrap());
    let model = LensModel::new(vec![
        Box::new(Sie::new(l.theta_E, l.e1, l.e2, l.center_x, l.center_y)),
        Box::new(Shear::new(l.gamma1, l.gamma2, 0.0, 0.0)),
        Box::new(Nfw::new(l.Rs, l.alpha_Rs, l.center_x, l.center_y)),
    ]);
    let grid = PixelGrid::new(N, N, S, 1).unwrap();
    let unit = N as f64 / 2.0 * S;
    let mut worst: f64 = 0.0;
    for i in 0..N {
        for j in 0..N {
            let (rx, ry) = model.deflection(grid.x_of_col(j), grid.y_of_row(i));
            let k = i * N + j;
            worst = worst.max((rx - ax[k] as f64 * unit).abs()).max((ry - ay[k] as f64 * unit).abs());
        }
    }
    assert!(worst < 2e-5, "max deflection difference {worst} arcsec");
}

#[test]
fn adjoint_dot_product_test() {
    // ⟨F a, b⟩ = ⟨a, Fᵀ b⟩ with Fᵀ b the autodiff vector–Jacobian product.
    let device = device();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let m = 40;
    let op = ForwardOperator::new(N, 2, m, 0.8, &device);
    let theta = theta_tensor(&lens(), &device);
    let k = kernel();
    let psf = Tensor::from_data(TensorData::new(k.data().iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 1, 7, 7]), &device);
    for _ in 0..3 {
        let a: Vec<f32> = (0..m * m).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..N * N).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let at = Tensor::<4>::from_data(TensorData::new(a.clone(), [1, 1, m, m]), &device);
        let bt = Tensor::<4>::from_data(TensorData::new(b.clone(), [1, 1, N, N]), &device);
        let fa = to_vec(op.forward(&at, &theta, &psf, None));
        let lhs: f64 = fa.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let x = at.clone().autodiff().require_grad();
        let inner = (op.forward(&x, &theta, &psf, None) * bt.clone()).sum();
        let grads = inner.backward();
        let ftb = x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
        let rhs: f64 = a.iter().zip(&ftb).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(rhs.abs()).max(1.0), "⟨Fa, b⟩ = {lhs}, ⟨a, Fᵀb⟩ = {rhs}");
        // The bound operator (sparse sampling matrix, hand-written transpose)
        // is the same map and the same transpose.
        let f = op.bind(&theta, &psf, None);
        let close = |u: &[f32], v: &[f32], what: &str| {
            let scale = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            let worst = u.iter().zip(v).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(worst < 1e-5 * scale, "{what}: max difference {worst} (scale {scale})");
        };
        close(&to_vec(f.apply_linear(&at)), &fa, "bound F a");
        close(&to_vec(f.adjoint(&bt)), &ftb, "hand-written Fᵀ b");
    }
}

#[test]
fn likelihood_gradient_matches_finite_differences() {
    let device = device();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let m = 32;
    let op = ForwardOperator::new(N, 1, m, 0.8, &device);
    let theta = theta_tensor(&lens(), &device);
    let psf = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 0.1, 0.0, 0.1, 0.6, 0.1, 0.0, 0.1, 0.0], [1, 1, 3, 3]), &device);
    let x: Vec<f32> = (0..m * m).map(|_| rng.gen_range(0.0..1.0)).collect();
    let y: Vec<f32> = (0..N * N).map(|_| rng.gen_range(0.0..1.0)).collect();
    let sigma: Vec<f32> = (0..N * N).map(|_| rng.gen_range(0.5..2.0)).collect();
    let t = |v: Vec<f32>, n: usize| Tensor::<4>::from_data(TensorData::new(v, [1, 1, n, n]), &device);
    let (yt, st) = (t(y.clone(), N), t(sigma.clone(), N));
    let g = op.likelihood_gradient(&t(x.clone(), m), &theta, &psf, &yt, &st, None).into_data().try_into_vec::<f32>().unwrap();
    let chi2 = |xv: &[f32]| -> f64 {
        let f = to_vec(op.forward(&t(xv.to_vec(), m), &theta, &psf, None));
        f.iter().zip(&y).zip(&sigma).map(|((f, y), s)| 0.5 * ((*y as f64 - *f as f64) / *s as f64).powi(2)).sum()
    };
    // χ² is quadratic in x, so a central difference is exact up to rounding.
    let h = 0.05f32;
    let mut checked = 0;
    for k in (0..m * m).step_by(37) {
        if g[k].abs() < 1e-3 {
            continue;
        }
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[k] += h;
        xm[k] -= h;
        let fd = (chi2(&xp) - chi2(&xm)) / (2.0 * h as f64);
        assert!((fd - g[k] as f64).abs() < 2e-3 * fd.abs().max(1.0), "pixel {k}: autodiff {} vs finite difference {fd}", g[k]);
        checked += 1;
    }
    assert!(checked > 5, "too few source pixels inside the lensed footprint");
}

#[test]
fn parameter_gradient_matches_finite_differences() {
    let device = device();
    let m = 64;
    let op = ForwardOperator::new(N, 2, m, 0.8, &device);
    // A smooth source so that F is smooth in Θ.
    let src: Vec<f32> = (0..m * m)
        .map(|k| {
            let (x, y) = ((k % m) as f32 - 31.5, (k / m) as f32 - 30.0);
            (-(x * x + y * y) / (2.0 * 25.0)).exp()
        })
        .collect();
    let source = Tensor::<4>::from_data(TensorData::new(src, [1, 1, m, m]), &device);
    let psf = Tensor::<4>::from_data(TensorData::new(vec![1.0f32], [1, 1, 1, 1]), &device);
    let base = lens().to_astrorim(N, S).to_array().map(|v| v as f32);
    let objective = |th: &[f32; 9]| -> Tensor<1> {
        let theta = Tensor::<2>::from_data(TensorData::new(th.to_vec(), [1, 9]), &device);
        op.forward(&source, &theta, &psf, None).square().sum()
    };
    let theta = Tensor::<2>::from_data(TensorData::new(base.to_vec(), [1, 9]), &device).autodiff().require_grad();
    let value = op.forward(&source, &theta, &psf, None).square().sum();
    let grads = value.backward();
    let g = theta.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
    for (k, name) in [(0, "b"), (1, "q"), (2, "phi"), (3, "x0"), (4, "y0"), (5, "gamma"), (6, "gamma_phi"), (7, "kappa_s"), (8, "r_s")] {
        let h = 2e-3f32;
        let (mut p, mut mn) = (base, base);
        p[k] += h;
        mn[k] -= h;
        let fd = (objective(&p).into_scalar::<f32>() as f64 - objective(&mn).into_scalar::<f32>() as f64) / (2.0 * h as f64);
        assert!((fd - g[k] as f64).abs() < 0.01 * fd.abs().max(1e-2), "∂/∂{name}: autodiff {} vs finite difference {fd}", g[k]);
    }
}

#[test]
fn the_differentiable_binding_carries_the_likelihood_gradient_back_to_theta() {
    // Joint training's operator: the same values as the detached binding,
    // and ∂/∂Θ of a weighted sum of the likelihood gradient Fᵀ W (y − F x)
    // (what the RIM sees) equal to central differences.
    let device = device();
    let m = 64;
    let op = ForwardOperator::new(N, 2, m, 0.8, &device);
    let gauss = |n: usize, cx: f32, cy: f32, w: f32| -> Vec<f32> {
        (0..n * n)
            .map(|k| {
                let (x, y) = ((k % n) as f32 - cx, (k / n) as f32 - cy);
                (-(x * x + y * y) / (2.0 * w * w)).exp()
            })
            .collect()
    };
    let t = |v: Vec<f32>, n: usize| Tensor::<4>::from_data(TensorData::new(v, [1, 1, n, n]), &device);
    let source = t(gauss(m, 31.5, 30.0, 5.0), m);
    let observed = t(gauss(N, 22.0, 25.0, 9.0), N);
    let sigma = t(vec![0.3f32; N * N], N);
    let weight = t(gauss(m, 33.0, 29.0, 8.0), m);
    let background = t(gauss(N, 23.5, 23.5, 4.0).iter().map(|v| 0.2 * v).collect(), N);
    let psf = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 0.1, 0.0, 0.1, 0.6, 0.1, 0.0, 0.1, 0.0], [1, 1, 3, 3]), &device);
    let base = lens().to_astrorim(N, S).to_array().map(|v| v as f32);
    let theta_of = |th: &[f32; 9]| Tensor::<2>::from_data(TensorData::new(th.to_vec(), [1, 9]), &device);
    let objective = |th: &[f32; 9]| -> f64 {
        let g = op.bind(&theta_of(th), &psf, Some(&background)).likelihood_gradient(&source, &observed, &sigma);
        to_vec(g * weight.clone()).iter().map(|&v| v as f64).sum()
    };
    let theta = theta_of(&base).autodiff().require_grad();
    let f = op.bind_differentiable(&theta, &psf, Some(&background));
    let g = f.likelihood_gradient(&source, &observed, &sigma);
    let detached = to_vec(op.bind(&theta_of(&base), &psf, Some(&background)).likelihood_gradient(&source, &observed, &sigma));
    let (values, scale) = (to_vec(g.clone()), detached.iter().fold(0f32, |m, v| m.max(v.abs())));
    let worst = values.iter().zip(&detached).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-5 * scale, "the two bindings differ by {worst} (scale {scale})");
    let grads = (g * weight.clone()).sum().backward();
    let d = theta.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
    for (k, name) in [(0, "b"), (1, "q"), (2, "phi"), (3, "x0"), (5, "gamma"), (7, "kappa_s")] {
        let h = 2e-3f32;
        let (mut p, mut mn) = (base, base);
        p[k] += h;
        mn[k] -= h;
        let fd = (objective(&p) - objective(&mn)) / (2.0 * h as f64);
        assert!((fd - d[k] as f64).abs() < 0.02 * fd.abs().max(1e-1), "∂/∂{name}: autodiff {} vs finite difference {fd}", d[k]);
    }
}

#[test]
fn symmetries_commute_with_the_forward_operator() {
    // F(g·x; g·Θ, g·PSF) = g·F(x; Θ, PSF) for every flip/rotation g: the
    // augmentation transforms images, sources, kernels and parameters consistently.
    use astrorim_nn::data::Symmetry;
    let device = device();
    let m = 40;
    let op = ForwardOperator::new(N, 2, m, 0.8, &device);
    let theta: [f64; 9] = lens().to_astrorim(N, S).to_array();
    let k = kernel();
    let psf: Vec<f32> = k.data().iter().map(|&v| v as f32).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let source: Vec<f32> = (0..m * m).map(|i| ((i % m) as f32 * 0.3).sin().abs() * rng.gen_range(0.5..1.0)).collect();
    let t4 = |v: Vec<f32>, side: usize| Tensor::<4>::from_data(TensorData::new(v, [1, 1, side, side]), &device);
    let t2 = |t: [f64; 9]| Tensor::<2>::from_data(TensorData::new(t.iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 9]), &device);
    let image = to_vec(op.forward(&t4(source.clone(), m), &t2(theta), &t4(psf.clone(), 7), None));
    let scale = image.iter().fold(0f32, |a, b| a.max(b.abs()));
    for flip_x in [false, true] {
        for flip_y in [false, true] {
            for quarter_turns in 0..4 {
                let g = Symmetry { flip_x, flip_y, quarter_turns };
                let moved = to_vec(op.forward(&t4(g.image(&source, m), m), &t2(g.theta(&theta)), &t4(g.image(&psf, 7), 7), None));
                let expected = g.image(&image, N);
                let worst = moved.iter().zip(&expected).fold(0f32, |a, (x, y)| a.max((x - y).abs()));
                assert!(worst < 2e-4 * scale, "{g:?}: max difference {worst} (peak {scale})");
            }
        }
    }
}

#[test]
fn lens_light_holds_its_flux_and_follows_the_sersic_profile() {
    let device = device();
    let op = ForwardOperator::new(N, 2, 32, 0.8, &device);
    let theta = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.8, 0.3, 0.05, -0.04, 0.0, 0.0, 0.0, 1.0], [1, 9]), &device);
    let light = Tensor::<2>::from_data(TensorData::new(vec![7.0f32, 0.25, 1.0], [1, 3]), &device);
    let img = to_vec(op.sersic_light(&theta, &light));
    assert!((img.iter().sum::<f32>() - 7.0).abs() < 1e-3);
    // n = 1 is an exponential: I(r₁)/I(r₂) = exp(−b₁(r₁ − r₂)/R_e), with
    // lenstronomy's b₁ = 1.9992 − 0.3271 (the exact b₁ is 1.678).
    // Pixels (row, col) on the centre row, away from the centre (block-averaging
    // curvature is negligible there).
    let unit = N as f64 / 2.0;
    let x_of = |j: usize| (j as f64 - (N as f64 - 1.0) / 2.0) / unit;
    let row = ((-0.04 * unit) + (N as f64 - 1.0) / 2.0).round() as usize;
    let (j1, j2) = (36usize, 42usize);
    let y = (row as f64 - (N as f64 - 1.0) / 2.0) / unit;
    let r = |j: usize| ((x_of(j) - 0.05).powi(2) + (y + 0.04).powi(2)).sqrt();
    let b1 = 1.6721;
    let expected = (-b1 * (r(j1) - r(j2)) / 0.25).exp();
    let got = img[row * N + j1] as f64 / img[row * N + j2] as f64;
    assert!((got / expected - 1.0).abs() < 2e-3, "profile ratio {got} vs {expected}");
}

#[test]
fn learned_psf_starts_as_a_unit_moffat_of_three_pixels() {
    let device = device();
    let model = astrorim_nn::joint::ForwardModel::new(21, &device);
    let k: Vec<f32> = model.learned_psf().into_data().try_into_vec::<f32>().unwrap();
    assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    // Half maximum at r = 1.5 px along a row (FWHM 3 px): interpolate the profile.
    let peak = k[10 * 21 + 10];
    let (a, b) = (k[10 * 21 + 11] / peak, k[10 * 21 + 12] / peak);
    let beta = 4.5f32;
    let alpha = 3.0 / (2.0 * (2f32.powf(1.0 / beta) - 1.0).sqrt());
    let moffat = |r: f32| (1.0 + (r / alpha).powi(2)).powf(-beta);
    assert!((a - moffat(1.0)).abs() < 1e-5 && (b - moffat(2.0)).abs() < 1e-5);
    assert!((moffat(1.5) - 0.5).abs() < 1e-5);
    assert!(model.residual_tv().into_scalar::<f32>() == 0.0);
}

/// The encoder's differentiable conversion of a spin-2 pair of components
/// to (magnitude or axis ratio, angle) agrees with the physics crate's f64 one.
fn assert_pairs_convert_as(
    pairs: &[(f64, f64)],
    encoder: fn(Tensor<2>, Tensor<2>) -> (Tensor<2>, Tensor<2>),
    physics: fn(f64, f64) -> (f64, f64),
) {
    let column = |k: usize| {
        let v: Vec<f32> = pairs.iter().map(|p| if k == 0 { p.0 as f32 } else { p.1 as f32 }).collect();
        Tensor::<2>::from_data(TensorData::new(v, [pairs.len(), 1]), &device())
    };
    let (a, b) = encoder(column(0), column(1));
    let (a, b) = (a.into_data().try_into_vec::<f32>().unwrap(), b.into_data().try_into_vec::<f32>().unwrap());
    for (k, &(c1, c2)) in pairs.iter().enumerate() {
        let (a_want, b_want) = physics(c1, c2);
        assert!(
            (a[k] as f64 - a_want).abs() < 1e-6 && (b[k] as f64 - b_want).abs() < 1e-6,
            "({c1}, {c2}): ({}, {}) vs ({a_want}, {b_want})",
            a[k],
            b[k]
        );
    }
}

#[test]
fn encoder_ellipticity_components_convert_as_lenstronomy() {
    let pairs = [(0.3, 0.1), (-0.2, 0.25), (0.0, -0.4), (-0.35, -0.05), (0.05, 0.0), (0.45, 0.45)];
    assert_pairs_convert_as(&pairs, astrorim_nn::encoder::q_phi, astrorim_physics::ellipticity::e1e2_to_q_phi);
}

#[test]
fn encoder_shear_components_convert_as_lenstronomy() {
    let pairs = [(0.05, 0.01), (-0.02, 0.12), (0.0, -0.08), (-0.15, -0.03), (0.004, 0.0), (0.2, 0.2)];
    assert_pairs_convert_as(&pairs, astrorim_nn::encoder::gamma_phi, astrorim_physics::ellipticity::shear_cartesian_to_polar);
}

#[test]
fn encoder_heads_name_theta_and_cover_every_presets_range() {
    use astrorim_nn::encoder::{Bound, LensParameterEncoder, HEADS, LENS_PARAMETERS};
    use astrorim_physics::param_map::ASTRORIM_NAMES;
    use burn::module::Module;
    // The first nine heads are Θ in the parameter map's order.
    let names: Vec<&str> = HEADS[..LENS_PARAMETERS].iter().map(|h| h.0).collect();
    assert_eq!(names, ASTRORIM_NAMES);
    // The parameter count from the layer sizes: four conv3×3 stages
    // (weights + bias + GroupNorm scale and shift), FC 8192 → 128 → 64, 64 → 12 heads.
    let stage = |cin: usize, cout: usize| cin * 9 * cout + cout + 2 * cout;
    let linear = |cin: usize, cout: usize| cin * cout + cout;
    let expected = stage(1, 32)
        + stage(32, 64)
        + stage(64, 96)
        + stage(96, 128)
        + linear(128 * 8 * 8, 128)
        + linear(128, 64)
        + linear(64, HEADS.len());
    let device = device();
    assert_eq!(LensParameterEncoder::new(&device).num_params(), expected);
    // Every Θ the built-in presets draw lies inside its head's range (2000
    // draws each), so the encoder can represent every training truth.
    for (variant, _) in astrorim_sim::preset::BUILTIN {
        let preset = astrorim_sim::preset::builtin(variant).unwrap();
        for index in 0..2000 {
            let mut rng = astrorim_sim::draw::sample_rng(17, index);
            let t = astrorim_sim::draw::draw(&preset, variant, index, &mut rng).truth;
            let theta = [t.b, t.q, t.phi, t.x0, t.y0, t.gamma, t.gamma_phi, t.kappa_s, t.r_s];
            for ((name, bound), value) in HEADS.iter().zip(theta) {
                let (lo, hi) = match *bound {
                    Bound::Linear(lo, hi) | Bound::Log(lo, hi) => (lo, hi),
                    // q from e ≤ max·√2, γ ≤ max·√2; the angles atan2(·,·)/2 cover their period π whatever the value.
                    Bound::Component(max) if *name == "q" => ((1.0 - max * 2f64.sqrt()) / (1.0 + max * 2f64.sqrt()), 1.0),
                    Bound::Component(max) if *name == "gamma" => (0.0, max * 2f64.sqrt()),
                    Bound::Component(_) => continue,
                };
                // NFW-free draws have κ_s = r_s = 0 (no halo): the operator ignores r_s then.
                let no_halo = (*name == "r_s" || *name == "kappa_s") && t.kappa_s == 0.0;
                assert!(no_halo || (lo..=hi).contains(&value), "{variant} draw {index}: {name} = {value} outside the head's [{lo}, {hi}]");
            }
        }
    }
}

/// The evaluation's inversion baseline works in the RIM's normalized units
/// (pixels of 2/N, Θ in the normalized parameterization): on data made by
/// the RIM's own operator (one ray per pixel, with a lens-light background
/// it must subtract) and little noise, its source matches the truth.
#[test]
fn the_inversion_baseline_recovers_a_source_through_the_rims_operator() {
    use astrorim_nn::baseline::invert_batch;
    let device = device();
    let (m, half) = (32usize, 0.45f32);
    let op = ForwardOperator::new(N, 1, m, half, &device);
    let unit = N as f64 / 2.0 * S;
    let source_scale = 2.0 * half as f64 * unit / m as f64;
    let blob = Sersic::new(1.0, 0.08, 1.0, 0.15, -0.05, 0.03, -0.02);
    let truth: Vec<f32> = (0..m * m)
        .map(|k| {
            let (x, y) =
                (((k % m) as f64 - (m as f64 - 1.0) / 2.0) * source_scale, ((k / m) as f64 - (m as f64 - 1.0) / 2.0) * source_scale);
            blob.surface_brightness(x, y) as f32
        })
        .collect();
    let k = kernel();
    let psf = Tensor::<4>::from_data(TensorData::new(k.data().iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 1, 7, 7]), &device);
    let source = Tensor::<4>::from_data(TensorData::new(truth.clone(), [1, 1, m, m]), &device);
    let theta = theta_tensor(&lens(), &device);
    let lensed = op.forward(&source, &theta, &psf, None);
    let peak = to_vec(lensed.clone()).iter().cloned().fold(0.0f32, f32::max);
    let background = Tensor::<4>::from_data(
        TensorData::new((0..N * N).map(|p| 0.3 * peak * (-((p % N) as f32 - 24.0).powi(2) / 50.0).exp()).collect::<Vec<_>>(), [1, 1, N, N]),
        &device,
    );
    let sigma_value = 0.01 * peak;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let noise: Vec<f32> = (0..N * N).map(|_| sigma_value * (rng.gen::<f32>() - 0.5) * 12f32.sqrt()).collect();
    let observed = lensed + background.clone() + Tensor::<4>::from_data(TensorData::new(noise, [1, 1, N, N]), &device);
    let sigma = Tensor::<4>::ones([1, 1, N, N], &device) * sigma_value;
    let solved = invert_batch(&[true], &observed, &sigma, &background, &theta, &psf, m, half as f64);
    let (estimate, lambda) = solved[0].clone().expect("selected").expect("inverted");
    assert!(lambda > 0.0);
    // Compared where the source has light: elsewhere the prior leaves
    // near-zero noise (which is what makes the inversion's SSIM on
    // min-max normalized sources low: measured 0.26 here).
    let peak_truth = truth.iter().cloned().fold(0.0f32, f32::max);
    let (num, den) = truth
        .iter()
        .zip(&estimate)
        .filter(|(t, _)| **t > 0.1 * peak_truth)
        .fold((0.0f64, 0.0f64), |(n, d), (t, e)| (n + ((e - t) as f64).powi(2), d + (*t as f64).powi(2)));
    let relative = (num / den).sqrt();
    let flux_ratio = estimate.iter().sum::<f32>() / truth.iter().sum::<f32>();
    assert!(relative < 0.05, "relative L2 error {relative} where the source is above 10 % of its peak");
    assert!((flux_ratio - 1.0).abs() < 0.05, "flux ratio {flux_ratio}");
}

/// The out-of-distribution test's re-observation: the new source is the
/// pattern times each sample's old peak, the observation is F(new source)
/// + background + unit-variance noise × σ, every sample rescaled to a
/// maximum pixel of 1, and the noise is fixed by the sample index.
#[test]
fn a_replaced_source_is_re_observed_through_the_true_lens() {
    use astrorim_nn::data::Batch;
    use astrorim_nn::evaluate::replace_source;
    let device = device();
    let (m, half) = (40usize, 0.7f32);
    let op = ForwardOperator::new(N, SS, m, half, &device);
    let tensor = |v: Vec<f32>, shape: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v, shape), &device);
    let peaks = [2.0f32, 0.5];
    let old: Vec<f32> = peaks.iter().flat_map(|&p| (0..m * m).map(move |k| p * ((k % 7) as f32 / 6.0))).collect();
    let theta = Tensor::cat(vec![theta_tensor(&lens(), &device), theta_tensor(&lens(), &device)], 0);
    let k = kernel();
    let psf: Vec<f32> = k.data().iter().chain(k.data()).map(|&v| v as f32).collect();
    let sigma = 0.01f32;
    let batch = || Batch {
        observed: tensor(vec![1.0; 2 * N * N], [2, 1, N, N]),
        sigma: tensor(vec![sigma; 2 * N * N], [2, 1, N, N]),
        background: tensor(vec![0.05; 2 * N * N], [2, 1, N, N]),
        theta: theta.clone(),
        psf: tensor(psf.clone(), [2, 1, 7, 7]),
        target: tensor(old.clone(), [2, 1, m, m]),
        scale: vec![3.0, 4.0],
    };
    let pattern: Vec<f64> = (0..m * m).map(|k| if (k / m + k % m) % 5 == 0 { 1.0 } else { 0.0 }).collect();
    let replaced = replace_source(batch(), &op, &pattern, &[11, 12]);
    let observed = to_vec(replaced.observed.clone());
    let target = to_vec(replaced.target.clone());
    let sigma_after = to_vec(replaced.sigma.clone());
    for s in 0..2 {
        let image = &observed[s * N * N..(s + 1) * N * N];
        let maximum = image.iter().cloned().fold(f32::MIN, f32::max);
        assert!((maximum - 1.0).abs() < 1e-6, "sample {s}: maximum pixel {maximum}");
        // The divisor the sample was rescaled by, from its noise map.
        let divisor = sigma / sigma_after[s * N * N];
        assert!((replaced.scale[s] / [3.0, 4.0][s] - divisor).abs() < 1e-4 * divisor);
        for (t, p) in target[s * m * m..(s + 1) * m * m].iter().zip(&pattern) {
            assert!((t * divisor - peaks[s] * *p as f32).abs() < 1e-5, "sample {s}: source {t} for pattern {p}");
        }
        let source = tensor(pattern.iter().map(|&p| peaks[s] * p as f32).collect(), [1, 1, m, m]);
        let clean = to_vec(op.forward(&source, &theta_tensor(&lens(), &device), &tensor(psf[..49].to_vec(), [1, 1, 7, 7]), None));
        let noise: Vec<f64> = image.iter().zip(&clean).map(|(o, c)| ((o * divisor - c - 0.05) / sigma) as f64).collect();
        let mean = noise.iter().sum::<f64>() / noise.len() as f64;
        let sd = (noise.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / noise.len() as f64).sqrt();
        assert!(mean.abs() < 0.1 && (sd - 1.0).abs() < 0.05, "sample {s}: noise mean {mean}, sd {sd}");
    }
    assert_eq!(to_vec(replace_source(batch(), &op, &pattern, &[11, 12]).observed), observed, "deterministic in the index");
    assert_ne!(to_vec(replace_source(batch(), &op, &pattern, &[13, 12]).observed)[..N * N], observed[..N * N]);
}
