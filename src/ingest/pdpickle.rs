//! pandas frames pickled (`DataFrame.to_pickle`, `pickle.dump(df)`), read
//! as data from the values [`super::pickle`] builds — nothing imported,
//! nothing run — as a table with the frame's column names.
//!
//! pandas 1.5 to 3.x (those tried) pickle a frame alike: a `DataFrame` whose state's
//! `_mgr` is `BlockManager(blocks, axes)`; `axes` are the column names and
//! the row index (`_new_Index(class, {"data": …})`, or a `RangeIndex`'s
//! start, stop and step), and each block is `_unpickle_block(values,
//! placement, ndim)`: the values of one or more columns and which columns
//! they are (a `slice`, or an array of positions).
//!
//! Values read:
//! - NumPy arrays of numbers and booleans (a block of `k` columns is
//!   `k × rows`, in C or Fortran order), and of Python objects (text;
//!   `None`, NaN and `pd.NA` missing, numbers written out);
//! - pandas's masked arrays (`Int64`, `Float64`, `boolean`: values and a
//!   mask of the missing ones), categoricals (as their categories' text,
//!   code `-1` missing), strings in Python storage, and pyarrow-backed
//!   columns (pandas 3's default `str`, `int64[pyarrow]`, …) rebuilt from
//!   pyarrow's own buffers (`_restore_array`) for its number, boolean and
//!   string types.
//!
//! Dates, times, periods, intervals, sparse columns and other pyarrow
//! types are left out with a note naming them; the row index is not read
//! (as in a Parquet file pandas writes, it is no feature). Columns of
//! several levels (a `MultiIndex`) are an error that says how to flatten
//! them.

use std::sync::Arc;

use arrow::array::{make_array, Array, ArrayData, ArrayRef, BooleanArray, Int64Array, StringArray};
use arrow::buffer::Buffer;
use arrow::datatypes::DataType;

use super::npz::{items_in_c_order, ndarray_values};
use super::pickle::Value;

/// The most columns a range of column names may give (a damaged pickle's
/// range is not spelled out).
const MAX_COLUMNS: usize = 1 << 24;

/// Whether a pickle's value is a pandas frame.
pub(super) fn is_frame(v: &Value) -> bool {
    matches!(v.class(), Some((module, "DataFrame")) if module.starts_with("pandas"))
}

/// A frame's columns in its columns' order, as Arrow arrays; the columns
/// left out (dates, types not read) named with their type in `left_out`.
pub(super) fn columns(
    frame: &Value,
    left_out: &mut Vec<String>,
) -> Result<Vec<(String, ArrayRef)>, String> {
    let manager = state_of(frame)
        .and_then(|s| s.get("_mgr"))
        .ok_or("a frame without its block manager (`_mgr`)")?;
    let (blocks, axes) = match manager {
        Value::Object { callable, args, .. }
            if matches!(callable.class(), Some((_, "BlockManager"))) =>
        {
            match args.items() {
                Some([blocks, axes]) => (blocks, axes),
                _ => return Err("a block manager without its blocks and axes".into()),
            }
        }
        _ => {
            return Err(
                "a frame in an older pandas's layout (poisonscan reads those of pandas 1.5 to \
                 3): save it with df.to_parquet(\"data.parquet\")"
                    .into(),
            )
        }
    };
    let (names, rows) = match axes.items() {
        Some([names, index]) => (index_labels(names)?, index_len(index)?),
        _ => return Err("a block manager without its two axes".into()),
    };
    // each column's array, or the kind it is left out as
    let mut placed: Vec<Option<Result<ArrayRef, String>>> = vec![None; names.len()];
    for block in blocks.items().ok_or("blocks that are not a list")? {
        let (values, placement) = match block {
            Value::Object { callable, args, .. }
                if matches!(callable.class(), Some((_, "_unpickle_block"))) =>
            {
                match args.items() {
                    Some([values, placement, ..]) => (values, placement),
                    _ => return Err("a block without its values".into()),
                }
            }
            _ => return Err("a block that is not pandas's `_unpickle_block`".into()),
        };
        let at = positions(placement, names.len())
            .ok_or("a block placed by what is not positions of its columns")?;
        let decoded = decode(values, at.len(), rows)?;
        for (j, &c) in at.iter().enumerate() {
            let slot = placed
                .get_mut(c)
                .ok_or_else(|| format!("a block placed at column {c} of {}", names.len()))?;
            *slot = Some(match &decoded {
                Decoded::Columns(arrays) => Ok(arrays[j].clone()),
                Decoded::LeftOut(kind) => Err(kind.clone()),
            });
        }
    }
    let mut out = Vec::new();
    for (name, slot) in names.into_iter().zip(placed) {
        match slot {
            Some(Ok(a)) => out.push((name, a)),
            Some(Err(kind)) => left_out.push(format!("`{name}` ({kind})")),
            None => return Err(format!("column `{name}` is in no block")),
        }
    }
    Ok(out)
}

