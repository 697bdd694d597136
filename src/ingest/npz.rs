//! NumPy archives (`.npz`, as `numpy.savez` and `numpy.savez_compressed`
//! write them, and as Keras ships MNIST): a zip of `.npy` arrays, one of
//! features (a row per sample: vectors, or images `n × h × w [× c]`) and one
//! of labels. Read into one Arrow batch — the labels, and the features as a
//! fixed-size list column (with the image shape in the schema's metadata) —
//! that the table builder takes like any other.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, RecordBatch, StringArray, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow::datatypes::{Field, Schema};

use super::batch::{META_FEATURES, META_IMAGE_SHAPE};
use super::IngestError;

/// Array names taken for the features, in order of preference.
const FEATURE_NAMES: [&str; 8] = [
    "x", "X", "x_train", "X_train", "features", "data", "images", "inputs",
];

/// Array names taken for the labels, in order of preference.
const LABEL_NAMES: [&str; 8] = [
    "y", "Y", "y_train", "Y_train", "labels", "label", "target", "targets",
];

/// One array: its shape (C order) and values.
#[derive(Debug)]
pub(super) struct Npy {
    pub(super) shape: Vec<usize>,
    pub(super) values: ArrayRef,
}

fn npz_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "npz",
        message: message.into(),
    }
}

/// An error of the arrays' picking, naming the format they came from.
fn array_error(path: &Path, format: &'static str, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format,
        message: message.into(),
    }
}

/// The value of `key` in a `.npy` header (a Python dict literal).
fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// Parses one `.npy` file: numbers, booleans or fixed-width strings, in C
/// order or Fortran order (rewritten in C order: `np.save` of a pandas
/// DataFrame's `.to_numpy()` writes a Fortran-ordered array); an array of
/// Python objects is an error that says how to save it.
/// A `.npy` file's header text and where its data begin.
fn npy_header(bytes: &[u8]) -> Result<(&str, usize), String> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err("not a NumPy .npy array".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        v => return Err(format!("unknown .npy version {v}")),
    };
    let header = bytes
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated .npy header")?;
    Ok((header, start + len))
}

/// The pickle a `.npy` file of Python objects holds after its header
/// (`numpy.save("data.npy", {"x": X, "y": y})`, or of an `(X, y)` tuple, as
/// `allow_pickle` saves them); `None` for an array of numbers or text.
fn npy_pickle(bytes: &[u8]) -> Option<&[u8]> {
    let (header, data) = npy_header(bytes).ok()?;
    let descr = header_value(header, "descr")?.trim_matches(|c| c == '\'' || c == '"');
    (descr == "|O").then(|| &bytes[data..])
}

/// Whether a `.npy` file holds Python objects, by its header.
fn is_object_npy(path: &Path) -> bool {
    let mut head = vec![0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    is_npy(path) && npy_pickle(&head[..n]).is_some()
}

fn parse_npy(bytes: &[u8]) -> Result<Npy, String> {
    let (header, data_at) = npy_header(bytes)?;
    let descr = header_value(header, "descr")
        .ok_or("no dtype in the .npy header")?
        .trim_matches(|c| c == '\'' || c == '"');
    let fortran = header_value(header, "fortran_order") == Some("True");
    let shape: Vec<usize> = header_value(header, "shape")
        .ok_or("no shape in the .npy header")?
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| "a bad shape in the .npy header")?;
    let data = &bytes[data_at..];
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("the shape in the .npy header is too large")?;
    let (order, kind) = descr.split_at(1.min(descr.len()));
    let big = order == ">";
    let (code, width) = kind.split_at(1.min(kind.len()));
    if code == "O" {
        return Err(
            "the array holds Python objects (pickled): save numbers, or text as \
             numpy.str_ (`.astype(str)`)"
                .into(),
        );
    }
    let width: usize = width
        .parse()
        .map_err(|_| format!("dtype `{descr}` is not numbers, booleans or text"))?;
    let item = if code == "U" {
        width.checked_mul(4).ok_or("a bad dtype width")?
    } else {
        width
    };
    let size = count
        .checked_mul(item)
        .filter(|&size| size <= data.len())
        .ok_or_else(|| {
            format!(
                "the array is cut short: {count} values of {item} bytes promised, {} bytes there",
                data.len()
            )
        })?;
    let rewritten;
    let data = if fortran && shape.len() > 1 {
        rewritten = c_order(&data[..size], &shape, item);
        &rewritten[..]
    } else {
        &data[..size]
    };
    let values = typed_values(code, width, big, data)
        .ok_or_else(|| format!("dtype `{descr}` is not numbers, booleans or text"))?;
    Ok(Npy { shape, values })
}

/// bfloat16 values (each the high half of a float32), stored big- or
/// little-endian in `data`, as the bytes of those float32s in the same
/// byte order.
pub(super) fn bfloat16_as_f32(data: &[u8], big: bool) -> Vec<u8> {
    data.chunks_exact(2)
        .flat_map(|h| {
            let bits = if big {
                u32::from(u16::from_be_bytes([h[0], h[1]])) << 16
            } else {
                u32::from(u16::from_le_bytes([h[0], h[1]])) << 16
            };
            if big {
                bits.to_be_bytes()
            } else {
                bits.to_le_bytes()
            }
        })
        .collect()
}

