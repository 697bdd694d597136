//! A label-agnostic view of the data: every feature centred (and, unless the
//! features share one scale, standardised) over all rows, then projected on
//! the top principal components by a randomized SVD
//! (Halko, Martinsson & Tropp 2011) — without materialising the standardised
//! matrix. Used by the label-consistency scanners, which must not see labels
//! when deciding what is near what.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::gemm::{a_b, at_b};
use crate::knn::Reach;
use crate::linalg::symmetric_eigen;
use crate::matrix::MatrixRef;
use crate::rng::SplitMix64;

/// Whether the features share one scale, judged from the data alone: at
/// least half of the features that vary span at least half of the widest
/// feature's range (max − min over all rows).
///
/// Values of one kind — the pixels of images, whether stored as bytes in
/// 0–255 or floats in [0, 1], probabilities, returns in percent, a set of 0/1
/// indicators — are bounded by the same limits and most features reach them,
/// so their ranges agree (measured: MNIST, Fashion-MNIST and 8×8 digits give
/// a median range equal to the widest; daily returns 1.0; phishing flags
/// 1.0). Tables of mixed measurements (a balance beside an income beside a
/// flag; chemistry in different units) have ranges that differ by orders of
/// magnitude (median/widest 0.000–0.02 on wine, breast cancer, Default,
/// shuttle) and are standardised. The decision depends on the values only,
/// never on the container they came in, and it is unchanged by a common
/// scale factor; planting a trigger only widens ranges towards the common
/// limit.
pub fn shared_scale(x: MatrixRef<'_>) -> bool {
    let (n, d) = (x.rows(), x.cols());
    if n == 0 || d == 0 {
        return false;
    }
    let mut lo = x.row(0).to_vec();
    let mut hi = lo.clone();
    for i in 1..n {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(x.row(i)) {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
    let mut ranges: Vec<f64> = lo
        .iter()
        .zip(&hi)
        .map(|(&l, &h)| h as f64 - l as f64)
        .filter(|&r| r > 0.0)
        .collect();
    if ranges.is_empty() {
        return true;
    }
    ranges.sort_by(f64::total_cmp);
    let widest = ranges[ranges.len() - 1];
    let wide = ranges.iter().filter(|&&r| r >= 0.5 * widest).count();
    2 * wide >= ranges.len()
}

/// Features the scanners that factor a covariance of the inputs read at most
/// (`shared-pattern`'s default `max-features`, the carried-trigger test of
/// `knn-label-disagreement`): wider inputs — colour or large images — are
/// read through a seeded Gaussian projection (`project_rows`).
pub const PROJECTED_FEATURES: usize = 1024;

/// `x` times a seeded `d × m` Gaussian matrix with entries of variance
/// `1/m` (row-major `n × m`): distances and a shared shift are kept up to a
/// small distortion (Johnson–Lindenstrauss), and a linear map keeps a
/// trigger added to rows a shift shared by their projections.
pub(crate) fn project_rows(x: MatrixRef<'_>, m: usize, seed: u64) -> Vec<f32> {
    let (n, d) = (x.rows(), x.cols());
    let mut rng = SplitMix64::derive(seed, 0x9A07);
    let scale = 1.0 / (m as f64).sqrt();
    let r: Vec<f32> = (0..d * m).map(|_| (rng.normal() * scale) as f32).collect();
    let mut out = vec![0f32; n * m];
    let rows_per = 4096;
    out.par_chunks_mut(rows_per * m)
        .enumerate()
        .for_each(|(b, chunk)| {
            let start = b * rows_per;
            let len = chunk.len() / m;
            a_b(
                &x.as_slice()[start * d..(start + len) * d],
                len,
                d,
                &r,
                m,
                chunk,
            );
        });
    out
}

/// What the scanners of one input derive from its label-agnostic rows, computed
/// on first use and shared by them (one per [`ScanInput`](crate::ScanInput)):
/// the rows projected to [`PROJECTED_FEATURES`] columns (`project_rows`, see
/// [`ScanInput::projected`](crate::ScanInput::projected)) and the rows'
/// content keys ([`content_keys`], see
/// [`ScanInput::row_keys`](crate::ScanInput::row_keys)), the neighbour view
/// and its rows' nearest neighbours
/// ([`ScanInput::view_neighbours`](crate::ScanInput::view_neighbours)).
#[derive(Debug, Default)]
pub struct Derived {
    projection: OnceLock<Vec<f32>>,
    keys: OnceLock<Vec<u64>>,
    view: OnceLock<NeighbourView>,
    neighbours: OnceLock<ViewNeighbours>,
}

/// Every row's nearest neighbours in the neighbour view, with the options
/// of the view and of the search.
#[derive(Debug)]
struct ViewNeighbours {
    winsorize: f64,
    dims: usize,
    k: usize,
    reach: Reach,
    nb: Vec<u32>,
}

/// The label-agnostic view neighbours are found in (see
/// [`ScanInput::neighbour_view`](crate::ScanInput::neighbour_view)), with
/// the options it was made with.
#[derive(Debug)]
struct NeighbourView {
    winsorize: f64,
    dims: usize,
    rows: Vec<f32>,
    width: usize,
}

/// The rows `x` clipped at their `winsorize` quantiles (0: not clipped),
/// standardised unless `same_scale`, on their top `dims` principal
/// components ([`standardised_pca`]); and the view's width.
pub(crate) fn neighbour_view(
    x: MatrixRef<'_>,
    same_scale: bool,
    winsorize: f64,
    dims: usize,
    seed: u64,
) -> (Vec<f32>, usize) {
    let bounds = (winsorize > 0.0).then(|| winsor_bounds(x, winsorize));
    standardised_pca(x, bounds.as_deref(), dims, seed, !same_scale)
}

impl Derived {
    /// The neighbour view of `x` with these options: the shared copy when
    /// the first scanner to ask asked for the same options, else `None`.
    pub(crate) fn get_or_view(
        &self,
        x: MatrixRef<'_>,
        same_scale: bool,
        winsorize: f64,
        dims: usize,
        seed: u64,
    ) -> Option<(&[f32], usize)> {
        let v = self.view.get_or_init(|| {
            let (rows, width) = neighbour_view(x, same_scale, winsorize, dims, seed);
            NeighbourView {
                winsorize,
                dims,
                rows,
                width,
            }
        });
        (v.winsorize == winsorize && v.dims == dims).then_some((&v.rows[..], v.width))
    }

    /// The `k` nearest neighbours of the rows of the neighbour view with
    /// these options, searched with `reach` (`search` finds them): the
    /// shared copy when the first scanner to ask asked for the same, else
    /// `None`.
    pub(crate) fn get_or_neighbours(
        &self,
        winsorize: f64,
        dims: usize,
        k: usize,
        reach: Reach,
        search: impl FnOnce() -> Vec<u32>,
    ) -> Option<&[u32]> {
        let v = self.neighbours.get_or_init(|| ViewNeighbours {
            winsorize,
            dims,
            k,
            reach,
            nb: search(),
        });
        (v.winsorize == winsorize && v.dims == dims && v.k == k && v.reach == reach)
            .then_some(&v.nb[..])
    }

    pub(crate) fn get_or_project(&self, x: MatrixRef<'_>, seed: u64) -> &[f32] {
        self.projection
            .get_or_init(|| project_rows(x, PROJECTED_FEATURES, seed))
    }

    pub(crate) fn get_or_key(&self, x: MatrixRef<'_>, labels: &[u32]) -> &[u64] {
        self.keys.get_or_init(|| content_keys(x, labels))
    }
}

/// A 64-bit key of each row's content: its values (their bits) and its
/// label, hashed; the same row has the same key wherever it sits in the data
/// set. Sampling orders rows by these keys
/// ([`SplitMix64::order_by_content`](crate::SplitMix64::order_by_content)),
/// not by their positions, so that a scan's samples, and the statistics and
/// verdicts they give, are the same whatever order the rows arrive in
/// (shards listed in another order, a shuffled export); only rows with the
/// same values and label — interchangeable — keep their positions' order.
pub fn content_keys(x: MatrixRef<'_>, labels: &[u32]) -> Vec<u64> {
    (0..x.rows())
        .into_par_iter()
        .map(|i| {
            let mut h = 0x243F_6A88_85A3_08D3u64 ^ u64::from(labels.get(i).copied().unwrap_or(0));
            for v in x.row(i) {
                h = (h.rotate_left(5) ^ u64::from(v.to_bits())).wrapping_mul(0x517C_C1B7_2722_0A95);
            }
            SplitMix64::new(h).next_u64()
        })
        .collect()
}

/// The one-hot group of every column: runs of adjacent 0/1 columns with
/// exactly one 1 in every row (the indicators of one categorical column, as
/// `poisonscan` and pandas's `get_dummies` write them) share the index of
/// their first column; any other column is its own group.
pub(crate) fn onehot_groups(x: MatrixRef<'_>) -> Vec<usize> {
    let (n, d) = (x.rows(), x.cols());
    let binary: Vec<bool> = (0..d)
        .map(|j| (0..n).all(|i| matches!(x.row(i)[j], 0.0 | 1.0)))
        .collect();
    let mut group: Vec<usize> = (0..d).collect();
    let mut start = 0;
    while start < d {
        if !binary[start] {
            start += 1;
            continue;
        }
        // the longest run from `start` whose columns never overlap, cut
        // back to its longest prefix that covers every row exactly once
        let mut sums = vec![0u8; n];
        let (mut end, mut exact) = (start, None);
        while end < d && binary[end] {
            let mut overlap = false;
            for (i, s) in sums.iter_mut().enumerate() {
                if x.row(i)[end] == 1.0 {
                    overlap |= *s == 1;
                    *s = 1;
                }
            }
            if overlap {
                break;
            }
            end += 1;
            if end - start >= 2 && sums.iter().all(|&s| s == 1) {
                exact = Some(end);
            }
        }
        match exact {
            Some(stop) => {
                for g in &mut group[start..stop] {
                    *g = start;
                }
                start = stop;
            }
            None => start += 1,
        }
    }
    group
}

/// Whether the features are mostly indicators of categorical columns (at
/// least half of the columns that vary belong to a one-hot group of two or
/// more, see [`onehot_groups`]): a table of categories, whose rows share
/// values by nature.
pub(crate) fn mostly_indicators(x: MatrixRef<'_>) -> bool {
    let (n, d) = (x.rows(), x.cols());
    if n == 0 || d == 0 {
        return false;
    }
    let group = onehot_groups(x);
    let mut size = vec![0usize; d];
    for &g in &group {
        size[g] += 1;
    }
    let varying: Vec<usize> = (0..d)
        .filter(|&j| (1..n).any(|i| x.row(i)[j] != x.row(0)[j]))
        .collect();
    let indicators = varying.iter().filter(|&&j| size[group[j]] >= 2).count();
    !varying.is_empty() && 2 * indicators >= varying.len()
}

/// Per-feature bounds `(lo, hi)` to clip to before the view: each
/// feature's `q` and `1 − q` quantiles over the rows — over at most
/// [`BOUNDS_SAMPLE`] evenly spaced rows, so that the cost stays linear in
/// the features on a million rows.
pub fn winsor_bounds(x: MatrixRef<'_>, q: f64) -> Vec<(f32, f32)> {
    let (n, d) = (x.rows(), x.cols());
    let rows: Vec<usize> = if n > BOUNDS_SAMPLE {
        (0..BOUNDS_SAMPLE).map(|i| i * n / BOUNDS_SAMPLE).collect()
    } else {
        (0..n).collect()
    };
    let s = rows.len();
    if s == 0 {
        return vec![(f32::NEG_INFINITY, f32::INFINITY); d];
    }
    let lo_at = ((q * (s - 1) as f64).round() as usize).min(s - 1);
    let hi_at = (((1.0 - q) * (s - 1) as f64).round() as usize).min(s - 1);
    (0..d)
        .into_par_iter()
        .map(|j| {
            let mut col: Vec<f32> = rows.iter().map(|&i| x.row(i)[j]).collect();
            let lo = *col.select_nth_unstable_by(lo_at, |a, b| a.total_cmp(b)).1;
            let hi = *col.select_nth_unstable_by(hi_at, |a, b| a.total_cmp(b)).1;
            (lo, hi)
        })
        .collect()
}

/// Share of a feature's clipping range that the values beyond it keep, on
/// a log scale (see [`winsorized`]). Large enough that the distances
/// between such rows stay above the rounding of the view's `f32` distance
/// products (a hundredth left rows beyond the bounds a rounding error
/// apart, and row order still picked some neighbours).
const TAIL: f32 = 0.05;

/// `v` winsorized to `(lo, hi)` (see [`winsor_bounds`]), with soft tails: a
/// value beyond a bound keeps `TAIL · w · ln(1 + excess / w)` of its excess,
/// `w = hi − lo`. A rare large value (a trigger's) still barely shapes the
/// view — an excess a thousand times the range keeps 0.35 of the range,
/// a million times 0.7 — but rows that differ only beyond the bounds stay
/// apart: a hard clip made them one point (Default's high-balance
/// borrowers, over a tenth of the table, tied in balance, their neighbours
/// then picked by row order, so that shuffling the rows changed the
/// scores). A feature whose bounds meet (`w = 0`: most rows one value, as
/// the pixels where patch triggers sit) is clipped hard.
pub(crate) fn winsorized(v: f32, (lo, hi): (f32, f32)) -> f32 {
    let w = hi - lo;
    if !(w > 0.0 && w.is_finite()) {
        return v.max(lo).min(hi);
    }
    if v > hi {
        hi + TAIL * w * ((v - hi) / w).ln_1p()
    } else if v < lo {
        lo - TAIL * w * ((lo - v) / w).ln_1p()
    } else {
        v
    }
}

/// Most rows [`winsor_bounds`] reads.
const BOUNDS_SAMPLE: usize = 131_072;

/// Rows per chunk of the view's products (clipped into a buffer of this
/// many rows, never a copy of the whole matrix).
const CHUNK: usize = 4096;

/// Rows `r0..r0 + len` of `x`, clipped to `clip` when given (into `buf`).
fn rows_of<'a>(
    x: MatrixRef<'a>,
    clip: Option<&[(f32, f32)]>,
    r0: usize,
    len: usize,
    buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    let d = x.cols();
    let rows = &x.as_slice()[r0 * d..(r0 + len) * d];
    match clip {
        None => rows,
        Some(bounds) => {
            buf.clear();
            buf.extend_from_slice(rows);
            for row in buf.chunks_mut(d.max(1)) {
                for (v, &b) in row.iter_mut().zip(bounds) {
                    *v = winsorized(*v, b);
                }
            }
            buf
        }
    }
}

/// Column means and inverse standard deviations (0 for constant columns;
/// 1 everywhere when `scale` is off), of the clipped values.
pub(crate) fn moments(
    x: MatrixRef<'_>,
    clip: Option<&[(f32, f32)]>,
    scale: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (n, d) = (x.rows(), x.cols());
    let mut sum = vec![0f64; d];
    let mut sq = vec![0f64; d];
    let mut buf = Vec::new();
    for r0 in (0..n).step_by(CHUNK) {
        let len = CHUNK.min(n - r0);
        for row in rows_of(x, clip, r0, len, &mut buf).chunks(d.max(1)) {
            for (j, &v) in row.iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += (v as f64) * (v as f64);
            }
        }
    }
    let nf = n.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / nf).collect();
    let inv: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let var = (s / nf - m * m).max(0.0);
            if !scale {
                1.0
            } else if var > 1e-12 {
                (1.0 / var.sqrt()) as f32
            } else {
                0.0
            }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), inv)
}

