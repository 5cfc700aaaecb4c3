//! Datasets on disk: a directory of chunk files that numpy reads without
//! this project, generated in parallel, resumable, and read back lazily.
//!
//! Layout of `DIR`:
//! - `manifest.json`: what the dataset is (generator and its presets, seed,
//!   counts, array shapes, code version). Written first; a directory holding
//!   a different dataset is refused.
//! - `shard-CCCCC.npz`: samples [C·S, (C+1)·S) as arrays `image`, `noise`,
//!   `clean` (n×n), `source` (m×m), `psf` (k×k), `pixel_scale`,
//!   `source_pixel_scale`, `index`, `variant` (bytes), `lenstronomy` (×9) and
//!   `astrorim` (×9) lens parameters (names in the manifest).
//! - `truth-CCCCC.csv`: every truth value of those samples; `truth.csv`
//!   concatenates them once all chunks exist.
//!
//! Every file is written under a temporary name and renamed, the truth
//! before the npz, so an existing npz means a finished chunk: an interrupted
//! run resumes by skipping finished chunks. Sample k depends only on
//! (seed, k), so thread count and `--shard I/N` splits give identical files.

use crate::draw::sample_rng;
use crate::preset::{builtin, Preset, BUILTIN};
use crate::sample::{simulate, Sample};
use crate::truth::Truth;
use crate::SimError;
use astrorim_io::atomic::write_bytes;
use astrorim_io::npz::{read_npz_array, write_npz, NpyArray, NpyData};
use astrorim_io::IoError;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Dataset format identifier written in manifests.
pub const FORMAT: &str = "astrorim-sim/1";
/// Salt separating the mix-selection stream from the samples' own streams.
const MIX_SALT: u64 = 0x6d69_785f_7365_6c21;

/// What generates the samples: one variant, or a weighted mix of variants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generator {
    /// "v3", "mix", or a user preset's name.
    pub name: String,
    /// (variant label, preset, weight); one entry with weight 1 for a single variant.
    pub members: Vec<(String, Preset, f64)>,
    /// Stratified generators (the held-out test set): sample k belongs to
    /// member ⌊k / stratum⌋ (then the next, cyclically) instead of a weighted draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stratum: Option<u64>,
}

/// The held-out test set: 150 samples of each built-in variant in order
/// (v1…v4 150 each and v5–v6 300 together, the AstroRIM paper's 900), from a
/// seed that no training run may use.
pub const TEST_SET_SEED: u64 = 900_2019;
pub const TEST_SET_PER_VARIANT: u64 = 150;

impl Generator {
    /// A single built-in variant, `mix` of all six (weights default to equal),
    /// or `test-set` (the six in blocks of [`TEST_SET_PER_VARIANT`]).
    pub fn named(name: &str, mix_weights: Option<&[f64]>) -> Result<Self, SimError> {
        if name == "mix" {
            let weights = mix_weights.map(<[f64]>::to_vec).unwrap_or_else(|| vec![1.0; BUILTIN.len()]);
            if weights.len() != BUILTIN.len() || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || weights.iter().sum::<f64>() == 0.0
            {
                return Err(SimError::preset("mix-weights", "give six non-negative weights (v1..v6), not all zero"));
            }
            let members =
                BUILTIN.iter().zip(weights).map(|((n, _), w)| Ok((n.to_string(), builtin(n)?, w))).collect::<Result<_, SimError>>()?;
            return Ok(Generator { name: "mix".into(), members, stratum: None });
        }
        if name == "test-set" {
            let members = BUILTIN.iter().map(|(n, _)| Ok((n.to_string(), builtin(n)?, 1.0))).collect::<Result<_, SimError>>()?;
            return Ok(Generator { name: name.into(), members, stratum: Some(TEST_SET_PER_VARIANT) });
        }
        if mix_weights.is_some() {
            return Err(SimError::preset("mix-weights", "only applies to the mix variant"));
        }
        let preset = builtin(name)?;
        Ok(Generator { name: name.into(), members: vec![(name.into(), preset, 1.0)], stratum: None })
    }