/// A pandas Series's values (its index not read); `None` for what is not
/// a Series.
pub(super) fn series(v: &Value) -> Option<Result<ArrayRef, String>> {
    if !matches!(v.class(), Some((module, "Series")) if module.starts_with("pandas")) {
        return None;
    }
    // `SingleBlockManager` with the state (axes, [values], …)
    let values = state_of(v)
        .and_then(|s| s.get("_mgr"))
        .and_then(state_of)
        .and_then(|s| s.items()?.get(1)?.items()?.first());
    let Some(values) = values else {
        return Some(Err("a Series without its values".into()));
    };
    let Some(rows) = one_dimensional(values) else {
        return Some(Err("a Series whose values are not one array".into()));
    };
    Some(match decode(values, 1, rows) {
        Ok(Decoded::Columns(mut a)) => Ok(a.remove(0)),
        Ok(Decoded::LeftOut(kind)) => Err(format!("labels of {kind}, not numbers or text")),
        Err(e) => Err(e),
    })
}

/// A block's columns, or why they are left out.
enum Decoded {
    Columns(Vec<ArrayRef>),
    LeftOut(String),
}

/// The state `BUILD` set on an object.
fn state_of(v: &Value) -> Option<&Value> {
    match v {
        Value::Object { state, .. } => state.as_deref(),
        _ => None,
    }
}

/// The columns a `slice(start, stop, step)` or an array of positions
/// names, each below `columns`.
fn positions(v: &Value, columns: usize) -> Option<Vec<usize>> {
    if let Some(a) = v.ndarray() {
        let values = ndarray_values(&a)?;
        let values = arrow::compute::cast(&values, &DataType::Int64).ok()?;
        let values = values.as_any().downcast_ref::<Int64Array>()?;
        return values
            .iter()
            .map(|p| usize::try_from(p?).ok().filter(|&p| p < columns))
            .collect();
    }
    let Value::Object { callable, args, .. } = v else {
        return None;
    };
    // `__builtin__` in protocols 0–2, as Python 2 named the module
    if !matches!(
        callable.class(),
        Some(("builtins" | "__builtin__", "slice"))
    ) {
        return None;
    }
    let int = |v: &Value| match v {
        Value::Int(i) => usize::try_from(*i).ok(),
        _ => None,
    };
    match args.items()? {
        [start, stop, step] => {
            let step = if *step == Value::None { 1 } else { int(step)? };
            let stop = int(stop)?;
            let start = int(start)?;
            (stop <= columns).then(|| (start..stop).step_by(step.max(1)).collect())
        }
        _ => None,
    }
}

/// An index's `_new_Index(class, dict)`: its class and dict.
fn index_parts(v: &Value) -> Result<(&str, &Value), String> {
    let parts = match v {
        Value::Object { callable, args, .. }
            if matches!(callable.class(), Some((_, "_new_Index"))) =>
        {
            match args.items() {
                Some([class, dict]) => class.class().map(|(_, name)| (name, dict)),
                _ => None,
            }
        }
        _ => None,
    };
    parts.ok_or_else(|| "an axis that is not a pandas index".into())
}

/// A `RangeIndex`'s values' count, from its start, stop and step.
fn range_len(dict: &Value) -> Option<usize> {
    let int = |key: &str, default: i64| match dict.get(key) {
        Some(Value::Int(i)) => Some(*i),
        None | Some(Value::None) => Some(default),
        _ => None,
    };
    let (start, stop, step) = (int("start", 0)?, int("stop", 0)?, int("step", 1)?);
    if step == 0 {
        return None;
    }
    let n = (stop - start + step - step.signum()) / step;
    usize::try_from(n.max(0)).ok()
}

