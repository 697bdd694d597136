//! Image folders laid out `root/<class>/<image>`: PNG, JPEG and BMP files,
//! decoded in parallel, as grayscale when every image is gray and as RGB
//! otherwise, pixels scaled to [0, 1].

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, DynamicImage};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::{hex, string_array, Dataset, FeatureSource, IngestError, IngestOptions, SourceFile};

const EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

fn is_image(path: &Path) -> bool {
    path.extension()
        .map(|e| EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Image files under `root`, with their class (the first folder level), in
/// sorted path order.
fn list(root: &Path) -> Result<Vec<(PathBuf, String)>, IngestError> {
    let mut files = Vec::new();
    for entry in WalkDir::new(root).min_depth(2).sort_by_file_name() {
        let entry = entry.map_err(|e| IngestError::Io {
            path: e.path().unwrap_or(root).to_path_buf(),
            source: e.into(),
        })?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !entry.file_type().is_file() || hidden || !is_image(entry.path()) {
            continue;
        }
        let rel = entry.path().strip_prefix(root).expect("under root");
        let class = rel
            .components()
            .next()
            .expect("min_depth 2")
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        files.push((entry.path().to_path_buf(), class));
    }
    Ok(files)
}

pub(super) fn load(paths: &[PathBuf], options: &IngestOptions) -> Result<Dataset, IngestError> {
    let [root] = paths else {
        return Err(IngestError::Option(
            "scan one image folder at a time (root/<class>/<image>)".into(),
        ));
    };
    let files = list(root)?;
    if files.is_empty() {
        return Err(IngestError::Empty(format!(
            "{} holds no PNG, JPEG or BMP image in class folders (root/<class>/<image>)",
            root.display()
        )));
    }
    let decoded: Vec<(DynamicImage, Vec<u8>)> = files
        .par_iter()
        .map(|(path, _)| {
            let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
                path: path.clone(),
                source,
            })?;
            let img = image::load_from_memory(&bytes).map_err(|e| IngestError::Image {
                path: path.clone(),
                message: e.to_string(),
            })?;
            Ok((img, bytes))
        })
        .collect::<Result<_, IngestError>>()?;
    let (width, height) = match options.resize {
        Some(size) => size,
        None => {
            let (w, h) = (decoded[0].0.width(), decoded[0].0.height());
            if let Some(i) = decoded
                .iter()
                .position(|(img, _)| img.width() != w || img.height() != h)
            {
                return Err(IngestError::ImageSize {
                    path: files[i].0.clone(),
                    found: format!("{}x{}", decoded[i].0.width(), decoded[i].0.height()),
                    first: files[0].0.clone(),
                    expected: format!("{w}x{h}"),
                });
            }
            (w, h)
        }
    };
    let channels = if decoded.iter().any(|(img, _)| img.color().has_color()) {
        3
    } else {
        1
    };
    let dim = (width * height) as usize * channels;
    let mut features = vec![0f32; files.len() * dim];
    features
        .par_chunks_mut(dim)
        .zip(decoded.par_iter())
        .for_each(|(row, (img, _))| {
            let resized;
            let img = if img.width() != width || img.height() != height {
                resized = img.resize_exact(width, height, FilterType::Triangle);
                &resized
            } else {
                img
            };
            let pixels = if channels == 1 {
                img.to_luma8().into_raw()
            } else {
                img.to_rgb8().into_raw()
            };
            for (v, &p) in row.iter_mut().zip(&pixels) {
                *v = p as f32 / 255.0;
            }
        });
    // One provenance record for the folder: bytes, and a hash over every
    // image's relative path and content, in order.
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    for ((path, _), (_, content)) in files.iter().zip(&decoded) {
        let rel = path.strip_prefix(root).expect("under root");
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0u8]);
        hasher.update(content);
        bytes += content.len() as u64;
    }
    drop(decoded);
    let ids: Vec<String> = files
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let class_names: Vec<String> = {
        let mut c: Vec<String> = files.iter().map(|(_, c)| c.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    if class_names.len() < 2 {
        return Err(IngestError::TooFewClasses {
            count: class_names.len(),
            names: class_names,
        });
    }
    let label_codes: Vec<u32> = files
        .iter()
        .map(|(_, c)| class_names.binary_search(c).expect("known class") as u32)
        .collect();
    let n = files.len();
    Ok(Dataset {
        n_input_rows: n,
        kept_rows: (0..n as u64).collect(),
        dropped: Vec::new(),
        ids: Some(string_array(ids)),
        id_column: Some("path".into()),
        labels: string_array(files.into_iter().map(|(_, c)| c).collect()),
        label_column: "label".into(),
        label_codes,
        class_names,
        features: features.into(),
        n_features: dim,
        probs: None,
        feature_source: FeatureSource::Pixels {
            height: height as usize,
            width: width as usize,
            channels,
        },
        sources: vec![SourceFile {
            path: root.clone(),
            bytes,
            sha256: hex(&hasher.finalize()),
            rows: n as u64,
            first_row: 0,
        }],
        inputs: None,
    })
}
