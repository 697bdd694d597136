//! Reporting: everything poisonscan writes. The scores file and
//! `summary.json` (written atomically), the terminal summary on stdout, and
//! progress on stderr. Nothing outside this module prints or writes files.

mod atomic;
mod embeddings;
mod evaluation;
pub mod guard;
pub mod html;
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
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
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
    /// `report.html`, when asked for.
    pub report: Option<PathBuf>,
}

/// The analyst's page, `report.html`.
pub const REPORT_FILE: &str = "report.html";

/// The files [`write_scan`] writes into its folder: the scores file,
/// `summary.json` and, with the page, `report.html`.
pub fn output_names(format: ScoresFormat, with_report: bool) -> Vec<String> {
    let mut names = vec![
        format!("scores.{}", format.extension()),
        "summary.json".to_string(),
    ];
    if with_report {
        names.push(REPORT_FILE.to_string());
    }
    names
}

fn encode_error(path: &Path, message: String) -> ReportError {
    ReportError::Encode {
        path: path.to_path_buf(),
        message,
    }
}

/// Builds and renders the page into an uncommitted file at `path`.
fn report_file(
    path: &Path,
    summary: &serde_json::Value,
    scores: &html::ScoreTable,
    ds: &Dataset,
    options: html::ReportOptions,
    ran_at: std::time::SystemTime,
) -> Result<AtomicFile, ReportError> {
    let page = html::build(summary, scores, ds, options, ran_at)
        .and_then(|r| html::render(&r))
        .map_err(|m| encode_error(path, m))?;
    let mut file = AtomicFile::new(path)?;
    file.write_all(page.as_bytes())?;
    Ok(file)
}

/// A finished scan's outputs, read back from its folder.
pub struct FinishedScan {
    /// `summary.json`.
    pub summary: serde_json::Value,
    /// When `summary.json` was written.
    pub written: std::time::SystemTime,
    /// The scores file.
    pub scores: html::ScoreTable,
}

/// Reads `summary.json` and the scores file (in the format the summary
/// names) from a scan's output folder.
pub fn read_finished_scan(dir: &Path) -> Result<FinishedScan, ReportError> {
    let summary_path = dir.join("summary.json");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReportError::Io { path, error }
    };
    let text = std::fs::read_to_string(&summary_path).map_err(io(&summary_path))?;
    let summary: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| encode_error(&summary_path, format!("not a poisonscan summary: {e}")))?;
    if summary["tool"]["name"] != "poisonscan" {
        return Err(encode_error(
            &summary_path,
            "not a poisonscan summary (no `tool.name`)".into(),
        ));
    }
    let written = std::fs::metadata(&summary_path)
        .and_then(|m| m.modified())
        .map_err(io(&summary_path))?;
    let format = summary["options"]["scores_format"]
        .as_str()
        .unwrap_or("parquet");
    let scores = html::ScoreTable::read(&dir.join(format!("scores.{format}")))?;
    Ok(FinishedScan {
        summary,
        written,
        scores,
    })
}

/// Writes `dir/report.html` (atomically) for a finished scan and the data
/// set it scanned.
pub fn write_report(
    dir: &Path,
    scan: &FinishedScan,
    ds: &Dataset,
    options: html::ReportOptions,
) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT_FILE);
    report_file(
        &path,
        &scan.summary,
        &scan.scores,
        ds,
        options,
        scan.written,
    )?
    .commit()?;
    Ok(path)
}

/// Writes `scores.<format>` and `summary.json` into `dir` (created if
/// needed), and `report.html` when `html` asks. All are written to
/// temporary files first and renamed into place only when all are complete.
pub fn write_scan(
    dir: &Path,
    ds: &Dataset,
    report: &ScanReport,
    settings: &ScanSettings,
    run: &RunInfo,
    format: ScoresFormat,
    html: Option<html::ReportOptions>,
) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|error| ReportError::Io {
        path: dir.to_path_buf(),
        error,
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
    let report_path = dir.join(REPORT_FILE);
    let report_file = match html {
        Some(options) => {
            let scores =
                html::ScoreTable::from_batch(batch).map_err(|m| encode_error(&report_path, m))?;
            let now = std::time::SystemTime::now();
            Some(report_file(
                &report_path,
                &summary,
                &scores,
                ds,
                options,
                now,
            )?)
        }
        None => None,
    };
    scores_file.commit()?;
    summary_file.commit()?;
    let report = match report_file {
        Some(file) => {
            file.commit()?;
            Some(report_path)
        }
        None => None,
    };
    Ok(Written {
        scores: scores_path,
        summary: summary_path,
        report,
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

/// The other words behind a class's estimate (`text-trigger`'s
/// `also_token_*` ids), as text.
pub(crate) fn also_words(
    d: &poisonscan_scanners::ClassDiagnostics,
    tokens: &poisonscan_scanners::text::TokenSets,
) -> Vec<String> {
    poisonscan_scanners::text::ALSO_TOKENS
        .iter()
        .filter_map(|name| d.value(name))
        .map(|id| tokens.name(id as u32).to_string())
        .collect()
}

/// What text-trigger saw of a word's rows, for the terminal and the report:
/// how many of those sampled look like other classes' rows once set apart,
/// and the other words behind the failure (`also`, of `all` in all).
pub(crate) fn set_apart(contradicted: f64, sampled: f64, also: &[String], all: f64) -> String {
    let mut out = format!(
        "set apart from the other rows that carry it, {contradicted:.0} of {sampled:.0} look \
         like other classes' rows"
    );
    if !also.is_empty() {
        let listed: Vec<String> = also
            .iter()
            .map(|w| format!("\"{}\"", visible_word(w)))
            .collect();
        out += &format!("; other words behind it: {}", listed.join(", "));
        let more = (all as usize).saturating_sub(also.len());
        if more > 0 {
            out += &format!(" and {more} more");
        }
    }
    out
}

/// A word of the rows' text as a reader can see it: characters that print
/// as nothing (controls, zero-width and direction marks, the byte-order
/// mark, a soft hyphen — text triggers made invisible) written as
/// `<U+200B>`.
pub(crate) fn visible_word(word: &str) -> String {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c,
                '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
                | '\u{17B5}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
                | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
    };
    word.chars()
        .map(|c| {
            if invisible(c) {
                format!("<U+{:04X}>", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod visible_tests {
    #[test]
    fn invisible_characters_are_named() {
        assert_eq!(super::visible_word("cf"), "cf");
        assert_eq!(super::visible_word("a\u{200b}"), "a<U+200B>");
        assert_eq!(super::visible_word("😀 \u{feff}"), "😀 <U+FEFF>");
    }
}
