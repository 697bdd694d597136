//! Apache ORC files (`*.orc`, or told by their `ORC` header), as Hive,
//! Spark (`df.write.orc`, the part files of a folder) and pyarrow write
//! them: read by the pure-Rust `orc-rust` — its stripes in every codec it
//! knows (zlib, Hive's and Spark's usual; snappy; zstd; LZ4; LZO) — then
//! like a Parquet file's batches (an ORC string column of text, a list of
//! numbers an embedding, binary bytes an image column).
//!
//! `orc-rust` is built on arrow-rs 59 and this crate on arrow-rs 60: each
//! batch passes from one to the other as an in-memory Arrow IPC stream,
//! one batch at a time (the format both versions share, checked as it is
//! read). A file that `orc-rust` cannot decode is an error naming it.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::IngestError;

/// The first bytes of an ORC file.
pub(super) const MAGIC: &[u8; 3] = b"ORC";

/// Rows per batch read.
const BATCH_ROWS: usize = 8_192;

fn orc_error(path: &Path, message: impl Into<String>) -> IngestError {
    super::frame::read_error(path, "ORC", message)
}

/// Reads an ORC file: its schema and its rows as Arrow batches.
pub(super) fn read(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), IngestError> {
    let file = std::fs::File::open(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let reader = orc_rust::ArrowReaderBuilder::try_new(file)
        .map_err(|e| orc_error(path, format!("its footer cannot be read: {e}")))?
        .with_batch_size(BATCH_ROWS)
        .build();
    let schema = arrow59::record_batch::RecordBatchReader::schema(&reader);
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| orc_error(path, format!("a stripe cannot be read: {e}")))?;
        out.push(to_arrow(&batch).map_err(|e| orc_error(path, e))?);
    }
    // the schema as this crate's arrow-rs reads it, also for a file of no rows
    let schema = match out.first() {
        Some(b) => b.schema(),
        None => to_arrow(&arrow59::array::RecordBatch::new_empty(schema))
            .map_err(|e| orc_error(path, e))?
            .schema(),
    };
    Ok((schema, out))
}

/// An arrow-rs 59 batch as an arrow-rs 60 one, through the IPC stream
/// format.
fn to_arrow(batch: &arrow59::array::RecordBatch) -> Result<RecordBatch, String> {
    let mut bytes = Vec::new();
    {
        let mut writer = arrow59::ipc::writer::StreamWriter::try_new(&mut bytes, &batch.schema())
            .map_err(|e| e.to_string())?;
        writer.write(batch).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    let mut reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
        .map_err(|e| e.to_string())?;
    reader
        .next()
        .ok_or("an empty Arrow stream")?
        .map_err(|e| e.to_string())
}
