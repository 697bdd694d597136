//! pandas's HDF5 store (`DataFrame.to_hdf`, `pd.HDFStore`): an HDF5 file
//! whose frames are groups written by PyTables, read as tables with their
//! column names — the label a column named by `--label`, as in a CSV.
//!
//! - `format="fixed"` (pandas's default; group attribute `pandas_type` =
//!   `frame`): the column names in `axis0`, and the columns in blocks, one
//!   per dtype — `block{i}_items` names a block's columns, `block{i}_values`
//!   holds them, rows by columns. Text columns are a block of Python
//!   objects, which PyTables pickles; they are read by [`super::pickle`],
//!   which builds the values and runs nothing.
//! - `format="table"` (`frame_table`): one compound dataset `table`, a
//!   field per block of columns (`values_block_{i}`, its column names a
//!   pickled list in the attribute `values_block_{i}_kind`) or per data
//!   column (named by it); text in fixed-width bytes, a missing value as
//!   the store's `nan_rep` (`nan`).
//!
//! The frame's index (pandas's row labels) is not read. Categorical
//! columns (table format) are read as their categories' text; dates and
//! times are left out with a note. A store of several
//! frames is read for its training frame (a key named `train…`), or is an
//! error naming them.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::record_batch::RecordBatch;
use hdf5_reader::group::Group;
use hdf5_reader::{Dataset, Datatype, StringSize};

use super::h5::{self, h5_error};
use super::npz::{items_in_c_order, typed_values};
use super::pickle::{self, Value};
use super::IngestError;

/// A frame of the store: its key (the group's path) and group.
struct Frame {
    key: String,
    group: Group,
    table: bool,
}

/// The frames of a store, in file order.
fn frames(
    group: &Group,
    prefix: &str,
    depth: usize,
    out: &mut Vec<Frame>,
) -> Result<(), hdf5_reader::error::Error> {
    for g in group.groups()? {
        let key = format!("{prefix}{}", g.name());
        let kind = g
            .attribute("pandas_type")
            .and_then(|a| a.read_string())
            .ok();
        match kind.as_deref() {
            Some(k @ ("frame" | "frame_table")) => {
                let table = k == "frame_table";
                out.push(Frame {
                    key,
                    group: g,
                    table,
                })
            }
            // a Series, a Panel: not a table; its own groups hold no frame
            Some(_) => {}
            None if depth < h5::MAX_DEPTH => frames(&g, &format!("{key}/"), depth + 1, out)?,
            None => {}
        }
    }
    Ok(())
}

/// A pickled PyTables attribute (protocol 0 text).
fn pickled(
    group_or_set: Result<hdf5_reader::Attribute, hdf5_reader::error::Error>,
) -> Option<Value> {
    let text = group_or_set.ok()?.read_string().ok()?;
    pickle::read(text.as_bytes()).ok()
}

