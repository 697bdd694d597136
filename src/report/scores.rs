//! The scores file: one row per input row, in input order.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{AtomicFile, ReportError};
use crate::ingest::Dataset;
use crate::pipeline::ScanReport;

/// File formats for the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoresFormat {
    /// Apache Parquet (default).
    #[default]
    Parquet,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl ScoresFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            ScoresFormat::Parquet => "parquet",
            ScoresFormat::Csv => "csv",
            ScoresFormat::Json => "json",
        }
    }
}

/// Column name of a scanner's own score: `score_` and its name in snake case.
pub fn scanner_column(name: &str) -> String {
    format!("score_{}", name.replace('-', "_"))
}

/// View and dictionary types become plain ones, which every writer takes.
pub(crate) fn plain(array: &ArrayRef) -> ArrayRef {
    let target = match array.data_type() {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::Dictionary(_, v) => (**v).clone(),
        _ => return array.clone(),
    };
    cast(array, &target).unwrap_or_else(|_| array.clone())
}

/// The values of a per-input-row array at the data set's kept rows.
pub(crate) fn kept(ds: &Dataset, a: ArrayRef) -> ArrayRef {
    if ds.kept_rows.len() == ds.n_input_rows {
        return a;
    }
    let rows = UInt64Array::from(ds.kept_rows.clone());
    arrow::compute::take(a.as_ref(), &rows, None).expect("kept rows are input rows")
}

/// The leading `row` (0-based order) and, when the data set has ids, `id`
/// columns that every per-row output file starts with: one per input row,
/// or with `kept_only` one per kept row (a red-team copy without the rows
/// left out as invalid, a data set of its own numbered from 0).
pub(crate) fn row_and_id(ds: &Dataset, kept_only: bool) -> (Vec<Field>, Vec<ArrayRef>) {
    let n = if kept_only {
        ds.kept_rows.len()
    } else {
        ds.n_input_rows
    };
    let mut fields = vec![Field::new("row", DataType::UInt64, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from_iter_values(0..n as u64))];
    if let Some(ids) = &ds.ids {
        let ids = plain(ids);
        let ids = if kept_only { kept(ds, ids) } else { ids };
        fields.push(Field::new("id", ids.data_type().clone(), true));
        columns.push(ids);
    }
    (fields, columns)
}

/// Builds the scores table: `row`, `id` (when there is one), `label`,
/// `score`, `significance` (`−log₁₀` of the fused p-value: the score's
/// order, where many scores round to 1.0), `flagged`, `rank` (the rows'
/// order, from 1: the flagged rows first, each part by significance),
/// `reasons` (the scanners whose own score reaches the
/// threshold, comma-separated), `suspected_label` (when a scanner can tell),
/// then `score_<scanner>` per scanner. Rows that were not
/// scanned (dropped as invalid, or in a skipped class) have null scores and
/// are not flagged.
pub fn scores_batch(ds: &Dataset, report: &ScanReport) -> RecordBatch {
    let n = ds.n_input_rows;
    let spread = |values: &[f64]| -> ArrayRef {
        let mut out: Vec<Option<f64>> = vec![None; n];
        for (k, &row) in ds.kept_rows.iter().enumerate() {
            let v = values[k];
            out[row as usize] = (!v.is_nan()).then_some(v);
        }
        Arc::new(Float64Array::from(out))
    };
    let mut flagged = vec![false; n];
    for (k, &row) in ds.kept_rows.iter().enumerate() {
        flagged[row as usize] = report.fused.flagged[k];
    }
    let (mut fields, mut columns) = row_and_id(ds, false);
    let labels = plain(&ds.labels);
    fields.push(Field::new("label", labels.data_type().clone(), true));
    columns.push(labels);
    fields.push(Field::new("score", DataType::Float64, true));
    columns.push(spread(&report.fused.score));
    fields.push(Field::new("significance", DataType::Float64, true));
    columns.push(spread(&report.fused.significance));
    fields.push(Field::new("flagged", DataType::Boolean, false));
    columns.push(Arc::new(BooleanArray::from(flagged)));
    let mut rank: Vec<Option<u64>> = vec![None; n];
    for (k, &row) in ds.kept_rows.iter().enumerate() {
        rank[row as usize] = report.fused.rank[k];
    }
    fields.push(Field::new("rank", DataType::UInt64, true));
    columns.push(Arc::new(UInt64Array::from(rank)));
    let mut reasons: Vec<Option<String>> = vec![None; n];
    for (k, &row) in ds.kept_rows.iter().enumerate() {
        if !report.fused.score[k].is_nan() {
            reasons[row as usize] = Some(report.reasons(k).join(","));
        }
    }
    fields.push(Field::new("reasons", DataType::Utf8, true));
    columns.push(Arc::new(StringArray::from(reasons)));
    if let Some(suspected) = &report.fused.suspected {
        let mut names: Vec<Option<&str>> = vec![None; n];
        for (k, &row) in ds.kept_rows.iter().enumerate() {
            if !report.fused.score[k].is_nan() {
                names[row as usize] = Some(ds.class_names[suspected[k] as usize].as_str());
            }
        }
        fields.push(Field::new("suspected_label", DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(names)));
    }
    for ((scanner, _), values) in report.outputs.iter().zip(&report.fused.per_scanner) {
        fields.push(Field::new(
            scanner_column(scanner.name()),
            DataType::Float64,
            true,
        ));
        columns.push(spread(values));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("columns match the schema")
}

/// Writes a batch in the given format.
pub fn write_batch(
    batch: &RecordBatch,
    format: ScoresFormat,
    file: &mut AtomicFile,
) -> Result<(), ReportError> {
    let path = file.path().to_path_buf();
    let encode = |e: &dyn std::fmt::Display| ReportError::Encode {
        path: path.clone(),
        message: e.to_string(),
    };
    match format {
        ScoresFormat::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let mut w =
                ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| encode(&e))?;
            w.write(batch).map_err(|e| encode(&e))?;
            w.close().map_err(|e| encode(&e))?;
        }
        ScoresFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(file);
            w.write(batch).map_err(|e| encode(&e))?;
        }
        ScoresFormat::Json => {
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(file);
            w.write(batch).map_err(|e| encode(&e))?;
            w.finish().map_err(|e| encode(&e))?;
        }
    }
    Ok(())
}
