//! Tables: CSV, Arrow IPC and NDJSON through polars lazy scans that read only
//! the needed columns, handed to arrow-rs without a copy through the Arrow C
//! data interface; Parquet through arrow-rs's streaming reader (see
//! [`push_parquet`] for why). Every file's batches go into one
//! [`DatasetBuilder`], in file order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{make_array, ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use polars::prelude::Schema as PolarsSchema;
use polars::prelude::*;

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use super::batch::{self, ColumnKind, DatasetBuilder, Hints, Selection};
use super::hive::Partitions;
use super::{
    hash_file, Dataset, IngestError, IngestOptions, InputFormat, Magic, Packed, SourceFile,
};

/// How a file is packed, if polars does not read it (see [`Packed`]).
fn packed(path: &Path) -> Option<Packed> {
    match super::magic(path) {
        Some(Magic::Packed(p)) => Some(p),
        _ => None,
    }
}

/// The one data file of a zip archive: its index and name. Folders, macOS's
/// `__MACOSX/` and `._` entries are not data; an archive of several files
/// (an Excel workbook is one) is an error that names them.
pub(super) fn zip_member(
    archive: &mut ::zip::ZipArchive<std::fs::File>,
) -> Result<(usize, String), String> {
    let mut data = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        let name = entry.name().to_string();
        if !entry.is_dir() && !super::zip_junk(&name) {
            data.push((i, name));
        }
    }
    match data.len() {
        1 => Ok(data.remove(0)),
        0 => Err("the zip archive holds no file".into()),
        n => {
            let names: Vec<&str> = data.iter().take(4).map(|(_, n)| n.as_str()).collect();
            Err(format!(
                "the zip archive holds {n} files ({}{}), not one table; unzip it and pass the tables",
                names.join(", "),
                if n > 4 { ", …" } else { "" }
            ))
        }
    }
}

/// A bzip2 or xz file's data, decoded as it is read (multi-stream, as
/// `pbzip2` and `xz -T` write them).
fn packed_stream(path: &Path, kind: Packed) -> std::io::Result<Box<dyn std::io::Read>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    Ok(match kind {
        Packed::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        Packed::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
        Packed::Zip => unreachable!("a zip member is read from its archive"),
    })
}

/// A bzip2, xz or zip file's data (see [`Packed`]) in an anonymous
/// temporary file (deleted when closed): the readers then read it as any
/// file, and the input's own path still names it in every message. `None`
/// for a file that is not so packed.
fn unpacked(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    use std::io::{Seek, SeekFrom};
    let Some(kind) = packed(path) else {
        return Ok(None);
    };
    let other = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    // a stream cut short or damaged says so, with the decoder's own words
    let unpack = |what: &str, r: &mut dyn std::io::Read, out: &mut std::fs::File| {
        std::io::copy(r, out).map(|_| ()).map_err(|e| {
            other(format!(
                "its {what} data cannot be unpacked (cut short or damaged?): {e}"
            ))
        })
    };
    let mut out = tempfile::tempfile()?;
    match kind {
        Packed::Bzip2 => unpack("bzip2", &mut packed_stream(path, kind)?, &mut out)?,
        Packed::Xz => unpack("xz", &mut packed_stream(path, kind)?, &mut out)?,
        Packed::Zip => {
            let file = std::fs::File::open(path)?;
            let mut archive = ::zip::ZipArchive::new(file).map_err(|e| other(e.to_string()))?;
            let (i, _) = zip_member(&mut archive).map_err(other)?;
            let mut member = archive.by_index(i).map_err(|e| other(e.to_string()))?;
            unpack("zip", &mut member, &mut out)?;
        }
    }
    out.seek(SeekFrom::Start(0))?;
    Ok(Some(out))
}

/// The bytes of a file, decompressed when it is gzip, zlib or zstd (as
/// polars reads them), bzip2 or xz (decoded as read), or the one table of a
/// zip archive (see [`unpacked`]), told from its first bytes.
pub(super) fn decompressed(path: &Path) -> std::io::Result<Box<dyn std::io::Read>> {
    use std::io::BufRead;
    match packed(path) {
        Some(Packed::Zip) => {
            return Ok(match unpacked(path)? {
                Some(file) => Box::new(std::io::BufReader::new(file)),
                None => Box::new(std::io::empty()),
            })
        }
        Some(kind) => return packed_stream(path, kind),
        None => {}
    }
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    let magic: Vec<u8> = f.fill_buf().map(|b| b[..b.len().min(4)].to_vec())?;
    let zlib =
        magic.len() >= 2 && magic[0] == 0x78 && matches!(magic[1], 0x01 | 0x5e | 0x9c | 0xda);
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(f))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(f)?)
    } else if zlib {
        Box::new(flate2::bufread::ZlibDecoder::new(f))
    } else {
        Box::new(f)
    })
}

/// The first 64 KiB a reader gives; a truncated stream still yields what it
/// decoded.
fn head_of(r: impl std::io::Read) -> Vec<u8> {
    use std::io::Read;
    const LIMIT: u64 = 1 << 16;
    let mut head = Vec::new();
    let _ = r.take(LIMIT).read_to_end(&mut head);
    head
}

/// The first 64 KiB of a file, decompressed (see [`decompressed`]); empty
/// when it cannot be read.
fn head_bytes(path: &Path) -> Vec<u8> {
    with_data(path, |data| head_of(data)).unwrap_or_default()
}

/// `read` given a file's data, decompressed as [`decompressed`] gives it —
/// but a zip archive's table read from the archive as it is decoded, not
/// unpacked whole first: for readers of its first bytes or lines.
fn with_data<T>(path: &Path, read: impl FnOnce(&mut dyn std::io::Read) -> T) -> std::io::Result<T> {
    if packed(path) != Some(Packed::Zip) {
        return Ok(read(&mut decompressed(path)?));
    }
    let other = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut archive =
        ::zip::ZipArchive::new(std::fs::File::open(path)?).map_err(|e| other(e.to_string()))?;
    let (i, _) = zip_member(&mut archive).map_err(other)?;
    let mut member = archive.by_index(i).map_err(|e| other(e.to_string()))?;
    Ok(read(&mut member))
}