/// A pandas store read as a table, or `None` where the HDF5 file holds no
/// pandas frame (it is then read as arrays, [`super::h5`]).
pub(super) fn read(
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<Option<RecordBatch>, IngestError> {
    let file = h5::open(path)?;
    let bad = h5::damaged(path);
    let mut found = Vec::new();
    frames(&file.root_group().map_err(&bad)?, "", 0, &mut found).map_err(&bad)?;
    let frame = match found.len() {
        0 => return Ok(None),
        1 => found.remove(0),
        _ => {
            let keys: Vec<&str> = found.iter().map(|f| f.key.as_str()).collect();
            let train = found.iter().position(|f| {
                let own = f.key.rsplit('/').next().unwrap_or(&f.key);
                own.to_ascii_lowercase().starts_with("train")
            });
            let Some(t) = train else {
                return Err(h5_error(
                    path,
                    format!(
                        "a pandas store of several frames ({}); save the one to scan on its \
                         own, e.g. pd.read_hdf(FILE, KEY).to_parquet(\"data.parquet\")",
                        keys.join(", ")
                    ),
                ));
            };
            notes.push(format!(
                "{}: read the pandas frame `{}`, the training one of {}",
                path.display(),
                found[t].key,
                keys.join(", ")
            ));
            found.swap_remove(t)
        }
    };
    let within = |e: String| h5_error(path, format!("frame `{}`: {e}", frame.key));
    let mut left_out = Vec::new();
    let columns = if frame.table {
        table_columns(&frame.group, &mut left_out)
    } else {
        fixed_columns(&frame.group, &mut left_out)
    }
    .map_err(within)?;
    if !left_out.is_empty() {
        notes.push(format!(
            "{}: column(s) {} of the pandas frame `{}` left out (dates and times are not \
             features)",
            path.display(),
            left_out.join(", "),
            frame.key
        ));
    }
    super::frame::frame_batch(columns).map(Some).map_err(within)
}

/// One column's values out of `raw`: `rows` values of `width` bytes, row
/// `r`'s at byte `at(r)`; `None` where one lies past the end.
fn gather(raw: &[u8], rows: usize, width: usize, at: impl Fn(usize) -> usize) -> Option<Vec<u8>> {
    let mut column = Vec::with_capacity(rows * width);
    for r in 0..rows {
        let start = at(r);
        column.extend_from_slice(raw.get(start..start.checked_add(width)?)?);
    }
    Some(column)
}

/// The type code and width of a numeric HDF5 type, booleans (PyTables's
/// one-byte bit field) included.
fn number_type(dtype: &Datatype) -> Option<(&'static str, usize)> {
    match dtype {
        Datatype::Bitfield { size: 1, .. } => Some(("b", 1)),
        other => h5::numeric_type(other),
    }
}

/// Whether a column of this NumPy dtype (`datetime64[ns]`) is left out.
fn left_out_kind(kind: &str) -> bool {
    kind.starts_with("datetime64") || kind.starts_with("timedelta64")
}

/// The shape and items (in C order) of a pickled NumPy object array,
/// stored as PyTables stores an object array: one variable-length sequence
/// of bytes.
fn object_items(set: &Dataset) -> Result<(Vec<usize>, Vec<Value>), String> {
    let reference = set.read_raw_bytes().map_err(|e| e.to_string())?;
    let width = set.vlen_reference_size();
    if reference.len() != width {
        return Err(format!(
            "`{}`: a sequence of {} objects, not one pickled array",
            set.name(),
            reference.len() / width.max(1)
        ));
    }
    let bytes = set
        .resolve_vlen_reference_bytes(&reference, 1)
        .map_err(|e| e.to_string())?;
    let value = pickle::read(&bytes).map_err(|e| format!("`{}`: {e}", set.name()))?;
    value
        .ndarray()
        .and_then(|a| Some((items_in_c_order(&a)?, a.shape)))
        .map(|(items, shape)| (shape, items))
        .ok_or_else(|| {
            format!(
                "`{}`: a pickle that is not a NumPy array of objects",
                set.name()
            )
        })
}

/// Column or index names: text, numbers, or a pickled object array.
fn names_of(set: &Dataset) -> Result<Vec<String>, String> {
    match set.dtype() {
        Datatype::VarLen { .. } if set.attribute("PSEUDOATOM").is_ok() => {
            let (_, items) = object_items(set)?;
            items
                .iter()
                .map(|v| v.as_text())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("`{}`: names that are not text or numbers", set.name()))
        }
        dtype => {
            if let Some((code, width)) = number_type(dtype) {
                let raw = set.read_native_bytes().map_err(|e| e.to_string())?;
                let a = typed_values(code, width, cfg!(target_endian = "big"), &raw)
                    .ok_or_else(|| format!("`{}`: names of {width} bytes", set.name()))?;
                let text = arrow::compute::cast(&a, &arrow::datatypes::DataType::Utf8)
                    .map_err(|e| e.to_string())?;
                let text = text.as_any().downcast_ref::<StringArray>().expect("text");
                Ok(text
                    .iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect())
            } else {
                set.read_strings().map_err(|e| e.to_string())
            }
        }
    }
}

/// Text values as a column, `None` and NaN missing (pandas's missing
/// text), numbers in an object column written out.
fn text_column(items: impl Iterator<Item = Value>) -> ArrayRef {
    let text: StringArray = items.map(|v| v.text_cell()).collect();
    Arc::new(text)
}

