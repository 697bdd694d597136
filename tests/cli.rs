//! The real binary on every input format, on planted poison and clean data,
//! and on every kind of bad input.

mod common;

use std::io::Write;
use std::path::Path;

use arrow::array::{Array, AsArray, BooleanArray, Float64Array, UInt64Array};
use arrow::datatypes::UInt64Type;
use common::*;

fn flagged(scores: &arrow::array::RecordBatch) -> Vec<bool> {
    let f = scores.column_by_name("flagged").unwrap();
    let f = f.as_any().downcast_ref::<BooleanArray>().unwrap();
    (0..f.len()).map(|i| f.value(i)).collect()
}

fn score(scores: &arrow::array::RecordBatch) -> Vec<Option<f64>> {
    let s = scores.column_by_name("score").unwrap();
    let s = s.as_any().downcast_ref::<Float64Array>().unwrap();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i)))
        .collect()
}

/// Checks the scores file of a finished scan against the planted truth.
fn check_scores(out: &Path, data: &Synthetic) {
    let scores = read_parquet(&out.join("scores.parquet"));
    assert_eq!(scores.num_rows(), data.labels.len());
    let rows = scores
        .column_by_name("row")
        .unwrap()
        .as_primitive::<UInt64Type>()
        .clone();
    assert_eq!(
        rows,
        UInt64Array::from_iter_values(0..data.labels.len() as u64)
    );
    let flags = flagged(&scores);
    let s = score(&scores);
    assert!(s
        .iter()
        .all(|v| matches!(v, Some(x) if (0.0..=1.0).contains(x))));
    let hits = flags
        .iter()
        .zip(&data.poisoned)
        .filter(|(f, p)| **f && **p)
        .count();
    let false_alarms = flags
        .iter()
        .zip(&data.poisoned)
        .filter(|(f, p)| **f && !**p)
        .count();
    let planted = data.poisoned.iter().filter(|&&p| p).count();
    assert!(
        hits * 10 >= planted * 9,
        "{hits} of {planted} planted rows flagged"
    );
    // flags keep the expected share of clean rows within 10 % (fusion's
    // empirical-null rule), and the planted rows are the bulk of them
    assert!(
        false_alarms * 10 <= hits + false_alarms,
        "{false_alarms} clean rows flagged beside {hits} planted ones"
    );
}

/// A shifted sub-population in class 0 (for the learned-representation
/// scanners on embedding columns).
fn poisoned() -> Synthetic {
    synthetic(3, 400, 12, 40, 8.0, 42)
}

/// A dirty-label attack on raw columns: 40 rows of classes 1 and 2 labelled 0
/// (2 % of their classes: sparse, so each lies among its true class).
fn relabelled_data() -> Synthetic {
    relabelled(3, 1000, 12, 40, 42)
}

