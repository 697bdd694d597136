//! Runs the Python package's tests (`python/tests/test_poisonscan.py`)
//! against the extension this build made (`target/<profile>/deps/lib_native.so`,
//! put on `PYTHONPATH` with the package's Python files) and the CLI binary.
//! Python needs pyarrow (and, optionally, polars): `$POISONSCAN_PYTHON`, else
//! `python3`; `.ci/run` makes a virtual environment with both. Skipped, with
//! the reason printed, when no Python with pyarrow is found.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python to test with. One named by `$POISONSCAN_PYTHON` must work
/// (a typo there, or a path relative to another directory — tests run in
/// `python/` — would otherwise skip the tests unnoticed); `python3` may be
/// missing or lack pyarrow, and the tests are then skipped.
fn python() -> Option<PathBuf> {
    let named = std::env::var_os("POISONSCAN_PYTHON").map(PathBuf::from);
    let python = named.clone().unwrap_or_else(|| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import pyarrow"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if let (false, Some(named)) = (ok, named) {
        panic!(
            "POISONSCAN_PYTHON={} cannot import pyarrow (from {}; give an absolute path)",
            named.display(),
            std::env::current_dir().unwrap().display()
        );
    }
    ok.then_some(python)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn python_package() {
    let Some(python) = python() else {
        println!("skipped: no Python with pyarrow (set POISONSCAN_PYTHON, or pip install pyarrow)");
        return;
    };
    // This test is target/<profile>/deps/python-<hash>; cargo builds the
    // package's library (the extension) beside it, in deps/, before it runs
    // (`cargo build` also copies it up to target/<profile>).
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let profile_dir = deps.parent().unwrap();
    let native = deps.join("lib_native.so");
    assert!(
        native.exists(),
        "{} is missing: the extension is this package's library",
        native.display()
    );
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = tempfile::tempdir().unwrap();
    let package = site.path().join("poisonscan");
    copy_dir(&here.join("pysrc/poisonscan"), &package);
    std::fs::copy(&native, package.join("_native.abi3.so")).unwrap();
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(here.join("tests"))
        .env("PYTHONPATH", site.path())
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("POLARS_MAX_THREADS");
    let cli = profile_dir.join("poisonscan");
    if cli.exists() {
        cmd.env("POISONSCAN_BIN", &cli);
    }
    let out = cmd.output().expect("python runs");
    let text = String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success(), "the Python tests failed:\n{text}");
}