/// A fixed-format frame's columns, in its columns' order.
fn fixed_columns(
    group: &Group,
    left_out: &mut Vec<String>,
) -> Result<Vec<(String, ArrayRef)>, String> {
    let set = |name: &str| group.dataset(name).map_err(|e| format!("`{name}`: {e}"));
    let order = names_of(&set("axis0")?)?;
    let rows = set("axis1")?.shape().first().copied().unwrap_or(0) as usize;
    let mut by_name: std::collections::HashMap<String, ArrayRef> = Default::default();
    for b in 0.. {
        let Ok(items) = group.dataset(&format!("block{b}_items")) else {
            break;
        };
        let names = names_of(&items)?;
        let k = names.len();
        let values = set(&format!("block{b}_values"))?;
        let kind = values
            .attribute("value_type")
            .and_then(|a| a.read_string())
            .unwrap_or_default();
        if left_out_kind(&kind) {
            left_out.extend(names.iter().map(|n| format!("`{n}` ({kind})")));
            continue;
        }
        let shape: Vec<usize> = values.shape().iter().map(|&d| d as usize).collect();
        // the block's value at (row, column) for either layout
        let layout = |shape: &[usize]| -> Result<bool, String> {
            match shape {
                [n] if *n == rows && k == 1 => Ok(true),
                [n, c] if *n == rows && *c == k => Ok(true),
                [c, n] if *n == rows && *c == k => Ok(false),
                _ => Err(format!(
                    "`block{b}_values` is {shape:?}, not {rows} rows of {k} columns"
                )),
            }
        };
        if let Some((code, width)) = number_type(values.dtype()) {
            let rows_first = layout(&shape)?;
            let raw = values.read_native_bytes().map_err(|e| e.to_string())?;
            for (j, name) in names.iter().enumerate() {
                let at = |r: usize| if rows_first { r * k + j } else { j * rows + r } * width;
                let a = gather(&raw, rows, width, at)
                    .and_then(|c| typed_values(code, width, cfg!(target_endian = "big"), &c))
                    .ok_or_else(|| format!("`{name}`: numbers of {width} bytes"))?;
                by_name.insert(name.clone(), a);
            }
        } else if values.attribute("PSEUDOATOM").is_ok() {
            let (shape, items) = object_items(&values)?;
            let rows_first = layout(&shape)?;
            // item (a, b) in C order, the last index fastest
            let index = |r: usize, j: usize| if rows_first { r * k + j } else { j * rows + r };
            for (j, name) in names.iter().enumerate() {
                let column =
                    (0..rows).map(|r| items.get(index(r, j)).cloned().unwrap_or(Value::None));
                by_name.insert(name.clone(), text_column(column));
            }
        } else {
            left_out.extend(names.iter().map(|n| format!("`{n}`")));
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|n| by_name.remove(&n).map(|a| (n, a)))
        .collect())
}

/// A PyTables table's records: its fields and their bytes.
struct Records {
    fields: Vec<hdf5_reader::CompoundField>,
    rows: usize,
    record: usize,
    raw: Vec<u8>,
}

impl Records {
    fn read(table: &Dataset) -> Result<Self, String> {
        let Datatype::Compound { size, fields } = table.dtype().clone() else {
            return Err(format!("`{}` is not a table of records", table.name()));
        };
        let rows = table.shape().first().copied().unwrap_or(0) as usize;
        let record = size as usize;
        let raw = table.read_native_bytes().map_err(|e| e.to_string())?;
        if raw.len() < rows * record {
            return Err(format!("`{}` is shorter than its rows", table.name()));
        }
        Ok(Self {
            fields,
            rows,
            record,
            raw,
        })
    }

