//! Sharded scans (`scan --shard-out`, `merge`) against one whole scan: a
//! random partition of the data into shards, scanned one by one and merged,
//! reaches the same verdict and failed classes, and ranks the poison as
//! well within a stated tolerance.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, Int64Array, RecordBatch};
use common::*;
use poisonscan::scanners::SplitMix64;

/// Merged AUROC may fall at most this far below the whole scan's: a shard's
/// kNN neighbourhoods come from a subsample of the data.
const AUROC_TOLERANCE: f64 = 0.02;

/// Mann–Whitney AUROC of `scores` (`None` lowest) for `truth`.
fn auroc(scores: &[Option<f64>], truth: &[bool]) -> f64 {
    let s: Vec<f64> = scores.iter().map(|v| v.unwrap_or(-1.0)).collect();
    let (mut pos, mut wins) = (0.0, 0.0);
    for i in (0..s.len()).filter(|&i| truth[i]) {
        pos += 1.0;
        for j in (0..s.len()).filter(|&j| !truth[j]) {
            wins += if s[i] > s[j] {
                1.0
            } else if s[i] == s[j] {
                0.5
            } else {
                0.0
            };
        }
    }
    let neg = truth.len() as f64 - pos;
    wins / (pos * neg)
}

/// Writes `rows` of a data set (`features` row-major, `dim` wide) as a
/// Parquet file with `rid` (the row in the whole data set), `label` and an
/// `emb` list column.
fn write_rows(path: &Path, rows: &[usize], features: &[f32], dim: usize, labels: &[i64]) {
    let values: Vec<f32> = rows
        .iter()
        .flat_map(|&r| features[r * dim..(r + 1) * dim].iter().copied())
        .collect();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "rid",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|&r| r as i64))) as ArrayRef,
        ),
        (
            "label",
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|&r| labels[r]),
            )),
        ),
        ("emb", fixed_list(Arc::new(Float32Array::from(values)), dim)),
    ])
    .unwrap();
    write_parquet(path, &batch);
}

/// Scores of a finished scan by `rid`, and its summary.
fn scores_by_rid(dir: &Path, n: usize) -> (Vec<Option<f64>>, serde_json::Value) {
    let batch = read_parquet(&dir.join("scores.parquet"));
    let ids = arrow::compute::cast(
        batch.column_by_name("id").unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    let ids = ids.as_string::<i32>();
    let score = batch.column_by_name("score").unwrap();
    let score = score.as_primitive::<arrow::datatypes::Float64Type>();
    let mut out = vec![None; n];
    for i in 0..batch.num_rows() {
        let rid: usize = ids.value(i).parse().unwrap();
        assert!(out[rid].is_none(), "row {rid} twice");
        out[rid] = score.is_valid(i).then(|| score.value(i));
    }
    let summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    (out, summary)
}

fn failed(summary: &serde_json::Value) -> Vec<String> {
    summary["classes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .map(|c| c["label"].as_str().unwrap().to_string())
        .collect()
}

/// Scans the whole data and `shards` random shards of it; returns the two
/// scans' (scores by row, summary) and the merge's exit code.
#[allow(clippy::type_complexity)]
fn whole_and_sharded(
    dir: &Path,
    features: &[f32],
    dim: usize,
    labels: &[i64],
    shards: usize,
    seed: u64,
) -> (
    (Vec<Option<f64>>, serde_json::Value),
    (Vec<Option<f64>>, serde_json::Value),
    i32,
) {
    let n = labels.len();
    let all: Vec<usize> = (0..n).collect();
    write_rows(&dir.join("whole.parquet"), &all, features, dim, labels);
    let mut rng = SplitMix64::new(seed);
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); shards];
    for r in 0..n {
        parts[rng.below(shards)].push(r);
    }
    let common = ["--embedding", "emb", "--id", "rid", "--quiet"];
    let mut partials = Vec::new();
    for (k, rows) in parts.iter().enumerate() {
        let shard = format!("shard{k}.parquet");
        let partial = format!("part{k}.parquet");
        write_rows(&dir.join(&shard), rows, features, dim, labels);
        let mut args = vec!["scan", shard.as_str(), "--shard-out", partial.as_str()];
        args.extend(common);
        run_ok(&args, dir);
        partials.push(partial);
    }
    let mut args = vec!["scan", "whole.parquet", "--out", "whole", "--no-fail"];
    args.extend(common);
    run_ok(&args, dir);
    let mut args: Vec<&str> = vec!["merge", "--out", "merged", "--quiet"];
    args.extend(partials.iter().map(String::as_str));
    let o = run(&args, dir);
    let code = o.status.code().unwrap();
    assert!(code == 0 || code == 1, "{}", stderr(&o));
    (
        scores_by_rid(&dir.join("whole"), n),
        scores_by_rid(&dir.join("merged"), n),
        code,
    )
}

