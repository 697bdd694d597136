//! The *foreign-group* class test of `knn-label-disagreement`: a class that
//! holds a group of rows which, moved back by the offset they share, land
//! among the rows of *other* classes.
//!
//! A dirty-label backdoor at a high rate (a blend or a dense patch on 10 %
//! of a data set) plants thousands of rows that carry one shared trigger:
//! in the label-agnostic view they are each other's neighbours, so no
//! neighbourhood test sees them (none is in the minority of its
//! neighbourhood), and they can outnumber the target class's own rows. Two
//! facts remain. The class splits in two: the trigger shifts the planted
//! rows together, away from the class's own rows. And the planted group is
//! other classes' rows plus that shift: undo the shift and each planted row
//! lands inside its source class, among rows that all carry one (other)
//! label. A natural mode of a class (wide and narrow trousers, slanted
//! ones) undone the same way lands in the middle of the other classes, in
//! mixed company.
//!
//! Method, per class, in the view the scanner already built:
//! 1. Whiten the class's rows by the pooled within-class covariance of the
//!    *other* classes, and split them in two by 2-means (started from the
//!    sign of the top principal direction about the median; Lloyd
//!    iterations).
//! 2. For each part with at least [`MIN_GROUP`] rows: a seeded sample of at
//!    most [`SAMPLE`] of its rows, each moved by `μ_others − μ_part` (the
//!    part's mean onto the mean of the other classes' rows), and its `k`
//!    nearest rows among a seeded sample of at most [`REFERENCES`] rows of
//!    the other classes. The part's *landing purity* is the mean share of
//!    those neighbours that carry their most common label.
//! 3. The class's statistic is the larger logit purity of its two parts,
//!    against the logit purities of every part of the other classes
//!    (median, `1.4826 × MAD`, never below [`SPREAD_MIN`]); one-sided normal
//!    test, doubled for the larger of two. Needs [`MIN_INFORMATIVE`] other
//!    classes with parts.
//!
//! Measured (MNIST and Fashion-MNIST, raw pixels, seed 1): a 10 % blend
//! splits the target class into its own rows and the planted rows exactly;
//! the planted part lands with purity 0.94 (MNIST) and 0.84
//! (Fashion-MNIST), against 0.58–0.73 and 0.42–0.67 for every part of the
//! clean classes.

use rayon::prelude::*;

use crate::gemm::a_bt;
use crate::linalg::{covariance, mean_of, symmetric_eigen};
use crate::rng::SplitMix64;
use crate::stats::{ln_upper_normal_p, median, robust_location_scale};
use crate::MatrixRef;

/// Least rows in a part for it to be tested (and in a class to be split:
/// twice as many).
pub const MIN_GROUP: usize = 20;

/// Rows of a part whose landing is measured.
const SAMPLE: usize = 512;

/// Rows of the other classes the moved rows land among.
const REFERENCES: usize = 16_384;

/// Least spread of the other parts' logit purities: clean parts of MNIST's
/// classes spread by 0.15, Fashion-MNIST's by 0.35.
const SPREAD_MIN: f64 = 0.3;

/// Least number of other classes with parts to calibrate on.
const MIN_INFORMATIVE: usize = 6;

/// A group whose landing neighbours lie this much (or more) in other
/// classes' suspicious parts is not tested: it is the mirror image of a
/// planted group. A 5 % blend into MNIST's zeros plants blended ones; a part
/// of the clean ones, moved to the other classes' centre, lands among them
/// (purity 0.94, 0.77 in clean MNIST), all of them in class 0's suspicious
/// part. A planted group lands in its source classes, whose suspicious parts
/// hold about half their rows.
const MIRROR_SHARE: f64 = 0.8;

/// Lloyd iterations of the 2-means split at most.
const ITERATIONS: usize = 50;

