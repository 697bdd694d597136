//! `PS005 confident-learning`: label issues found from out-of-sample class
//! probabilities (Northcutt, Jiang & Chuang 2021).

use crate::error::{parse_value, ParamError, ScanError};
use crate::perclass::cap_by_class;
use crate::stats::{ln_binomial_upper, ln_erfc, robust_location_scale};
use crate::{ClassDiagnostics, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS005 confident-learning

## What it detects
Samples whose given label a model, trained without them, does not believe:
relabelled samples (label flipping) and the dirty-label part of backdoors.
Per class it also counts how many samples confidently belong to another class
(the off-diagonal of the *confident joint*), and it reports for every sample
the class the probabilities point to (`suspected_label`).

## Why it matters
A label-flipping attacker, or a backdoor that relabels its triggered samples,
leaves samples whose content says one class and whose label says another. A
model's out-of-sample probabilities (each sample scored by a model that did
not train on it) expose them, including where the raw features cannot.

## Method
Needs out-of-sample probabilities, one per class, read with `--probs COL`
(or produced by poisonscan's own cross-fitted model).
1. Per-class thresholds `t_j`: the mean probability of class `j` over the
   samples labelled `j` (the class's average self-confidence).
2. A sample is *confidently* in class `j` when `p_j ≥ t_j`; with several such
   classes, the most probable one. The counts by given label and confident
   class form the confident joint; samples off its diagonal are label issues.
3. Raw score: `1 − p_y`, the model's doubt in the given label `y`.
   Calibration, per class: the logit of the self-confidence `p_y` (clamped to
   [1e-7, 1 − 1e-7]) becomes a robust z-score against the class's own
   self-confidences (median, 1.4826 × MAD), and the p-value is its lower
   normal tail: a sample the model doubts far more than it doubts the rest of
   its class.
4. Class test: the label issues of a class against Binomial(rows,
   `clean-rate`), one-sided, as for `knn-label-disagreement`.
5. In a class whose test is not significant at 1 % after a Bonferroni
   correction over the classes, a row's reported p-value is raised to its
   class's: every clean class has ambiguous samples the model doubts, and
   they should not outrank the rows of a class with real label issues. In a
   scan, fusion applies the same gate with the strongest class test of any
   scanner, so a class another scanner fails keeps its rows' own p-values.

## Options
- `clean-rate` — share of label issues a clean class may have (default 0.05,
  above 0 and below 0.5).

## Known false positives
- Probabilities that are not out-of-sample (a model that saw the samples)
  are over-confident in the given labels and hide label issues; the opposite
  mistake — a weak model — turns hard samples into label issues, which the
  class test absorbs up to `clean-rate`.
- Genuinely ambiguous samples and honest label noise.
- Clean-label attacks keep correct labels and are not detected.

## References
- C. G. Northcutt, L. Jiang, I. L. Chuang. Confident Learning: Estimating
  Uncertainty in Dataset Labels. Journal of Artificial Intelligence Research
  70, 2021.
"#;

/// Confident-learning scanner (`PS005`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidentLearning {
    clean_rate: f64,
}

impl ConfidentLearning {
    /// The scanner with default settings.
    pub const DEFAULT: ConfidentLearning = ConfidentLearning { clean_rate: 0.05 };

    /// A scanner with the given share of label issues a clean class may have.
    pub fn new(clean_rate: f64) -> Result<Self, ParamError> {
        if !(clean_rate > 0.0 && clean_rate < 0.5) {
            return Err(ParamError::OutOfRange {
                option: "confident-learning.clean-rate",
                value: clean_rate.to_string(),
                allowed: "a number above 0 and below 0.5",
            });
        }
        Ok(Self { clean_rate })
    }
}

impl Scanner for ConfidentLearning {
    fn code(&self) -> &'static str {
        "PS005"
    }
    fn name(&self) -> &'static str {
        "confident-learning"
    }
    fn summary(&self) -> &'static str {
        "Label issues from out-of-sample class probabilities: the confident joint (Northcutt et al. 2021)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn needs_probs(&self) -> bool {
        true
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut rate = self.clean_rate;
        for (key, value) in options {
            match key.as_str() {
                "clean-rate" => rate = parse_value(self.name(), key, value, "a number")?,
                _ => return Err(ParamError::unknown(self.name(), key, &["clean-rate"])),
            }
        }
        Ok(Box::new(ConfidentLearning::new(rate)?))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let probs = input.probs.ok_or_else(|| {
            ScanError::Shape("confident-learning needs class probabilities".into())
        })?;
        let n = input.features.rows();
        let c = input.n_classes;
        if probs.rows() != n || probs.cols() != c {
            return Err(ScanError::Shape(format!(
                "probabilities are {}×{}, expected {n}×{c} (rows × classes)",
                probs.rows(),
                probs.cols()
            )));
        }
        let labels = input.labels;
        let class_rows = input.class_rows();
        // thresholds: mean self-confidence per class
        let thresholds: Vec<f64> = (0..c)
            .map(|j| {
                let rows = &class_rows[j];
                if rows.is_empty() {
                    f64::INFINITY
                } else {
                    rows.iter().map(|&i| probs.row(i)[j] as f64).sum::<f64>() / rows.len() as f64
                }
            })
            .collect();
        let mut raw = vec![f64::NAN; n];
        let mut log_p = vec![f64::NAN; n];
        let mut suspected = vec![0u32; n];
        let mut joint = vec![0u64; c * c];
        for i in 0..n {
            let p = probs.row(i);
            let y = labels[i] as usize;
            let confident = (0..c)
                .filter(|&j| p[j] as f64 >= thresholds[j])
                .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)));
            let argmax = (0..c)
                .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                .unwrap_or(y);
            suspected[i] = confident.unwrap_or(argmax) as u32;
            if let Some(j) = confident {
                joint[y * c + j] += 1;
            }
            raw[i] = 1.0 - p[y] as f64;
        }
        let logit = |v: f64| {
            let v = v.clamp(1e-7, 1.0 - 1e-7);
            (v / (1.0 - v)).ln()
        };
        for (y, rows) in class_rows.iter().enumerate() {
            let logits: Vec<f64> = rows
                .iter()
                .map(|&i| logit(probs.row(i)[y] as f64))
                .collect();
            let (loc, scale) = robust_location_scale(&logits);
            for (&i, &l) in rows.iter().zip(&logits) {
                let z = if scale > 0.0 { (l - loc) / scale } else { 0.0 };
                // one-sided: P(Z <= z) = erfc(-z / sqrt 2) / 2
                log_p[i] =
                    (ln_erfc(-z / std::f64::consts::SQRT_2) - std::f64::consts::LN_2).min(0.0);
            }
        }
        let mut classes = Vec::new();
        for (y, rows) in class_rows.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let issues: u64 = (0..c).filter(|&j| j != y).map(|j| joint[y * c + j]).sum();
            let mut values = vec![
                ("threshold", thresholds[y]),
                ("label_issues", issues as f64),
                ("label_issue_rate", issues as f64 / rows.len() as f64),
            ];
            values.push(("confident_in_class", joint[y * c + y] as f64));
            classes.push(ClassDiagnostics {
                class: y as u32,
                values,
                log_p: Some(ln_binomial_upper(
                    rows.len() as u64,
                    self.clean_rate,
                    issues,
                )),
            });
        }
        // rows of skipped classes carry no score
        for (i, &l) in labels.iter().enumerate() {
            if input.skip_classes.contains(&l) {
                raw[i] = f64::NAN;
                log_p[i] = f64::NAN;
            }
        }
        let mut out = ScanOutput {
            raw,
            log_p,
            classes,
            suspected: Some(suspected),
            ungated_log_p: None,
        };
        cap_by_class(input, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::MatrixRef;

    /// Probabilities of a decent model on 3 classes; `flips` rows per class
    /// carry the next class's label.
    fn fixture(per_class: usize, flips: usize) -> (Vec<f32>, Vec<f32>, Vec<u32>, Vec<bool>) {
        let mut rng = SplitMix64::new(5);
        let n = 3 * per_class;
        let (mut probs, mut labels, mut truth) = (vec![], vec![], vec![]);
        for i in 0..n {
            let true_class = i % 3;
            let confidence = 0.7 + 0.29 * rng.next_f64();
            for j in 0..3 {
                probs.push(if j == true_class {
                    confidence
                } else {
                    (1.0 - confidence) / 2.0
                } as f32);
            }
            let flip = i / 3 < flips;
            labels.push(if flip {
                ((true_class + 1) % 3) as u32
            } else {
                true_class as u32
            });
            truth.push(flip);
        }
        (vec![0.0; n], probs, labels, truth)
    }

    #[test]
    fn flipped_labels_are_found_and_fail_their_class() {
        let (features, probs, labels, truth) = fixture(600, 120);
        let n = labels.len();
        let input = ScanInput {
            probs: Some(MatrixRef::new(&probs, n, 3).unwrap()),
            ..ScanInput::new(MatrixRef::new(&features, n, 1).unwrap(), &labels, 3)
        };
        let out = ConfidentLearning::DEFAULT.scan(&input).unwrap();
        // every flipped row is less self-confident than every clean row
        let worst_clean = (0..n)
            .filter(|&i| !truth[i])
            .map(|i| out.log_p[i])
            .fold(f64::INFINITY, f64::min);
        assert!((0..n)
            .filter(|&i| truth[i])
            .all(|i| out.log_p[i] < worst_clean));
        for c in &out.classes {
            assert!(c.log_p.unwrap() < (0.01f64 / 3.0).ln(), "{c:?}");
        }
        let suspected = out.suspected.unwrap();
        assert!((0..n)
            .filter(|&i| truth[i])
            .all(|i| suspected[i] as usize == i % 3));
    }

    #[test]
    fn clean_labels_pass_and_shapes_are_checked() {
        let (features, probs, labels, _) = fixture(300, 0);
        let n = labels.len();
        let mut input = ScanInput {
            probs: Some(MatrixRef::new(&probs, n, 3).unwrap()),
            ..ScanInput::new(MatrixRef::new(&features, n, 1).unwrap(), &labels, 3)
        };
        let out = ConfidentLearning::DEFAULT.scan(&input).unwrap();
        assert!(out.classes.iter().all(|c| c.log_p.unwrap() > -1.0));
        input.probs = Some(MatrixRef::new(&probs[..2 * n], n, 2).unwrap());
        assert!(ConfidentLearning::DEFAULT.scan(&input).is_err());
        assert!(ConfidentLearning::new(0.7).is_err());
    }
}