    /// A user preset read from a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| IoError::file(path, format!("cannot read: {e}")))?;
        let preset =
            Preset::from_toml(&text).map_err(|e| SimError::preset(format!("{}: {}", path.display(), field_of(&e)), message_of(&e)))?;
        Ok(Generator { name: preset.name.clone(), members: vec![(preset.name.clone(), preset, 1.0)], stratum: None })
    }

    /// The preset of sample `index` (for a mix, drawn from its own stream).
    pub fn member(&self, seed: u64, index: u64) -> &(String, Preset, f64) {
        if self.members.len() == 1 {
            return &self.members[0];
        }
        if let Some(stratum) = self.stratum {
            return &self.members[((index / stratum.max(1)) % self.members.len() as u64) as usize];
        }
        let total: f64 = self.members.iter().map(|m| m.2).sum();
        let mut u = sample_rng(seed ^ MIX_SALT, index).gen::<f64>() * total;
        for m in &self.members {
            if u < m.2 {
                return m;
            }
            u -= m.2;
        }
        self.members.last().expect("non-empty")
    }

    pub fn simulate(&self, seed: u64, index: u64) -> Sample {
        let (label, preset, _) = self.member(seed, index);
        simulate(preset, label, seed, index)
    }

    /// Image, source and PSF sides, which all members must share to fill one array.
    pub fn shapes(&self) -> Result<(usize, usize, usize), SimError> {
        let im = &self.members[0].1.image;
        let s = (im.size, im.source_size, im.psf_size);
        if self.members.iter().any(|m| (m.1.image.size, m.1.image.source_size, m.1.image.psf_size) != s) {
            return Err(SimError::preset("image", "mixed presets must share image.size, image.source_size and image.psf_size"));
        }
        Ok(s)
    }
}

fn field_of(e: &SimError) -> String {
    match e {
        SimError::Preset { field, .. } => field.clone(),
        SimError::Io(_) => String::new(),
    }
}

fn message_of(e: &SimError) -> String {
    match e {
        SimError::Preset { message, .. } => message.clone(),
        SimError::Io(e) => e.to_string(),
    }
}

/// The manifest: everything that defines a dataset's content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub code_version: String,
    pub generator: String,
    pub variants: Vec<String>,
    pub weights: Vec<f64>,
    /// The presets in full, as JSON.
    pub presets: serde_json::Value,
    pub seed: u64,
    pub count: u64,
    pub shard_size: u64,
    pub chunks: u64,
    pub image_size: usize,
    pub source_size: usize,
    pub psf_size: usize,
    pub lenstronomy_parameters: Vec<String>,
    pub astrorim_parameters: Vec<String>,
    pub units: String,
}

/// A generation request.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub generator: Generator,
    pub count: u64,
    pub seed: u64,
    pub shard_size: u64,
    /// (I, N): generate only chunks c with c mod N = I − 1.
    pub shard: Option<(u64, u64)>,
    pub out: PathBuf,
}

const LENSTRONOMY_NAMES: [&str; 9] = ["theta_E", "e1", "e2", "center_x", "center_y", "gamma1", "gamma2", "Rs", "alpha_Rs"];

impl RunSpec {
    pub fn manifest(&self) -> Result<Manifest, SimError> {
        let (image_size, source_size, psf_size) = self.generator.shapes()?;
        Ok(Manifest {
            format: FORMAT.into(),
            code_version: env!("CARGO_PKG_VERSION").into(),
            generator: self.generator.name.clone(),
            variants: self.generator.members.iter().map(|m| m.0.clone()).collect(),
            weights: self.generator.members.iter().map(|m| m.2).collect(),
            presets: serde_json::to_value(self.generator.members.iter().map(|m| &m.1).collect::<Vec<_>>()).expect("presets serialize"),
            seed: self.seed,
            count: self.count,
            shard_size: self.shard_size,
            chunks: self.count.div_ceil(self.shard_size),
            image_size,
            source_size,
            psf_size,
            lenstronomy_parameters: LENSTRONOMY_NAMES.iter().map(|s| s.to_string()).collect(),
            astrorim_parameters: astrorim_physics::param_map::ASTRORIM_NAMES.iter().map(|s| s.to_string()).collect(),
            units: "image, noise, clean: ADU per pixel (sky-subtracted); source: ADU per image-pixel area on the source grid; psf: sums to 1; angles arcsec".into(),
        })
    }

