//! Helpers shared by the scanners' tests.

use crate::carried::Neighbourhoods;
use crate::knn::{nearest_neighbours, Reach};
use crate::rng::SplitMix64;
use crate::MatrixRef;

/// The label-agnostic neighbourhoods' parts the label sub-tests read,
/// computed from a view: `k` exact neighbours, own-label votes, the
/// majority label (ties to the lower), minority rows, rows by class.
pub struct Votes {
    pub k: usize,
    pub nb: Vec<u32>,
    pub same: Vec<u64>,
    pub majority: Vec<u32>,
    pub minority: Vec<bool>,
    pub class_rows: Vec<Vec<usize>>,
    pub keys: Vec<u64>,
}

impl Votes {
    pub fn new(view: &[f32], d: usize, labels: &[u32], classes: usize, k: usize) -> Self {
        let n = labels.len();
        let nb = nearest_neighbours(view, n, d, k, Reach::Exact);
        let mut same = vec![0u64; n];
        let mut majority = vec![0u32; n];
        for i in 0..n {
            let mut votes = vec![0u64; classes];
            for &j in &nb[i * k..(i + 1) * k] {
                votes[labels[j as usize] as usize] += 1;
            }
            same[i] = votes[labels[i] as usize];
            majority[i] = (0..classes)
                .max_by_key(|&c| (votes[c], std::cmp::Reverse(c)))
                .expect("at least one class") as u32;
        }
        let minority = (0..n)
            .map(|i| 2 * same[i] < k as u64 && majority[i] != labels[i])
            .collect();
        let class_rows = (0..classes as u32)
            .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
            .collect();
        let keys = crate::content_keys(crate::MatrixRef::new(view, n, d).unwrap(), labels);
        Self {
            keys,
            k,
            nb,
            same,
            majority,
            minority,
            class_rows,
        }
    }

    /// The neighbourhoods over the inputs `x`.
    pub fn hood<'a>(&'a self, x: MatrixRef<'a>, labels: &'a [u32]) -> Neighbourhoods<'a> {
        Neighbourhoods {
            x,
            labels,
            nb: &self.nb,
            k: self.k,
            same: &self.same,
            majority: &self.majority,
            minority: &self.minority,
            keys: &self.keys,
        }
    }
}

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
