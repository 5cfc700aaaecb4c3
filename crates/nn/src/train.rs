//! Known-lens RIM training (`astrorim train --config FILE.toml`).
//!
//! Loss: mean over the unrolled iterations of the MSE between estimate and
//! true source (per-sample scaled, see [`crate::known_lens::batch`]). AdamW
//! with burn's per-parameter gradient-norm clipping; chunks are streamed from
//! the dataset one at a time, the last `validation_chunks` held out.
//! Checkpoints: `rim.safetensors` (weights) + `rim.json` (architecture, config,
//! data manifest, code version, step, metrics), written atomically; a
//! `metrics.csv` row per checkpoint. `resume = true` reloads the weights and
//! the step count (not the optimizer moments).

use crate::forward::ForwardOperator;
use crate::known_lens::{batch, reconstruct, source_half_width};
use crate::rim::Rim;
use astrorim_io::atomic::{temporary_path, write_bytes};
use astrorim_sim::dataset::DatasetReader;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors of training and checkpoints; messages name the file or field.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Sim(#[from] astrorim_sim::SimError),
    #[error("{0}")]
    Io(#[from] astrorim_io::IoError),
    #[error("non-finite loss at step {step} (batch from chunk {chunk}); the last good checkpoint is kept")]
    NonFinite { step: usize, chunk: u64 },
}

/// Training configuration (TOML); unknown keys are errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Dataset directory written by `astrorim simulate`.
    pub data: PathBuf,
    /// Output directory for checkpoints and metrics.
    pub out: PathBuf,
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    #[serde(default = "default_steps")]
    pub steps: usize,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    #[serde(default = "default_clip")]
    pub grad_clip: f32,
    #[serde(default = "default_wd")]
    pub weight_decay: f32,
    #[serde(default = "default_validation")]
    pub validation_chunks: u64,
    #[serde(default = "default_every")]
    pub checkpoint_every: usize,
    #[serde(default)]
    pub resume: bool,
}

fn default_iterations() -> usize {
    10
}
fn default_batch() -> usize {
    4
}
fn default_steps() -> usize {
    200
}
fn default_lr() -> f64 {
    1e-3
}
fn default_clip() -> f32 {
    5.0
}
fn default_wd() -> f32 {
    1e-4
}
fn default_validation() -> u64 {
    1
}
fn default_every() -> usize {
    50
}

impl TrainConfig {
    pub fn from_toml(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::Config(format!("{}: cannot read: {e}", path.display())))?;
        let c: TrainConfig = toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {}", path.display(), e.message())))?;
        let bad = |f: &str, m: &str| Err(TrainError::Config(format!("{}: {f}: {m}", path.display())));
        if c.iterations == 0 || c.iterations > 100 {
            return bad("iterations", "must be in 1..=100");
        }
        if c.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if !(c.learning_rate > 0.0 && c.learning_rate < 1.0) {
            return bad("learning_rate", "must be in (0, 1)");
        }
        if c.grad_clip.is_nan() || c.grad_clip <= 0.0 {
            return bad("grad_clip", "must be positive");
        }
        if c.checkpoint_every == 0 {
            return bad("checkpoint_every", "must be at least 1");
        }
        Ok(c)
    }
}

/// Checkpoint metadata, next to the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub architecture: String,
    pub mode: String,
    pub code_version: String,
    pub step: usize,
    pub iterations: usize,
    pub image_size: usize,
    pub source_size: usize,
    pub psf_size: usize,
    pub config: TrainConfig,
    pub data_manifest: serde_json::Value,
    pub train_loss: f64,
    pub validation_loss: f64,
}

/// Architecture tag checked when loading.
pub const ARCHITECTURE: &str = "astrorim-rim-v2 (unet embed16/32, hardgru32@M/4, up16/8, out1x1)";

/// Saves weights and metadata atomically (weights first, metadata last).
pub fn save_checkpoint(dir: &Path, rim: &Rim, meta: &CheckpointMeta) -> Result<(), TrainError> {
    let weights = dir.join("rim.safetensors");
    let tmp = temporary_path(&weights);
    let mut store = SafetensorsStore::from_file(tmp.clone());
    rim.save_into(&mut store).map_err(|e| TrainError::Config(format!("{}: cannot save weights: {e}", weights.display())))?;
    std::fs::rename(&tmp, &weights).map_err(|e| TrainError::Config(format!("{}: {e}", weights.display())))?;
    write_bytes(&dir.join("rim.json"), serde_json::to_string_pretty(meta).expect("serializes").as_bytes())?;
    Ok(())
}