/// Values of NumPy's type `code` (`b`, `u`, `i`, `f`, `U`, `S`) and `width`
/// (bytes; characters for `U`), stored big- or little-endian in `data`, as
/// an Arrow array; `None` for another type.
pub(super) fn typed_values(code: &str, width: usize, big: bool, data: &[u8]) -> Option<ArrayRef> {
    let item = if code == "U" { width * 4 } else { width };
    macro_rules! numbers {
        ($array:ty, $t:ty, $n:expr) => {{
            let values = data.chunks_exact($n).map(|c| {
                let b: [u8; $n] = c.try_into().expect("chunk width");
                if big {
                    <$t>::from_be_bytes(b)
                } else {
                    <$t>::from_le_bytes(b)
                }
            });
            Arc::new(<$array>::from_iter_values(values)) as ArrayRef
        }};
    }
    let values = match (code, width) {
        ("b", 1) => Arc::new(BooleanArray::from(
            data.iter().map(|&b| b != 0).collect::<Vec<_>>(),
        )) as ArrayRef,
        ("u", 1) => Arc::new(UInt8Array::from(data.to_vec())) as ArrayRef,
        ("i", 1) => Arc::new(Int8Array::from_iter_values(data.iter().map(|&b| b as i8))),
        ("u", 2) => numbers!(UInt16Array, u16, 2),
        ("i", 2) => numbers!(Int16Array, i16, 2),
        ("u", 4) => numbers!(UInt32Array, u32, 4),
        ("i", 4) => numbers!(Int32Array, i32, 4),
        ("u", 8) => numbers!(UInt64Array, u64, 8),
        ("i", 8) => numbers!(Int64Array, i64, 8),
        ("f", 4) => numbers!(Float32Array, f32, 4),
        ("f", 8) => numbers!(Float64Array, f64, 8),
        ("f", 2) => {
            let halves = data.chunks_exact(2).map(|c| {
                let b = [c[0], c[1]];
                let h = if big {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                };
                half_to_f32(h)
            });
            Arc::new(Float32Array::from_iter_values(halves)) as ArrayRef
        }
        ("U", _) => {
            let text = data.chunks_exact(item).map(|c| {
                c.chunks_exact(4)
                    .map(|u| {
                        let b: [u8; 4] = u.try_into().expect("4 bytes");
                        if big {
                            u32::from_be_bytes(b)
                        } else {
                            u32::from_le_bytes(b)
                        }
                    })
                    .take_while(|&u| u != 0)
                    .filter_map(char::from_u32)
                    .collect::<String>()
            });
            Arc::new(StringArray::from_iter_values(text)) as ArrayRef
        }
        ("S", _) => {
            let text = data.chunks_exact(item).map(|c| {
                let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                String::from_utf8_lossy(&c[..end]).into_owned()
            });
            Arc::new(StringArray::from_iter_values(text)) as ArrayRef
        }
        _ => return None,
    };
    Some(values)
}

/// A pickled NumPy array of numbers, booleans or fixed-width text as one
/// Arrow array in C order (a Fortran-order array's items reordered);
/// `None` for an array of objects, of another type, or of too few bytes.
pub(super) fn ndarray_values(a: &super::pickle::NdArray<'_>) -> Option<ArrayRef> {
    let super::pickle::NdData::Bytes(raw) = a.data else {
        return None;
    };
    let count = a.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    // NumPy's `U` width counts characters of four bytes
    let item = if a.kind == "U" { a.width * 4 } else { a.width };
    let raw = raw.get(..count.checked_mul(item)?)?;
    let values = if a.fortran && a.shape.len() > 1 {
        typed_values(&a.kind, a.width, a.big, &c_order(raw, &a.shape, item))
    } else {
        typed_values(&a.kind, a.width, a.big, raw)
    }?;
    (values.len() == count).then_some(values)
}

/// The items (`item` bytes each) of an array of `shape` stored in Fortran
/// order (first index fastest), in C order (last index fastest).
pub(super) fn c_order(data: &[u8], shape: &[usize], item: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for at in fortran_offsets(shape).take(data.len() / item.max(1)) {
        out.extend_from_slice(&data[at * item..(at + 1) * item]);
    }
    out
}

