//! numpy ⇄ `Image`: a 2-D array of shape (ny, nx) is an image whose row k
//! is y-row k (the FITS order astropy reads), in any memory layout.

use astrorim_physics::Image;
use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray2, PyArray3, PyReadonlyArray2};
use pyo3::prelude::*;

/// The image of a 2-D float64 array (C- or Fortran-ordered, or strided).
pub fn image_from(array: &PyReadonlyArray2<'_, f64>) -> Image {
    let view = array.as_array();
    let (ny, nx) = view.dim();
    Image { nx, ny, data: view.iter().copied().collect() }
}

/// A row-major `ny × nx` buffer as a numpy array of shape (ny, nx).
pub fn to_numpy<T: numpy::Element>(py: Python<'_>, data: Vec<T>, ny: usize, nx: usize) -> PyResult<Bound<'_, PyArray2<T>>> {
    let array = Array2::from_shape_vec((ny, nx), data).map_err(crate::value_error)?;
    Ok(array.into_pyarray(py))
}

/// `count` row-major `side × side` images, concatenated, as an array of shape (count, side, side).
pub fn stack_to_numpy<T: numpy::Element>(py: Python<'_>, data: Vec<T>, count: usize, side: usize) -> PyResult<Bound<'_, PyArray3<T>>> {
    let array = Array3::from_shape_vec((count, side, side), data).map_err(crate::value_error)?;
    Ok(array.into_pyarray(py))
}