    /// Chunks this process generates.
    pub fn my_chunks(&self) -> Vec<u64> {
        let chunks = self.count.div_ceil(self.shard_size);
        (0..chunks).filter(|c| self.shard.is_none_or(|(i, n)| c % n == i - 1)).collect()
    }
}

pub fn shard_path(dir: &Path, chunk: u64) -> PathBuf {
    dir.join(format!("shard-{chunk:05}.npz"))
}

pub fn truth_path(dir: &Path, chunk: u64) -> PathBuf {
    dir.join(format!("truth-{chunk:05}.csv"))
}

/// Validates `spec`, writes or checks the manifest, and returns the chunks
/// still to generate and the samples they hold.
pub fn prepare(spec: &RunSpec) -> Result<(Vec<u64>, u64), SimError> {
    if spec.count == 0 {
        return Err(SimError::preset("n", "must be at least 1"));
    }
    if spec.shard_size == 0 {
        return Err(SimError::preset("shard-size", "must be at least 1"));
    }
    if let Some((i, n)) = spec.shard {
        if n == 0 || i == 0 || i > n {
            return Err(SimError::preset("shard", format!("{i}/{n} must satisfy 1 ≤ I ≤ N")));
        }
    }
    std::fs::create_dir_all(&spec.out).map_err(|e| IoError::file(&spec.out, format!("cannot create the output directory: {e}")))?;
    let manifest = spec.manifest()?;
    let manifest_path = spec.out.join("manifest.json");
    if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| IoError::file(&manifest_path, e))?;
        let old: Manifest = serde_json::from_str(&text).map_err(|e| IoError::file(&manifest_path, format!("unreadable manifest ({e})")))?;
        if old != manifest {
            return Err(IoError::file(
                &spec.out,
                "holds a different dataset (preset, seed, count or shard size differ); choose another --out",
            )
            .into());
        }
    } else {
        write_bytes(&manifest_path, serde_json::to_string_pretty(&manifest).expect("serializes").as_bytes())?;
    }
    let todo: Vec<u64> = spec.my_chunks().into_iter().filter(|&c| !shard_path(&spec.out, c).exists()).collect();
    let samples = todo.iter().map(|&c| chunk_range(spec, c).count() as u64).sum();
    Ok((todo, samples))
}

fn chunk_range(spec: &RunSpec, chunk: u64) -> std::ops::Range<u64> {
    chunk * spec.shard_size..((chunk + 1) * spec.shard_size).min(spec.count)
}

/// Generates `chunks` in order (samples within a chunk in parallel on the
/// current rayon pool), calling `progress(n)` as samples finish. Then, if
/// every chunk of the dataset exists, writes the merged `truth.csv`.
pub fn generate(spec: &RunSpec, chunks: &[u64], progress: &(dyn Fn(u64) + Sync)) -> Result<(), SimError> {
    let (n, m, k) = spec.generator.shapes()?;
    for &chunk in chunks {
        let samples: Vec<Sample> = chunk_range(spec, chunk)
            .into_par_iter()
            .map(|index| {
                let s = spec.generator.simulate(spec.seed, index);
                progress(1);
                s
            })
            .collect();
        write_truth(&truth_path(&spec.out, chunk), samples.iter().map(|s| &s.truth))?;
        write_chunk(&shard_path(&spec.out, chunk), &samples, n, m, k)?;
    }
    merge_truth(spec)
}

fn write_truth<'a>(path: &Path, rows: impl Iterator<Item = &'a Truth>) -> Result<(), SimError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for t in rows {
        w.serialize(t).map_err(|e| IoError::file(path, e))?;
    }
    write_bytes(path, &w.into_inner().map_err(|e| IoError::file(path, e))?)?;
    Ok(())
}

