//! The compiled half of the `astrorim` Python package (`astrorim._astrorim`):
//! thin bindings over the Rust crates, numpy arrays in and out, the GIL
//! released while Rust computes. Structured inputs and outputs cross as JSON
//! text (the formats of the CLI's files); `python/astrorim/__init__.py` is
//! the documented interface. User errors raise `ValueError` (a missing file
//! `FileNotFoundError`) with the CLI's one-line messages.

mod arrays;
mod lens;
mod simulate;

use arrays::{image_from, to_numpy};
use astrorim_io::fits::read_image;
use astrorim_metrics::{compare as compare_images, Normalize};
use astrorim_physics::cosmology::FlatLcdm;
use astrorim_physics::psf::Kernel;
use astrorim_physics::render::{lens_maps, render as render_scene};
use astrorim_physics::scene::parse_scene;
use numpy::PyReadonlyArray2;
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::Path;

/// A user error as a Python `ValueError`.
pub(crate) fn value_error(message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(message.to_string())
}

/// `FileNotFoundError` when `path` does not exist, else `ValueError`.
pub(crate) fn file_error(path: &Path, message: impl std::fmt::Display) -> PyErr {
    if path.exists() {
        value_error(message)
    } else {
        PyFileNotFoundError::new_err(message.to_string())
    }
}

/// An error while completing a scene (reading its PSF file).
struct SceneError(PyErr);

impl From<astrorim_physics::PhysicsError> for SceneError {
    fn from(e: astrorim_physics::PhysicsError) -> Self {
        SceneError(value_error(format!("scene: {e}")))
    }
}

/// Renders a scene given as JSON text (this project's form or lenstronomy's):
/// a dict with `image` (ny × nx, flux per pixel), `pixel_scale` and, with
/// `maps`, `alpha_x`, `alpha_y` (arcsec) and `kappa` at pixel centres; `psf`,
/// the kernel used (unit sum), when the scene has one.
#[pyfunction]
#[pyo3(signature = (scene_json, maps = false))]
fn render<'py>(py: Python<'py>, scene_json: &str, maps: bool) -> PyResult<Bound<'py, PyDict>> {
    let spec = parse_scene(scene_json).map_err(value_error)?;
    let scene = spec
        .into_scene(|file| -> Result<Kernel, SceneError> {
            let path = Path::new(file);
            let image = read_image(path, None).map_err(|e| SceneError(file_error(path, e)))?.image;
            Kernel::from_image(image).map_err(|e| SceneError(value_error(format!("{file}: {e}"))))
        })
        .map_err(|e| e.0)?;
    let (image, lens_maps) = py.detach(|| (render_scene(&scene), maps.then(|| lens_maps(&scene.grid, &scene.lens))));
    let (nx, ny) = (scene.grid.nx, scene.grid.ny);
    let out = PyDict::new(py);
    out.set_item("image", to_numpy(py, image.data, ny, nx)?)?;
    out.set_item("pixel_scale", scene.grid.pixel_scale)?;
    if let Some(psf) = &scene.psf {
        out.set_item("psf", to_numpy(py, psf.data().to_vec(), psf.size(), psf.size())?)?;
    }
    if let Some([ax, ay, kappa]) = lens_maps {
        out.set_item("alpha_x", to_numpy(py, ax.data, ny, nx)?)?;
        out.set_item("alpha_y", to_numpy(py, ay.data, ny, nx)?)?;
        out.set_item("kappa", to_numpy(py, kappa.data, ny, nx)?)?;
    }
    Ok(out)
}

/// Distances, Σ_crit and (given θ_E) σ_v and M(<θ_E) as JSON text, the
/// content of `astrorim cosmo --json`.
#[pyfunction]
#[pyo3(signature = (z_lens, z_source, theta_e = None, h0 = 70.0, omega_m = 0.3))]
fn cosmo(z_lens: f64, z_source: f64, theta_e: Option<f64>, h0: f64, omega_m: f64) -> PyResult<String> {
    let cosmology = FlatLcdm::new(h0, omega_m).map_err(value_error)?;
    let summary = cosmology.summary(z_lens, z_source, theta_e).map_err(value_error)?;
    serde_json::to_string(&summary).map_err(value_error)
}

/// MSE, SSIM (Gaussian and uniform 7×7) and PSNR of `b` against `a`, as
/// `astrorim compare --json` computes them, as JSON text.
#[pyfunction]
#[pyo3(signature = (a, b, normalize = "minmax"))]
fn compare(a: PyReadonlyArray2<'_, f64>, b: PyReadonlyArray2<'_, f64>, normalize: &str) -> PyResult<String> {
    let (a, b) = (image_from(&a), image_from(&b));
    if (a.nx, a.ny) != (b.nx, b.ny) {
        return Err(value_error(format!("b: shape {}×{} differs from a's {}×{}", b.ny, b.nx, a.ny, a.nx)));
    }
    if a.nx < 11 || a.ny < 11 {
        return Err(value_error("a: images must be at least 11 pixels a side for SSIM"));
    }
    let how = match normalize {
        "none" => Normalize::None,
        "max" => Normalize::Max,
        "minmax" => Normalize::MinMax,
        other => return Err(value_error(format!("normalize: expected 'none', 'max' or 'minmax', got '{other}'"))),
    };
    serde_json::to_string(&compare_images(&a.data, &b.data, a.nx, a.ny, how)).map_err(value_error)
}

#[pymodule]
fn _astrorim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_TEMPERATURE", astrorim_infer::posterior::DEFAULT_TEMPERATURE)?;
    m.add_function(wrap_pyfunction!(render, m)?)?;
    m.add_function(wrap_pyfunction!(cosmo, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(simulate::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(lens::reconstruct, m)?)?;
    m.add_function(wrap_pyfunction!(lens::invert, m)?)?;
    Ok(())
}
