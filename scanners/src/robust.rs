//! Robust location and covariance of a small-dimensional point cloud by the
//! Minimum Covariance Determinant (Rousseeuw & Van Driessen 1999), with
//! deterministic starts (after Hubert, Rousseeuw & Verdonck 2012): the mean
//! and covariance of the `keep` share of rows whose covariance has the
//! smallest determinant, found by concentration steps, made consistent at the
//! normal model and reweighted.

use crate::gemm::a_bt;
use crate::linalg::{cholesky, forward_substitute};
use crate::stats::{chi_square_cdf, chi_square_quantile, median, normal_quantile};

/// A robust fit: mean, covariance and the covariance's Cholesky factor.
#[derive(Debug, Clone)]
pub(crate) struct RobustFit {
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
    pub chol: Vec<f64>,
    /// `L⁻¹`, lower triangular.
    inverse: Vec<f64>,
}

/// `L⁻¹` of a lower-triangular `L` (`k × k`, row-major).
fn lower_inverse(l: &[f64], k: usize) -> Vec<f64> {
    let mut inv = vec![0.0; k * k];
    let mut e = vec![0.0; k];
    for c in 0..k {
        e.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i == c) as u8 as f64);
        forward_substitute(l, k, &mut e);
        for r in 0..k {
            inv[r * k + c] = e[r];
        }
    }
    inv
}

impl RobustFit {
    /// Every row of `y` (`n × k`) whitened: `(y − mean) L⁻ᵀ`, by one
    /// matrix product.
    pub fn whiten_all(&self, y: &[f64]) -> Vec<f64> {
        let k = self.mean.len();
        let n = y.len() / k.max(1);
        let mut centred = y.to_vec();
        for row in centred.chunks_exact_mut(k) {
            row.iter_mut().zip(&self.mean).for_each(|(v, m)| *v -= m);
        }
        let mut z = vec![0.0; n * k];
        a_bt(&centred, n, k, &self.inverse, k, &mut z);
        z
    }

    /// Squared Mahalanobis distance of every row of `y` (`n × k`).
    pub fn distances(&self, y: &[f64]) -> Vec<f64> {
        let k = self.mean.len();
        self.whiten_all(y)
            .chunks(k)
            .map(|r| r.iter().map(|v| v * v).sum())
            .collect()
    }
}

/// Mean and covariance of the chosen rows of `y` (`n × k`), with a tiny ridge
/// so that a degenerate subset still factors.
fn fit(y: &[f64], k: usize, rows: &[usize]) -> Option<RobustFit> {
    let h = rows.len().max(1) as f64;
    let mut mean = vec![0.0; k];
    for &r in rows {
        mean.iter_mut()
            .zip(&y[r * k..(r + 1) * k])
            .for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= h);
    let mut centred_t = vec![0.0; k * rows.len()];
    for (j, column) in centred_t.chunks_exact_mut(rows.len().max(1)).enumerate() {
        for (c, &r) in column.iter_mut().zip(rows) {
            *c = y[r * k + j] - mean[j];
        }
    }
    let mut cov = vec![0.0; k * k];
    a_bt(&centred_t, k, rows.len(), &centred_t, k, &mut cov);
    let trace: f64 = (0..k).map(|i| cov[i * k + i]).sum::<f64>() / h;
    for i in 0..k {
        for j in 0..=i {
            let v = 0.5 * (cov[i * k + j] + cov[j * k + i]) / h;
            cov[i * k + j] = v;
            cov[j * k + i] = v;
        }
        cov[i * k + i] += 1e-9 * trace.max(1e-300) / k as f64;
    }
    let chol = cholesky(&cov, k)?;
    let inverse = lower_inverse(&chol, k);
    Some(RobustFit {
        mean,
        cov,
        chol,
        inverse,
    })
}

/// Rows of the `h` smallest distances, ties to the lower index, sorted.
fn smallest(d: &[f64], h: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..d.len()).collect();
    if h < order.len() {
        order.select_nth_unstable_by(h, |&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)));
        order.truncate(h);
    }
    order.sort_unstable();
    order
}

/// Log-determinant from a Cholesky factor.
fn log_det(f: &RobustFit) -> f64 {
    let k = f.mean.len();
    2.0 * (0..k).map(|i| f.chol[i * k + i].ln()).sum::<f64>()
}

