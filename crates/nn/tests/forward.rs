//! The forward operator against the f64 physics renderer, its adjoint, and
//! its gradients against finite differences.

use astrorim_nn::forward::ForwardOperator;
use astrorim_physics::light::{Gaussian, LightModel, LightProfile};
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
    for (k, name) in [(0, "b"), (1, "q"), (2, "phi"), (3, "x0"), (5, "gamma"), (7, "kappa_s")] {
        let h = 2e-3f32;
        let (mut p, mut mn) = (base, base);
        p[k] += h;
        mn[k] -= h;
        let fd = (objective(&p).into_scalar::<f32>() as f64 - objective(&mn).into_scalar::<f32>() as f64) / (2.0 * h as f64);
        assert!((fd - g[k] as f64).abs() < 0.03 * fd.abs().max(1e-2), "∂/∂{name}: autodiff {} vs finite difference {fd}", g[k]);
    }
}