#[test]
fn a_reader_that_stops_reading_does_not_change_the_exit_code() {
    // `poisonscan scan … | head -1` in a pipeline step: the reader closes
    // the pipe before the summary is printed. The files are written and
    // the exit code is still the verdict, not an error.
    let dir = tempfile::tempdir().unwrap();
    let data = poisoned();
    write_parquet(&dir.path().join("train.parquet"), &data.embedding_batch());
    let scan = [
        "scan",
        "train.parquet",
        "--embedding",
        "emb",
        "--model",
        "none",
        "--out",
        "out",
    ];
    let o = run_with_stdout_closed(&scan, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("error"), "{}", stderr(&o));
    check_scores(&dir.path().join("out"), &data);
    for args in [&["scanners"][..], &["explain", "PS001"][..]] {
        let o = run_with_stdout_closed(args, dir.path());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
}

/// Runs the binary with its standard output closed at once, as a reader
/// that stops reading leaves it.
fn run_with_stdout_closed(args: &[&str], cwd: &Path) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn parquet_embedding_with_planted_poison_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let data = poisoned();
    write_parquet(&dir.path().join("train.parquet"), &data.embedding_batch());
    let o = run(
        &[
            "scan",
            "train.parquet",
            "--embedding",
            "emb",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("verdict: FAIL"), "{}", stdout(&o));
    check_scores(&dir.path().join("out"), &data);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["verdict"], "fail");
    assert_eq!(summary["classes"][0]["verdict"], "fail");
    assert_eq!(summary["classes"][1]["verdict"], "pass");
    assert_eq!(summary["rows"]["input"], 1200);
    assert_eq!(summary["files"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(summary["timings_s"]["spectral-signature"].is_number());
    // shared-pattern compares raw values; it says why it does not read an
    // embedding of continuous values (a sentence encoder's unit vectors
    // share one scale, so "the features do not share one scale" misled)
    let reason = summary["skipped_scanners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scanner"] == "shared-pattern")
        .expect("shared-pattern is skipped on a learned representation")["reason"]
        .to_string();
    assert!(reason.contains("learned representation"), "{reason}");
    assert_eq!(summary["features"]["view"]["learned_representation"], true);
}

#[test]
fn clean_data_passes_and_no_fail_always_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(4, 500, 10, 0, 0.0, 7);
    write_parquet(&dir.path().join("clean.parquet"), &data.embedding_batch());
    let o = run(&["scan", "clean.parquet", "--out", "out"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let scores = read_parquet(&dir.path().join("out/scores.parquet"));
    assert_eq!(flagged(&scores).iter().filter(|&&f| f).count(), 0);

    let poisoned_data = poisoned();
    write_parquet(
        &dir.path().join("bad.parquet"),
        &poisoned_data.embedding_batch(),
    );
    let o = run(
        &["scan", "bad.parquet", "--out", "out2", "--no-fail"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn list_embedding_many_files_and_globs_keep_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = poisoned();
    let batch = data.list_batch();
    write_parquet(&dir.path().join("part-0.parquet"), &batch.slice(0, 500));
    write_parquet(&dir.path().join("part-1.parquet"), &batch.slice(500, 700));
    let o = run(
        &["scan", "part-*.parquet", "--out", "out", "--quiet"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).is_empty(),
        "--quiet prints nothing: {}",
        stdout(&o)
    );
    check_scores(&dir.path().join("out"), &data);
}

#[test]
fn csv_with_feature_globs_id_and_string_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = relabelled_data();
    let batch = data.columns_batch();
    // string labels: class names instead of numbers
    let names: Vec<String> = data
        .labels
        .iter()
        .map(|l| ["cat", "dog", "eel"][*l as usize].to_string())
        .collect();
    let mut cols: Vec<(String, arrow::array::ArrayRef)> = vec![(
        "species".into(),
        std::sync::Arc::new(arrow::array::StringArray::from(names)),
    )];
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()).skip(1) {
        cols.push((f.name().clone(), c.clone()));
    }
    write_csv(
        &dir.path().join("train.csv"),
        &arrow::array::RecordBatch::try_from_iter(cols).unwrap(),
    );
    let o = run(
        &[
            "scan",
            "train.csv",
            "--label",
            "species",
            "--id",
            "id",
            "--features",
            "f*",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    check_scores(&dir.path().join("out"), &data);
    let scores = read_parquet(&dir.path().join("out/scores.parquet"));
    let ids = scores.column_by_name("id").unwrap();
    assert_eq!(ids.as_string::<i32>().value(3), "s3");
    assert_eq!(
        scores
            .column_by_name("label")
            .unwrap()
            .as_string::<i32>()
            .value(1),
        ["cat", "dog", "eel"][data.labels[1] as usize]
    );
    assert!(scores.column_by_name("score_spectral_signature").is_some());
}

#[test]
fn ipc_and_ndjson_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = relabelled_data();
    write_ipc(&dir.path().join("train.arrow"), &data.columns_batch());
    let o = run(
        &["scan", "train.arrow", "--id", "id", "--out", "a"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    check_scores(&dir.path().join("a"), &data);

    write_ndjson(&dir.path().join("train.ndjson"), &data.columns_batch());
    let o = run(
        &["scan", "train.ndjson", "--id", "id", "--out", "b"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    check_scores(&dir.path().join("b"), &data);
}

#[test]
fn csv_and_json_score_formats() {
    let dir = tempfile::tempdir().unwrap();
    let data = poisoned();
    write_parquet(&dir.path().join("t.parquet"), &data.embedding_batch());
    let o = run(
        &["scan", "t.parquet", "--out", "c", "--scores-format", "csv"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("c/scores.csv")).unwrap();
    assert!(
        text.starts_with("row,label,score,significance,flagged,rank,reasons,suspected_label,score_spectral_signature,score_robust_spectral,score_activation_clustering,score_knn_label_disagreement,score_value_trigger\n"),
        "{}",
        &text[..80]
    );
    assert_eq!(text.lines().count(), 1201);
    let o = run(
        &["scan", "t.parquet", "--out", "j", "--scores-format", "json"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("j/scores.json")).unwrap())
            .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1200);
    assert_eq!(rows[5]["row"], 5);
}

/// Writes a gray PNG: a class-dependent stripe plus a seeded noise, and a
/// bright corner patch when `patched`.
fn write_png(
    path: &Path,
    class: usize,
    patched: bool,
    size: u32,
    rng: &mut poisonscan::scanners::SplitMix64,
) {
    let img = image::GrayImage::from_fn(size, size, |x, y| {
        let base = if (x as usize + class * 3) % 8 < 3 {
            180.0
        } else {
            40.0
        };
        let patch = patched && x >= size - 4 && y >= size - 4;
        let v = if patch {
            255.0
        } else {
            base + 20.0 * rng.normal()
        };
        image::Luma([v.clamp(0.0, 255.0) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn image_folder_with_planted_patch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("imgs");
    let mut rng = poisonscan::scanners::SplitMix64::new(3);
    // 40 images of classes 1 and 2 filed under class0 (a dirty-label
    // attack): names 400–439 in class0
    for class in 0..3 {
        let cdir = root.join(format!("class{class}"));
        std::fs::create_dir_all(&cdir).unwrap();
        for i in 0..400 {
            write_png(
                &cdir.join(format!("{i:03}.png")),
                class,
                false,
                16,
                &mut rng,
            );
        }
    }
    for i in 400..440 {
        let source = 1 + i % 2;
        write_png(
            &root.join(format!("class0/{i:03}.png")),
            source,
            false,
            16,
            &mut rng,
        );
    }
    let o = run(&["scan", "imgs", "--out", "out"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let scores = read_parquet(&dir.path().join("out/scores.parquet"));
    assert_eq!(scores.num_rows(), 1240);
    let ids = scores
        .column_by_name("id")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let flags = flagged(&scores);
    let (mut hits, mut false_alarms) = (0, 0);
    for i in 0..1240 {
        let name = ids.value(i);
        let planted = name.starts_with("class0") && name[7..10].parse::<usize>().unwrap() >= 400;
        hits += (flags[i] && planted) as usize;
        false_alarms += (flags[i] && !planted) as usize;
    }
    assert!(
        hits >= 34 && false_alarms <= 3,
        "{hits} of 40 flagged, {false_alarms} false"
    );
    // --resize scales; an image of another size is scaled to the common
    // size, and the summary says so.
    let o = run(
        &["scan", "imgs", "--out", "r", "--resize", "8x8"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    write_png(&root.join("class1/odd.png"), 1, false, 20, &mut rng);
    let o = run(&["scan", "imgs", "--out", "s"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary = std::fs::read_to_string(dir.path().join("s/summary.json")).unwrap();
    assert!(
        summary.contains("1 of 1241 images differ from the most common size 16x16"),
        "{summary}"
    );
}

fn write_idx(path: &Path, dims: &[u32], data: &[u8], gzip: bool) {
    let mut bytes = vec![0u8, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    let f = std::fs::File::create(path).unwrap();
    if gzip {
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        e.write_all(&bytes).unwrap();
        e.finish().unwrap();
    } else {
        let mut f = f;
        f.write_all(&bytes).unwrap();
    }
}

#[test]
fn idx_pair_found_from_either_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = poisonscan::scanners::SplitMix64::new(5);
    let (n, side) = (1200usize, 10usize);
    let mut pixels = Vec::with_capacity(n * side * side);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 3;
        // rows 0, 3, …, 87 of class 0 hold images of classes 1 and 2 (a
        // dirty-label attack)
        let planted = class == 0 && i < 90;
        let content = if planted { 1 + (i / 3) % 2 } else { class };
        for y in 0..side {
            for x in 0..side {
                let base = if (x + content * 3) % 8 < 3 {
                    180.0
                } else {
                    40.0
                };
                let _ = y;
                let v = base + 20.0 * rng.normal();
                pixels.push(v.clamp(0.0, 255.0) as u8);
            }
        }
        labels.push(class as u8);
    }
    write_idx(
        &dir.path().join("train-images-idx3-ubyte.gz"),
        &[n as u32, side as u32, side as u32],
        &pixels,
        true,
    );
    write_idx(
        &dir.path().join("train-labels-idx1-ubyte"),
        &[n as u32],
        &labels,
        false,
    );
    for input in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"] {
        let o = run(&["scan", input, "--out", "out"], dir.path());
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let scores = read_parquet(&dir.path().join("out/scores.parquet"));
        let flags = flagged(&scores);
        let hits = (0..n).filter(|&i| flags[i] && i % 3 == 0 && i < 90).count();
        assert!(hits >= 27, "{hits} of 30 planted rows flagged");
        assert!(
            (0..n)
                .filter(|&i| flags[i] && !(i % 3 == 0 && i < 90))
                .count()
                <= 2
        );
    }
    // A truncated image file is named in the error.
    write_idx(
        &dir.path().join("bad-images-idx3-ubyte"),
        &[n as u32, side as u32, side as u32],
        &pixels[..100],
        false,
    );
    write_idx(
        &dir.path().join("bad-labels-idx1-ubyte"),
        &[n as u32],
        &labels,
        false,
    );
    let o = run(&["scan", "bad-images-idx3-ubyte", "--out", "x"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad-images-idx3-ubyte: not a valid IDX file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn determinism_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = poisoned();
    write_parquet(&dir.path().join("t.parquet"), &data.embedding_batch());
    let a = run(
        &[
            "scan",
            "t.parquet",
            "--out",
            "one",
            "--threads",
            "1",
            "--seed",
            "9",
        ],
        dir.path(),
    );
    let b = run(
        &[
            "scan",
            "t.parquet",
            "--out",
            "two",
            "--threads",
            "2",
            "--seed",
            "9",
        ],
        dir.path(),
    );
    let c = run(
        &[
            "scan",
            "t.parquet",
            "--out",
            "many",
            "--seed",
            "9",
            "--threads",
            "7",
        ],
        dir.path(),
    );
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(b.status.code(), Some(1));
    assert_eq!(c.status.code(), Some(1));
    let one = std::fs::read(dir.path().join("one/scores.parquet")).unwrap();
    assert_eq!(
        one,
        std::fs::read(dir.path().join("two/scores.parquet")).unwrap()
    );
    assert_eq!(
        one,
        std::fs::read(dir.path().join("many/scores.parquet")).unwrap()
    );
}

#[test]
fn demo_fails_the_gate_and_scanner_docs_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["scan", "--demo", "--out", "demo"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("poisoning suspected in 1 class(es): 0"),
        "{}",
        stdout(&o)
    );
    let o = run(&["scanners"], dir.path());
    assert!(
        stdout(&o).starts_with("PS001  spectral-signature"),
        "{}",
        stdout(&o)
    );
    let o = run(&["explain", "PS001"], dir.path());
    assert!(stdout(&o).contains("## Known false positives"));
    let o = run(&["explain", "PS999"], dir.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn scanner_options_from_flags_and_poisonscan_toml() {
    let dir = tempfile::tempdir().unwrap();
    let data = poisoned();
    write_parquet(&dir.path().join("t.parquet"), &data.embedding_batch());
    let o = run(
        &[
            "scan",
            "t.parquet",
            "--out",
            "a",
            "--set",
            "spectral-signature.k=2",
            "--set",
            "knn-label-disagreement.k=5",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["settings"]["scanner_options"]["spectral-signature"]["k"],
        "2"
    );
    let o = run(
        &[
            "scan",
            "t.parquet",
            "--out",
            "b",
            "--set",
            "knn-label-disagreement.unanimity-ratio=90",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("option `knn-label-disagreement.unanimity-ratio` is 90"),
        "{}",
        stderr(&o)
    );
    // ./poisonscan.toml is read; flags override it.
    std::fs::write(
        dir.path().join("poisonscan.toml"),
        "scanners = [\"spectral-signature\", \"robust-spectral\"]\nthreshold = 0.999\n",
    )
    .unwrap();
    let o = run(
        &["scan", "t.parquet", "--out", "c", "--threshold", "0.98"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["settings"]["threshold"], 0.98);
    assert_eq!(
        summary["settings"]["scanners"],
        serde_json::json!(["spectral-signature", "robust-spectral"])
    );
    std::fs::write(dir.path().join("poisonscan.toml"), "treshold = 0.9\n").unwrap();
    let o = run(&["scan", "t.parquet", "--out", "d"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("poisonscan.toml: unknown key `treshold`"),
        "{}",
        stderr(&o)
    );
}

/// `label`, `emb` and a `probs` column of a (simulated) out-of-sample model
/// that knows the true class of every row.
fn with_probs(
    data: &Synthetic,
    truth_labels: &[i64],
    classes: usize,
    width: usize,
) -> arrow::array::RecordBatch {
    use arrow::array::{ArrayRef, ListArray};
    use arrow::datatypes::Float32Type;
    let probs = ListArray::from_iter_primitive::<Float32Type, _, _>(
        truth_labels.iter().enumerate().map(|(i, &t)| {
            let conf = 0.85 + 0.1 * ((i * 7919 % 100) as f32 / 100.0);
            Some(
                (0..width)
                    .map(|j| {
                        Some(if j as i64 == t {
                            conf
                        } else {
                            (1.0 - conf) / (classes - 1) as f32
                        })
                    })
                    .collect::<Vec<_>>(),
            )
        }),
    );
    let b = data.embedding_batch();
    let mut cols: Vec<(String, ArrayRef)> = b
        .schema()
        .fields()
        .iter()
        .zip(b.columns())
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    cols.push(("probs".into(), std::sync::Arc::new(probs)));
    arrow::array::RecordBatch::try_from_iter(cols).unwrap()
}

#[test]
fn confident_learning_reads_probs_and_finds_flipped_labels() {
    let dir = tempfile::tempdir().unwrap();
    // Eight classes; 100 rows of class 3 relabelled to class 0, which the
    // model (the probabilities) does not believe: a one-way flow.
    let mut data = synthetic(8, 400, 6, 0, 0.0, 5);
    let truth_labels = data.labels.clone();
    let mut moved = 0;
    for i in 0..data.labels.len() {
        if data.labels[i] == 3 && moved < 100 {
            data.labels[i] = 0;
            data.poisoned[i] = true;
            moved += 1;
        }
    }
    write_parquet(
        &dir.path().join("p.parquet"),
        &with_probs(&data, &truth_labels, 8, 8),
    );
    let scan_probs = |out: &str, scanners: &str| {
        let args = [
            "scan",
            "p.parquet",
            "--embedding",
            "emb",
            "--probs",
            "probs",
            "--out",
            out,
            "--scanners",
            scanners,
        ];
        run(&args, dir.path())
    };
    let o = scan_probs("a", "confident-learning");
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let scores = read_parquet(&dir.path().join("a/scores.parquet"));
    let flags = flagged(&scores);
    let hits = (0..flags.len())
        .filter(|&i| flags[i] && data.poisoned[i])
        .count();
    let planted = data.poisoned.iter().filter(|&&p| p).count();
    assert!(hits * 10 >= planted * 9, "{hits} of {planted}");
    assert!(scores.column_by_name("score_confident_learning").is_some());
    let reasons = scores
        .column_by_name("reasons")
        .unwrap()
        .as_string::<i32>()
        .clone();
    for i in (0..flags.len()).filter(|&i| flags[i]) {
        assert_eq!(reasons.value(i), "confident-learning", "row {i}");
    }
    let suspected = scores
        .column_by_name("suspected_label")
        .unwrap()
        .as_string::<i32>()
        .clone();
    assert_eq!(suspected.value(0), truth_labels[0].to_string());
    let centred = |out: &str| {
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("summary.json")).unwrap(),
        )
        .unwrap();
        let class = &summary["classes"][0];
        assert_eq!(class["verdict"], "fail", "{class}");
        class["scanners"]["confident-learning"]["centred_on_view"].as_f64()
    };
    // alone, its direction test is centred on the classes' sizes ...
    assert_eq!(centred("a"), Some(0.0));
    // ... after the label-agnostic view's scanner, on that view's flows
    let o = scan_probs("v", "confident-learning,knn-label-disagreement");
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(centred("v"), Some(1.0));
    // Without --probs the default scan skips it quietly and says so in the summary.
    let o = run(
        &[
            "scan",
            "p.parquet",
            "--embedding",
            "emb",
            "--out",
            "b",
            "--no-fail",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("confident-learning was skipped"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("b/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["skipped_scanners"][0]["scanner"],
        "confident-learning"
    );
    // One probability too few per row: a clear error.
    write_parquet(
        &dir.path().join("w.parquet"),
        &with_probs(&data, &truth_labels, 8, 7),
    );
    let o = run(
        &[
            "scan",
            "w.parquet",
            "--embedding",
            "emb",
            "--probs",
            "probs",
            "--out",
            "c",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "column `probs` has 7 probabilities per row, but the labels have 8 classes (0, 1, 2, 3, 4, 5, 6, 7)"
        ),
        "{}",
        stderr(&o)
    );
}

/// Six classes whose Gaussian clouds overlap heavily (centres one standard
/// deviation apart in 5 dimensions): many rows sit closer to another class,
/// in both directions — natural ambiguity, no poisoning. `relabel` rows of
/// class 4 far from class 0 get label 0 (a dirty-label attack).
fn overlapping_csv(path: &Path, relabel: usize) {
    let mut rng = poisonscan::scanners::SplitMix64::new(9);
    let mut text = String::from("label,a,b,c,d,e\n");
    let centre =
        |c: usize, j: usize| if j == c % 5 { 1.0 } else { 0.0 } + if c == 5 { 0.5 } else { 0.0 };
    let mut moved = 0;
    for i in 0..6 * 400 {
        let c = i % 6;
        let mut label = c;
        if c == 4 && moved < relabel {
            label = 0;
            moved += 1;
        }
        let row: Vec<String> = (0..5)
            .map(|j| format!("{:.4}", centre(c, j) + rng.normal()))
            .collect();
        text.push_str(&format!("{label},{}\n", row.join(",")));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn natural_label_noise_is_reported_not_gated_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    overlapping_csv(&dir.path().join("t.csv"), 0);
    let o = run(&["scan", "t.csv", "--out", "out"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("label noise"), "{}", stdout(&o));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    let knn = &summary["label_noise"]["by_scanner"]["knn-label-disagreement"];
    let rates: Vec<f64> = knn["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["noise_rate"].as_f64().unwrap())
        .collect();
    assert!(rates.iter().all(|&r| r > 0.05), "{rates:?}");
    let pairs = knn["confused_pairs"].as_array().unwrap();
    assert!(!pairs.is_empty());
    assert!(pairs[0]["symmetry"].as_f64().unwrap() > 0.3, "{pairs:?}");
    assert_eq!(summary["label_noise"]["gated"], false);

    // the same data, gated on label noise
    let o = run(
        &["scan", "t.csv", "--out", "out2", "--fail-on-noise", "0.02"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out2/summary.json")).unwrap(),
    )
    .unwrap();
    assert!(summary["classes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["failed_by_noise_policy"] == true));
    let e = run_err(&["scan", "t.csv", "--fail-on-noise", "1.5"], dir.path());
    assert!(e.contains("--fail-on-noise is 1.5"), "{e}");
}

#[test]
fn a_second_name_for_part_of_a_class_is_reported_not_gated() {
    // six well-separated classes; three in ten rows of class 0 carry a
    // label of their own, `6`, as one of two merged sources named them
    let dir = tempfile::tempdir().unwrap();
    let mut s = synthetic(6, 1000, 8, 0, 0.0, 3);
    for (i, l) in s.labels.iter_mut().enumerate() {
        if *l == 0 && (i / 6) % 10 < 3 {
            *l = 6;
        }
    }
    write_parquet(&dir.path().join("t.parquet"), &s.embedding_batch());
    let out = run_ok(
        &["scan", "t.parquet", "--embedding", "emb", "--out", "out"],
        dir.path(),
    );
    assert!(out.contains("part of 0's"), "{out}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    let knn = &summary["label_noise"]["by_scanner"]["knn-label-disagreement"];
    let six = knn["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "6")
        .unwrap();
    assert_eq!(six["judged"], false, "{six}");
    assert_eq!(six["part_of"], "0", "{six}");
    assert_eq!(summary["verdict"], "pass");
}

/// Runs the binary with `input` on its standard input.
fn run_with_stdin(args: &[&str], input: &[u8], cwd: &Path) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn standard_input_is_read_like_the_file_piped_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = poisoned();
    write_parquet(&d.join("train.parquet"), &data.embedding_batch());
    let scan = ["scan", "--embedding", "emb", "--model", "none", "--out"];
    let from_file = run(&[&scan[..], &["file", "train.parquet"]].concat(), d);
    assert_eq!(from_file.status.code(), Some(1), "{}", stderr(&from_file));
    let bytes = std::fs::read(d.join("train.parquet")).unwrap();
    let piped = run_with_stdin(&[&scan[..], &["piped", "-"]].concat(), &bytes, d);
    assert_eq!(piped.status.code(), Some(1), "{}", stderr(&piped));
    assert_eq!(
        std::fs::read(d.join("piped/scores.parquet")).unwrap(),
        std::fs::read(d.join("file/scores.parquet")).unwrap()
    );
    let summary = std::fs::read_to_string(d.join("piped/summary.json")).unwrap();
    assert!(summary.contains(r#""path": "-""#), "{summary}");
    // its report: standard input is gone, so the data is piped in again
    let e = run_err(&["report", "piped"], d);
    assert!(e.contains("read its data from standard input"), "{e}");
    let o = run_with_stdin(&["report", "piped", "--input", "-"], &bytes, d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(d.join("piped/report.html").exists());
    // errors name standard input, not its temporary copy
    let csv = b"label,x\n0,1\n1,inf\n0,2\n1,3\n";
    let o = run_with_stdin(&["scan", "-", "--out", "bad"], csv, d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("stdin, row 1") && !stderr(&o).contains("poisonscan-stdin"),
        "{}",
        stderr(&o)
    );
    assert!(files_in(&d.join("bad")).is_empty());
    // the red team reads it too
    let poison = |input: &str, out: &str| {
        [
            "poison",
            input,
            "--embedding",
            "emb",
            "--attack",
            "label-flip",
            "--rate",
            "0.05",
            "--seed",
            "3",
            "--out",
            out,
        ]
        .map(String::from)
    };
    let named = poison("train.parquet", "named.parquet");
    assert_eq!(
        run(&named.each_ref().map(String::as_str), d).status.code(),
        Some(0)
    );
    let piped_args = poison("-", "piped.parquet");
    let o = run_with_stdin(&piped_args.each_ref().map(String::as_str), &bytes, d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(d.join("piped.parquet")).unwrap(),
        std::fs::read(d.join("named.parquet")).unwrap()
    );
    let o = run_with_stdin(&["scan", "-", "--out", "empty"], b"", d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("standard input (`-`) is empty"),
        "{}",
        stderr(&o)
    );
    let o = run_with_stdin(&["scan", "-", "-", "--out", "twice"], csv, d);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("given 2 times"), "{}", stderr(&o));
}
