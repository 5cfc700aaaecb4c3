//! The detector chain, applied at detector resolution to the noiseless
//! image E (ADU per pixel), in this order:
//! sky with 1-D or 2-D gradient → vignetting → PRNU (flat-field error) →
//! Poisson noise on electrons (via the gain) → read noise → correlated noise
//! (the noise field smoothed by a Gaussian and rescaled so that each pixel
//! keeps its variance) → cosmic rays → charge-transfer inefficiency (a
//! charge-conserving exponential trail along the readout axis, y) → sky
//! subtraction (the nominal sky level) with an optional residual offset.
//!
//! The noise model lives here once: the returned noise map is the exact
//! per-pixel 1σ of (image − noiseless image) for every linear step, and
//! cosmic-ray pixels carry their hit amplitude in quadrature so that a χ²
//! weighted by the map ignores them.

use crate::draw::DetectorDraw;
use crate::poisson::poisson;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Outputs of the chain, row-major `n × n`, ADU per pixel.
pub struct Exposure {
    pub image: Vec<f64>,
    /// Expected image through the same deterministic steps (no noise, no cosmic rays).
    pub noiseless: Vec<f64>,
    /// 1σ of the noise per pixel.
    pub noise_map: Vec<f64>,
    /// The cosmic-ray layer as read out (after CTI).
    pub cosmic: Vec<f64>,
}

/// Runs the chain on the noiseless image `signal` (`n × n`).
pub fn expose(signal: &[f64], n: usize, d: &DetectorDraw, rng: &mut ChaCha8Rng) -> Exposure {
    let npix = n * n;
    let c = (n as f64 - 1.0) / 2.0;
    let (ux, uy) = (d.sky_gradient_angle.cos(), d.sky_gradient_angle.sin());
    // Expected counts per pixel before noise.
    let mut expected = vec![0.0; npix];
    for i in 0..n {
        for j in 0..n {
            let (x, y) = ((j as f64 - c) / n as f64, (i as f64 - c) / n as f64);
            // Gradient: d.sky_gradient is the full fractional variation across the image.
            let mut g = d.sky_gradient * (x * ux + y * uy);
            if d.sky_gradient_2d {
                g += d.sky_gradient * 2.0 * ((x * x + y * y) - 1.0 / 6.0);
            }
            let r2 = (x * x + y * y) / 0.5;
            let vignette = 1.0 - d.vignetting * r2;
            expected[i * n + j] = (signal[i * n + j].max(0.0) + d.sky * (1.0 + g)) * vignette;
        }
    }
    if d.prnu > 0.0 {
        for v in expected.iter_mut() {
            *v *= 1.0 + d.prnu * rng.sample::<f64, _>(StandardNormal);
        }
    }
    // Poisson on electrons, read noise in electrons; back to ADU.
    let mut noise = vec![0.0; npix];
    let mut variance = vec![0.0; npix];
    let read_adu = d.read_noise / d.gain;
    for k in 0..npix {
        let electrons = expected[k] * d.gain;
        let counted = if electrons > 0.0 { poisson(electrons, rng) } else { 0.0 };
        noise[k] = (counted - electrons) / d.gain + read_adu * rng.sample::<f64, _>(StandardNormal);
        variance[k] = expected[k] / d.gain + read_adu * read_adu;
    }
    if d.correlated_sigma > 0.0 {
        let kernel = gaussian_kernel(d.correlated_sigma);
        let norm2: f64 = kernel.iter().map(|w| w * w).sum::<f64>().powi(2);
        let squared: Vec<f64> = kernel.iter().map(|w| w * w).collect();
        // Separable: the 2-D kernel is the outer product; Σ(w⊗w)² = (Σw²)².
        noise = separable_axis(&separable_axis(&noise, n, &kernel, true), n, &kernel, false);
        let scale = 1.0 / norm2.sqrt();
        noise.iter_mut().for_each(|v| *v *= scale);
        variance = separable_axis(&separable_axis(&variance, n, &squared, true), n, &squared, false);
        variance.iter_mut().for_each(|v| *v /= norm2);
    }
    let mut cosmic = vec![0.0; npix];
    for &amp in &d.cosmic_amplitudes {
        let (mut x, mut y) = (rng.gen::<f64>() * n as f64, rng.gen::<f64>() * n as f64);
        let (len, angle) = if d.cosmic_tracks { (rng.gen_range(2..8), rng.gen::<f64>() * std::f64::consts::TAU) } else { (1, 0.0) };
        for _ in 0..len {
            let (j, i) = (x as usize, y as usize);
            if i < n && j < n {
                cosmic[i * n + j] += amp;
            }
            x += angle.cos();
            y += angle.sin();
        }
    }
    let mut image: Vec<f64> = (0..npix).map(|k| expected[k] + noise[k] + cosmic[k]).collect();
    let mut noiseless = expected;
    if d.cti_fraction > 0.0 {
        let trail = cti_trail(d.cti_fraction, d.cti_length);
        let squared: Vec<f64> = trail.iter().map(|t| t * t).collect();
        image = cti(&image, n, &trail);
        noiseless = cti(&noiseless, n, &trail);
        cosmic = cti(&cosmic, n, &trail);
        variance = cti(&variance, n, &squared);
    }
    let offset = d.sky - d.sky_residual;
    image.iter_mut().for_each(|v| *v -= offset);
    noiseless.iter_mut().for_each(|v| *v -= offset);
    let noise_map = variance.iter().zip(&cosmic).map(|(v, c)| (v + c * c).sqrt()).collect();
    Exposure { image, noiseless, noise_map, cosmic }
}

