//! Hive-style partition folders: a table written with its rows split by the
//! values of some columns (Spark's `partitionBy`, pyarrow's
//! `write_to_dataset(partition_cols=…)`, Hive, Delta and Iceberg layouts)
//! keeps those columns only in its folder names, `label=3/part-0.parquet`,
//! and not in its files. Read from such a folder, every file's rows get
//! the columns its `key=value` folders name, as Spark and polars read them
//! back: a data set partitioned by its label is scanned like the same rows
//! in one file.
//!
//! Only folders below a folder given as input count (`scan data/` reads
//! `data/label=3/…`; a file passed by name, or matched by a glob, keeps
//! its own columns alone). A value is `%`-decoded (`a%2Fb` is `a/b`) and
//! `__HIVE_DEFAULT_PARTITION__` is a null. A key's column holds whole
//! numbers when every file's value is one, numbers when every value is
//! one, text otherwise. A column the files hold themselves is read from
//! the files. A partition column is the label or the id when named so;
//! it is a feature only when `--features` names it: where a file was
//! stored (a split, a date, a shard) is not what its rows hold.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};

use super::batch::{ColumnKind, TableOptions};
use super::beside::Beside;
use super::{IngestError, Part};

/// How Hive names a null partition value.
const NULL_VALUE: &str = "__HIVE_DEFAULT_PARTITION__";

/// The `key=value` folders of `file` below `root`, outermost first.
pub(super) fn folders(root: &Path, file: &Path) -> Vec<(String, Option<String>)> {
    let Ok(rel) = file.strip_prefix(root) else {
        return Vec::new();
    };
    let Some(parent) = rel.parent() else {
        return Vec::new();
    };
    parent
        .components()
        .filter_map(|c| {
            let c = c.as_os_str().to_str()?;
            let (key, value) = c.split_once('=')?;
            if key.is_empty() {
                return None;
            }
            let value = decode(value);
            Some((decode(key), (value != NULL_VALUE).then_some(value)))
        })
        .collect()
}

/// `%XX` escapes decoded (as Hive escapes `/`, `=`, `%`, `:` and others in
/// partition names); anything that is not a valid escape is kept.
pub(super) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// The partition columns of the files of one read, and every file's values.
#[derive(Debug, Default)]
pub(super) struct Partitions {
    /// The keys, in folder order, with the type of their column.
    keys: Vec<(String, DataType)>,
    /// Per file, the value of every key.
    values: Vec<Vec<Option<String>>>,
    /// Per file, the labels file beside it (`y_train.csv` beside
    /// `X_train.csv`), read as the label column where the file lacks one.
    pub beside: Beside,
}

impl Partitions {
    /// The partitions of `files` (each with its `key=value` folders, see
    /// [`folders`]). Every file of a partitioned read must sit below the
    /// same keys in the same order.
    pub fn new(files: &[Part]) -> Result<Self, IngestError> {
        let Some((first, first_folders)) = files.iter().find(|(_, f)| !f.is_empty()) else {
            return Ok(Self::default());
        };
        let names: Vec<&String> = first_folders.iter().map(|(k, _)| k).collect();
        for (path, f) in files {
            if f.iter().map(|(k, _)| k).ne(names.iter().copied()) {
                let said = |f: &[(String, Option<String>)]| {
                    if f.is_empty() {
                        "no key=value folder".to_string()
                    } else {
                        f.iter()
                            .map(|(k, _)| format!("{k}=…"))
                            .collect::<Vec<_>>()
                            .join("/")
                    }
                };
                return Err(IngestError::Option(format!(
                    "{} sits below {}, {} below {}: the files of a partitioned folder must \
                     sit below the same key=value folders",
                    path.display(),
                    said(f),
                    first.display(),
                    said(first_folders)
                )));
            }
        }
        let values: Vec<Vec<Option<String>>> = files
            .iter()
            .map(|(_, f)| f.iter().map(|(_, v)| v.clone()).collect())
            .collect();
        let keys = names
            .iter()
            .enumerate()
            .map(|(j, k)| {
                let all = |ok: &dyn Fn(&str) -> bool| {
                    values.iter().filter_map(|v| v[j].as_deref()).all(ok)
                };
                let dtype = if all(&|v| v.parse::<i64>().is_ok()) {
                    DataType::Int64
                } else if all(&|v| v.parse::<f64>().is_ok_and(f64::is_finite)) {
                    DataType::Float64
                } else {
                    DataType::Utf8
                };
                (k.to_string(), dtype)
            })
            .collect();
        Ok(Self {
            keys,
            values,
            beside: Beside::default(),
        })
    }

