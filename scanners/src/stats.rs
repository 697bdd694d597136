//! Small statistics used to calibrate scanner scores: medians, robust scale,
//! normal tail probabilities in log space.

/// Median of `v` (sorts a copy); `NaN` for an empty slice.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
