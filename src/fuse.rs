//! Fusion: turns each scanner's calibrated p-values into suspicion scores in
//! [0, 1], combines the scanners into one score per row, flags rows and gives
//! each class and the data set a verdict.
//!
//! # Calibration
//! A scanner reports, per row, `p`: the probability under its model of a clean
//! class of a result at least as extreme. With `N` rows scanned, the
//! suspicion is `1 / (1 + N·p)`: the odds form of a Bonferroni correction.
//! A suspicion of 0.99 means `N·p ≤ 1/99`, so on clean data that follows the
//! scanner's null model the chance that *any* row reaches 0.99 is at most
//! about 1 %, whatever the data set's size. The map is strictly monotone in
//! `p`, but in floating point it rounds to exactly 1.0 once `N·p` is below
//! about 1e-16, which many planted and natural rows reach; `significance`,
//! `−log₁₀` of the same p-value, keeps their order.
//!
//! # Class gate
//! Some scanners' row p-values are evidence only in a class that holds a
//! poisoned sub-population (`robust-spectral`, `confident-learning`: every
//! clean class has rows they call extreme). They return them gated by their
//! own class test and ungated beside it; fusion gates the ungated values by
//! the strongest class test of *any* scanner (Bonferroni over the tests): a
//! row keeps its own p-value when that test is significant at 1 % over the
//! classes, and is raised to the class's p-value otherwise. So a class failed by the label-agnostic
//! `knn-label-disagreement` test lets `robust-spectral` rank its rows.
//! A scanner whose group in such a class is often a natural mode
//! (`shared-pattern`: [`Corroborate::row_gate`]) is opened by another
//! test only where the label-agnostic view corroborates its group (see
//! "Corroboration"); its own test opens it as before.
//!
//! # Combination
//! With `S` scanners the fused p-value of a row is `min(1, S · min_s p_s)`
//! (Bonferroni across scanners), and the fused score is its suspicion. `S`
//! counts the scanners that tested something (a class test, or evidence on
//! a row): one that found nothing to test is not in the family.
//!
//! # Class verdicts
//! A class fails when a scanner's class-level test ("this class holds a
//! poisoned sub-population"), its p-value turned into a suspicion over all
//! classes and class tests the same way, reaches `threshold` — and, for a
//! test that estimates how many planted rows are behind it
//! (`excess_rows`), when that estimate is at least `min_flagged`: poisoning
//! plants a group of rows, and a lone odd sample is not an attack. The
//! estimate is counted in the data set's own unit of copies: over the rows'
//! mean multiplicity (rows over distinct rows, by content key), so a data
//! set written twice gets the verdict it gets once — two odd sevens in 300
//! digits do not fail their class, and their four copies in the same 300
//! digits written twice did (by `shared-pattern`, whose bimodality does not
//! change with copies). Copies of one sample in data whose other rows are
//! distinct (an attacker planting one image many times) barely move the
//! mean and still count. Scanners
//! without a class test (`spectral-signature`) never fail a class on their
//! own: their row scores count in the classes that other tests fail (on
//! learned representations of real data every class has rows they call
//! extreme; measured on Fashion-MNIST's trousers, NASA's shuttle sensors and
//! overlapping tables).
//!
//! # Corroboration
//! On a representation the scan's own model learned, the sub-population
//! scanners (`robust-spectral`, `activation-clustering`) see natural modes
//! of a class as readily as a planted group (a tabular class made of three
//! clusters, measured: 28 % of its rows extreme in an MLP's representation).
//! Their class test then fails a class only when the label-agnostic view
//! agrees: the rows they rank most extreme are more often contradicted by
//! their input-space neighbours than the class's other rows (Mann–Whitney,
//! z ≥ 3). A dirty-label group is both odd and of another class's making;
//! a natural mode is only odd. On a user's embedding column the test stands
//! alone, as before. The same check decides whether another scanner's
//! failed class test opens `shared-pattern`'s row gate: measured on
//! Fashion-MNIST without a model, its group in the failed target class of
//! a 0.3 % patch is contradicted at AUC 0.985 (the planted rows, which its
//! own test had fallen short of naming), while the bimodal side it picks in
//! classes failed by flips or warps scores 0.37–0.53.
//!
//! A backed group also weighs twice. Its own class test needs less: its
//! family is divided by `(classes + 1) / (backed classes + 1)`, the
//! data set's own (conservative) estimate of how rare a backed group is —
//! a clean class needs both an odd split and a label view that backs it,
//! and the two look at different things (a pattern in the inputs; labels
//! of neighbours). With one backed class in ten the test needs 5.5 times
//! less; where every class is backed it needs as much as before. And in a
//! failed class the group's estimate and ranking say which rows are
//! flagged, in place of the failing test's count — or beside it, where the
//! group is under half of that count or the failing test names its rows
//! (see `fuse`).
//!
//! With `fail_on_noise = r`, a class also fails when the label noise a
//! scanner measured in it (`noise_rows`: rows contradicted by their
//! neighbours, label issues) exceeds `r` of its rows, tested the same way
//! against Binomial(rows, r): a policy for users who gate on label quality,
//! off by default, since natural ambiguity is not poisoning.
//!
//! The class tests share the error level by a *weighted* Bonferroni
//! correction, fixed before looking at the data: when the label-agnostic
//! test (`knn-label-disagreement`, whose null is calibrated on the data set's
//! own classes) runs beside other class tests, it gets half of the level and
//! the others share the other half; alone, or with no label-agnostic test,
//! the tests share it equally. An equal share cost the label-agnostic test
//! the gate whenever a model's tests ran beside it (MNIST with the CNN, blend
//! 1 %: log p −8.21 in the target class passed with `--model none` and was
//! lifted to −6.82, above the 1 %/10-classes level of −6.91, by four tests).
//! Its false alarms are bounded by those of a scan without the model, where
//! it stands alone at the whole level; every other test is held to a
//! stricter level than under an equal share.
//!
//! The data set fails when any class fails.
//!
//! # Flags
//! Only rows of a failed class are flagged — a clean class stays quiet even
//! where single rows look odd. In a class failed by a class test that
//! estimates how many planted rows are behind it (`excess_rows`: the label
//! tests), that many of its rows are flagged, highest fused evidence first
//! — the rows a failing test names first, where the test's rows are a group
//! it names (`text-trigger`'s rows carrying a word, `stamped-patch`'s
//! rows holding a stamp: another scanner's natural tail in the class, or
//! a group another scanner delimits in it, is not behind its estimate):
//! a failure always names the rows behind it, and a class whose natural
//! boundary rows score as high as the planted ones (every contradicted row
//! of a confusable class does) is not flagged whole. In a class failed
//! otherwise, the rows whose fused score reaches `threshold`. In every
//! failed class, also the rows that stand out against the rows of the
//! classes that passed ([`EmpiricalNull`]: the most rows for which the
//! expected share of clean ones stays within [`FALSE_FLAG_SHARE`], by how
//! contradicted they are in the label-agnostic view when a label scanner
//! ran, by their fused evidence otherwise); an
//! excess estimate is a floor, and it misses planted rows when the planted
//! group moved the class's own baseline (MNIST BadNets 10 %, `--model none`:
//! recall 55 % by the estimate, 99.9 % with the empirical null). The
//! null's rates are scaled up for a class whose natural rows (its
//! contradicted rows less the estimate) are contradicted more often than
//! the passing classes' rows: a small class beside large ones. Where a
//! group the label-agnostic view backs accounts for the failure (at least
//! half the failing test's count), the null judges the class's other rows
//! without the group's: a confusable class's natural boundary rows do not
//! ride along with a large planted group. A class that the label-agnostic
//! test weighed and passed (it failed by another test) gets no rows from
//! the null, and its rows are ranked for the failing test's count without
//! the label-agnostic evidence: its contradiction is what the data set's
//! other classes make natural for it, and a small class among large ones is
//! contradicted more than they are. Plus,
//! when a `budget` is given, the most significant `budget` fraction of rows: a
//! removal list that does not change the verdict. Classes with fewer than two
//! rows are skipped.
//!
//! # Ranking
//! Rows are ranked (`rank`, from 1; for AUROC, removal budgets and
//! reports) with the flagged rows first, then the others, each part by
//! significance. A row's significance weighs its own evidence only, and on
//! data with natural label noise the contradicted rows of clean classes
//! (every neighbour of another label) carry more of it than a planted group
//! that a class test names: on the emoji with a checkerboard on 1 % of the
//! rows relabelled objects (seed 2, `--model none`), the 76 planted rows
//! were the 76 flagged (100 / 100 %), yet 467 clean rows of passing classes
//! ranked above them (AUROC 0.938, recall 0 at a budget of 1.5 × the
//! planted rows); ranked flagged first, 1.000 and 100 %. The order is what
//! the verdict says: the rows behind a failure before the rows of classes
//! that passed. A removal `budget` takes the top of this ranking.

use poisonscan_scanners::stats::ln_binomial_upper;
use poisonscan_scanners::{class_gate, ScanOutput};
use serde::Serialize;

use crate::settings::ScanSettings;

/// Orders rows `a` and `b` by significance, highest first (`NaN` last),
/// then by index: the order rows are ranked and reported in.
pub fn by_significance(significance: &[f64], a: usize, b: usize) -> std::cmp::Ordering {
    significance_order(significance, a, b).then(a.cmp(&b))
}

/// [`by_significance`] without the index: equal for equal significance.
fn significance_order(significance: &[f64], a: usize, b: usize) -> std::cmp::Ordering {
    let key = |i: usize| {
        if significance[i].is_nan() {
            f64::NEG_INFINITY
        } else {
            significance[i]
        }
    };
    key(b).total_cmp(&key(a))
}

/// Suspicion in [0, 1] of a row with log p-value `log_p` among `family` rows.
pub fn suspicion(log_p: f64, family: usize) -> f64 {
    suspicion_in(log_p, family as f64)
}

/// [`suspicion`] among a family of `family` tests, a whole or weighted count.
fn suspicion_in(log_p: f64, family: f64) -> f64 {
    if log_p.is_nan() {
        return f64::NAN;
    }
    let x = family.max(1.0).ln() + log_p;
    // 1 / (1 + e^x), stable at both ends
    if x > 0.0 {
        let e = (-x).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + x.exp())
    }
}