    /// Adds the partition columns file `file` does not hold to its
    /// described columns: the label, the id, and any when the features
    /// are named; and the label column from a labels file beside it, where
    /// it holds none (see [`Beside`]).
    pub fn describe(
        &self,
        file: usize,
        described: &mut Vec<(String, ColumnKind, String)>,
        options: &TableOptions,
    ) -> Result<(), IngestError> {
        for (k, dtype) in &self.keys {
            let named = *k == options.label
                || options.id.as_ref() == Some(k)
                || !options.features.is_empty();
            if !named || described.iter().any(|(n, _, _)| n == k) {
                continue;
            }
            let kind = match dtype {
                DataType::Utf8 => ColumnKind::Text,
                _ => ColumnKind::Numeric,
            };
            described.push((k.clone(), kind, format!("{dtype} (from the folder names)")));
        }
        self.beside.describe(file, described, &options.label)
    }

    /// [`Partitions::extend`] of each of a file's `batches`, in order (the
    /// file holding `rows` rows).
    pub fn extend_each<'s>(
        &'s self,
        (file, path): (usize, &'s Path),
        rows: usize,
        batches: impl Iterator<Item = Result<RecordBatch, IngestError>> + 's,
        wanted: &'s [String],
    ) -> impl Iterator<Item = Result<RecordBatch, IngestError>> + 's {
        let mut at = 0;
        batches.map(move |batch| {
            let batch = batch?;
            at += batch.num_rows();
            let n = (at - batch.num_rows(), rows);
            self.extend((file, path), n, batch, wanted)
        })
    }

    /// `batch` (rows `at..` of file `file`, `path`, which holds `rows`
    /// rows) with the partition columns among `wanted` that it does not
    /// hold, and the label column from the labels file beside it where
    /// [`Partitions::describe`] read one.
    pub fn extend(
        &self,
        (file, path): (usize, &Path),
        (at, rows): (usize, usize),
        batch: RecordBatch,
        wanted: &[String],
    ) -> Result<RecordBatch, IngestError> {
        let n = batch.num_rows();
        let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if let Some((name, labels)) = self.beside.column(file, path, (at, n, rows))? {
            fields.push(Arc::new(Field::new(name, labels.data_type().clone(), true)));
            columns.push(labels);
        }
        for (j, (k, dtype)) in self.keys.iter().enumerate() {
            if !wanted.contains(k) || batch.column_by_name(k).is_some() {
                continue;
            }
            let value = self.values[file][j].as_deref();
            let column: ArrayRef =
                match (value, dtype) {
                    (None, _) => new_null_array(dtype, n),
                    (Some(v), DataType::Int64) => {
                        Arc::new(Int64Array::from_value(v.parse().unwrap_or_default(), n))
                    }
                    (Some(v), DataType::Float64) => Arc::new(Float64Array::from(vec![
                        v.parse::<f64>().unwrap_or(f64::NAN);
                        n
                    ])),
                    (Some(v), _) => Arc::new(StringArray::from(vec![v; n])),
                };
            fields.push(Arc::new(Field::new(k, dtype.clone(), true)));
            columns.push(column);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| IngestError::Option(format!("partition columns: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn folders_below_the_root_name_the_columns() {
        let root = Path::new("/d/out");
        let f = folders(root, Path::new("/d/out/label=3/day=a%2Fb/part-0.parquet"));
        assert_eq!(
            f,
            vec![
                ("label".into(), Some("3".into())),
                ("day".into(), Some("a/b".into()))
            ]
        );
        // above the root, and the file's own name, do not count
        assert!(folders(root, Path::new("/d/out/x=1.parquet")).is_empty());
        assert!(folders(Path::new("/d/k=1/out"), Path::new("/d/k=1/out/p.csv")).is_empty());
        let null = folders(root, Path::new("/d/out/k=__HIVE_DEFAULT_PARTITION__/p.csv"));
        assert_eq!(null, vec![("k".into(), None)]);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%41"), "%zzA");
    }

    #[test]
    fn column_types_come_from_every_file_and_keys_must_agree() {
        let file = |p: &str, kv: &[(&str, Option<&str>)]| {
            (
                PathBuf::from(p),
                kv.iter()
                    .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                    .collect::<Vec<_>>(),
            )
        };
        let p = Partitions::new(&[
            file("a", &[("label", Some("0")), ("w", Some("0.5"))]),
            file("b", &[("label", Some("1")), ("w", None)]),
            file("c", &[("label", Some("x")), ("w", Some("2"))]),
        ])
        .unwrap();
        assert_eq!(
            p.keys,
            vec![
                ("label".into(), DataType::Utf8),
                ("w".into(), DataType::Float64)
            ]
        );
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1, 2]))],
        )
        .unwrap();
        let wanted = vec!["x".to_string(), "label".to_string(), "w".to_string()];
        let b = p
            .extend((1, Path::new("b")), (0, 2), batch, &wanted)
            .unwrap();
        assert_eq!(b.num_columns(), 3);
        assert_eq!(b.column_by_name("w").unwrap().null_count(), 2);
        let label = b.column_by_name("label").unwrap();
        assert_eq!(
            label
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(1),
            "1"
        );
        let err = Partitions::new(&[file("a", &[("label", Some("0"))]), file("b", &[])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("b sits below no key=value folder"), "{err}");
        assert!(Partitions::new(&[file("a", &[]), file("b", &[])])
            .unwrap()
            .keys
            .is_empty());
    }
}
