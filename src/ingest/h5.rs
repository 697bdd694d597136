//! HDF5 files (`.h5`, `.hdf5`), as h5py, Keras-era data sets and
//! astronomy/medical image sets ship them (Galaxy10's `images` and `ans`,
//! USPS's `train/data` and `train/target`), and MATLAB's `-v7.3` files,
//! which are HDF5 inside. Read by the pure-Rust `hdf5-reader` crate (no
//! libhdf5): contiguous, compact and chunked layouts, deflate, shuffle and
//! Fletcher-32 filters, any byte order.
//!
//! Every numeric dataset (integers, floats, h5py's booleans) and every text
//! dataset in the file, in its groups too, becomes an array named by its
//! path (`train/data`); the NumPy reader then picks the features and labels
//! among them (an array in a group is also found by its own name, a
//! training split's first). Compound, reference and opaque datasets are
//! left out, as are scalars. A pandas store (`DataFrame.to_hdf`) is read
//! as a table by [`super::hdfstore`] instead.
//!
//! A MATLAB `-v7.3` file keeps each variable transposed (HDF5's dimensions
//! are MATLAB's reversed): its numeric variables are read as a level-5
//! MATLAB file's are ([`super::mat`]), samples' axis included; text, cells
//! and structs are left out.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use hdf5_reader::{Datatype, Hdf5File};

use super::mat::{self, MatArray};
use super::npz::{typed_values, Npy};
use super::IngestError;

/// HDF5's signature, at the start of the file or of its superblock after a
/// user block of 512, 1,024, 2,048 … bytes (MATLAB's `-v7.3` files have
/// one of 512).
const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// How deep in groups datasets are looked for.
pub(super) const MAX_DEPTH: usize = 8;

pub(super) fn h5_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "HDF5",
        message: message.into(),
    }
}