/// The foreign-group test of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignGroup {
    /// `ln` p-value (0 when untested).
    pub log_p: f64,
    /// Landing purity of the class's more suspicious part (`NaN` untested).
    pub purity: f64,
    /// Separation of the split: `π(1 − π)·|m₁ − m₀|²` in whitened units.
    pub separation: f64,
    /// The rows of the more suspicious part.
    pub group: Vec<usize>,
    /// What moves a row of the group onto the other classes:
    /// `μ_others − μ_group`, in the view's units.
    pub offset: Vec<f32>,
    /// Rows of the group beyond what a natural part lands like: the share
    /// of its sampled rows whose landing neighbours have a majority label,
    /// above the other parts' median share, scaled to the group.
    pub excess: f64,
    /// Share of the group's landing neighbours that lie in other classes'
    /// more suspicious parts.
    pub on_groups: f64,
}

impl ForeignGroup {
    fn untested() -> Self {
        Self {
            log_p: 0.0,
            purity: f64::NAN,
            separation: f64::NAN,
            group: Vec::new(),
            offset: Vec::new(),
            excess: 0.0,
            on_groups: f64::NAN,
        }
    }
}

/// One tested part of a class.
struct Part {
    rows: Vec<usize>,
    offset: Vec<f32>,
    /// Mean share of the landing neighbours with the most common label.
    purity: f64,
    /// Share of sampled rows whose landing neighbours have a majority label.
    landed: f64,
    /// The class's split: `π(1 − π)·|m₁ − m₀|²`, whitened.
    separation: f64,
    /// The landing neighbours of the sampled rows.
    landing: Vec<Vec<usize>>,
}

/// The most common label among the rows `nb` and how many carry it (ties to
/// the lower label); `None` for no rows.
fn majority(nb: &[usize], labels: &[u32]) -> Option<(u32, usize)> {
    let mut votes: Vec<(u32, usize)> = Vec::with_capacity(nb.len());
    for &j in nb {
        match votes.iter_mut().find(|v| v.0 == labels[j]) {
            Some(v) => v.1 += 1,
            None => votes.push((labels[j], 1)),
        }
    }
    votes
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// The other classes' rows a class's moved rows land among.
pub struct References<'a> {
    view: MatrixRef<'a>,
    labels: &'a [u32],
    /// A seeded sample of the scanned rows, in row order.
    sample: Vec<usize>,
    /// The rows' content keys (samples are drawn in their order).
    keys: &'a [u64],
}

impl<'a> References<'a> {
    /// A seeded sample of at most [`REFERENCES`] of `rows`.
    pub fn new(
        view: MatrixRef<'a>,
        labels: &'a [u32],
        keys: &'a [u64],
        rows: &[usize],
        seed: u64,
    ) -> Self {
        let mut sample = rows.to_vec();
        if sample.len() > REFERENCES {
            SplitMix64::derive(seed, 0x5EF5).order_by_content(&mut sample, keys);
            sample.truncate(REFERENCES);
            sample.sort_unstable();
        }
        Self {
            view,
            labels,
            sample,
            keys,
        }
    }

    /// For every row of `rows` moved by `offset`: the most common label
    /// among its `k` nearest reference rows that are not of class `c`, and
    /// how many of the `k` carry it (ties to the lower label).
    pub fn land(&self, rows: &[usize], offset: &[f32], c: u32, k: usize) -> Vec<(u32, usize)> {
        self.neighbours(rows, offset, c, k)
            .iter()
            .map(|nb| majority(nb, self.labels).unwrap_or((c, 0)))
            .collect()
    }