/// Orthonormal basis (`n×m'`, row-major) of the columns of `y` (`n×m`), by
/// the eigen-decomposition of `yᵀy`; directions with no weight are dropped.
fn orthonormal(y: &[f32], n: usize, m: usize) -> (Vec<f32>, usize) {
    let mut g = vec![0f32; m * m];
    at_b(y, n, m, y, m, &mut g);
    let g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
    let (vals, vecs) = symmetric_eigen(&g64, m);
    let top = vals[0].max(1e-30);
    let keep: Vec<usize> = (0..m).filter(|&i| vals[i] > top * 1e-10).collect();
    let mk = keep.len();
    let mut t = vec![0f32; m * mk];
    for (c, &i) in keep.iter().enumerate() {
        let s = 1.0 / vals[i].sqrt();
        for r in 0..m {
            t[r * mk + c] = (vecs[i][r] * s) as f32;
        }
    }
    let mut q = vec![0f32; n * mk];
    a_b(y, n, m, &t, mk, &mut q);
    (q, mk)
}

/// Most groups of chunks [`zt`] sums in parallel, and the most memory their
/// partial sums take together.
const ZT_GROUPS: usize = 8;
const ZT_GROUP_BYTES: usize = 64 << 20;

/// `Zᵀ q` for the standardised `Z = (X − 1μᵀ) D`: `D (Xᵀ q − μ (1ᵀ q))`.
/// `Xᵀ q` is summed in `f64` over chunks of rows: in a fixed number of
/// groups of consecutive chunks in parallel, then the groups in order — the
/// same sums whatever the thread count.
fn zt(
    x: MatrixRef<'_>,
    clip: Option<&[(f32, f32)]>,
    mean: &[f32],
    inv: &[f32],
    q: &[f32],
    m: usize,
) -> Vec<f32> {
    let (n, d) = (x.rows(), x.cols());
    let chunks = n.div_ceil(CHUNK);
    let groups = ZT_GROUPS
        .min(chunks)
        .min(ZT_GROUP_BYTES / (d * m * 8).max(1))
        .max(1);
    let per_group = chunks.div_ceil(groups).max(1);
    let partial: Vec<Vec<f64>> = (0..groups)
        .into_par_iter()
        .map(|g| {
            let mut acc = vec![0f64; d * m];
            let mut part = vec![0f32; d * m];
            let mut buf = Vec::new();
            for c in g * per_group..((g + 1) * per_group).min(chunks) {
                let r0 = c * CHUNK;
                let len = CHUNK.min(n - r0);
                let rows = rows_of(x, clip, r0, len, &mut buf);
                at_b(rows, len, d, &q[r0 * m..(r0 + len) * m], m, &mut part);
                acc.iter_mut().zip(&part).for_each(|(a, &p)| *a += p as f64);
            }
            acc
        })
        .collect();
    let mut w: Vec<f32> = (0..d * m)
        .map(|i| partial.iter().map(|p| p[i]).sum::<f64>() as f32)
        .collect();
    let mut colsum = vec![0f64; m];
    for i in 0..n {
        for (s, &v) in colsum.iter_mut().zip(&q[i * m..(i + 1) * m]) {
            *s += v as f64;
        }
    }
    for j in 0..d {
        for l in 0..m {
            w[j * m + l] = inv[j] * (w[j * m + l] - mean[j] * colsum[l] as f32);
        }
    }
    w
}

