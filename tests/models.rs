//! The representation model: trained in-process, it gives the scanners a
//! learned representation and out-of-fold probabilities.

mod common;

use common::*;
use poisonscan::eval::auroc;
use poisonscan::fuse::Verdict;
use poisonscan::models::{ModelKind, ModelOptions};
use poisonscan::pipeline::{learn, scan_dataset, NoProgress};
use poisonscan::redteam::demo;
use poisonscan::settings::ScanOptions;

#[test]
fn a_cnn_learns_the_planted_trigger_and_the_scanners_find_it() {
    // scikit-learn digits (1,797 images of 8x8) with a BadNets patch on 3 %.
    let (ds, truth) = demo(1);
    let options = ModelOptions {
        kind: ModelKind::Cnn,
        seed: 1,
        ..ModelOptions::default()
    };
    let (ds, model) = learn(ds, &options, &NoProgress).unwrap();
    let model = model.expect("a model was trained");
    assert_eq!(model.model, ModelKind::Cnn);
    assert_eq!(model.trainings.len(), options.folds + 1);
    assert!(
        model
            .trainings
            .iter()
            .all(|t| t.holdout_accuracy.unwrap() > 0.8),
        "{model:?}"
    );
    assert_eq!(ds.n_features, poisonscan::models::EMBEDDING_DIMS);
    assert!(ds.probs.is_some());
    let settings = ScanOptions::default().check().unwrap();
    let report = scan_dataset(&ds, &settings, &NoProgress).unwrap();
    // every scanner ran on the learned representation, confident learning
    // on the out-of-fold probabilities — but the one that reads text, of
    // which pictures have none
    assert!(
        report
            .skipped_scanners
            .iter()
            .all(|(s, why)| *s == "text-trigger" && why.contains("no text column")),
        "{:?}",
        report.skipped_scanners
    );
    let scores: Vec<f64> = report
        .fused
        .score
        .iter()
        .map(|s| if s.is_nan() { 0.0 } else { *s })
        .collect();
    let fused = auroc(&scores, &truth).unwrap();
    assert!(fused >= 0.9, "fused AUROC {fused}");
    // the scanner that sees the trigger best ranks it almost perfectly
    let best = report
        .fused
        .per_scanner
        .iter()
        .map(|own| auroc(own, &truth).unwrap())
        .fold(0.0, f64::max);
    assert!(best >= 0.95, "best scanner's AUROC {best}");
    assert_eq!(report.fused.verdict, Verdict::Fail);
    assert_eq!(report.fused.classes[0].verdict, Verdict::Fail);
}

/// `scan --demo` with a quickly trained MLP and further arguments.
fn mlp_demo(extra: &[&str], dir: &std::path::Path) -> std::process::Output {
    let mut args = vec!["scan", "--demo", "--model", "mlp", "--epochs", "2"];
    args.extend_from_slice(extra);
    run(&args, dir)
}

#[test]
fn saved_embeddings_scan_back_to_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // knn-label-disagreement reads the pixels in the first scan and the
    // activations in the second, and fusion lets its class tests open the
    // other scanners' class gates: it is left out of both scans, so that
    // the scores compared depend on the saved columns only.
    let scanners = "spectral-signature,robust-spectral,activation-clustering,confident-learning";
    mlp_demo(
        &[
            "--save-embeddings",
            "emb.parquet",
            "--scanners",
            scanners,
            "--out",
            "a",
            "--no-fail",
            "--quiet",
        ],
        d,
    );
    assert!(d.join("emb.parquet").exists());
    run_ok(
        &[
            "scan",
            "emb.parquet",
            "--embedding",
            "activations",
            "--probs",
            "probs",
            "--model",
            "none",
            "--scanners",
            scanners,
            "--out",
            "b",
            "--no-fail",
            "--quiet",
        ],
        d,
    );
    // The scanners that read the activations and the probabilities score
    // the reloaded file exactly as the first scan did.
    let columns = [
        "score_spectral_signature",
        "score_robust_spectral",
        "score_activation_clustering",
        "score_confident_learning",
    ];
    let scores = |dir: &str| {
        poisonscan::ingest::read_columns(&d.join(dir).join("scores.parquet"), &columns, &[])
            .unwrap()
    };
    assert_eq!(scores("a"), scores("b"));
}