/// An index's labels as text (the frame's column names: text, or numbers
/// written out, as `df.columns.astype(str)`).
fn index_labels(v: &Value) -> Result<Vec<String>, String> {
    let (class, dict) = index_parts(v)?;
    if class == "MultiIndex" {
        return Err(
            "columns of several levels (a MultiIndex): flatten them first, \
                    df.columns = [\"_\".join(map(str, c)) for c in df.columns]"
                .into(),
        );
    }
    if dict.get("data").is_none() {
        let n = range_len(dict)
            .filter(|&n| n <= MAX_COLUMNS)
            .ok_or("a range of columns without its bounds")?;
        let start = match dict.get("start") {
            Some(Value::Int(i)) => *i,
            _ => 0,
        };
        let step = match dict.get("step") {
            Some(Value::Int(i)) => *i,
            _ => 1,
        };
        return Ok((0..n as i64)
            .map(|k| (start + k * step).to_string())
            .collect());
    }
    let data = dict.get("data").expect("checked");
    let length = one_dimensional(data).ok_or("column names that are not one array")?;
    let Decoded::Columns(mut a) = decode(data, 1, length)? else {
        return Err("column names that are neither text nor numbers".into());
    };
    let text = arrow::compute::cast(&a.remove(0), &DataType::Utf8).map_err(|e| e.to_string())?;
    let text = text.as_any().downcast_ref::<StringArray>().expect("text");
    Ok(text
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect())
}

/// The row index's length.
fn index_len(v: &Value) -> Result<usize, String> {
    let (_, dict) = index_parts(v)?;
    match dict.get("data") {
        Some(data) => one_dimensional(data),
        None => range_len(dict),
    }
    .ok_or_else(|| "a row index whose length cannot be told".into())
}

/// The length of a one-dimensional array: a NumPy array, a masked,
/// NumPy-backed or pyarrow-backed pandas array.
fn one_dimensional(v: &Value) -> Option<usize> {
    if let Some(a) = v.ndarray() {
        return match a.shape[..] {
            [n] => Some(n),
            _ => None,
        };
    }
    let state = state_of(v)?;
    if let Some(data) = state.get("_data").or_else(|| state.get("_ndarray")) {
        return one_dimensional(data);
    }
    if let Some(arrow) = state.get("_pa_array") {
        return match restore_args(arrow)? {
            [_, Value::Int(n), ..] => usize::try_from(*n).ok(),
            _ => None,
        };
    }
    // NumPy-backed (`__pyx_unpickle_NDArrayBacked`): (dtype, values, …)
    one_dimensional(state.items()?.get(1)?)
}

/// What a block's values are, for a note: NumPy's type, or pandas's class.
fn kind_of(v: &Value) -> String {
    if let Some(a) = v.ndarray() {
        return format!("{}{}", a.kind, a.width);
    }
    let class = match v {
        Value::Object { callable, args, .. }
            if matches!(callable.class(), Some((_, "__pyx_unpickle_NDArrayBacked"))) =>
        {
            args.items().and_then(|a| a.first()?.class())
        }
        other => other.class(),
    };
    class.map_or_else(|| "objects".into(), |(_, name)| name.to_string())
}

