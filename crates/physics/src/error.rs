//! Errors raised when user-supplied parameters or scenes are invalid.

use thiserror::Error;

/// An invalid physical input; the message names the offending field.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PhysicsError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl PhysicsError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        PhysicsError::Invalid { field: field.into(), message: message.into() }
    }
}
