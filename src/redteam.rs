//! Red team: plants known attacks with ground truth, for tests, benchmarks and
//! the built-in demo. Pure functions over a feature matrix and labels; the
//! `poison` command's file handling lives at the edge.

use std::io::Read;
use std::sync::Arc;

use arrow::array::Int64Array;
use poisonscan_scanners::SplitMix64;

use crate::ingest::{Dataset, FeatureSource, SourceFile};

/// A square patch trigger (BadNets, Gu et al. 2017).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Patch {
    /// Side in pixels.
    pub size: usize,
    /// Pixel value written (features are scaled to [0, 1]).
    pub value: f32,
    /// Gap between the patch and the bottom-right corner, in pixels.
    pub margin: usize,
}

impl Default for Patch {
    fn default() -> Self {
        Self {
            size: 3,
            value: 1.0,
            margin: 1,
        }
    }
}

/// Image geometry of a pixel feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Channels.
    pub channels: usize,
}

/// Writes `patch` into one image (row-major `height × width × channels`).
pub fn stamp(image: &mut [f32], shape: Shape, patch: Patch) {
    let size = patch.size.min(shape.height).min(shape.width);
    let top = shape.height.saturating_sub(size + patch.margin);
    let left = shape.width.saturating_sub(size + patch.margin);
    for y in top..top + size {
        for x in left..left + size {
            for c in 0..shape.channels {
                image[(y * shape.width + x) * shape.channels + c] = patch.value;
            }
        }
    }
}

/// BadNets: stamps the patch on `round(rate × n)` rows drawn (seeded) from
/// classes other than `target`, and relabels them to `target`. Returns the
/// ground truth: `true` for every changed row.
pub fn badnets(
    features: &mut [f32],
    labels: &mut [u32],
    shape: Shape,
    patch: Patch,
    rate: f64,
    target: u32,
    seed: u64,
) -> Vec<bool> {
    let n = labels.len();
    let dim = features.len() / n.max(1);
    let mut candidates: Vec<usize> = (0..n).filter(|&i| labels[i] != target).collect();
    let mut rng = SplitMix64::new(seed);
    rng.shuffle(&mut candidates);
    let count = ((rate * n as f64).round() as usize).min(candidates.len());
    let mut truth = vec![false; n];
    for &i in &candidates[..count] {
        stamp(&mut features[i * dim..(i + 1) * dim], shape, patch);
        labels[i] = target;
        truth[i] = true;
    }
    truth
}

/// scikit-learn's copy of the UCI handwritten digits (1,797 images of 8×8
/// pixels, values 0–16, last column the digit), embedded for the demo.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../datasets/fixtures/digits.csv.gz");

/// The embedded digits: pixels scaled to [0, 1] and the digit of every image.
pub fn digits() -> (Vec<f32>, Vec<u32>) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .expect("the embedded digits are valid gzip");
    let mut features = Vec::with_capacity(1797 * 64);
    let mut labels = Vec::with_capacity(1797);
    for line in text.lines().filter(|l| !l.is_empty()) {
        let values: Vec<f32> = line
            .split(',')
            .map(|v| v.trim().parse().expect("a number"))
            .collect();
        features.extend(values[..64].iter().map(|v| v / 16.0));
        labels.push(values[64] as u32);
    }
    (features, labels)
}

/// Poison rate of the demo: 3 % of the rows, all relabelled to digit 0.
pub const DEMO_RATE: f64 = 0.03;

/// The demo data set: the embedded digits with a BadNets patch (2×2, bottom
/// right) planted on 3 % of the rows, relabelled to 0. Returns the data set
/// and the ground truth.
pub fn demo(seed: u64) -> (Dataset, Vec<bool>) {
    let (mut features, mut labels) = digits();
    let shape = Shape {
        height: 8,
        width: 8,
        channels: 1,
    };
    let patch = Patch {
        size: 2,
        value: 1.0,
        margin: 0,
    };
    let truth = badnets(&mut features, &mut labels, shape, patch, DEMO_RATE, 0, seed);
    let n = labels.len();
    let ds = Dataset {
        n_input_rows: n,
        kept_rows: (0..n as u64).collect(),
        dropped: Vec::new(),
        ids: None,
        id_column: None,
        labels: Arc::new(Int64Array::from_iter_values(
            labels.iter().map(|&l| l as i64),
        )),
        label_column: "label".into(),
        label_codes: labels,
        class_names: (0..10).map(|d| d.to_string()).collect(),
        features: features.into(),
        n_features: 64,
        feature_source: FeatureSource::Pixels {
            height: 8,
            width: 8,
            channels: 1,
        },
        sources: vec![SourceFile {
            path: "embedded:digits.csv.gz".into(),
            bytes: DIGITS_CSV_GZ.len() as u64,
            sha256: crate::ingest::hex(&<sha2::Sha256 as sha2::Digest>::digest(DIGITS_CSV_GZ)),
            rows: n as u64,
            first_row: 0,
        }],
    };
    (ds, truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_complete() {
        let (f, l) = digits();
        assert_eq!(l.len(), 1797);
        assert_eq!(f.len(), 1797 * 64);
        assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(l.iter().max(), Some(&9));
    }

    #[test]
    fn badnets_changes_exactly_the_planted_rows() {
        let (features, labels) = digits();
        let (mut f2, mut l2) = (features.clone(), labels.clone());
        let shape = Shape {
            height: 8,
            width: 8,
            channels: 1,
        };
        let truth = badnets(&mut f2, &mut l2, shape, Patch::default(), 0.05, 3, 7);
        assert_eq!(
            truth.iter().filter(|&&t| t).count(),
            (0.05f64 * 1797.0).round() as usize
        );
        for i in 0..labels.len() {
            let changed =
                features[i * 64..(i + 1) * 64] != f2[i * 64..(i + 1) * 64] || labels[i] != l2[i];
            assert_eq!(changed, truth[i], "row {i}");
            if truth[i] {
                assert_eq!(l2[i], 3);
                assert_ne!(labels[i], 3);
            }
        }
    }
}