/// `Z w` for the standardised `Z`: `X (D w) − 1 (μᵀ D w)`, by chunks of
/// rows in parallel (each writes its own rows).
fn z_times(
    x: MatrixRef<'_>,
    clip: Option<&[(f32, f32)]>,
    mean: &[f32],
    inv: &[f32],
    w: &[f32],
    m: usize,
) -> Vec<f32> {
    let (n, d) = (x.rows(), x.cols());
    let mut dw = w.to_vec();
    for j in 0..d {
        for l in 0..m {
            dw[j * m + l] *= inv[j];
        }
    }
    let mut shift = vec![0f64; m];
    for j in 0..d {
        for l in 0..m {
            shift[l] += (mean[j] * dw[j * m + l]) as f64;
        }
    }
    let mut y = vec![0f32; n * m];
    if m == 0 {
        return y;
    }
    y.par_chunks_mut(CHUNK * m)
        .enumerate()
        .for_each(|(c, out)| {
            let len = out.len() / m;
            let mut buf = Vec::new();
            let rows = rows_of(x, clip, c * CHUNK, len, &mut buf);
            a_b(rows, len, d, &dw, m, out);
            for row in out.chunks_mut(m) {
                for (v, s) in row.iter_mut().zip(&shift) {
                    *v -= *s as f32;
                }
            }
        });
    y
}