/// Multiplies the covariance by `c` (and its factor by `√c`).
fn scale(mut f: RobustFit, c: f64) -> RobustFit {
    f.cov.iter_mut().for_each(|v| *v *= c);
    let s = c.sqrt();
    f.chol.iter_mut().for_each(|v| *v *= s);
    f.inverse.iter_mut().for_each(|v| *v /= s);
    f
}

/// Robust mean and covariance of the `n` rows of `y` (`n × k`, row-major),
/// fitted on the `keep` share of rows (`0.5 ≤ keep < 1`). `None` when the
/// data are degenerate (fewer rows than `k + 2`, or no spread).
pub(crate) fn mcd(y: &[f64], n: usize, k: usize, keep: f64) -> Option<RobustFit> {
    if n < k + 2 || k == 0 {
        return None;
    }
    let h = ((keep * n as f64).ceil() as usize).clamp(k + 1, n);
    let all: Vec<usize> = (0..n).collect();
    // Start 1: the classical fit. Start 2: coordinate-wise medians and MADs.
    let classical = fit(y, k, &all)?;
    let mut starts = vec![smallest(&classical.distances(y), h)];
    let med: Vec<f64> = (0..k)
        .map(|j| median(&(0..n).map(|i| y[i * k + j]).collect::<Vec<_>>()))
        .collect();
    let mad: Vec<f64> = (0..k)
        .map(|j| {
            let dev: Vec<f64> = (0..n).map(|i| (y[i * k + j] - med[j]).abs()).collect();
            median(&dev).max(1e-12)
        })
        .collect();
    let coordinate: Vec<f64> = (0..n)
        .map(|i| {
            (0..k)
                .map(|j| ((y[i * k + j] - med[j]) / mad[j]).powi(2))
                .sum()
        })
        .collect();
    starts.push(smallest(&coordinate, h));
    let mut best: Option<(f64, RobustFit, Vec<usize>)> = None;
    for mut subset in starts {
        let mut current = fit(y, k, &subset)?;
        for _ in 0..20 {
            let next = smallest(&current.distances(y), h);
            if next == subset {
                break;
            }
            subset = next;
            current = fit(y, k, &subset)?;
        }
        let ld = log_det(&current);
        if best.as_ref().is_none_or(|(b, _, _)| ld < *b) {
            best = Some((ld, current, subset));
        }
    }
    let (_, raw, _) = best?;
    // Consistency at the normal model: the median distance of all rows
    // should be the median of χ²_k.
    let d = raw.distances(y);
    let target = chi_square_quantile(k as f64, 0.0);
    let mut current = scale(raw, (median(&d) / target).max(1e-12));
    // Reweighting, twice: every row inside the 97.5 % ellipsoid, with the
    // consistency factor of a normal truncated there.
    let cut = chi_square_quantile(k as f64, normal_quantile(0.975));
    let factor = 0.975 / chi_square_cdf(k as f64 + 2.0, cut).max(1e-12);
    for _ in 0..2 {
        let d = current.distances(y);
        let inside: Vec<usize> = (0..n).filter(|&i| d[i] <= cut).collect();
        if inside.len() < k + 2 {
            break;
        }
        match fit(y, k, &inside) {
            Some(f) => current = scale(f, factor),
            None => break,
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn ignores_a_far_minority() {
        // 3-d standard normal with covariance diag(1, 4, 9), 30 % of rows moved far away.
        let mut rng = SplitMix64::new(3);
        let (n, k) = (2000, 3);
        let sd = [1.0, 2.0, 3.0];
        let mut y = Vec::with_capacity(n * k);
        for i in 0..n {
            for (j, s) in sd.iter().enumerate() {
                let shift = if i % 10 < 3 && j == 0 { 25.0 } else { 0.0 };
                y.push(s * rng.normal() + shift);
            }
        }
        let f = mcd(&y, n, k, 0.6).unwrap();
        for j in 0..k {
            assert!(f.mean[j].abs() < 0.2, "mean {j}: {}", f.mean[j]);
            let ratio = f.cov[j * k + j] / (sd[j] * sd[j]);
            assert!((ratio - 1.0).abs() < 0.15, "variance {j}: ratio {ratio}");
        }
        assert!(mcd(&y[..3 * k], 3, k, 0.6).is_none());
    }
}