/// Whether a JSON file, by its first bytes (`head`), holds one array of
/// records (`[{…}, {…}]`, as pandas's `to_json(orient="records")` and many
/// web APIs write) rather than one record per line.
fn json_array(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// Whether a JSON file, by its first bytes, may be one document of a whole
/// frame, as pandas's `to_json` writes it by default (`orient="columns"`:
/// `{"col": {"0": v, …}, …}`) or told to (`"index"`, `"split"`,
/// `"table"`), rather than one record per line: an object whose first
/// value is an object or, for `split`, the list of column names.
fn pandas_json(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(text);
    let Some(rest) = text.trim_start().strip_prefix('{') else {
        return false;
    };
    // the first key, then what its value starts with
    let Some(rest) = rest.trim_start().strip_prefix('"') else {
        return false;
    };
    let Some(end) = rest.find('"') else {
        return false;
    };
    let (key, rest) = (&rest[..end], &rest[end + 1..]);
    let Some(value) = rest.trim_start().strip_prefix(':') else {
        return false;
    };
    match value.trim_start().chars().next() {
        Some('{') => true,
        Some('[') => key == "columns",
        _ => false,
    }
}

/// A pandas JSON document (see [`pandas_json`]) as the records of its
/// rows, in the frame's row order; `None` where the document has none of
/// pandas's shapes (it is then read as records, one per line).
fn pandas_records(doc: serde_json::Value) -> Option<Vec<serde_json::Value>> {
    use serde_json::{Map, Value};
    let Value::Object(mut top) = doc else {
        return None;
    };
    let record = |pairs: Vec<(String, Value)>| Value::Object(pairs.into_iter().collect());
    // `split`: columns, index, data (rows as lists)
    if let (Some(Value::Array(columns)), Some(Value::Array(data))) =
        (top.get("columns"), top.get("data"))
    {
        let names: Vec<String> = columns
            .iter()
            .map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        return data
            .iter()
            .map(|row| {
                let Value::Array(values) = row else {
                    return None;
                };
                (values.len() == names.len())
                    .then(|| record(names.iter().cloned().zip(values.iter().cloned()).collect()))
            })
            .collect();
    }
    // `table`: a Table Schema and the records, the index among them
    if let (Some(Value::Object(schema)), Some(Value::Array(_))) =
        (top.get("schema"), top.get("data"))
    {
        let index: Vec<String> = match schema.get("primaryKey") {
            Some(Value::Array(keys)) => keys
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let Some(Value::Array(data)) = top.remove("data") else {
            return None;
        };
        return data
            .into_iter()
            .map(|row| match row {
                // the unnamed index pandas writes as `index`: not a column
                Value::Object(mut m) => {
                    for k in index.iter().filter(|k| *k == "index") {
                        m.shift_remove(k);
                    }
                    Some(Value::Object(m))
                }
                _ => None,
            })
            .collect();
    }
    // `columns` ({column: {row: value}}) or `index` ({row: {column: value}})
    let inner: Vec<&Map<String, Value>> =
        top.values().map(Value::as_object).collect::<Option<_>>()?;
    let row_like = |m: &Map<String, Value>| m.keys().all(|k| k.parse::<i64>().is_ok());
    let by_row = row_like(&top) && !row_like(inner.first()?);
    if by_row {
        return Some(top.into_iter().map(|(_, v)| v).collect());
    }
    let rows: Vec<String> = inner.first()?.keys().cloned().collect();
    Some(
        rows.iter()
            .map(|r| {
                record(
                    top.iter()
                        .map(|(c, m)| {
                            let v = m.as_object().and_then(|m| m.get(r)).cloned();
                            (c.clone(), v.unwrap_or(Value::Null))
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Reads a JSON file whole, having no lines to stream: one array of
/// records (`array`), or a pandas document (see [`pandas_json`]) as the
/// frame it holds — a document of another shape as records, one per line.
fn read_json_whole(mut r: impl std::io::Read, array: bool) -> PolarsResult<LazyFrame> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let records = if array {
        None
    } else {
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        serde_json::from_slice(text).ok().and_then(pandas_records)
    };
    let (bytes, format) = match records {
        Some(records) => (
            serde_json::to_vec(&serde_json::Value::Array(records))
                .map_err(|e| polars_err!(ComputeError: "{e}"))?,
            JsonFormat::Json,
        ),
        None if array => (bytes, JsonFormat::Json),
        None => (bytes, JsonFormat::JsonLines),
    };
    let df = JsonReader::new(std::io::Cursor::new(bytes))
        .with_json_format(format)
        .finish()?;
    Ok(df.lazy())
}

/// How a CSV file is written, told from its first 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CsvDialect {
    separator: u8,
    /// Numbers are written `3,14` (with `;` or tab between fields).
    decimal_comma: bool,
    /// Lines before the header that start with `#` (comments), skipped.
    comments: usize,
    /// The text is UTF-16 (a byte-order mark), which the reader cannot read.
    utf16: bool,
}

/// Splits one line at `separator` outside double quotes, quotes removed.
fn split_fields(line: &[u8], separator: u8) -> Vec<Vec<u8>> {
    let mut fields = vec![Vec::new()];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == separator && !quoted {
            fields.push(Vec::new());
        } else if let Some(last) = fields.last_mut() {
            last.push(b);
        }
    }
    fields
}

/// Whether `field` is a number with a fraction, and its decimal mark.
fn decimal_mark(field: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(field).ok()?.trim();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(e) = exponent {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let i = mantissa.find([',', '.'])?;
    let (int, frac) = (&mantissa[..i], &mantissa[i + 1..]);
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    (digits(int) && !frac.is_empty() && digits(frac)).then(|| mantissa.as_bytes()[i])
}

/// Whether `field` could be a number of a thousand and more with a dot
/// between thousands (`1.065`), as decimal-comma locales write them.
fn thousands_dot(field: &[u8]) -> bool {
    std::str::from_utf8(field)
        .is_ok_and(|f| f.contains('.') && Written::DecimalComma.parse(f).is_some())
}

/// How many fields a line holds between single spaces (`numpy.savetxt`'s
/// default separator): two or more, none empty; `None` otherwise.
pub(super) fn space_fields(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let fields = line.split(|&b| b == b' ');
    let n = fields.clone().count();
    (n >= 2 && fields.into_iter().all(|f| !f.is_empty())).then_some(n)
}

/// The dialect of a CSV file: the separator (given, or the most frequent of
/// `,` `;` tab `|` outside quotes on the header line; when none occurs, a
/// space if the header and the next line are fields between single spaces;
/// else `,`, also when the file cannot be read), and whether its numbers use a decimal comma
/// (separator other than `,`, and the sampled lines hold numbers like `3,14`
/// and none like `3.14` — `1.065`, a thousand and more, may be either).
fn sniff_csv(head: &[u8], separator: Option<u8>) -> CsvDialect {
    let utf16 = head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]);
    // only the leading ones: a data row may start with `#` (a colour)
    let comments = head
        .split(|&b| b == b'\n')
        .take_while(|line| line.starts_with(b"#"))
        .count();
    let mut lines = head.split(|&b| b == b'\n').skip(comments);
    let header = lines.next().unwrap_or(&[]);
    let separator = separator.unwrap_or_else(|| {
        let candidates = [b',', b';', b'\t', b'|'];
        let counts = candidates.map(|c| split_fields(header, c).len() - 1);
        let best = (0..4)
            .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
            .unwrap_or(0);
        // none: fields between single spaces, as many on the next line
        // (`numpy.savetxt`'s default), else `,`
        let next = head.split(|&b| b == b'\n').nth(comments + 1);
        if counts[best] > 0 {
            candidates[best]
        } else if space_fields(header).is_some()
            && next.and_then(space_fields) == space_fields(header)
        {
            b' '
        } else {
            b','
        }
    });
    let mut decimal_comma = false;
    if separator != b',' {
        // The last line may be cut at the 64 KiB limit.
        let data: Vec<&[u8]> = lines.collect();
        let whole = data.len().saturating_sub(1).min(200);
        let (mut comma, mut dot) = (0usize, 0usize);
        for line in &data[..whole] {
            for field in split_fields(line, separator) {
                match decimal_mark(&field) {
                    Some(b',') => comma += 1,
                    // `1.065` beside `3,14` is a thousand and more
                    Some(_) if !thousands_dot(&field) => dot += 1,
                    _ => {}
                }
            }
        }
        decimal_comma = comma > 0 && dot == 0;
    }
    CsvDialect {
        separator,
        decimal_comma,
        comments,
        utf16,
    }
}

/// Cells that mean "missing" in a CSV file: pandas's default `na_values`
/// (what R, Excel and pandas write) and UCI's `?`. A numeric column that
/// marks its gaps so is read as numbers with nulls (an error naming the row,
/// or skipped with `--drop-invalid`), not as text.
pub(super) const MISSING: [&str; 20] = [
    "NA", "N/A", "n/a", "NaN", "-NaN", "nan", "-nan", "NULL", "null", "None", "<NA>", "#N/A",
    "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN", "?", "",
];

/// A lazy scan of one file, and whether the numbers it reads are written
/// with a decimal comma (a CSV dialect's); `separator` and `header`
/// (whether the first line names the columns; without it polars names them
/// `column_1`, `column_2`, …) concern CSV only.
pub(super) fn scan(
    path: &Path,
    format: InputFormat,
    separator: Option<u8>,
    header: bool,
) -> PolarsResult<(LazyFrame, bool)> {
    use std::io::{Seek, SeekFrom};
    // a bzip2, xz or zip file is unpacked once, and read from its copy
    let unpacked = unpacked(path).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let head = match &unpacked {
        Some(file) => {
            let head = head_of(file);
            let mut file = file;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| polars_err!(ComputeError: "{e}"))?;
            head
        }
        None => head_bytes(path),
    };
    let sources = |unpacked: Option<std::fs::File>| match unpacked {
        Some(file) => ScanSources::Files(Arc::from([file])),
        None => ScanSources::Paths(vec![PlRefPath::new(path.to_string_lossy().as_ref())].into()),
    };
    let mut decimal_comma = false;
    let lf = match format {
        InputFormat::Csv => {
            let dialect = sniff_csv(&head, separator);
            decimal_comma = dialect.decimal_comma;
            if dialect.utf16 {
                polars_bail!(ComputeError: "the file is UTF-16 text (as Excel's \"Unicode Text\" saves it); save it as \"CSV UTF-8\"");
            }
            LazyCsvReader::new_with_sources(sources(unpacked))
                .with_separator(dialect.separator)
                .with_skip_lines(dialect.comments)
                .with_decimal_comma(dialect.decimal_comma)
                .with_null_values(Some(NullValues::AllColumns(
                    MISSING.iter().map(|&s| s.into()).collect(),
                )))
                .with_has_header(header)
                .with_infer_schema_length(Some(10_000))
                .with_glob(false)
                .finish()
        }
        // a stream has no footer to scan by: it is read whole
        InputFormat::Ipc if head.starts_with(super::IPC_STREAM) => {
            let file = match unpacked {
                Some(file) => file,
                None => std::fs::File::open(path).map_err(|e| polars_err!(ComputeError: "{e}"))?,
            };
            let df = IpcStreamReader::new(std::io::BufReader::new(file))
                .finish()
                .map_err(|e| {
                    polars_err!(ComputeError: "its Arrow IPC stream cannot be read (cut short or damaged?): {e}")
                })?;
            Ok(df.lazy())
        }
        // `key=value` folders are read by `hive` for every format, and only
        // below a folder given as input: polars's own reading of them (on
        // by default for IPC, from any folder of the path, with dates
        // guessed) is off
        InputFormat::Ipc => LazyFrame::scan_ipc_sources(
            sources(unpacked),
            Default::default(),
            UnifiedScanArgs {
                hive_options: HiveOptions::new_disabled(),
                ..Default::default()
            },
        ),
        InputFormat::Ndjson if json_array(&head) || pandas_json(&head) => {
            let array = json_array(&head);
            match unpacked {
                Some(file) => read_json_whole(file, array),
                None => read_json_whole(
                    decompressed(path).map_err(|e| polars_err!(ComputeError: "{e}"))?,
                    array,
                ),
            }
        }
        InputFormat::Ndjson => LazyJsonLineReader::new_with_sources(sources(unpacked)).finish(),
        InputFormat::Parquet
        | InputFormat::Idx
        | InputFormat::Npz
        | InputFormat::Arff
        | InputFormat::Svmlight
        | InputFormat::Avro
        | InputFormat::Orc
        | InputFormat::RData
        | InputFormat::Stata
        | InputFormat::Spss
        | InputFormat::Xport
        | InputFormat::Excel
        | InputFormat::Ts
        | InputFormat::Images => {
            unreachable!("not read through polars")
        }
    }?;
    Ok((lf, decimal_comma))
}

/// A list of numbers, or of such lists (see `batch::numeric_list`).
fn polars_numeric_list(dt: &DataType) -> bool {
    match dt {
        DataType::List(inner) | DataType::Array(inner, _) => {
            inner.is_primitive_numeric() || polars_numeric_list(inner)
        }
        _ => false,
    }
}

fn polars_kind(dt: &DataType) -> ColumnKind {
    match dt {
        d if d.is_primitive_numeric() => ColumnKind::Numeric,
        // 0 and 1
        DataType::Boolean => ColumnKind::Numeric,
        DataType::List(_) | DataType::Array(..) if polars_numeric_list(dt) => {
            ColumnKind::NumericList
        }
        // Spark ML's vectors (see `batch::spark_vector`)
        DataType::Struct(fields)
            if fields
                .iter()
                .map(|f| f.name().as_str())
                .eq(["type", "size", "indices", "values"]) =>
        {
            ColumnKind::NumericList
        }
        DataType::Binary | DataType::BinaryOffset => ColumnKind::Image,
        // Hugging Face's image feature, `struct<bytes, path>` (an Arrow file
        // of `save_to_disk`)
        DataType::Struct(fields)
            if fields.iter().any(|f| {
                f.name() == "bytes"
                    && matches!(f.dtype(), DataType::Binary | DataType::BinaryOffset)
            }) =>
        {
            ColumnKind::Image
        }
        DataType::String | DataType::Categorical(..) | DataType::Enum(..) => ColumnKind::Text,
        _ => ColumnKind::Other,
    }
}

fn read_error(path: &Path, format: InputFormat, e: PolarsError) -> IngestError {
    let mut message = e.to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("invalid utf-8") || lower.contains("invalid utf8") {
        message.push_str(
            "; the text is not UTF-8 (Latin-1 or Windows-1252, as older spreadsheets save it?): \
             save it as UTF-8",
        );
    }
    let format = if format == InputFormat::Ndjson && json_array(&head_bytes(path)) {
        "a JSON array of records"
    } else {
        format.name()
    };
    IngestError::Read {
        path: path.to_path_buf(),
        format,
        message,
    }
}

/// Reads the selected columns of one file.
fn read_file(
    path: &Path,
    (partitions, file): (&Partitions, usize),
    format: InputFormat,
    options: &IngestOptions,
    selection: Option<&Selection>,
) -> Result<(DataFrame, Selection, Hints), IngestError> {
    // polars drops a schema's metadata: an Arrow file's is read on its own
    let hints = match format {
        InputFormat::Ipc => ipc_hints(path),
        _ => Hints::default(),
    };
    let (mut lf, decimal_comma) = scan(
        path,
        format,
        options.table.separator,
        !options.table.no_header,
    )
    .map_err(|e| read_error(path, format, e))?;
    let schema = lf
        .collect_schema()
        .map_err(|e| read_error(path, format, e))?;
    let mut described: Vec<(String, ColumnKind, String)> = schema
        .iter()
        .map(|(n, dt)| (n.to_string(), polars_kind(dt), dt.to_string()))
        .collect();
    let written = match format {
        InputFormat::Csv => {
            // how the numbers polars read are written: with a decimal comma
            // where the dialect says so
            let floats = schema.iter().any(|(_, dt)| dt.is_float());
            let file = floats.then_some(match decimal_comma {
                true => Written::DecimalComma,
                false => Written::DecimalPoint,
            });
            written_number_columns(&lf, &schema, &options.table.label, file)
                .map_err(|e| read_error(path, format, e))?
        }
        _ => Vec::new(),
    };
    for (name, kind, dtype) in &mut described {
        if written.iter().any(|(n, _)| n == name) {
            (*kind, *dtype) = (ColumnKind::Numeric, DataType::Float64.to_string());
        }
    }
    let path_notes = batch::text_column_kinds(&mut described, Some(path), |text| {
        let columns: Vec<Expr> = text.iter().map(|c| col(c.as_str())).collect();
        let head = lf
            .clone()
            .select(columns)
            .limit(batch::HEAD_ROWS as IdxSize);
        to_record_batch(head.collect().ok()?).ok()
    });
    partitions.describe(file, &mut described, &options.table)?;
    if format == InputFormat::Csv
        && !options.table.no_header
        && !described.iter().any(|(n, _, _)| *n == options.table.label)
        && described.iter().all(|(n, _, _)| {
            // polars renames repeated names `x_duplicated_0`
            n.split("_duplicated_")
                .next()
                .unwrap_or(n)
                .parse::<f64>()
                .is_ok()
        })
    {
        return Err(IngestError::Option(format!(
            "{}: the first line holds numbers, not column names: add a header row naming the \
             columns (e.g. `label,f0,f1,…`), or read it with --no-header, which names them \
             `column_1` … `column_{}`, and name the label column by its place (--label column_1 \
             if it comes first, --label column_{} if last)",
            path.display(),
            described.len(),
            described.len()
        )));
    }
    let mut sel = match selection {
        Some(s) => {
            check_columns(s, &described, path)?;
            s.clone()
        }
        None => match batch::select(&described, &hints.apply(&options.table), Some(path)) {
            Ok(sel) => sel,
            // A file with a header and no rows has no column types to select
            // by (CSV infers text); say that it is empty instead.
            Err(e) => {
                let rows = lf
                    .clone()
                    .limit(1)
                    .collect()
                    .map(|df| df.height())
                    .unwrap_or(1);
                return Err(if rows == 0 {
                    IngestError::Empty(format!("{} has no rows", path.display()))
                } else {
                    e
                });
            }
        },
    };
    if selection.is_none() {
        sel.notes.extend(path_notes);
    }
    // the partition columns are added to its batches
    let exprs: Vec<Expr> = sel
        .columns()
        .iter()
        .filter(|c| schema.contains(c.as_str()))
        .map(|c| col(c.as_str()))
        .collect();
    let mut df = lf
        .select(exprs)
        .collect()
        .map_err(|e| read_error(path, format, e))?;
    for &(ref name, way) in &written {
        if df.schema().contains(name.as_str()) {
            let numbers = written_numbers_of(&df, name, way).map_err(|row| IngestError::Read {
                path: path.to_path_buf(),
                format: format.name(),
                message: format!(
                    "column `{name}`, row {row}: not a number, where the column's first rows \
                     are numbers written {}",
                    way.describe()
                ),
            })?;
            df.with_column(numbers)
                .map_err(|e| read_error(path, format, e))?;
        }
    }
    Ok((df, sel, hints))
}

/// Rows of text columns read to tell numbers written for people.
const WRITTEN_NUMBER_ROWS: u32 = 1000;

/// How a spreadsheet writes numbers for people: a decimal mark, and a mark
/// between groups of three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// `1.234,5` and `3,14` (most of Europe and South America).
    DecimalComma,
    /// `1,234.5` and `3.14` (English-speaking locales).
    DecimalPoint,
}

impl Written {
    /// `(group, decimal)` marks.
    fn marks(self) -> (char, char) {
        match self {
            Written::DecimalComma => ('.', ','),
            Written::DecimalPoint => (',', '.'),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Written::DecimalComma => "with a decimal comma (`3,14`, `1.234,5`)",
            Written::DecimalPoint => "with commas between thousands (`1,234.5`)",
        }
    }

    /// `v` read as a number written so: digits, or groups of three after
    /// one to three (the first not `0`), then the decimal mark and digits,
    /// then an exponent; `None` when it is not one.
    fn parse(self, v: &str) -> Option<f64> {
        let (group, decimal) = self.marks();
        let v = v.trim();
        let (sign, body) = match v.strip_prefix('-') {
            Some(b) => ("-", b),
            None => ("", v.strip_prefix('+').unwrap_or(v)),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = match mantissa.split_once(decimal) {
            Some((int, frac)) => (int, Some(frac)),
            None => (mantissa, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let groups: Vec<&str> = int.split(group).collect();
        let grouped = groups.len() > 1
            && (1..=3).contains(&groups[0].len())
            && !groups[0].starts_with('0')
            && groups.iter().all(|g| digits(g))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !(digits(int) || grouped) || frac.is_some_and(|f| !digits(f)) {
            return None;
        }
        let mut text = format!("{sign}{}", groups.concat());
        if let Some(f) = frac {
            text.push('.');
            text.push_str(f);
        }
        if let Some(e) = exponent {
            let unsigned = e.strip_prefix(['-', '+']).unwrap_or(e);
            if !digits(unsigned) {
                return None;
            }
            text.push('e');
            text.push_str(e);
        }
        text.parse().ok()
    }
}

/// The text columns of a CSV file (the label's aside) whose every value in
/// the first [`WRITTEN_NUMBER_ROWS`] rows is a number written for people:
/// with a decimal comma between commas (quoted, `"3,14"`, as spreadsheets
/// export them in many locales; polars reads a decimal comma only between
/// other separators), with dots between thousands (`1.234,5`), or with
/// commas between thousands (`"1,234.5"`). A column that reads both ways
/// (only `"1,234"` and whole numbers: a thousand, or one and a bit?) is
/// read the way the rest of the file writes its numbers — `file`, how the
/// numbers polars read are written, and the columns that read one way only
/// — and stays text where the file does not say.
fn written_number_columns(
    lf: &LazyFrame,
    schema: &PolarsSchema,
    label: &str,
    file: Option<Written>,
) -> PolarsResult<Vec<(String, Written)>> {
    let text: Vec<Expr> = schema
        .iter()
        .filter(|(n, dt)| **dt == DataType::String && n.as_str() != label)
        .map(|(n, _)| col(n.clone()))
        .collect();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let head = lf
        .clone()
        .select(text)
        .limit(WRITTEN_NUMBER_ROWS)
        .collect()?;
    // each column's way, `None` where it reads both ways
    let read: Vec<(String, Option<Written>)> = head
        .columns()
        .iter()
        .filter_map(|c| {
            let values = c.str().ok()?;
            // whole numbers alone are polars's to read (or codes)
            if !values.iter().flatten().any(|v| v.contains([',', '.'])) {
                return None;
            }
            let ways = [Written::DecimalComma, Written::DecimalPoint]
                .map(|w| values.iter().flatten().all(|v| w.parse(v).is_some()));
            let way = match ways {
                [true, false] => Some(Written::DecimalComma),
                [false, true] => Some(Written::DecimalPoint),
                [true, true] => None,
                [false, false] => return None,
            };
            Some((c.name().to_string(), way))
        })
        .collect();
    let mut ways = file.into_iter().chain(read.iter().filter_map(|(_, w)| *w));
    let first = ways.next();
    let agreed = first.filter(|&w| ways.all(|v| v == w));
    Ok(read
        .into_iter()
        .filter_map(|(name, way)| Some((name, way.or(agreed)?)))
        .collect())
}

/// Column `name` of `df` read as numbers written `written`, or the first
/// row (from 0) that is not one.
fn written_numbers_of(df: &DataFrame, name: &str, written: Written) -> Result<Column, usize> {
    let column = df.column(name).map_err(|_| 0usize)?;
    let values = column.str().map_err(|_| 0usize)?;
    let numbers = values
        .iter()
        .enumerate()
        .map(|(row, v)| match v {
            None => Ok(None),
            Some(v) => written.parse(v).map(Some).ok_or(row),
        })
        .collect::<Result<Vec<Option<f64>>, usize>>()?;
    Ok(Column::new(name.into(), numbers))
}

/// The hints in an Arrow IPC file's or stream's schema metadata (Hugging
/// Face's class names, poisonscan's image shape), read with arrow-rs;
/// none for a packed file or one arrow-rs cannot open (polars then says
/// what is wrong).
fn ipc_hints(path: &Path) -> Hints {
    ipc_reader(path).map_or_else(Hints::default, |r| Hints::from_schema(&r.schema()))
}

/// An arrow-rs reader of an Arrow IPC file or stream (told from its first
/// bytes); `None` where it cannot be opened.
fn ipc_reader(path: &Path) -> Option<Box<dyn arrow::array::RecordBatchReader>> {
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    // peeked from the buffer the reader goes on from
    let stream =
        std::io::BufRead::fill_buf(&mut file).is_ok_and(|head| head.starts_with(super::IPC_STREAM));
    if stream {
        Some(Box::new(
            arrow::ipc::reader::StreamReader::try_new(file, None).ok()?,
        ))
    } else {
        Some(Box::new(
            arrow::ipc::reader::FileReader::try_new(file, None).ok()?,
        ))
    }
}

/// An Arrow IPC file or stream read whole by arrow-rs; `None` where it
/// cannot be.
fn read_ipc(path: &Path) -> Option<(arrow::datatypes::SchemaRef, Vec<RecordBatch>)> {
    let reader = ipc_reader(path)?;
    let schema = reader.schema();
    Some((schema, reader.collect::<Result<Vec<_>, _>>().ok()?))
}

/// Hands a polars frame to arrow-rs without copying the buffers.
pub(crate) fn to_record_batch(df: DataFrame) -> Result<RecordBatch, IngestError> {
    let compat = CompatLevel::newest();
    let fields: Vec<_> = df
        .columns()
        .iter()
        .map(|c| c.field().to_arrow(compat))
        .collect();
    let n_rows = df.height();
    let arrays = df.rechunk_into_arrow(compat);
    let mut out_fields = Vec::with_capacity(fields.len());
    let mut out_arrays: Vec<ArrayRef> = Vec::with_capacity(fields.len());
    for (field, array) in fields.iter().zip(arrays) {
        let c_array = polars_arrow::ffi::export_array_to_c(array);
        let c_schema = polars_arrow::ffi::export_field_to_c(field);
        // SAFETY: both crates define these structs `#[repr(C)]` after the Arrow
        // C data interface, so they have the same layout (checked by size in
        // the transmute). Moving them hands over ownership: the release
        // callbacks run exactly once, when arrow-rs drops them.
        let data = unsafe {
            let c_array: arrow::ffi::FFI_ArrowArray = std::mem::transmute(c_array);
            let c_schema: arrow::ffi::FFI_ArrowSchema = std::mem::transmute(c_schema);
            arrow::ffi::from_ffi(c_array, &c_schema)
        }
        .map_err(|e| IngestError::Incompatible(format!("column `{}`: {e}", field.name)))?;
        let array = make_array(data);
        out_fields.push(Field::new(
            field.name.as_str(),
            array.data_type().clone(),
            true,
        ));
        out_arrays.push(array);
    }
    let schema = Arc::new(Schema::new(out_fields));
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(n_rows));
    RecordBatch::try_new_with_options(schema, out_arrays, &options)
        .map_err(|e| IngestError::Incompatible(e.to_string()))
}

/// Parquet through arrow-rs's streaming reader: only the selected columns,
/// one batch of rows at a time, so that peak memory stays near the size of the
/// feature matrix. (A polars scan decodes a whole row group at once; with the
/// file mapped beside it, a 60,000 × 128 embedding file peaked at 3.0× the
/// matrix, against 2.0× this way, in batches of 4,096 rows — BENCHMARKS.md.)
fn push_parquet(
    path: &Path,
    (partitions, index): (&Partitions, usize),
    options: &IngestOptions,
    selection: Option<&Selection>,
) -> Result<(ParquetRecordBatchReader, Selection, u64, Hints), IngestError> {
    let file = open_parquet(path)?;
    let mut described = batch::describe(file.meta.schema());
    let path_notes =
        batch::text_column_kinds(&mut described, Some(path), |text| parquet_head(&file, text));
    let in_file = described.len();
    partitions.describe(index, &mut described, &options.table)?;
    let builder = file.reader().map_err(|e| parquet_error(path, &e))?;
    let hints = Hints::from_schema(builder.schema());
    let mut sel = choose(selection, &described, &hints, options, path)?;
    if selection.is_none() {
        sel.notes.extend(path_notes);
    }
    let wanted = sel.columns();
    let roots: Vec<usize> = described[..in_file]
        .iter()
        .enumerate()
        .filter(|(_, (n, _, _))| wanted.contains(n))
        .map(|(i, _)| i)
        .collect();
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(4096)
        .build()
        .map_err(|e| parquet_error(path, &e))?;
    Ok((reader, sel, rows, hints))
}

/// The first rows of a Parquet file's columns `names` (see
/// [`batch::text_column_kinds`]).
fn parquet_head(file: &ParquetFile, names: &[String]) -> Option<RecordBatch> {
    let builder = file.reader().ok()?;
    let roots: Vec<usize> = names
        .iter()
        .filter_map(|n| builder.schema().index_of(n).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut reader = builder
        .with_projection(mask)
        .with_batch_size(batch::HEAD_ROWS)
        .build()
        .ok()?;
    reader.next()?.ok()
}

/// A Parquet file read error, naming the file.
fn parquet_error(path: &Path, e: &dyn std::fmt::Display) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "parquet",
        message: e.to_string(),
    }
}

/// A Parquet file (unpacked, when packed) with its footer read, for one
/// reader or more.
struct ParquetFile {
    file: std::fs::File,
    meta: ArrowReaderMetadata,
}

impl ParquetFile {
    /// A reader of the file, from its first row.
    fn reader(&self) -> std::io::Result<ParquetRecordBatchReaderBuilder<std::fs::File>> {
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.file.try_clone()?,
            self.meta.clone(),
        ))
    }
}

/// Opens a Parquet file and reads its footer.
fn open_parquet(path: &Path) -> Result<ParquetFile, IngestError> {
    let io = |error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = match unpacked(path).map_err(io)? {
        Some(file) => file,
        None => std::fs::File::open(path).map_err(io)?,
    };
    let meta = ArrowReaderMetadata::load(&file, Default::default())
        .map_err(|e| parquet_error(path, &e))?;
    Ok(ParquetFile { file, meta })
}

/// The columns to read: those chosen from the first file (which this one
/// must carry), or chosen from this one's.
fn choose(
    selection: Option<&Selection>,
    described: &[(String, ColumnKind, String)],
    hints: &Hints,
    options: &IngestOptions,
    path: &Path,
) -> Result<Selection, IngestError> {
    match selection {
        Some(s) => {
            check_columns(s, described, path)?;
            Ok(s.clone())
        }
        None => batch::select(described, &hints.apply(&options.table), Some(path)),
    }
}

/// A builder for the rows of `sel`, `rows` of them expected.
fn builder_for<'a>(
    sel: Selection,
    options: &'a IngestOptions,
    rows: usize,
    hints: Hints,
) -> DatasetBuilder<'a> {
    let mut b = DatasetBuilder::new(sel, &options.table, rows);
    b.set_hints(hints);
    b.set_resize(options.resize);
    b
}

