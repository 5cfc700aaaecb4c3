//! Training (`astrorim train --config FILE.toml`), known-lens or joint.
//!
//! Loss: the mean over the unrolled iterations of the peak-normalized MSE
//! between estimate and true source ([`peak_normalized_mse`]), plus
//! λ_SSIM·(1 − SSIM) of the projected iterates when set ([`ssim_loss`],
//! [`project_source`]); in joint
//! mode plus λ_fwd·forward fidelity + λ_PSF·residual-kernel TV (learned PSF
//! only) + λ_param·range/prior penalties + λ_sup·supervised parameter loss.
//! AdamW with separate learning rates for the RIM and the forward model,
//! linear warm-up, reduce-on-plateau on the validation loss, global
//! gradient-norm clipping over both parts, an EMA of the weights (used for
//! validation and export), flips and quarter turns applied consistently to
//! images, sources, PSFs and truth parameters.
//!
//! Data order: epoch e visits the training chunks in a permutation drawn
//! from (seed, e) and each chunk's rows in a permutation drawn from
//! (seed, e, chunk); a batch never straddles chunks (the remainder of a chunk
//! is skipped), so only one chunk is in memory. Augmentations draw from
//! (seed, step). Everything a step depends on is in the training state, so
//! `resume = true` continues exactly where the last checkpoint left off.
//!
//! Output directory: `model.safetensors` + `model.json` (the EMA weights and
//! their metadata: what evaluation and inference load), `metrics.csv` (one
//! row per validation period), `curves.png` (its losses) and `state/` (weights with parameter ids, EMA,
//! both optimizers' moments, `state.json`), replaced as a whole by renaming.

use crate::checkpoint::{export, load_checkpoint, load_forward_model, CheckpointMeta, ARCHITECTURE, NORMALIZATION};
pub use crate::config::TrainConfig;
use crate::data::{Batch, Operators, Symmetry};
use crate::data_parallel::{self, Part, StepGradients};
use crate::forward::ForwardOperator;
use crate::jitter::jitter_theta;
use crate::joint::{forward_fidelity, parameter_penalty, supervised_penalty, PsfSource};
use crate::known_lens::project_source;
use crate::loss::{peak_normalized_mse, ssim_loss};
use crate::model::{AstroRim, Mode};
use crate::stream::SampleStream;
use astrorim_io::atomic::write_bytes;
use astrorim_io::figure::{csv_series, LinePlot};
use astrorim_sim::dataset::{Chunk, DatasetReader, Generator};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// Errors of training and checkpoints; messages name the file or field.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Sim(#[from] astrorim_sim::SimError),
    #[error(transparent)]
    Io(#[from] astrorim_io::IoError),
    #[error("non-finite loss at step {step} (batch of chunk {chunk}, rows {rows:?}); the last good checkpoint is kept")]
    NonFinite { step: usize, chunk: u64, rows: Vec<usize> },
}

pub(crate) fn config_error(path: impl AsRef<Path>, message: impl std::fmt::Display) -> TrainError {
    TrainError::Config(format!("{}: {message}", path.as_ref().display()))
}

/// The scheduler, data cursor and counters: everything besides weights and
/// optimizer moments that a step depends on.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainState {
    step: usize,
    epoch: u64,
    /// Position in the epoch's chunk order and in the current chunk's rows.
    chunk_position: usize,
    row_position: usize,
    /// Plateau multiplier of both learning rates.
    lr_scale: f64,
    best_validation: f64,
    flat_validations: usize,
    stopped_early: bool,
    train_loss: f64,
    /// Wall-clock seconds spent in training steps so far, over all resumes
    /// (the learning curve's time axis; validation and checkpoints excluded).
    #[serde(default)]
    train_seconds: f64,
}

/// Progress of one step, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    pub step: usize,
    pub steps: usize,
    pub loss: f64,
    pub learning_rate_rim: f64,
    pub samples_per_second: f64,
}

