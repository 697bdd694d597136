//! Poison and backdoor detection algorithms over dense feature matrices.
//!
//! This crate holds the pure algorithms of poisonscan: every scanner reads a
//! row-major `f32` feature matrix plus one class id per row ([`ScanInput`]) and
//! returns per-row scores and per-class diagnostics ([`ScanOutput`]). It does no
//! file I/O, no printing and no fusion of several scanners; those live in the
//! `poisonscan` crate.
//!
//! Every scanner implements the one [`Scanner`] trait and is listed once in
//! [`SCANNERS`], from which the command line's `scanners` and `explain`
//! commands are generated.

mod carried;
pub mod clustering;
pub mod confident;
mod error;
mod foreign;
mod gemm;
pub mod jpeg;
pub mod knn;
pub mod labelflow;
mod linalg;
mod local;
mod matrix;
pub mod pattern;
mod perclass;
mod rng;
mod robust;
pub mod spectral;
pub mod spectre;
pub mod stamp;
pub mod stats;
#[cfg(test)]
mod testutil;
pub mod text;
pub mod tone;
pub mod value;
mod view;
mod warp;

use std::borrow::Cow;

pub use clustering::{ActivationClustering, ClusteringParams, ClusteringValidParams, Reduce};
pub use confident::ConfidentLearning;
pub use error::{ParamError, ScanError};
pub use knn::{KnnLabelDisagreement, KnnParams, KnnValidParams};
pub use matrix::MatrixRef;
pub use pattern::{PatternParams, PatternValidParams, SharedPattern};
pub use rng::SplitMix64;
pub use spectral::{SpectralParams, SpectralSignature, SpectralValidParams};
pub use spectre::{RobustSpectral, SpectreParams, SpectreValidParams};
pub use stamp::{NearValues, StampParams, StampValidParams, StampedPatch};
pub use text::{TextParams, TextTrigger, TextValidParams, TokenSets};
pub use tone::{ToneFilter, ToneParams, ToneValidParams};
pub use value::{ValueParams, ValueTrigger, ValueValidParams};
use view::project_rows;
pub use view::{content_keys, shared_scale, standardised_pca, Derived, PROJECTED_FEATURES};
pub use warp::ImageShape;

/// What a scanner reads: features, labels and a seed.
#[derive(Debug, Clone, Copy)]
pub struct ScanInput<'a> {
    /// One row per sample, row-major, all values finite.
    pub features: MatrixRef<'a>,
    /// Class id of every row, each `< n_classes`.
    pub labels: &'a [u32],
    /// Number of classes; class ids run from 0 to `n_classes - 1`.
    pub n_classes: usize,
    /// Classes to leave out (too small to scan); their rows get no score.
    pub skip_classes: &'a [u32],
    /// Seed for every random choice the scanner makes.
    pub seed: u64,
    /// Whether all features share one scale (see [`shared_scale`], which
    /// decides it from the values): scanners then compare them as they are
    /// instead of standardising each one.
    pub same_scale: bool,
    /// Out-of-sample class probabilities, one row per row of `features` and
    /// one column per class, when the caller has them.
    pub probs: Option<MatrixRef<'a>>,
    /// The inputs themselves, when `features` is a representation learned
    /// *with the labels* (a trained model's activations): the
    /// label-consistency scanners need a view of the data that the labels
    /// did not shape, and read this instead, with its own `same_scale`.
    pub inputs: Option<(MatrixRef<'a>, bool)>,
    /// The layout of the label-agnostic view's rows (`inputs`, else
    /// `features`) when they are images' pixels.
    pub image: Option<ImageShape>,
    /// Where the scanners of one scan share what they derive from the
    /// label-agnostic rows: their projection to [`PROJECTED_FEATURES`]
    /// columns ([`Self::projected`]) and their content keys
    /// ([`Self::row_keys`]); `None`: each computes its own.
    pub derived: Option<&'a Derived>,
    /// Each row's words and word pairs, when the data set has a text
    /// column beside its features (the sentence an embedding encodes): the
    /// text-trigger scanner reads them.
    pub text: Option<&'a TokenSets>,
    /// The label-agnostic view's confusion (`c × c`: contradicted rows by
    /// given label and the class their neighbours point to, the
    /// [`ScanOutput::confusion`] of `knn-label-disagreement`), when that view
    /// was scanned first: how far the classes' natural overlap confuses
    /// each pair and in which direction, for the scanners that weigh a
    /// model's confusions against it (`confident-learning`).
    pub view_flows: Option<&'a [u64]>,
    /// Each row's tone measured on its picture at the picture's own size,
    /// where the pictures were scaled to be scanned (`n ×`
    /// [`tone::TONE_WIDTH`] `× channels`, see [`tone::picture_tone`]):
    /// scaling blends a picture's pixels, and with them the exact colours a
    /// colour filter shares (`tone-filter`). `None`: the tone is read from
    /// the label-agnostic rows themselves.
    pub tones: Option<MatrixRef<'a>>,
    /// Whether the pictures' values are not the values a trigger was set
    /// to: decoded from a lossy format (JPEG) or scaled. Scanners that
    /// read exact values (`stamped-patch`) then look for near ones too.
    pub lossy: bool,
}

