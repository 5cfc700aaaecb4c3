//! Ellipticity and shear conventions (lenstronomy's `param_util`), written once.
//!
//! φ = atan2(e2, e1)/2, c = min(√(e1²+e2²), 0.9999), q = (1−c)/(1+c); the
//! profile frame is x' = x cosφ + y sinφ, y' = −x sinφ + y cosφ about the centre.

/// Maximum |e| accepted before clamping, as lenstronomy does.
pub const MAX_ELLIPTICITY: f64 = 0.9999;

/// (e1, e2) → (q, φ) with φ in radians.
pub fn e1e2_to_q_phi(e1: f64, e2: f64) -> (f64, f64) {
    let phi = e2.atan2(e1) / 2.0;
    let c = (e1 * e1 + e2 * e2).sqrt().min(MAX_ELLIPTICITY);
    ((1.0 - c) / (1.0 + c), phi)
}

/// (q, φ) → (e1, e2).
pub fn q_phi_to_e1e2(q: f64, phi: f64) -> (f64, f64) {
    let e = (1.0 - q) / (1.0 + q);
    (e * (2.0 * phi).cos(), e * (2.0 * phi).sin())
}

/// Polar shear (γ, φ) → (γ1, γ2).
pub fn shear_polar_to_cartesian(gamma: f64, phi: f64) -> (f64, f64) {
    (gamma * (2.0 * phi).cos(), gamma * (2.0 * phi).sin())
}

/// (γ1, γ2) → polar (γ, φ).
pub fn shear_cartesian_to_polar(gamma1: f64, gamma2: f64) -> (f64, f64) {
    ((gamma1 * gamma1 + gamma2 * gamma2).sqrt(), gamma2.atan2(gamma1) / 2.0)
}

/// A rotation by φ about a centre: maps the sky frame into a profile's frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub center_x: f64,
    pub center_y: f64,
    cos: f64,
    sin: f64,
}

impl Frame {
    pub fn new(center_x: f64, center_y: f64, phi: f64) -> Self {
        Frame { center_x, center_y, cos: phi.cos(), sin: phi.sin() }
    }

    /// Sky (x, y) → profile frame (x', y').
    #[inline]
    pub fn to_profile(&self, x: f64, y: f64) -> (f64, f64) {
        let dx = x - self.center_x;
        let dy = y - self.center_y;
        (self.cos * dx + self.sin * dy, -self.sin * dx + self.cos * dy)
    }

    /// A vector in the profile frame → the sky frame (rotation by −φ).
    #[inline]
    pub fn vector_to_sky(&self, vx: f64, vy: f64) -> (f64, f64) {
        (self.cos * vx - self.sin * vy, self.sin * vx + self.cos * vy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for &(q, phi) in &[(0.5, 0.3), (0.9, -1.2), (0.2, 1.5)] {
            let (e1, e2) = q_phi_to_e1e2(q, phi);
            let (q2, phi2) = e1e2_to_q_phi(e1, e2);
            assert!((q - q2).abs() < 1e-12);
            assert!((phi - phi2).abs() < 1e-12);
        }
        let (g1, g2) = shear_polar_to_cartesian(0.05, 0.4);
        let (g, p) = shear_cartesian_to_polar(g1, g2);
        assert!((g - 0.05).abs() < 1e-15 && (p - 0.4).abs() < 1e-12);
    }

    #[test]
    fn frame_rotation_inverts() {
        let f = Frame::new(0.1, -0.2, 0.7);
        let (xp, yp) = f.to_profile(1.0, 0.5);
        let (dx, dy) = f.vector_to_sky(xp, yp);
        assert!((dx - 0.9).abs() < 1e-14 && (dy - 0.7).abs() < 1e-14);
    }
}
