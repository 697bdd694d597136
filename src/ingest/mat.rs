//! MATLAB files (`.mat`, level 5: what MATLAB saves by default up to
//! `-v7`, and `scipy.io.savemat`), as academic data sets ship them — SVHN's
//! `train_32x32.mat` holds `X` (32 × 32 × 3 × 73,257 bytes) and `y`
//! (73,257 × 1). Their numeric arrays — and those in structs, named
//! `struct/field`: EMNIST's `dataset/train/images` — are read into the same
//! arrays a NumPy archive gives, and the NumPy reader picks the features
//! and labels (a training split's first).
//!
//! MATLAB stores arrays in column order (the first index fastest); each is
//! rewritten in C order. The samples' axis is the one as long as a label
//! vector: first (`scipy.io.savemat` of a NumPy array `n × h × w`) or last
//! (MATLAB's own `h × w × c × n`, rewritten to `n × h × w × c`).
//! `-v7.3` files are HDF5, read by [`super::h5`] into the same arrays.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use super::npz::{c_order, typed_values, Npy};
use super::IngestError;

/// The header's length; the data elements follow.
const HEADER: usize = 128;

/// Data types of a data element's tag.
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// Array classes whose values are numbers (`mxDOUBLE_CLASS` …
/// `mxUINT64_CLASS`).
const NUMERIC_CLASSES: std::ops::RangeInclusive<u8> = 6..=15;

fn mat_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "MATLAB",
        message: message.into(),
    }
}

/// Whether `path` is a MATLAB file, by its name or its first bytes.
pub(super) fn is_mat(path: &Path) -> bool {
    let mut head = [0u8; 6];
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mat"))
        || std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|_| &head == b"MATLAB")
}

/// Reads the bytes in one byte order.
struct Bytes {
    big: bool,
}

impl Bytes {
    fn u32(&self, b: &[u8]) -> u32 {
        let b: [u8; 4] = b[..4].try_into().expect("4 bytes");
        if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// One data element at the start of `data`: its type, its contents and
    /// the bytes it takes with its padding (to 8 bytes; a small element
    /// packs its tag and up to 4 bytes of data in 8).
    fn element<'a>(&self, data: &'a [u8]) -> Result<(u32, &'a [u8], usize), String> {
        if data.len() < 8 {
            return Err("a data element is cut short".into());
        }
        let first = self.u32(data);
        if first >> 16 != 0 {
            let size = (first >> 16) as usize;
            if size > 4 {
                return Err("a bad small data element".into());
            }
            return Ok((first & 0xffff, &data[4..4 + size], 8));
        }
        let size = self.u32(&data[4..]) as usize;
        let contents = data
            .get(8..8 + size)
            .ok_or("a data element is cut short (the file is incomplete)")?;
        // a compressed element is not padded
        let taken = if first == MI_COMPRESSED {
            8 + size
        } else {
            8 + size.div_ceil(8) * 8
        };
        Ok((first, contents, taken.min(data.len())))
    }
}

/// NumPy's type code and width of a MATLAB storage type.
fn storage_type(mi: u32) -> Option<(&'static str, usize)> {
    Some(match mi {
        1 => ("i", 1),
        2 => ("u", 1),
        3 => ("i", 2),
        4 => ("u", 2),
        5 => ("i", 4),
        6 => ("u", 4),
        7 => ("f", 4),
        9 => ("f", 8),
        12 => ("i", 8),
        13 => ("u", 8),
        _ => return None,
    })
}

/// One real numeric array of a MATLAB file: its dimensions (MATLAB's
/// order), NumPy's type code and width of its stored values, and those
/// values' bytes in column order (borrowed from the file's bytes where
/// they are not compressed).
pub(super) struct MatArray<'a> {
    pub(super) name: String,
    pub(super) dims: Vec<usize>,
    pub(super) code: &'static str,
    pub(super) width: usize,
    pub(super) raw: Cow<'a, [u8]>,
}

impl MatArray<'_> {
    fn into_owned(self) -> MatArray<'static> {
        MatArray {
            raw: Cow::Owned(self.raw.into_owned()),
            ..self
        }
    }
}

/// The array class of a struct (`mxSTRUCT_CLASS`).
const STRUCT_CLASS: u8 = 2;

