//! CIFAR's binary version (`cifar-10-batches-bin/data_batch_1.bin`, "for C
//! programs", as TensorFlow's and Caffe's tutorials read it; and
//! `cifar-100-binary/train.bin`): records of a label byte (CIFAR-100: a
//! coarse and a fine one) and 3,072 pixel bytes, the red, green and blue
//! 32 × 32 planes one after another. Read as the arrays of the python
//! version's pickles — `data`, here as n pictures of 32 × 32 × 3 (channels
//! last), and `labels` (CIFAR-100: `coarse_labels` and `fine_labels`) —
//! so that the two downloads scan alike.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, UInt8Array};

use super::npz::Npy;
use super::IngestError;

/// Pixel bytes of a record: three 32 × 32 planes.
const PIXELS: usize = 3 * 32 * 32;

/// Label bytes before a record's pixels: CIFAR-10's one, or CIFAR-100's
/// coarse and fine label.
fn label_bytes(path: &Path, size: u64) -> Option<usize> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let fits = |labels: usize| size > 0 && size.is_multiple_of((labels + PIXELS) as u64);
    if !name.ends_with(".bin") {
        return None;
    }
    // by its names first (a size can be a multiple of both records')
    let hundred = folder.contains("cifar-100") || folder.contains("cifar100");
    let ten = folder.contains("cifar-10") && !hundred
        || name.starts_with("data_batch_")
        || name == "test_batch.bin";
    match (ten, hundred) {
        (true, _) => fits(1).then_some(1),
        (_, true) => fits(2).then_some(2),
        _ => match (fits(1), fits(2)) {
            (true, false) => Some(1),
            (false, true) => Some(2),
            _ => None,
        },
    }
}

/// Whether `path` is a file of CIFAR's binary records.
pub(super) fn is_cifar_bin(path: &Path) -> bool {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .and_then(|m| label_bytes(path, m.len()))
        .is_some()
}

/// The arrays of a file of CIFAR's binary records (see the module).
pub(super) fn read(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let bytes = super::file_bytes(path)?;
    let bad = |message: String| IngestError::Read {
        path: path.to_path_buf(),
        format: "CIFAR binary",
        message,
    };
    let labels = label_bytes(path, bytes.len() as u64).ok_or_else(|| {
        bad(format!(
            "{} bytes are not whole records of a label byte (two for CIFAR-100) and {PIXELS} \
             pixels",
            bytes.len()
        ))
    })?;
    let record = labels + PIXELS;
    let n = bytes.len() / record;
    let mut pixels = Vec::with_capacity(n * PIXELS);
    let mut label: Vec<Vec<i64>> = vec![Vec::with_capacity(n); labels];
    for (i, r) in bytes.chunks_exact(record).enumerate() {
        // CIFAR-10 has 10 classes; CIFAR-100 20 coarse and 100 fine
        let most = if labels == 1 { [10, 0] } else { [20, 100] };
        for (k, &l) in r[..labels].iter().enumerate() {
            if l >= most[k] {
                return Err(bad(format!(
                    "record {i} has label {l}, but CIFAR's labels are below {}; is this a \
                     CIFAR file?",
                    most[k]
                )));
            }
            label[k].push(l as i64);
        }
        // planes to channels last: every record is a 32 × 32 colour
        // picture, whatever its values' layout would say
        let planes = &r[labels..];
        pixels.extend((0..PIXELS).map(|k| planes[(k % 3) * (PIXELS / 3) + k / 3]));
    }
    let array =
        |name: &str, shape: Vec<usize>, values: ArrayRef| (name.to_string(), Npy { shape, values });
    let mut out = vec![array(
        "data",
        vec![n, 32, 32, 3],
        Arc::new(UInt8Array::from(pixels)),
    )];
    let names: &[&str] = if labels == 1 {
        &["labels"]
    } else {
        &["coarse_labels", "fine_labels"]
    };
    for (name, values) in names.iter().zip(label) {
        out.push(array(name, vec![n], Arc::new(Int64Array::from(values))));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_told_by_name_and_size_and_read_as_the_python_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let ten = dir.path().join("data_batch_1.bin");
        let mut bytes = Vec::new();
        for i in 0..3u8 {
            bytes.push(i);
            bytes.extend(std::iter::repeat_n(i * 10, PIXELS));
        }
        std::fs::write(&ten, &bytes).unwrap();
        assert!(is_cifar_bin(&ten));
        let arrays = read(&ten).unwrap();
        assert_eq!(arrays[0].0, "data");
        assert_eq!(arrays[0].1.shape, vec![3, 32, 32, 3]);
        assert_eq!(arrays[1].0, "labels");
        let labels = arrays[1]
            .1
            .values
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(labels.values(), &[0, 1, 2]);
        // a byte short: not records
        std::fs::write(&ten, &bytes[1..]).unwrap();
        assert!(!is_cifar_bin(&ten));
        // CIFAR-100: two label bytes, by its folder's name
        let hundred = dir.path().join("cifar-100-binary");
        std::fs::create_dir(&hundred).unwrap();
        let mut bytes = vec![3u8, 42];
        bytes.extend(std::iter::repeat_n(7, PIXELS));
        std::fs::write(hundred.join("train.bin"), &bytes).unwrap();
        let arrays = read(&hundred.join("train.bin")).unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["data", "coarse_labels", "fine_labels"]);
        // a label CIFAR does not have: an error naming the record
        std::fs::write(
            dir.path().join("x.bin"),
            [[11u8].as_slice(), &[0; PIXELS]].concat(),
        )
        .unwrap();
        let e = read(&dir.path().join("x.bin")).unwrap_err().to_string();
        assert!(e.contains("record 0") && e.contains("label 11"), "{e}");
    }
}
