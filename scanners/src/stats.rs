//! Small statistics used to calibrate scanner scores: medians, robust scale,
//! normal tail probabilities in log space.

/// Median of `v` (selects in a copy, linear time); `NaN` for an empty slice.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    let m = s.len() / 2;
    let (below, &mut upper, _) = s.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
    if v.len() % 2 == 1 {
        upper
    } else {
        let lower = below
            .iter()
            .copied()
            .max_by(|a, b| a.total_cmp(b))
            .expect("an even, non-empty slice has a lower half");
        0.5 * (lower + upper)
    }
}

/// The `q` quantile of `values` (0 ≤ q ≤ 1): the element at rank
/// `⌊(n − 1) q⌋` in sorted order, the lower of two when it falls between
/// (unlike [`median`], which averages them); 0 for an empty vector.
pub fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    quantile_of_sorted(&values, q)
}

/// [`quantile`] of values already sorted ascending.
pub fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

/// Robust location and scale: the median and `1.4826 × MAD`, which equals the
/// standard deviation for normal data. Falls back to the standard deviation
/// when more than half of the values are equal (MAD = 0); the scale is 0
/// only when every value is the same.
pub fn robust_location_scale(v: &[f64]) -> (f64, f64) {
    let med = median(v);
    let dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    let mad = 1.482_602_218_505_602 * median(&dev);
    if mad > 0.0 {
        return (med, mad);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    (med, sd)
}

/// Other classes from which a class statistic's null spread is estimated
/// (see [`class_null`]); with fewer, it is the least spread alone.
pub const CALIBRATED_CLASSES: usize = 6;

/// Centre and spread of the null of a class statistic, from the same
/// statistic of the data set's other classes (most of them clean): their
/// median and `1.4826 × MAD`, never below `least`. With fewer than
/// [`CALIBRATED_CLASSES`] of them a MAD says little, and the spread is
/// `least` (or their MAD, when larger) widened by the uncertainty of a
/// median of `m` values, `× √(1 + π / 2m)` (the predictive spread of a new
/// class): a data set of two classes still has a null, from its other
/// class. `None` without other classes.
pub fn class_null(others: &[f64], least: f64) -> Option<(f64, f64)> {
    if others.is_empty() {
        return None;
    }
    let (centre, spread) = robust_location_scale(others);
    let spread = spread.max(least);
    let m = others.len();
    if m >= CALIBRATED_CLASSES {
        Some((centre, spread))
    } else {
        Some((
            centre,
            spread * (1.0 + std::f64::consts::FRAC_PI_2 / m as f64).sqrt(),
        ))
    }
}

/// [`class_null`] of a one-sided test whose statistic some clean classes
/// raise by nature: the spread is also at least the others' upper
/// semi-interquartile range, `(Q₇₅ − median) / 0.6745` (the normal's).
/// Where a quarter or more of the other classes lie well above the median,
/// a class as high is no stranger than they are; where fewer do (one or
/// two planted classes of ten), the quartile stays among the clean classes
/// and the null is [`class_null`]'s.
pub fn upper_class_null(others: &[f64], least: f64) -> Option<(f64, f64)> {
    if others.is_empty() {
        return None;
    }
    let upper = (quantile(others.to_vec(), 0.75) - median(others)) / 0.674_489_750_196_081_7;
    class_null(others, least.max(upper))
}

/// `ln(erfc(x))` for `x ≥ 0`, accurate to a relative 1.2e-7 in `erfc`, and
/// finite far beyond where `erfc` itself underflows (Chebyshev fit of
/// Numerical Recipes' `erfcc`).
pub fn ln_erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let v = t.ln() + poly;
    if x >= 0.0 {
        v
    } else {
        (2.0 - v.exp()).ln()
    }
}

/// Natural log of the two-sided normal tail probability `P(|Z| ≥ |z|)`.
pub fn ln_two_sided_normal_p(z: f64) -> f64 {
    ln_erfc(z.abs() / std::f64::consts::SQRT_2).min(0.0)
}