/// Verdict of a class or a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No sign of poisoning.
    Pass,
    /// Poisoning suspected.
    Fail,
    /// Not scanned (too few rows).
    Skipped,
}

/// The fused result for one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassVerdict {
    /// Class id.
    pub class: u32,
    /// Rows scanned.
    pub rows: usize,
    /// Rows whose fused score reaches the threshold.
    pub evidence: usize,
    /// Rows flagged (evidence in a failed class, plus budget).
    pub flagged: usize,
    /// Highest fused score.
    pub max_score: f64,
    /// Highest class-level suspicion of the scanners with a class test
    /// (`NaN` when none ran).
    pub class_score: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// The scanners (bit `s` = the `s`-th output) whose class test or row
    /// count failed the class.
    #[serde(skip)]
    pub failed_by: u64,
    /// The scanners whose class test was significant but not corroborated
    /// by the label-agnostic view (bit `s` = the `s`-th output).
    #[serde(skip)]
    pub uncorroborated: u64,
    /// The Mann–Whitney AUC of the last corroboration check (`NaN` if none).
    pub corroboration_auc: f64,
    /// Whether the `--fail-on-noise` policy failed the class.
    pub noise_failed: bool,
}

/// Whether the rows that `o` ranks most extreme in a class (`suspects` of
/// them, at least 10 and at most half the class) are also more often
/// contradicted in the label-agnostic view (`view`: each row's
/// disagreement) than the class's other rows: a one-sided Mann–Whitney test
/// at z ≥ 3 with an AUC of at least [`CORROBORATION_AUC`]. Also returns the
/// AUC.
///
/// A planted dirty-label group is both: an odd sub-population in a learned
/// representation, and rows whose inputs resemble another class. A natural
/// mode of a class (a third cluster of a tabular class, a second style of a
/// digit) is only the first.
fn corroborated(o: &ScanOutput, view: &[f64], rows: &[usize], suspects: usize) -> (bool, f64) {
    let lp = o.ungated_log_p.as_deref().unwrap_or(&o.log_p);
    let mut ranked: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| !lp[i].is_nan() && !view[i].is_nan())
        .collect();
    let n = ranked.len();
    if n < 20 {
        return (false, f64::NAN);
    }
    let m = suspects.clamp(10, n / 2);
    ranked.sort_by(|&a, &b| lp[a].total_cmp(&lp[b]).then(a.cmp(&b)));
    let scores: Vec<f64> = ranked.iter().map(|&i| view[i]).collect();
    let suspect: Vec<bool> = (0..n).map(|r| r < m).collect();
    let auc = crate::eval::auroc(&scores, &suspect).unwrap_or(f64::NAN);
    // the Mann–Whitney U behind the AUC, against its null spread
    let (m_f, r_f) = (m as f64, (n - m) as f64);
    let u = auc * m_f * r_f;
    let sd = (m_f * r_f * (n as f64 + 1.0) / 12.0).sqrt();
    (
        sd > 0.0 && (u - m_f * r_f / 2.0) / sd >= 3.0 && auc >= CORROBORATION_AUC,
        auc,
    )
}

/// Least probability that a suspect row is more contradicted than another
/// row of its class (the Mann–Whitney AUC) for corroboration: sparse planted
/// rows are contradicted far more often than their class; a natural mode
/// that borders another class somewhat more (measured: 0.50–0.75 on the
/// clean corpus's MLP representations) — and so is a dense planted group
/// that became its own neighbourhood (0.65 for a 5 % BadNets patch on
/// MNIST), which this gate then misses.
const CORROBORATION_AUC: f64 = 0.8;

/// Largest expected share of clean rows among the rows a failed class gets
/// flagged by the empirical null (see [`EmpiricalNull`]). Measured on
/// MNIST and Fashion-MNIST (`--model none`, seed 1): the estimate overstates
/// the real share about twofold when the target is a tidy class (MNIST
/// blend 1 %: 4.5 % real at 10 % estimated); 0.05 added no row there.
const FALSE_FLAG_SHARE: f64 = 0.1;

/// How often the rows of the classes that passed reach a given evidence: the
/// empirical null for the rows of a failed class. Natural boundary rows of a
/// failed class score like those of the other classes; planted rows beyond
/// them.
struct EmpiricalNull {
    /// The evidence of every row of a passing class, sorted (most
    /// suspicious first).
    rows: Vec<f64>,
}

impl EmpiricalNull {
    /// Least passing classes, and rows in them, to estimate from.
    const MIN_CLASSES: usize = 2;
    const MIN_ROWS: usize = 100;

    /// The null from the rows of passing classes, or `None` when too few
    /// classes passed (every class of a label-flip attack fails).
    fn new(evidence: &[f64], labels: &[u32], classes: &[ClassVerdict]) -> Option<Self> {
        let passing = classes
            .iter()
            .filter(|c| c.verdict == Verdict::Pass)
            .count();
        let mut rows: Vec<f64> = evidence
            .iter()
            .zip(labels)
            .filter(|&(v, &l)| !v.is_nan() && classes[l as usize].verdict == Verdict::Pass)
            .map(|(&v, _)| v)
            .collect();
        rows.sort_by(f64::total_cmp);
        (passing >= Self::MIN_CLASSES && rows.len() >= Self::MIN_ROWS).then_some(Self { rows })
    }

    /// How many of a failed class's rows (`values`, sorted most suspicious
    /// first) to flag so that the expected share of clean rows among them,
    /// by this null, stays within `share`: the step-up rule of Benjamini and
    /// Hochberg, with the passing classes' share of rows at or beyond each
    /// value in place of a p-value.
    fn discoveries(&self, values: &[f64], share: f64) -> usize {
        let n = values.len() as f64;
        let null = self.rows.len() as f64;
        let mut best = 0;
        for (k, &t) in values.iter().enumerate() {
            let rate = self.rows.partition_point(|&v| v <= t) as f64 / null;
            if n * rate <= share * (k + 1) as f64 {
                best = k + 1;
            }
        }
        best
    }
}

/// `rows` ordered by `keys` (lowest first: most suspicious), each key
/// breaking the ties of the ones before it, then by content (see
/// [`by_content`]).
fn ranked(rows: &[usize], keys: &[&[f64]], content: &[u64]) -> Vec<usize> {
    let mut rows = rows.to_vec();
    rows.sort_by(|&a, &b| {
        keys.iter()
            .fold(std::cmp::Ordering::Equal, |o, k| {
                o.then(k[a].total_cmp(&k[b]))
            })
            .then_with(|| by_content(content, a, b))
    });
    rows
}

/// Orders rows whose evidence ties by their content keys (`content`,
/// empty when unknown), then by index: which of a tie's rows a count
/// takes does not depend on the data set's row order (copies of one row,
/// interchangeable, keep theirs).
fn by_content(content: &[u64], a: usize, b: usize) -> std::cmp::Ordering {
    match (content.get(a), content.get(b)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
    .then(a.cmp(&b))
}

/// Scores, flags and verdicts for every scanned row and class.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// Fused score per row (`NaN` for rows of skipped classes).
    pub score: Vec<f64>,
    /// Its significance: `−log₁₀` of the fused p-value, which the score is
    /// a function of but, unlike the score, does not round to 1.0 (`NaN`
    /// where the score is). Rows are ranked by it.
    pub significance: Vec<f64>,
    /// Each scanner's own suspicion per row, in settings order.
    pub per_scanner: Vec<Vec<f64>>,
    /// Flag per row.
    pub flagged: Vec<bool>,
    /// Each row's place in the ranking, from 1 (`None` for rows of skipped
    /// classes): the flagged rows first, then the others, each by
    /// significance (see "Ranking").
    pub rank: Vec<Option<u64>>,
    /// Per row, the scanners (bit `s` = the `s`-th output) whose own score
    /// reaches the threshold: the reasons behind a high fused score; for a
    /// flagged row that no scanner's own score names, the scanners whose
    /// class test failed its class.
    pub fired: Vec<u64>,
    /// Suspected true class per row, from the first scanner that tells.
    pub suspected: Option<Vec<u32>>,
    /// Per class, in class order.
    pub classes: Vec<ClassVerdict>,
    /// The data set's verdict.
    pub verdict: Verdict,
    /// Distinct rows (by content key; all rows when the keys are unknown).
    pub distinct_rows: usize,
}

/// Each scanner's row log p-values as fusion uses them: those of scanners
/// with a class gate (`ungated_log_p`) gated again by the strongest class test
/// of *any* scanner, so that a class another scanner finds poisoned lets
/// their rows count — measured on MNIST with a 1 % blended trigger and a CNN:
/// `robust-spectral` ranked the poisoned rows of the target class perfectly
/// (AUROC 1.000) while its own class test, against classes whose learned
/// representation is just as heavy-tailed, stayed quiet; the label-agnostic
/// `knn-label-disagreement` test failed the class.
/// `tests` is the number of scanners with a class test.
///
/// A scanner whose row gate needs corroboration (`corroborate[s].row_gate`)
/// keeps it open where its own test opened it, or where another test did
/// and `label_view` backs the group it found in that class; elsewhere its
/// rows stay as its own test left them.
fn gated_log_p(
    outputs: &[&ScanOutput],
    labels: &[u32],
    class_rows: &[Vec<usize>],
    tests: usize,
    backed: &[Vec<Backing>],
) -> Vec<Vec<f64>> {
    let n_classes = class_rows.len();
    let mut class_lp = vec![0.0f64; n_classes];
    for o in outputs {
        for d in &o.classes {
            if let Some(lp) = d.log_p {
                let c = &mut class_lp[d.class as usize];
                *c = c.min(lp);
            }
        }
    }
    // Bonferroni over the scanners' class tests.
    let correction = (tests.max(1) as f64).ln();
    class_lp
        .iter_mut()
        .for_each(|c| *c = (*c + correction).min(0.0));
    outputs
        .iter()
        .enumerate()
        .map(|(s, o)| {
            let Some(row) = &o.ungated_log_p else {
                return o.log_p.clone();
            };
            let backed = &backed[s];
            row.iter()
                .zip(labels)
                .zip(&o.log_p)
                .map(|((&lp, &l), &own)| {
                    let gated = class_gate(lp, class_lp[l as usize], n_classes);
                    match backed[l as usize] {
                        Backing::NotAsked => gated,
                        Backing::Backed { .. } => gated.min(own),
                        Backing::Unbacked => own,
                    }
                })
                .collect()
        })
        .collect()
}

