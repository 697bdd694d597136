//! `PS001 spectral-signature`: spectral signatures (Tran, Li & Madry, 2018).

use crate::error::{parse_value, ParamError, ScanError};
use crate::linalg::principal_directions;
use crate::perclass::{scan_per_class, ClassResult};
use crate::rng::SplitMix64;
use crate::stats::{ln_two_sided_normal_p, robust_location_scale};
use crate::{ClassDiagnostics, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS001 spectral-signature

## What it detects
A sub-population inside one class that is pulled away from the rest of the
class along a single direction: the trace a backdoor trigger (a patch, a blended
pattern) or a block of relabelled samples leaves in a learned representation
or in the raw features.

## Why it matters
A backdoor attack plants a small set of samples that carry a trigger and the
attacker's target label. A model trained on them learns to map the trigger to
the target class while behaving normally on clean inputs, so accuracy checks do
not reveal it. Those samples must be found before training.

## Method
For every class separately (classes run in parallel):
1. centre the class's feature vectors on their mean;
2. find the top `k` right singular vectors of the centred matrix (eigenvectors
   of the class covariance, by seeded subspace iteration);
3. the raw score of a sample is its squared projection on those vectors —
   Tran et al.'s outlier score. When the poisoned sub-population is large
   enough and shifted far enough, the top singular vector points at it and
   its samples get the largest scores.

Calibration: the projection on each vector is turned into a robust z-score
(median and 1.4826 × MAD of that class's projections, which is robust to the
poisoned minority), and that into a two-sided normal tail probability; over
`k` vectors the smallest probability is multiplied by `k` (Bonferroni). A clean
class with roughly normal projections gives roughly uniform p-values; the
fusion stage turns p-values into suspicion scores in [0, 1].

## Options
- `k` — number of singular vectors (default 1, from 1 to 16).
- `max-iter` — subspace-iteration rounds (default 300, from 1 to 10000).
- `tol` — relative change of the eigenvalues that stops the iteration
  (default 1e-7, above 0 and at most 0.1).

## Known false positives
- Classes that are genuinely bimodal (two writing styles of one digit, two
  sub-species) put their smaller mode on the top singular vector.
- Heavy-tailed features give large robust z-scores to ordinary extreme samples;
  those are single rows, which the class verdict's minimum count absorbs.
- Weak at low poison rates in raw input space: a trigger that is small against
  the class's natural variation does not move the top singular vector. A
  learned representation (or the label-consistency scanners) helps there.

## References
- B. Tran, J. Li, A. Madry. Spectral Signatures in Backdoor Attacks. NeurIPS 2018.
- J. Hayase, W. Kong, R. Somani, S. Oh. SPECTRE: Defending Against Backdoor
  Attacks Using Robust Statistics. ICML 2021 (the robust variant).
"#;

/// Unchecked parameters of [`SpectralSignature`]; call [`SpectralParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralParams(SpectralValidParams);

/// Validated parameters of [`SpectralSignature`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralValidParams {
    k: usize,
    max_iter: usize,
    tol: f64,
}

impl SpectralValidParams {
    /// Number of singular vectors.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Maximum subspace-iteration rounds.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }
    /// Relative convergence tolerance.
    pub fn tol(&self) -> f64 {
        self.tol
    }
}

impl Default for SpectralParams {
    fn default() -> Self {
        Self(SpectralSignature::DEFAULT.params.clone())
    }
}

