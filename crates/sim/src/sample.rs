//! One simulated sample: draw, render, expose.

use crate::detector::expose;
use crate::draw::{draw, sample_rng, Draw};
use crate::preset::Preset;
use crate::scene::{psf_kernel, render_expected};
use crate::truth::Truth;

/// One (lensed image, unlensed source) pair with everything needed to model it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub truth: Truth,
    /// Observed image, `size × size`, ADU per pixel, sky-subtracted.
    pub image: Vec<f32>,
    /// Per-pixel 1σ of the noise in `image`.
    pub noise: Vec<f32>,
    /// The noiseless image through the same deterministic detector steps.
    pub clean: Vec<f32>,
    /// Ground-truth unlensed source, `source_size²`, ADU per image pixel.
    pub source: Vec<f32>,
    /// The PSF kernel as measured (`psf_size²`, at the image pixel scale, sum 1).
    pub psf: Vec<f32>,
    /// Cosmic-ray layer (not stored in shards; used by tests).
    pub cosmic: Vec<f32>,
}

/// Simulates sample `index` of the run (`preset`, `seed`); the result
/// depends on nothing else.
pub fn simulate(preset: &Preset, variant: &str, seed: u64, index: u64) -> Sample {
    let mut rng = sample_rng(seed, index);
    let d: Draw = draw(preset, variant, index, &mut rng);
    let n = preset.image.size;
    let (signal, source) = render_expected(&d, preset);
    let exposure = expose(&signal, n, &d.detector, &mut rng);
    let stored = psf_kernel(&d.stored_psf, d.pixel_scale, preset.image.psf_size, 5);
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    Sample {
        truth: d.truth,
        image: f32s(&exposure.image),
        noise: f32s(&exposure.noise_map),
        clean: f32s(&exposure.noiseless),
        source,
        psf: f32s(stored.data()),
        cosmic: f32s(&exposure.cosmic),
    }
}
