//! Image folders laid out `root/<class>/<image>`: PNG, JPEG, BMP, GIF (first
//! frame), WebP and TIFF files,
//! decoded in parallel, as grayscale when every image is gray and as RGB
//! otherwise, pixels scaled to [0, 1], every image at one size (see
//! [`decode::plan_size`]). Undecodable images fail the read, or are left
//! out with `--drop-invalid`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::{
    decode, hex, string_array, Dataset, DroppedRow, FeatureSource, IngestError, IngestOptions,
    SourceFile,
};

const EXTENSIONS: [&str; 15] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "jfif", "dcm", "dicom", "ppm",
    "pgm", "pbm", "pnm",
];

/// Whether a file is an image poisonscan decodes, by its extension.
pub(super) fn is_image(path: &Path) -> bool {
    path.extension()
        .map(|e| EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Files a class folder may hold beside its images, never worth a note.
const SYSTEM_FILES: [&str; 2] = ["thumbs.db", "desktop.ini"];

/// Image files with their class; other files counted by extension.
type Listing = (
    Vec<(PathBuf, String)>,
    std::collections::BTreeMap<String, usize>,
);

/// Image files under `root`, with their class (the first folder level), in
/// sorted path order, links followed; and the other files in class folders
/// (not hidden, not system files) counted by extension, for a note.
fn list(root: &Path) -> Result<Listing, IngestError> {
    let mut files = Vec::new();
    let mut others = std::collections::BTreeMap::new();
    // links followed (git-annex and DVC keep files as links into a cache);
    // hidden files and folders (`.git/`, `.DS_Store`) left out
    // (walkdir does not filter entries above `min_depth`)
    let walk = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.map_err(|e| super::walk_error(e, root))?;
        if entry.depth() < 2 || !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if !is_image(entry.path()) {
            if !SYSTEM_FILES.contains(&name.as_str()) {
                let ext = match name.rsplit_once('.') {
                    Some((_, ext)) => format!(".{ext}"),
                    None => "no extension".into(),
                };
                *others.entry(ext).or_insert(0) += 1;
            }
            continue;
        }
        files.push((entry.path().to_path_buf(), class_folder(root, entry.path())));
    }
    Ok((files, others))
}

/// The class of a file at depth 2 or more below `root`: the folder below
/// `root` it sits in.
pub(super) fn class_folder(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .expect("under root")
        .components()
        .next()
        .expect("depth 2 or more")
        .as_os_str()
        .to_string_lossy()
        .into_owned()
}

/// Folder names of data set splits.
pub(super) const SPLITS: [&str; 10] = [
    "train",
    "training",
    "test",
    "testing",
    "val",
    "valid",
    "validation",
    "dev",
    "eval",
    "holdout",
];

/// A folder laid out `root/<split>/<class>/<image>` (`train/`, `test/`, …
/// with the class folders inside each): the class of each image is the
/// folder inside its split, not the split, with a note; `None` for an
/// image left out: one of a split that keeps all its images in one folder
/// while another split has class folders (Tiny ImageNet's `val/images/`,
/// labelled by a table beside it, and `test/images/`, unlabelled), with a
/// note naming them. `None` when the first level is not all split names,
/// or some image sits directly in a split folder.
fn classes_inside_splits(
    root: &Path,
    files: &[(PathBuf, String)],
    zip: Option<&Path>,
) -> Option<(Vec<Option<String>>, Vec<String>)> {
    use std::collections::{BTreeMap, BTreeSet};
    // each split's class folders
    let mut splits: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut classes = Vec::with_capacity(files.len());
    for (path, first) in files {
        if !SPLITS.contains(&first.to_ascii_lowercase().as_str()) {
            return None;
        }
        let rel = path.strip_prefix(root).ok()?;
        let mut parts = rel.components();
        parts.next();
        let class = parts.next()?.as_os_str().to_string_lossy().into_owned();
        parts.next()?; // the image itself: the class is a folder
        splits
            .entry(first.as_str())
            .or_default()
            .insert(class.clone());
        classes.push(class);
    }
    let classed = splits.values().any(|c| c.len() >= 2);
    let unclassed: BTreeSet<&str> = splits
        .iter()
        .filter(|(_, c)| classed && c.len() == 1)
        .map(|(s, _)| *s)
        .collect();
    let mut notes = Vec::new();
    if !unclassed.is_empty() {
        let described: Vec<String> = unclassed
            .iter()
            .map(|s| {
                let n = files.iter().filter(|(_, first)| first == s).count();
                let folder = splits[s].iter().next().map_or("", String::as_str);
                format!("`{s}` ({n} in `{s}/{folder}`)")
            })
            .collect();
        notes.push(format!(
            "left out the images of {}: one folder, not a folder per class, holds each of \
             these splits' images, so their folders name no classes (where a table beside \
             them lists their labels, scan the table)",
            described.join(", ")
        ));
    }
    let kept: Vec<&str> = splits
        .keys()
        .copied()
        .filter(|s| !unclassed.contains(s))
        .collect();
    let one = *kept
        .iter()
        .find(|s| s.to_ascii_lowercase().starts_with("train"))
        .or(kept.first())?;
    let (held_by, hint) = match zip {
        Some(zip) => (
            zip.display().to_string(),
            format!("unzip it and scan its `{one}` folder"),
        ),
        None => (
            root.display().to_string(),
            format!("scan `{}`", root.join(one).display()),
        ),
    };
    notes.insert(
        0,
        match kept.len() {
            1 => format!(
                "{held_by} holds the split folder `{one}` with class folders: each image's \
                 class is the folder inside it"
            ),
            _ => format!(
                "{held_by} holds split folders ({}): each image's class is the folder inside \
                 its split, and the splits are scanned together ({hint} for one split)",
                super::batch::quoted(&kept),
            ),
        },
    );
    let classes = files
        .iter()
        .zip(classes)
        .map(|((_, first), class)| (!unclassed.contains(first.as_str())).then_some(class))
        .collect();
    Some((classes, notes))
}

/// Whether a zip archive holds an image folder: at least two images, and
/// no table (a download of `root/<class>/<image>`, as Kaggle and data set
/// sites pack them).
pub(super) fn zip_holds_images(names: &[&str]) -> bool {
    let data: Vec<&&str> = names.iter().filter(|n| !super::zip_junk(n)).collect();
    data.iter().filter(|n| is_image(Path::new(n))).count() >= 2
        && !data.iter().any(|n| {
            matches!(
                super::InputFormat::of_file_name(n.rsplit('/').next().unwrap_or(n)),
                Some(
                    super::InputFormat::Parquet
                        | super::InputFormat::Csv
                        | super::InputFormat::Ipc
                        | super::InputFormat::Ndjson
                )
            )
        })
}

/// Names of tar archives, plain or compressed.
const TAR_NAMES: [&str; 9] = [
    ".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst",
];

/// Whether `path` is a tar archive: by its name, or, uncompressed, by the
/// `ustar` mark of its first header.
pub(super) fn is_tar(path: &Path) -> bool {
    use std::io::Read;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if TAR_NAMES.iter().any(|e| name.ends_with(e)) {
        return true;
    }
    let mut head = [0u8; 262];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| &head[257..262] == b"ustar")
}