impl SpectralParams {
    /// Number of singular vectors (1..=16).
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }
    /// Maximum subspace-iteration rounds (1..=10000).
    pub fn max_iter(mut self, n: usize) -> Self {
        self.0.max_iter = n;
        self
    }
    /// Relative convergence tolerance (0 < tol ≤ 0.1).
    pub fn tol(mut self, tol: f64) -> Self {
        self.0.tol = tol;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<SpectralValidParams, ParamError> {
        let p = self.0;
        if !(1..=16).contains(&p.k) {
            return Err(ParamError::OutOfRange {
                option: "spectral-signature.k",
                value: p.k.to_string(),
                allowed: "an integer from 1 to 16",
            });
        }
        if !(1..=10_000).contains(&p.max_iter) {
            return Err(ParamError::OutOfRange {
                option: "spectral-signature.max-iter",
                value: p.max_iter.to_string(),
                allowed: "an integer from 1 to 10000",
            });
        }
        if !(p.tol > 0.0 && p.tol <= 0.1) {
            return Err(ParamError::OutOfRange {
                option: "spectral-signature.tol",
                value: p.tol.to_string(),
                allowed: "a number above 0 and at most 0.1",
            });
        }
        Ok(p)
    }
}

/// Spectral-signature scanner (`PS001`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralSignature {
    params: SpectralValidParams,
}

impl SpectralSignature {
    /// The scanner with default settings.
    pub const DEFAULT: SpectralSignature = SpectralSignature {
        params: SpectralValidParams {
            k: 1,
            max_iter: 300,
            tol: 1e-7,
        },
    };

    /// Parameters to adjust and check.
    pub fn params() -> SpectralParams {
        SpectralParams::default()
    }

    /// A scanner with checked parameters.
    pub fn new(params: SpectralValidParams) -> Self {
        Self { params }
    }
}

