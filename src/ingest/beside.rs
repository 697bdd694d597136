//! Labels saved beside their features in a file of their own: scikit-learn
//! splits written out as `X_train.csv` and `y_train.csv` (`pd.DataFrame(X)
//! .to_csv(…)`, `pd.Series(y).to_csv(…)`, `np.savetxt`), Kaggle's
//! `train_data.csv` with `train_labels.csv`, `features.parquet` with
//! `labels.parquet` (the name pairs of [`super::npz::labels_beside`]). A
//! features file without the label column is read with the labels file
//! beside it as that column, row for row, as `.npy` pairs are; a labels
//! file given too (a folder holding both halves) is not read as rows of
//! its own.
//!
//! The labels file holds one column (or a pandas index and one column, or
//! a column named as `--label`), with a header line or without one:
//! `np.savetxt` writes none, pandas writes the column's name (`0` for an
//! unnamed series). Where the first value could be either, the counts
//! decide: a labels file holding one value more than its features file has
//! rows has a header. Any other count is an error naming both files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polars::prelude::DataType as PolarsType;

use super::batch::ColumnKind;
use super::{IngestError, InputFormat, Part};

/// Whether a labels file's first value names its column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Header {
    Yes,
    No,
    /// Told by the counts (see the module's docs).
    Maybe,
}

/// The labels read from a file beside a features file.
#[derive(Debug)]
struct Labels {
    path: PathBuf,
    /// The label column's name (`--label`).
    name: String,
    /// Every value, typed (see [`dtype_of`]), the header line's too, if
    /// any; a batch's labels are a slice of it.
    column: ArrayRef,
    header: Header,
}

impl Labels {
    /// Values of a header line, if any, skipped: 1 or 0, where the
    /// features file holding `rows` rows beside it tells.
    fn skipped(&self, features: &Path, rows: usize) -> Result<usize, IngestError> {
        let n = self.column.len();
        match self.header {
            Header::Yes | Header::Maybe if n == rows + 1 => Ok(1),
            Header::No | Header::Maybe if n == rows => Ok(0),
            header => Err(IngestError::Option(format!(
                "{} holds {} labels and {} holds {rows} rows: a features file and the labels \
                 file beside it must hold the same rows, in the same order",
                self.path.display(),
                n - usize::from(header == Header::Yes),
                features.display()
            ))),
        }
    }
}

/// The labels files beside the features files of one read (by file, in the
/// read's order), read when a file is found to lack the label column.
#[derive(Debug, Default)]
pub(super) struct Beside {
    files: Vec<Option<PathBuf>>,
    /// Labels files given as inputs too, read as labels only.
    given: Vec<PathBuf>,
    read: Mutex<Vec<Option<Arc<Labels>>>>,
}

/// The files of a read with the labels half of every pair left out of them
/// (see the module's docs), and each file's labels file beside it.
pub(super) fn pair(parts: Vec<Part>) -> (Vec<Part>, Beside) {
    let paths: Vec<PathBuf> = parts.iter().map(|(p, _)| p.clone()).collect();
    let beside: Vec<Option<PathBuf>> = paths.iter().map(|p| super::npz::labels_beside(p)).collect();
    let given: Vec<PathBuf> = beside
        .iter()
        .flatten()
        .filter(|q| paths.contains(q))
        .cloned()
        .collect();
    let (kept, files): (Vec<Part>, Vec<Option<PathBuf>>) = parts
        .into_iter()
        .zip(beside)
        .filter(|((p, _), _)| !given.contains(p))
        .unzip();
    let read = Mutex::new(vec![None; files.len()]);
    (kept, Beside { files, given, read })
}

impl Beside {
    /// Whether file `file` has a labels file beside it.
    pub fn has(&self, file: usize) -> bool {
        self.files.get(file).is_some_and(Option::is_some)
    }