/// The images of an archive (zip or tar, see [`is_tar`]) unpacked into a
/// temporary folder (deleted when dropped; other files are left in the
/// archive), and the folder of it that holds the classes: below the
/// folders that wrap everything (`data/cats/…` and `data/dogs/…` are read
/// from `data/`; a lone folder of images is a class). An entry whose name
/// leaves the folder (`../x.png`, `/etc/x.png`) is an error.
fn unpack(archive: &Path) -> Result<(tempfile::TempDir, PathBuf), IngestError> {
    let io = |error: std::io::Error| IngestError::Io {
        path: archive.to_path_buf(),
        error,
    };
    let dir = tempfile::tempdir().map_err(io)?;
    if is_tar(archive) {
        untar_images(archive, dir.path())?;
    } else {
        unzip_images(archive, dir.path())?;
    }
    let mut root = dir.path().to_path_buf();
    loop {
        let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&root)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        // a folder that holds no folder is a class (an archive of one
        // class), not a wrapper
        let wraps = |entry: &std::fs::DirEntry| -> std::io::Result<bool> {
            Ok(entry.file_type()?.is_dir()
                && std::fs::read_dir(entry.path())?
                    .any(|e| e.and_then(|e| e.file_type()).is_ok_and(|t| t.is_dir())))
        };
        match entries.as_slice() {
            [only] if wraps(only).map_err(io)? => root = only.path(),
            _ => break,
        }
    }
    Ok((dir, root))
}

