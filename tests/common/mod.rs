//! Fixtures for the command-line tests: seeded synthetic data sets written in
//! every input format, and helpers to run the real binary in a temp folder.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, ListArray,
    RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Float32Type};
use poisonscan::scanners::SplitMix64;

/// Gaussian classes with an optional planted sub-population in class 0.
pub struct Synthetic {
    pub features: Vec<Vec<f32>>,
    pub labels: Vec<i64>,
    pub poisoned: Vec<bool>,
}

/// `classes` Gaussian classes of `per_class` rows in `dim` dimensions; the
/// first `poison` rows of class 0 are shifted by `shift` along one direction.
/// Rows are interleaved (not sorted by class), as real data would be.
pub fn synthetic(
    classes: usize,
    per_class: usize,
    dim: usize,
    poison: usize,
    shift: f64,
    seed: u64,
) -> Synthetic {
    let mut rng = SplitMix64::new(seed);
    let mut dir: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
    let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
    dir.iter_mut().for_each(|x| *x /= norm);
    let centres: Vec<Vec<f64>> = (0..classes)
        .map(|_| (0..dim).map(|_| 4.0 * rng.normal()).collect())
        .collect();
    let mut out = Synthetic {
        features: vec![],
        labels: vec![],
        poisoned: vec![],
    };
    let mut seen = vec![0usize; classes];
    for i in 0..classes * per_class {
        let c = i % classes;
        let p = c == 0 && seen[c] < poison;
        seen[c] += 1;
        let row = (0..dim)
            .map(|j| (centres[c][j] + rng.normal() + if p { shift * dir[j] } else { 0.0 }) as f32)
            .collect();
        out.features.push(row);
        out.labels.push(c as i64);
        out.poisoned.push(p);
    }
    out
}

/// `classes` Gaussian classes as in [`synthetic`], with a dirty-label
/// attack: `poison` rows drawn in turn from classes 1, 2, … (their features
/// are those of their class) carry label 0.
pub fn relabelled(
    classes: usize,
    per_class: usize,
    dim: usize,
    poison: usize,
    seed: u64,
) -> Synthetic {
    let mut out = synthetic(classes, per_class, dim, 0, 0.0, seed);
    let mut moved = 0;
    for i in 0..out.labels.len() {
        if moved < poison && out.labels[i] as usize == 1 + moved % (classes - 1) {
            out.labels[i] = 0;
            out.poisoned[i] = true;
            moved += 1;
        }
    }
    out
}

impl Synthetic {
    pub fn dim(&self) -> usize {
        self.features[0].len()
    }

    /// `label`, `id` and `f0..f{d-1}` numeric columns.
    pub fn columns_batch(&self) -> RecordBatch {
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                "label".into(),
                Arc::new(Int64Array::from(self.labels.clone())),
            ),
            (
                "id".into(),
                Arc::new(StringArray::from(
                    (0..self.labels.len())
                        .map(|i| format!("s{i}"))
                        .collect::<Vec<_>>(),
                )),
            ),
        ];
        for j in 0..self.dim() {
            let v: Vec<f64> = self.features.iter().map(|r| r[j] as f64).collect();
            cols.push((format!("f{j}"), Arc::new(Float64Array::from(v))));
        }
        RecordBatch::try_from_iter(cols).unwrap()
    }

    /// `label` and a fixed-size-list `emb` column.
    pub fn embedding_batch(&self) -> RecordBatch {
        let d = self.dim() as i32;
        let values = Float32Array::from(
            self.features
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<f32>>(),
        );
        let emb = FixedSizeListArray::new(
            Arc::new(Field::new("item", DataType::Float32, true)),
            d,
            Arc::new(values),
            None,
        );
        RecordBatch::try_from_iter(vec![
            (
                "label",
                Arc::new(Int64Array::from(self.labels.clone())) as ArrayRef,
            ),
            ("emb", Arc::new(emb) as ArrayRef),
        ])
        .unwrap()
    }

    /// `label` and a variable-length list `emb` column.
    pub fn list_batch(&self) -> RecordBatch {
        let emb = ListArray::from_iter_primitive::<Float32Type, _, _>(
            self.features
                .iter()
                .map(|r| Some(r.iter().map(|&v| Some(v)).collect::<Vec<_>>())),
        );
        RecordBatch::try_from_iter(vec![
            (
                "label",
                Arc::new(Int64Array::from(self.labels.clone())) as ArrayRef,
            ),
            ("emb", Arc::new(emb) as ArrayRef),
        ])
        .unwrap()
    }
}

/// A fixed-size list column of `dim` values per row.
pub fn fixed_list(values: ArrayRef, dim: usize) -> ArrayRef {
    let field = Arc::new(Field::new("item", values.data_type().clone(), true));
    Arc::new(FixedSizeListArray::try_new(field, dim as i32, values, None).unwrap())
}

/// A Hugging Face `datasets` image column: `struct<bytes, path>`, one
/// encoded image per row, named `{i:05}.png`.
pub fn hf_image_column(images: &[Vec<u8>]) -> ArrayRef {
    use arrow::array::{BinaryArray, StructArray};
    Arc::new(StructArray::new(
        arrow::datatypes::Fields::from(vec![
            Field::new("bytes", DataType::Binary, true),
            Field::new("path", DataType::Utf8, true),
        ]),
        vec![
            Arc::new(BinaryArray::from_iter_values(images.iter())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                (0..images.len()).map(|i| format!("{i:05}.png")),
            )),
        ],
        None,
    ))
}

pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let f = File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

pub fn write_csv(path: &Path, batch: &RecordBatch) {
    let f = File::create(path).unwrap();
    let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(f);
    w.write(batch).unwrap();
}

pub fn write_ipc(path: &Path, batch: &RecordBatch) {
    let f = File::create(path).unwrap();
    let mut w = arrow::ipc::writer::FileWriter::try_new(f, &batch.schema()).unwrap();
    w.write(batch).unwrap();
    w.finish().unwrap();
}

pub fn write_ndjson(path: &Path, batch: &RecordBatch) {
    let f = File::create(path).unwrap();
    let mut w = arrow::json::LineDelimitedWriter::new(f);
    w.write(batch).unwrap();
    w.finish().unwrap();
}

/// Runs the real binary.
///
/// `scan` runs without the representation model (`--model none`) unless the
/// arguments name one: these tests are about reading inputs and about the
/// scanners; `tests/models.rs` tests the model.
pub fn run(args: &[&str], cwd: &Path) -> Output {
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"scan") && !args.contains(&"--model") {
        args.extend(["--model", "none"]);
    }
    std::process::Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(&args)
        .current_dir(cwd)
        .env_remove("POLARS_MAX_THREADS")
        .output()
        .expect("the binary runs")
}

/// Runs the real binary, which must exit 0; returns its stdout.
pub fn run_ok(args: &[&str], cwd: &Path) -> String {
    let o = run(args, cwd);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Runs the real binary, which must exit 2; returns its stderr.
pub fn run_err(args: &[&str], cwd: &Path) -> String {
    let o = run(args, cwd);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?} should fail: {}",
        stdout(&o)
    );
    stderr(&o)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Reads a Parquet file into one batch.
pub fn read_parquet(path: &Path) -> RecordBatch {
    let f = File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// Every file under `dir`, for "nothing was written" checks.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return vec![];
    }
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// SHA-256 of a file, to check that inputs are never changed.
pub fn digest(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

/// A NumPy `.npy` array: `descr` (`|u1`, `<f4`, …), `shape` as Python
/// writes it (`(3, 4)`), the raw little-endian values.
pub fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}