/// What the label-agnostic view says of the group an output found in a
/// class.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backing {
    /// The output asks for no corroboration of its row gate (see
    /// [`Corroborate::row_gate`]).
    NotAsked,
    /// The view does not back the group.
    Unbacked,
    /// The view backs the group, which the output estimates at `rows` rows
    /// (its `excess_rows`, when it gives one).
    Backed { rows: Option<f64> },
}

/// Per output and class, what the label-agnostic view says of the group
/// the output found in the class.
fn backed_groups(
    outputs: &[&ScanOutput],
    class_rows: &[Vec<usize>],
    corroborate: &[Corroborate],
    label_view: Option<&[f64]>,
) -> Vec<Vec<Backing>> {
    outputs
        .iter()
        .enumerate()
        .map(|(s, o)| {
            let mut backed = vec![Backing::NotAsked; class_rows.len()];
            if corroborate.get(s).is_some_and(|c| c.row_gate) {
                for d in &o.classes {
                    let rows = &class_rows[d.class as usize];
                    let excess = d.value("excess_rows");
                    let suspects = excess.unwrap_or(0.0).max(0.0) as usize;
                    let ok = label_view.is_some_and(|view| corroborated(o, view, rows, suspects).0);
                    backed[d.class as usize] = if ok {
                        Backing::Backed { rows: excess }
                    } else {
                        Backing::Unbacked
                    };
                }
            }
            backed
        })
        .collect()
}

/// How [`fuse`] weighs output `s` beyond its numbers: what it needs the
/// label-agnostic view to corroborate (see "Corroboration"), and whether it
/// names the rows behind its class test (see "Flags").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Corroborate {
    /// Its class test fails a class only when corroborated.
    pub class_test: bool,
    /// Another scanner's class test opens its row gate only when
    /// corroborated ([`Scanner::row_gate_needs_corroboration`]).
    ///
    /// [`Scanner::row_gate_needs_corroboration`]: poisonscan_scanners::Scanner::row_gate_needs_corroboration
    pub row_gate: bool,
    /// The rows behind its class test's estimate are the rows it gives
    /// evidence to ([`Scanner::names_its_rows`]).
    ///
    /// [`Scanner::names_its_rows`]: poisonscan_scanners::Scanner::names_its_rows
    pub names_rows: bool,
}