/// Writes the archive entry `entry`, named `name` inside the archive, to
/// `rel` under `dir` when it is an image (not a folder, not macOS's
/// `__MACOSX/` or `._` files); `rel` is `None` where the name leaves the
/// archive's folder (`../x.png`), an error. Returns whether it was written;
/// `bad` words the archive's errors.
fn unpack_image(
    entry: &mut impl std::io::Read,
    name: &str,
    rel: Option<&Path>,
    dir: &Path,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<bool, IngestError> {
    if super::zip_junk(name) || !is_image(Path::new(name)) {
        return Ok(false);
    }
    let Some(rel) = rel else {
        return Err(bad(format!(
            "its entry `{name}` names a place outside the archive's folder"
        )));
    };
    let write = |entry: &mut dyn std::io::Read| -> std::io::Result<()> {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::io::copy(entry, &mut std::fs::File::create(&to)?)?;
        Ok(())
    };
    write(entry).map_err(|e| {
        bad(format!(
            "its entry `{name}` cannot be unpacked (cut short or damaged?): {e}"
        ))
    })?;
    Ok(true)
}

/// Largest class file of a WebDataset sample read, in bytes.
const CLASS_FILE_BYTES: u64 = 1024;

/// Largest metadata file (`key.json`) of a WebDataset sample read, in bytes.
const JSON_FILE_BYTES: u64 = 64 * 1024;

/// Fields of a WebDataset sample's `key.json` that may hold its class, in
/// the order looked for.
const JSON_CLASS_FIELDS: [&str; 5] = ["label", "cls", "class", "target", "category"];

/// How an archive entry may give a WebDataset sample's class, if it may:
/// `Some(0)` a class file (`key.cls`, `key.label`, `key.class`), which is
/// preferred, `Some(1)` its metadata (`key.json`).
fn class_source(name: &Path, size: u64) -> Option<u8> {
    let ext = name.extension()?.to_str()?.to_ascii_lowercase();
    if ["cls", "label", "class"].contains(&ext.as_str()) && size <= CLASS_FILE_BYTES {
        Some(0)
    } else if ext == "json" && size <= JSON_FILE_BYTES {
        Some(1)
    } else {
        None
    }
}

/// The class a WebDataset sample's class file (`source` 0, its text) or
/// metadata (`source` 1: a JSON object's first field of
/// [`JSON_CLASS_FIELDS`] holding a whole number or text) gives; `None`
/// when it gives none.
fn sample_class(source: u8, text: &str) -> Option<String> {
    let class = if source == 0 {
        text.trim().to_string()
    } else {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        JSON_CLASS_FIELDS
            .iter()
            .find_map(|f| match value.get(*f)? {
                serde_json::Value::String(s) => Some(s.trim().to_string()),
                serde_json::Value::Number(n) => n
                    .as_i64()
                    .map(|i| i.to_string())
                    .or_else(|| n.as_u64().map(|u| u.to_string())),
                _ => None,
            })?
    };
    (!class.is_empty()).then(|| class.replace('/', "_"))
}

/// Unpacks the images of a tar archive (plain, or compressed as a table may
/// be, told from its first bytes: [`super::table::decompressed`]) into
/// `dir`. A WebDataset shard — samples as files sharing a key, `key.png`
/// and `key.cls` holding its class (or `key.json` with a `label` field, see
/// [`sample_class`]) — has each picture put in a folder named after its
/// class; a picture without one stays where it was.
fn untar_images(tar: &Path, dir: &Path) -> Result<(), IngestError> {
    let bad = |message: String| IngestError::Read {
        path: tar.to_path_buf(),
        format: "a tar archive of images",
        message,
    };
    let reader = super::table::decompressed(tar).map_err(|error| IngestError::Io {
        path: tar.to_path_buf(),
        error,
    })?;
    let mut archive = ::tar::Archive::new(reader);
    let mut unpacked = Vec::new();
    // WebDataset's samples: `key.png` beside `key.cls` (or `key.json`),
    // its class, and where it came from (a class file before metadata)
    let mut classes: HashMap<PathBuf, (u8, String)> = HashMap::new();
    let damaged =
        |e: std::io::Error| bad(format!("it cannot be read (cut short or damaged?): {e}"));
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(damaged)?.into_owned();
        let inside = name.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if let Some(source) = class_source(&name, entry.size()).filter(|_| inside) {
            let mut text = String::new();
            let key = name.with_extension("");
            let better = classes.get(&key).is_none_or(|(had, _)| source < *had);
            if better && std::io::Read::read_to_string(&mut entry, &mut text).is_ok() {
                if let Some(class) = sample_class(source, &text) {
                    classes.insert(key, (source, class));
                }
            }
            continue;
        }
        let shown = name.display().to_string();
        let rel = inside.then_some(name.as_path());
        if unpack_image(&mut entry, &shown, rel, dir, &bad)? {
            unpacked.push(name);
        }
    }
    // each sample's picture into a folder named after its class, at its
    // path inside the archive (keys `a/0001` and `b/0001` are two samples)
    for image in &unpacked {
        let Some((_, class)) = classes.get(&image.with_extension("")) else {
            continue;
        };
        let to = dir.join(class).join(image);
        std::fs::create_dir_all(to.parent().expect("a file in a folder"))
            .and_then(|()| std::fs::rename(dir.join(image), &to))
            .map_err(|error| IngestError::Io {
                path: tar.to_path_buf(),
                error,
            })?;
    }
    if unpacked.is_empty() {
        return Err(IngestError::Option(format!(
            "{}: a tar archive with no {} image in it; extract it first (`tar xf FILE`) and scan \
             the table inside",
            tar.display(),
            decode::FORMATS
        )));
    }
    Ok(())
}