/// The centred rows — standardised too when `scale` is on — projected on
/// their top `dims` principal components (principal-component scores, not
/// whitened). Returns the `n × dims'` matrix and `dims'` (`min(dims, d)`; the
/// centred features themselves when `d ≤ dims`).
///
/// Turn `scale` off for features that share one scale, such as pixels:
/// standardising would blow up nearly constant pixels — exactly where a
/// patch trigger sits — until the trigger dominates the view.
///
/// With `clip`, every feature is first clipped to its `(lo, hi)` (see
/// [`winsor_bounds`]), chunk by chunk, without a clipped copy of `x`.
///
/// Beyond 200,000 rows the centring, scale and components are fitted on
/// 65,536 evenly spaced rows and every row is projected on them in one pass.
pub fn standardised_pca(
    x: MatrixRef<'_>,
    clip: Option<&[(f32, f32)]>,
    dims: usize,
    seed: u64,
    scale: bool,
) -> (Vec<f32>, usize) {
    pca_fitted_above(x, clip, dims, seed, scale, FIT_ABOVE)
}

/// [`standardised_pca`], fitted on a sample beyond `fit_above` rows.
fn pca_fitted_above(
    x: MatrixRef<'_>,
    clip: Option<&[(f32, f32)]>,
    dims: usize,
    seed: u64,
    scale: bool,
    fit_above: usize,
) -> (Vec<f32>, usize) {
    let (n, d) = (x.rows(), x.cols());
    if n > fit_above && d > dims {
        // centring, scale and directions from evenly spaced rows, then one
        // pass over all of them
        let rows = FIT_SAMPLE.min(n);
        let mut sub = Vec::with_capacity(rows * d);
        for i in 0..rows {
            sub.extend_from_slice(x.row(i * n / rows));
        }
        let sub = MatrixRef::new(&sub, rows, d).expect("the sample's shape");
        let (mean, inv) = moments(sub, clip, scale);
        let fit = top_directions(sub, clip, &mean, &inv, dims, seed);
        // V = Bᵀ U S⁻¹: the right singular vectors, d × k
        let (k, mq) = (fit.k, fit.mq);
        let mut v = vec![0f32; d * k];
        for c in 0..k {
            let s = fit.vals[c].max(0.0).sqrt();
            if s <= 0.0 {
                continue;
            }
            for j in 0..d {
                let dot: f64 = (0..mq)
                    .map(|r| fit.bt[j * mq + r] as f64 * fit.vecs[c][r])
                    .sum();
                v[j * k + c] = (dot / s) as f32;
            }
        }
        return (z_times(x, clip, &mean, &inv, &v, k), k);
    }
    let (mean, inv) = moments(x, clip, scale);
    if d <= dims {
        let mut z = Vec::with_capacity(n * d);
        let mut buf = Vec::new();
        for r0 in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - r0);
            let rows = rows_of(x, clip, r0, len, &mut buf);
            z.extend(
                rows.iter()
                    .zip(mean.iter().zip(&inv).cycle())
                    .map(|(&v, (&m, &s))| (v - m) * s),
            );
        }
        return (z, d);
    }
    let fit = top_directions(x, clip, &mean, &inv, dims, seed);
    let (k, mq) = (fit.k, fit.mq);
    // scores = Q U S, with S = sqrt of the eigenvalues of B Bᵀ
    let mut us = vec![0f32; mq * k];
    for c in 0..k {
        let s = fit.vals[c].max(0.0).sqrt();
        for r in 0..mq {
            us[r * k + c] = (fit.vecs[c][r] * s) as f32;
        }
    }
    let mut p = vec![0f32; n * k];
    a_b(&fit.q, n, mq, &us, k, &mut p);
    (p, k)
}