/// How deep structs inside structs are read.
const STRUCT_DEPTH: usize = 8;

/// The numeric arrays of one matrix element: itself, or a struct's fields
/// (a 1 × 1 struct's, named `struct/field`, as EMNIST's `dataset` holds
/// `train` and `test`, each `images` and `labels`); none for a cell, text,
/// sparse or complex array or a struct array, which are not features.
/// `named`: the name a struct gives its field (the element's own is empty).
fn matrix<'a>(
    b: &Bytes,
    data: &'a [u8],
    named: Option<String>,
    depth: usize,
) -> Result<Vec<MatArray<'a>>, String> {
    let mut at = 0;
    let mut next = || -> Result<(u32, &[u8]), String> {
        let (t, contents, taken) = b.element(&data[at.min(data.len())..])?;
        at += taken;
        Ok((t, contents))
    };
    let (_, flags) = next()?;
    if flags.len() < 4 {
        return Err("a matrix without its array flags".into());
    }
    // the class in the low byte of the first flags word, `complex` above it
    let word = b.u32(flags);
    let (class, complex) = ((word & 0xff) as u8, word & 0x800 != 0);
    let (_, dims) = next()?;
    let dims: Vec<usize> = dims.chunks_exact(4).map(|d| b.u32(d) as usize).collect();
    let (_, name) = next()?;
    let name = named.unwrap_or_else(|| String::from_utf8_lossy(name).into_owned());
    if class == STRUCT_CLASS && depth < STRUCT_DEPTH {
        // the fields' names, each `len` bytes padded with NULs, then each
        // element's fields in turn
        let (_, len) = next()?;
        let len = if len.len() >= 4 {
            b.u32(len) as usize
        } else {
            0
        };
        let (_, names) = next()?;
        if len == 0 || dims.iter().product::<usize>() != 1 {
            return Ok(Vec::new());
        }
        let fields: Vec<String> = names
            .chunks(len)
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim_end_matches('\0')
                    .to_string()
            })
            .collect();
        let mut arrays = Vec::new();
        for field in fields {
            let (t, contents) = next()?;
            if t == MI_MATRIX && !contents.is_empty() {
                arrays.extend(matrix(
                    b,
                    contents,
                    Some(format!("{name}/{field}")),
                    depth + 1,
                )?);
            }
        }
        return Ok(arrays);
    }
    if !NUMERIC_CLASSES.contains(&class) || complex {
        return Ok(Vec::new());
    }
    let (mi, real) = next()?;
    let (code, width) =
        storage_type(mi).ok_or_else(|| format!("`{name}`: unknown storage type {mi}"))?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("`{name}`: its dimensions are too large"))?;
    if real.len() != count * width {
        return Err(format!(
            "`{name}`: {count} values of {width} bytes promised, {} bytes there",
            real.len()
        ));
    }
    Ok(vec![MatArray {
        name,
        dims,
        code,
        width,
        raw: Cow::Borrowed(real),
    }])
}

/// The numeric arrays of a MATLAB file, by name, in file order: vectors
/// (one dimension over 1) as one axis, the others with the samples' axis
/// first (see the module docs), in C order.
pub(super) fn read_mat(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let bytes = super::file_bytes(path)?;
    // a whole one is read as HDF5 (see `super::h5`)
    if bytes.starts_with(b"MATLAB 7.3") {
        return Err(mat_error(
            path,
            "a MATLAB -v7.3 file, which is HDF5, but without HDF5's signature after its \
             header: the file is cut short or damaged",
        ));
    }
    if bytes.len() < HEADER && bytes.starts_with(b"MATLAB 5.0 MAT-file") {
        return Err(mat_error(path, "the file is cut short inside its header"));
    }
    if bytes.len() < HEADER || !bytes.starts_with(b"MATLAB 5.0 MAT-file") {
        return Err(mat_error(
            path,
            "not a MATLAB level-5 file (its text header is missing): save it from MATLAB or \
             with scipy.io.savemat",
        ));
    }
    let b = match &bytes[126..128] {
        b"IM" => Bytes { big: false },
        b"MI" => Bytes { big: true },
        _ => return Err(mat_error(path, "no byte-order mark in the header")),
    };
    let mut arrays = Vec::new();
    let mut at = HEADER;
    while at + 8 <= bytes.len() {
        let (t, contents, taken) = b.element(&bytes[at..]).map_err(|e| mat_error(path, e))?;
        at += taken;
        let array = if t == MI_COMPRESSED {
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(contents)
                .read_to_end(&mut inflated)
                .map_err(|e| mat_error(path, format!("a compressed variable is damaged: {e}")))?;
            let (t, c, _) = b.element(&inflated).map_err(|e| mat_error(path, e))?;
            match t {
                MI_MATRIX => matrix(&b, c, None, 0)
                    .map_err(|e| mat_error(path, e))?
                    .into_iter()
                    .map(MatArray::into_owned)
                    .collect(),
                _ => Vec::new(),
            }
        } else if t == MI_MATRIX {
            matrix(&b, contents, None, 0).map_err(|e| mat_error(path, e))?
        } else {
            Vec::new()
        };
        arrays.extend(array);
    }
    in_c_order(path, arrays, b.big)
}