#[test]
fn same_seed_and_threads_give_identical_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for out in ["x", "y"] {
        mlp_demo(
            &["--threads", "2", "--seed", "5", "--out", out, "--quiet"],
            d,
        );
    }
    assert_eq!(
        std::fs::read(d.join("x/scores.parquet")).unwrap(),
        std::fs::read(d.join("y/scores.parquet")).unwrap()
    );
}

#[test]
fn concurrent_trainings_score_as_one_after_another() {
    // The folds and the model on every row train at the same time; with one
    // thread they run one after another. Each draws its weights from its
    // own seed, so the scores are the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for model in ["mlp", "cnn"] {
        for threads in ["1", "3"] {
            let out = format!("{model}{threads}");
            run_ok(
                &[
                    "scan",
                    "--demo",
                    "--model",
                    model,
                    "--epochs",
                    "2",
                    "--threads",
                    threads,
                    "--seed",
                    "5",
                    "--out",
                    &out,
                    "--no-fail",
                    "--quiet",
                ],
                d,
            );
        }
        assert_eq!(
            std::fs::read(d.join(format!("{model}1/scores.parquet"))).unwrap(),
            std::fs::read(d.join(format!("{model}3/scores.parquet"))).unwrap(),
            "{model}"
        );
    }
}

#[test]
fn devices_not_built_in_and_bad_model_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = vec![
        (
            &["--model", "cnn", "--device", "tpu"][..],
            "`tpu` is not a device",
        ),
        (
            &["--model", "cnn", "--folds", "1"][..],
            "--folds is 1, but it must be an integer from 2 to 20",
        ),
        (
            &["--model", "none", "--save-embeddings", "e.parquet"][..],
            "--save-embeddings needs a model",
        ),
    ];
    if !cfg!(feature = "cuda") {
        cases.push((
            &["--model", "cnn", "--device", "cuda"][..],
            "--device cuda:0: this build of poisonscan has no cuda support",
        ));
    }
    for (extra, message) in cases {
        let mut args = vec!["scan", "--demo", "--out", "o"];
        args.extend_from_slice(extra);
        let e = run_err(&args, dir.path());
        assert!(e.contains(message), "{args:?}: {e}");
    }
    assert!(!dir.path().join("o").exists());
}

#[test]
fn scanners_run_beside_the_training_give_the_scan_they_would_after_it() {
    // scan_loaded runs the scanners that read only the label-agnostic view
    // (the pixels) while the model trains; learn then scan_dataset runs
    // every scanner after it. Same data, seed and model: same report.
    let options = ModelOptions {
        kind: ModelKind::Cnn,
        epochs: Some(2),
        seed: 3,
        ..ModelOptions::default()
    };
    let settings = ScanOptions::default().check().unwrap();
    let (ds, _) = demo(3);
    let (_, beside) =
        poisonscan::pipeline::scan_loaded(ds, 0.0, &options, &settings, &NoProgress).unwrap();
    let (ds, _) = demo(3);
    let (ds, _) = learn(ds, &options, &NoProgress).unwrap();
    let after = scan_dataset(&ds, &settings, &NoProgress).unwrap();
    let names = |r: &poisonscan::pipeline::ScanReport| -> Vec<&str> {
        r.outputs.iter().map(|(s, _)| s.name()).collect()
    };
    assert_eq!(names(&beside), names(&after));
    assert!(names(&beside).contains(&"knn-label-disagreement"));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&beside.fused.score), bits(&after.fused.score));
    for (a, b) in beside
        .fused
        .per_scanner
        .iter()
        .zip(&after.fused.per_scanner)
    {
        assert_eq!(bits(a), bits(b));
    }
    assert_eq!(beside.fused.verdict, after.fused.verdict);
}