impl<'a> ScanInput<'a> {
    /// An input with no skipped class, seed 0, features compared after
    /// standardising, and no class probabilities; set the other fields with
    /// struct-update syntax.
    pub fn new(features: MatrixRef<'a>, labels: &'a [u32], n_classes: usize) -> Self {
        Self {
            features,
            labels,
            n_classes,
            skip_classes: &[],
            seed: 0,
            same_scale: false,
            probs: None,
            inputs: None,
            image: None,
            derived: None,
            text: None,
            view_flows: None,
            tones: None,
            lossy: false,
        }
    }

    /// The label-agnostic rows ([`Self::label_agnostic`]) projected to `m`
    /// columns by a seeded Gaussian matrix (`project_rows`, this input's
    /// seed): the copy shared through `derived` when `m` is
    /// [`PROJECTED_FEATURES`], else computed here.
    pub fn projected(&self, m: usize) -> Cow<'a, [f32]> {
        let (x, _) = self.label_agnostic();
        match self.derived {
            Some(p) if m == PROJECTED_FEATURES => Cow::Borrowed(p.get_or_project(x, self.seed)),
            _ => Cow::Owned(project_rows(x, m, self.seed)),
        }
    }

    /// The label-agnostic rows' content keys ([`content_keys`], with the
    /// labels): the copy shared through `derived`, else computed here.
    /// Scanners draw their samples in the order these keys give
    /// ([`SplitMix64::order_by_content`]), so that a scan does not
    /// depend on the order of the data set's rows.
    pub fn row_keys(&self) -> Cow<'a, [u64]> {
        let (x, _) = self.label_agnostic();
        match self.derived {
            Some(d) => Cow::Borrowed(d.get_or_key(x, self.labels)),
            None => Cow::Owned(content_keys(x, self.labels)),
        }
    }

    /// The label-agnostic rows (see [`Self::label_agnostic`]) as the
    /// neighbour-based scanners look at them: clipped at their `winsorize`
    /// quantiles, standardised unless they share one scale, on their top
    /// `dims` principal components (a seeded randomized SVD). The copy
    /// shared through `derived` when the first scanner to ask used the same
    /// options, else computed here. Returns the rows and the view's width.
    pub fn neighbour_view(&self, winsorize: f64, dims: usize) -> (Cow<'a, [f32]>, usize) {
        let (x, same_scale) = self.label_agnostic();
        if let Some((rows, width)) = self
            .derived
            .and_then(|d| d.get_or_view(x, same_scale, winsorize, dims, self.seed))
        {
            return (Cow::Borrowed(rows), width);
        }
        let (rows, width) = view::neighbour_view(x, same_scale, winsorize, dims, self.seed);
        (Cow::Owned(rows), width)
    }

    /// The `k` nearest neighbours of every row of `view`, the
    /// [`Self::neighbour_view`] made with `winsorize` and `dims` (`width`
    /// columns), searched with `reach` ([`knn::nearest_neighbours`]): the
    /// copy shared through `derived` when the scan's first scanner to ask
    /// asked for the same, else searched here.
    pub fn view_neighbours(
        &self,
        view: &[f32],
        width: usize,
        (winsorize, dims): (f64, usize),
        k: usize,
        reach: knn::Reach,
    ) -> Cow<'a, [u32]> {
        let n = self.labels.len();
        let search = || knn::nearest_neighbours(view, n, width, k, reach);
        match self
            .derived
            .and_then(|d| d.get_or_neighbours(winsorize, dims, k, reach, search))
        {
            Some(nb) => Cow::Borrowed(nb),
            None => Cow::Owned(search()),
        }
    }

    /// The label-agnostic view's source: the inputs when the features were
    /// learned with the labels, else the features; and whether its values
    /// share one scale.
    pub fn label_agnostic(&self) -> (MatrixRef<'a>, bool) {
        self.inputs.unwrap_or((self.features, self.same_scale))
    }

    /// Checks that the shapes agree and the labels are in range.
    pub fn validate(&self) -> Result<(), ScanError> {
        let n = self.features.rows();
        if self.labels.len() != n {
            return Err(ScanError::Shape(format!(
                "{} labels for {} feature rows",
                self.labels.len(),
                n
            )));
        }
        if let Some((row, &l)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= self.n_classes)
        {
            return Err(ScanError::Shape(format!(
                "row {row}: class id {l} is not below the class count {}",
                self.n_classes
            )));
        }
        if self.features.cols() == 0 {
            return Err(ScanError::Shape("the feature matrix has no columns".into()));
        }
        if let Some((x, _)) = self.inputs {
            if x.rows() != n || x.cols() == 0 {
                return Err(ScanError::Shape(format!(
                    "{} input rows of {} values for {} feature rows",
                    x.rows(),
                    x.cols(),
                    n
                )));
            }
        }
        Ok(())
    }

    /// Row indices of every class, in row order (empty for skipped classes).
    pub fn class_rows(&self) -> Vec<Vec<usize>> {
        let mut rows = vec![Vec::new(); self.n_classes];
        for (i, &l) in self.labels.iter().enumerate() {
            rows[l as usize].push(i);
        }
        for &c in self.skip_classes {
            if let Some(r) = rows.get_mut(c as usize) {
                r.clear();
            }
        }
        rows
    }
}

