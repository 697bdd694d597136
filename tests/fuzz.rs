//! Mutation fuzzing of ingestion and the scan, every format: valid seed
//! files (CSV, gzip CSV, NDJSON, Parquet with an embedding / numeric columns
//! / a Hugging Face image column, Arrow IPC, Avro, IDX pairs, HDF5, ARFF,
//! LIBSVM, PNG folders) are mutated — bit flips, byte overwrites with boundary values, truncation,
//! splices, inserted bytes, and for text formats token swaps (`nan`, empty,
//! huge numbers, extra separators) — and read with `ingest::load`; whatever
//! reads is scanned. Every outcome is fine except a panic (or an abort,
//! which ends the test run). A crashing input is saved under
//! `target/fuzz-crashes/` for a regression test.
//!
//! An input that hangs the reader is found with `POISONSCAN_FUZZ_TRACE=DIR`:
//! each case is written to DIR before it is read, so the one left there is
//! the one that hung.
//!
//! The test runs for `POISONSCAN_FUZZ_SECS` seconds (default 8, a smoke
//! run); the long run in BENCHMARKS.md is
//! `POISONSCAN_FUZZ_SECS=600 cargo test --release --test fuzz -- --nocapture`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field};
use common::*;
use poisonscan::ingest::{load, IngestOptions};
use poisonscan::pipeline::{scan_dataset, NoProgress};
use poisonscan::scanners::SplitMix64;
use poisonscan::settings::ScanOptions;

/// One seed input: files relative to a folder, and the path to scan.
struct Seed {
    name: &'static str,
    files: Vec<(String, Vec<u8>)>,
    input: String,
}

impl Seed {
    /// A seed of one file, scanned by its name.
    fn one(name: &'static str, file: &str, bytes: Vec<u8>) -> Self {
        Seed {
            name,
            files: vec![(file.to_string(), bytes)],
            input: file.to_string(),
        }
    }
}

/// A file of `datasets/fixtures`.
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("datasets/fixtures")
            .join(name),
    )
    .unwrap()
}

fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    out
}

fn ipc_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = arrow::ipc::writer::FileWriter::try_new(&mut out, &batch.schema()).unwrap();
    w.write(batch).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

