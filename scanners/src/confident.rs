//! `PS005 confident-learning`: label issues found from out-of-sample class
//! probabilities (Northcutt, Jiang & Chuang 2021).

use crate::error::{ParamError, ScanError};
use crate::labelflow::{direction_test, kin_classes, recognised_classes};
use crate::perclass::cap_by_class;
use crate::stats::{ln_erfc, robust_location_scale};
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
4. Class test, on the confident joint as a confusion matrix (given label
   by confident class): the *direction* test of `knn-label-disagreement` —
   a class's label issues (inflow) against the rows of other classes
   confidently in it (outflow), and each pair of classes both ways, against
   a spread between the two directions estimated from the data set's own
   classes and pairs, centred on what the classes' sizes predict. Natural confusion between two classes (shirts and
   T-shirts) runs both ways; relabelled poison runs one way. No fixed rate
   of label issues: how many a clean class has depends on how much the
   classes overlap and how good the model is.
   Where `knn-label-disagreement` ran first (the default), each pair and
   class is centred instead on the imbalance its flows show in that
   label-agnostic view: `β` times the view's log ratio, `β` the median
   share of it that the other pairs show in the model's flows (within
   [0, 1]; none where fewer than three pairs both confuse — a strong
   model's few confusions say nothing of how it follows the view), that
   log ratio kept within three of the view's own natural spreads around
   what the sizes predict (a pair the view itself finds far beyond
   natural — the pixels of ones relabelled seven, 634 rows one way and 11
   back — is not taken as the norm). The model's confusions are then
   tested for what they show *beyond* the inputs' natural overlap. Some
   natural confusions run one way — a class holding a part that another
   class holds most of — and a weak model shows them too, sharper: a CNN
   at 32 % accuracy on the clean 50,000-picture photo mix (whose classes
   draw crops from shared wallpapers) put 691 of class 9's rows in class
   2 and 35 back, and failed the class (`ln p` −11.6); the raw pixels'
   neighbours show the same pair about 582 to 146, and against them the
   class passes (−2.7). MNIST's relabelled ones fail class 7 as before
   (−21.3). Summary: `centred_on_view`.
   A class the model does not recognise — fewer than 10 of its rows whose
   most probable class is their own, or no more than the model puts rows
   at large in it (one-sided binomial at 1 %), or no more than it puts the
   rows of one better-recognised class there that is not its kin (a
   synonym for part of that class) — is not tested: the model
   never predicts it (a small class always outweighed by a large,
   similar one: Fair's 109 women of occupation 6, 107 put in occupation
   3, where the test failed the class), so every row of it is a label
   issue and nothing flows back, whether or not any row was planted. Its
   label issues stay in the label-noise section (summary: `judged` 0,
   `recognised_rows`).
5. In a class whose test is not significant at 1 % after a Bonferroni
   correction over the classes, a row's reported p-value is raised to its
   class's: every clean class has ambiguous samples the model doubts, and
   they should not outrank the rows of a class with real label issues. In a
   scan, fusion applies the same gate with the strongest class test of any
   scanner, so a class another scanner fails keeps its rows' own p-values.

## Options
None.

## Known false positives
- Probabilities that are not out-of-sample (a model that saw the samples)
  are over-confident in the given labels and hide label issues; the opposite
  mistake — a weak model — turns hard samples into label issues; the
  class test absorbs them as long as they run both ways.
- Random label flips run both ways too: the class test does not see them
  (the `knn-label-disagreement` unanimity test does), though the row scores
  rank them.
- Genuinely ambiguous samples and honest label noise.
- Clean-label attacks keep correct labels and are not detected.
- Rows relabelled into a class the model does not recognise (see Method,
  4) are ranked but do not fail it.
- Relabelled rows that the label-agnostic view shows too (see Method, 4)
  weigh less here, up to the view's natural spread: a small relabelled
  group the view shows within it is `knn-label-disagreement`'s to fail.
  Run alone (`--scanners confident-learning`) the test is centred on the
  sizes.

## References
- C. G. Northcutt, L. Jiang, I. L. Chuang. Confident Learning: Estimating
  Uncertainty in Dataset Labels. Journal of Artificial Intelligence Research
  70, 2021.
- R. DerSimonian, N. Laird. Meta-analysis in clinical trials. Controlled
  Clinical Trials 7, 1986 (the between-pair spread).
"#;

/// Confident-learning scanner (`PS005`); it has no options.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidentLearning;

