//! Running a scanner class by class: classes in parallel, each with its own
//! seeded random stream, results scattered back to rows in class order — so
//! the output does not depend on the number of threads.

use std::f64::consts::FRAC_PI_2;

use rayon::prelude::*;

use crate::matrix::MatrixRef;
use crate::rng::SplitMix64;
use crate::stats::{class_null, ln_excess_p, ln_upper_normal_p, median};
use crate::view::standardised_pca;
use crate::{class_gate, ClassDiagnostics, ScanInput, ScanOutput};

/// One class's scores, in the order of `rows`.
pub(crate) struct ClassResult {
    pub rows: Vec<usize>,
    pub raw: Vec<f64>,
    pub log_p: Vec<f64>,
    pub diagnostics: ClassDiagnostics,
}

impl ClassResult {
    /// A class too small to score: every row gets raw 0 and p = 1.
    pub fn unscored(class: u32, rows: Vec<usize>) -> Self {
        let n = rows.len();
        Self {
            rows,
            raw: vec![0.0; n],
            log_p: vec![0.0; n],
            diagnostics: ClassDiagnostics {
                class,
                values: vec![],
                log_p: None,
            },
        }
    }
}

/// Runs `scan_class(class, rows)` for every class that has rows (skipped
/// classes have none) and assembles the output; rows of skipped classes get
/// `NaN`.
pub(crate) fn scan_per_class<F>(input: &ScanInput<'_>, scan_class: F) -> ScanOutput
where
    F: Fn(u32, Vec<usize>) -> ClassResult + Sync,
{
    let n = input.features.rows();
    let per_class: Vec<(u32, Vec<usize>)> = input
        .class_rows()
        .into_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(c, rows)| (c as u32, rows))
        .collect();
    let results: Vec<ClassResult> = per_class
        .into_par_iter()
        .map(|(c, rows)| scan_class(c, rows))
        .collect();
    let mut raw = vec![f64::NAN; n];
    let mut log_p = vec![f64::NAN; n];
    let mut classes = Vec::with_capacity(results.len());
    for r in results {
        for (i, &row) in r.rows.iter().enumerate() {
            raw[row] = r.raw[i];
            log_p[row] = r.log_p[i];
        }
        classes.push(r.diagnostics);
    }
    ScanOutput::new(raw, log_p, classes)
}

/// The rows of one class, gathered, centred (and standardised unless the
/// features share one scale) and projected on the class's top `dims`
/// principal components: `rows × dims'` principal-component scores.
pub(crate) fn class_projection(
    x: MatrixRef<'_>,
    rows: &[usize],
    dims: usize,
    seed: u64,
    same_scale: bool,
) -> (Vec<f32>, usize) {
    let d = x.cols();
    let mut gathered = Vec::with_capacity(rows.len() * d);
    for &r in rows {
        gathered.extend_from_slice(x.row(r));
    }
    let m = MatrixRef::new(&gathered, rows.len(), d).expect("gathered rows fit");
    standardised_pca(m, None, dims, seed, !same_scale)
}

/// [`scan_per_class`], then [`excess_test`] and [`cap_by_class`]: the whole
/// scan of a sub-population scanner.
pub(crate) fn scan_with_excess_test<F>(
    input: &ScanInput<'_>,
    clean_rate: f64,
    peer_ratio: f64,
    scan_class: F,
) -> ScanOutput
where
    F: Fn(u32, Vec<usize>) -> ClassResult + Sync,
{
    let mut out = scan_per_class(input, scan_class);
    excess_test(input, &mut out, clean_rate, peer_ratio);
    cap_by_class(input, &mut out);
    out
}

/// Least spread of clean classes' extreme shares around the null rate, as a
/// share of that rate, for a data set of two classes (one peer, no spread
/// to measure): among the ten classes of MNIST and Fashion-MNIST on the
/// default CNN's representation the spread is 0.04–0.17 of the rate (their
/// shares 3.6–20 %); in a pair of Fashion-MNIST classes one class's share
/// was 0.7 % in one seed and 5.8 % in another.
const LEAST_RELATIVE_SPREAD: f64 = 0.25;