/// Sum of squared gradients over a module's parameters.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.total += g.square().sum().into_scalar::<f32>() as f64;
        }
    }
}

fn squared_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut norm = SquaredNorm { grads, total: 0.0 };
    module.visit(&mut norm);
    norm.total
}

/// Multiplies every gradient of a module by `factor`.
struct ScaleGrads<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
}

impl ModuleVisitor for ScaleGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g * self.factor);
        }
    }
}

/// Flattened, detached parameter values by id.
struct Snapshot(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Snapshot {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().detach().without_autodiff();
        let n = t.shape().num_elements();
        self.0.insert(param.id, t.reshape([n]));
    }
}

/// ema ← d·ema + (1 − d)·live, parameter by parameter (matched by id).
struct EmaUpdate {
    live: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for EmaUpdate {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(live) = self.live.remove(&param.id) else { return param };
        let decay = self.decay;
        param.map(|ema| {
            let shape = ema.shape();
            ema * decay + live.reshape(shape) * (1.0 - decay)
        })
    }
}

fn snapshot<M: Module>(module: &M) -> HashMap<ParamId, Tensor<1>> {
    let mut s = Snapshot(HashMap::new());
    module.visit(&mut s);
    s.0
}

/// The epoch's chunk order and a chunk's row order.
fn permutation(len: usize, seed: u64, stream: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut rng);
    order
}

/// Training loss of one batch and its reconstruction MSE part.
fn loss(model: &AstroRim, op: &ForwardOperator, b: &Batch, config: &TrainConfig) -> (Tensor<1>, Tensor<1>) {
    if config.mode == Mode::Encoder {
        return encoder_loss(model, op, b, config);
    }
    let out = model.reconstruct(op, b, config.psf, config.iterate());
    let n = out.estimates.len() as f64;
    let mean_over_iterations = |term: &dyn Fn(Tensor<4>) -> Tensor<1>| {
        out.estimates.iter().map(|x| term(x.clone())).reduce(|a, c| a + c).expect("≥ 1 iteration") / n
    };
    let recon = mean_over_iterations(&|x| peak_normalized_mse(x, b.target.clone()));
    let mut total = recon.clone();
    if config.lambda_ssim > 0.0 {
        total = total + mean_over_iterations(&|x| ssim_loss(project_source(x), b.target.clone())) * config.lambda_ssim;
    }
    if let (Some(fm), Some((prediction, kernel))) = (&model.forward, &out.prediction) {
        total = total
            + forward_fidelity(op, b, prediction, kernel) * config.lambda_fwd
            + parameter_penalty(&prediction.theta) * config.lambda_param;
        if config.psf == PsfSource::Learned {
            total = total + fm.residual_tv() * config.lambda_psf;
        }
        if config.lambda_supervised > 0.0 {
            total = total + supervised_penalty(&prediction.theta, &b.theta, config.theta_e_weight) * config.lambda_supervised;
        }
    }
    (total, recon)
}

/// The encoder stage's loss (the RIM is not run): λ_sup·supervised Θ +
/// λ_fwd·forward fidelity + λ_param·penalties (+ λ_PSF·TV with the learned
/// PSF); its second part, reported as validation_mse, is the supervised term.
fn encoder_loss(model: &AstroRim, op: &ForwardOperator, b: &Batch, config: &TrainConfig) -> (Tensor<1>, Tensor<1>) {
    let fm = model.forward.as_ref().expect("the encoder mode has a forward model");
    let prediction = fm.predict(b.observed.clone());
    let kernel = fm.psf(b, config.psf);
    let supervised = supervised_penalty(&prediction.theta, &b.theta, config.theta_e_weight);
    let mut total = supervised.clone() * config.lambda_supervised
        + forward_fidelity(op, b, &prediction, &kernel) * config.lambda_fwd
        + parameter_penalty(&prediction.theta) * config.lambda_param;
    if config.psf == PsfSource::Learned {
        total = total + fm.residual_tv() * config.lambda_psf;
    }
    (total, supervised)
}