/// Normalized 1-D Gaussian taps with σ in pixels, ±3σ.
fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil() as isize;
    let w: Vec<f64> = (-r..=r).map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|v| v / s).collect()
}

/// One axis of a separable, zero-padded, centred convolution.
fn separable_axis(data: &[f64], n: usize, w: &[f64], along_x: bool) -> Vec<f64> {
    let r = (w.len() / 2) as isize;
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let mut acc = 0.0;
            for (t, wt) in w.iter().enumerate() {
                let o = t as isize - r;
                let (ii, jj) = if along_x { (i as isize, j as isize - o) } else { (i as isize - o, j as isize) };
                if ii >= 0 && jj >= 0 && (ii as usize) < n && (jj as usize) < n {
                    acc += wt * data[ii as usize * n + jj as usize];
                }
            }
            out[i * n + j] = acc;
        }
    }
    out
}

/// CTI trail taps: t_0 = 1 − f, t_k = f (1 − ρ) ρ^(k−1), ρ = e^(−1/L), summing to 1.
fn cti_trail(fraction: f64, length: f64) -> Vec<f64> {
    let rho = (-1.0 / length).exp();
    let taps = (8.0 * length).ceil() as usize;
    let mut t = vec![1.0 - fraction];
    for k in 1..=taps {
        t.push(fraction * (1.0 - rho) * rho.powi(k as i32 - 1));
    }
    let s: f64 = t.iter().sum();
    t.into_iter().map(|v| v / s).collect()
}

