//! LIBSVM / SVMlight files (`*.libsvm`, `*.svm`, `*.svmlight`, or told by
//! their lines), as the LIBSVM data sets page and scikit-learn's
//! `dump_svmlight_file` write them: a row a line, `label index:value …`,
//! the values left out 0, `qid:…` (ranking groups) and `# …` comments
//! ignored; compressed as a table may be (the LIBSVM page's `.bz2`, gzip,
//! zstd, xz, zip).
//!
//! The rows become a table of number columns `x1`, `x2`, … (named by their
//! index; `x0` first when the file counts from 0) and the label column,
//! named by `--label`; labels are whole numbers (`+1`/`-1` too). A row of
//! several labels (`1,3`, multi-label) or a label that is not a whole
//! number (a regression target) is an error naming the line.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{Field, Schema};

use super::IngestError;

fn svm_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "LIBSVM",
        message: message.into(),
    }
}

/// Whether a file is in LIBSVM format: by its name, or by its first lines
/// (up to five that are not comments), each a number and `index:value`
/// pairs.
pub(super) fn is_svmlight(path: &Path, head: &str) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let named = [".libsvm", ".svm", ".svmlight"].iter().any(|e| {
        name.ends_with(e)
            || [".gz", ".bz2", ".xz", ".zst"]
                .iter()
                .any(|c| name.ends_with(&format!("{e}{c}")))
    });
    if named {
        return true;
    }
    // the head may end inside a line: judge the whole ones
    let whole = head.rsplit_once('\n').map_or("", |(w, _)| w);
    let lines: Vec<&str> = whole
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .take(5)
        .collect();
    let pair = |p: &str| {
        p.split_once(':')
            .is_some_and(|(i, v)| i.parse::<usize>().is_ok() && v.parse::<f64>().is_ok())
    };
    // a label (several, comma-separated, in multi-label files), then pairs;
    // a row may have no pair (all zeros), not all of them
    lines.iter().any(|l| l.contains(':'))
        && lines.iter().all(|l| {
            let mut tokens = l.split_whitespace().peekable();
            let labelled = tokens.peek().is_some_and(|t| {
                !t.contains(':') && t.split(',').all(|v| v.parse::<f64>().is_ok())
            });
            labelled && tokens.skip(1).filter(|t| !t.starts_with("qid:")).all(pair)
        })
}

/// One row: its label and its `(index, value)` pairs.
type Row = (i64, Vec<(u32, f32)>);

fn parse_line(line: &str) -> Result<Row, String> {
    let mut tokens = line.split_whitespace();
    let label = tokens.next().unwrap_or("");
    if label.contains(':') {
        return Err(format!("the row has no label (it begins with `{label}`)"));
    }
    if label.contains(',') {
        return Err(format!(
            "the row has several labels (`{label}`, multi-label data), which is not read"
        ));
    }
    let value: f64 = label
        .parse()
        .map_err(|_| format!("the label `{label}` is not a number"))?;
    if value.fract() != 0.0 || !value.is_finite() {
        return Err(format!(
            "the label `{label}` is not a whole number (a regression target is not classes)"
        ));
    }
    let mut pairs = Vec::new();
    for t in tokens.filter(|t| !t.starts_with("qid:")) {
        let (i, v) = t
            .split_once(':')
            .ok_or_else(|| format!("`{t}` is not `index:value`"))?;
        let i: u32 = i
            .parse()
            .map_err(|_| format!("`{t}`: the index is not a whole number (below 2³²)"))?;
        let v: f32 = v
            .parse()
            .map_err(|_| format!("`{t}`: the value is not a number"))?;
        pairs.push((i, v));
    }
    Ok((value as i64, pairs))
}

/// Reads a LIBSVM file into a table (see the module docs), its labels in
/// the column `label`.
pub(super) fn read(path: &Path, label: &str) -> Result<RecordBatch, IngestError> {
    let mut rows: Vec<Row> = Vec::new();
    for (n, line) in super::text_lines(path)?.enumerate() {
        let line = line.map_err(|e| svm_error(path, format!("line {}: not text: {e}", n + 1)))?;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let row = parse_line(line).map_err(|e| svm_error(path, format!("line {}: {e}", n + 1)))?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(IngestError::Empty(format!(
            "{} has no rows",
            path.display()
        )));
    }
    let indices = rows
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(i, _)| i as usize));
    let (first, last) = indices.fold((usize::MAX, 0), |(lo, hi), i| (lo.min(i), hi.max(i)));
    if first == usize::MAX {
        return Err(svm_error(path, "no row has a feature (`index:value`)"));
    }
    // counted from 1, as LIBSVM writes, unless an index 0 says otherwise
    let base = first.min(1);
    let dims = last + 1 - base;
    super::check_fits(rows.len(), dims, &path.display().to_string())?;
    let mut columns = vec![vec![0f32; rows.len()]; dims];
    for (r, (_, pairs)) in rows.iter().enumerate() {
        for &(i, v) in pairs {
            columns[i as usize - base][r] = v;
        }
    }
    let mut fields = vec![Field::new(label, arrow::datatypes::DataType::Int64, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
        rows.iter().map(|(l, _)| *l),
    ))];
    for (j, column) in columns.into_iter().enumerate() {
        fields.push(Field::new(
            format!("x{}", j + base),
            arrow::datatypes::DataType::Float32,
            false,
        ));
        arrays.push(Arc::new(Float32Array::from(column)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| svm_error(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    fn read_text(text: &str) -> Result<RecordBatch, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a9a");
        std::fs::write(&path, text).unwrap();
        read(&path, "label")
    }

    #[test]
    fn a_libsvm_file_is_a_table_of_its_indices() {
        let text = "# written by hand\n+1 1:0.5 3:-1 # a comment\n-1 qid:2 2:2\n\n+1 3:4e-1\n";
        assert!(is_svmlight(Path::new("a9a"), text));
        // a row of zeros has no pair; multi-label files are told too (and
        // refused when read)
        assert!(is_svmlight(
            Path::new("t.txt"),
            "1.0 3:2.5\n2.0   # zeros\n"
        ));
        assert!(is_svmlight(Path::new("t.txt"), "1,0 2:2.5\n2 5:1\n"));
        let b = read_text(text).unwrap();
        let names: Vec<&str> = b
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["label", "x1", "x2", "x3"]);
        let labels = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(labels.values().to_vec(), [1, -1, 1]);
        let x3 = b.column(3).as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(x3.values().to_vec(), [-1.0, 0.0, 0.4]);
        // counted from 0
        let b = read_text("0 0:1 2:3\n1 1:2\n").unwrap();
        assert_eq!(b.schema_ref().field(1).name(), "x0");
        assert_eq!(b.num_columns(), 4);
    }

    #[test]
    fn other_text_is_not_libsvm_and_bad_rows_are_named() {
        assert!(!is_svmlight(Path::new("t.txt"), "a,b,c\n1,2,3\n"));
        assert!(!is_svmlight(Path::new("t.txt"), "1 2 3\n4 5 6\n"));
        let e = |text: &str| read_text(text).unwrap_err().to_string();
        assert!(e("1 1:2\n0.5 1:3\n").contains("line 2: the label `0.5` is not a whole number"));
        assert!(e("1,3 1:2\n").contains("multi-label"));
        assert!(e("1 1:x\n").contains("the value is not a number"));
        assert!(e("1 a:1\n").contains("the index is not a whole number"));
        assert!(e("1 1:2\n 2:3\n").contains("line 2: the row has no label"));
        assert!(e("# nothing\n").contains("no rows"));
    }
}