/// Fuses the outputs of the scanners (in settings order). `corroborate[s]`:
/// what output `s` needs the label-agnostic view to corroborate; missing
/// entries mean nothing. `keys`: the rows' content keys (their values and
/// label, [`poisonscan_scanners::content_keys`]), which count copies (see
/// "Class verdicts"); empty when unknown (every row then counts as
/// distinct).
pub fn fuse(
    outputs: &[&ScanOutput],
    labels: &[u32],
    n_classes: usize,
    skipped: &[u32],
    settings: &ScanSettings,
    corroborate: &[Corroborate],
    keys: &[u64],
) -> Fused {
    let n = labels.len();
    let distinct_rows = distinct(keys).filter(|_| keys.len() == n).unwrap_or(n);
    // The least planted-row estimate a class test needs, in rows: in units
    // of the data set's mean copies per row, to within half a row (three
    // rows are three samples where a few rows of the data set are copied)
    let min_rows = settings.min_flagged as f64 * n as f64 / distinct_rows.max(1) as f64 - 0.5;
    let scanned = labels.iter().filter(|l| !skipped.contains(l)).count();
    let has_test = |o: &ScanOutput| o.classes.iter().any(|d| d.log_p.is_some());
    // Rows are corrected over the scanners that tested something: one that
    // found nothing to test (no class test, no row evidence: `stamped-patch`
    // on pictures without a stamp) is not in the family, so a data set reads
    // the same whether or not such a scanner ran (pictures read as images,
    // or the same values read as a vector)
    let s = outputs
        .iter()
        .filter(|o| has_test(o) || o.log_p.iter().any(|&v| v < 0.0))
        .count()
        .max(1) as f64;
    let tests = outputs.iter().filter(|o| has_test(o)).count();
    let mut class_rows: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        class_rows[l as usize].push(i);
    }
    // The label-agnostic disagreement of every row, from the first
    // label-consistency scanner, for corroboration.
    let label_scanner = outputs
        .iter()
        .position(|o| o.confusion.is_some() && o.suspected.is_some());
    let label_view: Option<&[f64]> = label_scanner.map(|s| outputs[s].raw.as_slice());
    let backed = backed_groups(outputs, &class_rows, corroborate, label_view);
    let log_p = gated_log_p(outputs, labels, &class_rows, tests, &backed);
    let per_scanner: Vec<Vec<f64>> = log_p
        .iter()
        .map(|lp| lp.iter().map(|&lp| suspicion(lp, scanned)).collect())
        .collect();
    // Fused log p-value per row, kept unsaturated for ranking (the
    // suspicion of many rows is 1.0 in floating point).
    // Bonferroni across the scanners: `min(1, S · min_s p_s)`, NaN for rows
    // of skipped classes or with no finite evidence.
    let bonferroni = |i: usize, lps: &mut dyn Iterator<Item = f64>| {
        let min_lp = lps.fold(f64::INFINITY, f64::min);
        if skipped.contains(&labels[i]) || !min_lp.is_finite() {
            f64::NAN
        } else {
            (min_lp + s.ln()).min(0.0)
        }
    };
    let fused_lp: Vec<f64> = (0..n)
        .map(|i| bonferroni(i, &mut log_p.iter().map(|lp| lp[i])))
        .collect();
    let score: Vec<f64> = fused_lp.iter().map(|&lp| suspicion(lp, scanned)).collect();
    let significance: Vec<f64> = fused_lp
        .iter()
        .map(|&lp| -lp / std::f64::consts::LN_10)
        .collect();
    // Ties of the fused value (rows on which one scanner is equally sure)
    // are broken by the sum of every scanner's evidence.
    let total_lp: Vec<f64> = (0..n)
        .map(|i| log_p.iter().map(|lp| lp[i]).filter(|v| v.is_finite()).sum())
        .collect();
    let mut classes: Vec<ClassVerdict> = (0..n_classes as u32)
        .map(|c| ClassVerdict {
            class: c,
            rows: 0,
            evidence: 0,
            flagged: 0,
            max_score: f64::NAN,
            class_score: f64::NAN,
            verdict: if skipped.contains(&c) {
                Verdict::Skipped
            } else {
                Verdict::Pass
            },
            failed_by: 0,
            uncorroborated: 0,
            corroboration_auc: f64::NAN,
            noise_failed: false,
        })
        .collect();
    // Rows each failed class test says are behind it.
    let mut excess = vec![0usize; n_classes];
    // the same, of the failing tests that name their rows
    let mut named_excess = vec![0usize; n_classes];
    // Class-level tests, corrected over classes × tests (weighted: see
    // "Class verdicts").
    let classes_scanned = n_classes.saturating_sub(skipped.len()).max(1) as f64;
    let primary = label_scanner.filter(|&s| has_test(outputs[s]) && tests > 1);
    let family = |s: usize| -> f64 {
        classes_scanned
            * match primary {
                Some(p) if p == s => 2.0,
                Some(_) => 2.0 * (tests - 1) as f64,
                None => tests.max(1) as f64,
            }
    };
    // A group the label-agnostic view backs is rare in a clean class: its
    // test then needs less, by the share of classes with a backed group
    // (see "Corroboration").
    let backed_classes: Vec<usize> = backed
        .iter()
        .map(|b| {
            b.iter()
                .filter(|b| matches!(b, Backing::Backed { .. }))
                .count()
        })
        .collect();
    let relief = |s: usize, c: usize| -> f64 {
        match backed[s][c] {
            Backing::Backed { .. } => (classes_scanned + 1.0) / (backed_classes[s] as f64 + 1.0),
            _ => 1.0,
        }
    };
    for (s, o) in outputs.iter().enumerate() {
        for d in &o.classes {
            let c = d.class as usize;
            if let Some(lp) = d.log_p {
                let cs = suspicion_in(lp, family(s) / relief(s, c));
                let cv = &mut classes[c];
                if cv.class_score.is_nan() || cs.is_nan() || cv.class_score < cs {
                    cv.class_score = cs;
                }
                let e = d.value("excess_rows");
                let enough = e.is_none_or(|e| e >= min_rows);
                let mut backed = true;
                if corroborate.get(s).is_some_and(|c| c.class_test) && cs >= settings.threshold {
                    if let Some(view) = label_view {
                        let rows = d.value("extreme_rows").unwrap_or(0.0);
                        let null = d.value("null_rate").unwrap_or(0.0) * class_rows[c].len() as f64;
                        let (ok, auc) =
                            corroborated(o, view, &class_rows[c], (rows - null).max(0.0) as usize);
                        backed = ok;
                        cv.corroboration_auc = auc;
                    }
                }
                if cs >= settings.threshold && cv.verdict != Verdict::Skipped && enough {
                    if backed {
                        cv.verdict = Verdict::Fail;
                        cv.failed_by |= 1 << s;
                        let e = e.unwrap_or(0.0).max(0.0) as usize;
                        excess[c] = excess[c].max(e);
                        if corroborate.get(s).is_some_and(|c| c.names_rows) {
                            named_excess[c] = named_excess[c].max(e);
                        }
                    } else {
                        cv.uncorroborated |= 1 << s;
                    }
                }
            }
            if let (Some(rate), Some(noise)) = (settings.fail_on_noise, d.value("noise_rows")) {
                let cv = &mut classes[c];
                let rows = class_rows[c].len() as u64;
                let lp = ln_binomial_upper(rows, rate, noise.max(0.0) as u64);
                if suspicion_in(lp, family(s)) >= settings.threshold
                    && cv.verdict != Verdict::Skipped
                {
                    cv.verdict = Verdict::Fail;
                    cv.noise_failed = true;
                }
            }
        }
    }
    // Flags in a failed class: its `excess` highest-ranked rows when a test
    // estimated the rows behind it, else the rows at or over the threshold;
    // and the rows that stand out against the passing classes' rows.
    let mut flagged: Vec<bool> = (0..n)
        .map(|i| {
            let c = labels[i] as usize;
            score[i] >= settings.threshold && classes[c].verdict == Verdict::Fail && excess[c] == 0
        })
        .collect();
    // The evidence with every class gate open, so that the rows of failed
    // and passing classes are compared on equal terms.
    let open_lp: Vec<f64> = (0..n)
        .map(|i| {
            let mut open = outputs
                .iter()
                .map(|o| o.ungated_log_p.as_deref().unwrap_or(&o.log_p)[i]);
            bonferroni(i, &mut open)
        })
        .collect();
    // The evidence the null compares: how contradicted a row is in the
    // label-agnostic view, in the same units in every class, when a label
    // scanner ran. The rows' p-values are calibrated on each class's own
    // agreement rate, so a tidy class's mild outliers look as extreme as a
    // confusable class's planted rows (Fashion-MNIST, two targets at 1 %:
    // the p-values added 124 trousers beyond the estimate, 106 of them
    // clean; the contradiction none); otherwise the fused evidence with the
    // gates open.
    let contradiction: Option<Vec<f64>> = label_view.map(|v| v.iter().map(|&r| -r).collect());
    let evidence: &[f64] = contradiction.as_deref().unwrap_or(&open_lp);
    // (sorting the passing classes' rows only when some class failed)
    let null = classes
        .iter()
        .any(|c| c.verdict == Verdict::Fail)
        .then(|| EmpiricalNull::new(evidence, labels, &classes))
        .flatten();
    // How much more often a class's natural rows are contradicted than the
    // passing classes' rows: its contradicted rows less the failing tests'
    // estimate, over its rows, against the passing classes' share (at
    // least 1; 1 without a label scanner). A small class that overlaps
    // large ones is contradicted far more than the rest by nature, and its
    // natural rows stand out against the passing classes' as planted rows
    // do (Fashion-MNIST cut to a long tail, 134 patched rows relabelled
    // shirt beside 250 natural shirts, 65 % of them alone among T-shirts
    // or other tops: 122 natural shirts flagged beside the estimate's 153
    // rows); the null's rates are scaled up by it.
    let contradicted = |c: usize| {
        label_scanner.and_then(|s| {
            outputs[s]
                .classes
                .iter()
                .find(|d| d.class as usize == c)
                .and_then(|d| d.value("contradicted"))
        })
    };
    let (passing_contradicted, passing_rows) = (0..classes.len())
        .filter(|&c| classes[c].verdict == Verdict::Pass)
        .filter_map(|c| Some((contradicted(c)?, class_rows[c].len() as f64)))
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let inflation = |c: usize| match contradicted(c) {
        Some(k) if passing_contradicted > 0.0 && !class_rows[c].is_empty() => {
            let natural = (k - excess[c] as f64).max(0.0) / class_rows[c].len() as f64;
            (natural / (passing_contradicted / passing_rows)).max(1.0)
        }
        _ => 1.0,
    };
    // A failed class's estimated rows are ranked by the evidence of the
    // scanners whose class tests failed it (the rows behind their estimate)
    // plus the fused evidence (a class no test failed: the fused evidence
    // alone). Fashion-MNIST relabelled T-shirt, default model, seed 1: a
    // warp on 0.3 % fails the class by the kNN test while robust-spectral's
    // most extreme rows there are the class's natural heavy tail (flagged
    // precision / recall by the fused evidence 29 / 27 %, by the failing
    // test's 62 / 58 %, by the sum 51 / 48 %); with a patch robust-spectral
    // ranks the planted rows better than the kNN test (82 / 79, 74 / 72,
    // 88 / 85 %). The evidence added is that of the scanners with a class
    // test, whose rows are weighed within their class: a scanner without
    // one scores a table's natural tail in the thousands of log units
    // (spectral signatures in ISLP's `Default`, a 5 % value trigger: 333
    // natural defaulters ranked above the 500 planted ones).
    let tested: Vec<bool> = outputs
        .iter()
        .map(|o| o.classes.iter().any(|d| d.log_p.is_some()))
        .collect();
    // the strongest evidence on row `i` of the scanners `s` picked
    let strongest = |i: usize, picked: &dyn Fn(usize) -> bool| {
        log_p
            .iter()
            .enumerate()
            .filter(|&(s, _)| picked(s))
            .map(|(_, lp)| lp[i])
            .fold(0.0, f64::min)
    };
    // Whether the label-agnostic test weighed class `c` and passed it (it
    // failed by another test): its contradicted rows are then the class's
    // natural ones, and they neither rank the failing test's rows nor come
    // from the null (below).
    let label_passed: Vec<bool> = (0..classes.len())
        .map(|c| {
            label_scanner.is_some_and(|s| {
                classes[c].failed_by & (1 << s) == 0
                    && outputs[s]
                        .classes
                        .iter()
                        .any(|d| d.class as usize == c && d.log_p.is_some())
            })
        })
        .collect();
    let behind: Vec<f64> = (0..n)
        .map(|i| {
            let c = labels[i] as usize;
            let failed_by = classes[c].failed_by;
            // (ggplot2's diamonds, 1 % of rows given one depth and the label
            // Ideal, failed by value-trigger alone: its 404 rows ranked with
            // the kNN evidence were 305 planted ones, natural Ideal rows that
            // stand apart from their neighbours ranking first; without it,
            // all 404)
            let natural = |s: usize| label_passed[c] && Some(s) == label_scanner;
            strongest(i, &|s| failed_by & (1 << s) != 0)
                + strongest(i, &|s| tested[s] && !natural(s))
        })
        .collect();
    // The evidence of the failing scanners that name their rows: those rows
    // come first for the estimate's flags. The sentences by sentiment, a
    // phrase planted in 30 reviews, failed by text-trigger alone: by the
    // evidence behind the failure, 13 natural outliers of the positive
    // reviews (headsets, extreme to robust-spectral, its class test passed)
    // were flagged in place of planted rows that carry the phrase.
    let naming = (0..outputs.len())
        .filter(|&s| corroborate.get(s).is_some_and(|c| c.names_rows))
        .fold(0u64, |m, s| m | (1 << s));
    let named: Vec<f64> = (0..n)
        .map(|i| {
            let failed_by = classes[labels[i] as usize].failed_by;
            strongest(i, &|s| failed_by & naming & (1 << s) != 0)
        })
        .collect();
    for (c, rows) in class_rows.iter().enumerate() {
        if classes[c].verdict != Verdict::Fail {
            continue;
        }
        let rows: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| !fused_lp[i].is_nan())
            .collect();
        // A group the label-agnostic view backs is two lines of evidence
        // on the same rows; its own boundary then says which rows are
        // behind the failure, where the failing test's count also takes in
        // a confusable class's natural excess (Fashion-MNIST, a patch on
        // 0.3 % into T-shirts, seeds 2 and 3: the kNN estimate 243 and 259
        // rows for 210 planted, `shared-pattern`'s backed group 207 and 210
        // rows, all planted).
        let group = backed.iter().enumerate().find_map(|(s, b)| match b[c] {
            Backing::Backed { rows: Some(e) } if e >= min_rows => Some((s, e as usize)),
            _ => None,
        });
        // A group that accounts for less than half of the failing test's
        // count is one part of what failed the class (Fashion-MNIST, a warp
        // on 10 % into T-shirts: a tight group of 702 warped rows against
        // the kNN test's 6,615); its rows are flagged beside that count.
        let covers = group.is_some_and(|(_, e)| 2 * e >= excess[c]);
        if let Some((s, e)) = group {
            let group_rows = ranked(&rows, &[&log_p[s], &behind, &fused_lp, &total_lp], keys);
            group_rows
                .into_iter()
                .take(e)
                .for_each(|i| flagged[i] = true);
        }
        // A failing test that names its rows has them flagged whatever group
        // another scanner delimits: the group's boundary is that scanner's
        // view of the same rows (the sentences, six classes, `cf` in 30
        // reviews, with the MLP: `shared-pattern`'s backed group held 24–26
        // of the 30 rows that carry the word, all of them planted; the
        // emoji, a yellow 5×5 patch on 1 % relabelled food & drink:
        // `shared-pattern`'s backed group held 61 of the 75 rows that hold
        // the stamp, all of them planted). Beside a group that accounts for
        // the failure, only the rows it names: another test's larger count
        // takes in the class's natural boundary rows (Fashion-MNIST, patches
        // on 1 % into T-shirts and bags, seed 3: the kNN test's 406 bags
        // against the 350 stamped and the group's 356).
        let count = match covers {
            false => excess[c],
            true if classes[c].failed_by & naming != 0 => named_excess[c],
            true => 0,
        };
        if count > 0 {
            let by_test = ranked(&rows, &[&named, &behind, &fused_lp, &total_lp], keys);
            by_test
                .into_iter()
                .take(count)
                .for_each(|i| flagged[i] = true);
        }
        // Beside a group that accounts for the failure, the rest of the
        // class must stand out on its own: its rows are compared with the
        // null without the group's, which would otherwise carry a
        // confusable class's natural boundary rows past the step-up rule
        // (MNIST, a patch on 600 threes relabelled eight and on 600 rows of
        // other classes that keep their labels: the group is the 600
        // planted rows, and 134 natural eights alone among other digits
        // rode along).
        let rows: Vec<usize> = if covers {
            rows.into_iter().filter(|&i| !flagged[i]).collect()
        } else {
            rows
        };
        // The null compares contradiction across classes; where the
        // label-agnostic test weighed this class's contradiction against
        // the other classes' and found none in excess, the class's
        // contradicted rows are its natural ones (a small class among large
        // ones is contradicted more: ISLP's Bikeshare, 1 % of rows given a
        // pair of values and the light-rain label, failed by value-trigger
        // alone — 86 rows — and 95 natural light-rain rows came along).
        if let (Some(null), false) = (&null, label_passed[c]) {
            let rows = ranked(&rows, &[evidence, &open_lp, &total_lp], keys);
            let values: Vec<f64> = rows.iter().map(|&i| evidence[i]).collect();
            for &i in rows
                .iter()
                .take(null.discoveries(&values, FALSE_FLAG_SHARE / inflation(c)))
            {
                flagged[i] = true;
            }
        }
    }
    // A removal budget takes the top of the ranking: the rows the gate
    // named, then the most significant others.
    if let Some(budget) = settings.budget {
        let k = (budget * scanned as f64).ceil() as usize;
        for i in ranking(&flagged, &significance, keys).into_iter().take(k) {
            flagged[i] = true;
        }
    }
    let mut rank = vec![None; n];
    for (place, i) in ranking(&flagged, &significance, keys)
        .into_iter()
        .enumerate()
    {
        rank[i] = Some(place as u64 + 1);
    }
    for i in 0..n {
        let c = &mut classes[labels[i] as usize];
        c.rows += 1;
        c.evidence += (score[i] >= settings.threshold) as usize;
        c.flagged += flagged[i] as usize;
        if !score[i].is_nan() && (c.max_score.is_nan() || c.max_score < score[i]) {
            c.max_score = score[i];
        }
    }
    let verdict = if classes.iter().any(|c| c.verdict == Verdict::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let fired = (0..n)
        .map(|i| {
            let own = per_scanner
                .iter()
                .enumerate()
                .filter(|(_, own)| own[i] >= settings.threshold)
                .fold(0u64, |m, (s, _)| m | (1 << s));
            if own == 0 && flagged[i] {
                classes[labels[i] as usize].failed_by
            } else {
                own
            }
        })
        .collect();
    Fused {
        score,
        significance,
        per_scanner,
        flagged,
        rank,
        fired,
        suspected: outputs.iter().find_map(|o| o.suspected.clone()),
        classes,
        verdict,
        distinct_rows,
    }
}