    /// The `k` nearest reference rows not of class `c` (row ids, nearest
    /// first; ties to the earlier reference) of every row of `rows` moved
    /// by `offset`.
    pub fn neighbours(&self, rows: &[usize], offset: &[f32], c: u32, k: usize) -> Vec<Vec<usize>> {
        let d = self.view.cols();
        let refs: Vec<usize> = self
            .sample
            .iter()
            .copied()
            .filter(|&i| self.labels[i] != c)
            .collect();
        let k = k.min(refs.len());
        if k == 0 {
            return vec![Vec::new(); rows.len()];
        }
        let mut r = Vec::with_capacity(refs.len() * d);
        for &i in &refs {
            r.extend_from_slice(self.view.row(i));
        }
        let mut q = Vec::with_capacity(rows.len() * d);
        for &i in rows {
            q.extend(self.view.row(i).iter().zip(offset).map(|(v, o)| v + o));
        }
        nearest_rows(&q, &r, d, k)
            .into_iter()
            .map(|nb| nb.into_iter().map(|j| refs[j as usize]).collect())
            .collect()
    }
}

/// The `k` nearest rows of `r` (indices, nearest first; ties to the earlier
/// row) of every row of `q`, both row-major with `d` columns: blocked
/// matrix products, query blocks in parallel.
pub(crate) fn nearest_rows(q: &[f32], r: &[f32], d: usize, k: usize) -> Vec<Vec<u32>> {
    let (m, n) = (q.len() / d.max(1), r.len() / d.max(1));
    let k = k.min(n);
    if k == 0 || d == 0 {
        return vec![Vec::new(); m];
    }
    let rnorm: Vec<f32> = r.chunks(d).map(|v| v.iter().map(|x| x * x).sum()).collect();
    const BLOCK: usize = 64;
    q.par_chunks(BLOCK * d)
        .flat_map_iter(|block| {
            let rows = block.len() / d;
            let mut g = vec![0f32; rows * n];
            a_bt(block, rows, d, r, n, &mut g);
            let mut out = Vec::with_capacity(rows);
            // the k best so far by (distance, row), in order: the rows come
            // in increasing order, so one that only ties the k-th comes
            // after it
            let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
            for (qi, qv) in block.chunks(d).enumerate() {
                let qn: f32 = qv.iter().map(|x| x * x).sum();
                best.clear();
                let dots = &g[qi * n..(qi + 1) * n];
                for (j, (&dot, &rn)) in dots.iter().zip(&rnorm).enumerate() {
                    let dist = qn + rn - 2.0 * dot;
                    if best.len() == k && dist.total_cmp(&best[k - 1].0).is_ge() {
                        continue;
                    }
                    let at = best.partition_point(|b| b.0.total_cmp(&dist).is_le());
                    best.insert(at, (dist, j as u32));
                    best.truncate(k);
                }
                out.push(best.iter().map(|&(_, j)| j).collect());
            }
            out
        })
        .collect()
}

