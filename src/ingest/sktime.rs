//! Time-series classification files in the `.ts` format of sktime and
//! aeon, in which the UCR/UEA archive's data sets ship (`GunPoint_TRAIN.ts`,
//! `BasicMotions_TEST.ts`): `#` comments, a header of `@` lines
//! (`@problemName`, `@univariate`, `@classLabel true 1 2`, …), then after
//! `@data` one series a line — its dimensions separated by `:`, each a list
//! of values separated by `,` (`?` or `NaN` missing), the class last.
//!
//! The series become a table of number columns, `t0`, `t1`, … for one
//! dimension, `d0_t0`, …, `d1_t0`, … for several (one dimension after the
//! other), and the label column, named by `--label` (`label`). Every series
//! must have the same length (resample unequal ones first); files with time
//! stamps, or without class labels, are errors that say so.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};

use super::IngestError;

fn ts_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "sktime .ts",
        message: message.into(),
    }
}

/// The keywords of a `.ts` header.
const KEYWORDS: [&str; 10] = [
    "@problemname",
    "@timestamps",
    "@missing",
    "@univariate",
    "@dimensions",
    "@equallength",
    "@serieslength",
    "@classlabel",
    "@targetlabel",
    "@data",
];

/// Whether text (a file's first kilobytes) is a `.ts` file: its first line
/// that is not a comment is a header keyword.
pub(super) fn is_ts(head: &str) -> bool {
    head.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| {
            let word = l
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            KEYWORDS.contains(&word.as_str())
        })
}

/// Reads a `.ts` file into a table (see the module docs).
pub(super) fn read(path: &Path, label: &str) -> Result<RecordBatch, IngestError> {
    let lines = super::text_lines(path)?;
    let mut in_data = false;
    let mut labelled = None;
    let mut labels: Vec<String> = Vec::new();
    // per dimension, the series of every row
    let mut values: Vec<f64> = Vec::new();
    let mut shape: Option<Vec<usize>> = None;
    for (i, line) in lines.enumerate() {
        let at = |message: String| ts_error(path, format!("line {}: {message}", i + 1));
        let line = line.map_err(|e| at(e.to_string()))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data {
            let mut words = line.split_whitespace();
            let key = words.next().unwrap_or("").to_ascii_lowercase();
            let value = words.next().unwrap_or("").to_ascii_lowercase();
            match key.as_str() {
                "@data" => {
                    in_data = true;
                    if labelled != Some(true) {
                        return Err(at(
                            "the series have no class labels (`@classLabel false`, or no \
                             `@classLabel` line): there is nothing to check them against"
                                .into(),
                        ));
                    }
                }
                "@classlabel" => labelled = Some(value == "true"),
                "@timestamps" if value == "true" => {
                    return Err(at(
                        "series with time stamps are not read; write them without \
                         (values only, one length)"
                            .into(),
                    ))
                }
                k if k.starts_with('@') => {}
                _ => return Err(at(format!("`{line}` before `@data`"))),
            }
            continue;
        }
        let (series, class) = line
            .rsplit_once(':')
            .ok_or_else(|| at("a series without its class (`values:class`)".into()))?;
        let dims: Vec<Vec<f64>> = series
            .split(':')
            .map(|d| {
                d.split(',')
                    .map(|v| match v.trim() {
                        "?" => Ok(f64::NAN),
                        v => v.parse::<f64>(),
                    })
                    .collect::<Result<Vec<f64>, _>>()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| at(format!("a value that is not a number ({e})")))?;
        let lengths: Vec<usize> = dims.iter().map(Vec::len).collect();
        match &shape {
            None => shape = Some(lengths),
            Some(s) if *s == lengths => {}
            Some(s) => {
                return Err(at(format!(
                    "a series of length {lengths:?} after series of {s:?}: series of unequal \
                     length are not read; resample them to one length first"
                )))
            }
        }
        values.extend(dims.into_iter().flatten());
        labels.push(class.trim().to_string());
    }
    let Some(shape) = shape else {
        return Err(ts_error(path, "no series after `@data`"));
    };
    let width: usize = shape.iter().sum();
    let mut names = Vec::with_capacity(width);
    for (d, &len) in shape.iter().enumerate() {
        for t in 0..len {
            names.push(if shape.len() == 1 {
                format!("t{t}")
            } else {
                format!("d{d}_t{t}")
            });
        }
    }
    if names.iter().any(|n| n == label) {
        return Err(ts_error(
            path,
            format!("--label `{label}` names a time step; the class column is named by --label"),
        ));
    }
    let rows = labels.len();
    let labels: ArrayRef = Arc::new(StringArray::from(labels));
    let series = names.into_iter().enumerate().map(|(j, name)| {
        let column: Float64Array = (0..rows).map(|r| Some(values[r * width + j])).collect();
        (name, Arc::new(column) as ArrayRef, true)
    });
    RecordBatch::try_from_iter_with_nullable(
        std::iter::once((label.to_string(), labels, false)).chain(series),
    )
    .map_err(|e| ts_error(path, e.to_string()))
}
