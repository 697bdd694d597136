//! The computations behind the report's pictures: the flagged rows grouped
//! into the sub-populations the scanners found, nearest neighbours in a
//! label-agnostic view, and the trigger map. Pure functions over the
//! scanned rows (indices are kept-row indices); no HTML here.

use poisonscan_scanners::{shared_scale, standardised_pca, MatrixRef};
use rayon::prelude::*;

use crate::fuse::by_significance;

/// Principal components of the neighbour view: enough to tell a digit's
/// style, few enough that brute-force search over 60,000 rows is quick.
const VIEW_DIMS: usize = 32;

/// Group members the trigger map reads at most (the highest-scoring ones):
/// a median over this many is already stable.
pub const TRIGGER_MEMBERS: usize = 256;

/// Neighbours of each member the trigger map compares it with.
pub const TRIGGER_NEIGHBOURS: usize = 8;

/// Flagged rows that share a class and a suspected source class: one
/// sub-population the scanners found.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The class the rows are labelled.
    pub class: u32,
    /// The class the evidence says they come from, when it is another one.
    pub source: Option<u32>,
    /// Members, highest score first (ties: input order).
    pub rows: Vec<usize>,
}

/// Groups the flagged rows by (class, suspected source), rows of failed
/// classes first, then the largest group, then by class and source.
pub fn flagged_groups(
    labels: &[u32],
    flagged: &[bool],
    suspected: &[Option<u32>],
    rank: &[f64],
    class_failed: &[bool],
) -> Vec<Group> {
    let mut by_key: std::collections::BTreeMap<(u32, Option<u32>), Vec<usize>> =
        std::collections::BTreeMap::new();
    for (k, _) in flagged.iter().enumerate().filter(|(_, &f)| f) {
        let source = suspected[k].filter(|&s| s != labels[k]);
        by_key.entry((labels[k], source)).or_default().push(k);
    }
    let mut groups: Vec<Group> = by_key
        .into_iter()
        .map(|((class, source), mut rows)| {
            sort_by_rank(&mut rows, rank);
            Group {
                class,
                source,
                rows,
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        let failed = |g: &Group| class_failed.get(g.class as usize).copied().unwrap_or(false);
        failed(b)
            .cmp(&failed(a))
            .then(b.rows.len().cmp(&a.rows.len()))
            .then(a.class.cmp(&b.class))
            .then(a.source.cmp(&b.source))
    });
    groups
}

/// Sorts rows by their ranking key (the scan's rank, negated), highest first (`NaN`
/// last), ties in row order.
pub fn sort_by_rank(rows: &mut [usize], rank: &[f64]) {
    rows.sort_by(|&a, &b| by_significance(rank, a, b));
}

/// A label-agnostic view of the rows for neighbour search: their top
/// principal components (standardised first unless the features share one
/// scale, as pixels do — the same rule the scanners follow).
pub struct View {
    data: Vec<f32>,
    dims: usize,
}

impl View {
    /// The view of `x` (`n × d`, row-major).
    pub fn new(x: MatrixRef<'_>, seed: u64) -> Self {
        let scale = !shared_scale(x);
        let (data, dims) = standardised_pca(x, None, VIEW_DIMS, seed, scale);
        Self { data, dims }
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    /// The `k` rows of `pool` nearest to `row` (never `row` itself),
    /// nearest first; ties go to the lower row.
    pub fn nearest(&self, row: usize, pool: &[usize], k: usize) -> Vec<usize> {
        let q = self.row(row);
        let mut d: Vec<(f32, usize)> = pool
            .iter()
            .filter(|&&r| r != row)
            .map(|&r| {
                let dist = self
                    .row(r)
                    .iter()
                    .zip(q)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>();
                (dist, r)
            })
            .collect();
        let k = k.min(d.len());
        if k == 0 {
            return Vec::new();
        }
        let order = |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if k < d.len() {
            d.select_nth_unstable_by(k - 1, order);
            d.truncate(k);
        }
        d.sort_by(order);
        d.into_iter().map(|(_, r)| r).collect()
    }
}

/// What a group's rows have that their nearest clean look-alikes do not.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerMap {
    /// Per feature: the median over the members of (member − the mean of its
    /// nearest reference rows). A trigger every member carries stands out;
    /// the members' own variation cancels in the median.
    pub difference: Vec<f32>,
    /// Per feature, the mean of the members read.
    pub members_mean: Vec<f32>,
    /// Per feature, the mean of the reference rows they were compared with.
    pub reference_mean: Vec<f32>,
    /// Members read (at most [`TRIGGER_MEMBERS`], the highest-scoring).
    pub members: usize,
    /// Distinct reference rows used.
    pub reference: usize,
}

/// The trigger map of a group: each member (the first [`TRIGGER_MEMBERS`] of
/// `members`) is compared with the mean of its [`TRIGGER_NEIGHBOURS`] nearest
/// rows of `reference` in the view — rows that look like it but were not
/// flagged, of the class it is suspected to come from — and the per-feature
/// median of those differences is taken. `None` when either side is empty.
pub fn trigger_map(
    x: MatrixRef<'_>,
    view: &View,
    members: &[usize],
    reference: &[usize],
) -> Option<TriggerMap> {
    let members = &members[..members.len().min(TRIGGER_MEMBERS)];
    if members.is_empty() || reference.is_empty() {
        return None;
    }
    let d = x.cols();
    let per_member: Vec<(Vec<f32>, Vec<usize>)> = members
        .par_iter()
        .map(|&m| {
            let nn = view.nearest(m, reference, TRIGGER_NEIGHBOURS);
            let mut mean = vec![0f32; d];
            for &r in &nn {
                mean.iter_mut().zip(x.row(r)).for_each(|(s, v)| *s += v);
            }
            let inv = 1.0 / nn.len().max(1) as f32;
            let diff = x
                .row(m)
                .iter()
                .zip(&mean)
                .map(|(v, s)| v - s * inv)
                .collect();
            (diff, nn)
        })
        .collect();
    let mut used: Vec<usize> = per_member.iter().flat_map(|(_, nn)| nn.clone()).collect();
    used.sort_unstable();
    used.dedup();
    let mut column = Vec::with_capacity(members.len());
    let difference = (0..d)
        .map(|j| {
            column.clear();
            column.extend(per_member.iter().map(|(diff, _)| diff[j]));
            median(&mut column)
        })
        .collect();
    Some(TriggerMap {
        difference,
        members_mean: column_mean(x, members),
        reference_mean: column_mean(x, &used),
        members: members.len(),
        reference: used.len(),
    })
}

/// Per-feature mean of some rows.
pub fn column_mean(x: MatrixRef<'_>, rows: &[usize]) -> Vec<f32> {
    let mut mean = vec![0f64; x.cols()];
    for &r in rows {
        mean.iter_mut()
            .zip(x.row(r))
            .for_each(|(s, &v)| *s += v as f64);
    }
    let inv = 1.0 / rows.len().max(1) as f64;
    mean.into_iter().map(|s| (s * inv) as f32).collect()
}

/// Median of a non-empty slice (the mean of the middle two for an even
/// count); reorders it.
fn median(v: &mut [f32]) -> f32 {
    let n = v.len();
    let mid = n / 2;
    let (_, &mut hi, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        0.5 * (lo + hi)
    }
}

/// Each feature's standard deviation over all rows.
pub fn feature_spread(x: MatrixRef<'_>) -> Vec<f64> {
    let n = x.rows().max(1) as f64;
    let mean = column_mean(x, &(0..x.rows()).collect::<Vec<_>>());
    let mut var = vec![0f64; x.cols()];
    for i in 0..x.rows() {
        for (j, &v) in x.row(i).iter().enumerate() {
            let c = v as f64 - mean[j] as f64;
            var[j] += c * c;
        }
    }
    var.into_iter().map(|v| (v / n).sqrt()).collect()
}

/// The features that set a group apart from its reference rows most: the
/// `top` largest |difference| / the feature's spread over all rows
/// ([`feature_spread`]; features with no spread left out), largest first.
pub fn distinguishing_features(difference: &[f32], spread: &[f64], top: usize) -> Vec<usize> {
    let mut ranked: Vec<(f64, usize)> = difference
        .iter()
        .zip(spread)
        .enumerate()
        .filter(|(_, (_, &sd))| sd > 0.0)
        .map(|(j, (&dv, &sd))| ((dv as f64).abs() / sd, j))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().take(top).map(|(_, j)| j).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_class_and_source_failed_first_then_size() {
        let labels = [0, 0, 0, 1, 1, 1, 2];
        let flagged = [true, true, false, true, true, true, true];
        let suspected = [Some(3), Some(3), None, Some(1), Some(0), Some(0), Some(0)];
        let score = [0.5, 0.9, 0.0, 1.0, 0.99, 0.995, 1.0];
        let failed = [true, false, false, false];
        let g = flagged_groups(&labels, &flagged, &suspected, &score, &failed);
        let keys: Vec<(u32, Option<u32>, Vec<usize>)> =
            g.into_iter().map(|g| (g.class, g.source, g.rows)).collect();
        assert_eq!(
            keys,
            vec![
                (0, Some(3), vec![1, 0]),
                (1, Some(0), vec![5, 4]),
                (1, None, vec![3]),
                (2, Some(0), vec![6]),
            ]
        );
    }

    #[test]
    fn nearest_excludes_the_row_and_breaks_ties_by_row() {
        let x = [0.0f32, 0.0, 1.0, 0.0, -1.0, 0.0, 5.0, 0.0];
        let view = View {
            data: x.to_vec(),
            dims: 2,
        };
        assert_eq!(view.nearest(0, &[0, 1, 2, 3], 2), vec![1, 2]);
        assert_eq!(view.nearest(3, &[0, 3], 5), vec![0]);
    }

    #[test]
    fn trigger_map_finds_a_shared_patch_and_ignores_own_variation() {
        // 4x4 "images": reference rows are random; members are reference
        // look-alikes with pixel 15 set to 1.
        let mut rng = poisonscan_scanners::SplitMix64::new(7);
        let (n_ref, n_mem, d) = (200, 40, 16);
        let mut x = Vec::new();
        for _ in 0..n_ref {
            x.extend((0..d).map(|_| (rng.next_f64() * 0.5) as f32));
        }
        for i in 0..n_mem {
            let mut row: Vec<f32> = x[i * d..(i + 1) * d].to_vec();
            row.iter_mut()
                .for_each(|v| *v += (rng.normal() * 0.02) as f32);
            row[15] = 1.0;
            x.extend(row);
        }
        let m = MatrixRef::new(&x, n_ref + n_mem, d).unwrap();
        let view = View::new(m, 1);
        let members: Vec<usize> = (n_ref..n_ref + n_mem).collect();
        let reference: Vec<usize> = (0..n_ref).collect();
        let t = trigger_map(m, &view, &members, &reference).unwrap();
        let hottest = (0..d)
            .max_by(|&a, &b| t.difference[a].abs().total_cmp(&t.difference[b].abs()))
            .unwrap();
        assert_eq!(hottest, 15);
        assert!(t.difference[15] > 0.5, "{:?}", t.difference);
        assert!(t.difference[..15].iter().all(|v| v.abs() < 0.2));
        assert_eq!(t.members, n_mem);
        assert_eq!(
            distinguishing_features(&t.difference, &feature_spread(m), 1),
            vec![15]
        );
        assert!(trigger_map(m, &view, &members, &[]).is_none());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