/// The foreign-group test of every class of `scanned` (see the module
/// docs), in the order of `scanned`.
pub fn foreign_group_test(
    refs: &References<'_>,
    class_rows: &[Vec<usize>],
    scanned: &[u32],
    k: usize,
    seed: u64,
) -> Vec<ForeignGroup> {
    let view = refs.view;
    let d = view.cols();
    let means: Vec<Vec<f64>> = scanned
        .iter()
        .map(|&c| mean_of(view, &class_rows[c as usize]))
        .collect();
    let covs: Vec<Vec<f64>> = scanned
        .par_iter()
        .zip(&means)
        .map(|(&c, m)| covariance(view, &class_rows[c as usize], m))
        .collect();
    let sizes: Vec<f64> = scanned
        .iter()
        .map(|&c| class_rows[c as usize].len() as f64)
        .collect();
    let total: f64 = sizes.iter().sum();
    let mut within = vec![0.0f64; d * d];
    for (cov, &n) in covs.iter().zip(&sizes) {
        for (w, v) in within.iter_mut().zip(cov) {
            *w += n * v;
        }
    }
    let parts: Vec<Vec<Part>> = scanned
        .par_iter()
        .enumerate()
        .map(|(t, &c)| {
            let rows = &class_rows[c as usize];
            let n_other = total - sizes[t];
            if rows.len() < 2 * MIN_GROUP || n_other < 1.0 {
                return Vec::new();
            }
            let pooled: Vec<f64> = within
                .iter()
                .zip(&covs[t])
                .map(|(w, v)| (w - sizes[t] * v) / n_other)
                .collect();
            // The other classes' centre, robust to one of them holding a
            // planted group: the median of their means, value by value.
            let other_mean: Vec<f64> = (0..d)
                .map(|j| {
                    let v: Vec<f64> = (0..means.len())
                        .filter(|&o| o != t)
                        .map(|o| means[o][j])
                        .collect();
                    median(&v)
                })
                .collect();
            let (split, separation) = two_means(view, rows, &means[t], &pooled);
            let mut rng = SplitMix64::derive(seed, 0xF0E1 + c as u64);
            split
                .into_iter()
                .filter(|part| part.len() >= MIN_GROUP)
                .map(|part| {
                    let m = mean_of(view, &part);
                    let offset: Vec<f32> = other_mean
                        .iter()
                        .zip(&m)
                        .map(|(o, m)| (o - m) as f32)
                        .collect();
                    let mut sample = part.clone();
                    if sample.len() > SAMPLE {
                        rng.order_by_content(&mut sample, refs.keys);
                        sample.truncate(SAMPLE);
                    }
                    let landing = refs.neighbours(&sample, &offset, c, k);
                    let votes: Vec<usize> = landing
                        .iter()
                        .map(|nb| majority(nb, refs.labels).map_or(0, |m| m.1))
                        .collect();
                    let kk = k.max(1) as f64;
                    let purity =
                        votes.iter().map(|&n| n as f64 / kk).sum::<f64>() / sample.len() as f64;
                    let landed =
                        votes.iter().filter(|&&n| 2 * n > k).count() as f64 / sample.len() as f64;
                    Part {
                        rows: part,
                        offset,
                        purity,
                        landed,
                        separation,
                        landing,
                    }
                })
                .collect()
        })
        .collect();
    let logit = |p: f64| {
        let e = 0.5 / k.max(1) as f64;
        let p = p.clamp(e, 1.0 - e);
        (p / (1.0 - p)).ln()
    };
    let best_part = |t: usize| parts[t].iter().max_by(|a, b| a.purity.total_cmp(&b.purity));
    // Rows of every class's more suspicious part: a landing among them is
    // a landing on a planted group, not on a source class.
    let mut in_group = vec![false; refs.labels.len()];
    for t in 0..scanned.len() {
        for &i in best_part(t).map(|p| p.rows.as_slice()).unwrap_or(&[]) {
            in_group[i] = true;
        }
    }
    (0..scanned.len())
        .map(|t| {
            let Some(best) = best_part(t) else {
                return ForeignGroup::untested();
            };
            let others: Vec<&Part> = (0..scanned.len())
                .filter(|&j| j != t)
                .flat_map(|j| parts[j].iter())
                .collect();
            let informative = (0..scanned.len())
                .filter(|&j| j != t && !parts[j].is_empty())
                .count();
            let mut out = ForeignGroup {
                purity: best.purity,
                separation: best.separation,
                group: best.rows.clone(),
                offset: best.offset.clone(),
                ..ForeignGroup::untested()
            };
            let slots: usize = best.landing.iter().map(Vec::len).sum();
            let on_groups = best
                .landing
                .iter()
                .flatten()
                .filter(|&&j| in_group[j])
                .count();
            out.on_groups = on_groups as f64 / slots.max(1) as f64;
            if informative < MIN_INFORMATIVE || out.on_groups >= MIRROR_SHARE {
                return out;
            }
            let ls: Vec<f64> = others.iter().map(|p| logit(p.purity)).collect();
            let (centre, spread) = robust_location_scale(&ls);
            let z = (logit(best.purity) - centre) / spread.max(SPREAD_MIN);
            out.log_p = (ln_upper_normal_p(z) + 2f64.ln()).min(0.0);
            let typical = median(&others.iter().map(|p| p.landed).collect::<Vec<_>>());
            let share = ((best.landed - typical) / (1.0 - typical).max(1e-9)).clamp(0.0, 1.0);
            out.excess = share * best.rows.len() as f64;
            out
        })
        .collect()
}

