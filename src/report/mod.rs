//! Reporting: everything poisonscan writes. The scores file and
//! `summary.json` (written atomically), the terminal summary on stdout, and
//! progress on stderr. Nothing outside this module prints or writes files.

mod atomic;
mod embeddings;
mod evaluation;
pub mod guard;
mod poisoned;
pub mod progress;
mod scores;
mod summary;
mod terminal;

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

pub use atomic::AtomicFile;
pub use embeddings::embeddings_batch;
pub use evaluation::print_evaluation;
pub use poisoned::{poisoned_batch, write_parquet};
pub use scores::{scanner_column, scores_batch, write_batch, ScoresFormat};
pub use summary::summary_json;
pub use terminal::print_summary;

use crate::ingest::Dataset;
use crate::pipeline::ScanReport;
use crate::settings::ScanSettings;

/// Writing the outputs failed.
#[derive(Debug, Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Arrow or Parquet refused the data.
    #[error("{}: {message}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What the scan's inputs and options were, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// The inputs as given on the command line (or a description).
    pub inputs: Vec<String>,
    /// Options, as a JSON value.
    pub options: serde_json::Value,
}

/// Paths written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The scores file.
    pub scores: PathBuf,
    /// `summary.json`.
    pub summary: PathBuf,
}

/// Writes `scores.<format>` and `summary.json` into `dir` (created if
/// needed). Both are written to temporary files first and renamed into
/// place only when both are complete.
pub fn write_scan(
    dir: &Path,
    ds: &Dataset,
    report: &ScanReport,
    settings: &ScanSettings,
    run: &RunInfo,
    format: ScoresFormat,
) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let scores_path = dir.join(format!("scores.{}", format.extension()));
    let summary_path = dir.join("summary.json");
    let batch = scores_batch(ds, report);
    let mut scores_file = AtomicFile::new(&scores_path)?;
    write_batch(&batch, format, &mut scores_file)?;
    let summary = summary_json(ds, report, settings, run);
    let mut summary_file = AtomicFile::new(&summary_path)?;
    let text = serde_json::to_string_pretty(&summary).expect("summary is valid JSON");
    summary_file.write_all(text.as_bytes())?;
    summary_file.write_all(b"\n")?;
    scores_file.commit()?;
    summary_file.commit()?;
    Ok(Written {
        scores: scores_path,
        summary: summary_path,
    })
}

/// The pairs of classes `(a, b)`, `a < b`, that a `c × c` confusion matrix
/// (given label by the class the evidence points to) mixes up, most rows
/// first (both directions together), then by class.
pub(crate) fn confused_pairs(confusion: &[u64], c: usize) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(u64, usize, usize)> = (0..c)
        .flat_map(|a| (a + 1..c).map(move |b| (a, b)))
        .map(|(a, b)| (confusion[a * c + b] + confusion[b * c + a], a, b))
        .filter(|p| p.0 > 0)
        .collect();
    pairs.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    pairs.into_iter().map(|(_, a, b)| (a, b)).collect()
}