/// The class test shared by the sub-population scanners (`robust-spectral`,
/// `activation-clustering`), run once every class has been scanned.
///
/// Each class diagnostic must carry `extreme_rows` (rows the scanner calls
/// extreme) and may carry `candidates` (settings tried for that class, for a
/// Bonferroni factor) and `censored` (1: the class could not show extreme
/// rows, so it is no peer). A class's extreme rows are tested against
/// Binomial(rows, r) with `r = max(clean_rate, peer_ratio × m)`, `m` the
/// median extreme share of the other classes: real classes have more extreme
/// rows than any model of a clean class predicts, and by about as much in
/// every class, while a poisoned class stands out from its peers. The
/// binomial's variance is widened by the spread of the other classes'
/// shares (1.4826 × their median absolute deviation; with one of them, at
/// least [`LEAST_RELATIVE_SPREAD`] of the rate, widened for a median of one;
/// with none — every other class censored — as with one), since clean
/// classes differ among themselves by more than sampling explains.
pub(crate) fn excess_test(
    input: &ScanInput<'_>,
    out: &mut ScanOutput,
    clean_rate: f64,
    peer_ratio: f64,
) {
    let mut rows = vec![0usize; input.n_classes];
    for &l in input.labels {
        rows[l as usize] += 1;
    }
    // a class whose diagnostic says `censored` could not show extreme rows
    // (see the scanner), so its share of none is no peer's measure
    let shares: Vec<Option<f64>> = out
        .classes
        .iter()
        .map(|d| {
            let censored = d.value("censored").is_some_and(|v| v > 0.0);
            d.value("extreme_rows")
                .filter(|_| !censored)
                .map(|e| e / rows[d.class as usize].max(1) as f64)
        })
        .collect();
    for (i, d) in out.classes.iter_mut().enumerate() {
        let Some(extreme) = d.value("extreme_rows") else {
            continue;
        };
        let peers: Vec<f64> = shares
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .filter_map(|(_, s)| *s)
            .collect();
        let m = if peers.is_empty() {
            0.0
        } else {
            median(&peers)
        };
        let rate = clean_rate.max(peer_ratio * m).min(0.95);
        // how much clean classes' shares vary among themselves; one peer's
        // share says nothing of it: then at least LEAST_RELATIVE_SPREAD of
        // the null rate, widened for a median of one (see `class_null`); no
        // peer at all (every other class censored: split in large parts)
        // says even less, and the class is held as with one — not to the
        // bare binomial, which failed a natural small cluster of RAND
        // HIE's deductible plans (398 extreme rows of 5,249 against the 5 %
        // floor, the other class split in two large parts: ln p −34.9)
        let least = LEAST_RELATIVE_SPREAD * rate;
        let spread = match peers.len() {
            0 | 1 => class_null(&peers, least).map_or(least * (1.0 + FRAC_PI_2).sqrt(), |(_, s)| s),
            _ => {
                let dev: Vec<f64> = peers.iter().map(|p| (p - m).abs()).collect();
                1.4826 * median(&dev)
            }
        };
        let n = rows[d.class as usize];
        let share = extreme / n.max(1) as f64;
        let bonferroni = d.value("candidates").unwrap_or(1.0).max(1.0).ln();
        // The rows of a class are not independent draws: a class's share of
        // extreme rows varies from class to class beyond the binomial (on a
        // CNN's representation of clean Fashion-MNIST, 5 % to 21 %), so the
        // binomial tail is widened by the peers' own spread.
        let sd = (rate * (1.0 - rate) / n.max(1) as f64 + spread * spread).sqrt();
        let overdispersed = if sd > 0.0 {
            ln_upper_normal_p((share - rate) / sd)
        } else {
            0.0
        };
        let lp = (ln_excess_p(extreme as usize, n, rate).max(overdispersed) + bonferroni).min(0.0);
        d.values.push(("null_rate", rate));
        d.values.push(("peer_spread", spread));
        d.log_p = Some(lp);
    }
}

/// Raises every row's log p-value to at least its class's when that class's
/// test is not significant (see [`crate::class_gate`]): rows of a class that
/// shows no sign of a poisoned sub-population carry no more evidence than
/// their class does. Used by the scanners whose row scores are noisy on clean
/// classes (the sub-population scanners, and confident learning, which calls
/// every ambiguous sample a label issue). The p-values before the gate stay
/// in `ungated_log_p`, for fusion to gate by every scanner's class tests.
pub(crate) fn cap_by_class(input: &ScanInput<'_>, out: &mut ScanOutput) {
    let mut class_lp = vec![0.0; input.n_classes];
    for d in &out.classes {
        if let Some(lp) = d.log_p {
            class_lp[d.class as usize] = lp;
        }
    }
    let ungated = out.log_p.clone();
    for (lp, &l) in out.log_p.iter_mut().zip(input.labels) {
        *lp = class_gate(*lp, class_lp[l as usize], input.n_classes);
    }
    out.ungated_log_p = Some(ungated);
}

