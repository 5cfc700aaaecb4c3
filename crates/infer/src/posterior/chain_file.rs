//! The chain on disk: an npz file numpy reads, rewritten after every block,
//! from which a run resumes exactly.

use super::{Chain, PosteriorOptions, NDIM};
use astrorim_io::npz::{read_npz_array, write_npz, NpyArray, NpyData};
use astrorim_io::IoError;
use std::path::Path;

/// Writes the chain as `path` (npz, rewritten atomically after every block):
/// `chain` [step, walker, parameter], `log_prob` [step, walker],
/// `parameter_names`, the last ensemble in the sampler's coordinates
/// (`resume_state`), and the run's `accepted`, `evaluations`, `lambda`, `temperature`,
/// `seed` and `block` (a resumed run must use the same seed and block).
pub fn write_chain(path: &Path, chain: &Chain, options: &PosteriorOptions) -> Result<(), IoError> {
    let steps = chain.steps();
    let ndim = chain.ndim();
    let width = chain.names.iter().map(|n| n.len()).max().unwrap_or(1);
    let names: Vec<u8> = chain.names.iter().flat_map(|n| n.bytes().chain(std::iter::repeat(0)).take(width)).collect();
    let counters = [chain.accepted as u64, chain.evaluations as u64, options.seed, options.block as u64];
    let lambda = [chain.lambda];
    let temperature = [chain.temperature];
    let last: Vec<f64> = chain.last.iter().flatten().copied().collect();
    write_npz(
        path,
        &[
            NpyArray { name: "chain", shape: vec![steps, chain.walkers, ndim], data: NpyData::F64(&chain.positions) },
            NpyArray { name: "log_prob", shape: vec![steps, chain.walkers], data: NpyData::F64(&chain.log_prob) },
            NpyArray { name: "parameter_names", shape: vec![ndim], data: NpyData::Bytes { data: &names, width } },
            NpyArray { name: "accepted_evaluations_seed_block", shape: vec![4], data: NpyData::U64(&counters) },
            NpyArray { name: "lambda", shape: vec![1], data: NpyData::F64(&lambda) },
            NpyArray { name: "temperature", shape: vec![1], data: NpyData::F64(&temperature) },
            NpyArray { name: "resume_state", shape: vec![chain.last.len(), ndim], data: NpyData::F64(&last) },
        ],
    )
}

/// Reads a chain written by [`write_chain`] to resume it; an error (one
/// line, naming the file) when it is unreadable or was run with other
/// walkers (when `options` names them), seed, block or temperature. Whether its columns
/// are this run's is checked when it resumes ([`sample_with`]).
pub fn read_chain(path: &Path, options: &PosteriorOptions) -> Result<Chain, IoError> {
    let bad = |m: String| IoError::file(path, m);
    let positions = read_npz_array(path, "chain")?;
    let shape = positions.shape.clone();
    let positions = positions.to_f64().ok_or_else(|| bad("chain: not a float array".into()))?;
    let log_prob = read_npz_array(path, "log_prob")?.to_f64().ok_or_else(|| bad("log_prob: not a float array".into()))?;
    let counters =
        read_npz_array(path, "accepted_evaluations_seed_block")?.to_u64().ok_or_else(|| bad("counters: not a u64 array".into()))?;
    let lambda = read_npz_array(path, "lambda")?.to_f64().ok_or_else(|| bad("lambda: not a float array".into()))?;
    // Chains written before the temperature existed were sampled at T = 1.
    let temperature = match read_npz_array(path, "temperature") {
        Ok(t) => t.to_f64().filter(|t| t.len() == 1).ok_or_else(|| bad("temperature: not one float".into()))?[0],
        Err(_) => 1.0,
    };
    let last = read_npz_array(path, "resume_state")?.to_f64().ok_or_else(|| bad("resume_state: not a float array".into()))?;
    let names = read_npz_array(path, "parameter_names")?.to_strings().ok_or_else(|| bad("parameter_names: not a string array".into()))?;
    if shape.len() != 3
        || shape[2] < NDIM
        || names.len() != shape[2]
        || log_prob.len() != shape[0] * shape[1]
        || counters.len() != 4
        || lambda.len() != 1
        || last.len() != shape[1] * shape[2]
    {
        return Err(bad(format!("chain of shape {shape:?} is not this sampler's (steps, walkers, parameters ≥ {NDIM})")));
    }
    let walkers_differ = options.walkers.is_some_and(|w| w != shape[1]);
    if walkers_differ || counters[2] != options.seed || counters[3] != options.block as u64 {
        return Err(bad(format!(
            "was sampled with {} walkers, seed {}, block {}; this run asks for {}, {}, {}: use the same settings to resume it, or another --out",
            shape[1],
            counters[2],
            counters[3],
            options.walkers.map_or("the default walkers".into(), |w| w.to_string()),
            options.seed,
            options.block
        )));
    }
    if temperature != options.temperature {
        return Err(bad(format!(
            "was sampled at temperature {temperature}, this run asks for {}: use the same --temperature to resume it, or another --out",
            options.temperature
        )));
    }
    Ok(Chain {
        walkers: shape[1],
        names,
        positions,
        log_prob,
        accepted: counters[0] as usize,
        evaluations: counters[1] as usize,
        lambda: lambda[0],
        temperature,
        last: last.chunks(shape[2]).map(<[f64]>::to_vec).collect(),
    })
}