    /// Adds the label column to the described columns of file `file`
    /// where the file lacks it and a labels file is beside it (read here).
    pub fn describe(
        &self,
        file: usize,
        described: &mut Vec<(String, ColumnKind, String)>,
        label: &str,
    ) -> Result<(), IngestError> {
        let Some(Some(path)) = self.files.get(file) else {
            return Ok(());
        };
        if described.iter().any(|(n, _, _)| n == label) {
            return Ok(());
        }
        let labels = read(path, label)?;
        let kind = match labels.column.data_type() {
            DataType::Utf8 => ColumnKind::Text,
            _ => ColumnKind::Numeric,
        };
        described.push((
            label.to_string(),
            kind,
            format!("{} (from {})", labels.column.data_type(), path.display()),
        ));
        self.read.lock().expect("not poisoned")[file] = Some(Arc::new(labels));
        Ok(())
    }

    /// The label column, its name and values, of rows `at..at + n` of
    /// file `file` (`path`, holding `rows` rows), where its labels come
    /// from the file beside it.
    pub fn column(
        &self,
        file: usize,
        path: &Path,
        (at, n, rows): (usize, usize, usize),
    ) -> Result<Option<(String, ArrayRef)>, IngestError> {
        let read = self.read.lock().expect("not poisoned");
        let Some(Some(labels)) = read.get(file).cloned() else {
            return Ok(None);
        };
        let from = labels.skipped(path, rows)? + at;
        Ok(Some((labels.name.clone(), labels.column.slice(from, n))))
    }

    /// What was read beside the files: a note for every labels file read,
    /// and for every one given that was not (its features file holds its
    /// own label column).
    pub fn notes(&self, paths: &[PathBuf], label: &str) -> Vec<String> {
        let read = self.read.lock().expect("not poisoned");
        let mut notes = Vec::new();
        for (file, labels) in read.iter().enumerate() {
            if let Some(labels) = labels {
                notes.push(format!(
                    "the labels of {} read from {} beside it (column `{label}`)",
                    paths[file].display(),
                    labels.path.display()
                ));
            }
        }
        for q in &self.given {
            let used = read.iter().flatten().any(|l| l.path == *q);
            if !used {
                let of = self.files.iter().position(|f| f.as_ref() == Some(q));
                notes.push(format!(
                    "left out {}: {} beside it holds its own label column `{label}`",
                    q.display(),
                    of.map_or_else(String::new, |i| paths[i].display().to_string())
                ));
            }
        }
        notes
    }
}

/// The type of labels written as `values`: whole numbers, numbers, or
/// text; an empty value is a missing label.
fn dtype_of<'a>(values: impl Iterator<Item = &'a Option<String>>) -> DataType {
    let (mut whole, mut number) = (true, true);
    for v in values.flatten().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        whole &= v.parse::<i64>().is_ok();
        number &= v.parse::<f64>().is_ok_and(f64::is_finite);
        if !number {
            return DataType::Utf8;
        }
    }
    if whole {
        DataType::Int64
    } else {
        DataType::Float64
    }
}

/// Names pandas gives the index column it writes.
const INDEX_NAMES: [&str; 4] = ["", "Unnamed: 0", "index", "__index_level_0__"];