impl SpectralSignature {
    fn scan_class(&self, input: &ScanInput<'_>, class: u32, rows: Vec<usize>) -> ClassResult {
        let x = input.features;
        let k = self.params.k.min(x.cols());
        if rows.len() < k + 2 {
            return ClassResult::unscored(class, rows);
        }
        let mut rng = SplitMix64::derive(input.seed, class as u64);
        let pc = principal_directions(x, &rows, k, self.params.max_iter, self.params.tol, &mut rng);
        // projections[j][i]: row i of the class on vector j
        let projections: Vec<Vec<f64>> = pc
            .vectors
            .iter()
            .map(|v| {
                rows.iter()
                    .map(|&r| {
                        x.row(r)
                            .iter()
                            .zip(v)
                            .zip(&pc.mean)
                            .map(|((&a, &b), &m)| (a as f64 - m) * b)
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let raw: Vec<f64> = (0..rows.len())
            .map(|i| projections.iter().map(|p| p[i] * p[i]).sum())
            .collect();
        let kf = (projections.len() as f64).ln();
        let mut log_p = vec![f64::INFINITY; rows.len()];
        for p in &projections {
            let (loc, scale) = robust_location_scale(p);
            for (lp, &v) in log_p.iter_mut().zip(p) {
                let z = if scale > 0.0 { (v - loc) / scale } else { 0.0 };
                *lp = lp.min(ln_two_sided_normal_p(z));
            }
        }
        log_p.iter_mut().for_each(|lp| *lp = (*lp + kf).min(0.0));
        let top = pc.values.first().copied().unwrap_or(0.0);
        let mut values = vec![
            ("top_eigenvalue", top),
            (
                "explained_variance",
                if pc.trace > 0.0 { top / pc.trace } else { 0.0 },
            ),
        ];
        if let Some(second) = pc.values.get(1) {
            values.push((
                "eigenvalue_ratio",
                if *second > 0.0 {
                    top / second
                } else {
                    f64::INFINITY
                },
            ));
        }
        ClassResult {
            rows,
            raw,
            log_p,
            diagnostics: ClassDiagnostics {
                class,
                values,
                log_p: None,
            },
        }
    }
}

impl Scanner for SpectralSignature {
    fn code(&self) -> &'static str {
        "PS001"
    }
    fn name(&self) -> &'static str {
        "spectral-signature"
    }
    fn summary(&self) -> &'static str {
        "Samples pulled away from their class along its top singular vector (Tran et al. 2018)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = SpectralParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "k" => p.k(parse_value(name, key, value, "a whole number")?),
                "max-iter" => p.max_iter(parse_value(name, key, value, "a whole number")?),
                "tol" => p.tol(parse_value(name, key, value, "a number")?),
                _ => return Err(ParamError::unknown(name, key, &["k", "max-iter", "tol"])),
            };
        }
        Ok(Box::new(SpectralSignature::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        // Each class is computed by one thread with its own seeded RNG and
        // collected in class order: the output does not depend on threading.
        Ok(scan_per_class(input, |c, rows| {
            self.scan_class(input, c, rows)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{auroc, blobs_with_shifted_group};
    use crate::MatrixRef;

    #[test]
    fn planted_subpopulation_ranks_on_top() {
        let (data, labels, truth) = blobs_with_shifted_group(600, 32, 30, 6.0, 11);
        let x = MatrixRef::new(&data, labels.len(), 32).unwrap();
        let input = ScanInput {
            seed: 1,
            ..ScanInput::new(x, &labels, 3)
        };
        let out = SpectralSignature::DEFAULT.scan(&input).unwrap();
        let a = auroc(&out.raw, &truth);
        assert!(a > 0.99, "AUROC {a}");
        // The poisoned rows carry the smallest p-values of their class.
        let neg_lp: Vec<f64> = out.log_p.iter().map(|l| -l).collect();
        assert!(auroc(&neg_lp, &truth) > 0.99);
        let worst_clean = out
            .log_p
            .iter()
            .zip(&truth)
            .filter(|(_, &t)| !t)
            .map(|(l, _)| *l)
            .fold(0.0, f64::min);
        let poisoned_below = out
            .log_p
            .iter()
            .zip(&truth)
            .filter(|(l, &t)| t && **l < worst_clean)
            .count();
        assert!(
            poisoned_below >= 25,
            "{poisoned_below} of 30 poisoned rows beyond every clean row"
        );
    }

    #[test]
    fn clean_classes_give_calibrated_p_values() {
        let (data, labels, _) = blobs_with_shifted_group(2000, 16, 0, 0.0, 5);
        let x = MatrixRef::new(&data, labels.len(), 16).unwrap();
        let input = ScanInput {
            seed: 2,
            ..ScanInput::new(x, &labels, 3)
        };
        let out = SpectralSignature::DEFAULT.scan(&input).unwrap();
        let n = out.log_p.len() as f64;
        let below = |t: f64| out.log_p.iter().filter(|l| l.exp() < t).count() as f64 / n;
        assert!((below(0.05) - 0.05).abs() < 0.015, "{}", below(0.05));
        assert!((below(0.5) - 0.5).abs() < 0.04, "{}", below(0.5));
        // Nothing beyond a Bonferroni bound over all rows.
        assert!(out.log_p.iter().all(|l| l.exp() * n > 0.01));
    }

    #[test]
    fn same_seed_same_scores_and_skipped_classes_get_nan() {
        let (data, labels, _) = blobs_with_shifted_group(100, 8, 5, 5.0, 9);
        let x = MatrixRef::new(&data, labels.len(), 8).unwrap();
        let input = ScanInput {
            skip_classes: &[2],
            seed: 4,
            ..ScanInput::new(x, &labels, 3)
        };
        let a = SpectralSignature::DEFAULT.scan(&input).unwrap();
        let b = SpectralSignature::DEFAULT.scan(&input).unwrap();
        assert_eq!(
            a.raw.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.raw.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(a.raw[200..].iter().all(|v| v.is_nan()));
        assert!(a.raw[..200].iter().all(|v| v.is_finite()));
        assert_eq!(a.classes.len(), 2);
    }

    #[test]
    fn parameters_are_checked() {
        let e = SpectralSignature::params().k(0).check().unwrap_err();
        assert!(e.to_string().contains("spectral-signature.k"), "{e}");
        assert!(SpectralSignature::params().tol(0.5).check().is_err());
        assert!(SpectralSignature::params().max_iter(0).check().is_err());
        assert_eq!(
            SpectralSignature::params().check().unwrap(),
            SpectralSignature::DEFAULT.params
        );
    }
}
