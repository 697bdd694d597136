//! `PS002 robust-spectral` (SPECTRE): robust whitening and quantum-entropy
//! outlier scores (Hayase, Kong, Somani & Oh, 2021).

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::linalg::symmetric_eigen;
use crate::perclass::{canonical_order, class_projection, scan_with_excess_test, ClassResult};
use crate::rng::SplitMix64;
use crate::robust::{mcd, RobustFit};
use crate::stats::{
    bisect, chi_square_quantile, ln_excess_p, ln_upper_normal_p, normal_quantile, wilson_hilferty,
};
use crate::{ClassDiagnostics, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS002 robust-spectral

## What it detects
A sub-population inside one class that stands apart from the class's core in
a few directions — the trace a backdoor trigger leaves in a learned
representation, or in the features themselves when the trigger is strong —
also when the poisoned rows are many enough to pull the class's mean and
covariance toward them, where plain spectral signatures (`PS001`) lose them.

## Why it matters
Plain spectral signatures centre and scale each class with the class's own
mean and covariance, which the poison contaminates; at higher poison rates
the poisoned rows define the "normal" direction and hide. Robust statistics
estimate what the clean core of the class looks like first, then measure every
row against it.

## Method
For every class separately (classes in parallel, each with its own seeded
random stream):
1. Project the class's rows on their top principal components (centred;
   standardised too unless the features share one scale, such as pixels),
   dropping components with no variance.
2. Robust mean and covariance in that subspace: Minimum Covariance
   Determinant on the `keep` share of rows (concentration steps from two
   deterministic starts), made consistent at the normal model and reweighted.
3. Whiten every row with the robust estimate; the clean core becomes an
   isotropic unit cloud and a poisoned sub-population becomes excess variance
   in a few directions.
4. QUE score (quantum-entropy scoring): with `Σ̃` the second moment of the
   whitened rows and `λ₁` its largest eigenvalue, weights
   `U = exp(α (Σ̃ − I) / (λ₁ − 1))` normalised to trace 1; the raw score of a
   row is `x̃ᵀ U x̃`. Directions of excess variance dominate the score, the
   others still count.
5. Cross-fitting and row calibration: the rows are split at random in two
   halves, and each half is scored by the rule (steps 2–4) fitted on the
   other, so that no row picks the directions it is measured along. The
   scores of a half are calibrated against a scaled χ²_ν fitted to their
   median and upper quartile (a clean normal cloud gives a weighted sum of
   χ²₁ variables, close to a scaled χ²; heavier-tailed real classes get a
   smaller ν and so a heavier tail; a poisoned minority below a quarter of
   the rows does not move the fit), with Wilson–Hilferty tail
   probabilities. A row is *extreme* when its p-value is at most 10⁻³.
6. Projection dimension: with `dims = auto` steps 2–5 run for 4, 8, 16 and 32
   components (those the class has, with at least `10 k + 10` rows per
   half) and the dimension whose class test is
   strongest is kept, its p-value multiplied by the number of candidates.