/// The rows of a class split in two by 2-means in the space whitened by
/// `pooled` (a `d × d` covariance): started from the sign of each row's
/// projection on the whitened class's top principal direction about its
/// median, then Lloyd iterations. Deterministic.
fn two_means(
    view: MatrixRef<'_>,
    rows: &[usize],
    mean: &[f64],
    pooled: &[f64],
) -> ([Vec<usize>; 2], f64) {
    let d = view.cols();
    let (values, vectors) = symmetric_eigen(pooled, d);
    let floor = values.first().copied().unwrap_or(0.0).max(0.0) * 1e-9 + f64::MIN_POSITIVE;
    let scale: Vec<f64> = values.iter().map(|&v| 1.0 / v.max(floor).sqrt()).collect();
    let z: Vec<f64> = rows
        .iter()
        .flat_map(|&i| {
            let x: Vec<f64> = view
                .row(i)
                .iter()
                .zip(mean)
                .map(|(&v, m)| v as f64 - m)
                .collect();
            vectors
                .iter()
                .zip(&scale)
                .map(move |(u, s)| s * u.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>())
                .collect::<Vec<_>>()
        })
        .collect();
    let n = rows.len();
    let mut cov = vec![0.0f64; d * d];
    for r in z.chunks(d) {
        for i in 0..d {
            for j in i..d {
                cov[i * d + j] += r[i] * r[j];
            }
        }
    }
    for i in 0..d {
        for j in 0..i {
            cov[i * d + j] = cov[j * d + i];
        }
    }
    let (_, top) = symmetric_eigen(&cov, d);
    let proj: Vec<f64> = z
        .chunks(d)
        .map(|r| r.iter().zip(&top[0]).map(|(a, b)| a * b).sum())
        .collect();
    let mid = median(&proj);
    let mut side: Vec<bool> = proj.iter().map(|&p| p > mid).collect();
    let centres = |side: &[bool]| {
        let mut m = [vec![0.0f64; d], vec![0.0f64; d]];
        let mut count = [0usize; 2];
        for (r, &s) in z.chunks(d).zip(side) {
            count[s as usize] += 1;
            for (a, b) in m[s as usize].iter_mut().zip(r) {
                *a += b;
            }
        }
        for (mi, &c) in m.iter_mut().zip(&count) {
            mi.iter_mut().for_each(|v| *v /= c.max(1) as f64);
        }
        (m, count)
    };
    for _ in 0..ITERATIONS {
        let (m, count) = centres(&side);
        if count[0] == 0 || count[1] == 0 {
            break;
        }
        let next: Vec<bool> = z
            .chunks(d)
            .map(|r| {
                let dist = |c: &[f64]| r.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
                dist(&m[1]) < dist(&m[0])
            })
            .collect();
        if next == side {
            break;
        }
        side = next;
    }
    let (m, count) = centres(&side);
    let pi = count[1] as f64 / n.max(1) as f64;
    let gap: f64 = m[0].iter().zip(&m[1]).map(|(a, b)| (a - b).powi(2)).sum();
    let mut parts = [Vec::new(), Vec::new()];
    for (&i, &s) in rows.iter().zip(&side) {
        parts[s as usize].push(i);
    }
    (parts, pi * (1.0 - pi) * gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight Gaussian classes in 10 dimensions, 300 rows each. With
    /// `planted`, class 0 also holds 300 rows drawn from the other classes
    /// plus one shared offset (a dirty-label trigger); without, half of
    /// class 0 is shifted by the same offset (a natural second mode).
    fn data(planted: bool, seed: u64) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let (d, n, classes) = (10, 300, 8u32);
        let mut rng = SplitMix64::new(seed);
        let centres: Vec<Vec<f64>> = (0..classes)
            .map(|_| (0..d).map(|_| 1.5 * rng.normal()).collect())
            .collect();
        let shift: Vec<f64> = (0..d).map(|_| 5.0 * rng.normal()).collect();
        let (mut x, mut y, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..classes {
            for i in 0..n {
                let moved = !planted && c == 0 && i % 2 == 0;
                for j in 0..d {
                    let s = if moved { shift[j] } else { 0.0 };
                    x.push((centres[c as usize][j] + rng.normal() + s) as f32);
                }
                y.push(c);
                truth.push(false);
            }
        }
        if planted {
            for i in 0..n {
                let source = 1 + i % (classes as usize - 1);
                for j in 0..d {
                    x.push((centres[source][j] + rng.normal() + shift[j]) as f32);
                }
                y.push(0);
                truth.push(true);
            }
        }
        (x, y, truth)
    }

    fn run(planted: bool, seed: u64) -> (Vec<ForeignGroup>, Vec<bool>) {
        let (x, y, truth) = data(planted, seed);
        let view = MatrixRef::new(&x, y.len(), 10).unwrap();
        let mut class_rows = vec![Vec::new(); 8];
        for (i, &l) in y.iter().enumerate() {
            class_rows[l as usize].push(i);
        }
        let all: Vec<usize> = (0..y.len()).collect();
        let keys = crate::content_keys(view, &y);
        let refs = References::new(view, &y, &keys, &all, seed);
        let scanned: Vec<u32> = (0..8).collect();
        (
            foreign_group_test(&refs, &class_rows, &scanned, 10, seed),
            truth,
        )
    }

    #[test]
    fn a_shifted_group_of_other_classes_rows_fails_its_class() {
        for seed in 1..=3 {
            let (tests, truth) = run(true, seed);
            let g = &tests[0];
            assert!(g.log_p < (1e-4f64).ln(), "seed {seed}: {g:?}");
            let planted = g.group.iter().filter(|&&i| truth[i]).count();
            assert!(planted as f64 >= 0.95 * g.group.len() as f64, "seed {seed}");
            assert!(planted >= 285, "seed {seed}: {planted} of 300 planted rows");
            assert!(g.excess >= 200.0, "seed {seed}: {}", g.excess);
            for t in &tests[1..] {
                assert!(t.log_p > (1e-3f64).ln(), "seed {seed}: {t:?}");
            }
        }
    }

    #[test]
    fn a_natural_second_mode_passes() {
        for seed in 1..=3 {
            let (tests, _) = run(false, seed);
            assert!(tests[0].separation > 1.0, "seed {seed}: the class splits");
            for t in &tests {
                assert!(t.log_p > (1e-3f64).ln(), "seed {seed}: {}", t.log_p);
            }
        }
    }

    #[test]
    fn landing_finds_the_source_class() {
        let (x, y, truth) = data(true, 5);
        let view = MatrixRef::new(&x, y.len(), 10).unwrap();
        let all: Vec<usize> = (0..y.len()).collect();
        let keys = crate::content_keys(view, &y);
        let refs = References::new(view, &y, &keys, &all, 5);
        let planted: Vec<usize> = (0..y.len()).filter(|&i| truth[i]).collect();
        // the exact shift is the group mean minus the sources' mean
        let (tests, _) = run(true, 5);
        let landing = refs.land(&planted, &tests[0].offset, 0, 10);
        let right = planted
            .iter()
            .zip(&landing)
            .filter(|(&i, &(source, _))| source as usize == 1 + (i - 2400) % 7)
            .count();
        assert!(right >= 270, "{right} of 300 landed in their source class");
    }
}