/// Unpacks the images of a zip archive into `dir`.
fn unzip_images(zip: &Path, dir: &Path) -> Result<(), IngestError> {
    let io = |error: std::io::Error| IngestError::Io {
        path: zip.to_path_buf(),
        error,
    };
    let bad = |message: String| IngestError::Read {
        path: zip.to_path_buf(),
        format: "a zip archive of images",
        message,
    };
    let mut archive = ::zip::ZipArchive::new(std::fs::File::open(zip).map_err(io)?)
        .map_err(|e| bad(e.to_string()))?;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| bad(format!("entry {i} cannot be read ({e})")))?;
        let name = entry.name().to_string();
        let rel = entry.enclosed_name().map(Path::to_path_buf);
        unpack_image(&mut entry, &name, rel.as_deref(), dir, &bad)?;
    }
    Ok(())
}

/// `e` with the paths under `from` (a temporary folder) told as under `to`
/// (the archive they were unpacked from).
fn relocated(e: IngestError, from: &Path, to: &Path) -> IngestError {
    let rebase = |p: PathBuf| match p.strip_prefix(from) {
        Ok(rel) => to.join(rel),
        Err(_) => p,
    };
    let text = |s: String| s.replace(&from.display().to_string(), &to.display().to_string());
    match e {
        IngestError::Image { path, message } => IngestError::Image {
            path: rebase(path),
            message: text(message),
        },
        IngestError::Io { path, error } => IngestError::Io {
            path: rebase(path),
            error,
        },
        IngestError::Empty(s) => IngestError::Empty(text(s)),
        IngestError::TooLarge {
            what,
            rows,
            dims,
            need,
            available,
        } => IngestError::TooLarge {
            what: text(what),
            rows,
            dims,
            need,
            available,
        },
        IngestError::Option(s) => IngestError::Option(text(s)),
        other => other,
    }
}

/// One input of an image scan: a folder, or an archive unpacked.
struct Input {
    /// The path as given.
    given: PathBuf,
    /// The folder whose first level holds the classes.
    root: PathBuf,
    /// An archive's temporary folder, deleted when dropped; its ids are the
    /// paths inside the archive, below this folder.
    unpacked: Option<tempfile::TempDir>,
}

impl Input {
    /// The archive, when the input is one.
    fn archive(&self) -> Option<&Path> {
        self.unpacked.as_ref().map(|_| self.given.as_path())
    }

    /// The folder the ids of its images are paths in.
    fn id_base(&self) -> &Path {
        self.unpacked.as_ref().map_or(&self.root, |dir| dir.path())
    }
}