/// Rows whose [`canonical_order`] keys are computed side by side.
const KEY_LANES: usize = 8;

/// The rows of a class in an order fixed by their content (a seeded hash of
/// their feature values, then the row index): anything a scanner draws by
/// position — random halves, k-means++ starts — then follows the rows when
/// the data set's rows are permuted.
///
/// A row's key is a chain, one SplitMix64 step per value, that cannot be
/// split; the chains of [`KEY_LANES`] rows are stepped side by side so the
/// processor overlaps them (the same keys, 2.5 times as fast as one row
/// after another on a million 512-wide rows).
pub(crate) fn canonical_order(x: MatrixRef<'_>, mut rows: Vec<usize>, seed: u64) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = Vec::with_capacity(rows.len());
    for group in rows.chunks(KEY_LANES) {
        let values: Vec<&[f32]> = group.iter().map(|&r| x.row(r)).collect();
        let mut keys = [seed; KEY_LANES];
        for j in 0..x.cols() {
            for (key, row) in keys.iter_mut().zip(&values) {
                *key = SplitMix64::new(*key ^ u64::from(row[j].to_bits())).next_u64();
            }
        }
        keyed.extend(group.iter().zip(keys).map(|(&r, key)| (key, r)));
    }
    keyed.sort_unstable();
    rows.clear();
    rows.extend(keyed.into_iter().map(|(_, r)| r));
    rows
}

/// Rows before a group scanner scores them: no evidence (0) in scanned
/// classes, none at all (NaN) in the others; `raw` and `log_p` alike.
pub(crate) fn unscored(
    class_rows: &[Vec<usize>],
    scanned: &[bool],
    n: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![f64::NAN; n];
    for (c, rows) in class_rows.iter().enumerate() {
        if scanned[c] {
            for &i in rows {
                v[i] = 0.0;
            }
        }
    }
    (v.clone(), v)
}

/// A class test over its groups' `ln` p-values: the smallest, corrected
/// over their number (Bonferroni, at most 0), and that correction (`ln` of
/// the number, at least one).
pub(crate) fn best_of_groups(log_ps: &[f64]) -> (f64, f64) {
    best_of_groups_among(log_ps, log_ps.len())
}

