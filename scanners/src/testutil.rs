//! Helpers shared by the scanners' tests.

use crate::carried::Neighbourhoods;
use crate::jpeg::{dct_basis, transform};
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

/// JPEG's luminance and chrominance tables (ITU-T T.81, Annex K) at
/// `quality`, as libjpeg scales them.
fn jpeg_tables(quality: u32) -> [[[f64; 8]; 8]; 2] {
    const LUMA: [[u32; 8]; 8] = [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ];
    const CHROMA: [[u32; 8]; 8] = [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ];
    let s = if quality < 50 {
        5000 / quality
    } else {
        200 - 2 * quality
    };
    [LUMA, CHROMA].map(|t| t.map(|line| line.map(|b| ((b * s + 50) / 100).clamp(1, 255) as f64)))
}

/// Pictures (values in `[0, 1]`, `(height, width, channels)` a row, grey
/// or RGB) through JPEG's lossy step at `quality`, as an encoder and a
/// decoder leave them: RGB to YCbCr (JFIF, colour at full resolution),
/// each 8×8 block's transform rounded to the table's multiples (a last
/// partial block's missing pixels repeat its edge), transformed back,
/// back to RGB, rounded to 8-bit levels and clipped.
pub fn through_jpeg(x: &mut [f32], (h, w, ch): (usize, usize, usize), quality: u32) {
    assert!(ch == 1 || ch == 3, "grey or RGB");
    let (tables, basis) = (jpeg_tables(quality), dct_basis());
    for picture in x.chunks_mut(h * w * ch) {
        // the picture's planes: luminance, then blue and red differences
        let mut planes = vec![vec![0f64; h * w]; ch];
        for (p, px) in picture.chunks(ch).enumerate() {
            let v: Vec<f64> = px.iter().map(|&v| v as f64 * 255.0).collect();
            if ch == 1 {
                planes[0][p] = v[0] - 128.0;
            } else {
                let y = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
                planes[0][p] = y - 128.0;
                planes[1][p] = (v[2] - y) / 1.772;
                planes[2][p] = (v[0] - y) / 1.402;
            }
        }
        for (k, plane) in planes.iter_mut().enumerate() {
            let q = &tables[k.min(1)];
            for by in (0..h).step_by(8) {
                for bx in (0..w).step_by(8) {
                    let mut block = [[0f64; 8]; 8];
                    for (y, line) in block.iter_mut().enumerate() {
                        for (xx, v) in line.iter_mut().enumerate() {
                            *v = plane[(by + y).min(h - 1) * w + (bx + xx).min(w - 1)];
                        }
                    }
                    let mut kept = transform(&basis, &block);
                    for (line, steps) in kept.iter_mut().zip(q) {
                        for (c, &step) in line.iter_mut().zip(steps) {
                            *c = (*c / step).round() * step;
                        }
                    }
                    for y in 0..8.min(h - by) {
                        for xx in 0..8.min(w - bx) {
                            let mut p = 0.0;
                            for (u, line) in kept.iter().enumerate() {
                                for (v, &c) in line.iter().enumerate() {
                                    p += basis[u][y] * basis[v][xx] * c;
                                }
                            }
                            plane[(by + y) * w + bx + xx] = p;
                        }
                    }
                }
            }
        }
        for (p, px) in picture.chunks_mut(ch).enumerate() {
            let y = planes[0][p] + 128.0;
            let rgb = if ch == 1 {
                vec![y]
            } else {
                let (cb, cr) = (planes[1][p], planes[2][p]);
                vec![
                    y + 1.402 * cr,
                    y - 0.344_136 * cb - 0.714_136 * cr,
                    y + 1.772 * cb,
                ]
            };
            for (v, c) in px.iter_mut().zip(rgb) {
                *v = (c.round().clamp(0.0, 255.0) / 255.0) as f32;
            }
        }
    }
}