/// `k` columns of `rows` values each out of a block's values.
fn decode(v: &Value, k: usize, rows: usize) -> Result<Decoded, String> {
    let kind = kind_of(v);
    let shape_error = |shape: &[usize]| {
        format!("a block of {kind} shaped {shape:?}, not {k} columns of {rows} rows")
    };
    if let Some(a) = v.ndarray() {
        let fits = match a.shape[..] {
            [n] => k == 1 && n == rows,
            [c, n] => c == k && n == rows,
            _ => false,
        };
        if !fits {
            return Err(shape_error(&a.shape));
        }
        if matches!(a.kind.as_str(), "M" | "m") {
            let what = if a.kind == "M" { "dates" } else { "durations" };
            return Ok(Decoded::LeftOut(what.into()));
        }
        let columns: Vec<ArrayRef> = if a.kind == "O" {
            let items = items_in_c_order(&a).ok_or_else(|| shape_error(&a.shape))?;
            items
                .chunks(rows.max(1))
                .take(k)
                .map(object_column)
                .collect::<Result<_, _>>()?
        } else {
            let Some(all) = ndarray_values(&a) else {
                return Ok(Decoded::LeftOut(kind));
            };
            (0..k).map(|j| all.slice(j * rows, rows)).collect()
        };
        // an empty frame's block of k columns has no items to chunk
        return Ok(Decoded::Columns(if columns.len() == k {
            columns
        } else {
            (0..k)
                .map(|_| arrow::array::new_empty_array(&DataType::Utf8))
                .collect()
        }));
    }
    if k != 1 {
        return Err(format!("a block of {kind} holding {k} columns"));
    }
    let column = match kind.as_str() {
        "DatetimeArray" | "TimedeltaArray" | "PeriodArray" | "IntervalArray" | "SparseArray" => {
            return Ok(Decoded::LeftOut(kind))
        }
        "Categorical" => categorical(v)?,
        "IntegerArray" | "FloatingArray" | "BooleanArray" => masked(v)?,
        _ => {
            let state = state_of(v).ok_or_else(|| format!("{kind} without its values"))?;
            if let Some(arrow) = state.get("_pa_array") {
                match pyarrow_array(arrow)? {
                    Some(a) => a,
                    None => return Ok(Decoded::LeftOut(format!("{kind} of a pyarrow type"))),
                }
            } else if let Some(values) = state.get("_ndarray").or_else(|| state.items()?.get(1)) {
                // NumPy-backed: pandas's `StringArray` (Python storage),
                // `NumpyExtensionArray`
                match decode(values, 1, rows)? {
                    Decoded::Columns(mut a) => a.remove(0),
                    Decoded::LeftOut(_) => return Ok(Decoded::LeftOut(kind)),
                }
            } else {
                return Ok(Decoded::LeftOut(kind));
            }
        }
    };
    if column.len() != rows {
        return Err(format!(
            "a column of {kind} with {} of {rows} rows",
            column.len()
        ));
    }
    Ok(Decoded::Columns(vec![column]))
}

/// Whether a Python object is a missing value: `None`, NaN, `pd.NA`.
fn missing(v: &Value) -> bool {
    match v {
        Value::None => true,
        Value::Float(f) => f.is_nan(),
        Value::Global(module, name) => module.starts_with("pandas") && name == "NA",
        _ => false,
    }
}