/// Reads the labels file `path` (see the module's docs).
fn read(path: &Path, label: &str) -> Result<Labels, IngestError> {
    let format = InputFormat::detect(path)
        .filter(|f| {
            matches!(
                f,
                InputFormat::Csv | InputFormat::Parquet | InputFormat::Ipc | InputFormat::Ndjson
            )
        })
        .ok_or_else(|| {
            IngestError::Option(format!(
                "{} looks to hold the labels of the features file beside it, but labels are \
                 read beside a table only from a CSV, Parquet, Arrow or NDJSON file: save them \
                 as one (pandas: pd.Series(y).to_csv(\"{}\", index=False))",
                path.display(),
                path.with_extension("csv").display()
            ))
        })?;
    // a delimited file is read without a header, which is told by its values
    let text = format == InputFormat::Csv;
    let (names, columns) = match format {
        InputFormat::Parquet => parquet_strings(path)?,
        _ => polars_strings(path, format, text)?,
    };
    let index = names.iter().position(|n| INDEX_NAMES.contains(&n.as_str()));
    let (j, named) = match (names.iter().position(|n| n == label), columns.len(), index) {
        (_, 0, _) => {
            return Err(IngestError::Empty(format!(
                "{} has no columns",
                path.display()
            )))
        }
        (Some(j), _, _) => (j, true),
        (None, 1, _) => (0, false),
        // a pandas index beside one column
        (None, 2, Some(i)) => (1 - i, true),
        (None, n, _) => {
            return Err(IngestError::Option(format!(
                "{} looks to hold the labels of the features file beside it, but it holds {n} \
                 columns ({}) and none is named `{label}`: name the labels' column with --label",
                path.display(),
                super::batch::quoted(&names)
            )))
        }
    };
    let values = columns.into_iter().nth(j).expect("a column");
    let header = match (text, named) {
        (false, _) => Header::No,
        (true, true) => Header::Yes,
        // a first value that is text above numbers names the column
        (true, false) => {
            let rest = dtype_of(values.iter().skip(1));
            if rest != DataType::Utf8 && dtype_of(values.iter().take(1)) == DataType::Utf8 {
                Header::Yes
            } else {
                Header::Maybe
            }
        }
    };
    let dtype = dtype_of(values.iter().skip(usize::from(header != Header::No)));
    // a lone first value that is not of the others' type, where the counts
    // say it is a label, makes the column text
    let dtype = match header {
        Header::Maybe if dtype_of(values.iter().take(1)) == DataType::Utf8 => DataType::Utf8,
        _ => dtype,
    };
    let values = values.iter().map(Option::as_deref);
    let column: ArrayRef = match dtype {
        DataType::Int64 => Arc::new(
            values
                .map(|v| v.and_then(|v| v.trim().parse::<i64>().ok()))
                .collect::<Int64Array>(),
        ),
        DataType::Float64 => Arc::new(
            values
                .map(|v| v.and_then(|v| v.trim().parse::<f64>().ok()))
                .collect::<Float64Array>(),
        ),
        _ => Arc::new(values.collect::<StringArray>()),
    };
    Ok(Labels {
        path: path.to_path_buf(),
        name: label.to_string(),
        column,
        header,
    })
}

/// Every column of a file: names and values, as text.
type Strings = (Vec<String>, Vec<Vec<Option<String>>>);

/// A CSV, Arrow or NDJSON file's columns as text; a CSV file's names are
/// its first line's values (`header` false: read as a row).
fn polars_strings(path: &Path, format: InputFormat, header: bool) -> Result<Strings, IngestError> {
    let error = |e: polars::prelude::PolarsError| IngestError::Read {
        path: path.to_path_buf(),
        format: format.name(),
        message: e.to_string(),
    };
    let (lf, _) = super::table::scan(path, format, None, !header).map_err(error)?;
    let df = lf.collect().map_err(error)?;
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for c in df.columns() {
        let c = c.cast(&PolarsType::String).map_err(error)?;
        let values: Vec<Option<String>> = c
            .str()
            .map_err(error)?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect();
        names.push(match header {
            true => values.first().cloned().flatten().unwrap_or_default(),
            false => c.name().to_string(),
        });
        columns.push(values);
    }
    Ok((names, columns))
}

/// A Parquet file's columns as text.
fn parquet_strings(path: &Path) -> Result<Strings, IngestError> {
    let error = |e: &dyn std::fmt::Display| IngestError::Read {
        path: path.to_path_buf(),
        format: InputFormat::Parquet.name(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| error(&e))?;
    let schema = arrow::array::RecordBatchReader::schema(&reader);
    let names = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut columns = vec![Vec::new(); schema.fields().len()];
    for batch in reader {
        let batch = batch.map_err(|e| error(&e))?;
        for (values, c) in columns.iter_mut().zip(batch.columns()) {
            let c = arrow::compute::cast(c, &DataType::Utf8).map_err(|e| error(&e))?;
            values.extend(c.as_string::<i32>().iter().map(|v| v.map(str::to_string)));
        }
    }
    Ok((names, columns))
}
