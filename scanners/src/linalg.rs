//! Dense linear algebra for the scanners: class means, covariance, and the
//! leading eigenvectors of a class's covariance (its top right singular
//! vectors once centred).
//!
//! Deliberately small: subspace iteration with a Rayleigh–Ritz step, and a
//! cyclic Jacobi eigensolver for the small projected problem. All sums are in
//! `f64` and in a fixed order, so results do not depend on threading.

use crate::gemm::{a_bt, at_b};
use crate::matrix::MatrixRef;
use crate::rng::SplitMix64;

/// The leading principal directions of a set of rows.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Mean of the rows.
    pub mean: Vec<f64>,
    /// Unit eigenvectors of the covariance, largest eigenvalue first.
    pub vectors: Vec<Vec<f64>>,
    /// Leading eigenvalues (variances along each vector), largest first;
    /// a few more than there are vectors, for diagnostics such as the gap.
    pub values: Vec<f64>,
    /// Total variance (trace of the covariance).
    pub trace: f64,
}

/// Mean of the given rows.
pub fn mean_of(x: MatrixRef<'_>, rows: &[usize]) -> Vec<f64> {
    let d = x.cols();
    let mut mean = vec![0.0f64; d];
    for &r in rows {
        for (m, &v) in mean.iter_mut().zip(x.row(r)) {
            *m += v as f64;
        }
    }
    let n = rows.len().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// Rows per block of the covariance's products.
const COVARIANCE_BLOCK: usize = 512;

/// Covariance (divided by `n`) of the given rows around `mean`, as a full
/// symmetric `d × d` row-major matrix: blocks of centred rows in `f32`
/// through the matrix product, summed in `f64` (a million 512-wide rows in
/// 5 s where a scalar loop took a minute; the block sums carry `f32`'s
/// relative error, about 1e-6).
pub fn covariance(x: MatrixRef<'_>, rows: &[usize], mean: &[f64]) -> Vec<f64> {
    let d = x.cols();
    let mut c = vec![0.0f64; d * d];
    let mut centred = vec![0f32; COVARIANCE_BLOCK.min(rows.len()) * d];
    let mut block = vec![0f32; d * d];
    for chunk in rows.chunks(COVARIANCE_BLOCK) {
        let len = chunk.len();
        for (row, &r) in centred.chunks_mut(d).zip(chunk) {
            for ((c, &v), &m) in row.iter_mut().zip(x.row(r)).zip(mean) {
                *c = (v as f64 - m) as f32;
            }
        }
        let part = &centred[..len * d];
        at_b(part, len, d, part, d, &mut block);
        c.iter_mut().zip(&block).for_each(|(c, &b)| *c += b as f64);
    }
    let n = rows.len().max(1) as f64;
    for i in 0..d {
        for j in i..d {
            // the product is symmetric up to rounding; keep it exactly so
            let v = 0.5 * (c[i * d + j] + c[j * d + i]) / n;
            c[i * d + j] = v;
            c[j * d + i] = v;
        }
    }
    c
}

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations.
/// Returns eigenvalues (descending) and eigenvectors as rows.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let scale: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum::<f64>() + off;
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]).then(i.cmp(&j)));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (values, vectors)
}

