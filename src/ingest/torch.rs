//! PyTorch files (`torch.save`: `*.pt`, `*.pth`, or a zip holding
//! `…/data.pkl`) of tensors — torchvision's `processed/training.pt`, a
//! `torch.save((x, y))` or `torch.save({"x": x, "y": y})` — read as data:
//! the pickle is read by poisonscan's own reader, which runs nothing (as
//! `torch.load(weights_only=True)` refuses to), and each tensor
//! (`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`)
//! becomes the NumPy array of its storage's bytes (`…/data/<key>`, in the
//! archive's byte order), gathered by its strides. Then it is a pickle of
//! arrays like any other ([`super::npz`]).
//!
//! Storages of every numeric type are read (`bfloat16` as `float32`);
//! anything else a pickle could rebuild is only recorded, never made.

use std::io::Read;
use std::path::Path;

use super::pickle::Value;

/// Whether a file is a PyTorch zip: by its name, or a zip holding
/// `…/data.pkl`.
pub(super) fn is_torch(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".pt") || name.ends_with(".pth") {
        return true;
    }
    std::fs::File::open(path)
        .ok()
        .and_then(|f| ::zip::ZipArchive::new(f).ok())
        .is_some_and(|a| {
            a.file_names()
                .any(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        })
}

/// A PyTorch file's pickle, its tensors rebuilt as NumPy arrays.
pub(super) fn read(path: &Path) -> Result<Value, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = ::zip::ZipArchive::new(file).map_err(|e| {
        format!(
            "not a PyTorch zip ({e}); a file of torch's legacy format (before 1.6) is not \
             read: save it again with torch.save, or as numpy.savez(\"data.npz\", x=…, y=…)"
        )
    })?;
    let pickle = archive
        .file_names()
        .find(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
        .map(str::to_string)
        .ok_or("a zip without the `data.pkl` of a PyTorch file")?;
    let prefix = pickle.strip_suffix("data.pkl").unwrap_or("").to_string();
    let mut entry = |name: &str| -> Result<Option<Vec<u8>>, String> {
        let Ok(mut f) = archive.by_name(name) else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| format!("`{name}` cannot be read: {e}"))?;
        Ok(Some(bytes))
    };
    let data = entry(&pickle)?.ok_or("`data.pkl` cannot be read")?;
    let big = entry(&format!("{prefix}byteorder"))?.is_some_and(|b| b.starts_with(b"big"));
    let value = super::pickle::read(&data).map_err(|e| format!("its pickle: {e}"))?;
    let mut storage = |key: &str| -> Result<Vec<u8>, String> {
        entry(&format!("{prefix}data/{key}"))?
            .ok_or_else(|| format!("the storage `data/{key}` is missing"))
    };
    rebuild(value, &mut storage, big, 0)
}

/// NumPy's code and width of a storage type (`FloatStorage`, …).
fn storage_dtype(name: &str) -> Option<(&'static str, usize)> {
    Some(match name {
        "FloatStorage" => ("f", 4),
        "DoubleStorage" => ("f", 8),
        "HalfStorage" => ("f", 2),
        "BFloat16Storage" => ("bf", 2),
        "LongStorage" => ("i", 8),
        "IntStorage" => ("i", 4),
        "ShortStorage" => ("i", 2),
        "CharStorage" => ("i", 1),
        "ByteStorage" => ("u", 1),
        "BoolStorage" => ("b", 1),
        _ => return None,
    })
}

/// `value` with every tensor replaced by the array it holds.
fn rebuild(
    value: Value,
    storage: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
    big: bool,
    depth: usize,
) -> Result<Value, String> {
    if depth > 64 {
        return Err("values nested too deep".into());
    }
    let mut all = |items: Vec<Value>| -> Result<Vec<Value>, String> {
        items
            .into_iter()
            .map(|v| rebuild(v, storage, big, depth + 1))
            .collect()
    };
    Ok(match value {
        Value::List(items) => Value::List(all(items)?),
        Value::Tuple(items) => Value::Tuple(all(items)?),
        Value::Dict(entries) => Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| Ok((k, rebuild(v, storage, big, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
        v if matches!(
            v.class(),
            Some(("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor"))
        ) =>
        {
            tensor(&v, storage, big)?
        }
        other => other,
    })
}

/// One tensor as `_frombuffer(bytes, dtype, shape, "C")`.
fn tensor(
    v: &Value,
    storage: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
    big: bool,
) -> Result<Value, String> {
    let Value::Object { args, .. } = v else {
        unreachable!("a tensor is an object")
    };
    let bad = || "a tensor that cannot be rebuilt".to_string();
    let [pid, Value::Int(offset), size, stride, ..] = args.items().ok_or_else(bad)? else {
        return Err(bad());
    };
    // the persistent id: ("storage", type, key, location, count)
    let pid = match pid {
        Value::Object { callable, args, .. }
            if callable.class() == Some(("pickle", "persistent_id")) =>
        {
            args.items().ok_or_else(bad)?
        }
        _ => return Err(bad()),
    };
    let [_, kind, key, ..] = pid else {
        return Err(bad());
    };
    let kind = kind.class().map(|(_, n)| n).unwrap_or_default();
    let (code, width) =
        storage_dtype(kind).ok_or_else(|| format!("a tensor of `{kind}`, not numbers"))?;
    let key = key.as_text().ok_or_else(bad)?;
    let (shape, strides) = (
        size.sizes().ok_or_else(bad)?,
        stride.sizes().ok_or_else(bad)?,
    );
    if shape.len() != strides.len() {
        return Err(bad());
    }
    let bytes = storage(&key)?;
    let offset = usize::try_from(*offset).map_err(|_| bad())?;
    // a view may repeat its storage's values (stride 0), but not without
    // bound: a damaged size is an error, not an allocation
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n.saturating_mul(width) <= bytes.len().max(1 << 20).saturating_mul(64))
        .ok_or("a tensor far larger than its storage")?;
    // the elements in C order, each at offset + Σ index × stride
    let mut out = Vec::with_capacity(count * width);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..count {
        let at = offset
            + index
                .iter()
                .zip(&strides)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        let item = bytes
            .get(at * width..(at + 1) * width)
            .ok_or("a tensor past the end of its storage (cut short?)")?;
        out.extend_from_slice(item);
        for m in (0..shape.len()).rev() {
            index[m] += 1;
            if index[m] < shape[m] {
                break;
            }
            index[m] = 0;
        }
    }
    let (code, width, out) = if code == "bf" {
        ("f", 4, super::npz::bfloat16_as_f32(&out, big))
    } else {
        (code, width, out)
    };
    Ok(Value::frombuffer(
        out,
        Value::numpy_dtype(&format!("{code}{width}"), big),
        Value::Tuple(shape.iter().map(|&d| Value::Int(d as i64)).collect()),
        Value::Str("C".into()),
    ))
}