/// The scored rows (significance not `NaN`) in ranking order: the
/// `flagged` ones first, then the others, each by significance; ties by
/// content key (`keys`, empty when unknown), then index.
fn ranking(flagged: &[bool], significance: &[f64], keys: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..flagged.len())
        .filter(|&i| !significance[i].is_nan())
        .collect();
    order.sort_by(|&a, &b| {
        flagged[b]
            .cmp(&flagged[a])
            .then_with(|| significance_order(significance, a, b))
            .then_with(|| by_content(keys, a, b))
    });
    order
}

/// How many distinct values `keys` holds; `None` when it is empty.
fn distinct(keys: &[u64]) -> Option<usize> {
    if keys.is_empty() {
        return None;
    }
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    Some(sorted.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ScanOptions;

    fn output(log_p: Vec<f64>) -> ScanOutput {
        ScanOutput {
            raw: log_p.iter().map(|l| -l).collect(),
            log_p,
            classes: vec![],
            suspected: None,
            ungated_log_p: None,
            confusion: None,
        }
    }

    #[test]
    fn suspicion_is_bonferroni_odds() {
        // N·p = 1 → 0.5; N·p = 1/99 → 0.99; monotone and within [0, 1].
        assert!((suspicion((1.0f64 / 100.0).ln(), 100) - 0.5).abs() < 1e-12);
        assert!((suspicion((1.0f64 / 9900.0).ln(), 100) - 0.99).abs() < 1e-12);
        assert!(suspicion(0.0, 1_000_000) > 0.0);
        assert_eq!(suspicion(-1e6, 10), 1.0);
        assert!(suspicion(-5.0, 10) > suspicion(-4.0, 10));
    }

    #[test]
    fn scanners_without_a_class_test_fail_no_class_alone() {
        let settings = ScanOptions::default().check().unwrap();
        // class 0: three overwhelming rows; class 1: one.
        let mut lp = vec![-0.5; 20];
        lp[0] = -40.0;
        lp[1] = -40.0;
        lp[2] = -40.0;
        lp[15] = -40.0;
        let labels: Vec<u32> = (0..20).map(|i| (i >= 10) as u32).collect();
        let f = fuse(&[&output(lp)], &labels, 2, &[], &settings, &[], &[]);
        assert_eq!(f.verdict, Verdict::Pass);
        assert_eq!(f.flagged.iter().filter(|&&b| b).count(), 0);
        assert_eq!(f.classes[0].evidence, 3);
    }

    /// A label-consistency scanner whose label-agnostic view contradicts the
    /// rows `contradicted` (and none of the others).
    fn label_scanner(labels: &[u32], contradicted: std::ops::Range<usize>) -> ScanOutput {
        let n = labels.len();
        let mut o = output(vec![-0.1; n]);
        o.raw = (0..n)
            .map(|i| {
                if contradicted.contains(&i) {
                    0.9
                } else {
                    0.1 + (i % 7) as f64 * 0.01
                }
            })
            .collect();
        o.confusion = Some(vec![0; 4]);
        o.suspected = Some(labels.to_vec());
        o
    }

    #[test]
    fn a_class_the_label_view_passes_is_not_flagged_by_its_contradiction() {
        let settings = ScanOptions::default().check().unwrap();
        // three classes of 200; class 0 naturally contradicted (rows
        // 0..60), and failed by a test that names its ten rows 100..110
        let labels: Vec<u32> = (0..600).map(|i| i / 200).collect();
        let mut group = output(
            (0..600)
                .map(|i| if (100..110).contains(&i) { -10.0 } else { 0.0 })
                .collect(),
        );
        group.classes = vec![diag(0, -40.0, 10.0), diag(1, 0.0, 0.0), diag(2, 0.0, 0.0)];
        let flagged = |label_fails: bool| {
            let mut view = label_scanner(&labels, 0..60);
            // the natural rows stand further apart from their neighbours
            // than the group's rows do from the rest of the table
            for lp in &mut view.log_p[..60] {
                *lp = -60.0;
            }
            view.confusion = Some(vec![0; 9]);
            view.classes = vec![
                if label_fails {
                    diag(0, -40.0, 60.0)
                } else {
                    diag(0, -0.1, 0.0)
                },
                diag(1, -0.1, 0.0),
                diag(2, -0.1, 0.0),
            ];
            let f = fuse(&[&view, &group], &labels, 3, &[], &settings, &[], &[]);
            assert_eq!(f.classes[0].verdict, Verdict::Fail);
            (0..600).filter(|&i| f.flagged[i]).collect::<Vec<_>>()
        };
        // the label view weighed class 0's contradiction and passed it: its
        // rows neither come from the null nor rank the failing test's count
        assert_eq!(flagged(false), (100..110).collect::<Vec<_>>());
        // where it fails the class, its contradicted rows are flagged too
        let both = flagged(true);
        assert!((0..60).all(|i| both.contains(&i)), "{both:?}");
    }

    #[test]
    fn a_test_that_names_its_rows_is_flagged_before_another_scanners_tail() {
        let settings = ScanOptions::default().check().unwrap();
        // three classes of 200; class 0 failed by a test that names twenty
        // rows (100..120: the rows carrying a word) and estimates them all
        // planted, some of them with little evidence of their own; a
        // scanner whose class test passed class 0 finds its natural tail
        // (rows 0..15) far more extreme
        let labels: Vec<u32> = (0..600).map(|i| i / 200).collect();
        let mut group = output(
            (0..600)
                .map(|i| match i {
                    100..110 => -20.0,
                    110..120 => -0.5,
                    _ => 0.0,
                })
                .collect(),
        );
        group.classes = vec![diag(0, -20.0, 20.0), diag(1, 0.0, 0.0), diag(2, 0.0, 0.0)];
        let mut tail = output(
            (0..600)
                .map(|i| if i < 15 { -60.0 } else { -0.01 })
                .collect(),
        );
        tail.classes = vec![diag(0, -0.1, 0.0), diag(1, -0.1, 0.0), diag(2, -0.1, 0.0)];
        // the label view weighed every class and passed it
        let mut view = label_scanner(&labels, 0..0);
        view.confusion = Some(vec![0; 9]);
        view.classes = vec![diag(0, -0.1, 0.0), diag(1, -0.1, 0.0), diag(2, -0.1, 0.0)];
        let flagged = |names_rows: bool| {
            let policy = [
                Corroborate::default(),
                Corroborate {
                    names_rows,
                    ..Corroborate::default()
                },
                Corroborate::default(),
            ];
            let outputs = [&view, &group, &tail];
            let f = fuse(&outputs, &labels, 3, &[], &settings, &policy, &[]);
            assert_eq!(f.classes[0].verdict, Verdict::Fail);
            (0..600).filter(|&i| f.flagged[i]).collect::<Vec<_>>()
        };
        assert_eq!(flagged(true), (100..120).collect::<Vec<_>>());
        // a test whose rows are not a group it names: the evidence behind
        // the failure decides, and the tail comes first
        assert!(flagged(false).contains(&0), "{:?}", flagged(false));
    }

    #[test]
    fn a_class_contradicted_by_nature_is_not_flagged_beyond_the_estimate() {
        let settings = ScanOptions::default().check().unwrap();
        // three classes of 200: class 0 overlaps a larger one, and half its
        // rows (0..100) are contradicted by nature, the others' 5 rows
        // each; ten rows relabelled into class 0 (100..110), which the
        // label scanner fails and estimates
        let labels: Vec<u32> = (0..600).map(|i| i / 200).collect();
        let contradicted: Vec<usize> = (0..110).chain(200..205).chain(400..405).collect();
        let mut view = label_scanner(&labels, 0..0);
        for &i in &contradicted {
            view.raw[i] = 0.9;
        }
        for lp in &mut view.log_p[100..110] {
            *lp = -30.0;
        }
        view.confusion = Some(vec![0; 9]);
        let diag = |class, log_p: f64, excess: f64, contradicted: Option<f64>| {
            let mut values = vec![("excess_rows", excess)];
            values.extend(contradicted.map(|k| ("contradicted", k)));
            poisonscan_scanners::ClassDiagnostics {
                class,
                values,
                log_p: Some(log_p),
            }
        };
        let flagged = |counted: bool| {
            let mut view = view.clone();
            let k = |x: f64| counted.then_some(x);
            view.classes = vec![
                diag(0, -40.0, 10.0, k(110.0)),
                diag(1, -0.1, 0.0, k(5.0)),
                diag(2, -0.1, 0.0, k(5.0)),
            ];
            let f = fuse(&[&view], &labels, 3, &[], &settings, &[], &[]);
            assert_eq!(f.classes[0].verdict, Verdict::Fail);
            (0..600).filter(|&i| f.flagged[i]).collect::<Vec<_>>()
        };
        // against the passing classes' 2.5 %, every natural row of class
        // 0 stands out ...
        let uncounted = flagged(false);
        assert!((0..110).all(|i| uncounted.contains(&i)), "{uncounted:?}");
        // ... against its own natural half, only the estimate's rows do
        assert_eq!(flagged(true), (100..110).collect::<Vec<_>>());
    }

    #[test]
    fn a_learned_sub_population_needs_the_label_view_to_agree() {
        let settings = ScanOptions::default().check().unwrap();
        let labels: Vec<u32> = (0..400).map(|i| (i >= 200) as u32).collect();
        let diag = |class, extreme| poisonscan_scanners::ClassDiagnostics {
            class,
            values: vec![("extreme_rows", extreme), ("null_rate", 0.05)],
            log_p: Some(if extreme > 20.0 { -40.0 } else { -0.1 }),
        };
        // a sub-population scanner calls rows 0..40 of class 0 extreme
        let mut sub = output(
            (0..400)
                .map(|i| if i < 40 { -30.0 } else { -0.2 })
                .collect(),
        );
        sub.classes = vec![diag(0, 40.0), diag(1, 5.0)];
        // the label view: the same rows contradicted (a dirty-label group) or not (a natural mode)
        let label_view = |dirty: bool| label_scanner(&labels, if dirty { 0..40 } else { 0..0 });
        let dirty = label_view(true);
        let test = Corroborate {
            class_test: true,
            row_gate: false,
            names_rows: false,
        };
        let none = Corroborate::default();
        let run = |outputs: &[&ScanOutput], policy: &[Corroborate]| {
            fuse(outputs, &labels, 2, &[], &settings, policy, &[])
        };
        let f = run(&[&sub, &dirty], &[test, none]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        let natural = label_view(false);
        let f = run(&[&sub, &natural], &[test, none]);
        assert_eq!(f.classes[0].verdict, Verdict::Pass);
        assert_eq!(f.classes[0].uncorroborated, 1);
        // on a user's embedding the test stands alone
        let f = run(&[&sub, &natural], &[none, none]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
    }

    #[test]
    fn a_backed_group_opens_the_row_gate_and_names_the_flagged_rows() {
        let settings = ScanOptions::default().check().unwrap();
        let labels: Vec<u32> = (0..400).map(|i| (i >= 200) as u32).collect();
        // A group scanner finds rows 0..40 of class 0, but its own class
        // test falls short: its rows are gated to the class's p-value.
        let mut group = output(vec![-0.5; 400]);
        group.ungated_log_p = Some(
            (0..400)
                .map(|i| if i < 40 { -30.0 } else { -0.2 })
                .collect(),
        );
        group.classes = class_tests(2, 40.0, |_| -0.5);
        // A label scanner fails class 0 (60 rows behind it), and its view
        // contradicts rows 0..40 (a dirty-label group) or rows 150..190.
        let label_scanner = |contradicted: std::ops::Range<usize>| {
            let mut o = label_scanner(&labels, contradicted);
            o.classes = class_zero_fails(2, 60.0);
            o
        };
        let policy = [
            Corroborate {
                class_test: false,
                row_gate: true,
                names_rows: false,
            },
            Corroborate::default(),
        ];
        for (contradicted, opens) in [(0..40, true), (150..190, false)] {
            let view = label_scanner(contradicted.clone());
            let f = fuse(&[&group, &view], &labels, 2, &[], &settings, &policy, &[]);
            assert_eq!(f.classes[0].verdict, Verdict::Fail);
            let own = f.per_scanner[0][0];
            assert_eq!(own > 0.99, opens, "{contradicted:?}: {own}");
            // the passing class stays closed either way
            assert!(f.per_scanner[0][200] < 0.5);
            // a backed group's own estimate says which rows are behind the
            // failure (its 40 rows); otherwise the failing test's (60)
            let flagged: Vec<usize> = (0..400).filter(|&i| f.flagged[i]).collect();
            if opens {
                assert_eq!(flagged, (0..40).collect::<Vec<_>>());
            } else {
                assert_eq!(flagged.len(), 60, "{flagged:?}");
            }
        }
        // without the policy, the other test opens it whatever the view
        let view = label_scanner(150..190);
        let f = fuse(&[&group, &view], &labels, 2, &[], &settings, &[], &[]);
        assert!(f.per_scanner[0][0] > 0.99);
        // a group under half the failing test's count (40 of 100) is one
        // part of the failure: its rows are flagged beside that count
        let mut view = label_scanner(0..40);
        view.classes = class_zero_fails(2, 100.0);
        let f = fuse(&[&group, &view], &labels, 2, &[], &settings, &policy, &[]);
        let flagged: Vec<usize> = (0..400).filter(|&i| f.flagged[i]).collect();
        assert!((0..40).all(|i| f.flagged[i]), "{flagged:?}");
        assert!((100..=140).contains(&flagged.len()), "{flagged:?}");
        // a failing test that names its rows (0..45) has them flagged beside
        // the group that covers its count
        let mut view = label_scanner(0..40);
        view.classes = class_zero_fails(2, 45.0);
        view.log_p = (0..400).map(|i| if i < 45 { -20.0 } else { 0.0 }).collect();
        let flagged = |names_rows: bool| {
            let policy = [
                policy[0],
                Corroborate {
                    names_rows,
                    ..Corroborate::default()
                },
            ];
            let f = fuse(&[&group, &view], &labels, 2, &[], &settings, &policy, &[]);
            (0..400).filter(|&i| f.flagged[i]).collect::<Vec<_>>()
        };
        assert_eq!(flagged(true), (0..45).collect::<Vec<_>>());
        assert_eq!(flagged(false), (0..40).collect::<Vec<_>>());
        // beside another failing test's larger count (rows 0..70, which a
        // group of 40 still covers), only the rows the naming test names:
        // the larger count would take in natural rows
        let mut wide = output((0..400).map(|i| if i < 70 { -20.0 } else { 0.0 }).collect());
        wide.classes = class_zero_fails(2, 70.0);
        let policy = [
            policy[0],
            Corroborate {
                names_rows: true,
                ..Corroborate::default()
            },
            Corroborate::default(),
        ];
        let f = fuse(
            &[&group, &view, &wide],
            &labels,
            2,
            &[],
            &settings,
            &policy,
            &[],
        );
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        let flagged: Vec<usize> = (0..400).filter(|&i| f.flagged[i]).collect();
        assert_eq!(flagged, (0..45).collect::<Vec<_>>());
    }

    #[test]
    fn beside_a_group_that_covers_the_failure_the_rest_must_stand_out_alone() {
        let settings = ScanOptions::default().check().unwrap();
        // five classes of 200 rows, 5 of each passing class contradicted
        // (rows 10..15 of it); in class 0 a group scanner's backed group is
        // rows 0..40, the label test fails the class with 60 rows behind it
        let labels: Vec<u32> = (0..1000).map(|i| i / 200).collect();
        let mut group = output(vec![-0.5; 1000]);
        group.ungated_log_p = Some(
            (0..1000)
                .map(|i| if i < 40 { -30.0 } else { -0.2 })
                .collect(),
        );
        group.classes = class_tests(5, 40.0, |_| -0.5);
        let policy = [
            Corroborate {
                class_test: false,
                row_gate: true,
                names_rows: false,
            },
            Corroborate::default(),
        ];
        let flags = |rest: std::ops::Range<usize>| {
            let mut view = label_scanner(&labels, 0..40);
            for i in (0..1000)
                .filter(|&i| rest.contains(&i) || (i >= 200 && i % 200 < 15 && i % 200 >= 10))
            {
                view.raw[i] = 0.9;
            }
            view.classes = class_zero_fails(5, 60.0);
            let f = fuse(&[&group, &view], &labels, 5, &[], &settings, &policy, &[]);
            assert_eq!(f.classes[0].verdict, Verdict::Fail);
            (0..1000).filter(|&i| f.flagged[i]).collect::<Vec<_>>()
        };
        // 10 more contradicted rows in the other 160 (6 %, the passing
        // classes 2.5 %): the group alone, where the 50 together would pass
        // the step-up rule at 10 %
        assert_eq!(flags(100..110), (0..40).collect::<Vec<_>>());
        // 40 more (25 %): rows the group missed, flagged beside it
        assert_eq!(flags(100..140), (0..40).chain(100..140).collect::<Vec<_>>());
    }

    #[test]
    fn a_backed_group_needs_less_from_its_own_test_where_backing_is_rare() {
        let settings = ScanOptions::default().check().unwrap();
        // ten classes of 100 rows; a group scanner finds the first 20 rows
        // of every class; its test on class 0 (log p −7) falls short of the
        // level of two tests over ten classes (−7.59) and passes the others
        let labels: Vec<u32> = (0..1000).map(|i| i / 100).collect();
        let mut group = output(vec![-0.5; 1000]);
        group.ungated_log_p = Some(
            (0..1000)
                .map(|i| if i % 100 < 20 { -30.0 } else { -0.2 })
                .collect(),
        );
        group.classes = class_tests(10, 20.0, |c| if c == 0 { -7.0 } else { -0.1 });
        let policy = [
            Corroborate {
                class_test: false,
                row_gate: true,
                names_rows: false,
            },
            Corroborate::default(),
        ];
        // the label view (no class test fails) contradicts `rows`
        let view = |rows: &dyn Fn(usize) -> bool| {
            let mut o = label_scanner(&labels, 0..0);
            o.raw = (0..1000)
                .map(|i| {
                    if rows(i) {
                        0.9
                    } else {
                        0.1 + (i % 7) as f64 * 0.01
                    }
                })
                .collect();
            o.classes = class_tests(10, 0.0, |_| -0.1);
            o
        };
        let verdict = |v: &ScanOutput| {
            fuse(&[&group, v], &labels, 10, &[], &settings, &policy, &[]).classes[0].verdict
        };
        // backed in class 0 alone: (10 + 1) / (1 + 1) = 5.5 times less
        assert_eq!(verdict(&view(&|i| i < 20)), Verdict::Fail);
        // not backed: the usual level
        assert_eq!(verdict(&view(&|i| (150..170).contains(&i))), Verdict::Pass);
        // backed everywhere: backing is not rare, no relief
        assert_eq!(verdict(&view(&|i| i % 100 < 20)), Verdict::Pass);
    }

    #[test]
    fn class_tests_decide_for_scanners_that_have_them() {
        let settings = ScanOptions::default().check().unwrap();
        let labels: Vec<u32> = (0..20).map(|i| (i >= 10) as u32).collect();
        // Many overwhelming rows in both classes, but the class test clears class 1.
        let mut out = output(vec![-40.0; 20]);
        out.classes = vec![
            poisonscan_scanners::ClassDiagnostics {
                class: 0,
                values: vec![],
                log_p: Some(-30.0),
            },
            poisonscan_scanners::ClassDiagnostics {
                class: 1,
                values: vec![],
                log_p: Some(-0.1),
            },
        ];
        let f = fuse(&[&out], &labels, 2, &[], &settings, &[], &[]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        assert_eq!(f.classes[1].verdict, Verdict::Pass);
        assert_eq!(f.flagged.iter().filter(|&&b| b).count(), 10);
        assert!(f.classes[0].class_score > 0.99 && f.classes[1].class_score < 0.5);
    }

    #[test]
    fn another_scanners_class_test_opens_the_gate() {
        let settings = ScanOptions::default().check().unwrap();
        let labels: Vec<u32> = (0..20).map(|i| (i >= 10) as u32).collect();
        let diag = |class, lp| poisonscan_scanners::ClassDiagnostics {
            class,
            values: vec![],
            log_p: Some(lp),
        };
        // A label scanner whose class test fails class 0 only, and no
        // overwhelming row of its own.
        let mut label = output(vec![-0.5; 20]);
        label.classes = vec![diag(0, -30.0), diag(1, -0.1)];
        // A class-gated scanner: overwhelming rows 0 and 15, its own class
        // tests quiet, so its own output is capped at its class p-values.
        let mut row = vec![-0.2f64; 20];
        row[0] = -40.0;
        row[15] = -40.0;
        let mut gated = output(row.iter().map(|&l| l.max(-0.3)).collect());
        gated.classes = vec![diag(0, -0.3), diag(1, -0.3)];
        gated.ungated_log_p = Some(row);
        let f = fuse(&[&label, &gated], &labels, 2, &[], &settings, &[], &[]);
        // Class 0 failed by the label scanner: row 0 keeps its own evidence.
        assert!(
            f.per_scanner[1][0] > 0.99 && f.score[0] > 0.99,
            "{:?}",
            f.score
        );
        assert!(f.flagged[0]);
        // Class 1 shows nothing: row 15 carries only its class's evidence.
        assert!(
            f.per_scanner[1][15] < 0.5 && f.score[15] < 0.5,
            "{:?}",
            f.score
        );
        assert!(!f.flagged[15]);
        assert_eq!(f.classes[1].verdict, Verdict::Pass);
    }

    #[test]
    fn budget_flags_without_changing_the_verdict() {
        let o = ScanOptions {
            budget: Some(0.1),
            ..Default::default()
        };
        let settings = o.check().unwrap();
        let lp: Vec<f64> = (0..20).map(|i| -(i as f64) / 10.0).collect();
        let labels = vec![0u32; 10]
            .into_iter()
            .chain(vec![1u32; 10])
            .collect::<Vec<_>>();
        let f = fuse(&[&output(lp)], &labels, 2, &[], &settings, &[], &[]);
        assert_eq!(f.verdict, Verdict::Pass);
        assert_eq!(f.flagged.iter().filter(|&&b| b).count(), 2);
        assert!(f.flagged[19] && f.flagged[18]);
    }

    /// Class tests of one scanner on two classes: class 0 fails with
    /// `excess` rows behind it, class 1 has log p `passed`.
    fn two_class_tests(excess: f64, passed: f64) -> Vec<poisonscan_scanners::ClassDiagnostics> {
        vec![
            poisonscan_scanners::ClassDiagnostics {
                class: 0,
                values: vec![("excess_rows", excess)],
                log_p: Some(-30.0),
            },
            poisonscan_scanners::ClassDiagnostics {
                class: 1,
                values: vec![("excess_rows", 0.0)],
                log_p: Some(passed),
            },
        ]
    }

    /// Class 0 fails by a class test naming 3 rows (0..3, row evidence
    /// ln p −12); row 15 of class 1, which passes, has more evidence of its
    /// own (−40) from a scanner without a class test.
    fn named_rows_and_a_stronger_lone_row(budget: Option<f64>) -> Fused {
        let o = ScanOptions {
            budget,
            ..Default::default()
        };
        let settings = o.check().unwrap();
        let labels: Vec<u32> = (0..20).map(|i| (i >= 10) as u32).collect();
        let mut lp = vec![-0.1; 20];
        lp[..3].fill(-12.0);
        let mut tested = output(lp);
        tested.classes = two_class_tests(3.0, 0.0);
        let mut lone = vec![-0.1; 20];
        lone[15] = -40.0;
        fuse(
            &[&tested, &output(lone)],
            &labels,
            2,
            &[],
            &settings,
            &[],
            &[],
        )
    }

    #[test]
    fn the_rows_a_failure_names_rank_first() {
        let f = named_rows_and_a_stronger_lone_row(None);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        assert_eq!(f.classes[1].verdict, Verdict::Pass);
        assert!(f.flagged[..3].iter().all(|&b| b) && !f.flagged[15]);
        // row 15 is more significant than the named rows, and ranks after them
        assert!(f.significance[15] > f.significance[0]);
        let mut top: Vec<u64> = f.rank[..3].iter().map(|r| r.unwrap()).collect();
        top.sort_unstable();
        assert_eq!(top, [1, 2, 3]);
        assert_eq!(f.rank[15], Some(4));
        // every scored row has one place
        let mut all: Vec<u64> = f.rank.iter().map(|r| r.unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (1..=20).collect::<Vec<u64>>());
        // a budget takes the top of the ranking: 3 rows are the named
        // ones (by significance alone it would add row 15), 4 add row 15
        for (budget, want) in [(0.15, vec![0, 1, 2]), (0.2, vec![0, 1, 2, 15])] {
            let f = named_rows_and_a_stronger_lone_row(Some(budget));
            let flagged: Vec<usize> = (0..20).filter(|&i| f.flagged[i]).collect();
            assert_eq!(flagged, want, "budget {budget}");
            assert_eq!(f.classes[1].verdict, Verdict::Pass);
        }
    }

    #[test]
    fn skipped_classes_have_no_score() {
        let settings = ScanOptions::default().check().unwrap();
        let labels = vec![0, 0, 0, 1];
        let f = fuse(
            &[&output(vec![-1.0, -1.0, -1.0, f64::NAN])],
            &labels,
            2,
            &[1],
            &settings,
            &[],
            &[],
        );
        assert!(f.score[3].is_nan());
        assert_eq!(f.rank[3], None);
        assert_eq!(f.classes[1].verdict, Verdict::Skipped);
        assert!(f.score[..3].iter().all(|s| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn a_failed_class_names_the_rows_behind_its_test() {
        let settings = ScanOptions::default().check().unwrap();
        let labels: Vec<u32> = (0..40).map(|i| (i >= 20) as u32).collect();
        // no row reaches the threshold, but class 0's test fails it and says
        // five rows are behind it
        let mut lp = vec![-0.5f64; 40];
        for (i, v) in lp.iter_mut().enumerate().take(5) {
            *v = -3.0 - i as f64;
        }
        let mut out = output(lp);
        out.classes = two_class_tests(5.0, -0.1);
        let f = fuse(&[&out], &labels, 2, &[], &settings, &[], &[]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        assert_eq!(f.classes[0].failed_by, 1);
        let flagged: Vec<usize> = (0..40).filter(|&i| f.flagged[i]).collect();
        assert_eq!(flagged, vec![0, 1, 2, 3, 4]);
        // no row reaches the threshold on its own: the class test is the reason
        assert!(flagged.iter().all(|&i| f.fired[i] == 1));
        assert!(f.fired[5..].iter().all(|&b| b == 0));
    }

    #[test]
    fn rows_tied_at_the_count_are_taken_by_content_not_position() {
        let settings = ScanOptions::default().check().unwrap();
        // class 0's test says 3 rows are behind it; six rows tie on every
        // piece of evidence. Each row's content key is its id: the flags
        // must follow the ids through any order of the rows.
        let flagged_ids = |order: &[u64]| -> Vec<u64> {
            let labels: Vec<u32> = (0..40).map(|i| (i >= 20) as u32).collect();
            let lp: Vec<f64> = (0..40)
                .map(|i| if i < 20 && order[i] < 6 { -3.0 } else { -0.5 })
                .collect();
            let mut out = output(lp);
            out.classes = vec![poisonscan_scanners::ClassDiagnostics {
                class: 0,
                values: vec![("excess_rows", 3.0)],
                log_p: Some(-30.0),
            }];
            let f = fuse(&[&out], &labels, 2, &[], &settings, &[], order);
            let mut ids: Vec<u64> = (0..40)
                .filter(|&i| f.flagged[i])
                .map(|i| order[i])
                .collect();
            ids.sort_unstable();
            ids
        };
        // the ids 0–19 in class 0 (rows 0–19), in two orders
        let mut order: Vec<u64> = (0..40).collect();
        let first = flagged_ids(&order);
        assert_eq!(first.len(), 3);
        order[..20].reverse();
        assert_eq!(flagged_ids(&order), first);
    }

    #[test]
    fn the_rows_behind_a_failure_are_counted_in_the_data_sets_copies() {
        let settings = ScanOptions::default().check().unwrap();
        // Two classes of 20 rows, class 0's test failing on `excess` rows;
        // `copies`: how many times each distinct row is in the data set.
        let verdict = |excess: f64, copies: usize, planted_copies: usize| {
            let labels: Vec<u32> = (0..40).map(|i| (i >= 20) as u32).collect();
            // row i is a copy of row i / copies; the first `excess` rows of
            // class 0 are `planted_copies` copies each of one row, instead
            let keys: Vec<u64> = (0..40u64)
                .map(|i| match (i as f64) < excess {
                    true => 1000 + i / planted_copies as u64,
                    false => i / copies as u64,
                })
                .collect();
            let mut lp = vec![-0.5f64; 40];
            lp.iter_mut().take(excess as usize).for_each(|v| *v = -3.0);
            let mut out = output(lp);
            out.classes = vec![poisonscan_scanners::ClassDiagnostics {
                class: 0,
                values: vec![("excess_rows", excess)],
                log_p: Some(-30.0),
            }];
            let f = fuse(&[&out], &labels, 2, &[], &settings, &[], &keys);
            (f.classes[0].verdict, f.distinct_rows)
        };
        // distinct rows: three are enough (min_flagged)
        assert_eq!(verdict(3.0, 1, 1), (Verdict::Fail, 40));
        // and still where another sample is copied
        assert_eq!(verdict(3.0, 1, 2).0, Verdict::Fail);
        // the data set written twice: four rows are two samples' copies, as
        // every row is two copies; six are three
        assert_eq!(verdict(4.0, 2, 2), (Verdict::Pass, 20));
        assert_eq!(verdict(6.0, 2, 2), (Verdict::Fail, 20));
        // one sample planted four times among distinct rows still counts
        assert_eq!(verdict(4.0, 1, 4), (Verdict::Fail, 37));
        // no keys: every row is distinct
        let labels: Vec<u32> = (0..40).map(|i| (i >= 20) as u32).collect();
        let mut out = output(vec![-0.5; 40]);
        out.classes = vec![poisonscan_scanners::ClassDiagnostics {
            class: 0,
            values: vec![("excess_rows", 4.0)],
            log_p: Some(-30.0),
        }];
        let f = fuse(&[&out], &labels, 2, &[], &settings, &[], &[]);
        assert_eq!((f.classes[0].verdict, f.distinct_rows), (Verdict::Fail, 40));
    }

    /// Row log p-values of `classes` classes of 100 rows (class `c` is rows
    /// `100c..100c+100`): the first `planted` rows of the data set at
    /// `planted_lp`, the last 10 rows of every class (its natural boundary)
    /// at `boundary_lp`, the rest at −0.5.
    fn class_rows_log_p(
        classes: usize,
        planted: usize,
        planted_lp: f64,
        boundary_lp: f64,
    ) -> Vec<f64> {
        (0..100 * classes)
            .map(|i| match i % 100 {
                _ if i < planted => planted_lp,
                90.. => boundary_lp,
                _ => -0.5,
            })
            .collect()
    }

    /// Class tests of `classes` classes, each estimating `excess` rows,
    /// with log p-values `log_p(class)`.
    fn class_tests(
        classes: u32,
        excess: f64,
        log_p: impl Fn(u32) -> f64,
    ) -> Vec<poisonscan_scanners::ClassDiagnostics> {
        (0..classes)
            .map(|c| poisonscan_scanners::ClassDiagnostics {
                class: c,
                values: vec![("excess_rows", excess)],
                log_p: Some(log_p(c)),
            })
            .collect()
    }

    /// Class tests of `classes` classes: class 0 fails (log p −30) with
    /// `excess` rows estimated behind it, the others pass.
    /// Class `class`'s test at `log_p`, estimating `excess` rows behind it.
    fn diag(class: u32, log_p: f64, excess: f64) -> poisonscan_scanners::ClassDiagnostics {
        poisonscan_scanners::ClassDiagnostics {
            class,
            values: vec![("excess_rows", excess)],
            log_p: Some(log_p),
        }
    }

    fn class_zero_fails(classes: u32, excess: f64) -> Vec<poisonscan_scanners::ClassDiagnostics> {
        let mut tests = class_tests(classes, 0.0, |c| if c == 0 { -30.0 } else { -0.1 });
        tests[0].values = vec![("excess_rows", excess)];
        tests
    }

    #[test]
    fn a_failed_class_also_names_the_rows_that_stand_out_against_passing_classes() {
        let settings = ScanOptions::default().check().unwrap();
        // five classes of 100 rows; every class has 10 natural boundary rows
        // (log p −3); class 0 also holds 30 planted rows (−20), but its test
        // estimates only 5 rows behind it
        let labels: Vec<u32> = (0..500).map(|i| i / 100).collect();
        let mut out = output(class_rows_log_p(5, 30, -20.0, -3.0));
        out.classes = class_zero_fails(5, 5.0);
        let f = fuse(&[&out], &labels, 5, &[], &settings, &[], &[]);
        assert_eq!(f.verdict, Verdict::Fail);
        let flagged: Vec<usize> = (0..500).filter(|&i| f.flagged[i]).collect();
        // the planted rows, not the class's boundary rows (as common as in
        // the passing classes)
        assert_eq!(flagged, (0..30).collect::<Vec<_>>());
        // with every other class failing too, there is no null: the estimate
        for d in out.classes.iter_mut().skip(1) {
            d.log_p = Some(-30.0);
            d.values = vec![("excess_rows", 10.0)];
        }
        let f = fuse(&[&out], &labels, 5, &[], &settings, &[], &[]);
        assert_eq!(f.classes[0].flagged, 5);
    }

    #[test]
    fn a_failed_class_flags_first_the_rows_its_failing_test_stands_behind() {
        let settings = ScanOptions::default().check().unwrap();
        // three classes of 100 rows; scanner A's class test fails class 0
        // and estimates 10 rows behind it; scanner B (no class test) finds
        // 10 natural rows of every class far more extreme than A does
        let labels: Vec<u32> = (0..300).map(|i| i / 100).collect();
        let mut failing = output(class_rows_log_p(3, 10, -12.0, -2.0));
        failing.classes = class_zero_fails(3, 10.0);
        let other = output(class_rows_log_p(3, 10, -1.0, -15.0));
        let f = fuse(&[&failing, &other], &labels, 3, &[], &settings, &[], &[]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        let flagged: Vec<usize> = (0..300).filter(|&i| f.flagged[i]).collect();
        // by the fused evidence alone, B's natural rows (−15) would come first
        assert_eq!(flagged, (0..10).collect::<Vec<_>>());
        // however far out B (no class test) puts them: its evidence is not
        // weighed within the class
        let wild = output(class_rows_log_p(3, 10, -1.0, -1000.0));
        let f = fuse(&[&failing, &wild], &labels, 3, &[], &settings, &[], &[]);
        let flagged: Vec<usize> = (0..300).filter(|&i| f.flagged[i]).collect();
        assert_eq!(flagged, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_label_agnostic_test_keeps_half_the_level_beside_other_tests() {
        let settings = ScanOptions::default().check().unwrap();
        let labels: Vec<u32> = (0..100).map(|i| i % 10).collect();
        let class_test = |c: u32, lp: f64| poisonscan_scanners::ClassDiagnostics {
            class: c,
            values: vec![("excess_rows", 10.0)],
            log_p: Some(lp),
        };
        // The label-agnostic scanner (confusion and suspected classes) fails
        // class 0; three other scanners' tests see nothing.
        let mut knn = output(vec![-0.5; 100]);
        knn.confusion = Some(vec![0; 100]);
        knn.suspected = Some(labels.clone());
        knn.classes = (0..10)
            .map(|c| class_test(c, if c == 0 { -11.2 } else { 0.0 }))
            .collect();
        let mut others: Vec<ScanOutput> = (0..3).map(|_| output(vec![-0.5; 100])).collect();
        for o in &mut others {
            o.classes = (0..10).map(|c| class_test(c, 0.0)).collect();
        }
        // Its class score counts 10 classes × 2 (half the level), not × 4.
        let all: Vec<&ScanOutput> = std::iter::once(&knn).chain(others.iter()).collect();
        let f = fuse(&all, &labels, 10, &[], &settings, &[], &[]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        let want = suspicion(-11.2, 20);
        assert!(
            (f.classes[0].class_score - want).abs() < 1e-12,
            "{}",
            f.classes[0].class_score
        );
        // A non-label test at the same log p is held to 10 × 2 × 3.
        let mut strong = others[0].clone();
        strong.classes[1] = class_test(1, -11.2);
        let all: Vec<&ScanOutput> = vec![&knn, &strong, &others[1], &others[2]];
        let f = fuse(&all, &labels, 10, &[], &settings, &[], &[]);
        assert!((f.classes[1].class_score - suspicion(-11.2, 60)).abs() < 1e-12);
        // Alone, the label test has the whole level.
        let f = fuse(&[&knn], &labels, 10, &[], &settings, &[], &[]);
        assert!((f.classes[0].class_score - suspicion(-11.2, 10)).abs() < 1e-12);
    }

    #[test]
    fn label_noise_fails_a_class_only_when_asked() {
        let labels: Vec<u32> = (0..200).map(|i| (i >= 100) as u32).collect();
        let mut out = output(vec![-0.5; 200]);
        out.classes = [30.0, 3.0]
            .iter()
            .enumerate()
            .map(|(c, &noise)| poisonscan_scanners::ClassDiagnostics {
                class: c as u32,
                values: vec![("noise_rows", noise)],
                log_p: Some(-0.1),
            })
            .collect();
        let quiet = fuse(
            &[&out],
            &labels,
            2,
            &[],
            &ScanOptions::default().check().unwrap(),
            &[],
            &[],
        );
        assert_eq!(quiet.verdict, Verdict::Pass);
        let o = ScanOptions {
            fail_on_noise: Some(0.05),
            ..Default::default()
        };
        let f = fuse(&[&out], &labels, 2, &[], &o.check().unwrap(), &[], &[]);
        assert_eq!(f.classes[0].verdict, Verdict::Fail);
        assert!(f.classes[0].noise_failed);
        assert_eq!(f.classes[1].verdict, Verdict::Pass);
    }
}