/// What a scanner returns.
///
/// `raw` is the scanner's own score (larger = more suspicious), `log_p` its
/// calibration: the natural log of the probability, under the scanner's model
/// of a clean class, of a score at least as extreme (kept in log space so that
/// far tails do not underflow). Rows of skipped classes get `NaN` in both.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutput {
    /// Raw score per row.
    pub raw: Vec<f64>,
    /// Log of the calibrated tail probability per row, `≤ 0`.
    pub log_p: Vec<f64>,
    /// Diagnostics per scanned class, in class order.
    pub classes: Vec<ClassDiagnostics>,
    /// The class each row most likely belongs to, for scanners that can tell.
    pub suspected: Option<Vec<u32>>,
    /// For scanners whose row scores count only in a class that shows a
    /// poisoned sub-population (see [`class_gate`]): the row log p-values
    /// before that gate. `log_p` holds them gated by the scanner's own class
    /// test; fusion gates them again by every scanner's class tests.
    pub ungated_log_p: Option<Vec<f64>>,
    /// For the label-consistency scanners: the contradicted rows by given
    /// label (row) and the class their evidence points to (column), `c × c`
    /// in class order — the data set's natural confusion, for the
    /// label-noise report.
    pub confusion: Option<Vec<u64>>,
}

impl ScanOutput {
    /// Rows' scores and classes' tests, and nothing else: no suspected
    /// class, nothing ungated, no confusion.
    pub fn new(raw: Vec<f64>, log_p: Vec<f64>, classes: Vec<ClassDiagnostics>) -> Self {
        ScanOutput {
            raw,
            log_p,
            classes,
            suspected: None,
            ungated_log_p: None,
            confusion: None,
        }
    }

