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