/// Later files must carry the columns chosen from the first one.
fn check_columns(
    sel: &Selection,
    described: &[(String, ColumnKind, String)],
    path: &Path,
) -> Result<(), IngestError> {
    for c in sel.columns() {
        if !described.iter().any(|(n, _, _)| *n == c) {
            return Err(IngestError::MissingColumn {
                column: c,
                file: Some(path.to_path_buf()),
                available: described.iter().map(|(n, _, _)| n.clone()).collect(),
            });
        }
    }
    Ok(())
}

/// Why a later split's file is left out: it lacks the label column, or no
/// row of it has a label.
const NO_COLUMN: &str = "no label column `{label}`";
const NO_LABELS: &str = "no row has a label in `{label}`";

/// Reads tables into one data set; rows keep the order of the files. A
/// file of `later` (a later split of a folder's files, see
/// `splits_together`) that lacks the label column, or whose every label is
/// missing, is left out, with a note (Kaggle's `test.csv`, unlabelled,
/// beside `train.csv`; a `DatasetDict`'s test split, all `ClassLabel` -1).
///
/// The files are hashed on another thread while they are read (a 2 GB
/// Parquet file: about a second and a half saved); a file that cannot be
/// opened is refused before anything is read, as when it was hashed first.
pub(super) fn load(
    paths: &[PathBuf],
    partitions: &Partitions,
    format: InputFormat,
    options: &IngestOptions,
    later: &[PathBuf],
) -> Result<Dataset, IngestError> {
    for path in paths {
        if path.is_dir() {
            return Err(IngestError::Option(format!(
                "{} is a folder; image folders cannot be mixed with {} files",
                path.display(),
                format.name()
            )));
        }
        std::fs::File::open(path).map_err(|error| IngestError::Io {
            path: path.to_path_buf(),
            error,
        })?;
    }
    let headerless = match (format, paths.first()) {
        (InputFormat::Csv, Some(first)) => headerless(first, options, partitions.beside.has(0)),
        _ => None,
    };
    let (options, headerless) = match &headerless {
        Some((adjusted, note)) => (adjusted, Some(note)),
        None => (options, None),
    };
    std::thread::scope(|scope| {
        let hashes = scope.spawn(|| paths.iter().map(|p| hash_file(p)).collect::<Vec<_>>());
        let mut builder: Option<DatasetBuilder<'_>> = None;
        let mut left_out = Vec::new();
        for (file, path) in paths.iter().enumerate() {
            let first_row = builder.as_ref().map_or(0, |b| b.rows()) as u64;
            let selection = builder.as_ref().map(|b| b.selection().clone());
            let source = SourceFile {
                path: path.clone(),
                bytes: 0,
                sha256: String::new(),
                rows: 0,
                first_row,
            };
            let label = selection.as_ref().map(|s| s.label.clone());
            // a later split whose every label is missing (a `DatasetDict`'s
            // test split, all `ClassLabel` -1; Kaggle's `test.csv` with the
            // column left empty) holds nothing to judge
            if later.contains(path)
                && label
                    .as_deref()
                    .is_some_and(|label| holds_no_label(path, format, label))
            {
                left_out.push((file, NO_LABELS));
                continue;
            }
            let b = &mut builder;
            let read = super::guarded(path, format, move || {
                let part = (partitions, file);
                read_into(b, path, part, format, options, selection.as_ref(), source)
            });
            match read {
                Err(IngestError::MissingColumn { column, .. })
                    if later.contains(path) && Some(&column) == label.as_ref() =>
                {
                    left_out.push((file, NO_COLUMN));
                }
                other => other?,
            }
        }
        let mut builder = builder.ok_or(IngestError::NoInput)?;
        if let Some(note) = headerless {
            builder.note(note.clone());
        }
        for note in partitions.beside.notes(paths, &builder.selection().label) {
            builder.note(note);
        }
        let label = builder.selection().label.clone();
        for why in [NO_COLUMN, NO_LABELS] {
            let files: Vec<_> = left_out.iter().filter(|(_, w)| *w == why).collect();
            if !files.is_empty() {
                let why = why.replace("{label}", &label);
                builder.note(format!(
                    "left out {}: {why} (a split without labels)",
                    batch::quoted(files.iter().map(|&&(i, _)| paths[i].display()))
                ));
            }
        }
        let mut ds = builder.finish()?;
        let hashes = hashes.join().expect("hashing a file does not panic");
        let hashes = (0..paths.len())
            .zip(hashes)
            .filter(|(i, _)| !left_out.iter().any(|(j, _)| j == i))
            .map(|(_, hash)| hash);
        for (source, hash) in ds.sources.iter_mut().zip(hashes) {
            (source.bytes, source.sha256) = hash?;
        }
        Ok(ds)
    })
}

