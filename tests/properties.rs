//! Invariants of a whole scan through the library: scores lie in [0, 1], and
//! permuting the rows permutes the scores and nothing else.

mod common;

use arrow::array::RecordBatch;
use common::*;
use poisonscan::pipeline::{scan_dataset, NoProgress};
use poisonscan::scanners::SplitMix64;
use poisonscan::settings::ScanOptions;
use poisonscan::{from_record_batch, TableOptions};

fn batch(features: &[Vec<f32>], labels: &[i64]) -> RecordBatch {
    Synthetic {
        features: features.to_vec(),
        labels: labels.to_vec(),
        poisoned: vec![false; labels.len()],
    }
    .embedding_batch()
}

/// A data set with a planted shift in class 0 and flipped labels in class 1.
fn data(seed: u64) -> Synthetic {
    let mut s = synthetic(3, 300, 10, 30, 7.0, seed);
    let mut rng = SplitMix64::new(seed + 1);
    for _ in 0..20 {
        let i = rng.below(s.labels.len());
        if s.labels[i] == 1 && !s.poisoned[i] {
            s.labels[i] = 2;
            s.poisoned[i] = true;
        }
    }
    s
}

#[test]
fn scores_are_in_the_unit_interval_and_flags_are_consistent() {
    for seed in 0..4 {
        let s = data(seed);
        let ds =
            from_record_batch(&batch(&s.features, &s.labels), &TableOptions::default()).unwrap();
        let settings = ScanOptions::default().check().unwrap();
        let r = scan_dataset(&ds, &settings, &NoProgress).unwrap();
        assert!(
            r.fused.score.iter().all(|v| (0.0..=1.0).contains(v)),
            "seed {seed}"
        );
        for per in &r.fused.per_scanner {
            assert!(per.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        for (i, &f) in r.fused.flagged.iter().enumerate() {
            if f {
                assert!(r.fused.score[i] >= settings.threshold);
            }
        }
    }
}

#[test]
fn permuting_rows_permutes_scores_and_nothing_else() {
    let s = data(7);
    let n = s.labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64::new(99).shuffle(&mut order);
    let features: Vec<Vec<f32>> = order.iter().map(|&i| s.features[i].clone()).collect();
    let labels: Vec<i64> = order.iter().map(|&i| s.labels[i]).collect();
    let settings = ScanOptions::default().check().unwrap();
    let a = from_record_batch(&batch(&s.features, &s.labels), &TableOptions::default()).unwrap();
    let b = from_record_batch(&batch(&features, &labels), &TableOptions::default()).unwrap();
    let ra = scan_dataset(&a, &settings, &NoProgress).unwrap();
    let rb = scan_dataset(&b, &settings, &NoProgress).unwrap();
    let mut worst = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        worst = worst.max((ra.fused.score[i] - rb.fused.score[k]).abs());
        assert_eq!(ra.fused.flagged[i], rb.fused.flagged[k], "row {i}");
        assert_eq!(
            ra.fused.suspected.as_ref().unwrap()[i],
            rb.fused.suspected.as_ref().unwrap()[k]
        );
    }
    // Sums run in another order: the covariances are blocked f32 products
    // (relative error about 1e-6), so scores may move in the sixth decimal;
    // flags, suspected classes and verdicts may not move at all.
    assert!(worst < 1e-5, "largest score change {worst}");
    let verdicts = |r: &poisonscan::ScanReport| {
        r.fused
            .classes
            .iter()
            .map(|c| (c.verdict, c.flagged))
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&ra), verdicts(&rb));
    assert_eq!(ra.fused.verdict, rb.fused.verdict);
}