    /// The columns a field holds (one, or a block's `k`), text equal to
    /// `nan_rep` missing.
    fn columns(
        &self,
        field: &hdf5_reader::CompoundField,
        nan_rep: &str,
    ) -> Result<Vec<ArrayRef>, String> {
        let (base, k) = match &field.datatype {
            Datatype::Array { base, dims } => {
                (base.as_ref(), dims.iter().product::<u64>() as usize)
            }
            other => (other, 1),
        };
        let (code, width) = match base {
            Datatype::String {
                size: StringSize::Fixed(w),
                ..
            } => ("S", *w as usize),
            other => number_type(other).ok_or_else(|| {
                format!(
                    "field `{}`: values that are not numbers or text",
                    field.name
                )
            })?,
        };
        (0..k)
            .map(|j| {
                let at = |r: usize| r * self.record + field.byte_offset as usize + j * width;
                let column = gather(&self.raw, self.rows, width, at)
                    .ok_or_else(|| format!("field `{}` runs past its record", field.name))?;
                let a = typed_values(code, width, cfg!(target_endian = "big"), &column)
                    .ok_or_else(|| format!("field `{}`: values of {width} bytes", field.name))?;
                if code != "S" {
                    return Ok(a);
                }
                let text = a.as_any().downcast_ref::<StringArray>().expect("text");
                let text: StringArray = text.iter().map(|s| s.filter(|s| *s != nan_rep)).collect();
                Ok(Arc::new(text) as ArrayRef)
            })
            .collect()
    }
}

/// A categorical column: its codes (`-1` missing) as the categories'
/// text, the categories read from the table pandas keeps beside the frame
/// (`meta/{field}/meta/table`).
fn categories(
    group: &Group,
    field: &str,
    codes: &ArrayRef,
    nan_rep: &str,
) -> Result<ArrayRef, String> {
    let table = group
        .group("meta")
        .and_then(|g| g.group(field))
        .and_then(|g| g.group("meta"))
        .and_then(|g| g.dataset("table"))
        .map_err(|e| format!("the categories of `{field}`: {e}"))?;
    let records = Records::read(&table)?;
    let values = records
        .fields
        .iter()
        .find(|f| f.name == "values")
        .ok_or_else(|| format!("the categories of `{field}` have no values"))?;
    let names = arrow::compute::cast(
        &records.columns(values, nan_rep)?.remove(0),
        &arrow::datatypes::DataType::Utf8,
    )
    .map_err(|e| e.to_string())?;
    let names = names.as_any().downcast_ref::<StringArray>().expect("text");
    let names: Vec<String> = names
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect();
    super::frame::category_text(&names, codes).map_err(|e| format!("`{field}` has {e}"))
}

/// A table-format frame's columns, in its columns' order.
fn table_columns(
    group: &Group,
    left_out: &mut Vec<String>,
) -> Result<Vec<(String, ArrayRef)>, String> {
    let table = group
        .dataset("table")
        .map_err(|e| format!("`table`: {e}"))?;
    let records = Records::read(&table)?;
    let nan_rep = pickled(group.attribute("nan_rep"))
        .and_then(|v| v.as_text())
        .unwrap_or_else(|| "nan".into());
    let mut columns = Vec::new();
    for field in records.fields.iter().filter(|f| f.name != "index") {
        let attr = |what: &str| table.attribute(&format!("{}_{what}", field.name));
        let names = pickled(attr("kind"))
            .and_then(|v| v.names())
            .unwrap_or_else(|| vec![field.name.clone()]);
        let kind = attr("dtype")
            .and_then(|a| a.read_string())
            .unwrap_or_default();
        if left_out_kind(&kind) {
            left_out.extend(names.iter().map(|n| format!("`{n}` ({kind})")));
            continue;
        }
        let mut arrays = records.columns(field, &nan_rep)?;
        if arrays.len() != names.len() {
            return Err(format!(
                "field `{}` holds {} columns and names {}",
                field.name,
                arrays.len(),
                names.len()
            ));
        }
        if attr("meta")
            .and_then(|a| a.read_string())
            .is_ok_and(|m| m == "category")
        {
            arrays = arrays
                .iter()
                .map(|codes| categories(group, &field.name, codes, &nan_rep))
                .collect::<Result<_, _>>()?;
        }
        columns.extend(names.into_iter().zip(arrays));
    }
    // the frame's own column order, where the store keeps it
    let order = pickled(group.attribute("non_index_axes"))
        .and_then(|v| v.items()?.first()?.items()?.get(1)?.names())
        .unwrap_or_default();
    let place = |n: &str| order.iter().position(|o| o == n).unwrap_or(usize::MAX);
    columns.sort_by_key(|(n, _)| place(n));
    Ok(columns)
}
