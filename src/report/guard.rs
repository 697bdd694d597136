//! Output paths checked before any work starts: an output is never an input
//! (by canonical path, and by device and inode so that hard links and other
//! spellings of the same file are caught), never inside an input folder, and
//! its folder is writable — so that a scan cannot end by overwriting the data
//! it read, or fail to write after minutes of work.

use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// An output path that cannot be used.
#[derive(Debug, Error)]
pub enum OutputError {
    /// The output is one of the inputs.
    #[error("{flag} {}: that is an input ({}); poisonscan never writes over its input, so choose another path", .output.display(), .input.display())]
    IsInput {
        /// The option naming the output.
        flag: String,
        /// The output path.
        output: PathBuf,
        /// The input it would replace.
        input: PathBuf,
    },
    /// The output would land inside an input folder.
    #[error("{flag} {}: that is inside the input folder {}; poisonscan never changes its input, so write elsewhere", .output.display(), .input.display())]
    InsideInput {
        /// The option naming the output.
        flag: String,
        /// The output path.
        output: PathBuf,
        /// The input folder.
        input: PathBuf,
    },
    /// The output cannot be written.
    #[error("{flag} {}: cannot write there: {error}", .output.display())]
    NotWritable {
        /// The option naming the output.
        flag: String,
        /// The output path.
        output: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The output path is a folder where a file is wanted, or the reverse.
    #[error("{flag} {}: {message}", .output.display())]
    Kind {
        /// The option naming the output.
        flag: String,
        /// The output path.
        output: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The absolute form of `path`: symbolic links resolved in every part that
/// exists, `.` and `..` folded in the rest.
fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let mut resolved = if path.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().unwrap_or_default()
    };
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => resolved.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                resolved.push(name);
                if let Ok(p) = resolved.canonicalize() {
                    resolved = p;
                }
            }
        }
    }
    resolved
}

/// Whether two existing paths are the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    absolute(a) == absolute(b)
}

/// The files and folders a scan of `inputs` reads: the paths themselves,
/// and the file an IDX input pairs with.
pub fn read_paths(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in inputs {
        out.push(p.clone());
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.contains("idx3") || name.contains("idx1") {
            let partner = name
                .replace("idx3", "\u{0}")
                .replace("idx1", "idx3")
                .replace('\u{0}', "idx1")
                .replace("images", "\u{0}")
                .replace("labels", "images")
                .replace('\u{0}', "labels");
            out.push(p.with_file_name(partner));
        }
    }
    out
}