fn merge_truth(spec: &RunSpec) -> Result<(), SimError> {
    let chunks = spec.count.div_ceil(spec.shard_size);
    if !(0..chunks).all(|c| shard_path(&spec.out, c).exists()) {
        return Ok(());
    }
    let mut merged = Vec::new();
    for c in 0..chunks {
        let path = truth_path(&spec.out, c);
        let text = std::fs::read(&path).map_err(|e| IoError::file(&path, e))?;
        let body = if c == 0 { &text[..] } else { text.splitn(2, |&b| b == b'\n').nth(1).unwrap_or(&[]) };
        merged.extend_from_slice(body);
    }
    write_bytes(&spec.out.join("truth.csv"), &merged)?;
    Ok(())
}

fn write_chunk(path: &Path, samples: &[Sample], n: usize, m: usize, k: usize) -> Result<(), SimError> {
    let c = Chunk::from_samples(samples);
    let s = c.count;
    let mut variant = vec![0u8; s * 16];
    for (i, v) in c.variant.iter().enumerate() {
        let b = v.as_bytes();
        variant[i * 16..i * 16 + b.len().min(16)].copy_from_slice(&b[..b.len().min(16)]);
    }
    write_npz(
        path,
        &[
            NpyArray { name: "image", shape: vec![s, n, n], data: NpyData::F32(&c.image) },
            NpyArray { name: "noise", shape: vec![s, n, n], data: NpyData::F32(&c.noise) },
            NpyArray { name: "clean", shape: vec![s, n, n], data: NpyData::F32(&c.clean) },
            NpyArray { name: "source", shape: vec![s, m, m], data: NpyData::F32(&c.source) },
            NpyArray { name: "psf", shape: vec![s, k, k], data: NpyData::F32(&c.psf) },
            NpyArray { name: "pixel_scale", shape: vec![s], data: NpyData::F64(&c.pixel_scale) },
            NpyArray { name: "source_pixel_scale", shape: vec![s], data: NpyData::F64(&c.source_pixel_scale) },
            NpyArray { name: "index", shape: vec![s], data: NpyData::U64(&c.index) },
            NpyArray { name: "variant", shape: vec![s], data: NpyData::Bytes { data: &variant, width: 16 } },
            NpyArray { name: "lenstronomy", shape: vec![s, 9], data: NpyData::F64(&c.lenstronomy) },
            NpyArray { name: "astrorim", shape: vec![s, 9], data: NpyData::F64(&c.astrorim) },
        ],
    )?;
    Ok(())
}

/// One chunk loaded in memory.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub count: usize,
    pub image: Vec<f32>,
    pub noise: Vec<f32>,
    pub clean: Vec<f32>,
    pub source: Vec<f32>,
    pub psf: Vec<f32>,
    pub pixel_scale: Vec<f64>,
    pub source_pixel_scale: Vec<f64>,
    pub index: Vec<u64>,
    /// Variant label of each sample (`v1` … `v6` or a user preset's name).
    pub variant: Vec<String>,
    pub lenstronomy: Vec<f64>,
    pub astrorim: Vec<f64>,
}

impl Chunk {
    /// The samples in memory as one chunk, exactly as a shard stores them
    /// (on-the-fly training data uses this without touching the disk).
    pub fn from_samples(samples: &[Sample]) -> Chunk {
        let cat = |f: &dyn Fn(&Sample) -> &[f32]| samples.iter().flat_map(|x| f(x).iter().copied()).collect::<Vec<f32>>();
        let truths = || samples.iter().map(|x| &x.truth);
        Chunk {
            count: samples.len(),
            image: cat(&|x| &x.image),
            noise: cat(&|x| &x.noise),
            clean: cat(&|x| &x.clean),
            source: cat(&|x| &x.source),
            psf: cat(&|x| &x.psf),
            pixel_scale: truths().map(|t| t.pixel_scale).collect(),
            source_pixel_scale: truths().map(|t| t.source_pixel_scale).collect(),
            index: truths().map(|t| t.index).collect(),
            variant: truths().map(|t| t.variant.clone()).collect(),
            lenstronomy: truths()
                .flat_map(|t| [t.theta_E, t.e1, t.e2, t.center_x, t.center_y, t.gamma1, t.gamma2, t.nfw_Rs, t.nfw_alpha_Rs])
                .collect(),
            astrorim: truths().flat_map(|t| [t.b, t.q, t.phi, t.x0, t.y0, t.gamma, t.gamma_phi, t.kappa_s, t.r_s]).collect(),
        }
    }
}

