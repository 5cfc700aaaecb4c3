//! Atomic file creation: write to a temporary file beside the target, then
//! rename it into place, so an interrupted run never leaves a half-written
//! file under the final name.

use crate::IoError;
use std::path::{Path, PathBuf};

/// The temporary name used while `path` is being written: `.NAME.PID.tmp` in
/// the same directory (same filesystem, so the rename is atomic).
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Calls `write` with a temporary path, then renames it to `path`. On error
/// the temporary file is removed and `path` is left untouched.
pub fn write_atomic<T>(path: &Path, write: impl FnOnce(&Path) -> Result<T, IoError>) -> Result<T, IoError> {
    let tmp = temporary_path(path);
    // A stale temporary file from a killed run of the same PID is not ours to keep.
    let _ = std::fs::remove_file(&tmp);
    match write(&tmp) {
        Ok(value) => {
            std::fs::rename(&tmp, path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                IoError::file(path, format!("cannot move the finished file into place: {e}"))
            })?;
            Ok(value)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes bytes atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| IoError::file(path, format!("cannot write: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.fits");
        let r: Result<(), IoError> = write_atomic(&target, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(IoError::file(tmp, "simulated failure"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_bytes(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }
}