/// The offsets (in items) of an array of `shape` stored in Fortran order
/// (first index fastest), taken in C order (last index fastest).
pub(super) fn fortran_offsets(shape: &[usize]) -> impl Iterator<Item = usize> + '_ {
    // the Fortran offset one step along each axis moves by
    let mut stride = vec![1usize; shape.len()];
    for m in 1..shape.len() {
        stride[m] = stride[m - 1] * shape[m - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut at = 0usize;
    (0..shape.iter().product::<usize>()).map(move |_| {
        let here = at;
        for m in (0..shape.len()).rev() {
            index[m] += 1;
            at += stride[m];
            if index[m] < shape[m] {
                break;
            }
            at -= stride[m] * shape[m];
            index[m] = 0;
        }
        here
    })
}

/// A pickled array of Python objects, its items in C order.
pub(super) fn items_in_c_order(
    a: &super::pickle::NdArray<'_>,
) -> Option<Vec<super::pickle::Value>> {
    let super::pickle::NdData::Items(items) = a.data else {
        return None;
    };
    let count = a.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    if items.len() != count {
        return None;
    }
    Some(if a.fortran && a.shape.len() > 1 {
        fortran_offsets(&a.shape)
            .map(|o| items[o].clone())
            .collect()
    } else {
        items.to_vec()
    })
}

/// An IEEE half-precision value as `f32`.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

/// The class of each row of a one-hot label array (`n × k`, `k ≥ 2`,
/// every row one 1 and zeros), as an `Int64` array; `None` for any other
/// array.
fn one_hot_classes(labels: &Npy) -> Option<ArrayRef> {
    let [_, k] = labels.shape[..] else {
        return None;
    };
    let classes = super::batch::one_hot_rows(&labels.values, k)?;
    Some(Arc::new(Int64Array::from(classes)))
}

/// Whether an array's values may be classes: whole numbers, booleans or
/// text.
fn holds_classes(a: &Npy) -> bool {
    use arrow::datatypes::DataType as T;
    matches!(
        a.values.data_type(),
        T::Boolean
            | T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::UInt64
            | T::Utf8
    )
}

/// Whether a file is a Python pickle: by its name (`.pkl`, `.pickle`,
/// joblib's `.joblib`, compressed or not), or by its first bytes (protocols 2 to 5; CIFAR's
/// `data_batch_1` has no name to tell).
pub(super) fn is_pickle(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let name = [".gz", ".bz2", ".xz", ".zst", ".zip"]
        .iter()
        .find_map(|c| name.strip_suffix(c))
        .unwrap_or(&name);
    if [".pkl", ".pickle", ".joblib"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return true;
    }
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head[0] == 0x80 && (2..=5).contains(&head[1]))
}

/// A pickled NumPy array, or a Python list of numbers or text, as an array.
fn pickled_array(v: &super::pickle::Value) -> Option<Npy> {
    use super::pickle::{NdData, Value};
    let items_array = |items: &[Value]| -> Option<ArrayRef> {
        let numbers = items
            .iter()
            .all(|v| matches!(v, Value::Int(_) | Value::Float(_) | Value::Bool(_)));
        Some(
            if numbers
                && items
                    .iter()
                    .all(|v| matches!(v, Value::Int(_) | Value::Bool(_)))
            {
                Arc::new(Int64Array::from_iter_values(items.iter().map(
                    |v| match v {
                        Value::Int(i) => *i,
                        Value::Bool(b) => i64::from(*b),
                        _ => 0,
                    },
                )))
            } else if numbers {
                Arc::new(Float64Array::from_iter_values(items.iter().map(
                    |v| match v {
                        Value::Int(i) => *i as f64,
                        Value::Float(f) => *f,
                        Value::Bool(b) => f64::from(u8::from(*b)),
                        _ => f64::NAN,
                    },
                )))
            } else {
                // text (Python 2's `str` is bytes), missing as None or NaN,
                // numbers among text written out
                let text: StringArray = items.iter().map(Value::text_cell).collect();
                Arc::new(text)
            },
        )
    };
    if let Some(a) = v.ndarray() {
        let count = a.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
        let values = match a.data {
            NdData::Items(_) => items_array(&items_in_c_order(&a)?)?,
            NdData::Bytes(raw) => {
                let item = if a.kind == "U" { a.width * 4 } else { a.width };
                if Some(raw.len()) != count.checked_mul(item) {
                    return None;
                }
                ndarray_values(&a)?
            }
        };
        return Some(Npy {
            shape: a.shape,
            values,
        });
    }
    match v {
        Value::List(items) | Value::Tuple(items) if !items.is_empty() => Some(Npy {
            shape: vec![items.len()],
            values: items_array(items)?,
        }),
        _ => None,
    }
}