/// Checks that the file `output` (named by option `flag`) replaces no input
/// and lies in no input folder.
pub fn check_output_file(flag: &str, output: &Path, inputs: &[PathBuf]) -> Result<(), OutputError> {
    if output.is_dir() {
        return Err(OutputError::Kind {
            flag: flag.into(),
            output: output.to_path_buf(),
            message: "is a folder; name a file".into(),
        });
    }
    let out_abs = absolute(output);
    for input in inputs {
        if !input.exists() {
            continue;
        }
        if input.is_dir() {
            if out_abs.starts_with(absolute(input)) {
                return Err(OutputError::InsideInput {
                    flag: flag.into(),
                    output: output.to_path_buf(),
                    input: input.clone(),
                });
            }
        } else if out_abs == absolute(input) || (output.exists() && same_file(output, input)) {
            return Err(OutputError::IsInput {
                flag: flag.into(),
                output: output.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    Ok(())
}

/// Checks that a folder `dir` that will receive `files` (named by option
/// `flag`) is not an input, holds no input among those files and lies in no
/// input folder.
pub fn check_output_dir(
    flag: &str,
    dir: &Path,
    files: &[&str],
    inputs: &[PathBuf],
) -> Result<(), OutputError> {
    if dir.exists() && !dir.is_dir() {
        let is_input = inputs.iter().any(|i| i.exists() && same_file(dir, i));
        return Err(if is_input {
            OutputError::IsInput {
                flag: flag.into(),
                output: dir.to_path_buf(),
                input: dir.to_path_buf(),
            }
        } else {
            OutputError::Kind {
                flag: flag.into(),
                output: dir.to_path_buf(),
                message: "is a file; name a folder for the results".into(),
            }
        });
    }
    for f in files {
        check_output_file(flag, &dir.join(f), inputs)?;
    }
    let dir_abs = absolute(dir);
    for input in inputs.iter().filter(|i| i.is_dir()) {
        if dir_abs.starts_with(absolute(input)) {
            return Err(OutputError::InsideInput {
                flag: flag.into(),
                output: dir.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    Ok(())
}

/// Whether two output paths name the same file, whether or not it exists
/// yet (`out/x` and `./out/../out/x`).
pub fn same_path(a: &Path, b: &Path) -> bool {
    absolute(a) == absolute(b)
}

/// Creates and removes a file in `dir`: an unwritable output is reported
/// before the scan, not after it.
fn probe(flag: &str, dir: &Path, output: &Path) -> Result<(), OutputError> {
    tempfile::Builder::new()
        .prefix(".poisonscan-write-check.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|error| OutputError::NotWritable {
            flag: flag.into(),
            output: output.to_path_buf(),
            error,
        })
}

/// Checks that `dir` can take new files — by [`probe`] in `dir`, or, when it
/// does not exist yet, in the nearest folder above it that does (nothing is
/// created for good).
pub fn check_writable_dir(flag: &str, dir: &Path) -> Result<(), OutputError> {
    let mut existing = absolute(dir);
    while !existing.exists() && existing.pop() {}
    probe(flag, &existing, dir)
}

/// [`check_writable_dir`] for the folder a file `output` goes to; the folder
/// must exist already.
pub fn check_writable_file(flag: &str, output: &Path) -> Result<(), OutputError> {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(OutputError::NotWritable {
            flag: flag.into(),
            output: output.to_path_buf(),
            error: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("folder {} does not exist", dir.display()),
            ),
        });
    }
    probe(flag, dir, output)
}

/// Checks that a Parquet output's name does not say another format
/// (`--out poisoned.csv`: a Parquet file under a CSV name is read back as
/// a broken CSV).
pub fn check_parquet_name(flag: &str, output: &Path) -> Result<(), OutputError> {
    use crate::ingest::InputFormat;
    match InputFormat::detect(output) {
        Some(f) if f != InputFormat::Parquet && !output.is_dir() => Err(OutputError::Kind {
            flag: flag.into(),
            output: output.to_path_buf(),
            message: format!(
                "its name says {}, but poisonscan writes Parquet there: name it {}",
                f.name(),
                output.with_extension("parquet").display()
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parquet_output_named_as_another_format_is_refused() {
        for name in ["p.csv", "p.csv.gz", "dir/p.arrow", "p.json"] {
            let e = check_parquet_name("--out", Path::new(name)).unwrap_err();
            assert!(e.to_string().contains("writes Parquet"), "{e}");
        }
        for name in ["p.parquet", "p", "dir/poisoned"] {
            check_parquet_name("--out", Path::new(name)).unwrap();
        }
    }

    #[test]
    fn outputs_never_replace_or_enter_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("data.parquet");
        std::fs::write(&input, b"x").unwrap();
        let inputs = vec![input.clone()];
        assert!(matches!(
            check_output_file("--out", &input, &inputs),
            Err(OutputError::IsInput { .. })
        ));
        // Another spelling of the same file.
        let other = dir
            .path()
            .join(".")
            .join("sub")
            .join("..")
            .join("data.parquet");
        assert!(check_output_file("--out", &other, &inputs).is_err());
        // A hard link to it.
        #[cfg(unix)]
        {
            let link = dir.path().join("link.parquet");
            std::fs::hard_link(&input, &link).unwrap();
            assert!(check_output_file("--out", &link, &inputs).is_err());
        }
        assert!(check_output_file("--out", &dir.path().join("new.parquet"), &inputs).is_ok());
        // A results folder that holds an input under a name it writes.
        let scores = dir.path().join("scores.parquet");
        std::fs::write(&scores, b"x").unwrap();
        let inputs = vec![scores];
        assert!(check_output_dir("--out", dir.path(), &["scores.parquet"], &inputs).is_err());
        assert!(check_output_dir("--out", dir.path(), &["summary.json"], &inputs).is_ok());
        // Inside an input folder.
        let images = dir.path().join("images");
        std::fs::create_dir_all(images.join("cat")).unwrap();
        let inputs = vec![images.clone()];
        assert!(matches!(
            check_output_dir("--out", &images.join("cat").join("out"), &[], &inputs),
            Err(OutputError::InsideInput { .. })
        ));
        assert!(check_output_file("--out", &images.join("p.parquet"), &inputs).is_err());
        assert!(check_output_dir("--out", &dir.path().join("out"), &[], &inputs).is_ok());
    }

    #[test]
    fn idx_inputs_protect_their_partner() {
        let p = read_paths(&[PathBuf::from("d/train-images-idx3-ubyte")]);
        assert_eq!(p[1], PathBuf::from("d/train-labels-idx1-ubyte"));
        let p = read_paths(&[PathBuf::from("d/t10k-labels-idx1-ubyte")]);
        assert_eq!(p[1], PathBuf::from("d/t10k-images-idx3-ubyte"));
    }
}