/// Whether a table file's column `label` holds no label in any row (see
/// [`batch::NoLabel`]): read alone, and only as far as its first label.
/// `false` for an empty file, one without the column, a format other than
/// Parquet, Arrow, CSV or JSON, and one that cannot be read (the reading
/// that follows then says why).
fn holds_no_label(path: &Path, format: InputFormat, label: &str) -> bool {
    type Batches = Box<dyn Iterator<Item = Option<RecordBatch>>>;
    let read: Option<(Batches, Hints)> = match format {
        InputFormat::Parquet => (|| {
            let builder = open_parquet(path).ok()?.reader().ok()?;
            let hints = Hints::from_schema(builder.schema());
            let root = builder.schema().index_of(label).ok()?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), [root]);
            let reader = builder.with_projection(mask).build().ok()?;
            Some((Box::new(reader.map(Result::ok)) as Batches, hints))
        })(),
        InputFormat::Ipc => ipc_reader(path).map(|reader| {
            let hints = Hints::from_schema(&reader.schema());
            (Box::new(reader.map(Result::ok)) as Batches, hints)
        }),
        InputFormat::Csv | InputFormat::Ndjson => read_columns(path, &[label], &[]).ok().map(|b| {
            (
                Box::new(std::iter::once(Some(b))) as Batches,
                Hints::default(),
            )
        }),
        _ => None,
    };
    let Some((batches, hints)) = read else {
        return false;
    };
    let mut rows = 0;
    for batch in batches {
        let Some(column) = batch.as_ref().and_then(|b| b.column_by_name(label)) else {
            return false;
        };
        if !batch::NoLabel::new(column, &hints, label).all() {
            return false;
        }
        rows += column.len();
    }
    rows > 0
}