/// The arrays of a pickle of arrays, read by poisonscan's own reader, which
/// builds the values and runs nothing: a dict of NumPy arrays and lists
/// (CIFAR-10's and CIFAR-100's `data_batch_1`: `data`, `labels`; a
/// `pickle.dump({"x": X, "y": y})`), or a `(features, labels)` pair, or
/// a tuple of such pairs (the old `mnist.pkl.gz`: train, validation,
/// test), read for its first, with a note. A pickled pandas frame is a
/// table ([`super::pdpickle`]), alone or as the features of such a pair or
/// dict, its labels (a Series, an array, a list) then the column `label`
/// names; another pandas object (a Series alone) or a torch object is an
/// error that says how to save it.
fn read_pickle(
    path: &Path,
    torch: bool,
    label: &str,
    notes: &mut Vec<String>,
) -> Result<Pickled, IngestError> {
    use super::pickle::Value;
    let fail = |message: String| array_error(path, "pickle", message);
    let value = if torch {
        super::torch::read(path).map_err(|e| fail(format!("a PyTorch file: {e}")))?
    } else {
        let mut bytes = super::read_unpacked(path, |e| {
            fail(format!("its compressed data is damaged: {e}"))
        })?;
        // zlib, as `joblib.dump(…, compress=3)` packs it (no pickle begins
        // with `x`)
        if bytes.first() == Some(&0x78) {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .map_err(|e| fail(format!("its zlib data is damaged: {e}")))?;
            bytes = out;
        }
        match npy_pickle(&bytes) {
            // the array of objects `numpy.save` pickled: its one object, or
            // its items (an `(X, y)` tuple saved as a 2-item array)
            Some(payload) => {
                let array = super::pickle::read(payload)
                    .map_err(|e| fail(format!("its pickled objects cannot be read: {e}")))?;
                let items = array.ndarray().and_then(|a| items_in_c_order(&a));
                match items {
                    Some(mut items) if items.len() == 1 => items.remove(0),
                    Some(items) => Value::Tuple(items),
                    None => array,
                }
            }
            None => {
                super::pickle::read(&bytes).map_err(|e| fail(format!("it cannot be read: {e}")))?
            }
        }
    };
    if let Some((frame, labels)) = frame_of(&value) {
        let within = |e: String| fail(format!("the pandas frame: {e}"));
        let mut left_out = Vec::new();
        let mut columns = super::pdpickle::columns(frame, &mut left_out).map_err(within)?;
        super::frame::note_left_out(
            notes,
            path,
            "the pandas frame's column(s)",
            &left_out,
            "dates, times and the types poisonscan does not read are not features",
        );
        if let Some(labels) = labels {
            if columns.iter().any(|(n, _)| n == label) {
                return Err(within(format!(
                    "the frame has a column `{label}` and labels beside it; name the labels \
                     column with --label"
                )));
            }
            let labels = labels_column(labels).map_err(within)?;
            notes.push(format!(
                "{}: read the pickle's (frame, labels) pair, the labels as the column `{label}`",
                path.display()
            ));
            columns.push((label.to_string(), labels));
        }
        return super::frame::frame_batch(columns)
            .map(Pickled::Frame)
            .map_err(within);
    }
    for (module, how) in [
        (
            "pandas",
            "a pickled pandas object that is not a frame (a Series): save it as a frame \
             with its labels, e.g. pd.DataFrame({\"label\": s}).to_parquet(\"data.parquet\")",
        ),
        (
            "torch",
            "a PyTorch object that is not tensors (a model?): save the data's tensors, \
             torch.save((x, y), \"data.pt\"), or numpy.savez(\"data.npz\", x=…, y=…)",
        ),
    ] {
        if value.made_by(module) {
            return Err(fail(how.into()));
        }
    }
    let pair = |v: &Value| -> Option<(Npy, Npy)> {
        match v.items()? {
            [x, y] => Some((pickled_array(x)?, pickled_array(y)?)),
            _ => None,
        }
    };
    let mut arrays = Vec::new();
    match &value {
        Value::Dict(entries) => {
            for (k, v) in entries {
                if let (Some(name), Some(a)) = (k.as_text(), pickled_array(v)) {
                    arrays.push((name, a));
                }
            }
        }
        v => {
            if let Some((x, y)) = pair(v) {
                arrays.push(("x".to_string(), x));
                arrays.push(("y".to_string(), y));
            } else if let Some((x, y)) = v.items().and_then(|s| s.first()).and_then(pair) {
                notes.push(format!(
                    "{}: read the first of the pickle's {} (features, labels) pairs, the \
                     training split",
                    path.display(),
                    v.items().map_or(0, <[Value]>::len)
                ));
                arrays.push(("x".to_string(), x));
                arrays.push(("y".to_string(), y));
            }
        }
    }
    if arrays.is_empty() {
        return Err(fail(
            "it holds no arrays poisonscan reads: a pickle of a dict of NumPy arrays and lists \
             (as CIFAR's batches), or of a (features, labels) pair; save the data with \
             numpy.savez(\"data.npz\", x=…, y=…), or as a Parquet table"
                .into(),
        ));
    }
    Ok(Pickled::Arrays(arrays))
}

/// The pandas frame a pickle holds, and the labels beside it: the frame
/// alone, or a (frame, labels) pair — alone, the first of a tuple of pairs
/// (train, test), or a dict's features and labels by their names
/// ([`FEATURE_NAMES`], [`LABEL_NAMES`]).
fn frame_of(
    value: &super::pickle::Value,
) -> Option<(&super::pickle::Value, Option<&super::pickle::Value>)> {
    use super::pdpickle::is_frame;
    use super::pickle::Value;
    fn pair(v: &Value) -> Option<(&Value, Option<&Value>)> {
        match v.items()? {
            [x, y] if is_frame(x) => Some((x, Some(y))),
            _ => None,
        }
    }
    if is_frame(value) {
        return Some((value, None));
    }
    if let Value::Dict(_) = value {
        let x = FEATURE_NAMES.iter().find_map(|n| value.get(n))?;
        let y = LABEL_NAMES.iter().find_map(|n| value.get(n))?;
        return is_frame(x).then_some((x, Some(y)));
    }
    pair(value).or_else(|| pair(value.items()?.first()?))
}

/// The labels beside a pickled frame: a pandas Series, or a NumPy array or
/// list with one value per row.
fn labels_column(v: &super::pickle::Value) -> Result<ArrayRef, String> {
    if let Some(series) = super::pdpickle::series(v) {
        return series;
    }
    match pickled_array(v) {
        Some(a) if a.shape.len() == 1 => Ok(a.values),
        _ => Err(
            "labels beside it that are not a Series, an array or a list of one value \
                  per row"
                .into(),
        ),
    }
}

/// What a pickle holds: a pandas frame, read as a table, or arrays.
enum Pickled {
    Frame(RecordBatch),
    Arrays(Vec<(String, Npy)>),
}

/// The arrays of a `.npz` archive, by name (without `.npy`), in archive
/// order.
fn read_npz(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let file = std::fs::File::open(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut archive = ::zip::ZipArchive::new(file).map_err(|e| {
        npz_error(
            path,
            format!("not a NumPy archive (a zip of .npy files): {e}"),
        )
    })?;
    let mut arrays = Vec::new();
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| npz_error(path, e.to_string()))?;
        let name = member.name().to_string();
        let Some(key) = name.strip_suffix(".npy") else {
            continue;
        };
        let mut bytes = Vec::with_capacity(member.size() as usize);
        member
            .read_to_end(&mut bytes)
            .map_err(|e| npz_error(path, format!("`{name}` cannot be unpacked: {e}")))?;
        let npy = parse_npy(&bytes).map_err(|e| npz_error(path, format!("`{name}`: {e}")))?;
        arrays.push((key.to_string(), npy));
    }
    Ok(arrays)
}

