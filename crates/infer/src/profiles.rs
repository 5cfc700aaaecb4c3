//! Derived quantities of a fitted lens: the azimuthally averaged convergence
//! κ̄(r), the projected mass inside a circle, κ along the circle r = θ_E, and
//! the critical curves and caustics for the diagnostic panel.
//!
//! The enclosed mass uses Gauss's theorem on the lens equation, ∇·α = 2κ:
//! M(<r)/Σ_crit = ∫κ dA = ½ ∮ α·r̂ dl = ½ r ∫₀^{2π} α_r(r, φ) dφ, exact for any
//! mass distribution (the external shear, divergence-free, adds nothing), and
//! free of the central singularity that integrating κ̄(r) would meet.

use astrorim_physics::mass::LensModel;

/// Angles per circle (the integrands are smooth and periodic: the trapezoid rule converges fast).
const ANGLES: usize = 720;

fn circle(center: (f64, f64), r: f64) -> impl Iterator<Item = (f64, f64, f64)> {
    (0..ANGLES).map(move |k| {
        let phi = 2.0 * std::f64::consts::PI * k as f64 / ANGLES as f64;
        (phi, center.0 + r * phi.cos(), center.1 + r * phi.sin())
    })
}

/// κ averaged over the circle of radius `r` (arcsec) about `center`.
pub fn mean_kappa(lens: &LensModel, center: (f64, f64), r: f64) -> f64 {
    circle(center, r).map(|(_, x, y)| lens.kappa(x, y)).sum::<f64>() / ANGLES as f64
}

/// ∫κ dA inside the circle of radius `r` about `center`, in arcsec²
/// (multiply by Σ_crit in M☉/arcsec² for a mass).
pub fn enclosed_kappa_area(lens: &LensModel, center: (f64, f64), r: f64) -> f64 {
    let radial: f64 = circle(center, r)
        .map(|(phi, x, y)| {
            let (ax, ay) = lens.deflection(x, y);
            ax * phi.cos() + ay * phi.sin()
        })
        .sum();
    0.5 * r * radial * 2.0 * std::f64::consts::PI / ANGLES as f64
}

/// κ along the circle of radius `r`: (position angle from +x counter-clockwise in degrees, κ), 360 points.
pub fn azimuthal_kappa(lens: &LensModel, center: (f64, f64), r: f64) -> Vec<(f64, f64)> {
    (0..360)
        .map(|d| {
            let phi = (d as f64).to_radians();
            (d as f64, lens.kappa(center.0 + r * phi.cos(), center.1 + r * phi.sin()))
        })
        .collect()
}

/// det of the lens-equation Jacobian A = ∂β/∂θ at (x, y), by central
/// differences of the deflection (step `h` arcsec).
pub fn magnification_determinant(lens: &LensModel, x: f64, y: f64, h: f64) -> f64 {
    let (axp, ayp) = lens.deflection(x + h, y);
    let (axm, aym) = lens.deflection(x - h, y);
    let (bxp, byp) = lens.deflection(x, y + h);
    let (bxm, bym) = lens.deflection(x, y - h);
    let a11 = 1.0 - (axp - axm) / (2.0 * h);
    let a21 = -(ayp - aym) / (2.0 * h);
    let a12 = -(bxp - bxm) / (2.0 * h);
    let a22 = 1.0 - (byp - bym) / (2.0 * h);
    a11 * a22 - a12 * a21
}

