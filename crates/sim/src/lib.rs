//! The astrorim training-data simulator: the six AstroRIM simulator
//! variants as TOML presets ([`preset`]), per-sample parameter draws from a
//! (seed, index) random stream ([`draw`]), fast f32 ray shooting
//! ([`raytrace`]), the noiseless scene ([`scene`]), the detector chain
//! ([`detector`]), and streamed, resumable dataset shards ([`dataset`]).

pub mod dataset;
pub mod detector;
pub mod dist;
pub mod draw;
mod lanes;
mod poisson;
pub mod preset;
pub mod raytrace;
pub mod sample;
pub mod scene;
pub mod truth;

pub use sample::{simulate, Sample};

/// Errors in presets, run specifications and dataset files; messages name
/// the field or file.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{field}: {message}")]
    Preset { field: String, message: String },
    #[error(transparent)]
    Io(#[from] astrorim_io::IoError),
}

impl SimError {
    pub fn preset(field: impl Into<String>, message: impl Into<String>) -> Self {
        SimError::Preset { field: field.into(), message: message.into() }
    }
}