/// Name pairs of a features file and its labels file saved side by side
/// (`X_train.npy` and `y_train.npy`), tried both ways in a file's name.
const PARTNERS: [(&str, &str); 6] = [
    ("X", "y"),
    ("x", "y"),
    ("features", "labels"),
    ("data", "labels"),
    ("images", "labels"),
    ("inputs", "targets"),
];

/// Whether `word` names a half of a pair (`X`, `labels`; see [`PARTNERS`]).
pub(super) fn pair_word(word: &str) -> bool {
    PARTNERS.iter().any(|&(a, b)| word == a || word == b)
}

/// A file's name without its `.npy`.
fn stem(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".npy").to_string())
        .unwrap_or_default()
}

/// The other half of a `.npy` file's pair beside it (see [`PARTNERS`]),
/// if there is one.
pub(super) fn partner(path: &Path) -> Option<std::path::PathBuf> {
    let name = stem(path);
    PARTNERS
        .iter()
        .flat_map(|&(a, b)| [(a, b), (b, a)])
        .filter(|(a, _)| name.contains(a))
        .map(|(a, b)| path.with_file_name(format!("{}.npy", name.replacen(a, b, 1))))
        .find(|p| p.is_file())
}

/// The labels half of a features file's pair beside it, whatever its
/// format (`y_train.csv` for `X_train.csv`, `labels.parquet` for
/// `features.parquet`; see [`PARTNERS`]), if there is one.
pub(super) fn labels_beside(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    PARTNERS
        .iter()
        .filter(|(features, _)| name.contains(features))
        .map(|(features, labels)| path.with_file_name(name.replacen(features, labels, 1)))
        .find(|p| p.is_file() && p != path)
}

/// Whether `p` names a single `.npy` array (not a `.npz` archive).
fn is_npy(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// The inputs with both halves of a `.npy` pair given kept once (the
/// first): each half reads the pair.
pub(super) fn one_per_pair(paths: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    let mut kept: Vec<std::path::PathBuf> = Vec::with_capacity(paths.len());
    for p in paths {
        // only a `.npy` has a partner: an archive is looked up no further
        let other = is_npy(&p).then(|| partner(&p)).flatten();
        if !kept.iter().any(|q| Some(q) == other.as_ref()) {
            kept.push(p);
        }
    }
    kept
}

/// A `.npy` file and the other half of its pair (see [`partner`]), read as
/// two arrays named after their files.
fn read_npy_pair(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let partner = partner(path).ok_or_else(|| {
        npz_error(
            path,
            "one NumPy array, which holds no labels, and no labels file beside it \
                 (`X_train.npy` goes with `y_train.npy`, `features.npy` with `labels.npy`): \
                 save the features and labels together with numpy.savez(\"data.npz\", x=…, y=…)",
        )
    })?;
    [path.to_path_buf(), partner]
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|error| IngestError::Io {
                path: p.clone(),
                error,
            })?;
            let npy = parse_npy(&bytes).map_err(|e| npz_error(p, e))?;
            Ok((stem(p), npy))
        })
        .collect()
}