7. Class test: real classes have heavier tails than any model of a clean
   class predicts, and about equally so in every class, while a poisoned
   class stands out from its peers. The class's extreme rows are tested
   against Binomial(rows, r), `r = max(clean-rate, peer-ratio × m)` with `m`
   the median extreme share of the other classes (one-sided binomial test),
   its variance widened by the spread of the other classes' shares
   (1.4826 × their median absolute deviation): clean classes differ among
   themselves by more than sampling explains (5–21 % extreme rows over the
   classes of a CNN's representation of clean Fashion-MNIST). With one
   other class (two classes in all) that class's share says nothing of
   the spread, which is then at least a quarter of the null rate, widened
   by `√(1 + π/2)` for a median of one: in a pair of Fashion-MNIST classes
   (T-shirt/shirt, the CNN) the shirts' share was 0.7 % in one seed and
   5.8 % in another, and with no spread at all the T-shirts (7.9 %) failed
   against a 5 % null. A class whose every peer is censored (a class that
   cannot show extreme rows says nothing of how many a clean one has) is
   held the same way: there is then no peer at all, and the bare binomial
   against the floor failed a natural group (RAND HIE's deductible plans
   with the MLP; see `activation-clustering`).
8. In a class whose test is not significant at 1 % after a Bonferroni
   correction over the classes, a row's reported p-value is raised to its
   class's: such rows carry no more evidence than their class does. In a
   scan, fusion applies the same gate with the strongest class test of any
   scanner, so a class another scanner fails keeps its rows' own p-values.

Small classes: each half of a class must have at least `10 k + 10` rows for
`k` components (a robust covariance needs many rows per dimension); smaller
classes are scored with fewer components or not at all.

## Options
- `dims` — principal components scanned: `auto` (default) or a number from 1
  to 64.
- `alpha` — QUE emphasis on the directions of excess variance (default 4,
  above 0 and at most 32; near 0 gives the plain Mahalanobis distance).
- `keep` — share of rows the robust fit is computed on (default 0.6, from 0.5
  to 0.95); the scanner tolerates a poisoned share of a class up to about
  `1 − keep`.
- `clean-rate` — share of extreme rows a clean class may have (default 0.05,
  above 0 and below 0.5).
- `peer-ratio` — how many times the median extreme share of the other
  classes a clean class may have (default 3, from 1 to 100).

## Known false positives
Measured on raw pixels: clean MNIST passes (3 seeds), but the scikit-learn
digits "1" and "9", which have distinct writing styles, failed one run of
three; it is therefore run by default only on learned representations
(embedding columns, model activations) and on raw inputs only when named.
On MNIST pixels with 5 % BadNets poison, where the label-consistency scanner
weakens, naming it lifts the fused AUROC from 0.915 to 0.975.
- Classes made of several distinct modes (two writing styles, sub-species):
  the robust fit describes the largest mode, and a smaller mode that is far
  away is extreme. `clean-rate` absorbs small modes; raise it for data whose
  classes are mixtures.
- Heavy-tailed features (counts, money) make many rows extreme; scan a
  transformed or learned representation.
- Zero-inflated features, such as activations taken *after* a ReLU, where a
  unit is exactly zero for most rows of a class: the robust fit settles on
  the rows where it is zero, the covariance is nearly singular (a
  `top_whitened_eigenvalue` in the millions in `summary.json` is the sign)
  and 15–40 % of every clean class is extreme, so no class stands out.
  Measured on a CNN's post-ReLU 64-unit layer on MNIST; export the layer's
  values before the ReLU (poisonscan's own models do).
- In raw pixels a small patch trigger hardly moves the top principal
  components and goes unseen; scan a learned representation
  (`--model`) or rely on `knn-label-disagreement` there.

## References
- J. Hayase, W. Kong, R. Somani, S. Oh. SPECTRE: Defending Against Backdoor
  Attacks Using Robust Statistics. ICML 2021.
- Y. Dong, S. B. Hopkins, J. Li. Quantum Entropy Scoring for Fast Robust Mean
  Estimation and Improved Outlier Detection. NeurIPS 2019.
- P. J. Rousseeuw, K. Van Driessen. A Fast Algorithm for the Minimum
  Covariance Determinant Estimator. Technometrics, 1999.
- M. Hubert, P. J. Rousseeuw, T. Verdonck. A Deterministic Algorithm for
  Robust Location and Scatter. JCGS, 2012.
"#;

/// Candidate dimensions of `dims = auto`.
const AUTO_DIMS: [usize; 4] = [4, 8, 16, 32];
/// p-value at or below which a row is extreme.
const EXTREME_P: f64 = 1e-3;

/// Validated parameters of [`RobustSpectral`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpectreValidParams {
    dims: Option<usize>,
    alpha: f64,
    keep: f64,
    clean_rate: f64,
    peer_ratio: f64,
}

impl SpectreValidParams {
    /// Principal components scanned (`None`: automatic).
    pub fn dims(&self) -> Option<usize> {
        self.dims
    }
    /// QUE emphasis.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// Share of rows of the robust fit.
    pub fn keep(&self) -> f64 {
        self.keep
    }
    /// Share of extreme rows a clean class may have.
    pub fn clean_rate(&self) -> f64 {
        self.clean_rate
    }
    /// How many times its peers' extreme share a class may have.
    pub fn peer_ratio(&self) -> f64 {
        self.peer_ratio
    }
}

/// Unchecked parameters of [`RobustSpectral`]; call [`SpectreParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpectreParams(SpectreValidParams);

impl Default for SpectreParams {
    fn default() -> Self {
        Self(RobustSpectral::DEFAULT.params.clone())
    }
}

impl SpectreParams {
    /// Principal components (1..=64), or `None` for automatic.
    pub fn dims(mut self, dims: Option<usize>) -> Self {
        self.0.dims = dims;
        self
    }
    /// QUE emphasis (0 < alpha ≤ 32).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }
    /// Share of rows of the robust fit (0.5..=0.95).
    pub fn keep(mut self, keep: f64) -> Self {
        self.0.keep = keep;
        self
    }
    /// Share of extreme rows a clean class may have (0 < v < 0.5).
    pub fn clean_rate(mut self, v: f64) -> Self {
        self.0.clean_rate = v;
        self
    }
    /// How many times its peers' extreme share a class may have (1..=100).
    pub fn peer_ratio(mut self, v: f64) -> Self {
        self.0.peer_ratio = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<SpectreValidParams, ParamError> {
        let p = self.0;
        if let Some(d) = p.dims {
            ensure(
                (1..=64).contains(&d),
                "robust-spectral.dims",
                d,
                "`auto` or an integer from 1 to 64",
            )?;
        }
        ensure(
            p.alpha > 0.0 && p.alpha <= 32.0,
            "robust-spectral.alpha",
            p.alpha,
            "a number above 0 and at most 32",
        )?;
        ensure(
            (0.5..=0.95).contains(&p.keep),
            "robust-spectral.keep",
            p.keep,
            "a number from 0.5 to 0.95",
        )?;
        ensure(
            p.clean_rate > 0.0 && p.clean_rate < 0.5,
            "robust-spectral.clean-rate",
            p.clean_rate,
            "a number above 0 and below 0.5",
        )?;
        ensure(
            (1.0..=100.0).contains(&p.peer_ratio),
            "robust-spectral.peer-ratio",
            p.peer_ratio,
            "a number from 1 to 100",
        )?;
        Ok(p)
    }
}

/// SPECTRE-style robust spectral scanner (`PS002`).
#[derive(Debug, Clone, PartialEq)]
pub struct RobustSpectral {
    params: SpectreValidParams,
}

/// A fitted QUE scoring rule.
struct QueModel {
    fit: RobustFit,
    vectors: Vec<Vec<f64>>,
    w: Vec<f64>,
    top: f64,
}

impl QueModel {
    /// Raw score and log p-value of every row of `y` (`n × k`, rows not
    /// used in the fit), calibrated on these rows: see [`chi_square_null`].
    fn score_rows(&self, y: &[f64], k: usize) -> Vec<(f64, f64)> {
        let raw: Vec<f64> = self
            .fit
            .whiten_all(y)
            .chunks(k)
            .map(|buf| {
                self.vectors
                    .iter()
                    .zip(&self.w)
                    .map(|(v, w)| {
                        let t: f64 = v.iter().zip(buf).map(|(a, b)| a * b).sum();
                        w * t * t
                    })
                    .sum()
            })
            .collect();
        let (scale, nu) = chi_square_null(&raw);
        raw.iter()
            .map(|&t| (t, ln_upper_normal_p(wilson_hilferty(t / (scale * nu), nu))))
            .collect()
    }
}

/// The null distribution of QUE scores, `scale · χ²_ν`, fitted to the
/// scores' median and upper quartile — which a poisoned minority of up to a
/// quarter of the rows does not reach — so that a class whose clean rows are
/// heavier-tailed than a normal cloud gets a heavier-tailed null (small ν).
fn chi_square_null(scores: &[f64]) -> (f64, f64) {
    let mut s: Vec<f64> = scores.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| s[((p * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)];
    let (q50, q75) = (q(0.5), q(0.75));
    let z75 = normal_quantile(0.75);
    let ratio = |nu: f64| chi_square_quantile(nu, z75) / chi_square_quantile(nu, 0.0);
    let target = if q50 > 0.0 { q75 / q50 } else { f64::INFINITY };
    // ratio(ν) falls as ν grows: bisect on ln ν in [ln 0.5, ln 10⁴].
    let (lo, hi) = bisect(0.5f64.ln(), 1e4f64.ln(), |mid| ratio(mid.exp()) > target);
    let nu = (0.5 * (lo + hi)).exp();
    let scale = (q50 / chi_square_quantile(nu, 0.0)).max(1e-300);
    (scale, nu)
}

/// The outcome of one projection dimension for one class.
struct Trial {
    dims: usize,
    raw: Vec<f64>,
    log_p: Vec<f64>,
    class_log_p: f64,
    extreme: usize,
    top_eigenvalue: f64,
}

impl RobustSpectral {
    /// The scanner with default settings.
    pub const DEFAULT: RobustSpectral = RobustSpectral {
        params: SpectreValidParams {
            dims: None,
            alpha: 4.0,
            keep: 0.6,
            clean_rate: 0.05,
            peer_ratio: 3.0,
        },
    };

    /// Parameters to adjust and check.
    pub fn params() -> SpectreParams {
        SpectreParams::default()
    }

    /// A scanner with checked parameters.
    pub fn new(params: SpectreValidParams) -> Self {
        Self { params }
    }

    /// Steps 2–4 on the rows of `y` (`n × k`): the fitted scoring rule.
    fn que_model(&self, y: &[f64], n: usize, k: usize) -> Option<QueModel> {
        let fit = mcd(y, n, k, self.params.keep)?;
        let white = fit.whiten_all(y);
        let mut second = vec![0.0; k * k];
        for row in white.chunks(k) {
            for i in 0..k {
                for j in 0..=i {
                    second[i * k + j] += row[i] * row[j];
                }
            }
        }
        for i in 0..k {
            for j in 0..=i {
                let v = second[i * k + j] / n as f64;
                second[i * k + j] = v;
                second[j * k + i] = v;
            }
        }
        let (values, vectors) = symmetric_eigen(&second, k);
        let top = values[0];
        let mut w: Vec<f64> = if top > 1.0 + 1e-6 {
            values
                .iter()
                .map(|l| (self.params.alpha * (l - 1.0) / (top - 1.0)).exp())
                .collect()
        } else {
            vec![1.0; k]
        };
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= total);
        Some(QueModel {
            fit,
            vectors,
            w,
            top,
        })
    }

    /// Steps 2–5 and 7 on the first `k` of the `kk` components in `y`,
    /// cross-fitted: each half of the rows is scored by the rule fitted on
    /// the other half, so that a row never picks the directions it is
    /// measured along.
    fn trial(&self, y: &[f64], kk: usize, k: usize, halves: &[Vec<usize>; 2]) -> Option<Trial> {
        let n = y.len() / kk;
        let sub = |rows: &[usize]| -> Vec<f64> {
            rows.iter()
                .flat_map(|&r| y[r * kk..r * kk + k].iter().copied())
                .collect()
        };
        let mut raw = vec![0.0; n];
        let mut log_p = vec![0.0; n];
        let mut top = 0.0;
        for h in 0..2 {
            let other = &halves[1 - h];
            let model = self.que_model(&sub(other), other.len(), k)?;
            top += model.top / 2.0;
            let scored = model.score_rows(&sub(&halves[h]), k);
            for (&r, (t, l)) in halves[h].iter().zip(scored) {
                raw[r] = t;
                log_p[r] = l;
            }
        }
        let cut = EXTREME_P.ln();
        let extreme = log_p.iter().filter(|&&l| l <= cut).count();
        Some(Trial {
            dims: k,
            class_log_p: ln_excess_p(extreme, n, self.params.clean_rate),
            raw,
            log_p,
            extreme,
            top_eigenvalue: top,
        })
    }

    fn scan_class(&self, input: &ScanInput<'_>, class: u32, rows: Vec<usize>) -> ClassResult {
        let n = rows.len();
        let want = self.params.dims.unwrap_or(*AUTO_DIMS.last().unwrap());
        let seed = SplitMix64::derive(input.seed, 0x5EC7_0000 + class as u64).next_u64();
        let rows = canonical_order(input.features, rows, seed);
        let (proj, kk) = class_projection(input.features, &rows, want, seed, input.same_scale);
        // Drop components with no spread (rank-deficient classes).
        let var: Vec<f64> = (0..kk)
            .map(|j| {
                (0..n)
                    .map(|i| (proj[i * kk + j] as f64).powi(2))
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        let top_var = var.first().copied().unwrap_or(0.0);
        let kept = var
            .iter()
            .take_while(|&&v| v > 1e-6 * top_var && v > 0.0)
            .count();
        let y: Vec<f64> = proj
            .chunks(kk.max(1))
            .flat_map(|r| r[..kept].iter().map(|&v| v as f64))
            .collect();
        let candidates: Vec<usize> = match self.params.dims {
            Some(d) => vec![d.min(kept)],
            None => {
                let mut c: Vec<usize> = AUTO_DIMS.iter().map(|&d| d.min(kept)).collect();
                c.dedup();
                c
            }
        };
        // `rows` is in canonical order, a seeded hash of the rows' content:
        // its two halves are a random split that follows the rows.
        let halves = [(0..n / 2).collect(), (n / 2..n).collect()];
        let trials: Vec<Trial> = candidates
            .iter()
            .filter(|&&k| k >= 1 && n / 2 >= 10 * k + 10)
            .filter_map(|&k| self.trial(&y, kept, k, &halves))
            .collect();
        let count = trials.len();
        let Some(best) = trials
            .into_iter()
            .min_by(|a, b| a.class_log_p.total_cmp(&b.class_log_p))
        else {
            return ClassResult::unscored(class, rows);
        };
        ClassResult {
            rows,
            raw: best.raw,
            log_p: best.log_p,
            diagnostics: ClassDiagnostics {
                class,
                values: vec![
                    ("dims", best.dims as f64),
                    ("candidates", count as f64),
                    ("top_whitened_eigenvalue", best.top_eigenvalue),
                    ("extreme_rows", best.extreme as f64),
                    ("extreme_share", best.extreme as f64 / n as f64),
                ],
                log_p: None,
            },
        }
    }
}

impl Scanner for RobustSpectral {
    fn code(&self) -> &'static str {
        "PS002"
    }
    fn name(&self) -> &'static str {
        "robust-spectral"
    }
    fn summary(&self) -> &'static str {
        "Samples far from their class's robustly estimated core, QUE-weighted (SPECTRE, Hayase et al. 2021)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn learned_features_only(&self) -> bool {
        true
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = SpectreParams(self.params.clone());
        let name = self.name();
        for (key, value) in options {
            p = match key.as_str() {
                "dims" if value.trim() == "auto" => p.dims(None),
                "dims" => p.dims(Some(parse_value(
                    name,
                    key,
                    value,
                    "`auto` or a whole number",
                )?)),
                "alpha" => p.alpha(parse_value(name, key, value, "a number")?),
                "keep" => p.keep(parse_value(name, key, value, "a number")?),
                "clean-rate" => p.clean_rate(parse_value(name, key, value, "a number")?),
                "peer-ratio" => p.peer_ratio(parse_value(name, key, value, "a number")?),
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &["dims", "alpha", "keep", "clean-rate", "peer-ratio"],
                    ))
                }
            };
        }
        Ok(Box::new(RobustSpectral::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        Ok(scan_with_excess_test(
            input,
            self.params.clean_rate,
            self.params.peer_ratio,
            |c, rows| self.scan_class(input, c, rows),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{auroc, blobs_with_shifted_group};
    use crate::MatrixRef;

    #[test]
    fn planted_subpopulation_is_found_and_its_class_fails() {
        // 3 classes of 800 rows in 24 dimensions; 80 rows of class 0 shifted.
        let (data, labels, truth) = blobs_with_shifted_group(800, 24, 80, 6.0, 21);
        let x = MatrixRef::new(&data, labels.len(), 24).unwrap();
        let input = ScanInput {
            seed: 3,
            ..ScanInput::new(x, &labels, 3)
        };
        let out = RobustSpectral::DEFAULT.scan(&input).unwrap();
        let a = auroc(&out.raw, &truth);
        assert!(a > 0.95, "AUROC {a}");
        let class_p: Vec<f64> = out.classes.iter().map(|d| d.log_p.unwrap()).collect();
        assert!(class_p[0] < -10.0, "{class_p:?}");
        assert!(class_p[1] > -3.0 && class_p[2] > -3.0, "{class_p:?}");
    }

    #[test]
    fn clean_classes_pass() {
        let (data, labels, _) = blobs_with_shifted_group(1500, 16, 0, 0.0, 4);
        let x = MatrixRef::new(&data, labels.len(), 16).unwrap();
        let out = RobustSpectral::DEFAULT
            .scan(&ScanInput::new(x, &labels, 3))
            .unwrap();
        for d in &out.classes {
            assert!(d.log_p.unwrap() > -3.0, "{d:?}");
        }
    }

    #[test]
    fn parameters_are_checked() {
        assert!(RobustSpectral::params().dims(Some(0)).check().is_err());
        assert!(RobustSpectral::params().keep(0.3).check().is_err());
        let e = RobustSpectral::DEFAULT
            .configure(&[("alpha".into(), "0".into())])
            .err()
            .unwrap();
        assert!(e.to_string().contains("robust-spectral.alpha"), "{e}");
        assert!(RobustSpectral::DEFAULT
            .configure(&[("dims".into(), "auto".into())])
            .is_ok());
    }
}
