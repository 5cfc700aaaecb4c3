//! The training configuration (`astrorim train --config FILE.toml`): its
//! keys, their defaults and the checks that turn a bad value into a
//! one-line error naming the file and the key.

use crate::joint::PsfSource;
use crate::known_lens::Iterate;
use crate::model::Mode;
use crate::stream::SampleStream;
use crate::train::{config_error, TrainError};
use astrorim_sim::dataset::Generator;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Training configuration (TOML); unknown keys are errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Dataset directory written by `astrorim simulate` (or `generator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Simulate the training data on the fly instead: `v1` … `v6` or `mix`
    /// (see [`crate::stream`]); validation uses the same generator with a
    /// disjoint seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Weights of v1…v6 for `generator = "mix"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix_weights: Option<Vec<f64>>,
    /// Output directory for checkpoints and metrics.
    pub out: PathBuf,
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// PSF of the joint operator: the observation's kernel or the learned Moffat + residual.
    #[serde(default = "default_psf")]
    pub psf: PsfSource,
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// Clamp the RIM's estimates at zero after every update.
    #[serde(default)]
    pub positivity: bool,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Optimizer steps in all (a resumed run stops at the same total).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Learning rate of the RIM (paper: 5e-5).
    #[serde(default = "default_lr_rim")]
    pub learning_rate_rim: f64,
    /// Learning rate of the encoder and learned PSF (paper: 5e-6).
    #[serde(default = "default_lr_forward")]
    pub learning_rate_forward: f64,
    /// Steps of linear warm-up from 0.
    #[serde(default)]
    pub warmup_steps: usize,
    /// Steps between validations (the scheduler's and early stopping's "epoch").
    #[serde(default = "default_every")]
    pub validate_every: usize,
    /// Reduce both learning rates by `plateau_factor` after `plateau_patience`
    /// validations without improvement.
    #[serde(default = "default_plateau_factor")]
    pub plateau_factor: f64,
    #[serde(default = "default_plateau_patience")]
    pub plateau_patience: usize,
    /// Stop after this many validations without improvement (fine-tuning: 5).
    #[serde(default)]
    pub early_stopping_patience: Option<usize>,
    /// Global gradient-norm limit.
    #[serde(default = "default_clip")]
    pub grad_clip: f64,
    #[serde(default = "default_wd")]
    pub weight_decay: f32,
    #[serde(default = "default_ema")]
    pub ema_decay: f64,
    #[serde(default = "default_lambda_fwd")]
    pub lambda_fwd: f64,
    #[serde(default = "default_lambda_small")]
    pub lambda_psf: f64,
    #[serde(default = "default_lambda_small")]
    pub lambda_param: f64,
    /// Weight of the supervised parameter loss (0: off).
    #[serde(default)]
    pub lambda_supervised: f64,
    /// Within the supervised loss, the weight of ln b's squared error
    /// against the other features' 1 ([`crate::joint::supervised_penalty`]).
    #[serde(default = "default_one")]
    pub theta_e_weight: f64,
    /// Weight of the SSIM term, λ_SSIM·(1 − SSIM) averaged over the unrolled
    /// iterations like the MSE ([`crate::loss::ssim_loss`]; 0: off).
    #[serde(default)]
    pub lambda_ssim: f64,
    /// Known-lens mode: bind each sample's operator to its true Θ moved by
    /// a random step of this strength ([`crate::jitter`]; 1 is the size of
    /// the parametric stage's errors; 0: the true lens).
    #[serde(default)]
    pub lens_jitter: f64,
    /// Flips and quarter turns.
    #[serde(default = "default_true")]
    pub augment: bool,
    /// Seed of the data order and the augmentations.
    #[serde(default)]
    pub seed: u64,
    /// Chunks held out for validation (the last ones).
    #[serde(default = "default_validation")]
    pub validation_chunks: u64,
    /// Validation samples (from the first held-out chunk; with a generator,
    /// rounded up to whole batches).
    #[serde(default = "default_validation_samples")]
    pub validation_samples: usize,
    /// Fine-tune from this model directory (model.safetensors + model.json):
    /// learning rates ÷ 10 and early stopping after 5 flat validations unless set.
    #[serde(default)]
    pub fine_tune_from: Option<PathBuf>,
    /// Joint mode: the reconstruction loss also trains the encoder, through
    /// the operator its Θ and lens light bind (AstroRIM §3.3); without it the
    /// operator is detached and the encoder learns from its own terms only.
    #[serde(default)]
    pub lens_gradient: bool,
    /// Joint mode, first start only (ignored when resuming a state): the
    /// RIM's weights from this model directory (e.g. the known-lens stage).
    #[serde(default)]
    pub init_rim: Option<PathBuf>,
    /// Joint mode, first start only: the forward model's weights (encoder and
    /// learned PSF) from this model directory (e.g. the encoder stage).
    #[serde(default)]
    pub init_forward: Option<PathBuf>,
    /// Continue from `out/state` exactly.
    #[serde(default)]
    pub resume: bool,
}

fn default_mode() -> Mode {
    Mode::KnownLens
}
fn default_psf() -> PsfSource {
    PsfSource::Observed
}
fn default_iterations() -> usize {
    10
}
fn default_batch() -> usize {
    8
}
fn default_steps() -> usize {
    1000
}
fn default_lr_rim() -> f64 {
    5e-5
}
fn default_lr_forward() -> f64 {
    5e-6
}
fn default_every() -> usize {
    50
}
fn default_plateau_factor() -> f64 {
    0.5
}
fn default_plateau_patience() -> usize {
    6
}
fn default_clip() -> f64 {
    5.0
}
fn default_wd() -> f32 {
    1e-4
}
fn default_ema() -> f64 {
    0.999
}
fn default_one() -> f64 {
    1.0
}