/// Reads a `.npz` archive as one batch: a label column named `label` (the
/// `--label` option, whatever the labels array is called) and a feature
/// column named after the features array (a fixed-size list; images keep
/// their shape in the schema's metadata).
///
/// The features are the array `--embedding` names, else the first of
/// [`FEATURE_NAMES`] there is; the labels, the array `--label` names, else
/// the first of [`LABEL_NAMES`] — or, in an archive of two arrays, the one
/// with a value per row and the other. A Keras-style archive
/// (`x_train`, `y_train`, `x_test`, `y_test`) is read for its training
/// arrays, with a note.
pub(super) fn read(
    path: &Path,
    embedding: Option<&str>,
    label: &str,
    notes: &mut Vec<String>,
) -> Result<RecordBatch, IngestError> {
    // the picking below is shared by the files read as arrays; its errors
    // name the format the arrays came from
    let object_npy = is_object_npy(path);
    // a pickle, and whether it is a PyTorch zip's (else in a file of its
    // own; a `.npy` of objects holds one after its header)
    let pickle = || {
        let torch = super::torch::is_torch(path);
        (torch || object_npy || is_pickle(path)).then_some(torch)
    };
    let (arrays, format) = if is_npy(path) && !object_npy {
        (read_npy_pair(path)?, "npz")
    } else if super::h5::is_h5(path) {
        (super::h5::read_h5(path)?, "HDF5")
    } else if super::mat::is_mat(path) {
        (super::mat::read_mat(path)?, "MATLAB")
    } else if super::stl10::is_stl10(path) {
        (super::stl10::read(path)?, "STL-10 binary")
    } else if super::cifar::is_cifar_bin(path) {
        (super::cifar::read(path)?, "CIFAR binary")
    } else if super::safetensors::is_safetensors(path) {
        (super::safetensors::read(path)?, "safetensors")
    } else if let Some(torch) = pickle() {
        match read_pickle(path, torch, label, notes)? {
            Pickled::Frame(frame) => return Ok(frame),
            Pickled::Arrays(arrays) => (arrays, "pickle"),
        }
    } else {
        (read_npz(path)?, "npz")
    };

    let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
    let listed = || names.join(", ");
    // by name; an array in a group (an HDF5 file's `train/data`) by its
    // own name too, a training split's before the others
    let find = |wanted: &str| {
        let own = |n: &str| n.rsplit('/').next() == Some(wanted);
        let in_train = |n: &str| {
            n.split('/')
                .rev()
                .skip(1)
                .any(|g| g.to_ascii_lowercase().starts_with("train"))
        };
        arrays
            .iter()
            .position(|(n, _)| n == wanted)
            .or_else(|| arrays.iter().position(|(n, _)| own(n) && in_train(n)))
            .or_else(|| arrays.iter().position(|(n, _)| own(n)))
    };
    let pick = |given: Option<&str>, defaults: &[&str]| -> Option<usize> {
        match given {
            Some(g) => find(g),
            None => defaults.iter().find_map(|d| find(d)),
        }
    };
    let mut x = match embedding {
        Some(e) => Some(find(e).ok_or_else(|| {
            array_error(
                path,
                format,
                format!("no array `{e}` (--embedding); it holds {}", listed()),
            )
        })?),
        None => pick(None, &FEATURE_NAMES),
    };
    // `label`, the option's default, may name no array
    let mut y = match find(label) {
        Some(y) => Some(y),
        None if label != "label" => {
            return Err(array_error(
                path,
                format,
                format!("no array `{label}` (--label); it holds {}", listed()),
            ))
        }
        None => pick(None, &LABEL_NAMES),
    };
    if (x.is_none() || y.is_none()) && arrays.len() == 2 {
        // two arrays: the labels hold one value per row
        let one_d = arrays.iter().position(|(_, a)| a.shape.len() == 1);
        if let Some(l) = one_d {
            y = y.or(Some(l));
            x = x.or(Some(1 - l));
        }
    }
    if let (Some(xi), None) = (x, y) {
        // the labels, unnamed: the one array of whole numbers or text with
        // a value per row of the features (Galaxy10's `ans` beside its
        // `ra`, `dec`)
        let rows = arrays[xi].1.shape.first().copied();
        let classes: Vec<usize> = (0..arrays.len())
            .filter(|&i| {
                let a = &arrays[i].1;
                i != xi && a.shape.len() == 1 && Some(a.shape[0]) == rows && holds_classes(a)
            })
            .collect();
        if let [only] = classes[..] {
            notes.push(format!(
                "{}: took `{}` as the labels, the one array of whole numbers or text with a \
                 value per row of `{}` (--label ARRAY to choose)",
                path.display(),
                arrays[only].0,
                arrays[xi].0
            ));
            y = Some(only);
        } else if let Some(fine) = classes
            .iter()
            .copied()
            .find(|&i| arrays[i].0 == "fine_labels")
        {
            // CIFAR-100 (its pickles and binary records): the 100 classes
            // its task is, beside their 20 superclasses
            notes.push(format!(
                "{}: took `fine_labels` as the labels, CIFAR-100's 100 classes \
                 (--label coarse_labels for its 20 superclasses)",
                path.display()
            ));
            y = Some(fine);
        }
    }
    let (Some(x), Some(y)) = (x, y) else {
        return Err(array_error(
            path,
            format,
            format!(
                "cannot tell the features and the labels among its arrays ({}); name them \
                 with --embedding ARRAY and --label ARRAY",
                listed()
            ),
        ));
    };
    if x == y {
        return Err(array_error(
            path,
            format,
            "the features and the labels are the same array",
        ));
    }
    let (x_name, features) = (&arrays[x].0, &arrays[x].1);
    let (y_name, labels) = (&arrays[y].0, &arrays[y].1);
    let unused: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n != x_name && n != y_name)
        .collect();
    if !unused.is_empty() {
        notes.push(format!(
            "{}: scanned the arrays `{x_name}` (features) and `{y_name}` (labels); {} not read",
            path.display(),
            unused
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let rows = *features.shape.first().unwrap_or(&0);
    // one-hot labels (Keras's `to_categorical`): the class of each row's 1
    let one_hot = one_hot_classes(labels);
    if one_hot.is_some() {
        notes.push(format!(
            "{}: the labels `{y_name}` are one-hot rows ({} classes); each row's class is \
             the position of its 1",
            path.display(),
            labels.shape[1]
        ));
    }
    let label_values = one_hot.unwrap_or_else(|| labels.values.clone());
    let label_rows = if label_values.len() == labels.values.len() {
        labels.shape.clone()
    } else {
        vec![label_values.len()]
    };
    if label_rows.len() != 1 || label_rows[0] != rows {
        return Err(array_error(
            path,
            format,
            format!(
                "the labels `{y_name}` (shape {:?}) do not give one value per row of the \
                 features `{x_name}` (shape {:?})",
                labels.shape, features.shape
            ),
        ));
    }
    let width: usize = features.shape.iter().skip(1).product();
    if features.shape.len() < 2 || width == 0 {
        return Err(array_error(
            path,
            format,
            format!(
                "the features `{x_name}` (shape {:?}) have no values per row",
                features.shape
            ),
        ));
    }
    // images: n × h × w, or n × h × w × c with 1, 3 or 4 channels
    let image = super::batch::image_shape(&features.shape[1..]);
    // (square grey or colour images channels first are told from their
    // values, as any list column's: see `layout`)
    if let (None, [c, h, w]) = (image, &features.shape[1..]) {
        if matches!(c, 1 | 3 | 4) && *h >= 8 && *w >= 8 && (h != w || *c == 4) {
            notes.push(format!(
                "{}: the features `{x_name}` are {c}×{h}×{w} per row, channels first as \
                 PyTorch keeps them: scanned as vectors of {width}; save \
                 numpy.moveaxis(x, 1, -1) to scan them as {h}x{w} images",
                path.display()
            ));
        }
    }
    let item = Arc::new(Field::new(
        "item",
        features.values.data_type().clone(),
        false,
    ));
    let list = FixedSizeListArray::try_new(item, width as i32, features.values.clone(), None)
        .map_err(|e| array_error(path, format, e.to_string()))?;
    let mut meta = std::collections::HashMap::new();
    meta.insert(META_FEATURES.to_string(), x_name.clone());
    if let Some((h, w, c)) = image {
        meta.insert(META_IMAGE_SHAPE.to_string(), format!("{h}x{w}x{c}"));
    }
    let schema = Schema::new(vec![
        Field::new(label, label_values.data_type().clone(), false),
        Field::new(x_name, list.data_type().clone(), false),
    ])
    .with_metadata(meta);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![label_values, Arc::new(list) as ArrayRef],
    )
    .map_err(|e| array_error(path, format, e.to_string()))
}

/// A folder of arrays by class: its `.npy` files with their classes, in
/// path order, and how many other files it holds.
pub(super) struct ArrayFolder {
    files: Vec<(std::path::PathBuf, String)>,
    others: usize,
}

/// `root` as a folder of arrays by class — `.npy` files in class folders
/// (`root/<class>/<sample>.npy`, as feature-extraction pipelines save an
/// embedding or a spectrogram a sample), at least two, and no picture —
/// or `None` (a file, an image folder).
pub(super) fn array_folder(root: &Path) -> Result<Option<ArrayFolder>, IngestError> {
    if !root.is_dir() {
        return Ok(None);
    }
    let mut folder = ArrayFolder {
        files: Vec::new(),
        others: 0,
    };
    for entry in walkdir::WalkDir::new(root)
        .min_depth(2)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(|e| super::walk_error(e, root))?;
        if !entry.file_type().is_file() {
            continue;
        }
        if super::images::is_image(entry.path()) {
            return Ok(None);
        }
        if !is_npy(entry.path()) {
            folder.others += 1;
            continue;
        }
        let class = super::images::class_folder(root, entry.path());
        folder.files.push((entry.into_path(), class));
    }
    Ok((folder.files.len() >= 2).then_some(folder))
}