/// Whether `path` is an HDF5 file: by its name, or by its signature at the
/// start or after a 512-byte user block.
pub(super) fn is_h5(path: &Path) -> bool {
    let named = path.extension().is_some_and(|e| {
        ["h5", "hdf5", "hdf", "he5"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    named || signature_at(path).is_some()
}

/// Where the HDF5 signature is in the file's first kilobytes, if it is.
fn signature_at(path: &Path) -> Option<usize> {
    let mut head = vec![0u8; 2048 + SIGNATURE.len()];
    let mut file = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    [0, 512, 1024, 2048]
        .into_iter()
        .find(|&at| head.get(at..at + SIGNATURE.len()) == Some(SIGNATURE.as_slice()))
}

/// NumPy's type code and width of an HDF5 numeric type (an enumeration,
/// as h5py stores booleans, by its base type); `None` for the others.
pub(super) fn numeric_type(dtype: &Datatype) -> Option<(&'static str, usize)> {
    match dtype {
        Datatype::FixedPoint { size, signed, .. } => {
            Some((if *signed { "i" } else { "u" }, *size as usize))
        }
        Datatype::FloatingPoint { size, .. } => Some(("f", *size as usize)),
        Datatype::Enum { base, .. } => numeric_type(base),
        _ => None,
    }
}

/// The datasets under `group`, with their paths (`train/data`), in the
/// file's order; groups named `#…` (MATLAB's hidden `#refs#`) skipped.
fn datasets(
    group: &hdf5_reader::group::Group,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, hdf5_reader::Dataset)>,
) -> Result<(), hdf5_reader::error::Error> {
    let (groups, sets) = group.members()?;
    for set in sets {
        let name = format!("{prefix}{}", set.name());
        out.push((name, set));
    }
    if depth < MAX_DEPTH {
        for g in groups.iter().filter(|g| !g.name().starts_with('#')) {
            datasets(g, &format!("{prefix}{}/", g.name()), depth + 1, out)?;
        }
    }
    Ok(())
}

/// Opens an HDF5 file, reading no dataset larger than the memory there
/// is (a dataset's extent comes from the file).
pub(super) fn open(path: &Path) -> Result<Hdf5File, IngestError> {
    let budget = super::available_memory().map_or(usize::MAX, |b| b as usize);
    let options = hdf5_reader::OpenOptions::default().with_max_read_bytes(budget);
    Hdf5File::open_with_options(path, options).map_err(|e| match e {
        hdf5_reader::error::Error::Io(error) => IngestError::Io {
            path: path.to_path_buf(),
            error,
        },
        e => damaged(path)(e),
    })
}

/// The error of a file whose structure cannot be read.
pub(super) fn damaged(path: &Path) -> impl Fn(hdf5_reader::error::Error) -> IngestError + '_ {
    move |e| {
        h5_error(
            path,
            format!("it cannot be read (cut short or damaged?): {e}"),
        )
    }
}

/// The numeric and text arrays of an HDF5 file, by path, in file order, in
/// C order (see the module docs).
pub(super) fn read_h5(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let matlab = {
        let mut head = [0u8; 10];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| &head == b"MATLAB 7.3")
    };
    let file = open(path)?;
    let bad = damaged(path);
    let mut found = Vec::new();
    datasets(&file.root_group().map_err(&bad)?, "", 0, &mut found).map_err(&bad)?;
    let native_big = cfg!(target_endian = "big");
    let mut arrays = Vec::new();
    let mut matlab_arrays = Vec::new();
    for (name, set) in found {
        let shape: Vec<usize> = set.shape().iter().map(|&d| d as usize).collect();
        if shape.is_empty() {
            continue;
        }
        if matlab {
            // MATLAB's class of the variable: text is stored as uint16
            let class = set
                .attribute("MATLAB_class")
                .and_then(|a| a.read_string())
                .unwrap_or_default();
            let numeric = matches!(
                class.as_str(),
                "double"
                    | "single"
                    | "logical"
                    | "int8"
                    | "uint8"
                    | "int16"
                    | "uint16"
                    | "int32"
                    | "uint32"
                    | "int64"
                    | "uint64"
            );
            let sparse = set.attribute("MATLAB_sparse").is_ok();
            let Some((code, width)) = numeric_type(set.dtype()).filter(|_| numeric && !sparse)
            else {
                continue;
            };
            let raw = set.read_native_bytes().map_err(&bad)?;
            matlab_arrays.push(MatArray {
                name,
                dims: shape.into_iter().rev().collect(),
                code,
                width,
                raw: raw.into(),
            });
            continue;
        }
        let values: ArrayRef = if let Some((code, width)) = numeric_type(set.dtype()) {
            let raw = set.read_native_bytes().map_err(&bad)?;
            typed_values(code, width, native_big, &raw)
                .ok_or_else(|| h5_error(path, format!("`{name}`: numbers of {width} bytes")))?
        } else if matches!(set.dtype(), Datatype::String { .. })
            || matches!(set.dtype(), Datatype::VarLen { kind, .. }
                if matches!(kind, hdf5_reader::VarLenKind::String))
        {
            Arc::new(StringArray::from(set.read_strings().map_err(&bad)?))
        } else {
            continue;
        };
        arrays.push((name, Npy { shape, values }));
    }
    if matlab {
        return mat::in_c_order(path, matlab_arrays, native_big);
    }
    if arrays.is_empty() {
        return Err(h5_error(
            path,
            "no numeric or text dataset in it (compound, reference and opaque datasets are \
             not read): save the features and labels as plain datasets",
        ));
    }
    Ok(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float32Array, UInt8Array};
    use hdf5_writer::{AttributeBuilder, DatasetBuilder, Hdf5Builder, WriteOptions};

    fn encode(builder: Hdf5Builder) -> Vec<u8> {
        builder
            .into_plan()
            .unwrap()
            .encode(WriteOptions::default())
            .unwrap()
    }

    fn read(bytes: &[u8], name: &str) -> Result<Vec<(String, Npy)>, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        read_h5(&path)
    }

    #[test]
    fn an_hdf5_file_gives_its_numeric_and_text_datasets_by_path() {
        let x: Vec<f32> = (0..12).map(|v| v as f32 / 2.0).collect();
        let file = Hdf5Builder::new()
            .dataset(DatasetBuilder::typed_data("train/x", [4u64, 3], &x).unwrap())
            .dataset(
                DatasetBuilder::fixed_string_data("train/names", [4u64], &["a", "b", "a", "c"])
                    .unwrap(),
            )
            .dataset(DatasetBuilder::typed_data("scale", Vec::<u64>::new(), &[2.0f64]).unwrap());
        let arrays = read(&encode(file), "data.h5").unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        // the scalar is not an array of rows
        assert_eq!(names, ["train/x", "train/names"]);
        assert_eq!(arrays[0].1.shape, [4, 3]);
        let v = arrays[0].1.values.as_any().downcast_ref::<Float32Array>();
        assert_eq!(v.unwrap().values().to_vec(), x);
        assert_eq!(arrays[1].1.values.len(), 4);
    }

    #[test]
    fn a_matlab_v73_file_is_read_as_matlab_holds_it() {
        // MATLAB's X is 2 × 3 × 4 (h × w × n), X(i, j, k) = 50k + 10i + j;
        // HDF5 keeps it transposed, 4 × 3 × 2, in C order
        let mut raw = Vec::new();
        for k in 0..4u8 {
            for j in 0..3u8 {
                for i in 0..2u8 {
                    raw.push(50 * k + 10 * i + j);
                }
            }
        }
        let class = |c: &str| AttributeBuilder::fixed_string("MATLAB_class", c);
        let text: Vec<u16> = "hi".encode_utf16().collect();
        let file = Hdf5Builder::new()
            .dataset(
                DatasetBuilder::typed_data("X", [4u64, 3, 2], &raw)
                    .unwrap()
                    .attribute(class("uint8")),
            )
            .dataset(
                DatasetBuilder::typed_data("y", [1u64, 4], &[1.0f64, 2.0, 1.0, 2.0])
                    .unwrap()
                    .attribute(class("double")),
            )
            .dataset(
                DatasetBuilder::typed_data("note", [2u64, 1], &text)
                    .unwrap()
                    .attribute(class("char")),
            );
        let mut bytes = format!("{:<116}", "MATLAB 7.3 MAT-file").into_bytes();
        bytes.resize(512, 0);
        bytes.extend(encode(file));
        // told by its content, whatever its name
        let arrays = read(&bytes, "data.mat").unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["X", "y"], "text is left out");
        assert_eq!(arrays[0].1.shape, [4, 2, 3]);
        let v = arrays[0].1.values.as_any().downcast_ref::<UInt8Array>();
        let expected: Vec<u8> = (0..4u8)
            .flat_map(|k| (0..2u8).flat_map(move |i| (0..3u8).map(move |j| 50 * k + 10 * i + j)))
            .collect();
        assert_eq!(v.unwrap().values().to_vec(), expected);
        assert_eq!(arrays[1].1.shape, [4]);
    }

    #[test]
    fn damaged_hdf5_files_are_errors_that_say_so() {
        let x: Vec<u8> = (0..200).collect();
        let whole = encode(
            Hdf5Builder::new().dataset(DatasetBuilder::typed_data("x", [200u64], &x).unwrap()),
        );
        for cut in [whole.len() / 2, 40, 9] {
            let err = read(&whole[..cut], "cut.h5").unwrap_err().to_string();
            assert!(err.contains("HDF5") && err.contains("cut short"), "{err}");
        }
        let err = read(b"not an hdf5 file", "x.h5").unwrap_err().to_string();
        assert!(err.contains("cannot be read"), "{err}");
    }
}