/// Points on the critical curves (det A = 0) inside the square of half-side
/// `half` about (0, 0), found on an `n × n` grid as the linearly
/// interpolated sign changes between neighbours (not across a singular
/// centre); and their images in the
/// source plane (the caustics).
pub fn critical_curves_and_caustics(lens: &LensModel, half: f64, n: usize) -> (Vec<(f64, f64)>, Vec<(f64, f64)>) {
    let step = 2.0 * half / (n - 1) as f64;
    let coord = |k: usize| -half + k as f64 * step;
    let det: Vec<f64> = (0..n * n).map(|p| magnification_determinant(lens, coord(p % n), coord(p / n), 1e-4 * step.max(1e-3))).collect();
    let mut points = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let d0 = det[i * n + j];
            for (di, dj) in [(0, 1), (1, 0)] {
                let (ii, jj) = (i + di, j + dj);
                if ii >= n || jj >= n {
                    continue;
                }
                let d1 = det[ii * n + jj];
                // A genuine critical curve changes det A by little per grid
                // step; a jump across the singular centre (det from 1 at the
                // regularized centre to ≪ 0 beside it) is not one.
                if d0.is_finite() && d1.is_finite() && (d0 < 0.0) != (d1 < 0.0) && d0.abs() + d1.abs() < 1.0 {
                    let t = d0 / (d0 - d1);
                    points.push((coord(j) + t * dj as f64 * step, coord(i) + t * di as f64 * step));
                }
            }
        }
    }
    let caustics = points.iter().map(|&(x, y)| lens.ray_shoot(x, y)).collect();
    (points, caustics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrorim_physics::mass::{Shear, Sie};

    #[test]
    fn singular_isothermal_sphere_identities() {
        // SIS of θ_E: κ = θ_E/(2r), so κ̄(r) = θ_E/(2r), ∫κ dA (< r) = π θ_E r,
        // and the critical curve is the circle r = θ_E. A shear adds no mass.
        let theta_e = 1.3;
        let c = (0.1, -0.2);
        let sis = LensModel::new(vec![Box::new(Sie::new(theta_e, 0.0, 0.0, c.0, c.1)), Box::new(Shear::new(0.05, -0.03, 0.0, 0.0))]);
        for r in [0.3, 1.3, 2.5] {
            let k = mean_kappa(&sis, c, r);
            assert!((k - theta_e / (2.0 * r)).abs() < 1e-9, "κ̄({r}) = {k}");
            let area = enclosed_kappa_area(&sis, c, r);
            assert!((area / (std::f64::consts::PI * theta_e * r) - 1.0).abs() < 1e-6, "∫κ dA = {area}");
        }
        let round = LensModel::new(vec![Box::new(Sie::new(theta_e, 0.0, 0.0, 0.0, 0.0))]);
        let (crit, caustic) = critical_curves_and_caustics(&round, 2.0, 201);
        assert!(crit.len() > 100);
        for &(x, y) in &crit {
            assert!((x.hypot(y) - theta_e).abs() < 0.02, "critical point at r = {}", x.hypot(y));
        }
        // The SIS's tangential caustic degenerates to the point β = 0.
        assert!(caustic.iter().all(|&(x, y)| x.hypot(y) < 0.02));
        assert!(azimuthal_kappa(&round, (0.0, 0.0), theta_e).iter().all(|&(_, k)| (k - 0.5).abs() < 1e-9));
    }

    #[test]
    fn enclosed_mass_of_an_elliptical_lens_matches_integrating_its_convergence() {
        let sie = LensModel::new(vec![Box::new(Sie::new(1.0, 0.2, -0.1, 0.0, 0.0))]);
        // Midpoint rule of 2π r κ̄(r) from 0.3 to 1.5 against the difference of the contour integrals.
        let (a, b, n) = (0.3, 1.5, 2000);
        let h = (b - a) / n as f64;
        let integral: f64 = (0..n)
            .map(|k| {
                let r = a + (k as f64 + 0.5) * h;
                2.0 * std::f64::consts::PI * r * mean_kappa(&sie, (0.0, 0.0), r) * h
            })
            .sum();
        let difference = enclosed_kappa_area(&sie, (0.0, 0.0), b) - enclosed_kappa_area(&sie, (0.0, 0.0), a);
        assert!((integral / difference - 1.0).abs() < 1e-5, "{integral} vs {difference}");
    }
}
