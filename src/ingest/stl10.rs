//! STL-10's binary download (`stl10_binary/train_X.bin` beside
//! `train_y.bin`): the pictures as bytes, 96 × 96 × 3 each, one channel
//! after another and each channel in column order (as MATLAB writes), and
//! the labels as bytes, 1 to 10. Read as the arrays `X` (n pictures of
//! 96 × 96 × 3, channels last) and `y`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Int64Array, UInt8Array};

use super::npz::Npy;
use super::IngestError;

/// Side of a picture.
const SIDE: usize = 96;
/// Bytes of a picture: three planes.
const PICTURE: usize = 3 * SIDE * SIDE;

/// The pictures file and the labels file of a split, from either's path
/// (`train_X.bin` and `train_y.bin`), when both are there and their sizes
/// agree: a whole number of pictures, one label byte each.
fn pair(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let name = path.file_name()?.to_str()?;
    let split = name
        .strip_suffix("_X.bin")
        .or_else(|| name.strip_suffix("_y.bin"))?;
    let x = path.with_file_name(format!("{split}_X.bin"));
    let y = path.with_file_name(format!("{split}_y.bin"));
    let (xs, ys) = (
        std::fs::metadata(&x).ok()?.len(),
        std::fs::metadata(&y).ok()?.len(),
    );
    (ys > 0 && xs == ys * PICTURE as u64).then_some((x, y))
}

/// Whether `path` is one of STL-10's files of a labelled split.
pub(super) fn is_stl10(path: &Path) -> bool {
    pair(path).is_some()
}

/// The arrays of STL-10's split that `path` is a file of (see the module).
pub(super) fn read(path: &Path) -> Result<Vec<(String, Npy)>, IngestError> {
    let bad = |message: String| IngestError::Read {
        path: path.to_path_buf(),
        format: "STL-10 binary",
        message,
    };
    let (x, y) = pair(path).ok_or_else(|| {
        bad(
            "not a split of STL-10 (`NAME_X.bin` of 96×96×3 pictures beside `NAME_y.bin` of \
             a label byte each)"
                .into(),
        )
    })?;
    let io = |p: &Path| {
        std::fs::read(p).map_err(|error| IngestError::Io {
            path: p.to_path_buf(),
            error,
        })
    };
    let (pictures, labels) = (io(&x)?, io(&y)?);
    let n = labels.len();
    if pictures.len() != n * PICTURE {
        return Err(bad(format!(
            "{} holds {} bytes, not {n} pictures of {PICTURE}",
            x.display(),
            pictures.len()
        )));
    }
    // channel planes in column order to rows of pixels, channels last
    let mut px = Vec::with_capacity(pictures.len());
    for picture in pictures.chunks_exact(PICTURE) {
        for r in 0..SIDE {
            for c in 0..SIDE {
                for ch in 0..3 {
                    px.push(picture[ch * SIDE * SIDE + c * SIDE + r]);
                }
            }
        }
    }
    Ok(vec![
        (
            "X".to_string(),
            Npy {
                shape: vec![n, SIDE, SIDE, 3],
                values: Arc::new(UInt8Array::from(px)),
            },
        ),
        (
            "y".to_string(),
            Npy {
                shape: vec![n],
                values: Arc::new(Int64Array::from_iter_values(
                    labels.iter().map(|&l| l as i64),
                )),
            },
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_is_its_two_files_and_pictures_are_read_in_column_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut picture = vec![0u8; PICTURE];
        // red plane, column 1, row 0: the pixel right of the top-left one
        picture[SIDE] = 200;
        // blue plane, column 0, row 2
        picture[2 * SIDE * SIDE + 2] = 100;
        std::fs::write(
            dir.path().join("train_X.bin"),
            [picture.clone(), picture].concat(),
        )
        .unwrap();
        std::fs::write(dir.path().join("train_y.bin"), [3u8, 7]).unwrap();
        // the pictures of a split with no labels are not one
        std::fs::write(dir.path().join("unlabeled_X.bin"), vec![0u8; PICTURE]).unwrap();
        assert!(!is_stl10(&dir.path().join("unlabeled_X.bin")));
        let path = dir.path().join("train_y.bin");
        assert!(is_stl10(&path));
        let arrays = read(&path).unwrap();
        assert_eq!(arrays[0].1.shape, vec![2, SIDE, SIDE, 3]);
        let px = arrays[0]
            .1
            .values
            .as_any()
            .downcast_ref::<UInt8Array>()
            .unwrap();
        // row 0, column 1, red; row 2, column 0, blue
        assert_eq!(px.value(3), 200);
        assert_eq!(px.value(2 * SIDE * 3 + 2), 100);
        let y = arrays[1]
            .1
            .values
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(y.values(), &[3, 7]);
    }
}