fn png(rng: &mut SplitMix64, class: usize) -> Vec<u8> {
    let img = image::GrayImage::from_fn(6, 6, |x, _| {
        image::Luma([
            ((x as usize * 40 + class * 60) as f64 + 20.0 * rng.normal()).clamp(0.0, 255.0) as u8,
        ])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn seeds() -> Vec<Seed> {
    let data = relabelled(3, 20, 4, 3, 1);
    let emb = data.embedding_batch();
    let cols = data.columns_batch();
    let mut csv = Vec::new();
    {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut csv);
        w.write(&cols).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&csv).unwrap();
    let csv_gz = gz.finish().unwrap();
    let mut ndjson = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut ndjson);
        w.write(&cols).unwrap();
        w.finish().unwrap();
    }
    let mut rng = SplitMix64::new(3);
    let n = 30;
    let pngs: Vec<Vec<u8>> = (0..n).map(|i| png(&mut rng, i % 3)).collect();
    let hf = RecordBatch::try_from_iter(vec![
        ("image", hf_image_column(&pngs)),
        (
            "label",
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i % 3) as i64))),
        ),
    ])
    .unwrap();
    let u8_pixels = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        36,
        Arc::new(Float32Array::from_iter_values(
            (0..n * 36).map(|i| (i % 17) as f32 / 17.0),
        )),
        None,
    )
    .unwrap();
    let meta_batch = RecordBatch::try_new(
        Arc::new(
            arrow::datatypes::Schema::new(vec![
                Field::new("label", DataType::Int64, false),
                Field::new("features", u8_pixels.data_type().clone(), true),
            ])
            .with_metadata(
                [
                    ("poisonscan.features".to_string(), "features".to_string()),
                    ("poisonscan.image_shape".to_string(), "6x6x1".to_string()),
                ]
                .into_iter()
                .collect::<std::collections::HashMap<String, String>>(),
            ),
        ),
        vec![
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i % 3) as i64))),
            Arc::new(u8_pixels),
        ],
    )
    .unwrap();
    let mut idx_images = vec![0u8, 0, 8, 3];
    for d in [n as u32, 6, 6] {
        idx_images.extend(d.to_be_bytes());
    }
    idx_images.extend((0..n * 36).map(|i| (i * 7 % 256) as u8));
    let mut idx_labels = vec![0u8, 0, 8, 1];
    idx_labels.extend((n as u32).to_be_bytes());
    idx_labels.extend((0..n).map(|i| (i % 3) as u8));
    let mut folder: Vec<(String, Vec<u8>)> = pngs
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("imgs/c{}/{i}.png", i % 3), b.clone()))
        .collect();
    folder.sort();
    vec![
        Seed::one("csv", "t.csv", csv.clone()),
        Seed::one("csv.gz", "t.csv.gz", csv_gz),
        Seed::one("ndjson", "t.ndjson", ndjson),
        Seed::one("parquet-emb", "e.parquet", parquet_bytes(&emb)),
        Seed::one("parquet-cols", "c.parquet", parquet_bytes(&cols)),
        Seed::one("parquet-hf", "h.parquet", parquet_bytes(&hf)),
        Seed::one("parquet-pixels", "p.parquet", parquet_bytes(&meta_batch)),
        Seed::one("ipc", "t.arrow", ipc_bytes(&emb)),
        Seed {
            name: "idx",
            files: vec![
                ("train-images-idx3-ubyte".into(), idx_images),
                ("train-labels-idx1-ubyte".into(), idx_labels),
            ],
            input: "train-images-idx3-ubyte".into(),
        },
        Seed::one("hdf5", "t.h5", h5_bytes(n)),
        Seed::one("arff", "t.arff", arff_bytes(&csv)),
        Seed::one("libsvm", "t.libsvm", libsvm_bytes(&csv)),
        Seed::one("avro", "t.avro", avro_bytes(&cols)),
        // pandas's HDF5 stores, pickled frames and spreadsheets (the repo's fixtures; their label is
        // `cultivar`, so a mutation that keeps the frame readable is scanned
        // with the class column as the label would be named)
        Seed::one("hdfstore-fixed", "f.h5", fixture("wine60_fixed.h5")),
        Seed::one("hdfstore-table", "t.h5", fixture("wine60_table.h5")),
        Seed::one("xlsx", "t.xlsx", fixture("wine60.xlsx")),
        Seed::one("ods", "t.ods", fixture("wine60.ods")),
        Seed::one("pickle-batch", "data_batch_1", fixture("digits300_batch")),
        Seed::one("joblib", "d.joblib", fixture("digits300.joblib")),
        Seed::one("torch", "d.pt", fixture("digits300_strided.pt")),
        Seed::one("pandas-pickle3", "t.pkl", fixture("wine60_pandas3.pkl")),
        Seed::one("orc", "t.orc", fixture("wine60.orc")),
        Seed::one("rdata", "t.RData", fixture("wine60_train.RData")),
        Seed::one("stata114", "t.dta", fixture("wine60_114.dta")),
        Seed::one("stata118", "t.dta", fixture("wine60_readstat.dta")),
        Seed::one("spss", "t.sav", fixture("wine60.sav")),
        Seed::one("zsav", "t.zsav", fixture("wine60.zsav")),
        Seed::one("xport", "t.xpt", fixture("WINE60.XPT")),
        Seed::one("sas7bdat", "t.sas7bdat", fixture("wine60_rle.sas7bdat")),
        Seed::one("pandas-pickle1", "t.pkl", fixture("wine60_pandas1.pkl")),
        Seed::one(
            "pickle-pairs",
            "p.pkl.gz",
            fixture("digits300_pairs.pkl.gz"),
        ),
        Seed {
            name: "png-folder",
            files: folder,
            input: "imgs".into(),
        },
        // compressed DICOM pictures: lossless JPEG, JPEG 2000, deflated,
        // JPEG-LS
        Seed {
            name: "dicom-folder",
            files: [
                "ct32_lossless_sv1",
                "ct32_j2k",
                "ct32_deflated",
                "ct32_jls",
                "ct32_lossless_sv6",
                "ct32_signed_j2k",
                "ct32_signed_sv1",
                "ct32_signed_jls",
            ]
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = format!("dcm/c{}/{f}.dcm", i / 4);
                (name, fixture(&format!("{f}.dcm")))
            })
            .collect(),
            input: "dcm".into(),
        },
    ]
}