/// A dataset opened for lazy reading: chunks are loaded one at a time.
#[derive(Debug, Clone)]
pub struct DatasetReader {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl DatasetReader {
    pub fn open(dir: &Path) -> Result<Self, SimError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| IoError::file(&path, format!("cannot read the dataset manifest: {e}")))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| IoError::file(&path, format!("invalid manifest ({e})")))?;
        if manifest.format != FORMAT {
            return Err(IoError::file(&path, format!("format {} is not {FORMAT}", manifest.format)).into());
        }
        Ok(DatasetReader { dir: dir.to_path_buf(), manifest })
    }

    /// Chunks present on disk.
    pub fn available_chunks(&self) -> Vec<u64> {
        (0..self.manifest.chunks).filter(|&c| shard_path(&self.dir, c).exists()).collect()
    }

    /// Loads chunk `c`, checking shapes and finiteness.
    pub fn load(&self, c: u64) -> Result<Chunk, SimError> {
        let path = shard_path(&self.dir, c);
        let m = &self.manifest;
        let get = |name: &str, side: usize| -> Result<(usize, Vec<f32>), SimError> {
            let a = read_npz_array(&path, name)?;
            if a.shape.len() != 3 || a.shape[1] != side || a.shape[2] != side {
                return Err(IoError::file(&path, format!("array {name} has shape {:?}, expected (N, {side}, {side})", a.shape)).into());
            }
            let v = a.to_f32().ok_or_else(|| IoError::file(&path, format!("array {name} is not floating point")))?;
            if let Some(k) = v.iter().position(|x| !x.is_finite()) {
                return Err(IoError::file(&path, format!("array {name} has a non-finite value in sample {}", k / (side * side))).into());
            }
            Ok((a.shape[0], v))
        };
        let (count, image) = get("image", m.image_size)?;
        let f64s = |name: &str| -> Result<Vec<f64>, SimError> {
            read_npz_array(&path, name)?.to_f64().ok_or_else(|| IoError::file(&path, format!("array {name} is not floating point")).into())
        };
        let chunk = Chunk {
            count,
            image,
            noise: get("noise", m.image_size)?.1,
            clean: get("clean", m.image_size)?.1,
            source: get("source", m.source_size)?.1,
            psf: get("psf", m.psf_size)?.1,
            pixel_scale: f64s("pixel_scale")?,
            source_pixel_scale: f64s("source_pixel_scale")?,
            index: read_npz_array(&path, "index")?.to_u64().ok_or_else(|| IoError::file(&path, "array index is not uint64"))?,
            variant: read_npz_array(&path, "variant")?
                .to_strings()
                .ok_or_else(|| IoError::file(&path, "array variant is not a byte-string array"))?,
            lenstronomy: f64s("lenstronomy")?,
            astrorim: f64s("astrorim")?,
        };
        if chunk.noise.len() / (m.image_size * m.image_size) != count || chunk.source.len() / (m.source_size * m.source_size) != count {
            return Err(IoError::file(&path, "arrays hold different numbers of samples").into());
        }
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_set_is_stratified_by_variant() {
        let g = Generator::named("test-set", None).unwrap();
        let label = |k: u64| g.member(TEST_SET_SEED, k).0.clone();
        assert_eq!(g.members.len() as u64 * TEST_SET_PER_VARIANT, 900);
        assert_eq!((label(0), label(149), label(150), label(299)), ("v1".into(), "v1".into(), "v2".into(), "v2".into()));
        assert_eq!((label(600), label(750), label(899)), ("v5".into(), "v6".into(), "v6".into()));
    }
}
