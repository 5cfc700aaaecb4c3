//! `simulate`: the training-data simulator as an in-memory data source.

use crate::arrays::stack_to_numpy;
use crate::{file_error, value_error};
use astrorim_sim::dataset::Generator;
use astrorim_sim::Sample;
use numpy::ndarray::Array1;
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rayon::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

/// Samples `start … start + n − 1` of the run (`variant` or `preset`,
/// `seed`), exactly those `astrorim simulate` writes for the same
/// arguments: a dict of float32 arrays `image`, `noise`, `clean`
/// (n × N × N, ADU per pixel), `source` (n × M × M), `psf` (n × K × K), and
/// `truth`, a dict of columns (numbers as float64 arrays, text and flags as
/// lists), one entry per sample.
#[pyfunction]
#[pyo3(signature = (variant = "v1", n = 16, seed = 0, start = 0, mix_weights = None, preset = None))]
pub fn simulate<'py>(
    py: Python<'py>,
    variant: &str,
    n: u64,
    seed: u64,
    start: u64,
    mix_weights: Option<Vec<f64>>,
    preset: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let generator = match &preset {
        Some(path) => Generator::from_file(path).map_err(|e| file_error(path, e))?,
        None => Generator::named(variant, mix_weights.as_deref()).map_err(value_error)?,
    };
    let (size, source_size, psf_size) = generator.shapes().map_err(value_error)?;
    let end = start.checked_add(n).ok_or_else(|| value_error("n: start + n overflows"))?;
    let samples: Vec<Sample> = py.detach(|| (start..end).into_par_iter().map(|k| generator.simulate(seed, k)).collect());
    let count = samples.len();
    let stack = |field: fn(&Sample) -> &Vec<f32>| samples.iter().flat_map(|s| field(s).iter().copied()).collect::<Vec<f32>>();
    let out = PyDict::new(py);
    out.set_item("image", stack_to_numpy(py, stack(|s| &s.image), count, size)?)?;
    out.set_item("noise", stack_to_numpy(py, stack(|s| &s.noise), count, size)?)?;
    out.set_item("clean", stack_to_numpy(py, stack(|s| &s.clean), count, size)?)?;
    out.set_item("source", stack_to_numpy(py, stack(|s| &s.source), count, source_size)?)?;
    out.set_item("psf", stack_to_numpy(py, stack(|s| &s.psf), count, psf_size)?)?;
    out.set_item("truth", truth_columns(py, &samples)?)?;
    Ok(out)
}

/// The truth records as columns.
fn truth_columns<'py>(py: Python<'py>, samples: &[Sample]) -> PyResult<Bound<'py, PyDict>> {
    let rows: Vec<serde_json::Map<String, Value>> = samples
        .iter()
        .map(|s| match serde_json::to_value(&s.truth) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(value_error("truth: a record did not serialize as an object")),
        })
        .collect::<PyResult<_>>()?;
    let columns = PyDict::new(py);
    let Some(first) = rows.first() else { return Ok(columns) };
    for key in first.keys() {
        let values: Vec<&Value> = rows.iter().map(|r| r.get(key).unwrap_or(&Value::Null)).collect();
        if values.iter().all(|v| v.is_number()) {
            let numbers: Vec<f64> = values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
            columns.set_item(key, Array1::from_vec(numbers).into_pyarray(py))?;
        } else if values.iter().all(|v| v.is_boolean()) {
            columns.set_item(key, PyList::new(py, values.iter().map(|v| v.as_bool().unwrap_or(false)))?)?;
        } else {
            columns.set_item(key, PyList::new(py, values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)))?)?;
        }
    }
    Ok(columns)
}