#[test]
fn the_demo_in_three_shards_merges_to_the_whole_scans_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (ds, truth) = poisonscan::redteam::demo(0);
    let labels: Vec<i64> = ds.label_codes.iter().map(|&c| c as i64).collect();
    let ((whole, ws), (merged, ms), code) =
        whole_and_sharded(dir.path(), &ds.features, ds.n_features, &labels, 3, 7);
    assert_eq!(ws["verdict"], "fail");
    assert_eq!(ms["verdict"], "fail");
    assert_eq!(code, 1);
    assert_eq!(failed(&ms), failed(&ws));
    assert_eq!(failed(&ms), vec!["0"]);
    assert_eq!(ms["rows"]["input"], 1797);
    // the partials carry the rows' content keys: copies count as in one scan
    assert_eq!(ms["rows"]["distinct"], ws["rows"]["distinct"]);
    let err = run_err(&["report", "merged"], dir.path());
    assert!(err.contains("merged sharded scan"), "{err}");
    let (a_whole, a_merged) = (auroc(&whole, &truth), auroc(&merged, &truth));
    assert!(
        a_merged >= a_whole - AUROC_TOLERANCE && a_merged > 0.95,
        "AUROC whole {a_whole:.4}, merged {a_merged:.4}"
    );
    // The merged flags find the planted rows as the whole scan's do.
    let flagged = read_parquet(&dir.path().join("merged/scores.parquet"));
    let flags = flagged
        .column_by_name("flagged")
        .unwrap()
        .as_boolean()
        .clone();
    let ids = flagged
        .column_by_name("id")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let hits = (0..flags.len())
        .filter(|&i| flags.value(i) && truth[ids.value(i).parse::<usize>().unwrap()])
        .count();
    let planted = truth.iter().filter(|&&t| t).count();
    assert!(hits * 10 >= planted * 8, "{hits} of {planted}");
}

#[test]
fn clean_data_in_shards_stays_clean_and_planted_poison_fails() {
    let dir = tempfile::tempdir().unwrap();
    let clean = synthetic(4, 500, 8, 0, 0.0, 3);
    let labels = clean.labels.clone();
    let features: Vec<f32> = clean.features.iter().flatten().copied().collect();
    let ((_, ws), (_, ms), code) = whole_and_sharded(dir.path(), &features, 8, &labels, 4, 1);
    assert_eq!(ws["verdict"], "pass");
    assert_eq!(ms["verdict"], "pass");
    assert_eq!(code, 0);

    // 56 rows (14 %) shifted in a class of 400: in a shard's merge the
    // other classes cannot show a small cluster (censored), and a class
    // without peers is held as with one, where 10 % is not decisive
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(3, 400, 12, 56, 8.0, 42);
    let features: Vec<f32> = data.features.iter().flatten().copied().collect();
    let ((whole, ws), (merged, ms), code) =
        whole_and_sharded(dir.path(), &features, 12, &data.labels, 3, 2);
    assert_eq!(failed(&ws), vec!["0"]);
    assert_eq!(
        failed(&ms),
        failed(&ws),
        "whole {}\nmerged {}",
        ws["classes"][0],
        ms["classes"][0]
    );
    assert_eq!(code, 1);
    let (a_whole, a_merged) = (
        auroc(&whole, &data.poisoned),
        auroc(&merged, &data.poisoned),
    );
    assert!(
        a_merged >= a_whole - AUROC_TOLERANCE,
        "{a_whole} {a_merged}"
    );
}

#[test]
fn merge_refuses_what_does_not_belong_together() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(3, 200, 6, 0, 0.0, 9);
    let features: Vec<f32> = data.features.iter().flatten().copied().collect();
    let all: Vec<usize> = (0..data.labels.len()).collect();
    write_rows(
        &dir.path().join("d.parquet"),
        &all,
        &features,
        6,
        &data.labels,
    );
    let base = ["--embedding", "emb", "--quiet"];
    let scan = |extra: &[&str], out: &str| {
        let mut a = vec!["scan", "d.parquet", "--shard-out", out];
        a.extend(base);
        a.extend(extra);
        run_ok(&a, dir.path());
    };
    scan(&[], "a.parquet");
    scan(&["--threshold", "0.9"], "b.parquet");
    let err = run_err(
        &["merge", "a.parquet", "b.parquet", "--out", "m"],
        dir.path(),
    );
    assert!(err.contains("other options"), "{err}");
    // a shard read as images and one read as an embedding do not merge
    scan(&["--image-shape", "2x3"], "c.parquet");
    let err = run_err(
        &["merge", "a.parquet", "c.parquet", "--out", "m"],
        dir.path(),
    );
    assert!(
        err.contains("c.parquet read its features as pixels 2x3x1")
            && err.contains("a.parquet as embedding of 6 values")
            && err.contains("--image-shape"),
        "{err}"
    );
    let err = run_err(
        &["merge", "a.parquet", "d.parquet", "--out", "m"],
        dir.path(),
    );
    assert!(
        err.contains("d.parquet") && err.contains("not a poisonscan partial"),
        "{err}"
    );
    assert!(!dir.path().join("m/summary.json").exists());
    // --shard-out may not overwrite an input.
    let mut a = vec!["scan", "d.parquet", "--shard-out", "d.parquet"];
    a.extend(base);
    run_err(&a, dir.path());
}
