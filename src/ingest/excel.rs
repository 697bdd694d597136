//! Spreadsheets: Excel workbooks (`.xlsx`, `.xlsm`, `.xlsb`, the older
//! `.xls`) and OpenDocument (`.ods`), read by the pure-Rust `calamine`
//! crate, as pandas's `read_excel` reads them: the first sheet that has the
//! label's column, else the first (a note names the others), its first row
//! the column names, each formula's saved value.
//!
//! A column of numbers (cells `NA`, `N/A`, `#N/A`, empty — the missing
//! values a CSV may hold — and error cells such as `#DIV/0!` missing) is a
//! number column; a column of `TRUE`/`FALSE` a boolean one; any other text
//! makes it a text column (its numbers written out: a label column of
//! `cat`, `2`). Dates and times are left out with a note.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray};
use arrow::record_batch::RecordBatch;
use calamine::{Data, Reader};

use super::IngestError;

fn excel_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "spreadsheet",
        message: message.into(),
    }
}

/// A cell's text, for a text column and for names.
fn text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty | Data::Error(_) => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        other => Some(other.to_string()),
    }
}

/// A missing value written as text (see [`super::table::MISSING`]).
fn missing(s: &str) -> bool {
    super::table::MISSING.contains(&s.trim())
}

/// Column names as pandas gives them: `Unnamed: j` for an empty one, `x.1`
/// for a second `x`.
fn names(header: &[Data]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (j, cell) in header.iter().enumerate() {
        let base = text(cell).unwrap_or_else(|| format!("Unnamed: {j}"));
        let mut name = base.clone();
        let mut k = 0;
        while names.contains(&name) {
            k += 1;
            name = format!("{base}.{k}");
        }
        names.push(name);
    }
    names
}

/// A spreadsheet's sheet as a table: the first sheet whose columns hold
/// `label` — a workbook often opens with a sheet that describes the data —
/// else the first, as pandas's `read_excel` reads it.
pub(super) fn read(
    path: &Path,
    label: &str,
    notes: &mut Vec<String>,
) -> Result<RecordBatch, IngestError> {
    let mut book = calamine::open_workbook_auto(path)
        .map_err(|e| excel_error(path, format!("it cannot be read (damaged?): {e}")))?;
    let sheets = book.sheet_names();
    if sheets.is_empty() {
        return Err(excel_error(path, "the workbook has no sheet"));
    }
    let range = |book: &mut calamine::Sheets<_>, sheet: &str| {
        book.worksheet_range(sheet)
            .map_err(|e| excel_error(path, format!("sheet `{sheet}` cannot be read: {e}")))
    };
    let mut looked = Vec::new();
    let mut chosen = None;
    for sheet in &sheets {
        // a sheet that is no table (a chart sheet) is passed over here
        let Ok(r) = range(&mut book, sheet) else {
            looked.push((sheet.clone(), Vec::new()));
            continue;
        };
        let columns = r.rows().next().map(names).unwrap_or_default();
        if columns.iter().any(|c| c == label) || sheets.len() == 1 {
            // a workbook of one sheet is read as it is (the label's
            // absence is told with its columns, as for any table)
            chosen = Some((sheet.clone(), r));
            break;
        }
        looked.push((sheet.clone(), columns));
    }
    let (sheet, range) = match chosen {
        Some(found) => found,
        None if sheets.len() > 1 => {
            let each: Vec<String> = looked
                .iter()
                .map(|(s, c)| format!("`{s}`: {}", super::error::listed(c)))
                .collect();
            return Err(excel_error(
                path,
                format!(
                    "no sheet has a column `{label}` ({}); pass --label with the label's column",
                    each.join("; ")
                ),
            ));
        }
        None => {
            let first = sheets[0].clone();
            let r = range(&mut book, &first)?;
            (first, r)
        }
    };
    if sheets.len() > 1 {
        let others: Vec<&String> = sheets.iter().filter(|s| **s != sheet).collect();
        let which = if sheet == sheets[0] {
            format!("the first sheet, `{sheet}`")
        } else {
            format!("sheet `{sheet}`, the first with a column `{label}`")
        };
        notes.push(format!(
            "{}: read {which}; the workbook also holds {} (save the one to scan \
             as its own file to choose another)",
            path.display(),
            super::batch::quoted(others)
        ));
    }
    let mut rows = range.rows();
    let Some(header) = rows.next() else {
        return Err(excel_error(path, format!("sheet `{sheet}` is empty")));
    };
    let names = names(header);
    let data: Vec<&[Data]> = rows.collect();
    let cell = |r: usize, j: usize| data[r].get(j).unwrap_or(&Data::Empty);
    let mut columns: Vec<(String, ArrayRef, bool)> = Vec::new();
    let mut dates = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let cells = || (0..data.len()).map(|r| cell(r, j));
        let present = || cells().filter(|c| !matches!(c, Data::Empty | Data::Error(_)));
        if present().count() == 0 && name.starts_with("Unnamed: ") {
            continue;
        }
        let is_date = |c: &Data| {
            matches!(
                c,
                Data::DateTime(_) | Data::DateTimeIso(_) | Data::DurationIso(_)
            )
        };
        if present().next().is_some() && present().all(is_date) {
            dates.push(format!("`{name}`"));
            continue;
        }
        let numeric = present().all(|c| match c {
            Data::Int(_) | Data::Float(_) => true,
            Data::String(s) => missing(s),
            _ => false,
        });
        let boolean = present().all(|c| matches!(c, Data::Bool(_)));
        let array: ArrayRef = if boolean {
            let v: BooleanArray = cells()
                .map(|c| match c {
                    Data::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect();
            Arc::new(v)
        } else if numeric {
            let v: Float64Array = cells()
                .map(|c| match c {
                    Data::Int(i) => Some(*i as f64),
                    Data::Float(f) => Some(*f),
                    _ => None,
                })
                .collect();
            Arc::new(v)
        } else {
            let v: StringArray = cells().map(|c| text(c).filter(|s| !missing(s))).collect();
            Arc::new(v)
        };
        columns.push((name.clone(), array, true));
    }
    if !dates.is_empty() {
        notes.push(format!(
            "{}: column(s) {} left out (dates and times are not features)",
            path.display(),
            dates.join(", ")
        ));
    }
    if columns.is_empty() {
        return Err(excel_error(
            path,
            format!("sheet `{sheet}` has no column of numbers or text"),
        ));
    }
    RecordBatch::try_from_iter_with_nullable(columns).map_err(|e| excel_error(path, e.to_string()))
}