/// The batch loss of a batch split into operator groups: the groups' losses
/// weighted by their share of the samples (so the mean over the batch).
fn grouped_loss(model: &AstroRim, ops: &Operators, batches: &[(u32, Batch)], config: &TrainConfig) -> (Tensor<1>, Tensor<1>) {
    let total: usize = batches.iter().map(|(_, b)| b.scale.len()).sum();
    let pieces: Part = batches.iter().map(|(key, b)| (*key, b.clone(), b.scale.len() as f64 / total as f64)).collect();
    weighted_loss(model, ops, &pieces, config)
}

/// Σ weight · loss over pieces of a batch, each with its own operator.
fn weighted_loss(model: &AstroRim, ops: &Operators, pieces: &Part, config: &TrainConfig) -> (Tensor<1>, Tensor<1>) {
    pieces
        .iter()
        .map(|(key, b, w)| {
            let (t, r) = loss(model, ops.get(*key), b, config);
            (t * *w, r * *w)
        })
        .reduce(|(t1, r1), (t2, r2)| (t1 + t2, r1 + r2))
        .expect("a batch has at least one group")
}

/// The batches of one step with each sample's lens jittered
/// ([`crate::jitter`]) when the configuration asks for it; `draw` names
/// the step (validation: a fixed value per validation batch), so that the
/// jitter is deterministic and the same on resume.
fn jittered(batches: Vec<(u32, Batch)>, config: &TrainConfig, draw: u64) -> Vec<(u32, Batch)> {
    if config.lens_jitter == 0.0 {
        return batches;
    }
    batches
        .into_iter()
        .map(|(key, mut b)| {
            b.theta = jitter_theta(b.theta, config.lens_jitter, config.seed, draw.wrapping_mul(0x1_0000_0001) ^ key as u64);
            (key, b)
        })
        .collect()
}

/// A chunk in memory with its (epoch, position) key and its row order.
type LoadedChunk = Box<((u64, usize), Chunk, Vec<usize>)>;

/// Where training batches come from.
enum TrainData {
    /// Shards on disk: epochs over the training chunks in seeded orders.
    Dataset { reader: DatasetReader, train_chunks: Vec<u64>, order: Vec<usize>, loaded: Option<LoadedChunk> },
    /// Simulated in the loader: the batch of step k is the stream's batch k.
    Stream { stream: SampleStream, current: Option<Chunk> },
}

impl TrainData {
    /// The next batch's chunk, rows and chunk id; advances the data cursor of `state`.
    fn next(&mut self, state: &mut TrainState, config: &TrainConfig) -> Result<(&Chunk, Vec<usize>, u64), TrainError> {
        match self {
            TrainData::Stream { stream, current } => {
                let chunk = current.insert(stream.batch(state.step as u64, config.batch_size));
                Ok((chunk, (0..config.batch_size).collect(), state.step as u64))
            }
            TrainData::Dataset { reader, train_chunks, order, loaded } => loop {
                let chunk_id = train_chunks[order[state.chunk_position]];
                if loaded.as_ref().map(|l| l.0) != Some((state.epoch, state.chunk_position)) {
                    let chunk = match loaded.take().map(|l| *l) {
                        Some((_, chunk, _)) if train_chunks.len() == 1 => chunk,
                        _ => reader.load(chunk_id)?,
                    };
                    let rows = permutation(chunk.count, config.seed, (state.epoch << 32) | (chunk_id + 1));
                    *loaded = Some(Box::new(((state.epoch, state.chunk_position), chunk, rows)));
                }
                let count = loaded.as_ref().expect("loaded above").1.count;
                let take = config.batch_size.min(count);
                if state.row_position + take > count {
                    state.row_position = 0;
                    state.chunk_position += 1;
                    if state.chunk_position == train_chunks.len() {
                        state.chunk_position = 0;
                        state.epoch += 1;
                        *order = permutation(train_chunks.len(), config.seed, state.epoch << 32);
                    }
                    continue;
                }
                let (_, chunk, row_order) = &**loaded.as_ref().expect("loaded above");
                let rows = row_order[state.row_position..state.row_position + take].to_vec();
                state.row_position += take;
                return Ok((chunk, rows, chunk_id));
            },
        }
    }
}