    /// An output with no evidence: every row 0 (`NaN` in a skipped class),
    /// every scanned class tested at `p = 1` with no values, each row
    /// suspected of its own label; nothing ungated, no confusion.
    pub fn no_evidence(input: &ScanInput<'_>) -> Self {
        let skipped = |c: u32| input.skip_classes.contains(&c);
        let row = |l: &u32| if skipped(*l) { f64::NAN } else { 0.0 };
        ScanOutput {
            raw: input.labels.iter().map(row).collect(),
            log_p: input.labels.iter().map(row).collect(),
            classes: (0..input.n_classes as u32)
                .filter(|&c| !skipped(c))
                .map(|class| ClassDiagnostics {
                    class,
                    values: Vec::new(),
                    log_p: Some(0.0),
                })
                .collect(),
            suspected: Some(input.labels.to_vec()),
            ungated_log_p: None,
            confusion: None,
        }
    }
}

/// Level at which a class-level test lets a class's rows keep their own
/// p-values in scanners with a class gate: 1 % after a Bonferroni correction
/// over the classes.
pub fn class_gate_level(n_classes: usize) -> f64 {
    (0.01 / n_classes.max(1) as f64).ln()
}

/// A row's log p-value after the class gate: its own when the class's
/// strongest class-level log p-value `class_log_p` is significant at
/// [`class_gate_level`], else raised to `class_log_p` — such a row carries no
/// more evidence than its class does.
pub fn class_gate(row_log_p: f64, class_log_p: f64, n_classes: usize) -> f64 {
    if row_log_p.is_nan() || class_log_p <= class_gate_level(n_classes) {
        row_log_p
    } else {
        row_log_p.max(class_log_p)
    }
}

/// Numbers a scanner reports about one class, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassDiagnostics {
    /// The class id.
    pub class: u32,
    /// Named values, such as the top eigenvalue. A class test that is the
    /// Bonferroni minimum of several sub-tests names each sub-test's log
    /// p-value `<test>_log_p` (and no other value ends so): `log_p` is then
    /// `min(0, min_t log_p_t + ln T)` over the `T` of them, which lets a
    /// sharded scan combine each sub-test over the shards before taking the
    /// minimum ([`sub_test_log_p`]).
    pub values: Vec<(&'static str, f64)>,
    /// Log p-value of the scanner's own class-level test, "this class holds
    /// a poisoned sub-population", for scanners that have one.
    pub log_p: Option<f64>,
}

impl ClassDiagnostics {
    /// The named value `key`, if the scanner reported it.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// The class log p-value of sub-tests named `<test>_log_p` (see
/// [`ClassDiagnostics::values`]): their minimum, Bonferroni-corrected over
/// their number; `None` when there are none.
pub fn sub_test_log_p<'a>(values: impl IntoIterator<Item = (&'a str, f64)>) -> Option<f64> {
    let (count, min) = values
        .into_iter()
        .filter(|(k, _)| k.ends_with("_log_p"))
        .fold((0usize, 0.0f64), |(n, m), (_, v)| (n + 1, m.min(v)));
    (count > 0).then(|| (min + (count as f64).ln()).min(0.0))
}

