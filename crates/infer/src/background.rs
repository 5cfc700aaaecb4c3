//! The sky under an observed lens and a noise map when none is given: the
//! sky level and its RMS from the pixels outside a central disc by
//! iterative 3σ clipping (median and the MAD-based σ, robust to the lens,
//! neighbours and cosmic rays), and the per-pixel 1σ as the sky RMS plus the
//! source's Poisson term in quadrature where the exposure and gain are known.
//! The border must be sky: light of the lens still present there biases the
//! level (by about its mean surface brightness in the border), which the
//! lens-light model then has to absorb.

/// Sky statistics of an image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sky {
    /// Median of the clipped border pixels (image units).
    pub level: f64,
    /// 1σ of the sky noise: 1.4826 × the median absolute deviation.
    pub rms: f64,
    /// Pixels that survived the clipping.
    pub pixels: usize,
}

/// Median of `values` (reordered; the mean of the two middle values for an even count; not empty).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Sky level and RMS of a row-major `nx × ny` image from its pixels outside
/// the disc of radius `inner_fraction` × half the shorter side about the
/// centre (finite pixels only), clipped at 3σ until stable. None when fewer
/// than 50 pixels remain.
pub fn estimate_sky(data: &[f64], nx: usize, ny: usize, inner_fraction: f64) -> Option<Sky> {
    let (cx, cy) = ((nx as f64 - 1.0) / 2.0, (ny as f64 - 1.0) / 2.0);
    let r_in = inner_fraction * 0.5 * nx.min(ny) as f64;
    let mut kept: Vec<f64> = (0..nx * ny)
        .filter(|&k| {
            let (x, y) = ((k % nx) as f64 - cx, (k / nx) as f64 - cy);
            x.hypot(y) > r_in && data[k].is_finite()
        })
        .map(|k| data[k])
        .collect();
    let (mut level, mut rms) = (0.0, 0.0);
    for _ in 0..20 {
        if kept.len() < 50 {
            return None;
        }
        level = median(&mut kept.clone());
        let mut deviations: Vec<f64> = kept.iter().map(|v| (v - level).abs()).collect();
        rms = 1.4826 * median(&mut deviations);
        let before = kept.len();
        kept.retain(|v| (v - level).abs() <= 3.0 * rms);
        if kept.len() == before {
            break;
        }
    }
    Some(Sky { level, rms, pixels: kept.len() })
}

/// 1σ per pixel when no noise map is given: √(σ_sky² + max(d − sky, 0)/g_eff)
/// with g_eff the number of detected electrons per image unit
/// (gain × exposure for an image in ADU per second, gain for one in ADU;
/// None: sky noise only).
pub fn noise_map(data: &[f64], sky: &Sky, electrons_per_unit: Option<f64>) -> Vec<f64> {
    data.iter()
        .map(|&d| {
            let poisson = match electrons_per_unit {
                Some(g) if g > 0.0 && d.is_finite() => (d - sky.level).max(0.0) / g,
                _ => 0.0,
            };
            (sky.rms * sky.rms + poisson).sqrt()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal, Poisson};

    #[test]
    fn sky_level_and_rms_survive_a_bright_lens_and_cosmic_rays() {
        let (n, level, rms) = (120usize, 3.2, 0.8);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let noise = Normal::new(0.0, rms).unwrap();
        let mut data: Vec<f64> = (0..n * n)
            .map(|k| {
                let (x, y) = ((k % n) as f64 - 59.5, (k / n) as f64 - 59.5);
                // A bright galaxy, faded into the noise before the border region.
                level + 500.0 * (-(x * x + y * y).sqrt() / 3.0).exp() + noise.sample(&mut rng)
            })
            .collect();
        for k in (0..n * n).step_by(97) {
            data[k] += 1e4; // cosmic rays
        }
        data[7] = f64::NAN;
        let sky = estimate_sky(&data, n, n, 0.6).unwrap();
        // Standard error of a median of N Gaussian values: 1.2533 σ/√N.
        let se = 1.2533 * rms / (sky.pixels as f64).sqrt();
        assert!((sky.level - level).abs() < 4.0 * se + 0.01, "sky level {} vs {level}", sky.level);
        assert!((sky.rms / rms - 1.0).abs() < 0.05, "sky rms {} vs {rms}", sky.rms);
        assert!(estimate_sky(&data[..36], 6, 6, 0.6).is_none(), "too few border pixels");
    }

    #[test]
    fn noise_map_adds_the_poisson_term_of_the_detected_electrons() {
        // Counts in ADU with gain 2 e⁻/ADU: Var(ADU) = S/2 for a source of S ADU.
        let sky = Sky { level: 10.0, rms: 1.5, pixels: 1000 };
        let data = [10.0, 410.0, 5.0, f64::NAN];
        let map = noise_map(&data, &sky, Some(2.0));
        assert!((map[0] - 1.5).abs() < 1e-12);
        assert!((map[1] - (1.5f64.powi(2) + 200.0).sqrt()).abs() < 1e-12);
        assert!((map[2] - 1.5).abs() < 1e-12, "below the sky: sky noise only");
        assert!((map[3] - 1.5).abs() < 1e-12);
        assert_eq!(noise_map(&data, &sky, None), vec![1.5; 4]);
        // Against simulated Poisson electrons: the empirical scatter of a
        // 400-ADU source at gain 2 is √(200 + σ_sky²).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let poisson = Poisson::new(800.0).unwrap();
        let sky_noise = Normal::new(0.0, 1.5).unwrap();
        let draws: Vec<f64> = (0..20000).map(|_| poisson.sample(&mut rng) / 2.0 + sky_noise.sample(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let sd = (draws.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (draws.len() - 1) as f64).sqrt();
        let predicted = noise_map(&[sky.level + mean], &sky, Some(2.0))[0];
        assert!((sd / predicted - 1.0).abs() < 0.03, "empirical {sd} vs predicted {predicted}");
    }
}