/// Image, source and PSF sides of the training data, what the checkpoint
/// records about it, the data source and the fixed validation chunks.
type Prepared = ((usize, usize, usize), serde_json::Value, TrainData, Vec<(Rc<Chunk>, Vec<usize>)>);

fn prepare_data(config: &TrainConfig) -> Result<Prepared, TrainError> {
    if let Some(name) = &config.generator {
        let generator = Generator::named(name, config.mix_weights.as_deref())?;
        let shapes = generator.shapes()?;
        let stream = SampleStream::training(generator, config.seed).map_err(TrainError::Config)?;
        let validation = stream.validation();
        // Whole batches of the validation stream (validation_samples rounded
        // up), so that every validation sample is distinct.
        let val = (0..config.validation_samples.div_ceil(config.batch_size) as u64)
            .map(|k| (Rc::new(validation.batch(k, config.batch_size)), (0..config.batch_size).collect()))
            .collect();
        let description =
            serde_json::json!({ "generator": name, "mix_weights": config.mix_weights, "seed": config.seed, "on_the_fly": true });
        return Ok((shapes, description, TrainData::Stream { stream, current: None }, val));
    }
    let data = config.data.as_ref().expect("validated: data or generator");
    let reader = DatasetReader::open(data)?;
    let m = reader.manifest.clone();
    let chunks = reader.available_chunks();
    if chunks.len() as u64 <= config.validation_chunks {
        return Err(config_error(
            data,
            format!("needs more than validation_chunks = {} chunks, has {}", config.validation_chunks, chunks.len()),
        ));
    }
    let (train_chunks, val_chunks) = chunks.split_at(chunks.len() - config.validation_chunks as usize);
    let val_chunk = Rc::new(reader.load(val_chunks[0])?);
    let val_rows: Vec<usize> = (0..val_chunk.count.min(config.validation_samples)).collect();
    let val = val_rows.chunks(config.batch_size).map(|rows| (val_chunk.clone(), rows.to_vec())).collect();
    let data = TrainData::Dataset { reader, train_chunks: train_chunks.to_vec(), order: Vec::new(), loaded: None };
    Ok(((m.image_size, m.source_size, m.psf_size), serde_json::to_value(&m).expect("serializes"), data, val))
}

/// Everything written to `out/state`.
struct Checkpoint<'a> {
    model: &'a AstroRim,
    ema: &'a AstroRim,
    optim_rim: &'a burn::optim::ModuleOptimizer,
    optim_forward: &'a burn::optim::ModuleOptimizer,
    state: &'a TrainState,
}

