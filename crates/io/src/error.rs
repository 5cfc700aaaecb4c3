//! I/O errors; every message names the file concerned.

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IoError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl IoError {
    pub fn file(path: &Path, message: impl std::fmt::Display) -> Self {
        IoError::File { path: path.to_path_buf(), message: message.to_string() }
    }
}