/// The options to read a delimited file without a header line with, and a
/// note saying so — an image list (`images/0001.jpg 3` a line, as Caffe,
/// mmpretrain and DomainNet keep them; Tiny ImageNet's
/// `val_annotations.txt`: `val_0.JPEG`, its class, its box), or a table
/// whose first line is numbers (`mnist_train.csv` as most copies have it:
/// the label, then 784 pixels; UCI's `iris.data`): where no column is the
/// label, and the first line is data — it names a picture that is there,
/// or holds a number with a fraction, or only numbers that are not the
/// column numbers pandas writes for an unnamed frame (`0,1,2,…`). Its
/// columns are then named by place, the label being the one the user named
/// so (`--label column_2`), else, in an image list, the one column besides
/// the pictures or the one of text, in a table, the one column of text
/// whose first value is one of its values (see [`recurs`]) or the one end
/// column of whole numbers with at most [`batch::MAX_CATEGORIES`] values
/// (see [`class_column_at_an_end`]).
/// `None` for any other file, and where the label cannot be told (the error
/// then says what to pass).
fn headerless(
    path: &Path,
    options: &IngestOptions,
    labels_beside: bool,
) -> Option<(IngestOptions, String)> {
    let table = &options.table;
    // the file's first bytes, read once for its first line and its dialect
    let head = head_bytes(path);
    let dialect = sniff_csv(&head, table.separator);
    let first = first_line(path, &head, table.separator)?;
    let by_place = |name: &str| {
        name.strip_prefix("column_")
            .and_then(|k| k.parse::<usize>().ok())
            .is_some_and(|k| (1..=first.len()).contains(&k))
    };
    let found = match table.no_header {
        true => by_place(&table.label),
        false => first.contains(&table.label),
    };
    if found {
        return None;
    }
    let pictures: Vec<bool> = first
        .iter()
        .map(|v| batch::names_picture(v, path))
        .collect();
    let number = |f: &str| f.trim().parse::<f64>().is_ok();
    let column_numbers = |from: usize| {
        first
            .iter()
            .enumerate()
            .all(|(j, f)| f.trim().parse::<usize>() == Ok(j + from))
    };
    let list = pictures.contains(&true);
    let data = table.no_header
        || list
        || first.iter().any(|f| f.contains('.') && number(f))
        || (first.iter().all(|f| number(f)) && !column_numbers(0) && !column_numbers(1));
    if !data {
        return None;
    }
    let mut adjusted = options.clone();
    adjusted.table.no_header = true;
    if labels_beside && !by_place(&table.label) {
        // the labels are in a file of their own (see `Beside`)
        let note = format!(
            "{} has no header line (its first line is data): its columns are read as column_1 \
             to column_{}",
            path.display(),
            first.len()
        );
        return Some((adjusted, note));
    }
    let label = if by_place(&table.label) {
        table.label.clone()
    } else if table.label == batch::DEFAULT_LABEL {
        let others: Vec<usize> = (0..first.len()).filter(|&j| !pictures[j]).collect();
        let text: Vec<usize> = others
            .iter()
            .copied()
            .filter(|&j| !number(&first[j]))
            .collect();
        // in a table, the one text column's first value must be one of its
        // values (else the line names the columns)
        let a_value = |j: usize| sample_columns(path, dialect, &[j]).is_some_and(|v| recurs(&v[0]));
        let label = match (list, others.as_slice(), text.as_slice()) {
            (true, [one], _) | (true, _, [one]) => Some(*one),
            (false, _, [one]) => Some(*one).filter(|&j| a_value(j)),
            (false, _, []) => class_column_at_an_end(path, dialect, first.len()),
            _ => None,
        };
        format!("column_{}", label? + 1)
    } else {
        return None;
    };
    adjusted.table.label = label.clone();
    let what = match first.iter().zip(&pictures).find(|(_, &p)| p) {
        Some((picture, _)) => format!("names the picture `{picture}`"),
        None => "is data".to_string(),
    };
    let note = format!(
        "{} has no header line (its first line {what}): its columns are read as column_1 to \
         column_{}, the labels from {label} (pass --label column_N to take another)",
        path.display(),
        first.len()
    );
    Some((adjusted, note))
}