fn save_state(out: &Path, c: &Checkpoint) -> Result<(), TrainError> {
    let tmp = out.join("state.tmp");
    let dir = out.join("state");
    let old = out.join("state.old");
    std::fs::remove_dir_all(&tmp).ok();
    std::fs::create_dir_all(&tmp).map_err(|e| config_error(&tmp, format!("cannot create: {e}")))?;
    let store_err = |p: &Path, e: String| config_error(p, format!("cannot save: {e}"));
    for (name, m) in [("model.bpk", c.model), ("ema.bpk", c.ema)] {
        let p = tmp.join(name);
        let mut store = BurnpackStore::from_file(&p).overwrite(true);
        m.save_into(&mut store).map_err(|e| store_err(&p, e.to_string()))?;
    }
    for (name, o) in [("optim-rim.bpk", c.optim_rim), ("optim-forward.bpk", c.optim_forward)] {
        let p = tmp.join(name);
        o.save(&p).map_err(|e| store_err(&p, e.to_string()))?;
    }
    write_bytes(&tmp.join("state.json"), serde_json::to_string_pretty(c.state).expect("serializes").as_bytes())?;
    std::fs::remove_dir_all(&old).ok();
    if dir.exists() {
        std::fs::rename(&dir, &old).map_err(|e| config_error(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| config_error(&dir, e))?;
    std::fs::remove_dir_all(&old).ok();
    Ok(())
}

type Loaded = (AstroRim, AstroRim, burn::optim::ModuleOptimizer, burn::optim::ModuleOptimizer, TrainState);

fn load_state(out: &Path, config: &TrainConfig, psf_size: usize, ad: &Device, plain: &Device) -> Result<Loaded, TrainError> {
    // A crash between the two renames of `save_state` leaves only `state.old`.
    let dir = if out.join("state").exists() { out.join("state") } else { out.join("state.old") };
    let load_module = |name: &str, device: &Device| -> Result<AstroRim, TrainError> {
        let p = dir.join(name);
        let mut m = AstroRim::new(config.mode, psf_size, device, None);
        let r = m.load_from(&mut BurnpackStore::from_file(&p)).map_err(|e| config_error(&p, format!("unreadable training state ({e})")))?;
        if !r.errors.is_empty() || !r.missing.is_empty() {
            return Err(config_error(&p, "training state does not match the configured mode and architecture"));
        }
        Ok(m)
    };
    let model = load_module("model.bpk", ad)?;
    let ema = load_module("ema.bpk", plain)?;
    let load_optim = |name: &str| -> Result<burn::optim::ModuleOptimizer, TrainError> {
        let p = dir.join(name);
        optimizer(config).load(&p).map_err(|e| config_error(&p, format!("unreadable optimizer state ({e})")))
    };
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| config_error(&path, format!("cannot read: {e}")))?;
    let state: TrainState = serde_json::from_str(&text).map_err(|e| config_error(&path, format!("invalid training state ({e})")))?;
    Ok((model, ema, load_optim("optim-rim.bpk")?, load_optim("optim-forward.bpk")?, state))
}

fn optimizer(config: &TrainConfig) -> burn::optim::ModuleOptimizer {
    AdamWConfig::new().with_weight_decay(config.weight_decay).init()
}

fn append_metrics(path: &Path, row: &str) -> Result<(), TrainError> {
    let mut text = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "step,epoch,samples_seen,train_seconds,learning_rate_rim,learning_rate_forward,train_loss,validation_loss,validation_mse,samples_per_second\n".into()
    });
    text.push_str(row);
    write_bytes(path, text.as_bytes())?;
    Ok(())
}

/// `curves.png` of a run directory: training and validation loss against samples seen.
fn plot_curves(out: &Path) -> Result<(), TrainError> {
    let series = csv_series(&out.join("metrics.csv"), "samples_seen", &["train_loss", "validation_loss"], None)?;
    let title = format!("Training {}", out.display());
    let plot = LinePlot { title: &title, x_label: "samples seen", y_label: "loss (peak-normalized MSE)", log_y: true };
    plot.save(&out.join("curves.png"), &series)?;
    Ok(())
}

/// A fresh model for `config`, its RIM and forward model taken from
/// `init_rim` and `init_forward` where given.
fn initial_model(config: &TrainConfig, psf_size: usize, device: &Device) -> Result<AstroRim, TrainError> {
    let mut model = AstroRim::new(config.mode, psf_size, device, Some(config.seed));
    if let Some(dir) = &config.init_rim {
        model.rim = load_checkpoint(dir, device)?.0.rim;
    }
    if let Some(dir) = &config.init_forward {
        model.forward = Some(load_forward_model(dir, psf_size, device)?.0);
    }
    Ok(model)
}