/// Loads a checkpoint directory, checking the architecture tag.
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(Rim, CheckpointMeta), TrainError> {
    let meta_path = dir.join("rim.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| TrainError::Config(format!("{}: cannot read: {e}", meta_path.display())))?;
    let meta: CheckpointMeta = serde_json::from_str(&text)
        .map_err(|e| TrainError::Config(format!("{}: invalid checkpoint metadata ({e})", meta_path.display())))?;
    if meta.architecture != ARCHITECTURE {
        return Err(TrainError::Config(format!("{}: architecture '{}' is not '{ARCHITECTURE}'", meta_path.display(), meta.architecture)));
    }
    let weights = dir.join("rim.safetensors");
    let mut rim = Rim::new(device);
    let mut store = SafetensorsStore::from_file(weights.clone());
    let result = rim.load_from(&mut store).map_err(|e| TrainError::Config(format!("{}: unreadable weights ({e})", weights.display())))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(TrainError::Config(format!(
            "{}: weights do not match the architecture ({} missing, {} errors)",
            weights.display(),
            result.missing.len(),
            result.errors.len()
        )));
    }
    Ok((rim, meta))
}

fn mse(a: burn::tensor::Tensor<4>, b: burn::tensor::Tensor<4>) -> burn::tensor::Tensor<1> {
    (a - b).square().mean()
}

/// Trains; `progress(step, loss)` is called after every step.
pub fn train(config: &TrainConfig, device: &Device, progress: &dyn Fn(usize, f64)) -> Result<CheckpointMeta, TrainError> {
    let reader = DatasetReader::open(&config.data)?;
    let m = &reader.manifest;
    let chunks = reader.available_chunks();
    if chunks.len() as u64 <= config.validation_chunks {
        return Err(TrainError::Config(format!(
            "{}: needs more than validation_chunks = {} chunks, has {}",
            config.data.display(),
            config.validation_chunks,
            chunks.len()
        )));
    }
    let (train_chunks, val_chunks) = chunks.split_at(chunks.len() - config.validation_chunks as usize);
    std::fs::create_dir_all(&config.out).map_err(|e| TrainError::Config(format!("{}: cannot create: {e}", config.out.display())))?;
    let ad = device.clone().autodiff();
    let (mut rim, mut step) = if config.resume && config.out.join("rim.json").exists() {
        let (rim, meta) = load_checkpoint(&config.out, &ad)?;
        (rim, meta.step)
    } else {
        (Rim::new(&ad), 0)
    };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(config.weight_decay)
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(config.grad_clip)))
        .init();
    let first = reader.load(train_chunks[0])?;
    let op = ForwardOperator::new(m.image_size, 1, m.source_size, source_half_width(&first, m.image_size, m.source_size), device);
    let val = reader.load(val_chunks[0])?;
    let val_rows: Vec<usize> = (0..val.count.min(8)).collect();
    let val_batch = batch(&val, &val_rows, &op, m.psf_size, device);
    let mut chunk_cursor = 0usize;
    let mut row = 0usize;
    let mut chunk = first;
    let mut running = 0.0;
    let mut meta = None;
    while step < config.steps {
        if row + config.batch_size > chunk.count {
            chunk_cursor = (chunk_cursor + 1) % train_chunks.len();
            chunk = reader.load(train_chunks[chunk_cursor])?;
            row = 0;
        }
        let rows: Vec<usize> = (row..row + config.batch_size.min(chunk.count)).collect();
        row += rows.len();
        let b = batch(&chunk, &rows, &op, m.psf_size, device);
        let estimates = reconstruct(&rim, &b.operator(&op), &b, config.iterations);
        let n = estimates.len() as f64;
        let loss = estimates.into_iter().map(|x| mse(x, b.target.clone())).reduce(|a, c| a + c).expect("≥ 1 iteration") / n;
        let value = loss.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            return Err(TrainError::NonFinite { step, chunk: train_chunks[chunk_cursor] });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &rim);
        rim = optim.step(config.learning_rate, rim, grads);
        step += 1;
        running = if step == 1 { value } else { 0.9 * running + 0.1 * value };
        progress(step, value);
        if step % config.checkpoint_every == 0 || step == config.steps {
            let valid = rim.valid();
            let est = reconstruct(&valid, &val_batch.operator(&op), &val_batch, config.iterations);
            let val_loss = mse(est.last().expect("≥ 1 iteration").clone(), val_batch.target.clone()).into_scalar::<f32>() as f64;
            let m_json = serde_json::to_value(&reader.manifest).expect("serializes");
            let record = CheckpointMeta {
                architecture: ARCHITECTURE.into(),
                mode: "known-lens".into(),
                code_version: env!("CARGO_PKG_VERSION").into(),
                step,
                iterations: config.iterations,
                image_size: m.image_size,
                source_size: m.source_size,
                psf_size: m.psf_size,
                config: config.clone(),
                data_manifest: m_json,
                train_loss: running,
                validation_loss: val_loss,
            };
            save_checkpoint(&config.out, &valid, &record)?;
            append_metrics(&config.out.join("metrics.csv"), step, running, val_loss)?;
            meta = Some(record);
        }
    }
    meta.ok_or_else(|| TrainError::Config(format!("nothing to do: the checkpoint in {} is already at step {step}", config.out.display())))
}

fn append_metrics(path: &Path, step: usize, train: f64, val: f64) -> Result<(), TrainError> {
    let mut text = std::fs::read_to_string(path).unwrap_or_else(|_| "step,train_loss,validation_loss\n".into());
    text.push_str(&format!("{step},{train:.6e},{val:.6e}\n"));
    write_bytes(path, text.as_bytes())?;
    Ok(())
}