impl ConfidentLearning {
    /// The scanner with default settings.
    pub const DEFAULT: ConfidentLearning = ConfidentLearning;
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
        if let Some((key, _)) = options.first() {
            return Err(ParamError::unknown(self.name(), key, &[]));
        }
        Ok(Box::new(ConfidentLearning))
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
        // given label by the most probable class, for the excess estimate
        let mut by_argmax = vec![0u64; c * c];
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
            by_argmax[y * c + argmax] += 1;
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
        let scanned: Vec<u32> = (0..c as u32)
            .filter(|&y| !class_rows[y as usize].is_empty() && !input.skip_classes.contains(&y))
            .collect();
        let mut confusion = joint.clone();
        for y in 0..c {
            confusion[y * c + y] = 0;
        }
        let sizes: Vec<usize> = class_rows.iter().map(Vec::len).collect();
        let direction = direction_test(&confusion, c, &scanned, &sizes, input.view_flows);
        // a class is judged when the model recognises it (rows it puts in
        // their own class) more often than it puts rows at large there, and
        // than it puts the rows of any one other class there but its kin
        let kin = kin_classes(&by_argmax, c, &scanned, &sizes);
        let recognised = recognised_classes(&by_argmax, c, &scanned, &sizes, &kin);
        let mut classes = Vec::new();
        for ((&y, mut dir), recognition) in scanned.iter().zip(direction).zip(&recognised) {
            let (recognised, judged) = (recognition.own, recognition.judged);
            let y = y as usize;
            let rows = &class_rows[y];
            if !judged {
                dir.unjudge();
            }
            let issues = dir.inflow;
            // The confident joint counts only rows at or above the class
            // thresholds (about half of a relabelled group); the excess of
            // rows the model puts in another class, over the rows of that
            // class it puts in this one, estimates the relabelled rows.
            let flow = |t: usize, s: usize| by_argmax[t * c + s] as f64;
            let pooled: f64 = (0..c)
                .filter(|&s| s != y)
                .map(|s| flow(y, s) - flow(s, y))
                .sum();
            let pair = dir
                .top_source
                .map_or(0.0, |s| flow(y, s as usize) - flow(s as usize, y));
            let excess = if judged {
                pooled.max(pair).max(0.0)
            } else {
                0.0
            };
            let mut values = vec![
                ("threshold", thresholds[y]),
                ("label_issues", issues as f64),
                ("label_issue_rate", issues as f64 / rows.len() as f64),
                ("noise_rows", issues as f64),
                ("confident_in_class", joint[y * c + y] as f64),
                ("recognised_rows", recognised as f64),
                ("judged", judged as u8 as f64),
                ("outflow", dir.outflow as f64),
                ("natural_spread_pairs", dir.tau_pair),
                ("natural_spread_classes", dir.tau_class),
                ("excess_rows", excess.round()),
                ("centred_on_view", input.view_flows.is_some() as u8 as f64),
            ];
            if let Some(s) = dir.top_source {
                values.push(("top_source", s as f64));
            }
            if let Some(s) = recognition.part_of {
                values.push(("kind_source", s as f64));
            }
            classes.push(ClassDiagnostics {
                class: y as u32,
                values,
                log_p: Some(dir.log_p),
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
            confusion: Some(confusion),
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

    const C: usize = 6;

    /// Probabilities of a decent model on six classes, which confuses one
    /// row in ten with a neighbouring class (either way, as natural
    /// ambiguity does); the first `flips` rows of class 3 carry label 0.
    fn fixture(per_class: usize, flips: usize) -> (Vec<f32>, Vec<f32>, Vec<u32>, Vec<bool>) {
        let mut rng = SplitMix64::new(5);
        let n = C * per_class;
        let (mut probs, mut labels, mut truth) = (vec![], vec![], vec![]);
        for i in 0..n {
            let true_class = i % C;
            let confidence = 0.7 + 0.29 * rng.next_f64();
            let believed = if rng.next_f64() < 0.1 {
                (true_class + if rng.next_f64() < 0.5 { 1 } else { C - 1 }) % C
            } else {
                true_class
            };
            for j in 0..C {
                probs.push(if j == believed {
                    confidence
                } else {
                    (1.0 - confidence) / (C - 1) as f64
                } as f32);
            }
            let flip = true_class == 3 && i / C < flips;
            labels.push(if flip { 0 } else { true_class as u32 });
            truth.push(flip);
        }
        (vec![0.0; n], probs, labels, truth)
    }

    #[test]
    fn flipped_labels_are_found_and_fail_their_class() {
        let (features, probs, labels, truth) = fixture(600, 120);
        let n = labels.len();
        let input = ScanInput {
            probs: Some(MatrixRef::new(&probs, n, C).unwrap()),
            ..ScanInput::new(MatrixRef::new(&features, n, 1).unwrap(), &labels, C)
        };
        let out = ConfidentLearning::DEFAULT.scan(&input).unwrap();
        // the flipped rows rank above the rows of their class that the model
        // believes (the naturally confused ones look just like them)
        let worst_clean = (0..n)
            .filter(|&i| !truth[i] && labels[i] == 0 && probs[i * C] >= 0.5)
            .map(|i| out.log_p[i])
            .fold(f64::INFINITY, f64::min);
        let found = (0..n)
            .filter(|&i| truth[i] && out.log_p[i] < worst_clean)
            .count();
        assert!(found >= 100, "{found} of 120");
        let level = (0.01f64 / C as f64).ln();
        for c in &out.classes {
            if c.class == 0 {
                assert!(c.log_p.unwrap() < level, "{c:?}");
            } else {
                assert!(c.log_p.unwrap() > level, "{c:?}");
            }
        }
        let suspected = out.suspected.unwrap();
        assert!((0..n)
            .filter(|&i| truth[i])
            .all(|i| suspected[i] as usize == i % C || suspected[i] as usize != 0));
    }

    #[test]
    fn clean_labels_pass_and_shapes_are_checked() {
        let (features, probs, labels, _) = fixture(300, 0);
        let n = labels.len();
        let mut input = ScanInput {
            probs: Some(MatrixRef::new(&probs, n, C).unwrap()),
            ..ScanInput::new(MatrixRef::new(&features, n, 1).unwrap(), &labels, C)
        };
        let out = ConfidentLearning::DEFAULT.scan(&input).unwrap();
        assert!(
            out.classes.iter().all(|c| c.log_p.unwrap() > -2.0),
            "{:?}",
            out.classes
        );
        input.probs = Some(MatrixRef::new(&probs[..2 * n], n, 2).unwrap());
        assert!(ConfidentLearning::DEFAULT.scan(&input).is_err());
        assert!(ConfidentLearning::DEFAULT
            .configure(&[("clean-rate".into(), "0.1".into())])
            .is_err());
    }
}