/// Trains; `progress` is called after every step. Returns the metadata of
/// the last export and the exported (EMA) model as it is in memory.
pub fn train(config: &TrainConfig, device: &Device, progress: &dyn Fn(&StepReport)) -> Result<(CheckpointMeta, AstroRim), TrainError> {
    let ((image_size, source_size, psf_size), data_description, mut data, val) = prepare_data(config)?;
    if image_size % 16 != 0 || source_size % 4 != 0 {
        return Err(config_error(
            config.data.as_deref().unwrap_or(Path::new("generator")),
            "image side must be divisible by 16 and source side by 4",
        ));
    }
    std::fs::create_dir_all(&config.out).map_err(|e| config_error(&config.out, format!("cannot create: {e}")))?;
    let ad = device.clone().autodiff();
    let resuming = config.resume && (config.out.join("state").exists() || config.out.join("state.old").exists());
    let (mut model, mut ema, mut optim_rim, mut optim_forward, mut state) = if resuming {
        load_state(&config.out, config, psf_size, &ad, device)?
    } else {
        let model = match &config.fine_tune_from {
            Some(dir) => {
                let (loaded, meta) = load_checkpoint(dir, &ad)?;
                if meta.config.mode != config.mode {
                    return Err(config_error(
                        dir,
                        format!("model mode {:?} differs from the configured {:?}", meta.config.mode, config.mode),
                    ));
                }
                loaded
            }
            None => initial_model(config, psf_size, &ad)?,
        };
        let ema = model.valid();
        let state = TrainState {
            step: 0,
            epoch: 0,
            chunk_position: 0,
            row_position: 0,
            lr_scale: 1.0,
            best_validation: f64::INFINITY,
            flat_validations: 0,
            stopped_early: false,
            train_loss: f64::NAN,
            train_seconds: 0.0,
        };
        (model, ema, optimizer(config), optimizer(config), state)
    };
    if state.step >= config.steps || state.stopped_early {
        return Err(config_error(&config.out, format!("nothing to do: the training state is at step {} of {}", state.step, config.steps)));
    }
    let mut ops = Operators::new(image_size, source_size, device);
    let val_batches: Vec<Vec<(u32, Batch)>> = val
        .iter()
        .enumerate()
        .map(|(i, (chunk, rows))| jittered(ops.batches(chunk, rows, None, psf_size), config, u64::MAX - i as u64))
        .collect();
    let (rate_rim, rate_forward) = config.base_rates();
    if let TrainData::Dataset { train_chunks, order, .. } = &mut data {
        *order = permutation(train_chunks.len(), config.seed, state.epoch << 32);
    }
    let mut period_start = Instant::now();
    let mut period_samples = 0usize;
    let mut last_meta = None;
    while state.step < config.steps && !state.stopped_early {
        let step_start = Instant::now();
        let (chunk, rows, chunk_id) = data.next(&mut state, config)?;
        let symmetries: Option<Vec<Symmetry>> = config.augment.then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed_a4a7);
            rng.set_stream(state.step as u64);
            rows.iter().map(|_| Symmetry::random(&mut rng)).collect()
        });
        let b = jittered(ops.batches(chunk, &rows, symmetries.as_deref(), psf_size), config, state.step as u64);

        let parts = data_parallel::split(b);
        let StepGradients { value, rim: mut g_rim, forward: mut g_fwd } =
            data_parallel::gradients(&model, &ad, &parts, &|m, part| weighted_loss(m, &ops, part, config).0);
        if !value.is_finite() {
            return Err(TrainError::NonFinite { step: state.step, chunk: chunk_id, rows });
        }
        let forward_grads = model.forward.as_ref().zip(g_fwd.as_ref());
        let squared = squared_norm(&model.rim, &g_rim) + forward_grads.map_or(0.0, |(f, g)| squared_norm(f, g));
        let grad_norm = squared.sqrt();
        if grad_norm > config.grad_clip {
            let factor = (config.grad_clip / grad_norm) as f32;
            model.rim.visit(&mut ScaleGrads { grads: &mut g_rim, factor });
            if let (Some(f), Some(g)) = (&model.forward, g_fwd.as_mut()) {
                f.visit(&mut ScaleGrads { grads: g, factor });
            }
        }
        let warm = if config.warmup_steps > 0 { ((state.step + 1) as f64 / config.warmup_steps as f64).min(1.0) } else { 1.0 };
        let (lr_rim, lr_fwd) = (rate_rim * warm * state.lr_scale, rate_forward * warm * state.lr_scale);
        let AstroRim { rim, forward } = model;
        let rim = optim_rim.step(lr_rim, rim, g_rim);
        let forward = match (forward, g_fwd) {
            (Some(f), Some(g)) => Some(optim_forward.step(lr_fwd, f, g)),
            (f, _) => f,
        };
        model = AstroRim { rim, forward };
        ema = ema.map(&mut EmaUpdate { live: snapshot(&model), decay: config.ema_decay });
        state.step += 1;
        state.train_seconds += step_start.elapsed().as_secs_f64();
        state.train_loss = if state.train_loss.is_finite() { 0.9 * state.train_loss + 0.1 * value } else { value };
        period_samples += rows.len();
        let rate = period_samples as f64 / period_start.elapsed().as_secs_f64().max(1e-9);
        progress(&StepReport { step: state.step, steps: config.steps, loss: value, learning_rate_rim: lr_rim, samples_per_second: rate });

        if state.step % config.validate_every == 0 || state.step == config.steps {
            // The validation batches side by side (summed in order below).
            let losses: Vec<(f64, f64)> = val_batches
                .par_iter()
                .map(|vb| {
                    let (t, r) = grouped_loss(&ema, &ops, vb, config);
                    (t.into_scalar::<f32>() as f64, r.into_scalar::<f32>() as f64)
                })
                .collect();
            let (mut val_loss, mut val_mse) = (0.0, 0.0);
            for (t, r) in losses {
                val_loss += t / val_batches.len() as f64;
                val_mse += r / val_batches.len() as f64;
            }
            if val_loss < state.best_validation {
                state.best_validation = val_loss;
                state.flat_validations = 0;
            } else {
                state.flat_validations += 1;
                if state.step > config.warmup_steps && state.flat_validations.is_multiple_of(config.plateau_patience.max(1)) {
                    state.lr_scale *= config.plateau_factor;
                }
                if config.early_stopping().is_some_and(|p| state.flat_validations >= p) {
                    state.stopped_early = true;
                }
            }
            let meta = CheckpointMeta {
                architecture: ARCHITECTURE.into(),
                code_version: env!("CARGO_PKG_VERSION").into(),
                step: state.step,
                image_size,
                source_size,
                psf_size,
                normalization: NORMALIZATION.into(),
                config: config.clone(),
                data_manifest: data_description.clone(),
                train_loss: state.train_loss,
                validation_loss: val_loss,
                validation_mse: val_mse,
            };
            export(&config.out, &ema, &meta)?;
            save_state(
                &config.out,
                &Checkpoint { model: &model, ema: &ema, optim_rim: &optim_rim, optim_forward: &optim_forward, state: &state },
            )?;
            append_metrics(
                &config.out.join("metrics.csv"),
                &format!(
                    "{},{},{},{:.1},{lr_rim:.3e},{lr_fwd:.3e},{:.6e},{val_loss:.6e},{val_mse:.6e},{rate:.3}\n",
                    state.step,
                    state.epoch,
                    state.step * config.batch_size,
                    state.train_seconds,
                    state.train_loss
                ),
            )?;
            plot_curves(&config.out)?;
            last_meta = Some(meta);
            period_start = Instant::now();
            period_samples = 0;
        }
    }
    let meta = last_meta.ok_or_else(|| config_error(&config.out, "no validation was reached"))?;
    Ok((meta, ema))
}
