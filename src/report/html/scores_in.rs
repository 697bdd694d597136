//! The scores table as the report reads it: from the scan in memory, or
//! back from the `scores.<format>` file a finished scan wrote.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use crate::report::ReportError;

/// The per-row columns the report reads, one entry per input row.
pub struct ScoreTable {
    /// The table as written (for the export of the flagged rows).
    pub batch: RecordBatch,
    /// Fused score (`NaN` where null: the row was not scanned).
    pub score: Vec<f64>,
    /// The `significance` column (`−log₁₀ p`; `NaN` where null), when the
    /// file has one.
    pub significance: Option<Vec<f64>>,
    /// The `rank` column negated (`NaN` where null), when the file has
    /// one: the scan's order as a key that sorts highest first.
    pub order: Option<Vec<f64>>,
    /// Flagged.
    pub flagged: Vec<bool>,
    /// The scanners behind the score, comma-separated.
    pub reasons: Vec<String>,
    /// The suspected class, when a scanner tells.
    pub suspected: Vec<Option<String>>,
    /// The id column, as text.
    pub id: Option<Vec<String>>,
}

fn strings(batch: &RecordBatch, name: &str) -> Result<Option<Vec<Option<String>>>, String> {
    let Some(col) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let text = cast(col, &DataType::Utf8).map_err(|e| format!("column `{name}`: {e}"))?;
    let text = text.as_string::<i32>();
    Ok(Some(
        (0..text.len())
            .map(|i| text.is_valid(i).then(|| text.value(i).to_string()))
            .collect(),
    ))
}

impl ScoreTable {
    /// Reads the columns from a scores batch (`score`, `flagged`, `reasons`
    /// required; `id`, `suspected_label` when present).
    pub fn from_batch(batch: RecordBatch) -> Result<Self, String> {
        let need = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| format!("no `{name}` column"))
        };
        let numbers = |col: &arrow::array::ArrayRef| -> Result<Vec<f64>, String> {
            let col = cast(col, &DataType::Float64).map_err(|e| e.to_string())?;
            let col = col.as_primitive::<Float64Type>();
            Ok((0..col.len())
                .map(|i| {
                    if col.is_valid(i) {
                        col.value(i)
                    } else {
                        f64::NAN
                    }
                })
                .collect())
        };
        let score = numbers(&need("score")?)?;
        let significance = batch
            .column_by_name("significance")
            .map(&numbers)
            .transpose()?;
        let order = batch
            .column_by_name("rank")
            .map(&numbers)
            .transpose()?
            .map(|r| r.into_iter().map(|v| -v).collect());
        let flagged = cast(&need("flagged")?, &DataType::Boolean).map_err(|e| e.to_string())?;
        let flagged = flagged.as_boolean();
        let flagged = (0..flagged.len())
            .map(|i| flagged.is_valid(i) && flagged.value(i))
            .collect();
        need("reasons")?;
        let reasons = strings(&batch, "reasons")?
            .unwrap_or_default()
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        let suspected =
            strings(&batch, "suspected_label")?.unwrap_or_else(|| vec![None; batch.num_rows()]);
        let id =
            strings(&batch, "id")?.map(|v| v.into_iter().map(Option::unwrap_or_default).collect());
        Ok(Self {
            score,
            significance,
            order,
            flagged,
            reasons,
            suspected,
            id,
            batch,
        })
    }

    /// What rows are ranked by: the scan's `rank`; in a file without it,
    /// their significance, or else the score (many scores round to 1.0;
    /// their significance does not).
    pub fn rank(&self) -> &[f64] {
        self.order
            .as_deref()
            .or(self.significance.as_deref())
            .unwrap_or(&self.score)
    }

    /// Reads a scores file written by `scan` (Parquet, CSV or JSON, told by
    /// the extension).
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let bad = |message: String| ReportError::Encode {
            path: path.to_path_buf(),
            message,
        };
        let io = |error| ReportError::Io {
            path: path.to_path_buf(),
            error,
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let batches: Vec<RecordBatch> = match ext {
            "parquet" => {
                let file = File::open(path).map_err(io)?;
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.build())
                    .map_err(|e| bad(e.to_string()))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(e.to_string()))?
            }
            "csv" => {
                let mut file = File::open(path).map_err(io)?;
                let format = arrow::csv::reader::Format::default().with_header(true);
                let (schema, _) = format
                    .infer_schema(&mut file, None)
                    .map_err(|e| bad(e.to_string()))?;
                let file = File::open(path).map_err(io)?;
                arrow::csv::ReaderBuilder::new(Arc::new(schema))
                    .with_format(format)
                    .build(file)
                    .map_err(|e| bad(e.to_string()))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(e.to_string()))?
            }
            "json" => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                let rows: Vec<serde_json::Value> =
                    serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
                let schema =
                    arrow::json::reader::infer_json_schema_from_iterator(rows.iter().map(Ok))
                        .map_err(|e| bad(e.to_string()))?;
                let schema = Arc::new(schema);
                let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
                    .build_decoder()
                    .map_err(|e| bad(e.to_string()))?;
                decoder.serialize(&rows).map_err(|e| bad(e.to_string()))?;
                match decoder.flush().map_err(|e| bad(e.to_string()))? {
                    Some(b) => vec![b],
                    None => vec![RecordBatch::new_empty(schema)],
                }
            }
            _ => return Err(bad("not a scores file (.parquet, .csv or .json)".into())),
        };
        let schema = batches
            .first()
            .map(|b| b.schema())
            .ok_or_else(|| bad("the file holds no rows".into()))?;
        let batch =
            arrow::compute::concat_batches(&schema, &batches).map_err(|e| bad(e.to_string()))?;
        Self::from_batch(batch).map_err(bad)
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.score.len()
    }

    /// Whether the table has no row.
    pub fn is_empty(&self) -> bool {
        self.score.is_empty()
    }

    /// The flagged rows as CSV, every column of the scores table.
    pub fn flagged_csv(&self) -> Vec<u8> {
        let mask = arrow::array::BooleanArray::from(self.flagged.clone());
        let rows = arrow::compute::filter_record_batch(&self.batch, &mask)
            .expect("mask has one entry per row");
        let mut out = Vec::new();
        {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            w.write(&rows).expect("scores columns are CSV-writable");
        }
        out
    }
}
