//! safetensors files (`*.safetensors`, as Hugging Face's `safetensors`
//! library saves a dict of tensors — `save_file({"images": x, "labels":
//! y})` from NumPy, PyTorch, TensorFlow or JAX alike): an 8-byte
//! little-endian header length, a JSON header naming each tensor's dtype,
//! shape and byte range, then the tensors' bytes, little-endian, in C
//! order. Read as the arrays of a NumPy archive ([`super::npz`]): the
//! features and labels are picked from them by name, and a file of a
//! model's weights, which holds no labels, gets the error that lists what
//! it holds.

use std::path::Path;

use super::npz::{bfloat16_as_f32, typed_values, Npy};
use super::IngestError;

/// Largest header the format allows (the `safetensors` library refuses
/// more): a longer one is not a safetensors file.
const MAX_HEADER: u64 = 100_000_000;

/// Whether `path` is named as a safetensors file.
pub(super) fn is_safetensors(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// NumPy's type code and width of a safetensors dtype; `None` for one not
/// read (8-bit floats, complex numbers).
fn dtype(name: &str) -> Option<(&'static str, usize)> {
    Some(match name {
        "BOOL" => ("b", 1),
        "U8" => ("u", 1),
        "I8" => ("i", 1),
        "U16" => ("u", 2),
        "I16" => ("i", 2),
        "F16" => ("f", 2),
        "BF16" => ("bf", 2), // read as float32
        "U32" => ("u", 4),
        "I32" => ("i", 4),
        "F32" => ("f", 4),
        "U64" => ("u", 8),
        "I64" => ("i", 8),
        "F64" => ("f", 8),
        _ => return None,
    })
}

/// The tensors of a safetensors file, in the header's order, as arrays.
pub(super) fn read(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let bytes = super::file_bytes(path)?;
    let bad = |message: String| IngestError::Read {
        path: path.to_path_buf(),
        format: "safetensors",
        message,
    };
    let length = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| {
            bad(format!(
                "{} bytes, fewer than a header's length",
                bytes.len()
            ))
        })?;
    let data_start = 8 + length;
    if length > MAX_HEADER || data_start > bytes.len() as u64 {
        return Err(bad(format!(
            "a header of {length} bytes in a file of {} (is this a safetensors file?)",
            bytes.len()
        )));
    }
    let data = &bytes[data_start as usize..];
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..data_start as usize])
            .map_err(|e| bad(format!("its header is not a JSON object: {e}")))?;
    let mut arrays = Vec::new();
    for (name, tensor) in header.iter().filter(|(n, _)| *n != "__metadata__") {
        let field = |key: &str| {
            tensor
                .get(key)
                .ok_or_else(|| bad(format!("tensor `{name}` has no `{key}`")))
        };
        let numbers = |key: &str| -> Result<Vec<usize>, IngestError> {
            field(key)?
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|v| v.as_u64().map(|v| v as usize))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| bad(format!("tensor `{name}`: `{key}` is not a list of counts")))
        };
        let kind = field("dtype")?.as_str().unwrap_or_default();
        let (code, width) = dtype(kind).ok_or_else(|| {
            bad(format!(
                "tensor `{name}` has dtype {kind}, which is not read (booleans, integers and \
                 16-, 32- or 64-bit floats are); save it as float32"
            ))
        })?;
        let shape = numbers("shape")?;
        let (begin, end) = match numbers("data_offsets")?[..] {
            [begin, end] if begin <= end && end <= data.len() => (begin, end),
            _ => {
                return Err(bad(format!(
                    "tensor `{name}`: its byte range is not within the {} bytes of data",
                    data.len()
                )))
            }
        };
        let items: usize = shape.iter().product();
        if items.checked_mul(width) != Some(end - begin) {
            return Err(bad(format!(
                "tensor `{name}`: {} bytes for {items} values of {kind}",
                end - begin
            )));
        }
        let values = match code {
            "bf" => typed_values("f", 4, false, &bfloat16_as_f32(&data[begin..end], false)),
            _ => typed_values(code, width, false, &data[begin..end]),
        }
        .expect("every dtype read has an array type");
        arrays.push((name.clone(), Npy { shape, values }));
    }
    Ok(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float32Array, Int64Array, UInt8Array};

    /// A safetensors file of `tensors` (name, dtype, shape, bytes).
    fn file(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::json!({"format": "np"}));
        let mut data = Vec::new();
        for (name, kind, shape, bytes) in tensors {
            let at = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": kind, "shape": shape, "data_offsets": [at, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header);
        out.extend(data);
        out
    }

    #[test]
    fn tensors_are_read_as_arrays_and_a_bad_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.safetensors");
        assert!(is_safetensors(&path));
        let pixels: Vec<u8> = (0..2 * 2 * 3).collect();
        let labels: Vec<u8> = [7i64, 3].iter().flat_map(|l| l.to_le_bytes()).collect();
        // bfloat16: the high halves of 1.5 and −2.0
        let halves: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|f| ((f.to_bits() >> 16) as u16).to_le_bytes())
            .collect();
        std::fs::write(
            &path,
            file(&[
                ("images", "U8", vec![2, 2, 3], pixels.clone()),
                ("labels", "I64", vec![2], labels),
                ("scale", "BF16", vec![2], halves),
            ]),
        )
        .unwrap();
        let arrays = read(&path).unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["images", "labels", "scale"]);
        assert_eq!(arrays[0].1.shape, vec![2, 2, 3]);
        let values = |i: usize| arrays[i].1.values.clone();
        let images = values(0);
        let images = images.as_any().downcast_ref::<UInt8Array>().unwrap();
        assert_eq!(images.values().to_vec(), pixels);
        let labels = values(1);
        let labels = labels.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(labels.values(), &[7, 3]);
        let scale = values(2);
        let scale = scale.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(scale.values(), &[1.5, -2.0]);

        // a range past the data, a size that does not fit the shape, a
        // dtype not read, a header longer than the file: errors naming
        // the file
        let cases = [
            (
                file(&[("x", "F32", vec![4], vec![0; 8])]),
                "tensor `x`: 8 bytes for 4 values of F32",
            ),
            (
                file(&[("x", "F8_E4M3", vec![2], vec![0; 2])]),
                "tensor `x` has dtype F8_E4M3",
            ),
            (vec![255; 16], "a header of"),
            (vec![1, 2], "fewer than a header's length"),
        ];
        for (bytes, message) in cases {
            std::fs::write(&path, bytes).unwrap();
            let e = read(&path).unwrap_err().to_string();
            assert!(
                e.contains("digits.safetensors") && e.contains(message),
                "{e}"
            );
        }
        let mut bytes = file(&[("x", "U8", vec![2], vec![1, 2])]);
        let at = bytes.len() - 2;
        bytes.truncate(at + 1);
        std::fs::write(&path, &bytes).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("byte range"), "{e}");
    }
}
