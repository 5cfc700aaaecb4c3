//! Exported models: `model.safetensors` (the EMA weights) + `model.json`
//! (architecture, shapes, normalization, training configuration), how they
//! load, and where the shipped model lives.

use crate::joint::{ForwardModel, PsfSource};
use crate::model::AstroRim;
use crate::train::{config_error, TrainConfig, TrainError};
use astrorim_io::atomic::write_bytes;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Checkpoint metadata, next to the exported weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub architecture: String,
    pub code_version: String,
    pub step: usize,
    pub image_size: usize,
    pub source_size: usize,
    pub psf_size: usize,
    /// How inputs are scaled before they reach the networks.
    pub normalization: String,
    pub config: TrainConfig,
    pub data_manifest: serde_json::Value,
    pub train_loss: f64,
    pub validation_loss: f64,
    pub validation_mse: f64,
}

/// Architecture tag checked when loading.
pub const ARCHITECTURE: &str =
    "astrorim-v5 (RIM: Jacobi-preconditioned gradient input, unet embed16/32, hardgru32@M/4, up16/8, out1x1; encoder: 4×[conv3-GN8-relu-pool] 32/64/96/128, fc8192-128-64, 12 heads, ellipticity and shear as components e1, e2, γ1, γ2)";

pub(crate) const NORMALIZATION: &str = "each observation, noise map, lens light and source divided by the observation's maximum pixel";

/// Where the exported model lives in a run directory.
pub fn model_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("model.safetensors"), dir.join("model.json"))
}

/// Loads an exported model (weights + metadata), checking the architecture.
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(AstroRim, CheckpointMeta), TrainError> {
    let (weights, meta_path) = model_paths(dir);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| config_error(&meta_path, format!("cannot read: {e}")))?;
    let meta: CheckpointMeta =
        serde_json::from_str(&text).map_err(|e| config_error(&meta_path, format!("invalid checkpoint metadata ({e})")))?;
    if meta.architecture != ARCHITECTURE {
        return Err(config_error(&meta_path, format!("architecture '{}' is not '{ARCHITECTURE}'", meta.architecture)));
    }
    let mut model = AstroRim::new(meta.config.mode, meta.psf_size, device, None);
    let mut store = SafetensorsStore::from_file(weights.clone());
    let result = model.load_from(&mut store).map_err(|e| config_error(&weights, format!("unreadable weights ({e})")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        return Err(config_error(
            &weights,
            format!(
                "weights do not match the metadata's architecture ({} missing, {} unexpected, {} errors)",
                result.missing.len(),
                result.unused.len(),
                result.errors.len()
            ),
        ));
    }
    Ok((model, meta))
}

/// The forward model (encoder and learned PSF) of the model in `dir`, and
/// the PSF it was trained with, for a model whose data have PSF kernels of
/// side `psf_size`: a known-lens model, which has none, or another PSF side
/// is an error naming the file.
pub fn load_forward_model(dir: &Path, psf_size: usize, device: &Device) -> Result<(ForwardModel, PsfSource), TrainError> {
    let (loaded, meta) = load_checkpoint(dir, device)?;
    let forward = loaded.forward.ok_or_else(|| config_error(dir, "the model has no encoder (it was trained in known-lens mode)"))?;
    if meta.psf_size != psf_size {
        return Err(config_error(dir, format!("the model's PSF side {} differs from the data's {psf_size}", meta.psf_size)));
    }
    Ok((forward, meta.config.psf))
}

/// The shipped model: `$ASTRORIM_MODEL` when set, else `models/default` of
/// the source tree this binary was built from (so a fresh `cargo build`
/// needs nothing else), else `models/default` two levels above the
/// executable (`target/release/astrorim` of a moved tree).
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ASTRORIM_MODEL") {
        return PathBuf::from(dir);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    if built.join("model.json").exists() {
        return built;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(|root| root.join("models/default")))
        .filter(|dir| dir.join("model.json").exists())
        .unwrap_or(built)
}

/// Writes the exported model of a run directory (weights renamed into place).
pub(crate) fn export(out: &Path, ema: &AstroRim, meta: &CheckpointMeta) -> Result<(), TrainError> {
    let (weights, meta_path) = model_paths(out);
    let tmp = astrorim_io::atomic::temporary_path(&weights);
    let mut store = SafetensorsStore::from_file(tmp.clone());
    ema.save_into(&mut store).map_err(|e| config_error(&weights, format!("cannot save weights: {e}")))?;
    std::fs::rename(&tmp, &weights).map_err(|e| config_error(&weights, e))?;
    write_bytes(&meta_path, serde_json::to_string_pretty(meta).expect("serializes").as_bytes())?;
    Ok(())
}