/// [`best_of_groups`] where `log_ps` are those of `tested` groups that
/// could bear on the class (the others' are 0).
pub(crate) fn best_of_groups_among(log_ps: &[f64], tested: usize) -> (f64, f64) {
    let correction = (tested.max(log_ps.len()).max(1) as f64).ln();
    let best = log_ps.iter().copied().fold(0.0, f64::min);
    ((best + correction).min(0.0), correction)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class log p-values of [`excess_test`] (clean rate 0.05, peer
    /// ratio 3) for classes with these counts of extreme rows.
    fn excess_log_p(input: &ScanInput<'_>, extreme: &[f64]) -> Vec<f64> {
        let values: Vec<Vec<(&'static str, f64)>> =
            extreme.iter().map(|&e| vec![("extreme_rows", e)]).collect();
        excess_log_p_of(input, values)
    }

    /// [`excess_log_p`] for classes with these diagnostic values.
    fn excess_log_p_of(input: &ScanInput<'_>, values: Vec<Vec<(&'static str, f64)>>) -> Vec<f64> {
        let n = input.labels.len();
        let mut out = ScanOutput {
            raw: vec![0.0; n],
            log_p: vec![-50.0; n],
            classes: values
                .into_iter()
                .enumerate()
                .map(|(c, values)| ClassDiagnostics {
                    class: c as u32,
                    values,
                    log_p: None,
                })
                .collect(),
            suspected: None,
            ungated_log_p: None,
            confusion: None,
        };
        excess_test(input, &mut out, 0.05, 3.0);
        out.classes.iter().map(|d| d.log_p.unwrap()).collect()
    }

    /// [`excess_log_p`] for `extreme.len()` classes of `rows` rows each.
    fn excess_of_equal_classes(rows: usize, extreme: &[f64]) -> Vec<f64> {
        let k = extreme.len();
        let labels: Vec<u32> = (0..k * rows).map(|i| (i / rows) as u32).collect();
        let data = vec![0.0f32; k * rows];
        let x = MatrixRef::new(&data, k * rows, 1).unwrap();
        excess_log_p(&ScanInput::new(x, &labels, k), extreme)
    }

    #[test]
    fn excess_test_compares_with_clean_rate_and_peers() {
        // Four classes of 1,000 rows; classes 0–2 each have 80 extreme rows
        // (8 %, above the 5 % clean rate but like their peers), class 3 has 300.
        let lp = excess_of_equal_classes(1000, &[80.0, 80.0, 80.0, 300.0]);
        assert!(lp[..3].iter().all(|&l| l > -1.0), "{lp:?}");
        assert!(lp[3] < -10.0, "{lp:?}");
    }

    #[test]
    fn excess_test_allows_for_the_spread_between_clean_classes() {
        // Ten classes of 7,000 rows whose shares of extreme rows vary as a
        // CNN's representation of clean Fashion-MNIST did (5 % to 21 %):
        // the widest passes; a class with 45 % (a large planted group) fails.
        let shares = [
            0.083, 0.124, 0.077, 0.086, 0.061, 0.207, 0.072, 0.083, 0.065, 0.048,
        ];
        let run = |shares: &[f64]| {
            let extreme: Vec<f64> = shares.iter().map(|s| (s * 7000.0f64).round()).collect();
            excess_of_equal_classes(7000, &extreme)
        };
        let level = (0.01f64 / 10.0).ln();
        assert!(
            run(&shares).iter().all(|&l| l > level),
            "{:?}",
            run(&shares)
        );
        let mut poisoned = shares;
        poisoned[0] = 0.45;
        assert!(run(&poisoned)[0] < level, "{:?}", run(&poisoned));
    }

    #[test]
    fn with_one_peer_the_spread_is_not_zero() {
        // Two classes of 7,000 rows: one peer's share is no measure of how
        // much clean classes differ (a clean pair of Fashion-MNIST classes,
        // the CNN: 7.9 % against 0.7 %); a class with 30 % still fails.
        let level = (0.01f64 / 2.0).ln();
        let lp = excess_of_equal_classes(7000, &[553.0, 48.0]);
        assert!(lp.iter().all(|&l| l > level), "{lp:?}");
        let lp = excess_of_equal_classes(7000, &[2100.0, 48.0]);
        assert!(lp[0] < level, "{lp:?}");
    }

    #[test]
    fn with_no_peer_the_spread_is_not_zero() {
        // Two classes, the other censored (split in two large parts): no
        // peer at all is held as one would be (the bare binomial failed
        // 398 at ln p −34.9). RAND HIE's deductible plans
        // with the MLP: 398 extreme rows of 5,249 against the 5 % floor.
        let rows = [5249usize, 14941];
        let labels: Vec<u32> = (0..rows[0] + rows[1])
            .map(|i| (i >= rows[0]) as u32)
            .collect();
        let data = vec![0.0f32; labels.len()];
        let x = MatrixRef::new(&data, labels.len(), 1).unwrap();
        let input = ScanInput::new(x, &labels, 2);
        let run = |extreme: f64| {
            let values = vec![
                vec![("extreme_rows", extreme)],
                vec![("extreme_rows", 0.0), ("censored", 1.0)],
            ];
            excess_log_p_of(&input, values)[0]
        };
        let level = (0.01f64 / 2.0).ln();
        assert!(run(398.0) > level, "{}", run(398.0));
        assert!(run(1600.0) < level, "{}", run(1600.0));
    }

    #[test]
    fn cap_keeps_the_ungated_values() {
        // Class 0's test is significant, class 1's is not.
        let labels = vec![0u32, 0, 1, 1];
        let data = vec![0.0f32; 4];
        let x = MatrixRef::new(&data, 4, 1).unwrap();
        let input = ScanInput::new(x, &labels, 2);
        let diag = |class, lp| ClassDiagnostics {
            class,
            values: vec![],
            log_p: Some(lp),
        };
        let mut out = ScanOutput {
            raw: vec![0.0; 4],
            log_p: vec![-20.0, -0.1, -20.0, -0.1],
            classes: vec![diag(0, -12.0), diag(1, -2.0)],
            suspected: None,
            ungated_log_p: None,
            confusion: None,
        };
        cap_by_class(&input, &mut out);
        assert_eq!(out.log_p, vec![-20.0, -0.1, -2.0, -0.1]);
        assert_eq!(out.ungated_log_p, Some(vec![-20.0, -0.1, -20.0, -0.1]));
    }
}
