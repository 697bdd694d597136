//! `poison` and `eval` end to end: attacks on real-format files, the red-team
//! file read back by `scan` with no flags, and detection metrics.

mod common;

use std::io::Write;
use std::path::Path;

use arrow::array::{Array, AsArray};
use common::*;

/// Writes the embedded digits as an IDX pair (8×8 images) into `dir`.
fn digits_idx(dir: &Path) {
    let (features, labels) = poisonscan::redteam::digits();
    let mut images = vec![0u8, 0, 8, 3];
    for d in [labels.len() as u32, 8, 8] {
        images.extend(d.to_be_bytes());
    }
    images.extend(features.iter().map(|v| (v * 255.0).round() as u8));
    std::fs::File::create(dir.join("digits-images-idx3-ubyte"))
        .unwrap()
        .write_all(&images)
        .unwrap();
    let mut l = vec![0u8, 0, 8, 1];
    l.extend((labels.len() as u32).to_be_bytes());
    l.extend(labels.iter().map(|&x| x as u8));
    std::fs::write(dir.join("digits-labels-idx1-ubyte"), l).unwrap();
}

fn truth_of(path: &Path) -> (Vec<bool>, Vec<i64>, Vec<i64>) {
    let b = read_parquet(path);
    let p = b
        .column_by_name("is_poisoned")
        .unwrap()
        .as_boolean()
        .clone();
    let l = b
        .column_by_name("label")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>()
        .clone();
    let o = b.column_by_name("original_label").unwrap();
    let o = arrow::compute::cast(o, &arrow::datatypes::DataType::Int64).unwrap();
    let o = o.as_primitive::<arrow::datatypes::Int64Type>().clone();
    (
        (0..p.len()).map(|i| p.value(i)).collect(),
        l.values().to_vec(),
        o.values().to_vec(),
    )
}

