//! End-to-end benchmark of `poisonscan scan` on a 60,000 × 128 float32
//! embedding Parquet file (1 % planted poison): wall time and peak memory of
//! the real binary, measured with `/usr/bin/time -v`, median of 3 runs.
//!
//! Run: `cargo bench --bench e2e` (prints a Markdown table for BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field};
use poisonscan::scanners::SplitMix64;

const ROWS: usize = 60_000;
const DIM: usize = 128;
const CLASSES: usize = 10;
const RUNS: usize = 3;

fn make_input(path: &Path) {
    let mut rng = SplitMix64::new(2024);
    let centres: Vec<f64> = (0..CLASSES * DIM).map(|_| 2.0 * rng.normal()).collect();
    let shift: Vec<f64> = (0..DIM).map(|_| 0.6 * rng.normal()).collect();
    let mut values = Vec::with_capacity(ROWS * DIM);
    let mut labels = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        let c = i % CLASSES;
        let poisoned = c == 0 && i < ROWS / 100 * CLASSES;
        for j in 0..DIM {
            let v = centres[c * DIM + j] + rng.normal() + if poisoned { shift[j] } else { 0.0 };
            values.push(v as f32);
        }
        labels.push(c as i64);
    }
    let emb = FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        DIM as i32,
        Arc::new(Float32Array::from(values)),
        None,
    );
    let batch = RecordBatch::try_from_iter(vec![
        ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
        ("emb", Arc::new(emb) as ArrayRef),
    ])
    .unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// (wall seconds, peak RSS in MiB, exit code) of one run.
fn measure(bin: &Path, input: &Path, out: &Path, extra: &[&str]) -> (f64, f64, i32) {
    let o = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .args(["scan", "--quiet", "--embedding", "emb", "--out"])
        .arg(out)
        .args(extra)
        .arg(input)
        .output()
        .expect("/usr/bin/time runs (apt-get install time)");
    let err = String::from_utf8_lossy(&o.stderr);
    let field = |key: &str| {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("no `{key}` in /usr/bin/time output:\n{err}"))
            .trim()
            .to_string()
    };
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):");
    let secs = wall
        .split(':')
        .fold(0.0, |acc, part| acc * 60.0 + part.parse::<f64>().unwrap());
    let rss_kib: f64 = field("Maximum resident set size (kbytes):")
        .parse()
        .unwrap();
    let code: i32 = field("Exit status:").parse().unwrap();
    (secs, rss_kib / 1024.0, code)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_poisonscan"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("emb-{ROWS}x{DIM}.parquet"));
    if !input.exists() {
        make_input(&input);
    }
    let matrix_mib = (ROWS * DIM * 4) as f64 / (1024.0 * 1024.0);
    let file_mib = std::fs::metadata(&input).unwrap().len() as f64 / (1024.0 * 1024.0);
    println!("| input | model, scanners | file | matrix | wall (median of {RUNS}) | peak RSS (max of {RUNS}) | RSS / matrix | exit |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, extra) in [
        ("`--model none`, all scanners", &["--model", "none"][..]),
        (
            "`--model none`, spectral-signature",
            &["--model", "none", "--scanners", "spectral-signature"][..],
        ),
        (
            "default (`--model auto`: none for an embedding), all scanners",
            &[][..],
        ),
        ("`--model mlp`, all scanners", &["--model", "mlp"][..]),
    ] {
        let mut runs: Vec<(f64, f64, i32)> = (0..RUNS)
            .map(|_| measure(&bin, &input, &dir.join("out"), extra))
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (wall, _, code) = runs[RUNS / 2];
        let peak = runs.iter().map(|r| r.1).fold(0.0, f64::max);
        println!(
            "| {ROWS} × {DIM} f32 embedding Parquet | {name} | {file_mib:.1} MiB | {matrix_mib:.1} MiB | {wall:.2} s | {peak:.1} MiB | {:.2}× | {code} |",
            peak / matrix_mib
        );
    }
}