/// A CSV table's rows (a `label` column among numbers) as an ARFF file,
/// the class last.
fn arff_bytes(csv: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(csv.to_vec()).unwrap();
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    let l = names.iter().position(|&n| n == "label").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|r| r.split(',').collect()).collect();
    let mut classes: Vec<&str> = rows.iter().map(|r| r[l]).collect();
    classes.sort();
    classes.dedup();
    let mut out = String::from("@relation fuzz\n");
    for (j, name) in names.iter().enumerate().filter(|&(j, _)| j != l) {
        let kind = match (rows[0][j].parse::<f64>(), j % 2) {
            (Err(_), _) => "string",
            (Ok(_), 0) => "numeric",
            (Ok(_), _) => "REAL",
        };
        out.push_str(&format!("@attribute '{name}' {kind}\n"));
    }
    out.push_str(&format!(
        "@attribute class {{{}}}\n@data\n",
        classes.join(",")
    ));
    for r in &rows {
        let mut v: Vec<&str> = (0..r.len()).filter(|&j| j != l).map(|j| r[j]).collect();
        v.push(r[l]);
        out.push_str(&v.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// A CSV table's rows (a `label` column among numbers) as LIBSVM rows.
fn libsvm_bytes(csv: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(csv.to_vec()).unwrap();
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    let l = names.iter().position(|&n| n == "label").unwrap();
    let mut out = String::new();
    for r in lines {
        let r: Vec<&str> = r.split(',').collect();
        let pairs: Vec<String> = (0..r.len())
            .filter(|&j| j != l && r[j].parse::<f64>().is_ok())
            .enumerate()
            .map(|(k, j)| format!("{}:{}", k + 1, r[j]))
            .collect();
        out.push_str(&format!("{} {}\n", r[l], pairs.join(" ")));
    }
    out.into_bytes()
}

/// A batch as an Avro object container file, deflated in blocks of 16
/// rows.
fn avro_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut w = arrow_avro::writer::WriterBuilder::new(batch.schema().as_ref().clone())
        .with_compression(Some(arrow_avro::compression::CompressionCodec::Deflate))
        .build::<_, arrow_avro::writer::format::AvroOcfFormat>(Vec::new())
        .unwrap();
    for start in (0..batch.num_rows()).step_by(16) {
        w.write(&batch.slice(start, 16.min(batch.num_rows() - start)))
            .unwrap();
    }
    w.finish().unwrap();
    w.into_inner()
}

/// An HDF5 file of `n` rows: 36 features a row, chunked and deflated, in
/// a group, and their labels.
fn h5_bytes(n: usize) -> Vec<u8> {
    let x: Vec<f32> = (0..n * 36).map(|i| (i % 17) as f32 / 17.0).collect();
    let y: Vec<i64> = (0..n).map(|i| (i % 3) as i64).collect();
    hdf5_writer::Hdf5Builder::new()
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data("train/x", [n as u64, 36], &x)
                .unwrap()
                .chunked([16, 36])
                .filter(hdf5_writer::FilterDescription {
                    id: 1,
                    name: None,
                    client_data: vec![4],
                }),
        )
        .dataset(hdf5_writer::DatasetBuilder::typed_data("train/y", [n as u64], &y).unwrap())
        .into_plan()
        .unwrap()
        .encode(hdf5_writer::WriteOptions::default())
        .unwrap()
}

const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b',', b'\n', b'"', b'-', b'9'];
const TOKENS: [&str; 10] = [
    "nan",
    "",
    "1e400",
    "-inf",
    "99999999999999999999999",
    ",",
    "\"",
    "\n",
    "x",
    "0.5",
];