fn default_lambda_fwd() -> f64 {
    0.5
}
fn default_lambda_small() -> f64 {
    1e-3
}
fn default_true() -> bool {
    true
}
fn default_validation() -> u64 {
    1
}
fn default_validation_samples() -> usize {
    16
}

impl TrainConfig {
    pub fn from_toml(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| config_error(path, format!("cannot read: {e}")))?;
        let c: TrainConfig = toml::from_str(&text).map_err(|e| config_error(path, toml_message(&text, &e)))?;
        let bad = |f: &str, m: &str| Err(config_error(path, format!("{f}: {m}")));
        let in_unit = |v: f64| v > 0.0 && v < 1.0;
        if c.iterations == 0 || c.iterations > 100 {
            return bad("iterations", "must be in 1..=100");
        }
        if c.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if !in_unit(c.learning_rate_rim) {
            return bad("learning_rate_rim", "must be in (0, 1)");
        }
        if !in_unit(c.learning_rate_forward) {
            return bad("learning_rate_forward", "must be in (0, 1)");
        }
        if !in_unit(c.plateau_factor) {
            return bad("plateau_factor", "must be in (0, 1)");
        }
        if !(c.ema_decay >= 0.0 && c.ema_decay < 1.0) {
            return bad("ema_decay", "must be in [0, 1)");
        }
        if c.grad_clip.is_nan() || c.grad_clip <= 0.0 {
            return bad("grad_clip", "must be positive");
        }
        if c.weight_decay.is_nan() || c.weight_decay < 0.0 {
            return bad("weight_decay", "must be non-negative");
        }
        for (name, v) in [
            ("lambda_fwd", c.lambda_fwd),
            ("lambda_psf", c.lambda_psf),
            ("lambda_param", c.lambda_param),
            ("lambda_supervised", c.lambda_supervised),
            ("lambda_ssim", c.lambda_ssim),
            ("theta_e_weight", c.theta_e_weight),
            ("lens_jitter", c.lens_jitter),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(name, "must be finite and non-negative");
            }
        }
        if c.validate_every == 0 {
            return bad("validate_every", "must be at least 1");
        }
        if c.validation_samples == 0 {
            return bad("validation_samples", "must be at least 1");
        }
        if c.mode == Mode::KnownLens && c.psf == PsfSource::Learned {
            return bad("psf", "the learned PSF belongs to the joint mode");
        }
        if c.data.is_some() == c.generator.is_some() {
            return bad("data", "give exactly one of data (a dataset directory) and generator (on-the-fly simulation)");
        }
        if let Some(name) = &c.generator {
            let generator = Generator::named(name, c.mix_weights.as_deref()).map_err(|e| config_error(path, format!("generator: {e}")))?;
            SampleStream::training(generator, c.seed).map_err(|e| config_error(path, e))?;
        } else if c.mix_weights.is_some() {
            return bad("mix_weights", "only applies to generator = \"mix\"");
        }
        if c.mode == Mode::Encoder && c.lambda_supervised == 0.0 && c.lambda_fwd == 0.0 {
            return bad("lambda_supervised", "the encoder mode needs lambda_supervised or lambda_fwd above zero");
        }
        if (c.init_rim.is_some() || c.init_forward.is_some()) && c.fine_tune_from.is_some() {
            return bad("fine_tune_from", "cannot be combined with init_rim or init_forward");
        }
        if c.lens_gradient && c.mode != Mode::Joint {
            return bad("lens_gradient", "only the joint mode binds the encoder's operator");
        }
        if c.lens_jitter > 0.0 && c.mode != Mode::KnownLens {
            return bad("lens_jitter", "only the known-lens mode binds the true lens (the joint mode's lens is the encoder's)");
        }
        if c.init_forward.is_some() && c.mode == Mode::KnownLens {
            return bad("init_forward", "the known-lens mode has no forward model");
        }
        if c.init_rim.is_some() && c.mode == Mode::Encoder {
            return bad("init_rim", "the encoder mode does not train the RIM");
        }
        if c.resume && c.fine_tune_from.is_some() {
            return bad("fine_tune_from", "cannot be combined with resume (a resumed fine-tuning run resumes from its own state)");
        }
        Ok(c)
    }

    /// How the RIM runs in this configuration.
    pub fn iterate(&self) -> Iterate {
        Iterate { iterations: self.iterations, positive: self.positivity, lens_gradient: self.lens_gradient }
    }

    /// Learning rates before warm-up and plateau scaling: ÷ 10 when fine-tuning.
    pub(crate) fn base_rates(&self) -> (f64, f64) {
        let f = if self.fine_tune_from.is_some() { 0.1 } else { 1.0 };
        (self.learning_rate_rim * f, self.learning_rate_forward * f)
    }

    pub(crate) fn early_stopping(&self) -> Option<usize> {
        self.early_stopping_patience.or(self.fine_tune_from.as_ref().map(|_| 5))
    }
}

/// A TOML error as one line that names the offending key when the parser
/// located one (serde's messages for bad values do not).
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let key = e.span().and_then(|span| {
        let line = text[..span.start.min(text.len())].rsplit('\n').next().unwrap_or("").to_string() + &text[span.start.min(text.len())..];
        let key = line.split('=').next()?.trim().to_string();
        (!key.is_empty() && line.contains('=')).then_some(key)
    });
    match key {
        Some(k) if !e.message().contains(&k) => format!("{k}: {}", e.message()),
        _ => e.message().to_string(),
    }
}