/// The numeric arrays of a MATLAB file (`arrays`, their values stored in
/// byte order `big`), by name, in file order: vectors (no more than one
/// dimension over one) as one axis, the others with the samples' axis
/// first (see the module docs), in C order.
pub(super) fn in_c_order(
    path: &Path,
    arrays: Vec<MatArray<'_>>,
    big: bool,
) -> Result<Vec<(String, Npy)>, IngestError> {
    if arrays.is_empty() {
        return Err(mat_error(
            path,
            "no numeric array in it (cells, struct arrays and text are not read): save the \
             features and labels as numeric arrays",
        ));
    }
    // the lengths of the vectors: a sample axis is as long as one of them
    let lengths: Vec<usize> = arrays
        .iter()
        .filter(|a| is_vector(&a.dims))
        .map(|a| a.dims.iter().product())
        .collect();
    arrays
        .into_iter()
        .map(|a| {
            let (shape, data) = oriented(&a, &lengths);
            let values = typed_values(a.code, a.width, big, &data)
                .ok_or_else(|| mat_error(path, format!("`{}`: unknown type", a.name)))?;
            Ok((a.name, Npy { shape, values }))
        })
        .collect()
}

/// Whether MATLAB dimensions `dims` hold a vector (one dimension over 1).
fn is_vector(dims: &[usize]) -> bool {
    dims.iter().filter(|&&d| d > 1).count() <= 1
}