/// The inputs an image scan reads, in the order given: a folder that holds
/// tar archives and no folder (a WebDataset's shards,
/// `shards/train-000000.tar`, …) stands for its archives, in path order.
fn shards(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        let entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut archives: Vec<PathBuf> = entries
            .iter()
            .filter(|p| p.is_file() && is_tar(p))
            .cloned()
            .collect();
        if archives.is_empty() || entries.iter().any(|p| p.is_dir()) {
            out.push(path.clone());
        } else {
            archives.sort();
            out.extend(archives);
        }
    }
    out
}

/// Reads image folders laid out `root/<class>/<image>`, and such folders
/// packed in zip or tar archives (WebDataset shards among them), as one
/// data set: rows in the order the inputs are given; with several inputs,
/// a row's id is its path after its input's (`shard-000.tar/cat/001.png`).
pub(super) fn load(paths: &[PathBuf], options: &IngestOptions) -> Result<Dataset, IngestError> {
    let mut inputs = Vec::new();
    for path in shards(paths) {
        if path.is_file() {
            let (dir, root) = unpack(&path)?;
            inputs.push(Input {
                given: path,
                root,
                unpacked: Some(dir),
            });
        } else {
            inputs.push(Input {
                root: path.clone(),
                given: path,
                unpacked: None,
            });
        }
    }
    load_folders(&inputs, options).map_err(|e| {
        inputs.iter().fold(e, |e, input| match &input.unpacked {
            Some(dir) => relocated(e, dir.path(), &input.given),
            None => e,
        })
    })
}