/// Lower Cholesky factor `L` (`n × n`, row-major) of a symmetric positive
/// definite `a`, with `L Lᵀ = a`; `None` when `a` is not positive definite.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|t| l[i * n + t] * l[j * n + t]).sum();
            if i == j {
                let v = a[i * n + i] - s;
                if v.is_nan() || v <= 0.0 {
                    return None;
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `L z = b` in place for a lower-triangular `L` (`n × n`, row-major).
pub fn forward_substitute(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|t| l[i * n + t] * b[t]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// Solves `Lᵀ x = b` in place for lower-triangular `L` (`n × n`, row-major).
pub(crate) fn backward_substitute_transposed(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|t| l[t * n + i] * b[t]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// Orthonormalises the columns of `b` (`d × m`, stored as `m` vectors) in
/// place by modified Gram–Schmidt; a column that collapses is replaced by a
/// fresh random direction.
pub(crate) fn orthonormalise(b: &mut [Vec<f64>], rng: &mut SplitMix64) {
    for j in 0..b.len() {
        for _attempt in 0..3 {
            for i in 0..j {
                let (head, tail) = b.split_at_mut(j);
                let dot: f64 = head[i].iter().zip(&tail[0]).map(|(a, b)| a * b).sum();
                tail[0]
                    .iter_mut()
                    .zip(&head[i])
                    .for_each(|(x, y)| *x -= dot * y);
            }
            let norm = b[j].iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-12 {
                b[j].iter_mut().for_each(|x| *x /= norm);
                break;
            }
            b[j].iter_mut().for_each(|x| *x = rng.normal());
        }
    }
}

/// A covariance to multiply by: the full `d × d` matrix when that is small,
/// else implicitly through the centred rows, `C v = (1/n) Σ (xᵣ−μ)(xᵣ−μ)ᵀv`,
/// which needs no `d × d` memory (wide inputs: photos, 10⁵ columns).
enum Covariance<'a> {
    Dense(Vec<f64>),
    Implicit {
        x: MatrixRef<'a>,
        rows: &'a [usize],
        mean: &'a [f64],
    },
}

/// Widest feature count whose covariance is formed explicitly (2,048²
/// doubles are 32 MiB). Beyond it, or when there are fewer rows than
/// features, the implicit product is cheaper as well as smaller.
const DENSE_COVARIANCE_MAX_D: usize = 2048;

impl Covariance<'_> {
    fn trace(&self, d: usize) -> f64 {
        match self {
            Covariance::Dense(c) => (0..d).map(|i| c[i * d + i]).sum(),
            Covariance::Implicit { x, rows, mean } => {
                let s: f64 = rows
                    .iter()
                    .map(|&r| {
                        x.row(r)
                            .iter()
                            .zip(*mean)
                            .map(|(&v, m)| (v as f64 - m).powi(2))
                            .sum::<f64>()
                    })
                    .sum();
                s / rows.len().max(1) as f64
            }
        }
    }

    /// `C v` for each vector `v`.
    fn times(&self, d: usize, vs: &[Vec<f64>]) -> Vec<Vec<f64>> {
        match self {
            Covariance::Dense(c) => {
                // all the vectors in one product: V C (C symmetric), which
                // runs vectorised where one dot product at a time does not
                let flat: Vec<f64> = vs.iter().flatten().copied().collect();
                let mut w = vec![0.0f64; vs.len() * d];
                a_bt(&flat, vs.len(), d, c, d, &mut w);
                w.chunks(d.max(1)).map(<[f64]>::to_vec).collect()
            }
            Covariance::Implicit { x, rows, mean } => {
                let mut out = vec![vec![0.0f64; d]; vs.len()];
                let mut centred = vec![0.0f64; d];
                for &r in rows.iter() {
                    for ((c, &v), m) in centred.iter_mut().zip(x.row(r)).zip(*mean) {
                        *c = v as f64 - m;
                    }
                    for (o, v) in out.iter_mut().zip(vs) {
                        let dot: f64 = centred.iter().zip(v).map(|(a, b)| a * b).sum();
                        o.iter_mut().zip(&centred).for_each(|(o, c)| *o += dot * c);
                    }
                }
                let n = rows.len().max(1) as f64;
                out.iter_mut()
                    .for_each(|o| o.iter_mut().for_each(|v| *v /= n));
                out
            }
        }
    }
}

/// The `k` leading principal directions of the given rows.
///
/// Subspace iteration on the covariance with `k + 4` vectors, stopping when
/// the leading `k` Ritz values change by less than `tol` (relative) or after
/// `max_iter` rounds. Forms the `d × d` covariance only for narrow inputs
/// (see [`Covariance`]); then each round's power step multiplies by `C⁴`
/// (scaled; two products, `d³` each, once), which separates the leading
/// directions four times as fast per round — the Rayleigh–Ritz step and
/// its values stay those of `C` (a million 512-wide rows in 100 classes of
/// near-equal leading eigenvalues: the 300 rounds took 4.5 s of 9).
pub fn principal_directions(
    x: MatrixRef<'_>,
    rows: &[usize],
    k: usize,
    max_iter: usize,
    tol: f64,
    rng: &mut SplitMix64,
) -> Principal {
    let d = x.cols();
    let mean = mean_of(x, rows);
    let c = if d <= DENSE_COVARIANCE_MAX_D && d <= rows.len() {
        Covariance::Dense(covariance(x, rows, &mean))
    } else {
        Covariance::Implicit {
            x,
            rows,
            mean: &mean,
        }
    };
    let trace = c.trace(d);
    let power = match &c {
        Covariance::Dense(c) => {
            // scaled by its largest variance first: the leading eigenvalue
            // of (C / s)⁴ is then from 1 to d⁴, whatever the data's units
            let s = (0..d).map(|i| c[i * d + i]).fold(0.0f64, f64::max);
            let scaled: Vec<f64> = if s > 0.0 {
                c.iter().map(|v| v / s).collect()
            } else {
                c.clone()
            };
            let c = &scaled;
            let mut c2 = vec![0.0f64; d * d];
            a_bt(c, d, d, c, d, &mut c2); // C Cᵀ = C²
            let mut c4 = vec![0.0f64; d * d];
            a_bt(&c2, d, d, &c2, d, &mut c4);
            // symmetric up to rounding: keep it exactly so
            for i in 0..d {
                for j in i + 1..d {
                    let v = 0.5 * (c4[i * d + j] + c4[j * d + i]);
                    (c4[i * d + j], c4[j * d + i]) = (v, v);
                }
            }
            Some(Covariance::Dense(c4))
        }
        Covariance::Implicit { .. } => None,
    };
    let power = power.as_ref().unwrap_or(&c);
    let m = (k + 4).min(d);
    let mut basis: Vec<Vec<f64>> = (0..m)
        .map(|_| (0..d).map(|_| rng.normal()).collect())
        .collect();
    orthonormalise(&mut basis, rng);
    let mut previous = vec![f64::INFINITY; k.min(m)];
    let mut values = Vec::new();
    let mut vectors = Vec::new();
    for _ in 0..max_iter.max(1) {
        // W = C⁴ B (C B for the implicit covariance)
        let mut w = power.times(d, &basis);
        orthonormalise(&mut w, rng);
        // Rayleigh–Ritz: H = Wᵀ C W, rotate W by H's eigenvectors.
        let cw = c.times(d, &w);
        let mut h = vec![0.0f64; m * m];
        for i in 0..m {
            for j in 0..m {
                h[i * m + j] = w[i].iter().zip(&cw[j]).map(|(a, b)| a * b).sum();
            }
        }
        let (vals, vecs) = symmetric_eigen(&h, m);
        basis = vecs
            .iter()
            .map(|coef| {
                let mut v = vec![0.0f64; d];
                for (c, wi) in coef.iter().zip(&w) {
                    v.iter_mut().zip(wi).for_each(|(v, w)| *v += c * w);
                }
                v
            })
            .collect();
        values = vals;
        vectors = basis.clone();
        let converged = previous
            .iter()
            .zip(&values)
            .all(|(p, v)| (p - v).abs() <= tol * v.abs().max(1e-300));
        if converged {
            break;
        }
        previous = values[..k.min(m)].to_vec();
    }
    drop(c);
    vectors.truncate(k.min(m));
    // A fixed sign (largest-magnitude entry positive) makes projections
    // reproducible across seeds.
    for v in &mut vectors {
        let (_, big) = v.iter().enumerate().fold((0, 0.0f64), |acc, (i, x)| {
            if x.abs() > acc.1.abs() {
                (i, *x)
            } else {
                acc
            }
        });
        if big < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
    }
    Principal {
        mean,
        vectors,
        values,
        trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_inputs_use_the_implicit_covariance_and_agree() {
        // Fewer rows than features: no d × d matrix, same leading spectrum
        // as the full covariance's Jacobi eigenvalues.
        let mut rng = SplitMix64::new(4);
        let (n, d) = (20, 30);
        let data: Vec<f32> = (0..n * d)
            .map(|i| (rng.normal() * (1.0 + (i % d) as f64 / 10.0)) as f32)
            .collect();
        let x = MatrixRef::new(&data, n, d).unwrap();
        let rows: Vec<usize> = (0..n).collect();
        let p = principal_directions(x, &rows, 3, 500, 1e-12, &mut SplitMix64::new(1));
        let mean = mean_of(x, &rows);
        let c = covariance(x, &rows, &mean);
        let (vals, _) = symmetric_eigen(&c, d);
        for i in 0..3 {
            assert!((p.values[i] - vals[i]).abs() < 1e-5 * vals[0], "{i}");
        }
        // the explicit covariance sums blocks of f32 products
        let trace: f64 = (0..d).map(|i| c[i * d + i]).sum();
        assert!((p.trace - trace).abs() < 1e-6 * trace);
    }

    #[test]
    fn the_blocked_covariance_matches_the_textbook_sum() {
        // more rows than one block, an offset mean, uneven scales
        let mut rng = SplitMix64::new(9);
        let (n, d) = (1300, 7);
        let data: Vec<f32> = (0..n * d)
            .map(|i| (100.0 + rng.normal() * (1.0 + (i % d) as f64)) as f32)
            .collect();
        let x = MatrixRef::new(&data, n, d).unwrap();
        let rows: Vec<usize> = (0..n).filter(|r| r % 3 != 1).collect();
        let mean = mean_of(x, &rows);
        let c = covariance(x, &rows, &mean);
        for i in 0..d {
            for j in 0..d {
                let want = rows
                    .iter()
                    .map(|&r| (x.row(r)[i] as f64 - mean[i]) * (x.row(r)[j] as f64 - mean[j]))
                    .sum::<f64>()
                    / rows.len() as f64;
                let scale = (c[i * d + i] * c[j * d + j]).sqrt();
                assert!((c[i * d + j] - want).abs() < 1e-5 * scale, "{i} {j}");
                assert_eq!(c[i * d + j], c[j * d + i]);
            }
        }
    }

    #[test]
    fn cholesky_solves() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        assert_eq!(l, vec![2.0, 0.0, 1.0, 2f64.sqrt()]);
        let mut b = [2.0, 1.0 + 2f64.sqrt()];
        forward_substitute(&l, 2, &mut b);
        assert!((b[0] - 1.0).abs() < 1e-12 && (b[1] - 1.0).abs() < 1e-12);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn jacobi_matches_known_eigenvalues() {
        // [[2,1],[1,2]] has eigenvalues 3 and 1.
        let (vals, vecs) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
        let v = &vecs[0];
        assert!((v[0].abs() - v[1].abs()).abs() < 1e-12);
    }

    #[test]
    fn finds_the_direction_of_largest_variance() {
        let mut rng = SplitMix64::new(3);
        let n = 2000;
        let d = 6;
        let dir = [0.6, 0.0, 0.8, 0.0, 0.0, 0.0];
        let mut data = Vec::with_capacity(n * d);
        for _ in 0..n {
            let t = 5.0 * rng.normal();
            for &u in &dir {
                data.push((t * u + rng.normal()) as f32);
            }
        }
        let x = MatrixRef::new(&data, n, d).unwrap();
        let rows: Vec<usize> = (0..n).collect();
        let p = principal_directions(x, &rows, 2, 500, 1e-10, &mut SplitMix64::new(1));
        let cos: f64 = p.vectors[0].iter().zip(dir).map(|(a, b)| a * b).sum();
        assert!(cos.abs() > 0.999, "{cos}");
        assert!((p.values[0] - 26.0).abs() < 2.5, "{:?}", p.values);
        assert!((p.values[1] - 1.0).abs() < 0.2, "{:?}", p.values);
    }
}