/// One mutation of `bytes`.
fn mutate(bytes: &mut Vec<u8>, rng: &mut SplitMix64, text: bool) {
    if bytes.is_empty() {
        bytes.push(INTERESTING[rng.below(INTERESTING.len())]);
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(if text { 7 } else { 6 }) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = INTERESTING[rng.below(INTERESTING.len())],
        2 => bytes.truncate(at),
        3 => {
            let len = rng.below(16) + 1;
            let extra: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            bytes.splice(at..at, extra);
        }
        4 => {
            // Splice: copy a chunk from elsewhere over this position.
            let from = rng.below(bytes.len());
            let len = rng.below(64).min(bytes.len() - from).min(bytes.len() - at);
            let chunk = bytes[from..from + len].to_vec();
            bytes[at..at + len].copy_from_slice(&chunk);
        }
        5 => {
            // Boundary integers (lengths, offsets, counts) in binary headers.
            let v: u32 = [0, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000][rng.below(5)];
            for (k, b) in v.to_be_bytes().iter().enumerate() {
                if at + k < bytes.len() {
                    bytes[at + k] = *b;
                }
            }
        }
        _ => {
            // Replace the token under `at` in a text file.
            let start = bytes[..at]
                .iter()
                .rposition(|&b| b == b',' || b == b'\n')
                .map_or(0, |p| p + 1);
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b',' || b == b'\n')
                .map_or(bytes.len(), |p| at + p);
            let token = TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec();
            bytes.splice(start..end, token);
        }
    }
}

fn write_case(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn mutated_inputs_never_crash_ingestion_or_the_scan() {
    let secs: u64 = std::env::var("POISONSCAN_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let seeds = seeds();
    let settings = ScanOptions::default().check().unwrap();
    let crashes_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = SplitMix64::new(
        std::env::var("POISONSCAN_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
    );
    let (mut cases, mut read_ok, mut crashes) = (0u64, 0u64, Vec::new());
    let mut per_seed = vec![0u64; seeds.len()];
    while Instant::now() < deadline || cases < seeds.len() as u64 {
        let k = (cases as usize) % seeds.len();
        let seed = &seeds[k];
        let mut files = seed.files.clone();
        // Mutate one file of the seed, 1 to 4 times (the first case of each
        // seed is the seed itself, which must read).
        if cases >= seeds.len() as u64 {
            let f = rng.below(files.len());
            let text = seed.name.starts_with("csv") && !seed.name.ends_with("gz")
                || ["ndjson", "arff", "libsvm"].contains(&seed.name);
            for _ in 0..rng.below(4) + 1 {
                mutate(&mut files[f].1, &mut rng, text);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        write_case(dir.path(), &files);
        if let Some(trace) = std::env::var_os("POISONSCAN_FUZZ_TRACE") {
            // the case about to be read: the last one left is the one that hung
            eprintln!("case {cases}: {}", seed.name);
            write_case(Path::new(&trace), &files);
        }
        let input = dir.path().join(&seed.input).to_string_lossy().into_owned();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut options = IngestOptions::default();
            if seed.name.starts_with("hdfstore")
                || seed.name.starts_with("pandas-pickle")
                || [
                    "orc", "rdata", "stata114", "stata118", "spss", "zsav", "xport", "sas7bdat",
                ]
                .contains(&seed.name)
                || ["xlsx", "ods"].contains(&seed.name)
            {
                options.table.label = "cultivar".into();
            }
            let ds = load(std::slice::from_ref(&input), &options)?;
            if ds.n_rows() <= 5_000 {
                let _ = scan_dataset(&ds, &settings, &NoProgress);
            }
            Ok::<_, poisonscan::ingest::IngestError>(())
        }));
        match outcome {
            Ok(Ok(())) => read_ok += 1,
            Ok(Err(e)) => {
                if cases < seeds.len() as u64 {
                    let _ = std::panic::take_hook();
                    panic!("seed {} must read: {e}", seed.name);
                }
                assert!(!e.to_string().is_empty());
            }
            Err(_) => {
                let keep = crashes_dir.join(format!("{}-{cases}", seed.name));
                write_case(&keep, &files);
                crashes.push(keep);
            }
        }
        per_seed[k] += 1;
        cases += 1;
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "fuzz: {cases} cases in {secs} s from {} seeds ({} files), {read_ok} read and scanned, {} crashed",
        seeds.len(),
        seeds.iter().map(|s| s.files.len()).sum::<usize>(),
        crashes.len()
    );
    assert!(
        crashes.is_empty(),
        "inputs that crashed (saved): {crashes:?}"
    );
}