/// A column of Python objects: bytes (encoded images), Hugging Face's
/// image dicts (`{"bytes": …, "path": …}`), vectors (NumPy arrays or lists
/// of numbers: an embedding per row; arrays of several dimensions nested,
/// as pyarrow writes them), else text (numbers written out).
fn object_column(items: &[Value]) -> Result<ArrayRef, String> {
    let present = || items.iter().filter(|v| !missing(v));
    if present().next().is_some() {
        if present().all(|v| matches!(v, Value::Bytes(_))) {
            let bytes: arrow::array::BinaryArray = items
                .iter()
                .map(|v| match v {
                    Value::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect();
            return Ok(Arc::new(bytes));
        }
        if present().all(|v| v.get("bytes").is_some()) {
            return image_dicts(items);
        }
        if let Some(vectors) = vectors(items)? {
            return Ok(vectors);
        }
    }
    let text: StringArray = items.iter().map(Value::text_cell).collect();
    Ok(Arc::new(text))
}

/// Hugging Face's image dicts as its `struct<bytes, path>`.
fn image_dicts(items: &[Value]) -> Result<ArrayRef, String> {
    use arrow::array::{BinaryArray, StructArray};
    use arrow::datatypes::Field;
    let bytes: BinaryArray = items
        .iter()
        .map(|v| match v.get("bytes") {
            Some(Value::Bytes(b)) => Some(b.as_slice()),
            _ => None,
        })
        .collect();
    let path: StringArray = items
        .iter()
        .map(|v| v.get("path").and_then(Value::as_text))
        .collect();
    let nulls =
        arrow::buffer::NullBuffer::from(items.iter().map(|v| !missing(v)).collect::<Vec<_>>());
    StructArray::try_new(
        vec![
            Field::new("bytes", DataType::Binary, true),
            Field::new("path", DataType::Utf8, true),
        ]
        .into(),
        vec![Arc::new(bytes) as ArrayRef, Arc::new(path)],
        Some(nulls),
    )
    .map(|a| Arc::new(a) as ArrayRef)
    .map_err(|e| e.to_string())
}

/// Objects that are all vectors — NumPy arrays of numbers, or lists of
/// numbers — as lists of `f64` (nested once per dimension), missing rows
/// null; `None` where they are not (or differ in their dimensions).
fn vectors(items: &[Value]) -> Result<Option<ArrayRef>, String> {
    use arrow::array::{Float64Array, ListArray};
    use arrow::buffer::{NullBuffer, OffsetBuffer};
    use arrow::datatypes::Field;
    let as_vector = |v: &Value| -> Option<(Vec<usize>, ArrayRef)> {
        if let Some(a) = v.ndarray() {
            let values = ndarray_values(&a)?;
            return Some((a.shape.clone(), values));
        }
        let list = v.items()?;
        let values: Option<Vec<f64>> = list
            .iter()
            .map(|x| match x {
                Value::Int(i) => Some(*i as f64),
                Value::Float(f) => Some(*f),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            })
            .collect();
        Some((vec![list.len()], Arc::new(Float64Array::from(values?))))
    };
    let mut rows = Vec::with_capacity(items.len());
    for v in items {
        rows.push(if missing(v) {
            None
        } else {
            match as_vector(v) {
                Some(r) => Some(r),
                None => return Ok(None),
            }
        });
    }
    let dims = rows.iter().flatten().map(|(shape, _)| shape.len()).max();
    let Some(dims) = dims.filter(|&d| d > 0) else {
        return Ok(None);
    };
    if rows.iter().flatten().any(|(shape, _)| shape.len() != dims) {
        return Ok(None);
    }
    let parts: Vec<ArrayRef> = rows
        .iter()
        .flatten()
        .map(|(_, v)| arrow::compute::cast(v, &DataType::Float64))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    let mut child = arrow::compute::concat(&parts).map_err(|e| e.to_string())?;
    // lists from the innermost dimension out: a row of shape (d0, …) holds
    // d0 × … × d(l-1) lists of d(l) at level l
    for level in (0..dims).rev() {
        let mut offsets = vec![0i32];
        let mut valid = Vec::new();
        for row in &rows {
            match row {
                Some((shape, _)) => {
                    let lists: usize = shape[..level].iter().product();
                    for _ in 0..lists {
                        let last = *offsets.last().expect("one offset");
                        let next = i32::try_from(shape[level])
                            .ok()
                            .and_then(|n| last.checked_add(n))
                            .ok_or("a column of vectors too large for one table")?;
                        offsets.push(next);
                        valid.push(true);
                    }
                }
                None if level == 0 => {
                    offsets.push(*offsets.last().expect("one offset"));
                    valid.push(false);
                }
                None => {}
            }
        }
        let field = Arc::new(Field::new_list_field(child.data_type().clone(), true));
        child = Arc::new(
            ListArray::try_new(
                field,
                OffsetBuffer::new(offsets.into()),
                child,
                Some(NullBuffer::from(valid)),
            )
            .map_err(|e| e.to_string())?,
        );
    }
    Ok(Some(child))
}

/// A masked array (`_data`, and `_mask` true where missing).
fn masked(v: &Value) -> Result<ArrayRef, String> {
    let state = state_of(v).ok_or("a masked array without its values")?;
    let part = |key: &str| {
        state
            .get(key)
            .and_then(Value::ndarray)
            .and_then(|a| ndarray_values(&a))
            .ok_or_else(|| format!("a masked array without its `{key}`"))
    };
    let (data, mask) = (part("_data")?, part("_mask")?);
    let mask = mask
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or("a mask that is not booleans")?;
    arrow::compute::nullif(&data, mask).map_err(|e| e.to_string())
}

/// A categorical: its codes as its categories' text, `-1` missing.
fn categorical(v: &Value) -> Result<ArrayRef, String> {
    // `__pyx_unpickle_NDArrayBacked` with the state (dtype, codes, …)
    let parts = state_of(v).and_then(Value::items);
    let (dtype, codes) = match parts {
        Some([dtype, codes, ..]) => (dtype, codes),
        _ => return Err("a categorical without its codes".into()),
    };
    let categories = state_of(dtype)
        .and_then(|s| s.get("categories"))
        .ok_or("a categorical without its categories")?;
    let names = index_labels(categories)?;
    let codes = codes
        .ndarray()
        .and_then(|a| ndarray_values(&a))
        .ok_or("a categorical whose codes are not numbers")?;
    super::frame::category_text(&names, &codes)
}

/// The arguments of pyarrow's `_restore_array((type, length, null_count,
/// offset, buffers, children, dictionary))`.
fn restore_args(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Object { callable, args, .. }
            if callable.class() == Some(("pyarrow.lib", "_restore_array")) =>
        {
            args.items()?.first()?.items()
        }
        _ => None,
    }
}

/// A pyarrow array rebuilt from its buffers; `None` for a type not read
/// (dates, lists, dictionaries, …).
fn pyarrow_array(v: &Value) -> Result<Option<ArrayRef>, String> {
    let bad = || "a pyarrow array that cannot be rebuilt".to_string();
    let [kind, Value::Int(length), _, Value::Int(offset), Value::List(buffers), children, ..] =
        restore_args(v).ok_or_else(bad)?
    else {
        return Err(bad());
    };
    let alias = match kind {
        Value::Object { callable, args, .. }
            if callable.class() == Some(("pyarrow.lib", "type_for_alias")) =>
        {
            args.items().and_then(|a| a.first()?.as_text())
        }
        _ => None,
    };
    let data_type = match alias.as_deref() {
        Some("bool") => DataType::Boolean,
        Some("int8") => DataType::Int8,
        Some("int16") => DataType::Int16,
        Some("int32") => DataType::Int32,
        Some("int64") => DataType::Int64,
        Some("uint8") => DataType::UInt8,
        Some("uint16") => DataType::UInt16,
        Some("uint32") => DataType::UInt32,
        Some("uint64") => DataType::UInt64,
        Some("halffloat" | "float16") => DataType::Float16,
        Some("float" | "float32") => DataType::Float32,
        Some("double" | "float64") => DataType::Float64,
        Some("string" | "str" | "utf8") => DataType::Utf8,
        Some("large_string" | "large_str" | "large_utf8") => DataType::LargeUtf8,
        _ => return Ok(None),
    };
    if children.items().is_some_and(|c| !c.is_empty()) {
        return Ok(None);
    }
    let buffer = |b: &Value| -> Result<Option<Buffer>, String> {
        match b {
            Value::None => Ok(None),
            Value::Object { callable, args, .. }
                if callable.class() == Some(("pyarrow.lib", "py_buffer")) =>
            {
                match args.items() {
                    Some([Value::Bytes(bytes)]) => Ok(Some(Buffer::from_vec(bytes.clone()))),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    };
    let mut buffers = buffers.iter().map(buffer).collect::<Result<Vec<_>, _>>()?;
    if buffers.is_empty() {
        return Err(bad());
    }
    let validity = buffers.remove(0);
    let data = ArrayData::builder(data_type)
        .len(usize::try_from(*length).map_err(|_| bad())?)
        .offset(usize::try_from(*offset).map_err(|_| bad())?)
        .null_bit_buffer(validity)
        .buffers(
            buffers
                .into_iter()
                .map(|b| b.unwrap_or_else(|| Buffer::from_vec(Vec::<u8>::new())))
                .collect(),
        )
        .build()
        .map_err(|e| format!("a pyarrow array that cannot be rebuilt: {e}"))?;
    let array = make_array(data);
    // text as the other readers give it; half floats as single ones
    let wanted = match array.data_type() {
        DataType::LargeUtf8 => Some(DataType::Utf8),
        DataType::Float16 => Some(DataType::Float32),
        _ => None,
    };
    Ok(Some(match wanted {
        Some(t) => arrow::compute::cast(&array, &t).map_err(|e| e.to_string())?,
        None => array,
    }))
}