/// Charge in row i − k trails into row i (readout towards row 0 drags charge up the column).
fn cti(data: &[f64], n: usize, trail: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for (k, t) in trail.iter().enumerate() {
            if k > i {
                break;
            }
            for j in 0..n {
                out[i * n + j] += t * data[(i - k) * n + j];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn noise_map_matches_the_empirical_scatter() {
        let n = 48;
        let signal: Vec<f64> = (0..n * n).map(|k| 200.0 * ((k % n) as f64 / n as f64)).collect();
        let d = DetectorDraw {
            exposure: 1000.0,
            gain: 2.0,
            sky: 80.0,
            read_noise: 3.0,
            correlated_sigma: 1.5,
            cti_fraction: 0.02,
            cti_length: 2.0,
            ..Default::default()
        };
        let mut sum = 0.0;
        let mut count = 0.0;
        for seed in 0..40 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let e = expose(&signal, n, &d, &mut rng);
            for i in 8..n - 8 {
                for j in 8..n - 8 {
                    let k = i * n + j;
                    sum += ((e.image[k] - e.noiseless[k]) / e.noise_map[k]).powi(2);
                    count += 1.0;
                }
            }
        }
        let chi2 = sum / count;
        assert!((chi2 - 1.0).abs() < 0.03, "mean standardized residual² = {chi2}");
    }

    /// Sample mean and variance of (image − S) over `draws` exposures of a flat signal `s`.
    fn flat_statistics(s: f64, n: usize, d: &DetectorDraw, draws: u64) -> (f64, f64, Vec<Exposure>) {
        let signal = vec![s; n * n];
        let exposures: Vec<Exposure> = (0..draws).map(|seed| expose(&signal, n, d, &mut ChaCha8Rng::seed_from_u64(seed))).collect();
        let values: Vec<f64> = exposures.iter().flat_map(|e| e.image.iter().map(|v| v - s)).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
        (mean, var, exposures)
    }

    #[test]
    fn flat_field_noise_follows_the_ccd_equation() {
        // Signal S and sky B in ADU, gain g e⁻/ADU, read noise r e⁻: after sky
        // subtraction the mean is S and the variance (S + B)/g + (r/g)² ADU²
        // (Poisson on S + B electrons, Gaussian read noise), for each gain.
        let (s, sky, read, n, draws) = (150.0, 60.0, 4.0, 64, 40);
        for gain in [1.0, 2.5, 6.0] {
            let d = DetectorDraw { exposure: 1000.0, gain, sky, read_noise: read, ..Default::default() };
            let expected = (s + sky) / gain + (read / gain).powi(2);
            let (mean, var, exposures) = flat_statistics(s, n, &d, draws);
            let count = (n * n) as f64 * draws as f64;
            for e in &exposures {
                assert!(e.noise_map.iter().all(|m| (m * m - expected).abs() < 1e-9 * expected), "gain {gain}: noise map");
            }
            assert!(mean.abs() < 4.0 * (expected / count).sqrt(), "gain {gain}: mean offset {mean}");
            // The sample variance's relative standard error is √(2/(N−1)) (excess kurtosis of Poisson at these counts is negligible).
            let tolerance = 4.0 * (2.0 / (count - 1.0)).sqrt();
            assert!((var / expected - 1.0).abs() < tolerance, "gain {gain}: variance {var} vs {expected}");
        }
    }

    #[test]
    fn prnu_scatters_the_expected_counts_by_its_fraction() {
        // Pixel response non-uniformity p: each pixel's expected counts are
        // (S + B)(1 + p N), N standard normal, so the noiseless image (sky
        // subtracted) has mean S and standard deviation p (S + B), and the
        // noise map follows each pixel's own expected counts.
        let (s, sky, p, n) = (400.0, 100.0, 0.03, 128);
        let d = DetectorDraw { exposure: 1000.0, gain: 2.0, sky, read_noise: 3.0, prnu: p, ..Default::default() };
        let e = expose(&vec![s; n * n], n, &d, &mut ChaCha8Rng::seed_from_u64(5));
        let count = (n * n) as f64;
        let mean = e.noiseless.iter().sum::<f64>() / count;
        let sd = (e.noiseless.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0)).sqrt();
        let expected_sd = p * (s + sky);
        assert!((mean - s).abs() < 4.0 * expected_sd / count.sqrt(), "mean {mean}");
        assert!((sd / expected_sd - 1.0).abs() < 4.0 / (2.0 * count).sqrt(), "sd {sd} vs {expected_sd}");
        for (m, v) in e.noise_map.iter().zip(&e.noiseless) {
            let expected = (v + sky) / 2.0 + (3.0f64 / 2.0).powi(2);
            assert!((m * m - expected).abs() < 1e-9 * expected, "noise map {} vs {expected}", m * m);
        }
    }

    #[test]
    fn correlated_noise_keeps_the_variance_and_has_the_gaussian_correlation() {
        // Smoothing white noise by a Gaussian of σ_c pixels correlates
        // neighbours by exp(−1/(4σ_c²)) (the autocorrelation of a Gaussian of
        // variance σ_c² has variance 2σ_c²); the rescaling keeps each
        // pixel's variance.
        let (s, sky, gain, read, n, draws, sigma_c) = (100.0, 50.0, 2.0, 3.0, 64, 30, 1.5);
        let d = DetectorDraw { exposure: 1000.0, gain, sky, read_noise: read, correlated_sigma: sigma_c, ..Default::default() };
        let expected = (s + sky) / gain + (read / gain).powi(2);
        let (_, _, exposures) = flat_statistics(s, n, &d, draws);
        let (mut v, mut c, mut count) = (0.0, 0.0, 0.0);
        for e in &exposures {
            // Away from the zero-padded edges.
            for i in 10..n - 10 {
                for j in 10..n - 11 {
                    let (a, b) = (e.image[i * n + j] - s, e.image[i * n + j + 1] - s);
                    v += a * a;
                    c += a * b;
                    count += 1.0;
                }
            }
        }
        let (var, rho) = (v / count, c / v);
        assert!((var / expected - 1.0).abs() < 0.05, "variance {var} vs {expected}");
        let want = (-1.0 / (4.0 * sigma_c * sigma_c)).exp();
        assert!((rho - want).abs() < 0.015, "lag-1 correlation {rho} vs {want}");
        let map = &exposures[0].noise_map;
        assert!(map[32 * n + 32] > 0.0 && (map[32 * n + 32].powi(2) / expected - 1.0).abs() < 1e-6, "noise map keeps the variance inside");
    }

    #[test]
    fn a_cosmic_ray_hit_carries_its_amplitude_in_the_noise_map() {
        let (s, sky, gain, read, n, amp) = (100.0, 50.0, 2.0, 3.0, 32, 500.0);
        let d = DetectorDraw { exposure: 1000.0, gain, sky, read_noise: read, cosmic_amplitudes: vec![amp], ..Default::default() };
        let expected = (s + sky) / gain + (read / gain).powi(2);
        let e = expose(&vec![s; n * n], n, &d, &mut ChaCha8Rng::seed_from_u64(3));
        let hits: Vec<usize> = (0..n * n).filter(|&k| e.cosmic[k] != 0.0).collect();
        assert_eq!(hits.len(), 1, "one hit, no track");
        let k = hits[0];
        assert!((e.noise_map[k].powi(2) - expected - amp * amp).abs() < 1e-9 * amp * amp);
        assert!((e.image[k] - e.noiseless[k] - amp).abs() < 6.0 * expected.sqrt(), "the hit adds its amplitude");
    }

    #[test]
    fn sky_gradients_and_vignetting_shape_the_expected_image() {
        // The documented model, per pixel at (x, y) = ((j, i) − c)/n:
        // (S + B(1 + g(x cos θ + y sin θ) [+ 2g(x² + y² − 1/6)]))(1 − v(x² + y²)/½),
        // minus the nominal sky B, plus the residual.
        let n = 16;
        let c = (n as f64 - 1.0) / 2.0;
        let signal: Vec<f64> = (0..n * n).map(|k| (k % 7) as f64).collect();
        for (two_d, angle) in [(false, 0.7), (true, -1.2)] {
            let d = DetectorDraw {
                exposure: 1.0,
                gain: 1.0,
                sky: 40.0,
                sky_gradient: 0.3,
                sky_gradient_angle: angle,
                sky_gradient_2d: two_d,
                vignetting: 0.2,
                sky_residual: 0.5,
                read_noise: 1.0,
                ..Default::default()
            };
            let e = expose(&signal, n, &d, &mut ChaCha8Rng::seed_from_u64(1));
            for (k, s) in signal.iter().enumerate() {
                let (x, y) = (((k % n) as f64 - c) / n as f64, ((k / n) as f64 - c) / n as f64);
                let mut g = 0.3 * (x * angle.cos() + y * angle.sin());
                if two_d {
                    g += 0.6 * (x * x + y * y - 1.0 / 6.0);
                }
                let expected = (s + 40.0 * (1.0 + g)) * (1.0 - 0.2 * (x * x + y * y) / 0.5) - 40.0 + 0.5;
                assert!((e.noiseless[k] - expected).abs() < 1e-9, "pixel {k}: {} vs {expected}", e.noiseless[k]);
            }
        }
    }

    #[test]
    fn cti_in_the_chain_trails_the_image_the_noiseless_image_and_the_variance() {
        let n = 24;
        let mut signal = vec![0.0; n * n];
        signal[3 * n + 5] = 1000.0;
        let d = DetectorDraw { exposure: 1.0, gain: 1.0, read_noise: 1e-3, cti_fraction: 0.1, cti_length: 2.0, ..Default::default() };
        let e = expose(&signal, n, &d, &mut ChaCha8Rng::seed_from_u64(2));
        let t = cti_trail(0.1, 2.0);
        for k in 0..6 {
            let row = (3 + k) * n + 5;
            assert!((e.noiseless[row] - 1000.0 * t[k]).abs() < 1e-9, "row {}: {}", 3 + k, e.noiseless[row]);
            // Variance trails with the squared taps: Var = Σ t_k² · 1000/g (+ read noise²).
            assert!((e.noise_map[row].powi(2) - 1000.0 * t[k] * t[k] - 1e-6 * t.iter().map(|v| v * v).sum::<f64>()).abs() < 1e-6);
        }
        assert_eq!(e.noiseless[2 * n + 5], 0.0, "no charge moves against the readout");
    }

    #[test]
    fn cosmic_ray_tracks_are_straight_runs_of_hits() {
        let n = 64;
        let d = DetectorDraw { exposure: 1.0, gain: 1.0, cosmic_amplitudes: vec![300.0; 20], cosmic_tracks: true, ..Default::default() };
        let e = expose(&vec![0.0; n * n], n, &d, &mut ChaCha8Rng::seed_from_u64(4));
        let hits = e.cosmic.iter().filter(|&&v| v > 0.0).count();
        let total: f64 = e.cosmic.iter().sum();
        // 20 tracks of 2–7 steps (some leave the image): more pixels than hits, charge in multiples of the amplitude.
        assert!(hits > 20 && hits <= 20 * 7, "{hits} pixels hit");
        assert!((total / 300.0 - (total / 300.0).round()).abs() < 1e-9 && total / 300.0 >= hits as f64);
        let single = DetectorDraw { cosmic_tracks: false, ..d.clone() };
        let e = expose(&vec![0.0; n * n], n, &single, &mut ChaCha8Rng::seed_from_u64(4));
        assert!((e.cosmic.iter().sum::<f64>() - 20.0 * 300.0).abs() < 1e-9, "single hits all land in the image");
    }

    #[test]
    fn cti_trails_a_point_charge_exponentially_up_its_column() {
        // One charge in row 5 of column 3: a fraction 1 − f stays, the rest
        // trails into rows 6, 7, … with taps f(1 − ρ)ρ^(k−1), ρ = e^(−1/L);
        // nothing moves to other columns or to earlier rows, and the column
        // keeps the charge (the trail fits in the image).
        let (f, length, n) = (0.05, 3.0, 48);
        let rho = (-1.0f64 / length).exp();
        let mut data = vec![0.0; n * n];
        data[5 * n + 3] = 1.0;
        let out = cti(&data, n, &cti_trail(f, length));
        let column: Vec<f64> = (0..n).map(|i| out[i * n + 3]).collect();
        let norm = 1.0 - f * rho.powi((8.0 * length) as i32);
        assert!(column[..5].iter().all(|&v| v == 0.0), "no charge moves against the readout");
        assert!((column[5] - (1.0 - f) / norm).abs() < 1e-12, "{}", column[5]);
        assert!((column[6] - f * (1.0 - rho) / norm).abs() < 1e-12, "{}", column[6]);
        for k in 6..5 + 24 {
            assert!((column[k + 1] / column[k] - rho).abs() < 1e-12, "row {k}");
        }
        assert!((column.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let elsewhere: f64 = out.iter().sum::<f64>() - column.iter().sum::<f64>();
        assert!(elsewhere.abs() < 1e-15);
        // Mean trail length of the deferred charge: 1/(1 − ρ) ≈ L + ½ rows.
        let mean: f64 = column.iter().enumerate().skip(6).map(|(i, v)| (i - 5) as f64 * v).sum::<f64>() / column[6..].iter().sum::<f64>();
        assert!((mean - 1.0 / (1.0 - rho)).abs() < 1e-2 * mean, "{mean} (the trail is cut at 8L rows)");
        // A charge in the first row read out trails the same way.
        let mut first = vec![0.0; n * n];
        first[3] = 1.0;
        let out = cti(&first, n, &cti_trail(f, length));
        assert!((out[3] - (1.0 - f) / norm).abs() < 1e-12 && (out[n + 3] - f * (1.0 - rho) / norm).abs() < 1e-12);
    }

    #[test]
    fn separable_smoothing_is_a_centred_zero_padded_convolution() {
        // Against the scatter form: every input pixel spreads w[t] of itself
        // to the pixel o = t − r away along the axis (nothing beyond the
        // edges); an asymmetric kernel tells centring and direction apart.
        let n = 9;
        let data: Vec<f64> = (0..n * n).map(|k| ((k * 7919) % 97) as f64 / 10.0 - 3.0).collect();
        let w = [0.1, 0.5, 0.2, 0.15, 0.05];
        let r = 2isize;
        for along_x in [true, false] {
            let mut expected = vec![0.0; n * n];
            for a in 0..n as isize {
                for b in 0..n as isize {
                    for (t, wt) in w.iter().enumerate() {
                        let o = t as isize - r;
                        let (i, j) = if along_x { (a, b + o) } else { (a + o, b) };
                        if (0..n as isize).contains(&i) && (0..n as isize).contains(&j) {
                            expected[(i * n as isize + j) as usize] += wt * data[(a * n as isize + b) as usize];
                        }
                    }
                }
            }
            let got = separable_axis(&data, n, &w, along_x);
            for k in 0..n * n {
                assert!((got[k] - expected[k]).abs() < 1e-12, "along_x {along_x}, pixel {k}: {} vs {}", got[k], expected[k]);
            }
        }
    }

    #[test]
    fn gaussian_taps_reach_three_sigma() {
        for sigma in [0.7, 1.5, 2.2] {
            let w = gaussian_kernel(sigma);
            let r = (3.0f64 * sigma).ceil() as usize;
            assert_eq!(w.len(), 2 * r + 1, "σ = {sigma}");
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for (t, v) in w.iter().enumerate() {
                let k = t as f64 - r as f64;
                assert!((v / w[r] - (-k * k / (2.0 * sigma * sigma)).exp()).abs() < 1e-12, "σ = {sigma}, tap {k}");
            }
        }
    }

    #[test]
    fn cosmic_ray_tracks_are_unit_steps_in_isotropic_directions() {
        // One track per exposure: its hits, in order of position along the
        // track, move by at most one pixel per step; its extent is its
        // length − 1 steps of one pixel (±√2 for the pixelization); and the
        // axes of many tracks are isotropic: ⟨cos 2φ⟩, ⟨sin 2φ⟩ ≈ 0.
        let n = 64;
        let (mut c2, mut s2, mut tracks) = (0.0f64, 0.0f64, 0.0f64);
        for seed in 0..400 {
            let d = DetectorDraw { exposure: 1.0, gain: 1.0, cosmic_amplitudes: vec![1.0], cosmic_tracks: true, ..Default::default() };
            let e = expose(&vec![0.0; n * n], n, &d, &mut ChaCha8Rng::seed_from_u64(seed));
            let hits: Vec<(f64, f64, f64)> =
                (0..n * n).filter(|&k| e.cosmic[k] > 0.0).map(|k| ((k % n) as f64, (k / n) as f64, e.cosmic[k])).collect();
            let steps: f64 = hits.iter().map(|h| h.2).sum();
            let (x0, y0) = (hits[0].0, hits[0].1);
            let far = hits.iter().map(|h| (h.0 - x0).hypot(h.1 - y0)).fold(0.0, f64::max);
            // Tracks that stay inside the image and whose extent fixes an axis.
            let inside = hits.iter().all(|h| h.0 > 0.0 && h.1 > 0.0 && h.0 < (n - 1) as f64 && h.1 < (n - 1) as f64);
            if !inside || (steps - steps.round()).abs() > 1e-12 || !(2.0..=7.0).contains(&steps) {
                continue;
            }
            let extent = hits.iter().flat_map(|a| hits.iter().map(move |b| (a.0 - b.0).hypot(a.1 - b.1))).fold(0.0, f64::max);
            assert!((extent - (steps - 1.0)).abs() <= 2f64.sqrt() + 1e-9, "seed {seed}: {steps} steps span {extent} pixels");
            let (end_a, end_b) = hits
                .iter()
                .flat_map(|a| hits.iter().map(move |b| (*a, *b)))
                .max_by(|p, q| (p.0 .0 - p.1 .0).hypot(p.0 .1 - p.1 .1).total_cmp(&(q.0 .0 - q.1 .0).hypot(q.0 .1 - q.1 .1)))
                .unwrap();
            let (dx, dy) = (end_b.0 - end_a.0, end_b.1 - end_a.1);
            let mut along: Vec<(f64, f64, f64)> = hits.iter().map(|h| ((h.0 - end_a.0) * dx + (h.1 - end_a.1) * dy, h.0, h.1)).collect();
            along.sort_by(|a, b| a.0.total_cmp(&b.0));
            for pair in along.windows(2) {
                let (ax, ay, bx, by) = (pair[0].1, pair[0].2, pair[1].1, pair[1].2);
                assert!((ax - bx).abs() <= 1.0 && (ay - by).abs() <= 1.0, "seed {seed}: a gap in the track {along:?}");
            }
            if far >= 3.0 {
                let phi = dy.atan2(dx);
                (c2, s2, tracks) = (c2 + (2.0 * phi).cos(), s2 + (2.0 * phi).sin(), tracks + 1.0);
            }
        }
        assert!(tracks > 150.0, "{tracks} tracks measured");
        // Pixelized axes of short tracks are isotropic to a few per cent.
        let bound = 4.0 * (0.5 / tracks).sqrt() + 0.05;
        assert!((c2 / tracks).abs() < bound && (s2 / tracks).abs() < bound, "⟨cos 2φ⟩ {}, ⟨sin 2φ⟩ {}", c2 / tracks, s2 / tracks);
    }
}
