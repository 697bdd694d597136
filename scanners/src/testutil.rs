//! Helpers shared by the scanners' tests.

use crate::rng::SplitMix64;

/// AUROC by counting pairs, ties as half (slow; for small fixtures).
pub fn auroc(scores: &[f64], truth: &[bool]) -> f64 {
    let pos: Vec<f64> = scores
        .iter()
        .zip(truth)
        .filter(|(_, &t)| t)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(truth)
        .filter(|(_, &t)| !t)
        .map(|(s, _)| *s)
        .collect();
    let mut wins = 0.0;
    for p in &pos {
        for q in &neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

/// Gaussian classes in `d` dimensions; `poison` rows of class 0 shifted by
/// `shift` along one random direction. Returns data, labels, poison flags.
pub fn blobs_with_shifted_group(
    n_per_class: usize,
    d: usize,
    poison: usize,
    shift: f64,
    seed: u64,
) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
    let mut rng = SplitMix64::new(seed);
    let mut dir: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
    let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
    dir.iter_mut().for_each(|x| *x /= norm);
    let mut data = Vec::new();
    let mut labels = Vec::new();
    let mut truth = Vec::new();
    for class in 0..3u32 {
        let centre: Vec<f64> = (0..d).map(|_| 3.0 * rng.normal()).collect();
        for i in 0..n_per_class {
            let p = class == 0 && i < poison;
            for j in 0..d {
                let v = centre[j] + rng.normal() + if p { shift * dir[j] } else { 0.0 };
                data.push(v as f32);
            }
            labels.push(class);
            truth.push(p);
        }
    }
    (data, labels, truth)
}
