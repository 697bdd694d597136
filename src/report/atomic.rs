//! Atomic file output: write to a temporary file beside the target, then
//! rename it into place, so that readers never see a partial file.

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::ReportError;

/// A file that appears at its path only when [`AtomicFile::commit`] is
/// called; dropped uncommitted, it leaves nothing behind.
pub struct AtomicFile {
    path: PathBuf,
    temp: NamedTempFile,
}

impl AtomicFile {
    /// Starts a file that will replace `path`.
    pub fn new(path: &Path) -> Result<Self, ReportError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // Outputs are ordinary files (0644 before the umask), not the 0600 of
        // a private temporary file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let temp = builder.tempfile_in(dir).map_err(|error| ReportError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            temp,
        })
    }

    /// Writes all of `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), ReportError> {
        self.temp.write_all(bytes).map_err(|error| ReportError::Io {
            path: self.path.clone(),
            error,
        })
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(mut self) -> Result<(), ReportError> {
        let io = |path: &Path, error| ReportError::Io {
            path: path.to_path_buf(),
            error,
        };
        self.temp.flush().map_err(|e| io(&self.path, e))?;
        self.temp
            .as_file()
            .sync_all()
            .map_err(|e| io(&self.path, e))?;
        self.temp
            .persist(&self.path)
            .map_err(|e| io(&self.path, e.error))?;
        Ok(())
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.temp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.temp.flush()
    }
}