/// Natural log of the one-sided upper normal tail probability `P(Z ≥ z)`.
pub fn ln_upper_normal_p(z: f64) -> f64 {
    (ln_erfc(z / std::f64::consts::SQRT_2) - std::f64::consts::LN_2).min(0.0)
}

/// Wilson–Hilferty normal score of `x` under a scaled chi-square with mean 1
/// and `nu` degrees of freedom (`x·nu ~ χ²_nu`): the cube root of a
/// chi-square is nearly normal, so `P(X ≥ x) ≈ P(Z ≥ z)`.
pub fn wilson_hilferty(x: f64, nu: f64) -> f64 {
    let v = 2.0 / (9.0 * nu);
    (x.max(0.0).cbrt() - (1.0 - v)) / v.sqrt()
}

/// The standard normal quantile `Φ⁻¹(q)` for `0 < q < 1` (Acklam's rational
/// approximation, relative error below 1.2e-9).
pub fn normal_quantile(q: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let q = q.clamp(1e-300, 1.0 - 1e-16);
    let tail = |t: f64| {
        let r = (-2.0 * t.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    };
    if q < 0.02425 {
        tail(q)
    } else if q > 1.0 - 0.02425 {
        -tail(1.0 - q)
    } else {
        let t = q - 0.5;
        let r = t * t;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * t
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// `P(χ²_k ≤ x)` by Wilson–Hilferty.
pub fn chi_square_cdf(k: f64, x: f64) -> f64 {
    1.0 - ln_upper_normal_p(wilson_hilferty(x / k, k)).exp()
}

/// The `q`-quantile of χ²_k by Wilson–Hilferty from the normal quantile `z_q`.
pub fn chi_square_quantile(k: f64, z_q: f64) -> f64 {
    let v = 2.0 / (9.0 * k);
    k * (1.0 - v + z_q * v.sqrt()).max(0.0).powi(3)
}

/// Class-level test shared by the sub-population scanners: `ln P(X ≥ count)`
/// for `X ~ Binomial(rows, clean_rate)`, the chance that a clean class, which
/// may hold up to `clean_rate` of extreme rows by nature, shows `count`.
pub fn ln_excess_p(count: usize, rows: usize, clean_rate: f64) -> f64 {
    ln_binomial_upper(rows as u64, clean_rate, count as u64)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; relative error < 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `ln P(X = j)` for `X ~ Binomial(n, p)`, `0 < p < 1`.
pub fn ln_binomial_pmf(n: u64, p: f64, j: u64) -> f64 {
    let (n, j) = (n as f64, j as f64);
    ln_gamma(n + 1.0) - ln_gamma(j + 1.0) - ln_gamma(n - j + 1.0)
        + j * p.ln()
        + (n - j) * (1.0 - p).ln()
}

/// `ln(eᵃ + eᵇ)`.
fn ln_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn log_sum_exp(terms: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = terms.collect();
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
}

/// `ln P(X ≥ x)` for `X ~ Binomial(n, p)`.
pub fn ln_binomial_upper(n: u64, p: f64, x: u64) -> f64 {
    if x == 0 {
        return 0.0;
    }
    if x > n {
        return f64::NEG_INFINITY;
    }
    log_sum_exp((x..=n).map(|j| ln_binomial_pmf(n, p, j))).min(0.0)
}

/// `ln P(X ≤ x)` for `X ~ Binomial(n, p)`.
pub fn ln_binomial_lower(n: u64, p: f64, x: u64) -> f64 {
    if x >= n {
        return 0.0;
    }
    log_sum_exp((0..=x).map(|j| ln_binomial_pmf(n, p, j))).min(0.0)
}

/// `ln P(X ≥ x)` for `X` beta-binomial with `n` trials, mean rate `mean`
/// and intra-class correlation `rho` (`0 < rho < 1`): a binomial whose rate
/// varies from group to group as Beta(`α`, `β`), `α = mean·(1 − ρ)/ρ`,
/// `β = (1 − mean)·(1 − ρ)/ρ` — counts of correlated trials, whose variance
/// is the binomial's times `1 + (n − 1)ρ`.
pub fn ln_beta_binomial_upper(n: u64, mean: f64, rho: f64, x: u64) -> f64 {
    if x == 0 {
        return 0.0;
    }
    if x > n {
        return f64::NEG_INFINITY;
    }
    let a = mean * (1.0 - rho) / rho;
    let b = (1.0 - mean) * (1.0 - rho) / rho;
    let ln_beta = |a: f64, b: f64| ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    let nf = n as f64;
    let base = ln_gamma(nf + 1.0) - ln_beta(a, b);
    log_sum_exp((x..=n).map(|j| {
        let j = j as f64;
        base - ln_gamma(j + 1.0) - ln_gamma(nf - j + 1.0) + ln_beta(j + a, nf - j + b)
    }))
    .min(0.0)
}

/// Sixty halvings of `[lo, hi]` towards the point where `above` turns
/// false (`above` true at `lo`'s side, false at `hi`'s: a decreasing
/// statistic against its target); returns the last `(lo, hi)`.
pub(crate) fn bisect(mut lo: f64, mut hi: f64, above: impl Fn(f64) -> bool) -> (f64, f64) {
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if above(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo, hi)
}

/// Largest total of trials for which [`ln_binomial_sum_upper`] convolves
/// exactly; beyond it the Chernoff bound (within a few nats of the exact
/// value at such counts, and never below it).
const EXACT_SUM_TRIALS: u64 = 2048;

/// `ln P(X₁ + … + X_m ≥ x)` for independent `X_j ~ Binomial(n_j, p_j)`
/// (`terms` = `(n_j, p_j)`): exact by convolution for up to
/// [`EXACT_SUM_TRIALS`] trials in all, otherwise the Chernoff bound
/// `min_λ≥0 Σ n_j ln(1 − p_j + p_j e^λ) − λx`, a valid (conservative)
/// p-value.
pub fn ln_binomial_sum_upper(terms: &[(u64, f64)], x: u64) -> f64 {
    let total: u64 = terms.iter().map(|t| t.0).sum();
    if x == 0 {
        return 0.0;
    }
    if x > total {
        return f64::NEG_INFINITY;
    }
    if total <= EXACT_SUM_TRIALS {
        // pmf of the sum, in log space
        let mut pmf = vec![0.0f64];
        for &(n, p) in terms {
            let own: Vec<f64> = (0..=n).map(|j| ln_binomial_pmf(n, p, j)).collect();
            let mut next = vec![f64::NEG_INFINITY; pmf.len() + n as usize];
            for (a, &la) in pmf.iter().enumerate() {
                for (b, &lb) in own.iter().enumerate() {
                    next[a + b] = ln_add(next[a + b], la + lb);
                }
            }
            pmf = next;
        }
        return log_sum_exp(pmf[x as usize..].iter().copied()).min(0.0);
    }
    let mean: f64 = terms.iter().map(|&(n, p)| n as f64 * p).sum();
    if x as f64 <= mean {
        return 0.0;
    }
    let x = x as f64;
    let slope = |l: f64| -> f64 {
        terms
            .iter()
            .map(|&(n, p)| n as f64 * p * l.exp() / (1.0 - p + p * l.exp()))
            .sum::<f64>()
            - x
    };
    let bound = |l: f64| -> f64 {
        terms
            .iter()
            .map(|&(n, p)| n as f64 * (1.0 - p + p * l.exp()).ln())
            .sum::<f64>()
            - l * x
    };
    // the bound is convex in λ: bisection on its slope
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while slope(hi) < 0.0 && hi < 700.0 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if slope(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    bound(hi).min(0.0)
}

/// Largest number of bins [`ln_stratified_excess_upper`] sums its statistic
/// on: the step grows with the observed statistic so that the convolution
/// stays small whatever the counts.
const STRATIFIED_BINS: f64 = 1024.0;

/// `2 × ln` likelihood ratio of `x` successes in `m` trials at the
/// maximum-likelihood rate against rate `p0`, when the rate exceeds `p0`
/// (0 otherwise): the evidence of one stratum that its rate is above `p0`.
fn excess_lr(x: u64, m: u64, p0: f64) -> f64 {
    let (xf, mf) = (x as f64, m as f64);
    if m == 0 || xf <= p0 * mf {
        return 0.0;
    }
    let rate = xf / mf;
    let mut v = xf * (rate / p0).ln();
    if x < m {
        v += (mf - xf) * ((1.0 - rate) / (1.0 - p0)).ln();
    }
    2.0 * v
}

/// `ln` p-value that some strata exceed their null rates: independent `X_s
/// ~ Binomial(m_s, p_s)` (`strata` = `(x_s, m_s, p0_s)`), null `p_s ≤ p0_s`
/// in every stratum, alternative: some strata above it. The statistic is the
/// sum over strata of the likelihood-ratio evidence of an excess, `Σ 2 ln
/// LR_s` (zero for a stratum at or under its `p0_s`), each term rounded down
/// to a grid; its tail is exact, by convolution of the strata's
/// distributions at `p0_s` (the least favourable null: the statistic only
/// grows with `x_s`), and so a valid p-value for any counts. Unlike a test
/// of the pooled rate, an excess confined to a few small strata is not
/// diluted by large ones. A stratum whose null rate is not inside (0, 1)
/// adds nothing.
pub fn ln_stratified_excess_upper(strata: &[(u64, u64, f64)]) -> f64 {
    let strata: Vec<(u64, u64, f64)> = strata
        .iter()
        .copied()
        .filter(|&(_, m, p0)| m > 0 && p0 > 0.0 && p0 < 1.0)
        .collect();
    let evidence: Vec<f64> = strata
        .iter()
        .map(|&(x, m, p0)| excess_lr(x, m, p0))
        .collect();
    let observed: f64 = evidence.iter().sum();
    if observed <= 0.0 {
        return 0.0;
    }
    let step = (observed / STRATIFIED_BINS).max(0.05);
    let bin = |v: f64| (v / step).floor() as usize;
    let target: usize = evidence.iter().map(|&v| bin(v)).sum();
    if target == 0 {
        return 0.0;
    }
    // pmf of the binned statistic, bins at or beyond `target` pooled (in
    // linear space: the strata's terms are probabilities; a tail beyond
    // f64's range is reported at its edge)
    let mut dist = vec![0.0f64; target + 1];
    dist[0] = 1.0;
    for &(_, m, p0) in &strata {
        let mut own: Vec<(usize, f64)> = Vec::new();
        for j in 0..=m {
            let b = bin(excess_lr(j, m, p0)).min(target);
            let p = ln_binomial_pmf(m, p0, j).exp();
            match own.last_mut() {
                Some(last) if last.0 == b => last.1 += p,
                _ => own.push((b, p)),
            }
        }
        if own.len() == 1 {
            continue; // every count of the stratum adds nothing
        }
        let mut next = vec![0.0f64; target + 1];
        for (a, &pa) in dist.iter().enumerate() {
            if pa == 0.0 {
                continue;
            }
            for &(b, pb) in &own {
                next[(a + b).min(target)] += pa * pb;
            }
        }
        dist = next;
    }
    if dist[target] > 0.0 {
        dist[target].ln().min(0.0)
    } else {
        f64::MIN_POSITIVE.ln()
    }
}

/// Fisher's combination of independent tests: from their log p-values,
/// the log p-value of `X = −2 Σ ln p_i` under `χ²(2k)`, exact for the
/// even degrees of freedom: `P = e^{−X/2} Σ_{j<k} (X/2)^j / j!`. `NaN`s are
/// left out; no finite value gives 0 (p = 1).
pub fn ln_fisher(log_ps: &[f64]) -> f64 {
    let lps: Vec<f64> = log_ps.iter().copied().filter(|v| !v.is_nan()).collect();
    if lps.is_empty() {
        return 0.0;
    }
    if lps.contains(&f64::NEG_INFINITY) {
        return f64::NEG_INFINITY;
    }
    let half: f64 = -lps.iter().map(|v| v.min(0.0)).sum::<f64>(); // X / 2
    if half == 0.0 {
        return 0.0;
    }
    let ln_half = half.ln();
    let terms = (0..lps.len()).map(|j| j as f64 * ln_half - ln_gamma(j as f64 + 1.0));
    (log_sum_exp(terms) - half).min(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_binomial_tail_matches_scipy_and_the_binomial_limit() {
        // logsumexp of scipy.stats.betabinom(n, a, b).logpmf(x..=n) (its
        // logsf loses the far tail: −31.07 and −27.6276 for the first two)
        for (n, mean, rho, x, want) in [
            (150, 0.1, 0.05, 147, -43.30007453915847),
            (30, 0.125, 0.025, 28, -27.627893492089882),
            (22, 0.1, 0.078, 12, -5.790937121432653),
            (10, 0.3, 0.2, 4, -0.9827809875751173),
        ] {
            let got = ln_beta_binomial_upper(n, mean, rho, x);
            assert!((got - want).abs() < 1e-6, "{n} {x}: {got} against {want}");
        }
        assert_eq!(ln_beta_binomial_upper(10, 0.3, 0.2, 0), 0.0);
        let (bb, bin) = (
            ln_beta_binomial_upper(40, 0.2, 1e-7, 20),
            ln_binomial_upper(40, 0.2, 20),
        );
        assert!((bb - bin).abs() < 1e-3, "{bb} {bin}");
    }

    #[test]
    fn an_upper_class_null_widens_only_where_a_quarter_of_the_classes_lie_high() {
        // one planted class among nine others: as class_null
        let two_targets = [1.36, 1.41, 1.51, 1.57, 1.58, 1.70, 1.71, 1.97, 7.55];
        assert_eq!(
            upper_class_null(&two_targets, 0.35),
            class_null(&two_targets, 0.35)
        );
        // three of eight others hold a natural tight group (the emoji's
        // clock faces, a vendor's smileys, flags with the Union Jack)
        let families = [1.19, 1.29, 1.31, 1.41, 1.43, 2.74, 3.19, 3.30];
        let (c, s) = class_null(&families, 0.35).unwrap();
        assert!((c - 1.42).abs() < 1e-12 && s == 0.35, "{c} {s}");
        let (c, s) = upper_class_null(&families, 0.35).unwrap();
        assert!((c - 1.42).abs() < 1e-12, "{c}");
        assert!((s - (2.74 - 1.42) / 0.6745).abs() < 1e-3, "{s}");
        assert_eq!(upper_class_null(&[], 0.35), None);
    }

    #[test]
    fn a_class_null_from_few_classes_is_wider() {
        assert_eq!(class_null(&[], 0.5), None);
        // one other class: its value, the least spread widened by √(1 + π/2)
        let (c, s) = class_null(&[2.0], 0.5).unwrap();
        assert_eq!(c, 2.0);
        assert!((s - 0.5 * (1.0 + std::f64::consts::FRAC_PI_2).sqrt()).abs() < 1e-12);
        // six or more: the median and MAD, never below the least spread
        let many = [1.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0];
        assert_eq!(class_null(&many, 0.5), Some((1.0, 0.5)));
        let wide = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0];
        let (c, s) = class_null(&wide, 0.5).unwrap();
        assert_eq!(c, 5.0);
        assert!((s - 1.482_602_218_505_602 * 3.0).abs() < 1e-9);
        // the spread shrinks towards the least one as classes are added
        let spreads: Vec<f64> = (1..=6)
            .map(|m| class_null(&vec![1.0; m], 0.5).unwrap().1)
            .collect();
        assert!(spreads.windows(2).all(|w| w[1] < w[0]), "{spreads:?}");
    }

    #[test]
    fn sums_of_binomials() {
        // one term: the binomial tail
        let one = ln_binomial_sum_upper(&[(20, 0.3)], 12);
        assert!((one - ln_binomial_upper(20, 0.3, 12)).abs() < 1e-9, "{one}");
        // two equal probabilities: Binomial(n₁ + n₂, p)
        let two = ln_binomial_sum_upper(&[(7, 0.4), (13, 0.4)], 15);
        assert!((two - ln_binomial_upper(20, 0.4, 15)).abs() < 1e-9, "{two}");
        // beyond the exact range: a bound at or above the exact tail, within a few nats
        let big = ln_binomial_sum_upper(&[(3000, 0.5), (3000, 0.5)], 3300);
        let exact = ln_binomial_upper(6000, 0.5, 3300);
        assert!(big >= exact && big - exact < 4.0, "{big} vs {exact}");
        assert_eq!(
            ln_binomial_sum_upper(&[(3000, 0.5), (3000, 0.5)], 2000),
            0.0
        );
        assert_eq!(ln_binomial_sum_upper(&[(5, 0.5)], 0), 0.0);
        assert_eq!(ln_binomial_sum_upper(&[(5, 0.5)], 6), f64::NEG_INFINITY);
    }

    #[test]
    fn stratified_excess_tail() {
        // one stratum: the binomial tail
        let one = ln_stratified_excess_upper(&[(16, 20, 0.5)]);
        assert!((one - ln_binomial_upper(20, 0.5, 16)).abs() < 1e-6, "{one}");
        assert_eq!(
            ln_stratified_excess_upper(&[(8, 20, 0.5), (0, 3, 0.5)]),
            0.0
        );
        assert_eq!(ln_stratified_excess_upper(&[]), 0.0);
        // an excess confined to small strata is not diluted by a large one
        let strata = [(60, 100, 0.6), (10, 10, 0.6), (10, 10, 0.6), (10, 10, 0.6)];
        let stratified = ln_stratified_excess_upper(&strata);
        let pooled = ln_binomial_upper(130, 0.6, 90);
        assert!(stratified < -8.0 && pooled > -5.0, "{stratified} {pooled}");
        // a valid p-value under the null, with many small strata: at most
        // about 5 % of draws at p ≤ 0.05 (2,000 draws, seeded)
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let sizes = [1u64, 1, 2, 3, 5, 8, 13, 21, 30];
        let mut rejected = 0;
        for _ in 0..2000 {
            // null rates that differ from stratum to stratum
            let strata: Vec<(u64, u64, f64)> = sizes
                .iter()
                .enumerate()
                .map(|(j, &m)| {
                    let p0 = 0.5 + 0.05 * (j % 5) as f64;
                    ((0..m).filter(|_| uniform() < p0).count() as u64, m, p0)
                })
                .collect();
            rejected += (ln_stratified_excess_upper(&strata) <= 0.05f64.ln()) as usize;
        }
        assert!(rejected <= 120, "{rejected} of 2000 at p ≤ 0.05");
        assert!(
            rejected >= 40,
            "{rejected} of 2000: needlessly conservative"
        );
    }

    #[test]
    fn one_sided_tail_and_chi_square() {
        assert!((ln_upper_normal_p(0.0) - 0.5f64.ln()).abs() < 1e-6);
        assert!((ln_upper_normal_p(1.959964).exp() - 0.025).abs() < 1e-6);
        assert!(ln_upper_normal_p(40.0) < -700.0 && ln_upper_normal_p(40.0).is_finite());
        // 95 % quantile of χ²_10 is 18.307; WH is within 0.1 %.
        assert!((chi_square_quantile(10.0, 1.644854) / 18.307 - 1.0).abs() < 1e-3);
        // median of χ²_10 is 9.342: its WH score is about 0.
        assert!(wilson_hilferty(9.342 / 10.0, 10.0).abs() < 0.01);
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-6);
        assert!((normal_quantile(1e-10) + 6.361341).abs() < 1e-5);
        assert!(normal_quantile(0.5).abs() < 1e-12);
        assert!((chi_square_cdf(10.0, 18.307) - 0.95).abs() < 1e-3);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn robust_scale_ignores_outliers_and_falls_back() {
        let mut v: Vec<f64> = (0..101).map(|i| i as f64).collect();
        let (m, s) = robust_location_scale(&v);
        v[100] = 1e9;
        let (m2, s2) = robust_location_scale(&v);
        assert_eq!(m, m2);
        assert!((s - s2).abs() < 1e-9);
        let (_, s3) = robust_location_scale(&[0.0, 0.0, 0.0, 0.0, 8.0]);
        assert!((s3 - 3.2).abs() < 1e-9, "{s3}");
        assert_eq!(robust_location_scale(&[1.0, 1.0]).1, 0.0);
    }

    #[test]
    fn binomial_tails() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        // Bin(10, 0.5): P(X >= 8) = 56/1024, P(X <= 2) = 56/1024
        assert!((ln_binomial_upper(10, 0.5, 8).exp() - 56.0 / 1024.0).abs() < 1e-12);
        assert!((ln_binomial_lower(10, 0.5, 2).exp() - 56.0 / 1024.0).abs() < 1e-12);
        assert_eq!(ln_binomial_upper(10, 0.3, 0), 0.0);
        assert_eq!(ln_binomial_lower(10, 0.3, 10), 0.0);
        // far tail stays finite: P(X = 0) for Bin(10, 0.97) = 0.03^10
        assert!((ln_binomial_lower(10, 0.97, 0) - 10.0 * 0.03f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn normal_tails() {
        // P(|Z| >= 1.959964) = 0.05, P(|Z| >= 3) = 0.0026998, P(|Z| >= 0) = 1
        assert!((ln_two_sided_normal_p(1.959_964).exp() - 0.05).abs() < 1e-7);
        assert!((ln_two_sided_normal_p(3.0).exp() - 0.002_699_796).abs() < 1e-8);
        assert!(ln_two_sided_normal_p(0.0).abs() < 1e-7);
        // far tail stays finite and monotone: ln P(|Z|>=40) ≈ -803.915
        let a = ln_two_sided_normal_p(40.0);
        assert!((a + 803.915).abs() < 0.01, "{a}");
        assert!(ln_two_sided_normal_p(41.0) < a);
    }
    #[test]
    fn fisher_matches_the_chi_square_tail() {
        // One test: Fisher gives the p-value back.
        assert!((ln_fisher(&[0.2f64.ln()]) - 0.2f64.ln()).abs() < 1e-12);
        // Two tests p = 0.1, 0.1: X = 9.21, P(χ²₄ ≥ X) = e^{-X/2}(1 + X/2).
        let x = -2.0 * 2.0 * 0.1f64.ln();
        let want = (-x / 2.0).exp() * (1.0 + x / 2.0);
        assert!((ln_fisher(&[0.1f64.ln(); 2]) - want.ln()).abs() < 1e-12);
        assert_eq!(ln_fisher(&[]), 0.0);
        assert_eq!(ln_fisher(&[0.0, f64::NAN]), 0.0);
        // Far tails stay finite and add up.
        let many = ln_fisher(&[-300.0; 8]);
        assert!(many < -2000.0 && many.is_finite());
    }
}
