//! The last steps shared by the readers of other tools' data files —
//! pandas's stores and pickles, R's data files, Stata, SPSS and SAS: their
//! errors, the columns they leave out, categorical codes as text, and the
//! columns as one batch.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::record_batch::RecordBatch;

use super::IngestError;

/// An error reading `path` as `format`.
pub(super) fn read_error(
    path: &Path,
    format: &'static str,
    message: impl Into<String>,
) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format,
        message: message.into(),
    }
}

/// A file's bytes, unpacked where compressed (see
/// [`super::read_unpacked`]); damaged packing an error reading it as
/// `format`.
pub(super) fn unpacked(path: &Path, format: &'static str) -> Result<Vec<u8>, IngestError> {
    super::read_unpacked(path, |e| {
        read_error(path, format, format!("its compressed data is damaged: {e}"))
    })
}

/// Notes the columns a reader left out (`what`: "column(s)", with the
/// file's own word), and why, when there are any.
pub(super) fn note_left_out(
    notes: &mut Vec<String>,
    path: &Path,
    what: &str,
    left_out: &[String],
    why: &str,
) {
    if !left_out.is_empty() {
        notes.push(format!(
            "{}: {what} {} left out ({why})",
            path.display(),
            left_out.join(", ")
        ));
    }
}

/// Text of another tool's file: UTF-8 where the file says so (invalid
/// bytes replaced), else Latin-1 — each byte a character — as Stata before
/// release 118, SPSS without an encoding, SAS transport and R's marked
/// strings keep it.
pub(super) fn decode_text(bytes: &[u8], utf8: bool) -> String {
    if utf8 {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// A fixed-width field's text without the spaces and NULs that pad it
/// (SPSS, SAS transport).
pub(super) fn padded_text(bytes: &[u8], utf8: bool) -> String {
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |e| e + 1);
    decode_text(&bytes[..end], utf8)
}

/// A statistics package's variables (Stata, SPSS, SAS) as a batch, those
/// of dates and times it left out noted; an error reading `path` as
/// `format` where they make no batch.
pub(super) fn variables_batch(
    path: &Path,
    format: &'static str,
    columns: Vec<(String, ArrayRef)>,
    left_out: &[String],
    notes: &mut Vec<String>,
) -> Result<RecordBatch, IngestError> {
    let why = "dates and times are not features";
    note_left_out(notes, path, "variable(s)", left_out, why);
    frame_batch(columns).map_err(|m| read_error(path, format, m))
}

/// A frame's columns as a batch: one column at least, no name twice.
pub(super) fn frame_batch(columns: Vec<(String, ArrayRef)>) -> Result<RecordBatch, String> {
    if columns.is_empty() {
        return Err("no column of numbers or text".into());
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = columns.iter().find(|(n, _)| !seen.insert(n.clone())) {
        return Err(format!("two columns are named `{dup}`"));
    }
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true)))
        .map_err(|e| e.to_string())
}

/// A categorical column's codes (`-1` missing) as its categories' text
/// (pandas's categoricals, stored or pickled; R's factors, shifted to
/// start at 0).
pub(super) fn category_text(names: &[String], codes: &ArrayRef) -> Result<ArrayRef, String> {
    let codes = arrow::compute::cast(codes, &arrow::datatypes::DataType::Int64)
        .map_err(|e| e.to_string())?;
    let codes = codes
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("codes");
    let text = codes
        .iter()
        .map(|c| match c {
            Some(c) if c >= 0 => usize::try_from(c)
                .ok()
                .and_then(|c| names.get(c))
                .map(|name| Some(name.clone()))
                .ok_or_else(|| format!("code {c} of {} categories", names.len())),
            _ => Ok(None),
        })
        .collect::<Result<StringArray, String>>()?;
    Ok(Arc::new(text))
}