/// Rows of a headerless table read to tell its label column by its values.
const CLASS_SAMPLE_ROWS: usize = 10_000;

/// Rows a value, at least, of a column told to be a headerless table's
/// classes: a measurement of whole numbers (a count, a price) takes
/// nearly a value a row in a small table.
const ROWS_A_CLASS: usize = 5;

/// The one end column (first or last, of `n`) of a headerless table whose
/// values are whole numbers, none missing, of 2 to
/// [`batch::MAX_CATEGORIES`] distinct values and at least
/// [`ROWS_A_CLASS`] rows a value, its first value among the others, in its
/// first [`CLASS_SAMPLE_ROWS`] rows — a class; `None` when neither is.
/// When both are, the one that does not move with the column beside it
/// (its correlation under [`STILL`]) while the other does (at least
/// [`MOVES`]): a pixel on an image's border that a trigger patch set to
/// 0 or 255 takes a few whole numbers too, as the pixels beside it do in
/// the same rows, and a label does not (`mnist_train.csv` with a corner
/// patch on 1 % of its rows was refused where the same pixels without the
/// patch were read); `None` otherwise.
fn class_column_at_an_end(path: &Path, dialect: CsvDialect, n: usize) -> Option<usize> {
    let ends: Vec<usize> = if n > 1 { vec![0, n - 1] } else { vec![0] };
    // each end's inner neighbour
    let beside: Vec<usize> = if n >= 4 { vec![1, n - 2] } else { Vec::new() };
    let columns: Vec<usize> = ends.iter().chain(&beside).copied().collect();
    let sampled = sample_columns(path, dialect, &columns)?;
    let classes = |values: &Vec<String>| {
        let mut distinct = std::collections::BTreeSet::new();
        values.iter().all(|v| {
            v.parse::<f64>().is_ok_and(|x| {
                distinct.insert(x.to_bits());
                x.fract() == 0.0
            })
        }) && (2..=batch::MAX_CATEGORIES).contains(&distinct.len())
            && distinct.len() * ROWS_A_CLASS <= values.len()
            && recurs(values)
    };
    let found: Vec<usize> = (0..ends.len()).filter(|&e| classes(&sampled[e])).collect();
    match found[..] {
        [e] => Some(ends[e]),
        [a, b] if !beside.is_empty() => {
            let r = |e: usize| correlation(&sampled[e], &sampled[ends.len() + e]).abs();
            let (ra, rb) = (r(a), r(b));
            if ra < STILL && rb >= MOVES {
                Some(ends[a])
            } else if rb < STILL && ra >= MOVES {
                Some(ends[b])
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Correlation at or over which an end column of a headerless table moves
/// with the column beside it (see [`class_column_at_an_end`]).
const MOVES: f64 = 0.8;

/// Correlation under which it does not.
const STILL: f64 = 0.5;

/// Pearson's correlation of two columns' values read as numbers; 0 where
/// a value is not a number or a column does not vary.
fn correlation(x: &[String], y: &[String]) -> f64 {
    let parse = |v: &[String]| -> Option<Vec<f64>> { v.iter().map(|s| s.parse().ok()).collect() };
    let (Some(x), Some(y)) = (parse(x), parse(y)) else {
        return 0.0;
    };
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(&y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx > 0.0 && syy > 0.0 {
        sxy / (sxx * syy).sqrt()
    } else {
        0.0
    }
}

/// Whether a column's first value (its first line's field) is among its
/// later values: a label's value is, a header's name is not (a table of
/// spectra named by their wavelengths, `1100.5,…,species`, has a header).
fn recurs(values: &[String]) -> bool {
    values
        .split_first()
        .is_some_and(|(first, rest)| rest.contains(first))
}

/// The fields at `columns` (trimmed) of a delimited file's first
/// [`CLASS_SAMPLE_ROWS`] lines (after `#` comment lines; a line without the
/// field gives an empty one), streamed, in the file's `dialect`.
fn sample_columns(path: &Path, dialect: CsvDialect, columns: &[usize]) -> Option<Vec<Vec<String>>> {
    use std::io::BufRead;
    with_data(path, |data| {
        let reader = std::io::BufReader::new(data);
        let mut sampled = vec![Vec::new(); columns.len()];
        for line in reader
            .split(b'\n')
            .skip(dialect.comments)
            .take(CLASS_SAMPLE_ROWS)
        {
            let line = line.ok()?;
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.is_empty() {
                continue;
            }
            let fields = split_fields(line, dialect.separator);
            for (&j, values) in columns.iter().zip(sampled.iter_mut()) {
                let field = fields.get(j).map_or(&[][..], |f| &f[..]);
                values.push(String::from_utf8_lossy(field).trim().to_string());
            }
        }
        Some(sampled)
    })
    .ok()
    .flatten()
}

/// The fields of a delimited text file's first line (after `#` comment
/// lines), as its header, split as the file is sniffed: read from its
/// first 64 KiB, or — a longer line — by polars, which renames a repeated
/// one `x_duplicated_0` (the suffix is taken off).
fn first_line(path: &Path, head: &[u8], separator: Option<u8>) -> Option<Vec<String>> {
    let dialect = sniff_csv(head, separator);
    let mut lines = head.split(|&b| b == b'\n').skip(dialect.comments);
    if let (Some(line), Some(_)) = (lines.next(), lines.next()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        return Some(
            split_fields(line, dialect.separator)
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect(),
        );
    }
    let (mut lf, _) = scan(path, InputFormat::Csv, separator, true).ok()?;
    Some(
        lf.collect_schema()
            .ok()?
            .iter_names()
            .map(|n| n.split("_duplicated_").next().unwrap_or(n).to_string())
            .collect(),
    )
}

/// Whether the first line of a delimited text file names a picture that is
/// there (see [`headerless`]).
pub(super) fn first_line_names_picture(path: &Path) -> bool {
    first_line(path, &head_bytes(path), None)
        .is_some_and(|first| first.iter().any(|n| batch::names_picture(n, path)))
}

/// Reads one file's rows into the builder (made from its columns when it
/// is the first file).
fn read_into<'a>(
    builder: &mut Option<DatasetBuilder<'a>>,
    path: &Path,
    (partitions, file): (&Partitions, usize),
    format: InputFormat,
    options: &'a IngestOptions,
    selection: Option<&Selection>,
    source: SourceFile,
) -> Result<(), IngestError> {
    if format == InputFormat::Parquet {
        let (reader, sel, rows, hints) =
            push_parquet(path, (partitions, file), options, selection)?;
        let wanted = sel.columns();
        let batches = reader.map(|batch| batch.map_err(|e| parquet_error(path, &e)));
        let batches = partitions.extend_each((file, path), rows as usize, batches, &wanted);
        return push_file(
            builder,
            options,
            (sel, hints),
            source,
            rows as usize,
            Vec::new(),
            batches,
        );
    }
    if format.read_whole() {
        let mut notes = Vec::new();
        let one = |batch: RecordBatch| (batch.schema(), vec![batch]);
        let (schema, batches) = if format == InputFormat::Avro {
            super::avro::read(path)?
        } else if format == InputFormat::Orc {
            super::guarded(path, format, || super::orc::read(path))?
        } else if format == InputFormat::Arff {
            one(super::arff::read(path, &options.table.label, &mut notes)?)
        } else if format == InputFormat::Svmlight {
            one(super::svmlight::read(path, &options.table.label)?)
        } else if format == InputFormat::RData {
            one(super::rdata::read(path, &mut notes)?)
        } else if format == InputFormat::Stata {
            one(super::stata::read(path, &mut notes)?)
        } else if format == InputFormat::Spss {
            one(super::spss::read(path, &mut notes)?)
        } else if format == InputFormat::Xport {
            one(super::xport::read(path, &mut notes)?)
        } else if format == InputFormat::Excel {
            one(super::excel::read(path, &options.table.label, &mut notes)?)
        } else if format == InputFormat::Ts {
            one(super::sktime::read(path, &options.table.label)?)
        } else if super::tfrecord::is_tfrecord(path) {
            one(super::tfrecord::read(path, &mut notes)?)
        } else if let Some(frame) = super::h5::is_h5(path)
            .then(|| super::hdfstore::read(path, &mut notes))
            .transpose()?
            .flatten()
        {
            one(frame)
        } else {
            one(super::npz::read(
                path,
                options.table.embedding.as_deref(),
                &options.table.label,
                &mut notes,
            )?)
        };
        let mut described = batch::describe(&schema);
        partitions.describe(file, &mut described, &options.table)?;
        let hints = Hints::from_schema(&schema);
        let sel = choose(selection, &described, &hints, options, path)?;
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let wanted = sel.columns();
        let batches = batches.into_iter().map(Ok);
        let batches = partitions.extend_each((file, path), rows, batches, &wanted);
        return push_file(builder, options, (sel, hints), source, rows, notes, batches);
    }
    let read = super::guarded(path, format, || {
        read_file(path, (partitions, file), format, options, selection)
    });
    match read {
        // an Arrow file polars cannot read (an extension type such as
        // pyarrow's `fixed_shape_tensor`, on which it fails or panics): read
        // by arrow-rs, which keeps the storage type; the polars error stands
        // where arrow-rs cannot read it either
        Err(e @ IngestError::Read { .. }) if format == InputFormat::Ipc => {
            let Some((schema, batches)) = read_ipc(path) else {
                return Err(e);
            };
            let mut described = batch::describe(&schema);
            let hints = Hints::from_schema(&schema);
            let notes = batch::text_column_kinds(&mut described, Some(path), |_| {
                let first = batches.first()?;
                Some(first.slice(0, first.num_rows().min(batch::HEAD_ROWS)))
            });
            partitions.describe(file, &mut described, &options.table)?;
            let sel = choose(selection, &described, &hints, options, path)?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            let wanted = sel.columns();
            let batches = batches.into_iter().map(Ok);
            let batches = partitions.extend_each((file, path), rows, batches, &wanted);
            push_file(builder, options, (sel, hints), source, rows, notes, batches)
        }
        read => {
            let (df, sel, hints) = read?;
            let rows = df.height();
            let wanted = sel.columns();
            let batch = to_record_batch(df)
                .and_then(|b| partitions.extend((file, path), (0, rows), b, &wanted));
            push_file(
                builder,
                options,
                (sel, hints),
                source,
                rows,
                Vec::new(),
                [batch],
            )
        }
    }
}

/// Hands one file's `rows` rows (`batches`) to the builder, made from the
/// file's selection when it is the first file, with the file's notes.
fn push_file<'a>(
    builder: &mut Option<DatasetBuilder<'a>>,
    options: &'a IngestOptions,
    (sel, hints): (Selection, Hints),
    mut source: SourceFile,
    rows: usize,
    notes: Vec<String>,
    batches: impl IntoIterator<Item = Result<RecordBatch, IngestError>>,
) -> Result<(), IngestError> {
    source.rows = rows as u64;
    let b = builder.get_or_insert_with(|| builder_for(sel, options, rows, hints));
    b.add_source(source);
    for note in notes {
        b.note(note);
    }
    for batch in batches {
        b.push(&batch?)?;
    }
    Ok(())
}

/// Reads whole columns of a table (Parquet, CSV, IPC, NDJSON): every
/// `required` column, and those of `optional` that exist. For small
/// side tables such as scores and ground truth.
pub fn read_columns(
    path: &Path,
    required: &[&str],
    optional: &[&str],
) -> Result<RecordBatch, IngestError> {
    if !path.exists() {
        return Err(IngestError::NotFound(path.to_path_buf()));
    }
    // a file without an extension (`poison -o poisoned`) by its first bytes
    let format = match InputFormat::detect(path) {
        Some(format) => format,
        None => super::format_of_unnamed(path)?,
    };
    let pick = |names: Vec<String>| -> Result<Vec<String>, IngestError> {
        for r in required {
            if !names.iter().any(|n| n == r) {
                return Err(IngestError::MissingColumn {
                    column: r.to_string(),
                    file: Some(path.to_path_buf()),
                    available: names.clone(),
                });
            }
        }
        Ok(required
            .iter()
            .chain(optional)
            .filter(|c| names.iter().any(|n| n == *c))
            .map(|c| c.to_string())
            .collect())
    };
    match format {
        InputFormat::Parquet => {
            let error = |e: &dyn std::fmt::Display| parquet_error(path, e);
            let builder = open_parquet(path)?.reader().map_err(|e| error(&e))?;
            let names: Vec<String> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let wanted = pick(names.clone())?;
            let roots: Vec<usize> = (0..names.len())
                .filter(|&i| wanted.contains(&names[i]))
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            let reader = builder
                .with_projection(mask)
                .build()
                .map_err(|e| error(&e))?;
            let schema = arrow::array::RecordBatchReader::schema(&reader);
            let batches: Vec<RecordBatch> =
                reader.collect::<Result<_, _>>().map_err(|e| error(&e))?;
            arrow::compute::concat_batches(&schema, &batches).map_err(|e| error(&e))
        }
        InputFormat::Csv | InputFormat::Ipc | InputFormat::Ndjson => {
            let (mut lf, _) =
                scan(path, format, None, true).map_err(|e| read_error(path, format, e))?;
            let schema = lf
                .collect_schema()
                .map_err(|e| read_error(path, format, e))?;
            let wanted = pick(schema.iter_names().map(|n| n.to_string()).collect())?;
            let exprs: Vec<Expr> = wanted.iter().map(|c| col(c.as_str())).collect();
            let df = lf
                .select(exprs)
                .collect()
                .map_err(|e| read_error(path, format, e))?;
            to_record_batch(df)
        }
        InputFormat::Idx
        | InputFormat::Npz
        | InputFormat::Arff
        | InputFormat::Svmlight
        | InputFormat::Avro
        | InputFormat::Orc
        | InputFormat::RData
        | InputFormat::Stata
        | InputFormat::Spss
        | InputFormat::Xport
        | InputFormat::Excel
        | InputFormat::Ts
        | InputFormat::Images => Err(IngestError::Option(format!(
            "{} is not a table; expected Parquet, CSV, IPC or NDJSON",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect_of(name: &str, bytes: &[u8]) -> CsvDialect {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        sniff_csv(&head_bytes(&path), None)
    }

    #[test]
    fn numbers_written_for_people_are_read_as_numbers() {
        let text = |name: &str, v: &[Option<&str>]| {
            let v: Vec<Option<String>> = v.iter().map(|s| s.map(String::from)).collect();
            Column::new(name.into(), v)
        };
        let df = DataFrame::new_infer_height(vec![
            text("comma", &[Some("1,5"), Some("-2,25e1"), None, Some("3")]),
            text(
                "euro",
                &[Some("1.234,5"), Some("0,5"), Some("12.345.678"), Some("7")],
            ),
            text(
                "us",
                &[Some("1,234.5"), Some(" 3.5 "), Some("-12,345,678"), None],
            ),
            text("label", &[Some("0,5"), Some("1"), Some("0"), Some("1")]),
            text("name", &[Some("a"), Some("1,5"), Some("b"), Some("c")]),
            // a thousand, or one and a bit: either way read
            text("either", &[Some("1,234"), Some("12,500"), Some("7"), None]),
            // not grouped in threes, or a first group of 0: not numbers
            text("odd", &[Some("1,23,456"), Some("2"), Some("3"), Some("4")]),
            text("missing", &[None, None, None, None]),
        ])
        .unwrap();
        let columns = |file| {
            let lf = df.clone().lazy();
            written_number_columns(&lf, df.schema(), "label", file).unwrap()
        };
        // the label is never a feature; words stay text, and so does a
        // column that reads both ways where the file does not say which
        // (here its columns disagree)
        let sure = vec![
            ("comma".to_string(), Written::DecimalComma),
            ("euro".to_string(), Written::DecimalComma),
            ("us".to_string(), Written::DecimalPoint),
        ];
        assert_eq!(columns(None), sure);
        assert_eq!(columns(Some(Written::DecimalPoint)), sure);
        // a file whose other numbers are written `1,234.5` or `3.14`
        let us = DataFrame::new_infer_height(vec![
            text("either", &[Some("1,234"), Some("12,500"), Some("7"), None]),
            text("us", &[Some("1,234.5"), Some("3.5"), Some("1"), None]),
        ])
        .unwrap();
        let of = |df: &DataFrame, file| {
            written_number_columns(&df.clone().lazy(), df.schema(), "label", file).unwrap()
        };
        let point = [
            ("either", Written::DecimalPoint),
            ("us", Written::DecimalPoint),
        ]
        .map(|(n, w)| (n.to_string(), w))
        .to_vec();
        assert_eq!(of(&us, None), point);
        let alone = us.select(["either"]).unwrap();
        assert!(of(&alone, None).is_empty());
        assert_eq!(of(&alone, Some(Written::DecimalPoint)), point[..1].to_vec());
        assert_eq!(
            written_numbers_of(&us, "either", Written::DecimalPoint)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [Some(1234.0), Some(12_500.0), Some(7.0), None]
        );
        let read = |name: &str, way: Written| -> Vec<Option<f64>> {
            let c = written_numbers_of(&df, name, way).unwrap();
            c.f64().unwrap().iter().collect()
        };
        assert_eq!(
            read("comma", Written::DecimalComma),
            [Some(1.5), Some(-22.5), None, Some(3.0)]
        );
        assert_eq!(
            read("euro", Written::DecimalComma),
            [Some(1234.5), Some(0.5), Some(12_345_678.0), Some(7.0)]
        );
        assert_eq!(
            read("us", Written::DecimalPoint),
            [Some(1234.5), Some(3.5), Some(-12_345_678.0), None]
        );
        // a later value that is not a number is named by its row
        let bad =
            DataFrame::new_infer_height(vec![text("x", &[Some("1,5"), Some("n/a?")])]).unwrap();
        assert_eq!(
            written_numbers_of(&bad, "x", Written::DecimalComma).unwrap_err(),
            1
        );
        for v in ["0,500.5", "1,2345", ",5", "1,", "1e", "--1", "1.5,5"] {
            assert_eq!(Written::DecimalPoint.parse(v), None, "{v}");
        }
        for v in ["0.500,5", "1.2345", ",5", "1,", "1.234.5"] {
            assert_eq!(Written::DecimalComma.parse(v), None, "{v}");
        }
    }

    #[test]
    fn the_dialect_is_told_from_the_decompressed_header_and_numbers() {
        let mut text = String::from("label;\"a;b\";x\n");
        for i in 0..300 {
            text.push_str(&format!("{};{},5;-{}{},25e-3\n", i % 2, i, i % 7, i));
        }
        let plain = dialect_of("t.csv", text.as_bytes());
        assert_eq!((plain.separator, plain.decimal_comma), (b';', true));
        // Compressed: the separator is read from the decompressed header,
        // never from the compressed bytes (which hold `,` `;` `|` by chance).
        let zst = zstd::encode_all(text.as_bytes(), 3).unwrap();
        assert_eq!(dialect_of("t.csv.zst", &zst), plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        assert_eq!(dialect_of("t.csv.gz", &gz.finish().unwrap()), plain);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
        assert_eq!(dialect_of("t.csv.z", &z.finish().unwrap()), plain);
        // Thousands with dots beside decimal commas (`1.065;3,14`).
        let d = dialect_of(
            "k.csv",
            b"label;x;y\n0;1.065;3,14\n1;735;2,5\n0;1.050;1,0\n",
        );
        assert_eq!((d.separator, d.decimal_comma), (b';', true));
        // One number written with a point: the commas are not decimal marks.
        let mixed = text.replacen("1,5", "1.5", 1);
        let d = dialect_of("m.csv", mixed.as_bytes());
        assert_eq!((d.separator, d.decimal_comma), (b';', false));
        // With `,` between fields a comma is never a decimal mark.
        let d = dialect_of("c.csv", b"label,x\n0,1.5\n1,2\n");
        assert_eq!((d.separator, d.decimal_comma), (b',', false));
        // Integers only: no decimal comma to tell.
        let d = dialect_of("i.csv", b"label\tx\n0\t1\n1\t2\n");
        assert_eq!((d.separator, d.decimal_comma), (b'\t', false));
        // A separator inside quotes on the header is not counted.
        let d = dialect_of("q.csv", b"\"a;b;c\",label\n1,0\n");
        assert_eq!(d.separator, b',');
    }
}
