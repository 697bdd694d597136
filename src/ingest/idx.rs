//! MNIST-style IDX files: an `idx3-ubyte` image file (optionally gzipped) and
//! the `idx1-ubyte` labels file beside it. Either one may be named; the other
//! is found by swapping `images`/`labels` and `idx3`/`idx1` in the name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::UInt8Array;

use super::{hash_file, Dataset, FeatureSource, IngestError, IngestOptions, SourceFile};

/// A parsed IDX file of unsigned bytes.
pub(crate) struct Idx {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

fn idx_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Idx {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads and checks one IDX file of `u8` values.
pub(crate) fn read_idx(path: &Path) -> Result<Idx, IngestError> {
    let bytes = super::read_unpacked(path, |e| {
        idx_error(path, format!("bad compressed data: {e}"))
    })?;
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(idx_error(path, "missing the IDX magic number"));
    }
    if bytes[2] != 0x08 {
        return Err(idx_error(
            path,
            format!("value type 0x{:02x} is not unsigned bytes (0x08)", bytes[2]),
        ));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        return Err(idx_error(path, "truncated header"));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let expected: usize = dims.iter().product();
    let found = bytes.len() - header;
    if found != expected {
        return Err(idx_error(
            path,
            format!("header promises {expected} values ({dims:?}) but the file holds {found}"),
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// The images file of a folder of IDX files to read — torchvision's
/// `MNIST/raw/` and `FashionMNIST/raw/` hold `train-*` and `t10k-*` pairs,
/// each also gzipped — with a note naming what is left out: the one
/// training images file (uncompressed before its `.gz` copy), else the one
/// images file; `None` for a folder of no IDX images; an error where
/// several training files are there (EMNIST's splits), naming them.
pub(super) fn training_images(dir: &Path) -> Result<Option<(PathBuf, String)>, IngestError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    // each images file by its name less `.gz`, the uncompressed one first
    let mut images: std::collections::BTreeMap<String, PathBuf> = Default::default();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file()
            || !name.contains("idx3")
            || super::InputFormat::detect(&path) != Some(super::InputFormat::Idx)
        {
            continue;
        }
        let plain = name.strip_suffix(".gz").unwrap_or(&name).to_string();
        let gz = name.ends_with(".gz");
        match images.get(&plain) {
            Some(kept) if !kept.to_string_lossy().ends_with(".gz") || gz => {}
            _ => {
                images.insert(plain, path);
            }
        }
    }
    let names: Vec<String> = images.keys().cloned().collect();
    let Some((chosen, left)) = super::training_split(dir, &names, "IDX image files")? else {
        return Ok(None);
    };
    let path = images[&names[chosen]].clone();
    let note = format!(
        "{}: read the IDX pair `{}` and its labels{left}",
        dir.display(),
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    Ok(Some((path, note)))
}

/// The labels file that goes with an images file, and the other way round.
fn partner(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let swapped = if name.contains("idx3") {
        name.replace("images", "labels").replace("idx3", "idx1")
    } else if name.contains("idx1") {
        name.replace("labels", "images").replace("idx1", "idx3")
    } else {
        return None;
    };
    let candidate = path.with_file_name(&swapped);
    if candidate.exists() {
        return Some(candidate);
    }
    // The partner may be gzipped when this one is not, or the reverse.
    let alt = match swapped.strip_suffix(".gz") {
        Some(s) => path.with_file_name(s),
        None => path.with_file_name(format!("{swapped}.gz")),
    };
    alt.exists().then_some(alt)
}

pub(super) fn load(paths: &[PathBuf], _options: &IngestOptions) -> Result<Dataset, IngestError> {
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let other = partner(p).ok_or_else(|| {
            idx_error(p, "cannot find its partner file (images `*-images-idx3-ubyte[.gz]` need `*-labels-idx1-ubyte[.gz]` beside them)")
        })?;
        let pair = if name.contains("idx3") {
            (p.clone(), other)
        } else {
            (other, p.clone())
        };
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut sources = Vec::new();
    let mut shape: Option<(usize, usize)> = None;
    for (images_path, labels_path) in &pairs {
        let images = read_idx(images_path)?;
        let label_idx = read_idx(labels_path)?;
        if images.dims.len() != 3 {
            return Err(idx_error(
                images_path,
                format!(
                    "expected 3 dimensions (n, rows, cols), found {:?}",
                    images.dims
                ),
            ));
        }
        if label_idx.dims.len() != 1 {
            return Err(idx_error(
                labels_path,
                format!("expected 1 dimension, found {:?}", label_idx.dims),
            ));
        }
        let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
        if label_idx.dims[0] != n {
            return Err(idx_error(
                labels_path,
                format!(
                    "{} labels for {n} images in {}",
                    label_idx.dims[0],
                    images_path.display()
                ),
            ));
        }
        match shape {
            Some(s) if s != (h, w) => {
                return Err(idx_error(
                    images_path,
                    format!("images are {h}x{w}, earlier files {}x{}", s.0, s.1),
                ))
            }
            _ => shape = Some((h, w)),
        }
        let (bytes, sha256) = hash_file(images_path)?;
        let (lbytes, lsha) = hash_file(labels_path)?;
        let first_row = labels.len() as u64;
        sources.push(SourceFile {
            path: images_path.clone(),
            bytes,
            sha256,
            rows: n as u64,
            first_row,
        });
        sources.push(SourceFile {
            path: labels_path.clone(),
            bytes: lbytes,
            sha256: lsha,
            rows: 0,
            first_row,
        });
        super::check_fits(labels.len() + n, h * w, &images_path.display().to_string())?;
        features.extend(images.data.iter().map(|&p| p as f32 / 255.0));
        labels.extend(label_idx.data);
    }
    let (h, w) = shape.ok_or(IngestError::NoInput)?;
    let n = labels.len();
    if n == 0 {
        return Err(IngestError::Empty("the IDX files hold no images".into()));
    }
    let mut class_values: Vec<u8> = labels.clone();
    class_values.sort_unstable();
    class_values.dedup();
    let class_names: Vec<String> = class_values.iter().map(|c| c.to_string()).collect();
    let label_codes: Vec<u32> = labels
        .iter()
        .map(|l| class_values.binary_search(l).expect("known class") as u32)
        .collect();
    super::check_classes(&class_names)?;
    Ok(Dataset {
        n_input_rows: n,
        kept_rows: (0..n as u64).collect(),
        dropped: Vec::new(),
        ids: None,
        id_column: None,
        captions: None,
        labels: Arc::new(UInt8Array::from(labels)),
        label_column: "label".into(),
        label_codes,
        class_names,
        features: features.into(),
        n_features: h * w,
        probs: None,
        feature_source: FeatureSource::Pixels {
            height: h,
            width: w,
            channels: 1,
        },
        sources,
        inputs: None,
        notes: Vec::new(),
        class_titles: None,
        tones: None,
        lossy: false,
    })
}