/// Reads the image folders of `inputs` (see [`load`]).
fn load_folders(inputs: &[Input], options: &IngestOptions) -> Result<Dataset, IngestError> {
    let mut files = Vec::new();
    // the first file of each input, and one past the last
    let mut starts = vec![0];
    let mut others = std::collections::BTreeMap::new();
    let mut notes = Vec::new();
    let mut loose_in = Vec::new();
    for input in inputs {
        let root = input.root.as_path();
        let (mut listed, skipped) = list(root)?;
        let shown = input.archive();
        if let Some((classes, split_notes)) = classes_inside_splits(root, &listed, shown) {
            listed = listed
                .into_iter()
                .zip(classes)
                .filter_map(|((path, _), class)| Some((path, class?)))
                .collect();
            notes.extend(split_notes);
        }
        let counts: Vec<String> = skipped.iter().map(|(e, n)| format!("{n} {e}")).collect();
        // images directly in the folder have no class folder to take a class from
        let loose = std::fs::read_dir(root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_file() && is_image(&e.path()))
                    .count()
            })
            .unwrap_or(0);
        let shown_root = shown.unwrap_or(root).display().to_string();
        if listed.is_empty() && loose > 0 {
            return Err(IngestError::Empty(format!(
                "{shown_root} holds {loose} image(s) but no class folders: an image's class is \
                 the name of the folder it sits in (root/<class>/<image>); move them into one \
                 folder per class, or list them with their labels in a table (columns \
                 `file_name,label`) and scan the table"
            )));
        }
        if listed.is_empty() {
            let held = if counts.is_empty() {
                String::new()
            } else {
                format!(
                    "; its class folders hold {}{}",
                    counts.join(", "),
                    media_hint(skipped.keys().map(String::as_str))
                )
            };
            return Err(IngestError::Empty(format!(
                "{} holds no {} image in class folders (root/<class>/<image>){held}",
                root.display(),
                decode::FORMATS
            )));
        }
        for (ext, n) in skipped {
            *others.entry(ext).or_insert(0) += n;
        }
        if loose > 0 {
            loose_in.push((loose, shown_root));
        }
        files.extend(listed);
        starts.push(files.len());
    }
    // each image's id: its path inside its input, after the input's own
    // path when there are several; and how messages name it (an archive's
    // image as `archive.tar/<path>`, not in its temporary folder)
    let (ids, named): (Vec<String>, Vec<PathBuf>) = inputs
        .iter()
        .enumerate()
        .flat_map(|(k, input)| {
            files[starts[k]..starts[k + 1]]
                .iter()
                .map(move |(path, _)| {
                    let inside = path.strip_prefix(input.id_base()).expect("under root");
                    let named = input
                        .archive()
                        .map_or_else(|| path.clone(), |archive| archive.join(inside));
                    let id = if inputs.len() > 1 {
                        named.to_string_lossy().into_owned()
                    } else {
                        inside.to_string_lossy().into_owned()
                    };
                    (id, named)
                })
        })
        .unzip();
    let counts: Vec<String> = others.iter().map(|(e, n)| format!("{n} {e}")).collect();
    // what the inputs are called in messages
    let what = match inputs {
        [one] => one.root.display().to_string(),
        [first, rest @ ..] => format!("{} and {} more", first.root.display(), rest.len()),
        [] => unreachable!("an image scan has an input"),
    };
    let bad = |path: &Path, message: String| IngestError::Image {
        path: path.to_path_buf(),
        message,
    };
    // Pass 1: every image's size, from its header only.
    let headers: Vec<Result<(u32, u32), String>> = files
        .par_iter()
        .map(|(path, _)| {
            decode::file_dimensions(path).map_err(|error| IngestError::Io {
                path: path.clone(),
                error,
            })
        })
        .collect::<Result<_, IngestError>>()?;
    let sizes: Vec<(u32, u32)> = headers.iter().filter_map(|d| d.clone().ok()).collect();
    if sizes.is_empty() {
        let message = headers[0].clone().err().unwrap_or_default();
        return Err(bad(&files[0].0, message));
    }
    let ((width, height), size_notes) = decode::plan_size(&sizes, options.resize);
    notes.splice(0..0, size_notes);
    if let Some((_, first)) = loose_in.first() {
        let loose: usize = loose_in.iter().map(|(n, _)| n).sum();
        let place = match loose_in.len() {
            1 => first.clone(),
            k => format!("{first} and {} more", k - 1),
        };
        notes.push(format!(
            "left out {loose} image(s) directly in {place}, outside any class folder: \
             their class is unknown"
        ));
    }
    if !others.is_empty() {
        // pictures of a format not read are worth converting; text beside
        // the pictures (Tiny ImageNet's boxes, notes) is not a picture
        let advice = if others.keys().all(|e| TEXT_FILES.contains(&e.as_str())) {
            "annotations or notes beside the pictures, not pictures"
        } else {
            "convert any pictures among them to scan them"
        };
        notes.push(format!(
            "left out {} file(s) in class folders that are not {} images ({}): {advice}",
            others.values().sum::<usize>(),
            decode::FORMATS,
            counts.join(", ")
        ));
    }
    let pixels = width as usize * height as usize;
    super::check_fits(files.len(), pixels * 3, &what)?;
    // Pass 2: each image read once — hashed for provenance, decoded and
    // scaled — one at a time per thread, so that only the scaled pixels are
    // kept.
    // each file's SHA-256 and length
    type Digest = ([u8; 32], u64);
    let (decoded, digests): (Vec<Result<decode::Decoded, String>>, Vec<Digest>) = files
        .par_iter()
        .zip(headers.par_iter())
        .map(|((path, _), header)| match std::fs::read(path) {
            Ok(bytes) => {
                let digest = (Sha256::digest(&bytes).into(), bytes.len() as u64);
                let image = match header {
                    Ok(_) => decode::decode(&bytes, width, height),
                    Err(e) => Err(e.clone()),
                };
                (image, digest)
            }
            Err(e) => (Err(e.to_string()), ([0; 32], 0)),
        })
        .unzip();
    let mut dropped = Vec::new();
    for (i, d) in decoded.iter().enumerate() {
        if let Err(message) = d {
            if !options.table.drop_invalid {
                return Err(bad(
                    &files[i].0,
                    format!("{message}; pass --drop-invalid to skip undecodable images"),
                ));
            }
            dropped.push(DroppedRow {
                row: i as u64,
                reason: format!("cannot decode image {}: {message}", named[i].display()),
            });
        }
    }
    let kept: Vec<usize> = (0..files.len()).filter(|&i| decoded[i].is_ok()).collect();
    if kept.is_empty() {
        return Err(IngestError::Empty(format!(
            "no image under {what} could be decoded"
        )));
    }
    let (mut features, channels) = decode::pixel_rows(&decoded, pixels, None);
    let mut tones = decode::any_scaled(&decoded).then(|| decode::tone_rows(&decoded, channels));
    let lossy = decode::any_lossy(&decoded);
    drop(decoded);
    let dim = pixels * channels;
    if kept.len() < files.len() {
        features = super::batch::compact(&features, &kept, dim);
        tones = tones.map(|t| super::batch::compact(&t, &kept, t.len() / files.len()));
    }
    // One provenance record an input: bytes, and a hash over every image's
    // relative path and content hash, in order.
    let mut sources = Vec::with_capacity(inputs.len());
    for (k, input) in inputs.iter().enumerate() {
        let range = starts[k]..starts[k + 1];
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        for ((path, _), (digest, len)) in files[range.clone()].iter().zip(&digests[range.clone()]) {
            let rel = path.strip_prefix(&input.root).expect("under root");
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update([0u8]);
            hasher.update(digest);
            bytes += len;
        }
        sources.push(SourceFile {
            path: input.given.clone(),
            bytes,
            sha256: hex(&hasher.finalize()),
            rows: range.len() as u64,
            first_row: range.start as u64,
        });
    }
    let class_names: Vec<String> = {
        let mut c: Vec<String> = kept.iter().map(|&i| files[i].1.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    let label_codes: Vec<u32> = kept
        .iter()
        .map(|&i| class_names.binary_search(&files[i].1).expect("known class") as u32)
        .collect();
    super::check_classes(&class_names)?;
    let n = files.len();
    Ok(Dataset {
        n_input_rows: n,
        kept_rows: kept.iter().map(|&i| i as u64).collect(),
        dropped,
        ids: Some(string_array(ids)),
        id_column: Some("path".into()),
        captions: None,
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
        sources,
        inputs: None,
        notes,
        class_titles: None,
        tones,
        lossy,
    })
}

/// Extensions of text files that class folders hold beside their pictures
/// (boxes, captions, metadata), as the left-out files are counted.
const TEXT_FILES: [&str; 8] = [
    ".txt", ".csv", ".tsv", ".json", ".xml", ".md", ".yaml", ".yml",
];

/// What to do with class folders of sound or video, which are not read:
/// a scanner of features needs each clip's features or embedding.
fn media_hint<'a>(mut extensions: impl Iterator<Item = &'a str>) -> &'static str {
    const SOUND: &[&str] = &[
        "wav", "mp3", "flac", "ogg", "oga", "opus", "m4a", "aac", "aif", "aiff",
    ];
    const VIDEO: &[&str] = &["mp4", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg"];
    let media = |e: &str| {
        let e = e.trim_start_matches('.').to_ascii_lowercase();
        SOUND.contains(&e.as_str()) || VIDEO.contains(&e.as_str())
    };
    if extensions.any(media) {
        " (sound and video are not read: scan a table of each clip's features or embedding \
         beside its label, with --embedding COL for a vector column, or a folder of \
         spectrogram or frame images)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webdataset_sample_gives_its_class_by_class_file_or_metadata() {
        let class = |name: &str, text: &str| {
            class_source(Path::new(name), text.len() as u64).and_then(|s| sample_class(s, text))
        };
        assert_eq!(class("00007.cls", "3\n").as_deref(), Some("3"));
        assert_eq!(class("a/00007.label", " cat ").as_deref(), Some("cat"));
        assert_eq!(class("00007.json", r#"{"label": 2}"#).as_deref(), Some("2"));
        assert_eq!(
            class("00007.json", r#"{"caption": "x", "class": "n01/440"}"#).as_deref(),
            Some("n01_440")
        );
        // the first field that holds a class, not a float or a list
        assert_eq!(
            class("00007.json", r#"{"label": 0.5, "target": 4}"#).as_deref(),
            Some("4")
        );
        assert_eq!(class("00007.json", r#"{"caption": "a dog"}"#), None);
        assert_eq!(class("00007.json", "not json"), None);
        assert_eq!(class("00007.cls", "  "), None);
        assert_eq!(class("00007.txt", "3"), None);
        // a class file is preferred to metadata; oversized files are not read
        assert!(class_source(Path::new("k.cls"), 8) < class_source(Path::new("k.json"), 8));
        assert_eq!(class_source(Path::new("k.cls"), CLASS_FILE_BYTES + 1), None);
        assert_eq!(class_source(Path::new("k.json"), JSON_FILE_BYTES + 1), None);
    }
}
