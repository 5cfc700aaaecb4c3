//! File formats for astrorim: FITS images (read and write, named extensions,
//! header keywords, pixel scale) and atomic writes.

pub mod atomic;
pub mod corner;
pub mod error;
pub mod figure;
pub mod fits;
pub mod npz;
pub mod panel;
pub mod png;
pub mod text;

pub use error::IoError;