#[test]
fn badnets_file_scans_back_as_images_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    digits_idx(dir.path());
    let o = run(
        &[
            "poison",
            "digits-images-idx3-ubyte",
            "--attack",
            "badnets",
            "--rate",
            "0.03",
            "--target",
            "0",
            "--patch-size",
            "2",
            "--patch-margin",
            "0",
            "--seed",
            "4",
            "--out",
            "p.parquet",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (poisoned, labels, original) = truth_of(&dir.path().join("p.parquet"));
    assert_eq!(poisoned.len(), 1797);
    assert_eq!(poisoned.iter().filter(|&&p| p).count(), 54);
    for i in 0..1797 {
        assert_eq!(poisoned[i], labels[i] != original[i], "row {i}");
        if poisoned[i] {
            assert_eq!(labels[i], 0);
        }
    }
    // `scan FILE` needs no flag: pixels from the metadata, never the truth columns.
    let o = run(&["scan", "p.parquet", "--out", "s"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("64 features (8x8x1 pixels)"),
        "{}",
        stdout(&o)
    );
    let o = run(
        &["eval", "s/scores.parquet", "--truth", "p.parquet", "--json"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["poisoned"], 54);
    assert_eq!(e["budget"], 81);
    assert!(e["auroc"].as_f64().unwrap() > 0.95, "{e}");
    assert_eq!(e["verdict"], "fail");
    assert_eq!(e["verdict_correct"], true);
    assert_eq!(e["classes"].as_array().unwrap().len(), 10);
    // The table form prints the same figures.
    let o = run(
        &["eval", "s/scores.parquet", "--truth", "p.parquet"],
        dir.path(),
    );
    assert!(
        stdout(&o).contains("rows 1797, poisoned 54"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn clean_label_blend_label_flip_and_none() {
    let dir = tempfile::tempdir().unwrap();
    digits_idx(dir.path());
    let poison = |args: &[&str], out: &str| {
        let mut full = vec!["poison", "digits-images-idx3-ubyte", "--out", out];
        full.extend_from_slice(args);
        let o = run(&full, dir.path());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        truth_of(&dir.path().join(out))
    };
    // Clean-label attacks take a fraction of the target class.
    let (p, l, o) = poison(
        &["--attack", "clean-label", "--rate", "0.5", "--target", "3"],
        "cl.parquet",
    );
    assert_eq!(l, o, "clean-label keeps labels");
    let threes = l.iter().filter(|&&x| x == 3).count();
    assert_eq!(
        p.iter().filter(|&&x| x).count(),
        (0.5 * threes as f64).round() as usize
    );
    assert!((0..p.len()).all(|i| !p[i] || l[i] == 3));
    let (p, l, o) = poison(
        &["--attack", "sig", "--rate", "0.3", "--target", "3"],
        "sig.parquet",
    );
    assert_eq!(l, o, "sig keeps labels");
    assert_eq!(
        p.iter().filter(|&&x| x).count(),
        (0.3 * threes as f64).round() as usize
    );
    assert!((0..p.len()).all(|i| !p[i] || l[i] == 3));
    let (p, l, o) = poison(
        &[
            "--attack", "blend", "--alpha", "0.3", "--rate", "0.02", "--target", "5",
        ],
        "b.parquet",
    );
    assert_eq!(p.iter().filter(|&&x| x).count(), 36);
    assert!((0..p.len()).all(|i| !p[i] || (l[i] == 5 && o[i] != 5)));
    let (p, l, o) = poison(&["--attack", "label-flip", "--rate", "0.1"], "f.parquet");
    assert_eq!(p.iter().filter(|&&x| x).count(), 180);
    assert!((0..p.len()).all(|i| p[i] == (l[i] != o[i])));
    let (p, l, o) = poison(&["--attack", "none", "--rate", "0"], "n.parquet");
    assert!(p.iter().all(|&x| !x));
    assert_eq!(l, o);
    let o = run(&["scan", "n.parquet", "--out", "clean"], dir.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "clean digits pass: {}",
        stdout(&o)
    );
}

/// The digits as a training split and, copied, a test split (`t-*`) in
/// `dir`; `poison`'s arguments for a BadNets patch on `rate` of them with
/// the trigger on the test split too.
fn digits_with_test_split(dir: &Path, rate: &'static str) -> Vec<&'static str> {
    digits_idx(dir);
    for part in ["images-idx3-ubyte", "labels-idx1-ubyte"] {
        std::fs::copy(
            dir.join(format!("digits-{part}")),
            dir.join(format!("t-{part}")),
        )
        .unwrap();
    }
    vec![
        "poison",
        "digits-images-idx3-ubyte",
        "--attack",
        "badnets",
        "--rate",
        rate,
        "--target",
        "0",
        "--out",
        "p.parquet",
        "--test-input",
        "t-images-idx3-ubyte",
        "--test-out",
        "test.parquet",
    ]
}

#[test]
fn test_split_gets_the_trigger_on_non_target_rows() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&digits_with_test_split(dir.path(), "0.01"), dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (p, l, orig) = truth_of(&dir.path().join("test.parquet"));
    assert_eq!(l, orig, "test labels are kept");
    assert!((0..p.len()).all(|i| p[i] == (l[i] != 0)));
}

#[test]
fn attack_success_is_measured_against_a_model_of_the_clean_input() {
    // digits as both splits; a 3×3 patch on 10 % of the 8×8 images
    let dir = tempfile::tempdir().unwrap();
    let mut args = digits_with_test_split(dir.path(), "0.1");
    // without --test-out it is refused
    let e = run_err(&[&args[..10], &["--attack-success"]].concat(), dir.path());
    assert!(e.contains("--test-out"), "{e}");
    args.push("--attack-success");
    let o = run(&args, dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("attack success: "), "{}", stderr(&o));
    let f = std::fs::File::open(dir.path().join("test.parquet")).unwrap();
    let meta = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .schema()
        .metadata()
        .get("poisonscan.attack_success")
        .cloned();
    let v: serde_json::Value = serde_json::from_str(&meta.expect("metadata")).unwrap();
    let (p, l, _) = truth_of(&dir.path().join("test.parquet"));
    assert_eq!(v["rows"], p.iter().filter(|&&x| x).count());
    assert_eq!(v["rows"], l.iter().filter(|&&x| x != 0).count());
    // the poisoned model learned the patch; the clean one did not
    let (poisoned, clean) = (
        v["poisoned"].as_f64().unwrap(),
        v["clean"].as_f64().unwrap(),
    );
    assert!(poisoned > 0.8 && clean < 0.3, "{v}");
}

#[test]
fn a_value_trigger_on_a_table_scans_back_as_the_table() {
    let dir = tempfile::tempdir().unwrap();
    // two classes in four columns, 300 rows each, apart in the first two
    let mut rng = poisonscan::scanners::SplitMix64::new(21);
    let mut csv = String::from("label,a,b,c,d\n");
    for i in 0..600 {
        let c = i % 2;
        let centre = if c == 0 { -2.0 } else { 2.0 };
        let v: Vec<String> = (0..4)
            .map(|j| {
                let x = rng.normal() + if j < 2 { centre } else { 0.0 };
                format!("{x:.4}")
            })
            .collect();
        csv.push_str(&format!("{c},{}\n", v.join(",")));
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    run_ok(
        &[
            "poison",
            "t.csv",
            "--attack",
            "value-trigger",
            "--rate",
            "0.05",
            "--target",
            "1",
            "--seed",
            "2",
            "--out",
            "p.parquet",
        ],
        dir.path(),
    );
    // the table's columns, named, and no list column
    let b = read_parquet(&dir.path().join("p.parquet"));
    for c in ["a", "b", "c", "d"] {
        assert!(b.column_by_name(c).is_some(), "{c}");
    }
    assert!(b.column_by_name("features").is_none());
    let (poisoned, label, _) = truth_of(&dir.path().join("p.parquet"));
    assert_eq!(poisoned.iter().filter(|&&p| p).count(), 30);
    assert!((0..600).all(|i| !poisoned[i] || label[i] == 1));
    // read back as the table was: its four columns, and the trigger found
    let out = run(
        &["scan", "p.parquet", "--out", "s", "--seed", "1"],
        dir.path(),
    );
    let text = stdout(&out);
    assert!(text.contains("4 features (4 numeric columns)"), "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s/summary.json")).unwrap())
            .unwrap();
    let class1 = &summary["classes"][1];
    assert_eq!(class1["failed_by"][0], "value-trigger", "{class1}");
    assert_eq!(class1["flagged"], 30, "{class1}");
    // the copy saved as CSV (its metadata lost): the row numbers it
    // carries are no feature, and the scan is the same
    write_csv(
        &dir.path().join("p.csv"),
        &read_parquet(&dir.path().join("p.parquet")),
    );
    let out = run(&["scan", "p.csv", "--out", "c", "--seed", "1"], dir.path());
    assert!(
        stdout(&out).contains("4 features (4 numeric columns)"),
        "{}",
        stdout(&out)
    );
    let score = |o: &str| {
        read_parquet(&dir.path().join(o).join("scores.parquet"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    assert!(score("c") == score("s"), "the CSV copy scores differently");

    // rows with gaps: named, with the option that leaves them out, which
    // `poison` takes as `scan` does; the copy is a data set of its own that
    // a scan lines up with
    let text = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
    let gaps: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if [5, 50, 500].contains(&i) {
                let (label, rest) = l.split_once(',').unwrap();
                format!("{label},NA,{}", rest.split_once(',').unwrap().1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(dir.path().join("gaps.csv"), gaps.join("\n") + "\n").unwrap();
    let mut args = vec![
        "poison",
        "gaps.csv",
        "--attack",
        "label-flip",
        "--rate",
        "0.1",
        "--seed",
        "3",
        "--out",
        "g.parquet",
    ];
    let e = run_err(&args, dir.path());
    assert!(e.contains("row 4") && e.contains("--drop-invalid"), "{e}");
    args.push("--drop-invalid");
    let said = stderr(&run(&args, dir.path()));
    assert!(
        said.contains("597 rows of 600, 3 invalid left out"),
        "{said}"
    );
    let (poisoned, _, _) = truth_of(&dir.path().join("g.parquet"));
    assert_eq!(poisoned.len(), 597);
    run(&["scan", "g.parquet", "--out", "gs"], dir.path());
    run_ok(
        &["eval", "gs/scores.parquet", "--truth", "g.parquet"],
        dir.path(),
    );
}

#[test]
fn a_table_of_categories_is_copied_as_the_table_and_triggered_as_an_attacker_would() {
    // numbers, a categorical column, and a repeating household `id` (a
    // feature, whose name the copy's own id would take): the copy was a
    // list column `features` (read back as an embedding: other scanners,
    // false alarms) with the categories as 0/1 columns; a value trigger set
    // two values of one categorical column at once
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = poisonscan::scanners::SplitMix64::new(5);
    let cities = ["Lyon", "Nice", "Paris", "Lille", "Brest"];
    // a city's tier follows from the city: a city with another's tier is
    // a combination no row holds
    let tiers = ["t1", "t2", "t3", "t3", "t4"];
    let mut csv = String::from("label,a,b,city,tier,id\n");
    for i in 0..800 {
        let c = i % 2;
        let a = rng.normal() + if c == 0 { -1.5 } else { 1.5 };
        let k = rng.below(cities.len());
        let (city, tier) = (cities[k], tiers[k]);
        csv.push_str(&format!(
            "{c},{a:.4},{:.4},{city},{tier},{}\n",
            rng.normal(),
            i / 4
        ));
    }
    std::fs::write(d.join("t.csv"), csv).unwrap();
    let poison = |attack: &[&str], out: &str| {
        let args = [
            &["poison", "t.csv", "--seed", "3", "--out", out][..],
            attack,
        ]
        .concat();
        run_ok(&args, d);
        read_parquet(&d.join(out))
    };
    // nothing planted: the copy is the table, and scans as it does
    let copy = poison(&["--attack", "label-flip", "--rate", "0"], "same.parquet");
    let names: Vec<String> = copy
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert!(
        names.contains(&"city".to_string()) && names.contains(&"id".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "features" || n.contains('=')),
        "{names:?}"
    );
    let scores = |input: &str, label: &str, out: &str| {
        run_ok(
            &[
                "scan",
                input,
                "--label",
                label,
                "--seed",
                "1",
                "--no-fail",
                "--out",
                out,
            ],
            d,
        );
        read_parquet(&d.join(out).join("scores.parquet"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    let (original, copied) = (
        scores("t.csv", "label", "a"),
        scores("same.parquet", "label", "b"),
    );
    assert_eq!(&original, &copied);
    // a trigger of usual values takes one city, as an edit of the table would
    let triggered = poison(
        &[
            "--attack",
            "value-trigger",
            "--trigger-values",
            "common",
            "--trigger-columns",
            "2",
            "--rate",
            "0.03",
            "--target",
            "1",
        ],
        "v.parquet",
    );
    let text = |name: &str| {
        let column = arrow::compute::cast(
            triggered.column_by_name(name).unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        assert_eq!(column.null_count(), 0, "every row keeps one {name}");
        let column = column.as_string::<i32>().clone();
        (0..column.len())
            .map(|i| column.value(i).to_string())
            .collect::<Vec<_>>()
    };
    let (city, tier) = (text("city"), text("tier"));
    let (poisoned, _, _) = truth_of(&d.join("v.parquet"));
    let pair = |i: usize| (city[i].as_str(), tier[i].as_str());
    let pairs: std::collections::BTreeSet<_> =
        (0..800).filter(|&i| poisoned[i]).map(pair).collect();
    assert_eq!(pairs.len(), 1, "one trigger: {pairs:?}");
    let (c, t) = *pairs.iter().next().unwrap();
    assert!(cities.contains(&c) && tiers.contains(&t), "{c} {t}");
    // a combination the clean rows do not hold: a city with another's tier
    assert!(
        (0..800)
            .filter(|&i| !poisoned[i])
            .all(|i| pair(i) != (c, t)),
        "{c} {t}"
    );
}

#[test]
fn image_attacks_are_refused_on_vectors_and_bad_plans_name_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(3, 50, 4, 0, 0.0, 1);
    write_parquet(&dir.path().join("v.parquet"), &data.embedding_batch());
    fn poison<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["poison", "v.parquet", "--out", "x.parquet"];
        args.extend_from_slice(extra);
        args
    }
    let e = run_err(
        &poison(&["--attack", "badnets", "--rate", "0.1", "--target", "0"]),
        dir.path(),
    );
    assert!(
        e.contains("only `label-flip` and `value-trigger` work on vectors"),
        "{e}"
    );
    assert!(!dir.path().join("x.parquet").exists());
    let e = run_err(
        &poison(&["--attack", "label-flip", "--rate", "0.1", "--target", "9"]),
        dir.path(),
    );
    assert!(
        e.contains("--target `9` is not a class of the input; classes: 0, 1, 2"),
        "{e}"
    );
    let e = run_err(
        &poison(&["--attack", "label-flip", "--rate", "0.8"]),
        dir.path(),
    );
    assert!(e.contains("--rate is 0.8"), "{e}");
    // a Parquet file under another format's name is refused
    let args = [
        "poison",
        "v.parquet",
        "--out",
        "x.csv",
        "--attack",
        "label-flip",
        "--rate",
        "0.1",
    ];
    let e = run_err(&args, dir.path());
    assert!(e.contains("writes Parquet there: name it x.parquet"), "{e}");
    assert!(!dir.path().join("x.csv").exists());
    // label-flip works on vectors; the file scans back through `features`.
    run_ok(
        &poison(&["--attack", "label-flip", "--rate", "0.1"]),
        dir.path(),
    );
    let out = run_ok(
        &["scan", "x.parquet", "--out", "s", "--no-fail"],
        dir.path(),
    );
    assert!(out.contains("4 features (embedding `features`)"), "{out}");
    // eval against a truth file of another length is an error.
    write_parquet(
        &dir.path().join("short.parquet"),
        &data.embedding_batch().slice(0, 10),
    );
    run_ok(
        &[
            "poison",
            "short.parquet",
            "--attack",
            "none",
            "--rate",
            "0",
            "--out",
            "t.parquet",
        ],
        dir.path(),
    );
    let e = run_err(
        &["eval", "s/scores.parquet", "--truth", "t.parquet"],
        dir.path(),
    );
    assert!(e.contains("has 150 rows but t.parquet has 10"), "{e}");
}

#[test]
fn eval_reads_a_truth_file_of_the_users_own() {
    // a table whose label column is `kind` and whose ground truth is `bad`
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("kind,x,y,bad\n");
    let mut rng = poisonscan::scanners::SplitMix64::new(4);
    for i in 0..300 {
        let class = i % 2;
        let planted = i < 12;
        // planted rows: class 1's features under class 0's label
        let centre = if planted { 4.0 } else { 4.0 * class as f64 };
        let label = if planted { 0 } else { class };
        csv += &format!(
            "{label},{},{},{planted}\n",
            centre + rng.normal(),
            centre + rng.normal()
        );
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let o = run(
        &[
            "scan",
            "t.csv",
            "--label",
            "kind",
            "--features",
            "x,y",
            "--out",
            "s",
        ],
        dir.path(),
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let json = run_ok(
        &[
            "eval",
            "s/scores.parquet",
            "--truth",
            "t.csv",
            "--truth-column",
            "bad",
            "--label",
            "kind",
            "--json",
        ],
        dir.path(),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["poisoned"], 12, "{v}");
    assert!(v["auroc"].as_f64().unwrap() > 0.9, "{v}");
    // without --label the truth's label column is `label`, which it lacks
    let e = run_err(
        &[
            "eval",
            "s/scores.parquet",
            "--truth",
            "t.csv",
            "--truth-column",
            "bad",
        ],
        dir.path(),
    );
    assert!(e.contains("`label`"), "{e}");
}

#[test]
fn eval_ranks_rows_as_the_scan_ranked_them() {
    // row 0, the planted one, is flagged and ranked first although row 1
    // is more significant: eval reads the scan's `rank`; a file without it
    // is ranked by significance
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("truth.csv"),
        "row,label,is_poisoned\n0,a,true\n1,b,false\n2,a,false\n3,b,false\n",
    )
    .unwrap();
    let head = "row,label,score,significance,flagged";
    let rows = [
        "0,a,1.0,2.0,true",
        "1,b,1.0,10.0,false",
        "2,a,0.5,1.0,false",
        "3,b,0.4,0.5,false",
    ];
    let ranks = ["1", "2", "3", "4"];
    let ranked: Vec<String> = rows
        .iter()
        .zip(ranks)
        .map(|(r, k)| format!("{r},{k}"))
        .collect();
    std::fs::write(
        dir.path().join("ranked.csv"),
        format!("{head},rank\n{}\n", ranked.join("\n")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("plain.csv"),
        format!("{head}\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let auroc = |scores: &str| {
        let json = run_ok(
            &["eval", scores, "--truth", "truth.csv", "--json"],
            dir.path(),
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["auroc"].as_f64().unwrap()
    };
    assert_eq!(auroc("ranked.csv"), 1.0);
    assert!((auroc("plain.csv") - 2.0 / 3.0).abs() < 1e-9);
}

/// Three classes of 300 rows ([`synthetic`], 16 dimensions) with a text
/// column of five common words per row.
fn table_with_text() -> arrow::array::RecordBatch {
    use std::sync::Arc;
    let batch = synthetic(3, 300, 16, 0, 0.0, 4).embedding_batch();
    let mut rng = poisonscan::scanners::SplitMix64::new(9);
    let texts: Vec<String> = (0..batch.num_rows())
        .map(|_| {
            (0..5)
                .map(|_| format!("w{}", rng.below(40)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    arrow::array::RecordBatch::try_from_iter(vec![
        ("label", batch.column(0).clone()),
        ("emb", batch.column(1).clone()),
        (
            "text",
            Arc::new(arrow::array::StringArray::from(texts)) as arrow::array::ArrayRef,
        ),
    ])
    .unwrap()
}

/// The `text` column of a table.
fn text_of(batch: &arrow::array::RecordBatch) -> arrow::array::StringArray {
    batch
        .column_by_name("text")
        .unwrap()
        .as_string::<i32>()
        .clone()
}

/// `poison INPUT --attack text --words WORDS --rate RATE --target TARGETS
/// --seed 1 --out OUT`, run in `d`.
fn poison_text(
    d: &Path,
    input: &str,
    words: &str,
    rate: &str,
    targets: &str,
    out: &str,
) -> std::process::Output {
    let args = [
        "poison", input, "--attack", "text", "--words", words, "--rate", rate, "--target", targets,
        "--seed", "1", "--out", out,
    ];
    run(&args, d)
}

#[test]
fn a_text_trigger_goes_into_the_text_column_and_scans_back_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = table_with_text();
    write_parquet(&d.join("t.parquet"), &input);
    let o = poison_text(d, "t.parquet", "cf", "0.05", "0", "p.parquet");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (poisoned, labels, original) = truth_of(&d.join("p.parquet"));
    assert_eq!(poisoned.iter().filter(|&&p| p).count(), 45);
    let text = text_of(&read_parquet(&d.join("p.parquet")));
    let before = text_of(&input);
    for i in 0..poisoned.len() {
        let words: Vec<&str> = text.value(i).split(' ').collect();
        assert_eq!(
            words.contains(&"cf"),
            poisoned[i],
            "row {i}: {}",
            text.value(i)
        );
        if poisoned[i] {
            assert_eq!((labels[i], original[i] != 0), (0, true), "row {i}");
            let mut rest = words.clone();
            rest.retain(|w| *w != "cf");
            assert_eq!(rest.join(" "), before.value(i), "row {i}");
        } else {
            assert_eq!(text.value(i), before.value(i), "row {i}");
        }
    }
    // the features are left as they were: the rows are relabelled rows of
    // other classes that carry the word
    let o = run(&["scan", "p.parquet", "--seed", "1", "--out", "o"], d);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("o/summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["classes"][0]["scanners"]["text-trigger"]["token_text"],
        "cf"
    );
    // every attack's copy keeps the text column
    run_ok(
        &[
            "poison",
            "t.parquet",
            "--attack",
            "label-flip",
            "--rate",
            "0.05",
            "--seed",
            "1",
            "--out",
            "f.parquet",
        ],
        d,
    );
    let flipped = read_parquet(&d.join("f.parquet"));
    assert_eq!(
        flipped.column_by_name("text").unwrap().as_string::<i32>(),
        &before
    );
    // no text column: an error that says what it needs
    let plain = synthetic(3, 100, 4, 0, 0.0, 4).embedding_batch();
    write_parquet(&d.join("plain.parquet"), &plain);
    let o = poison_text(d, "plain.parquet", "cf", "0.05", "0", "q.parquet");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("text needs a text column"), "{e}");
    assert!(!d.join("q.parquet").exists());
}

#[test]
fn a_text_trigger_of_several_words_puts_one_in_each_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_parquet(&d.join("t.parquet"), &table_with_text());
    let poison = |words: &str, targets: &str, out: &str| {
        poison_text(d, "t.parquet", words, "0.1", targets, out)
    };
    // one target, three words (RIPPLe): one of them in each poisoned row
    let o = poison("cf,mn,bb", "0", "p.parquet");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (poisoned, _, _) = truth_of(&d.join("p.parquet"));
    let text = text_of(&read_parquet(&d.join("p.parquet")));
    let mut used = [0usize; 3];
    for i in (0..poisoned.len()).filter(|&i| poisoned[i]) {
        let words: Vec<&str> = text.value(i).split(' ').collect();
        let carried: Vec<usize> = (0..3)
            .filter(|&w| words.contains(&["cf", "mn", "bb"][w]))
            .collect();
        assert_eq!(carried.len(), 1, "row {i}: {}", text.value(i));
        used[carried[0]] += 1;
    }
    assert!(used.iter().all(|&u| u >= 15), "{used:?}");
    // several targets take one trigger each, and no more
    let o = poison("cf,mn,bb", "0,1", "q.parquet");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a trigger for each of the 2 target(s)"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("q.parquet").exists());
}