/// Rows above which [`standardised_pca`] fits the view on [`FIT_SAMPLE`]
/// evenly spaced rows and applies it to all: one pass over a million rows
/// instead of seven (moments, and the randomized range finder's products).
/// At this size the sample's top components are the data's.
const FIT_ABOVE: usize = 200_000;

/// Rows the view is fitted on beyond [`FIT_ABOVE`].
const FIT_SAMPLE: usize = 65_536;

/// A randomized SVD's top directions of the standardised `Z`: `Q` (`n × mq`,
/// an orthonormal basis of its range), `Bᵀ = Zᵀ Q` (`d × mq`), and the
/// eigen-decomposition of `B Bᵀ` (descending), of which `k` are kept.
struct Directions {
    q: Vec<f32>,
    mq: usize,
    bt: Vec<f32>,
    vals: Vec<f64>,
    vecs: Vec<Vec<f64>>,
    k: usize,
}

fn top_directions(
    x: MatrixRef<'_>,
    clip: Option<&[(f32, f32)]>,
    mean: &[f32],
    inv: &[f32],
    dims: usize,
    seed: u64,
) -> Directions {
    let (n, d) = (x.rows(), x.cols());
    let m = (dims + 10).min(d);
    let mut rng = SplitMix64::derive(seed, 0x9CA);
    let omega: Vec<f32> = (0..d * m).map(|_| rng.normal() as f32).collect();
    let mut y = z_times(x, clip, mean, inv, &omega, m);
    // Each step frees what it no longer needs first: at most two `n × m`
    // matrices are alive at a time.
    for _ in 0..2 {
        let (q, mq) = orthonormal(&y, n, m);
        drop(y);
        let w = zt(x, clip, mean, inv, &q, mq);
        drop(q);
        y = z_times(x, clip, mean, inv, &w, mq);
        if mq < m {
            y.resize(n * m, 0.0); // keep the shape; the extra columns are zero
        }
    }
    let (q, mq) = orthonormal(&y, n, m);
    drop(y);
    let bt = zt(x, clip, mean, inv, &q, mq); // Bᵀ, d × mq
    let mut bbt = vec![0f32; mq * mq];
    at_b(&bt, d, mq, &bt, mq, &mut bbt);
    let (vals, vecs) = symmetric_eigen(&bbt.iter().map(|&v| v as f64).collect::<Vec<_>>(), mq);
    Directions {
        q,
        mq,
        bt,
        vals,
        vecs,
        k: dims.min(mq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_scale_follows_the_values_not_their_units() {
        let mut rng = SplitMix64::new(3);
        let (n, d) = (300, 49);
        // Images: blank borders, strokes reaching the top value.
        let bytes: Vec<f32> = (0..n * d)
            .map(|i| {
                let j = i % d;
                if j < 7 || rng.next_f64() < 0.5 {
                    0.0
                } else {
                    (rng.next_f64() * 255.0).round() as f32
                }
            })
            .collect();
        let x = MatrixRef::new(&bytes, n, d).unwrap();
        assert!(shared_scale(x));
        // The same pixels in [0, 1] decide the same.
        let unit: Vec<f32> = bytes.iter().map(|v| v / 255.0).collect();
        assert!(shared_scale(MatrixRef::new(&unit, n, d).unwrap()));
        // Mixed measurements: each column its own unit.
        let mixed: Vec<f32> = (0..n * 4)
            .map(|i| (rng.normal() * [1.0, 1e3, 1e5, 0.01][i % 4]) as f32)
            .collect();
        assert!(!shared_scale(MatrixRef::new(&mixed, n, 4).unwrap()));
        // One wide column among many narrow ones standardises.
        let one_wide: Vec<f32> = (0..n * 5)
            .map(|i| (rng.normal() * if i % 5 == 0 { 100.0 } else { 1.0 }) as f32)
            .collect();
        assert!(!shared_scale(MatrixRef::new(&one_wide, n, 5).unwrap()));
    }

    #[test]
    fn winsorizing_keeps_the_order_beyond_the_bounds_and_little_of_the_excess() {
        let b = (0.0f32, 2.0f32);
        assert_eq!(winsorized(1.5, b), 1.5);
        let (a, c) = (winsorized(3.0, b), winsorized(5.0, b));
        assert!(2.0 < a && a < c && c < 2.0 + 0.1, "{a} {c}");
        assert!(winsorized(-1e6, b) > -1.5);
        assert!(winsorized(-1.0, b) < winsorized(-0.5, b));
        // bounds that meet clip hard: a rare trigger value is gone
        assert_eq!(winsorized(255.0, (0.0, 0.0)), 0.0);
        assert_eq!(winsorized(3.0, (f32::NEG_INFINITY, f32::INFINITY)), 3.0);
    }

    #[test]
    fn clipping_on_the_fly_is_the_view_of_the_clipped_copy() {
        // more rows than a chunk; a rare large value in two features
        let mut rng = SplitMix64::new(12);
        let (n, d) = (2 * CHUNK + 77, 12);
        let data: Vec<f32> = (0..n * d)
            .map(|i| {
                let v = rng.normal() * (1.0 + (i % d) as f64);
                (if i % 97 == 3 { v + 50.0 } else { v }) as f32
            })
            .collect();
        let x = MatrixRef::new(&data, n, d).unwrap();
        let bounds = winsor_bounds(x, 0.05);
        let copy: Vec<f32> = data
            .iter()
            .zip(bounds.iter().cycle())
            .map(|(&v, &b)| winsorized(v, b))
            .collect();
        let clipped = MatrixRef::new(&copy, n, d).unwrap();
        for scale in [false, true] {
            let (a, k) = standardised_pca(x, Some(&bounds), 4, 3, scale);
            let (b, kb) = standardised_pca(clipped, None, 4, 3, scale);
            assert_eq!(k, kb);
            let top = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(worst < 1e-3 * top, "{worst} of {top}");
        }
    }

    #[test]
    fn projection_keeps_the_dominant_structure() {
        // Two clusters far apart along a direction spread over 40 features,
        // plus noise: the first component separates them.
        let mut rng = SplitMix64::new(8);
        let (n, d) = (400, 40);
        let mut data = Vec::with_capacity(n * d);
        for i in 0..n {
            let c = if i % 2 == 0 { 3.0 } else { -3.0 };
            for _ in 0..d {
                data.push((c + rng.normal()) as f32);
            }
        }
        let x = MatrixRef::new(&data, n, d).unwrap();
        let (p, k) = standardised_pca(x, None, 5, 1, true);
        assert_eq!(k, 5);
        let sep = (0..n).filter(|&i| (p[i * k] > 0.0) == (i % 2 == 0)).count();
        assert!(
            sep == n || sep == 0,
            "first component separates the clusters: {sep}"
        );
        // The first component carries almost all the standardised variance.
        let var0: f32 = (0..n).map(|i| p[i * k] * p[i * k]).sum::<f32>() / n as f32;
        assert!(var0 > 0.85 * d as f32, "{var0}");
    }

    #[test]
    fn a_view_fitted_on_a_sample_scores_rows_as_the_full_fit() {
        // Three directions of decreasing spread in 40 features, plus noise,
        // 100,000 rows: fitted on 65,536 evenly spaced rows, each component's
        // scores follow the full fit's (up to sign).
        let mut rng = SplitMix64::new(11);
        let (n, d, dims) = (100_000, 40, 3);
        let dirs: Vec<f64> = (0..3 * d).map(|_| rng.normal()).collect();
        let mut data = Vec::with_capacity(n * d);
        for _ in 0..n {
            let z = [6.0 * rng.normal(), 4.0 * rng.normal(), 2.5 * rng.normal()];
            for j in 0..d {
                let v: f64 = (0..3).map(|c| z[c] * dirs[c * d + j]).sum();
                data.push((v + rng.normal()) as f32);
            }
        }
        let x = MatrixRef::new(&data, n, d).unwrap();
        let (full, k) = pca_fitted_above(x, None, dims, 1, true, usize::MAX);
        let (fitted, k2) = pca_fitted_above(x, None, dims, 1, true, 1000);
        assert_eq!((k, k2), (3, 3));
        for c in 0..k {
            let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
            for i in 0..n {
                let (a, b) = (full[i * k + c] as f64, fitted[i * k + c] as f64);
                ab += a * b;
                aa += a * a;
                bb += b * b;
            }
            let r = ab / (aa * bb).sqrt();
            assert!(r.abs() > 0.999, "component {c}: correlation {r}");
            // the same scale, not only the same direction
            assert!((aa / bb - 1.0).abs() < 0.02, "component {c}: {aa} vs {bb}");
        }
    }

    #[test]
    fn the_projection_is_computed_once_and_shared_by_the_scanners_of_an_input() {
        let mut rng = SplitMix64::new(5);
        let (n, d) = (40, 1500);
        let x: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let labels = vec![0u32; n];
        let m = MatrixRef::new(&x, n, d).unwrap();
        let derived = Derived::default();
        let input = crate::ScanInput {
            seed: 9,
            derived: Some(&derived),
            ..crate::ScanInput::new(m, &labels, 1)
        };
        let a = input.projected(PROJECTED_FEATURES);
        let b = input.projected(PROJECTED_FEATURES);
        // one copy, borrowed by both, equal to a projection computed alone
        assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()));
        assert_eq!(&*a, &project_rows(m, PROJECTED_FEATURES, 9)[..]);
        // another width, or no shared copy: computed for the caller
        let own = input.projected(64);
        assert!(matches!(own, std::borrow::Cow::Owned(_)) && own.len() == n * 64);
        let alone = crate::ScanInput {
            seed: 9,
            ..crate::ScanInput::new(m, &labels, 1)
        };
        assert_eq!(alone.projected(PROJECTED_FEATURES), a);
    }
}