/// The shape and bytes of `a` in C order with its samples' axis first: a
/// vector as one axis; the samples last when the last dimension, not the
/// first, is as long as a vector in `lengths`.
fn oriented<'a>(a: &'a MatArray<'_>, lengths: &[usize]) -> (Vec<usize>, Cow<'a, [u8]>) {
    let dims = &a.dims;
    if is_vector(dims) {
        return (vec![dims.iter().product()], Cow::Borrowed(&a.raw));
    }
    let (first, last) = (dims[0], dims[dims.len() - 1]);
    if lengths.contains(&last) && !lengths.contains(&first) {
        // each sample's block is contiguous: rewrite each in C order
        let inner = &dims[..dims.len() - 1];
        let block = inner.iter().product::<usize>() * a.width;
        let mut data = Vec::with_capacity(a.raw.len());
        for sample in a.raw.chunks_exact(block.max(1)) {
            data.extend(c_order(sample, inner, a.width));
        }
        let mut shape = vec![last];
        shape.extend_from_slice(inner);
        (shape, Cow::Owned(data))
    } else {
        (dims.clone(), Cow::Owned(c_order(&a.raw, dims, a.width)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float64Array, UInt8Array};
    use std::io::Write;

    /// A data element: its tag, its data, padded to 8 bytes.
    fn element(t: u32, data: &[u8]) -> Vec<u8> {
        let mut out = [t.to_le_bytes(), (data.len() as u32).to_le_bytes()].concat();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(8) * 8, 0);
        out
    }

    /// A matrix element of class `class`, dimensions `dims`, its values
    /// stored as type `mi`.
    fn matrix_element(name: &str, class: u8, dims: &[u32], mi: u32, data: &[u8]) -> Vec<u8> {
        let dims: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        let parts = [
            element(6, &[class, 0, 0, 0, 0, 0, 0, 0]),
            element(5, &dims),
            element(1, name.as_bytes()),
            element(mi, data),
        ]
        .concat();
        element(MI_MATRIX, &parts)
    }

    /// A MATLAB level-5 file of `elements`.
    fn mat_file(elements: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("{:<116}", "MATLAB 5.0 MAT-file, written by a test").into_bytes();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&0x0100u16.to_le_bytes());
        out.extend_from_slice(b"IM");
        for e in elements {
            out.extend_from_slice(e);
        }
        out
    }

    fn compressed(e: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(e).unwrap();
        let z = z.finish().unwrap();
        // not padded
        [
            MI_COMPRESSED.to_le_bytes().to_vec(),
            (z.len() as u32).to_le_bytes().to_vec(),
            z,
        ]
        .concat()
    }

    fn read(bytes: &[u8]) -> Result<Vec<(String, Npy)>, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.mat");
        std::fs::write(&path, bytes).unwrap();
        read_mat(&path)
    }

    #[test]
    fn matlab_arrays_are_read_in_c_order_with_the_samples_first() {
        // MATLAB's own layout (SVHN): pictures 2 × 3 × 2 channels × 4
        // samples, bytes in column order (value = column-order index); the
        // labels a 4 × 1 double stored compactly as bytes; a text variable
        let x: Vec<u8> = (0..48).collect();
        let elements = [
            matrix_element("note", 4, &[1, 2], 4, &[104, 0, 105, 0]),
            matrix_element("X", 9, &[2, 3, 2, 4], 2, &x),
            matrix_element("y", 6, &[4, 1], 2, &[1, 2, 1, 2]),
        ];
        let plain = mat_file(&elements);
        let packed = mat_file(&elements.iter().map(|e| compressed(e)).collect::<Vec<_>>());
        for bytes in [plain, packed] {
            let arrays = read(&bytes).unwrap();
            let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["X", "y"]);
            let (_, xs) = &arrays[0];
            assert_eq!(xs.shape, [4, 2, 3, 2]);
            let xs = xs.values.as_any().downcast_ref::<UInt8Array>().unwrap();
            for (n, i, j, c) in (0..4).flat_map(|n| {
                (0..2)
                    .flat_map(move |i| (0..3).flat_map(move |j| (0..2).map(move |c| (n, i, j, c))))
            }) {
                let at = ((n * 2 + i) * 3 + j) * 2 + c;
                assert_eq!(xs.value(at) as usize, i + 2 * j + 6 * c + 12 * n);
            }
            let (_, ys) = &arrays[1];
            assert_eq!(ys.shape, [4]);
        }
        // scipy.io.savemat of a NumPy array: the samples first (4 × 2 × 3
        // doubles), the labels a 1 × 4 row
        let x: Vec<u8> = (0..24).flat_map(|v| (v as f64).to_le_bytes()).collect();
        let bytes = mat_file(&[
            matrix_element("images", 6, &[4, 2, 3], 9, &x),
            matrix_element(
                "labels",
                12,
                &[1, 4],
                5,
                &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            ),
        ]);
        let arrays = read(&bytes).unwrap();
        assert_eq!(arrays[0].1.shape, [4, 2, 3]);
        let xs = arrays[0]
            .1
            .values
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(xs.value((3 * 2 + 1) * 3 + 2), (3 + 4 + 8 * 2) as f64);
        assert_eq!(arrays[1].1.shape, [4]);
        assert_eq!(arrays[1].1.values.len(), 4);
    }

    #[test]
    fn a_big_endian_file_is_read_too() {
        let el = |t: u32, data: &[u8]| {
            let mut out = [t.to_be_bytes(), (data.len() as u32).to_be_bytes()].concat();
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(8) * 8, 0);
            out
        };
        let dims: Vec<u8> = [3u32, 1].iter().flat_map(|d| d.to_be_bytes()).collect();
        let values: Vec<u8> = [1.5f64, -2.0, 3.25]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let parts = [
            el(6, &[0, 0, 0, 6, 0, 0, 0, 0]),
            el(5, &dims),
            el(1, b"v"),
            el(9, &values),
        ]
        .concat();
        let mut bytes = format!("{:<116}", "MATLAB 5.0 MAT-file").into_bytes();
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(b"MI");
        bytes.extend(el(MI_MATRIX, &parts));
        let arrays = read(&bytes).unwrap();
        assert_eq!(arrays[0].0, "v");
        assert_eq!(arrays[0].1.shape, [3]);
        let v = arrays[0]
            .1
            .values
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(v.values().to_vec(), [1.5, -2.0, 3.25]);
    }

    /// A struct element of one element: its fields' names (padded to 32
    /// bytes, the length a small element as MATLAB writes it) and their
    /// matrix elements, whose own names are empty.
    fn struct_element(name: &str, fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let names: Vec<u8> = fields
            .iter()
            .flat_map(|(f, _)| {
                let mut n = f.as_bytes().to_vec();
                n.resize(32, 0);
                n
            })
            .collect();
        let mut parts = [
            element(6, &[STRUCT_CLASS, 0, 0, 0, 0, 0, 0, 0]),
            element(5, &[1, 0, 0, 0, 1, 0, 0, 0]),
            element(1, name.as_bytes()),
            // the field names' length: a small element (tag and 4 bytes)
            [((4u32 << 16) | 5).to_le_bytes(), 32u32.to_le_bytes()].concat(),
            element(1, &names),
        ]
        .concat();
        for (_, matrix) in fields {
            parts.extend_from_slice(matrix);
        }
        element(MI_MATRIX, &parts)
    }

    #[test]
    fn arrays_in_structs_are_read_by_their_path() {
        // EMNIST's layout: a struct `dataset` of `train` and `test`, each a
        // struct of `images` (n × 6 bytes here) and `labels` (n × 1), beside
        // a cell (left out); compressed as MATLAB saves it, and not
        let split = |n: u32| {
            let images: Vec<u8> = (0..6 * n as u8).collect();
            let labels: Vec<u8> = (0..n)
                .flat_map(|i| f64::from(i % 2).to_le_bytes())
                .collect();
            struct_element(
                "",
                &[
                    ("images", matrix_element("", 9, &[n, 6], 2, &images)),
                    ("labels", matrix_element("", 6, &[n, 1], 9, &labels)),
                ],
            )
        };
        let cell = matrix_element("", 1, &[1, 1], 2, &[]);
        let dataset = struct_element(
            "dataset",
            &[("train", split(4)), ("test", split(2)), ("mapping", cell)],
        );
        for file in [
            mat_file(std::slice::from_ref(&dataset)),
            mat_file(&[compressed(&dataset)]),
        ] {
            let arrays = read(&file).unwrap();
            let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                [
                    "dataset/train/images",
                    "dataset/train/labels",
                    "dataset/test/images",
                    "dataset/test/labels"
                ]
            );
            let images = &arrays[0].1;
            assert_eq!(images.shape, vec![4, 6]);
            // MATLAB's column order rewritten: row 0 is values 0, 4, 8, …
            let v = images.values.as_any().downcast_ref::<UInt8Array>().unwrap();
            assert_eq!(&v.values()[..6], &[0, 4, 8, 12, 16, 20]);
            let labels = arrays[1]
                .1
                .values
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap();
            assert_eq!(labels.values().to_vec(), vec![0.0, 1.0, 0.0, 1.0]);
        }
    }

    #[test]
    fn damaged_and_hdf5_matlab_files_are_errors_that_say_so() {
        let x: Vec<u8> = (0..48).collect();
        let whole = mat_file(&[matrix_element("X", 9, &[2, 3, 2, 4], 2, &x)]);
        let err = read(&whole[..whole.len() - 20]).unwrap_err().to_string();
        assert!(err.contains("cut short"), "{err}");
        let mut v73 = format!("{:<116}", "MATLAB 7.3 MAT-file").into_bytes();
        v73.resize(600, 0);
        let err = read(&v73).unwrap_err().to_string();
        assert!(err.contains("-v7.3") && err.contains("HDF5"), "{err}");
        let text_only = mat_file(&[matrix_element("note", 4, &[1, 2], 4, &[104, 0, 105, 0])]);
        let err = read(&text_only).unwrap_err().to_string();
        assert!(err.contains("no numeric array"), "{err}");
        let err =
            read(b"not a mat file at all, but long enough to have a header........").unwrap_err();
        assert!(err.to_string().contains("level-5"), "{err}");
    }
}