/// A detection algorithm.
///
/// Implementors are configured with validated parameters before they are
/// used; `scan` must give the same output for the same input and seed
/// whatever the number of threads.
pub trait Scanner: Send + Sync {
    /// Stable code, such as `PS001`. Codes are never reused.
    fn code(&self) -> &'static str;
    /// Kebab-case name after what it finds, such as `spectral-signature`.
    fn name(&self) -> &'static str;
    /// One line: what it detects.
    fn summary(&self) -> &'static str;
    /// Long documentation (Markdown) with the sections *What it detects*,
    /// *Why it matters*, *Method*, *Options*, *Known false positives*,
    /// *References*.
    fn doc(&self) -> &'static str;
    /// Whether the scanner needs class probabilities (`ScanInput::probs`);
    /// the pipeline skips it, with a warning, when there are none.
    fn needs_probs(&self) -> bool {
        false
    }
    /// Whether the scanner looks for the trace poison leaves in a *learned*
    /// representation (a model's activations, an embedding) and mistakes the
    /// natural modes of raw inputs (pixels, tabular columns) for it; callers
    /// then run it on raw inputs only when asked for by name.
    fn learned_features_only(&self) -> bool {
        false
    }
    /// Whether the scanner reads nothing of its input but the label-agnostic
    /// view ([`ScanInput::label_agnostic`]), the labels, the classes to skip
    /// and the seed: then its output does not depend on a representation
    /// model, and callers may run it while the model trains.
    fn label_agnostic_only(&self) -> bool {
        false
    }
    /// Whether another scanner's failed class test may open this scanner's
    /// row gate (its `ungated_log_p`) only where the label-agnostic view
    /// corroborates the group it found: where the rows it suspects are
    /// contradicted by their neighbours far more often than the class's
    /// other rows. For scanners whose group in a class failed for another
    /// reason is often a natural mode rather than the planted rows.
    fn row_gate_needs_corroboration(&self) -> bool {
        false
    }
    /// Whether the rows behind the scanner's class test (its `excess_rows`)
    /// are rows it gives evidence to and no others — a group it names, such
    /// as the rows carrying a word or holding a stamp: in a class it fails,
    /// fusion then flags those rows before any other scanner's.
    fn names_its_rows(&self) -> bool {
        false
    }
    /// Why the scanner has nothing to say about `input` (features it is
    /// not built for), or `None` when it applies; callers then skip it and
    /// report the reason.
    fn skip_reason(&self, _input: &ScanInput<'_>) -> Option<String> {
        None
    }
    /// What a user should know about how the scanner treats `input` (an
    /// approximation it makes at this size), for the summary's warnings;
    /// `None` when there is nothing to say.
    fn note(&self, _input: &ScanInput<'_>) -> Option<String> {
        None
    }
    /// Scores every row of `input`.
    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError>;
    /// A copy with the given options (`key`, `value`; keys as in the doc's
    /// *Options*) set on top of this scanner's, validated.
    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError>;
}

/// Every scanner, with its default settings, in code order.
pub static SCANNERS: &[&dyn Scanner] = &[
    &SpectralSignature::DEFAULT,
    &RobustSpectral::DEFAULT,
    &ActivationClustering::DEFAULT,
    &KnnLabelDisagreement::DEFAULT,
    &ConfidentLearning::DEFAULT,
    &SharedPattern::DEFAULT,
    &ValueTrigger::DEFAULT,
    &StampedPatch::DEFAULT,
    &TextTrigger::DEFAULT,
    &ToneFilter::DEFAULT,
];

/// Finds a scanner of [`SCANNERS`] by code (`PS001`, any case) or name.
pub fn find_scanner(key: &str) -> Option<&'static dyn Scanner> {
    SCANNERS
        .iter()
        .copied()
        .find(|s| s.code().eq_ignore_ascii_case(key) || s.name() == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for s in SCANNERS {
            assert!(codes.insert(s.code()), "duplicate code {}", s.code());
            assert!(names.insert(s.name()), "duplicate name {}", s.name());
            assert!(s.code().starts_with("PS") && s.code().len() == 5);
            assert!(s.name().chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            for section in [
                "## What it detects",
                "## Why it matters",
                "## Method",
                "## Options",
                "## Known false positives",
                "## References",
            ] {
                assert!(s.doc().contains(section), "{} lacks {section}", s.code());
            }
        }
    }

    #[test]
    fn configure_checks_keys_and_values() {
        let knn = find_scanner("knn-label-disagreement").unwrap();
        let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(knn.configure(&set("unanimity-ratio", "3")).is_ok());
        let e = knn.configure(&set("unanimity-ratio", "90")).err().unwrap();
        assert!(
            e.to_string()
                .contains("knn-label-disagreement.unanimity-ratio"),
            "{e}"
        );
        let e = knn.configure(&set("neighbours", "5")).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("unknown option `knn-label-disagreement.neighbours`; known:"),
            "{e}"
        );
        let e = SCANNERS[0].configure(&set("k", "two")).err().unwrap();
        assert_eq!(
            e.to_string(),
            "option `spectral-signature.k` is `two`, but it must be a whole number"
        );
    }

    #[test]
    fn find_by_code_or_name() {
        assert_eq!(find_scanner("ps001").unwrap().name(), "spectral-signature");
        assert_eq!(find_scanner("spectral-signature").unwrap().code(), "PS001");
        assert!(find_scanner("nope").is_none());
    }
}