/// Reads a folder of arrays by class (see [`array_folder`]): each file a
/// row, its class the folder below `root` it sits in, its id its path
/// inside `root`, in path order; every array of one shape — a vector, or
/// a picture `h × w [× c]` (scanned as pixels) — as numbers. Other files
/// are left out with a note; an array of another shape, or one that is not
/// numbers, is an error naming it.
pub(super) fn load_folder(
    root: &Path,
    folder: ArrayFolder,
    options: &super::IngestOptions,
) -> Result<super::Dataset, IngestError> {
    use sha2::{Digest, Sha256};
    let ArrayFolder { files, others } = folder;
    let mut shape: Option<Vec<usize>> = None;
    let mut values: Vec<f32> = Vec::new();
    let mut hasher = Sha256::new();
    let mut bytes_read = 0u64;
    for (path, _) in &files {
        let bytes = super::file_bytes(path)?;
        let npy = parse_npy(&bytes).map_err(|e| npz_error(path, e))?;
        match &shape {
            None => {
                super::check_fits(
                    files.len(),
                    npy.shape.iter().product(),
                    &root.display().to_string(),
                )?;
                shape = Some(npy.shape.clone());
            }
            Some(first) if *first != npy.shape => {
                return Err(npz_error(
                    path,
                    format!(
                        "an array of shape {:?} where {} holds {:?}: every sample's array \
                         must have one shape",
                        npy.shape,
                        files[0].0.display(),
                        first
                    ),
                ))
            }
            Some(_) => {}
        }
        let kind = npy.values.data_type();
        let numbers = (kind.is_numeric() || *kind == arrow::datatypes::DataType::Boolean)
            .then(|| arrow::compute::cast(&npy.values, &arrow::datatypes::DataType::Float32).ok())
            .flatten()
            .ok_or_else(|| npz_error(path, format!("its values are {kind}, not numbers")))?;
        values.extend(
            numbers
                .as_any()
                .downcast_ref::<Float32Array>()
                .expect("cast")
                .iter()
                .map(|v| v.unwrap_or(f32::NAN)),
        );
        let rel = path.strip_prefix(root).expect("under root");
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0u8]);
        hasher.update(Sha256::digest(&bytes));
        bytes_read += bytes.len() as u64;
    }
    let shape = shape.unwrap_or_default();
    let width: usize = shape.iter().product();
    if width == 0 {
        return Err(npz_error(&files[0].0, "an empty array"));
    }
    let item = Arc::new(Field::new(
        "item",
        arrow::datatypes::DataType::Float32,
        false,
    ));
    let list = FixedSizeListArray::try_new(
        item,
        width as i32,
        Arc::new(Float32Array::from(values)),
        None,
    )
    .map_err(|e| npz_error(root, e.to_string()))?;
    let mut meta = std::collections::HashMap::new();
    meta.insert(META_FEATURES.to_string(), "array".to_string());
    if let Some((h, w, c)) = super::batch::image_shape(&shape) {
        meta.insert(META_IMAGE_SHAPE.to_string(), format!("{h}x{w}x{c}"));
    }
    let label = options.table.label.clone();
    let ids: Vec<String> = files
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let classes: Vec<String> = files.iter().map(|(_, c)| c.clone()).collect();
    let schema = Schema::new(vec![
        Field::new(&label, arrow::datatypes::DataType::Utf8, false),
        Field::new("path", arrow::datatypes::DataType::Utf8, false),
        Field::new("array", list.data_type().clone(), false),
    ])
    .with_metadata(meta);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(classes)) as ArrayRef,
            Arc::new(StringArray::from(ids)),
            Arc::new(list),
        ],
    )
    .map_err(|e| npz_error(root, e.to_string()))?;
    let mut table = options.table.clone();
    table.id.get_or_insert_with(|| "path".into());
    let mut ds = super::from_record_batch(&batch, &table)?;
    ds.sources = vec![super::SourceFile {
        path: root.to_path_buf(),
        bytes: bytes_read,
        sha256: super::hex(&hasher.finalize()),
        rows: files.len() as u64,
        first_row: 0,
    }];
    ds.notes.push(format!(
        "{}: read {} arrays of shape {shape:?}, one a row, each under the class folder it \
         sits in{}",
        root.display(),
        files.len(),
        match others {
            0 => String::new(),
            n => format!("; left out {n} other file(s)"),
        }
    ));
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn one_hot_labels_become_classes() {
        let one_hot = Npy {
            shape: vec![3, 3],
            values: Arc::new(Float32Array::from(vec![
                0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
            ])),
        };
        let classes = one_hot_classes(&one_hot).unwrap();
        let classes = classes.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(classes.values().to_vec(), vec![1, 0, 2]);
        // soft labels, two ones in a row, or a row of zeros are not one-hot
        for values in [
            vec![0.1, 0.9, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        ] {
            let npy = Npy {
                shape: vec![3, 3],
                values: Arc::new(Float32Array::from(values)),
            };
            assert!(one_hot_classes(&npy).is_none());
        }
    }

    #[test]
    fn npy_numbers_text_and_errors() {
        let a = parse_npy(&npy(
            "<f4",
            "(2, 2)",
            &[0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64],
        ))
        .unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        let v = a.values.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(v.values().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        // Fortran order (pandas' `.to_numpy()` saved): read in C order
        let fortran = |shape: &str, data: &[u8]| {
            let mut bytes = npy("|u1", shape, data);
            let (from, to) = (b"'fortran_order': False", b"'fortran_order': True ");
            let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
            bytes[at..at + to.len()].copy_from_slice(to);
            parse_npy(&bytes).unwrap()
        };
        let f = fortran("(2, 3)", &[1, 4, 2, 5, 3, 6]);
        let v = f.values.as_any().downcast_ref::<UInt8Array>().unwrap();
        assert_eq!(
            (f.shape.clone(), v.values().to_vec()),
            (vec![2, 3], vec![1, 2, 3, 4, 5, 6])
        );
        // (2, 2, 2): element (i, j, k) at Fortran offset i + 2j + 4k
        let f = fortran("(2, 2, 2)", &[0, 4, 2, 6, 1, 5, 3, 7]);
        let v = f.values.as_any().downcast_ref::<UInt8Array>().unwrap();
        assert_eq!(v.values().to_vec(), (0..8).collect::<Vec<u8>>());
        let b = parse_npy(&npy(">i2", "(2,)", &[0, 7, 255, 254])).unwrap();
        let v = b.values.as_any().downcast_ref::<Int16Array>().unwrap();
        assert_eq!(v.values().to_vec(), vec![7, -2]);
        let mut text = Vec::new();
        for s in ["cat", "ox"] {
            for i in 0..3 {
                let c = s.chars().nth(i).map_or(0, |c| c as u32);
                text.extend(c.to_le_bytes());
            }
        }
        let t = parse_npy(&npy("<U3", "(2,)", &text)).unwrap();
        let v = t.values.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((v.value(0), v.value(1)), ("cat", "ox"));
        let h = parse_npy(&npy("<f2", "(2,)", &[0x00, 0x3c, 0x00, 0xc0])).unwrap();
        let v = h.values.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(v.values().to_vec(), vec![1.0, -2.0]);
        assert!(parse_npy(&npy("|O", "(2,)", &[0; 16]))
            .unwrap_err()
            .contains("Python objects"));
        assert!(parse_npy(&npy("<f8", "(3,)", &[0; 16]))
            .unwrap_err()
            .contains("cut short"));
        assert!(parse_npy(b"PK\x03\x04")
            .unwrap_err()
            .contains("not a NumPy"));
        // a shape whose size overflows is an error, not a wrapped count
        let huge = format!("({}, 4)", u64::MAX / 2);
        assert!(parse_npy(&npy("<f8", &huge, &[0; 16])).is_err());
        let wide = format!("({}, 2)", usize::MAX / 8);
        assert!(parse_npy(&npy("<f8", &wide, &[0; 16])).is_err());
    }
}
