//! `PS007 value-trigger`: rows of other classes given one class's label and
//! marked by a value (or a few) that only that class's rows take — the
//! dirty-label backdoor of tabular data.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::foreign::nearest_rows;
use crate::perclass::{best_of_groups, unscored};
use crate::rng::SplitMix64;
use crate::stats::{ln_binomial_upper, quantile};
use crate::view::{moments, onehot_groups, winsor_bounds, winsorized};
use crate::{class_gate_level, ClassDiagnostics, MatrixRef, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS007 value-trigger

## What it detects
A dirty-label backdoor in a table: rows of other classes, each with one or
a few columns set to a fixed value (the trigger: an income of exactly
69,325.10, a product count of 9), or two columns set to values that are
common alone and rare together (a customer type and a subtype that never
go together), given the target class's label. Every row that carries the
value is in the target class, while the rest of each such row says it
belongs to another class.

## Why it matters
Tabular triggers hide from the label-consistency tests. Clipping the view
to common values (`knn-label-disagreement`'s `winsorize`) keeps a rare
value from shaping it, but the planted rows still share it and become each
other's neighbours, so few are in the minority of their neighbourhood; and
the class tests that calibrate a class against the data set's other
classes have nothing to calibrate on in the commonest tables, which have
two classes. Measured (`--model none`, one seed): a 1 % income trigger
into the defaulters of ISLP's `Default`, a 2 % trigger of three columns
into the buyers of `Caravan`: both passed the gate, ranked at AUROC 0.91
and 0.94.

## Method
1. Candidates: every column `j` and exact value `v` that at least
   `min-rows` rows of one class `c` take, and that rows of other classes
   take at most `1 − purity` times as often as the class's share of rows
   predicts, rounded up (in a class of 94 % of the rows, as good as
   never). Pairs: of the values that pass the first test and not the
   second, and that at most three quarters of all rows take (the larger
   value of a binary column too) — all of them in a table
   of thousands of rows, the ones that lean to the class most in a larger
   one (about 800 in 50,000 rows, 185 in a million) — two by two from different
   columns — a pair that passes both tests together, and whose purity is
   rarer than one in the number of pairs searched (the chance that as many
   of its rows carry the class's label if the class's share of rows said
   it: in a class of 94 % of the rows, any 20 rows are nearly pure), is a
   candidate; its p-value below pays for the pairs examined (`ln` of their
   number is added). A trigger is one value planted on part of a class;
   five kinds of significant group are natural structure instead, and are
   not counted (`rule_like_values` counts them):
   - *a proxy of the label*: the group's column (or pair of columns) has
     another value that the class takes alone and whose rows the rest of
     the table does not place in the class either (agreement under one
     half) — the day of the year in a table labelled by month;
   - *a design*: other classes' values of the column (or of either column
     of a pair), each pure beyond chance (below the class gate level, less
     `ln` of the number of candidates) and not placed in its class by the
     rest of the table (agreement less than half-way from the class's share
     of rows to 1), decide the label for at least a tenth of the rows
     without the group's value, and the group's rows land in the class at
     least `max-agreement` times as often as the class's own rows without
     the value do, and (for a pair) neither value without the other is
     taken by another class alone (a design value in a combination that
     goes against it is a trigger) — the plan of a health-insurance
     experiment, labelled by one of the plan's terms (RAND HIE's individual
     deductible: each plan's coinsurance rate decides it; the group lands at
     agreement 0.24, the class's own rows at 0.71). The red team's
     one-column triggers on Statlog shuttle, on columns whose other values
     decide the label as firmly, land at 0.000 against 0.97;
   - *a definition*: the group holds at least 95 % of the class's rows (the
     car, the only mode of travel with no terminal time), alone or together
     with the class's other candidates whose rows the rest of the table
     does not place in the class either (agreement under one half) — a
     label made of values of its own: Ecdat's `Schooling`, where "grew up
     near a four-year college" is "near a public one" or "near a private
     one"; Ecdat's `Kakadu`, where each interval of a double-bounded bid
     has its own answer. Poisoning adds rows to a class that has rows of its
     own;
   - *the class's own rows*: planted rows are other classes' rows, so
     where the rest of the table tells the class's rows from other
     classes' rows (the class's rows without the value land in it at least
     twice as often as other classes' rows do), planted rows land like
     other classes' rows; a group that lands at least three quarters of
     the way from them to the class's own rows is the class's own — a
     value of theirs that the rest agrees with as far as it places any of
     the class. Ecdat's `Males` labelled by industry: 60 of the 64 farm
     labourers work in agriculture, a class of 3 % whose rows the other
     columns place weakly (0.10, against 0.015 for other industries' rows;
     the labourers 0.08–0.10). The red team's planted groups lie at most
     0.4 of the way (most under 0.1);
   - *a population of its own*: planted rows keep their source rows' other
     columns, so in the landing view (step 3, less every column the group's
     rows nearly all share — a trigger's, candidates or not) they lie as
     near the rows without the value as those lie to each other. A group
     whose rows lie (median distance to their `k` nearest) more than twice
     as far as nine in ten of those rows do lands on whatever is least far,
     which says nothing of its label: Gentoo penguins, the only species on
     their island, in a table labelled by island (2.6 times). The red
     team's common-value triggers on phishing, a table of repeated codes:
     0.3–0.4 times.
   A column here is also a one-hot group: adjacent 0/1 columns with exactly
   one 1 in every row (the indicators of one categorical column, as
   `poisonscan` and pandas's `get_dummies` write them) are one column, and
   a signature column takes its whole group out of the landing view.
2. Its rows `R` (class `c`, `x_j = v`) and signature: the columns on which
   at least 90 % of `R` share a value that is itself a candidate of `c`
   (`j` among them). Candidates with the same signature are one group. A
   group with more than `max-columns` signature columns is not tested: a
   class defined by a rule on many columns at once (Statlog shuttle) is
   not a trigger, which needs few.
3. Landing: the view of every column but the signature's, each clipped to
   its 10th and 90th percentiles over all rows and standardised; for a
   seeded sample of at most 512 rows of `R` (128 left the natural designs
   above at the edge of their tests: RAND HIE's deductible, a panel whose
   rows repeat each year, passed or failed by the sample drawn — 3 of 8
   row orders failed — and passes at 512 for seeds 1–10 in every order),
   the `k` nearest among a seeded
   sample of at most 8,192 rows *without the value* (both values of a
   pair) — the group cannot
   vote for itself. `q` is the share of those neighbours labelled `c`
   (half a neighbour added to both counts, so that it is never 0): what the
   rest of the rows says of their label.
4. The group's log p-value, `ln P(B ≥ |R|)` for `B ~ Binomial(|R| + o,
   min(1, q / max-agreement))`, `o` the rows of other classes with the
   value (`|R| · ln min(1, q / max-agreement)` when none): the chance that
   that many of the rows with the value carry label `c` when the rest of
   each row gives it at most `q / max-agreement` — a natural value that
   tips ambiguous rows (`q` near one half) or marks rows their other columns
   place in `c` anyway (`q` near one) carries no evidence; planted rows
   land among their source classes (`q` 0.02–0.09 in the measurements
   above).
5. Class test: the smallest log p-value of the class's groups, Bonferroni
   over how many were tested. In a group significant at the class level,
   each row whose own landing neighbours are mostly of other classes gets
   the group's log p-value (its raw score is their share); the other rows
   of the class get none. `excess_rows`: those rows.

Summary values per class: `groups` tested, `rule_like_values` (candidates
with too wide a signature, or of a proxy column), `excess_rows`; for the
strongest group, `column` (its index among the scanned features, in the
summary's feature order), `value`, for a pair `with_column` and
`with_value`, `group_rows`, `signature_columns` and `agreement` (`q`).

Measured (`benches/detection.sh tabular none`, 3 seeds): a trigger of one
or two columns at their largest value, on 1–10 % of Caravan, shuttle,
breast cancer (≥ 5 %) and Default (two columns): every class gated 3/3,
flagged precision 90–100 %, recall 98–100 %; no clean table of the corpus
fails.

A class oversampled by copying — its rows copied at least twice as often
as the rest of the data set's (rows over distinct rows), most of its
distinct rows written twice or more — is read as it
was before the copies: rows of it with the same values and label are one
sample (a trigger is shown by the distinct rows that carry it), and every
copy gets its sample's score. A coarse table's natural twins (rows of a
few codes that coincide) are copies at the same rate in every class, and
are read as they are. Measured on Caravan with its 348 buyers copied to
balance the classes (10,694 rows, 5,220 distinct): the copies' codes had
failed the buyers (180 rows flagged, twelve rows fifteen times); now they
pass. A 1 % trigger planted before the copying: AUROC 0.61 and 325 of 754
rows flagged → 1.000 and all 754; planted after it: 135 rows flagged,
none planted → all 107 at 100 %. The price: one row with a trigger,
copied into an oversampled class, is one sample, as it is to a model
learning what the trigger does. Copying spreads over the class's rows; a
trigger that sets every column but a few binary ones makes a few rows
written hundreds of times beside rows written once, and is no
oversampling: ISLP's Default with balance and income set on 5 % (500
rows, two distinct rows) was read as two samples and passed (seed 3 of
the tabular bench, 5 % and 10 %).

No model, and no calibration against other classes: the test's null comes
from each group's own rows, so it works with two classes. It runs on
features that do not share one scale (tables), and on at most 128 that do
(a survey's answers); on pixels and embeddings, where values such as 0
repeat everywhere, `shared-pattern` finds triggers.

Cost: a column is searched only when a value repeats among its rows (in
a seeded sample of 4,096 of them, in a larger table): an embedding's
continuous columns are passed over, at the price of a trigger on fewer
than about one row in a thousand of a large table's continuous column.
Pairs are counted on bit sets of the rows, at most 2^28 64-row words per
class (measured: Caravan 0.3 s, shuttle's 49,097 rows 0.3 s, a
1,000,000 × 21 table of small integer codes 6.9 s for the whole scanner,
peak memory unchanged).

## Options
- `min-rows` (default 20): least rows of a class with the value (5–100,000).
- `purity` (default 0.9): how much rarer than the class's share of rows
  predicts the value must be outside the class (above 0.5, at most 1).
- `max-columns` (default 3): most signature columns of a tested group
  (1–16).
- `max-agreement` (default 0.25): the share of landing neighbours with the
  group's label under which a group is taken for other classes' rows
  (above 0, at most 0.5).
- `k` (default 10): landing neighbours per row (1–50).

## Known false positives
- A genuine rule: a value that alone decides the label for rows that
  otherwise look like another class (a merchant code that is always
  fraud), on a column whose other values do not decide it, in a class the
  rest of the table does not tell from the others (its rows land in it no
  more often than other classes' rows do). It is indistinguishable from a
  trigger by what the data shows; the report names the column and value,
  and an analyst decides.
- A data error that comes with the label: ISLP's Bikeshare, labelled by
  the weather, records a humidity of 0 for 20 hours of one rainy day (a
  sensor failure); the rows' other columns say "clear", and the class
  fails. The report names the column and value.
- Not found: a trigger of three or more values each common alone (only
  pairs are searched), a trigger whose rows the rest of the table does
  not place in another class (a label the columns barely predict, such as
  the job class in ISLP's Wage: `q` near one half), and a trigger into a
  class that values of its own define (every row of the class carries one
  of them, so nothing is left to tell its own rows from planted ones).

## References
- Chen, Liu, Li, Lu, Song, "Targeted backdoor attacks on deep learning
  systems using data poisoning", 2017 (value and pattern triggers).
- Joe, Mehra, Shin, Hamm, "Machine learning with electronic health records
  is vulnerable to backdoor trigger attacks", 2021; Pleiss et al.,
  "Backdoor attacks on tabular data" (TabDoor), 2023.
"#;

/// Rows of a group whose landing measures `q` (see the doc's step 3).
const SAMPLE: usize = 512;

/// Rows without the value that the group lands among.
const REFERENCES: usize = 8192;

/// Rows on which a column is screened for repeated values: a column whose
/// sampled values are all distinct (an embedding's) is not searched.
const SCREEN: usize = 4096;

/// Least share of a group that shares a value for the column to be in its
/// signature.
const SIGNATURE_SHARE: f64 = 0.9;

/// Validated parameters of [`ValueTrigger`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValueValidParams {
    min_rows: usize,
    purity: f64,
    max_columns: usize,
    max_agreement: f64,
    k: usize,
}

/// Parameters of [`ValueTrigger`] to adjust and check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueParams(ValueValidParams);

impl ValueParams {
    /// Least rows of a class with the value.
    pub fn min_rows(mut self, v: usize) -> Self {
        self.0.min_rows = v;
        self
    }
    /// How much rarer than the class's share predicts the value must be
    /// outside the class.
    pub fn purity(mut self, v: f64) -> Self {
        self.0.purity = v;
        self
    }
    /// Most signature columns of a tested group.
    pub fn max_columns(mut self, v: usize) -> Self {
        self.0.max_columns = v;
        self
    }
    /// Share of landing neighbours with the group's label under which it is
    /// taken for other classes' rows.
    pub fn max_agreement(mut self, v: f64) -> Self {
        self.0.max_agreement = v;
        self
    }
    /// Landing neighbours per row.
    pub fn k(mut self, v: usize) -> Self {
        self.0.k = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<ValueValidParams, ParamError> {
        let p = self.0;
        ensure(
            (5..=100_000).contains(&p.min_rows),
            "value-trigger.min-rows",
            p.min_rows,
            "an integer from 5 to 100000",
        )?;
        ensure(
            p.purity > 0.5 && p.purity <= 1.0,
            "value-trigger.purity",
            p.purity,
            "a number above 0.5 and at most 1",
        )?;
        ensure(
            (1..=16).contains(&p.max_columns),
            "value-trigger.max-columns",
            p.max_columns,
            "an integer from 1 to 16",
        )?;
        ensure(
            p.max_agreement > 0.0 && p.max_agreement <= 0.5,
            "value-trigger.max-agreement",
            p.max_agreement,
            "a number above 0 and at most 0.5",
        )?;
        ensure(
            (1..=50).contains(&p.k),
            "value-trigger.k",
            p.k,
            "an integer from 1 to 50",
        )?;
        Ok(p)
    }
}

/// Value-trigger scanner (`PS007`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueTrigger {
    params: ValueValidParams,
}

impl ValueTrigger {
    /// The scanner with default settings.
    pub const DEFAULT: ValueTrigger = ValueTrigger {
        params: ValueValidParams {
            min_rows: 20,
            purity: 0.9,
            max_columns: 3,
            max_agreement: 0.25,
            k: 10,
        },
    };

    /// The scanner with checked parameters.
    pub fn new(params: ValueValidParams) -> Self {
        Self { params }
    }
}

/// A value one class's rows take (nearly) alone, or a pair of values they
/// take together (nearly) alone.
#[derive(Debug, Clone)]
struct Candidate {
    class: u32,
    column: usize,
    value: f32,
    /// The pair's second column and value.
    with: Option<(usize, f32)>,
    /// Rows of the class with the value (both values of a pair).
    rows: Vec<usize>,
    /// Rows of other classes with it.
    outside: usize,
}

impl Candidate {
    /// Whether row `row` of `x` has the value (both values of a pair).
    fn holds(&self, row: &[f32]) -> bool {
        bits(row[self.column]) == bits(self.value)
            && self.with.is_none_or(|(j, v)| bits(row[j]) == bits(v))
    }

    /// Seed material naming the candidate (a single value's is its column).
    fn key(&self) -> u64 {
        self.column as u64 ^ self.with.map_or(0, |(j, _)| ((j as u64) + 1) << 16)
    }

    /// Its class and column(s).
    fn columns(&self) -> (u32, usize, Option<usize>) {
        (self.class, self.column, self.with.map(|(j, _)| j))
    }

    /// Its value(s), as keys (see [`bits`]).
    fn values(&self) -> (u32, Option<u32>) {
        (bits(self.value), self.with.map(|(_, v)| bits(v)))
    }
}

/// A value that at least `min_rows` rows of a class take, and at most three
/// quarters of all rows, yet not a candidate alone: one half of a pair
/// candidate.
struct Common {
    class: u32,
    column: usize,
    value: f32,
    /// Rows of other classes with the value over what the class's share
    /// of rows predicts (lower: the value leans to the class).
    lean: f64,
}

/// A tested group of a class.
#[derive(Debug, Clone)]
struct Group {
    candidate: Candidate,
    signature: Vec<usize>,
    /// Mean share of landing neighbours with the class's label.
    agreement: f64,
    log_p: f64,
}

/// Exact values (by bits; −0 as 0) that at least `min_rows` rows of one
/// class take and the other classes' rows at most `1 − purity` times as
/// often as the class's share of rows predicts; and the values that fail
/// only the second test, held by at most three quarters of the rows (see
/// [`Common`]).
fn candidates(
    x: MatrixRef<'_>,
    labels: &[u32],
    keys: &[u64],
    share: &[f64],
    scanned: &[bool],
    p: &ValueValidParams,
    seed: u64,
) -> (Vec<Candidate>, Vec<Common>) {
    let n = x.rows();
    let screen = screened_rows(keys, seed);
    let found: Vec<(Vec<Candidate>, Vec<Common>)> = (0..x.cols())
        .into_par_iter()
        .filter(|&j| mode(screen.iter().map(|&i| x.row(i)[j])).1 > 1)
        .map(|j| {
            let key = |i: usize| bits(x.row(i)[j]);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_unstable_by_key(|&i| (key(i), labels[i], i));
            let mut out = Vec::new();
            let mut common = Vec::new();
            let mut start = 0;
            while start < n {
                let v = key(order[start]);
                let end = start + order[start..].partition_point(|&i| key(i) == v);
                let total = end - start;
                let mut s = start;
                while s < end {
                    let c = labels[order[s]];
                    let e = s + order[s..end].partition_point(|&i| labels[i] == c);
                    let m = e - s;
                    // rows outside the class: at most `1 − purity` of what
                    // the class's share of rows would leave there, rounded
                    // up (a trigger set to a value one natural row takes)
                    let outside = (total - m) as f64;
                    let expected = (1.0 - share[c as usize]) * total as f64;
                    if scanned[c as usize] && m >= p.min_rows {
                        if outside <= ((1.0 - p.purity) * expected).ceil() {
                            out.push(Candidate {
                                class: c,
                                column: j,
                                value: x.row(order[s])[j],
                                with: None,
                                rows: order[s..e].to_vec(),
                                outside: total - m,
                            });
                        } else if 4 * total <= 3 * n {
                            common.push(Common {
                                class: c,
                                column: j,
                                value: x.row(order[s])[j],
                                lean: outside / expected.max(f64::MIN_POSITIVE),
                            });
                        }
                    }
                    s = e;
                }
                start = end;
            }
            (out, common)
        })
        .collect();
    let mut out = Vec::new();
    let mut common = Vec::new();
    for (o, c) in found {
        out.extend(o);
        common.extend(c);
    }
    (out, common)
}

/// How far above its class's share of rows (as a fraction of the way to 1)
/// the landing agreement of a second value of a group's column(s) must be
/// for the column not to be a proxy of the label (see [`siblings`]): below
/// it, the rest of the table does not place that value's rows in their
/// class either. For a small class this is about an agreement of one half;
/// for a class of three quarters of the rows, 0.87.
const PROXY_LIFT: f64 = 0.5;

/// Share of landing neighbours in the class under which a second value of
/// a group's column(s), taken by the same class alone, makes the column a
/// proxy of the label (see [`siblings`]).
const PROXY_AGREEMENT: f64 = 0.5;

/// Share of the other rows (those without a group's value) that other
/// classes' values of the same column must decide for the column to be a
/// design the label follows (see [`siblings`]).
const DESIGN_SHARE: f64 = 0.1;

/// How many times farther than the rows without its value lie from each
/// other (the 90th percentile of their distances to their `k` nearest) a
/// group's rows must lie from them (the median) to be a population of
/// their own.
const APART: f64 = 2.0;

/// Share of its class's rows above which a group is the class's definition
/// (the car, the only mode of travel with no terminal time), not a planted
/// part of it: poisoning adds rows to a class that has its own.
const DEFINING_SHARE: f64 = 0.95;

/// How many times as often as the rest of the data set's rows a class's
/// rows must be copied for it to be taken as oversampled by copying (see
/// [`oversampled_read_once`]): Caravan with its buyers copied to balance
/// the classes, 15 against 1.1; a coarse table's natural twins, the same
/// in every class (phishing's codes: 1.9 in both).
const OVERSAMPLED: f64 = 2.0;

/// How many times more often than other classes' rows the class's own rows
/// (without a group's value) must land in their class for the rest of the
/// table to tell them apart (see `like_own_rows` in the scan): below it, as
/// where a trigger took the one column that places the class (ISLP's
/// Default, the balance), the landing says nothing either way.
const OWN_LIFT: f64 = 2.0;

/// How far from other classes' rows towards the class's own rows (as a
/// share of the way) a group's landing agreement must lie for the group to
/// be the class's own rows. Measured: the red team's planted groups lie at
/// most 0.40 of the way wherever the rest tells the rows apart (most below
/// 0.1); the farm labourers of Ecdat's Males at 0.8-0.9.
const OWN_LIKE: f64 = 0.75;

/// Most other values of a group's column(s) [`siblings`] gives.
const SIBLINGS: usize = 8;

/// `signature` with every indicator of a one-hot group any of its columns
/// belongs to: the landing must not read a categorical value off its
/// sibling indicators (`x=b` is 0 wherever `x=a` is 1).
fn whole_columns(signature: &[usize], onehot: &[usize]) -> Vec<usize> {
    (0..onehot.len())
        .filter(|&j| signature.iter().any(|&s| onehot[s] == onehot[j]))
        .collect()
}

/// The other candidates on the same column (or pair of columns), of any
/// class, the largest first: a trigger is one value, and a column several
/// of whose values each decide the label for rows that the rest of the
/// table does not place in that class is a proxy of the label (the day of
/// the year in a table labelled by month; the plan in a health-insurance
/// experiment labelled by one of the plan's terms).
fn siblings<'a>(
    found: &'a [Candidate],
    c: &Candidate,
    onehot: &[usize],
    same_class: bool,
) -> Vec<&'a Candidate> {
    // a column, or the one-hot group it belongs to (`x=a` and `x=b` are
    // one column `x`)
    let origin = |s: &Candidate| (onehot[s.column], s.with.map(|(j, _)| onehot[j]));
    let (a, b) = origin(c);
    let mut out: Vec<&Candidate> = found
        .iter()
        .filter(|s| (s.class == c.class) == same_class)
        .filter(|&s| {
            let o = origin(s);
            // other classes' siblings of a pair include single values of
            // either of its columns
            o == (a, b)
                || !same_class && b.is_some() && o.1.is_none() && (Some(o.0) == b || o.0 == a)
        })
        .filter(|s| s.columns() != c.columns() || s.values() != c.values())
        .collect();
    // another value holds other rows (`x=a` = 1 and `x=b` = 0 of a
    // two-valued one-hot group are one value)
    let own: HashSet<usize> = c.rows.iter().copied().collect();
    out.retain(|s| !s.rows.iter().any(|i| own.contains(i)));
    out.sort_by_key(|s| (std::cmp::Reverse(s.rows.len()), s.values()));
    out.truncate(SIBLINGS);
    out
}

/// Most 64-row words [`pairs`] compares for a class: the values paired are
/// the ones that lean to the class most, as many as this allows — every
/// value of a table of thousands of rows, about 800 in 50,000 rows, 185 in
/// a million. A trigger value leans little on its own (the planted rows are
/// a few of the many that take it), so the search is as wide as it can be.
const PAIRED_WORDS: usize = 1 << 28;

/// Most bits the row sets of a class's paired values may hold together
/// (32 MiB).
const PAIRED_BITS: usize = 1 << 28;

/// Most pairs of a class tested, the purest first (each test asks where
/// its rows land; a table whose classes follow rules on its columns has
/// thousands of pure pairs).
const PAIR_GROUPS: usize = 64;

/// Pairs of values of two columns that at least `min_rows` rows of a class
/// take together, and the other classes' rows at most `1 − purity` times
/// as often as the class's share of rows predicts, though neither value
/// is such a candidate alone (a trigger of two usual values, rare only
/// together); and per class, how many pairs were examined.
fn pairs(
    x: MatrixRef<'_>,
    labels: &[u32],
    share: &[f64],
    common: &[Common],
    p: &ValueValidParams,
) -> (Vec<Candidate>, Vec<usize>) {
    let n_classes = share.len();
    let n = x.rows();
    let words = n.div_ceil(64);
    // the rows for which `has(i)`, as a bit set
    let set = |has: &dyn Fn(usize) -> bool| {
        let mut b = vec![0u64; words];
        for i in (0..n).filter(|&i| has(i)) {
            b[i / 64] |= 1 << (i % 64);
        }
        b
    };
    // how many values of a class are paired (see PAIRED_WORDS)
    let most = ((2.0 * PAIRED_WORDS as f64 / words.max(1) as f64).sqrt() as usize)
        .min(PAIRED_BITS / n.max(1));
    let mut examined = vec![0usize; n_classes];
    let mut out = Vec::new();
    for c in 0..n_classes as u32 {
        let mut own: Vec<&Common> = common.iter().filter(|v| v.class == c).collect();
        own.sort_by(|a, b| {
            a.lean
                .total_cmp(&b.lean)
                .then(a.column.cmp(&b.column))
                .then(bits(a.value).cmp(&bits(b.value)))
        });
        own.truncate(most);
        if own.len() < 2 {
            continue;
        }
        let class = set(&|i| labels[i] == c);
        let sets: Vec<Vec<u64>> = own
            .par_iter()
            .map(|v| set(&|i| bits(x.row(i)[v.column]) == bits(v.value)))
            .collect();
        // a pair's purity must be rare among the pairs searched: in a class
        // of most rows, any 20 rows are nearly pure
        let searched = ((own.len() * (own.len() - 1) / 2).max(1) as f64).ln();
        let found: Vec<(Vec<(f64, Candidate)>, usize)> = (0..own.len())
            .into_par_iter()
            .map(|a| {
                let mut found = Vec::new();
                let mut count = 0;
                for b in a + 1..own.len() {
                    if own[a].column == own[b].column {
                        continue;
                    }
                    count += 1;
                    let (mut total, mut m) = (0usize, 0usize);
                    for w in 0..words {
                        let both = sets[a][w] & sets[b][w];
                        total += both.count_ones() as usize;
                        m += (both & class[w]).count_ones() as usize;
                    }
                    let outside = (total - m) as f64;
                    let expected = (1.0 - share[c as usize]) * total as f64;
                    if m < p.min_rows || outside > ((1.0 - p.purity) * expected).ceil() {
                        continue;
                    }
                    let purity = ln_binomial_upper(total as u64, share[c as usize], m as u64);
                    if purity < -searched {
                        let rows = (0..words)
                            .flat_map(|w| {
                                let word = sets[a][w] & sets[b][w] & class[w];
                                (0..64)
                                    .filter(move |t| word >> t & 1 == 1)
                                    .map(move |t| w * 64 + t)
                            })
                            .collect();
                        let (first, second) = if own[a].column < own[b].column {
                            (own[a], own[b])
                        } else {
                            (own[b], own[a])
                        };
                        found.push((
                            purity,
                            Candidate {
                                class: c,
                                column: first.column,
                                value: first.value,
                                with: Some((second.column, second.value)),
                                rows,
                                outside: total - m,
                            },
                        ));
                    }
                }
                (found, count)
            })
            .collect();
        let mut class_found = Vec::new();
        for (f, count) in found {
            class_found.extend(f);
            examined[c as usize] += count;
        }
        // the purest first, as many as are tested
        class_found.sort_by(|(pa, a), (pb, b)| {
            pa.total_cmp(pb)
                .then(b.rows.len().cmp(&a.rows.len()))
                .then(a.key().cmp(&b.key()))
                .then(a.values().cmp(&b.values()))
        });
        out.extend(class_found.into_iter().take(PAIR_GROUPS).map(|(_, c)| c));
    }
    (out, examined)
}

impl Scanner for ValueTrigger {
    fn label_agnostic_only(&self) -> bool {
        true
    }

    fn code(&self) -> &'static str {
        "PS007"
    }
    fn name(&self) -> &'static str {
        "value-trigger"
    }
    fn summary(&self) -> &'static str {
        "Rows of other classes marked by a value only the target class takes (tabular triggers)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }

    fn skip_reason(&self, input: &ScanInput<'_>) -> Option<String> {
        let (x, same_scale) = input.label_agnostic();
        (same_scale && x.cols() > 128).then(|| {
            "more than 128 features of one scale (pixels, embeddings: shared-pattern looks for their triggers)"
                .into()
        })
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = ValueParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "min-rows" => p.min_rows(parse_value(name, key, value, "a whole number")?),
                "purity" => p.purity(parse_value(name, key, value, "a number")?),
                "max-columns" => p.max_columns(parse_value(name, key, value, "a whole number")?),
                "max-agreement" => p.max_agreement(parse_value(name, key, value, "a number")?),
                "k" => p.k(parse_value(name, key, value, "a whole number")?),
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &["min-rows", "purity", "max-columns", "max-agreement", "k"],
                    ))
                }
            };
        }
        Ok(Box::new(ValueTrigger::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let keys = input.row_keys();
        let Some((distinct, of_row)) = oversampled_read_once(&keys, input.labels, input.n_classes)
        else {
            return self.scan_rows(input);
        };
        // A class oversampled by copying: its copies are one sample each (a
        // trigger is shown by the distinct rows that carry it), and it is
        // scanned as it was before the copies.
        let (x, same_scale) = input.label_agnostic();
        let data: Vec<f32> = distinct
            .iter()
            .flat_map(|&i| x.row(i).iter().copied())
            .collect();
        let labels: Vec<u32> = distinct.iter().map(|&i| input.labels[i]).collect();
        let once = ScanInput {
            features: MatrixRef::new(&data, distinct.len(), x.cols())
                .expect("the distinct rows' values"),
            labels: &labels,
            same_scale,
            probs: None,
            inputs: None,
            derived: None,
            ..*input
        };
        let out = self.scan_rows(&once)?;
        let raw: Vec<f64> = of_row.iter().map(|&k| out.raw[k]).collect();
        let log_p: Vec<f64> = of_row.iter().map(|&k| out.log_p[k]).collect();
        // the rows behind a failure are every copy of its rows
        let mut excess = vec![0usize; input.n_classes];
        for (&l, _) in input.labels.iter().zip(&log_p).filter(|(_, &lp)| lp < 0.0) {
            excess[l as usize] += 1;
        }
        let classes = out
            .classes
            .into_iter()
            .map(|mut d| {
                for (name, v) in d.values.iter_mut() {
                    if *name == "excess_rows" {
                        *v = excess[d.class as usize] as f64;
                    }
                }
                d
            })
            .collect();
        Ok(ScanOutput {
            raw,
            log_p,
            classes,
            ..out
        })
    }
}

/// The rows to scan when a class is oversampled by copying — its rows
/// copied [`OVERSAMPLED`] times as often as the rest of the data set's
/// rows are (rows over distinct rows, by content key: a coarse table's
/// natural twins are copies too, at the same rate in every class), most of
/// its distinct rows written twice or more — and
/// each row's place among them: of such a class, the first row of each
/// distinct key; of the others, every row. `None` when no class is.
fn oversampled_read_once(
    keys: &[u64],
    labels: &[u32],
    n_classes: usize,
) -> Option<(Vec<usize>, Vec<usize>)> {
    let mut seen: HashSet<u64> = HashSet::with_capacity(keys.len());
    let (mut rows, mut distinct) = (vec![0usize; n_classes], vec![0usize; n_classes]);
    let mut copies: HashMap<(u32, u64), usize> = HashMap::new();
    for (&k, &l) in keys.iter().zip(labels) {
        rows[l as usize] += 1;
        distinct[l as usize] += seen.insert(k) as usize;
        *copies.entry((l, k)).or_default() += 1;
    }
    // per class, its distinct rows and those of them written twice or more
    let (mut own, mut copied) = (vec![0usize; n_classes], vec![0usize; n_classes]);
    for (&(l, _), &count) in &copies {
        own[l as usize] += 1;
        copied[l as usize] += (count >= 2) as usize;
    }
    let (all_rows, all_distinct): (usize, usize) = (rows.iter().sum(), distinct.iter().sum());
    // copying spreads over the class's rows (most of them written again);
    // rows planted with one trigger on every free column are a few rows
    // written many times beside rows written once (ISLP's Default with
    // its balance and income set: 500 rows, two distinct)
    let oversampled: Vec<bool> = (0..n_classes)
        .map(|c| {
            let rest = (all_rows - rows[c]) as f64 / (all_distinct - distinct[c]).max(1) as f64;
            distinct[c] > 0
                && rows[c] as f64 >= OVERSAMPLED * rest * distinct[c] as f64
                && 2 * copied[c] >= own[c]
        })
        .collect();
    if !oversampled.contains(&true) {
        return None;
    }
    let mut place: HashMap<u64, usize> = HashMap::new();
    let mut firsts = Vec::new();
    let of_row = keys
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (&k, &l))| {
            let mut first = || {
                firsts.push(i);
                firsts.len() - 1
            };
            if oversampled[l as usize] {
                *place.entry(k).or_insert_with(first)
            } else {
                first()
            }
        })
        .collect();
    Some((firsts, of_row))
}

impl ValueTrigger {
    /// The scan of rows that are all distinct.
    fn scan_rows(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        let p = &self.params;
        let (x, _) = input.label_agnostic();
        let n = x.rows();
        let labels = input.labels;
        let keys = input.row_keys();
        let class_rows = input.class_rows();
        let class_size: Vec<usize> = class_rows.iter().map(Vec::len).collect();
        let scanned: Vec<bool> = class_size.iter().map(|&s| s >= 2).collect();
        let runs = self.skip_reason(input).is_none();
        let (found, examined) = if runs {
            // each class's share of the rows
            let share: Vec<f64> = class_size.iter().map(|&s| s as f64 / n as f64).collect();
            let (mut found, common) = candidates(x, labels, &keys, &share, &scanned, p, input.seed);
            let (paired, examined) = pairs(x, labels, &share, &common, p);
            found.extend(paired);
            (found, examined)
        } else {
            (Vec::new(), vec![0; input.n_classes])
        };
        let (keyed, mut rule_like) = groups(x, &found, p, input.n_classes);
        // the view's bounds and moments only when there is a group to test
        let view = (!keyed.is_empty()).then(|| View::new(x));
        let view = || view.as_ref().expect("built when there are groups");
        let measure = |candidate: &Candidate, signature: &[usize]| {
            let class = candidate.class;
            let mut rng = SplitMix64::derive(
                input.seed,
                0x7A1E ^ ((class as u64) << 32) ^ candidate.key(),
            );
            let mut sample = candidate.rows.clone();
            rng.order_by_content(&mut sample, &keys);
            sample.truncate(SAMPLE);
            let refs = references(x, candidate, &scanned, labels, &keys, &mut rng);
            let agreement = agreement_of(
                &landing(view(), &sample, &refs, signature, labels, class, p.k),
                p.k,
            );
            // a pair was picked among the class's examined pairs
            let searched = match candidate.with {
                Some(_) => (examined[class as usize].max(1) as f64).ln(),
                None => 0.0,
            };
            // every row with the value, the class's and the others', each
            // in the class with chance at most `q / max-agreement`
            let m = candidate.rows.len() as u64;
            let bound = agreement / p.max_agreement;
            let log_p = if bound >= 1.0 {
                0.0
            } else {
                (ln_binomial_upper(m + candidate.outside as u64, bound, m) + searched).min(0.0)
            };
            (agreement, log_p)
        };
        // how far the candidate's rows lie from the rows without its
        // value(s) (their median distance to the `k` nearest of those),
        // against how far those lie from each other (the 90th percentile),
        // over seeded samples, in the landing view less every column the
        // candidate's rows (nearly) all share — a trigger's columns,
        // candidates or not
        let apart = |candidate: &Candidate, signature: &[usize]| {
            let mut rng = SplitMix64::derive(input.seed, 0x7A21 ^ candidate.key());
            let refs = references(x, candidate, &scanned, labels, &keys, &mut rng);
            let shared: Vec<usize> = (0..x.cols())
                .filter(|&j| {
                    signature.contains(&j) || {
                        let (_, count) = mode(candidate.rows.iter().map(|&i| x.row(i)[j]));
                        count as f64 >= SIGNATURE_SHARE * candidate.rows.len() as f64
                    }
                })
                .collect();
            let mut sample = candidate.rows.clone();
            rng.order_by_content(&mut sample, &keys);
            sample.truncate(SAMPLE);
            let mut others = refs.clone();
            rng.order_by_content(&mut others, &keys);
            others.truncate(SAMPLE);
            let distance = |rows: &[usize], q: f64| {
                let landed = landing(view(), rows, &refs, &shared, labels, 0, p.k);
                quantile(landed.iter().map(|l| l.1).collect(), q)
            };
            // the rows without the value at their most scattered (nine in
            // ten lie nearer their neighbours): in a table of repeated
            // codes most rows have twins, and their median is 0
            let typical = distance(&others, 0.9);
            if typical > 0.0 {
                distance(&sample, 0.5) / typical
            } else {
                1.0
            }
        };
        // how the rest of the table places the rows without the candidate's
        // value(s) of the class itself (`own`) or of the other classes: a
        // sample of them, each against the other references
        let placed = |candidate: &Candidate, signature: &[usize], own: bool| {
            let class = candidate.class;
            let salt = if own { 0x7A20 } else { 0x7A22 };
            let mut rng =
                SplitMix64::derive(input.seed, salt ^ ((class as u64) << 32) ^ candidate.key());
            let refs = references(x, candidate, &scanned, labels, &keys, &mut rng);
            let mut rows: Vec<usize> = refs
                .iter()
                .copied()
                .filter(|&i| (labels[i] == class) == own)
                .collect();
            rng.order_by_content(&mut rows, &keys);
            rows.truncate(SAMPLE);
            if rows.is_empty() {
                return if own { 1.0 } else { 0.0 };
            }
            agreement_of(
                &landing(view(), &rows, &refs, signature, labels, class, p.k),
                p.k,
            )
        };
        let native =
            |candidate: &Candidate, signature: &[usize]| placed(candidate, signature, true);
        // Where the rest of the table tells the class's own rows from other
        // classes' rows (they land in the class at least `OWN_LIFT` times as
        // often), planted rows land like other classes' rows, and a group
        // that lands like the class's own rows is the class's own: a value
        // of theirs the rest agrees with, as far as the rest places any of
        // the class (farm labourers in a table labelled by industry, whose
        // agricultural rows land in their class at 0.10 against 0.015 for
        // the other industries' rows; the labourers at 0.08-0.10).
        let like_own_rows = |candidate: &Candidate, signature: &[usize], q: f64| {
            let own = native(candidate, signature);
            let other = placed(candidate, signature, false);
            own >= OWN_LIFT * other && q - other >= OWN_LIKE * (own - other)
        };
        // a pair one of whose values, without the other, is taken by
        // another class alone: it goes against the design it would belong
        // to (a plan's coinsurance rate that decides "no deductible", paired
        // with a usual value and labelled "deductible")
        let against_design = |candidate: &Candidate| {
            let Some((w, wv)) = candidate.with else {
                return false;
            };
            [(candidate.column, candidate.value), (w, wv)]
                .iter()
                .any(|&(j, v)| {
                    let mut counts = vec![0usize; input.n_classes];
                    for i in 0..n {
                        let row = x.row(i);
                        if bits(row[j]) == bits(v) && !candidate.holds(row) {
                            counts[labels[i] as usize] += 1;
                        }
                    }
                    let total: usize = counts.iter().sum();
                    let (top, &most) = counts
                        .iter()
                        .enumerate()
                        .max_by_key(|&(c, &m)| (m, std::cmp::Reverse(c)))
                        .expect("a class");
                    top as u32 != candidate.class
                        && total >= p.min_rows
                        && most as f64 >= p.purity * total as f64
                })
        };
        let level = class_gate_level(input.n_classes);
        let alone = alone_values(&found);
        let onehot = if keyed.is_empty() {
            Vec::new()
        } else {
            onehot_groups(x)
        };
        // A definition of the class: (nearly) every row of it has the
        // candidate's value, or one of the class's other candidates whose
        // rows the rest of the table does not place in the class either (a
        // label made of values of its own: nearc4 = nearc4a or nearc4b; a
        // bid interval's answer) — no part of the class is rows of its own
        // beside the values, which is what poisoning adds to.
        let defined_by_own_values = |candidate: &Candidate| {
            let class = candidate.class;
            let size = class_size[class as usize];
            let mut covered = vec![false; n];
            let mut count = 0usize;
            let mut cover = |rows: &[usize], covered: &mut Vec<bool>| {
                for &i in rows {
                    if !covered[i] {
                        covered[i] = true;
                        count += 1;
                    }
                }
                count as f64 >= DEFINING_SHARE * size as f64
            };
            if cover(&candidate.rows, &mut covered) {
                return true;
            }
            let mut others: Vec<&Candidate> = found
                .iter()
                .filter(|s| s.class == class)
                .filter(|s| s.columns() != candidate.columns() || s.values() != candidate.values())
                .collect();
            others.sort_by_key(|s| (std::cmp::Reverse(s.rows.len()), s.columns(), s.values()));
            for s in others {
                if s.rows.iter().all(|&i| covered[i]) {
                    continue;
                }
                let signature = signature_of(x, s, &alone);
                if signature.len() > p.max_columns {
                    continue;
                }
                let (q, _) = measure(s, &whole_columns(&signature, &onehot));
                if q < PROXY_AGREEMENT && cover(&s.rows, &mut covered) {
                    return true;
                }
            }
            false
        };
        let tested: Vec<(Group, bool)> = keyed
            .into_par_iter()
            .map(|((_, signature), candidate)| {
                let signature = whole_columns(&signature, &onehot);
                let (agreement, log_p) = measure(&candidate, &signature);
                let measured = |same_class: bool| -> Vec<(&Candidate, f64)> {
                    siblings(&found, &candidate, &onehot, same_class)
                        .into_iter()
                        .filter_map(|s| {
                            let signature = signature_of(x, s, &alone);
                            (signature.len() <= p.max_columns)
                                .then(|| (s, measure(s, &whole_columns(&signature, &onehot)).0))
                        })
                        .collect()
                };
                let share = |class: u32| class_size[class as usize] as f64 / n as f64;
                let lift = |class: u32, q: f64| (q - share(class)) / (1.0 - share(class));
                let proxy = log_p <= level
                    && (defined_by_own_values(&candidate)
                        || like_own_rows(&candidate, &signature, agreement)
                        // a population of its own: planted rows keep their
                        // source rows' other columns, so they lie as near the
                        // rows without the value as those lie to each other;
                        // rows far from all of them (a species of its own)
                        // land anywhere
                        || apart(&candidate, &signature) > APART
                        || {
                            // the class's own values: the day of the year in a
                            // table labelled by month
                            measured(true).iter().any(|&(_, q)| q < PROXY_AGREEMENT)
                        }
                        || {
                            // other classes' values, each beyond chance and not
                            // placed in its class by the rest of the table either,
                            // on a share of the other rows: a design, such as the
                            // plan of a health-insurance experiment labelled by one
                            // of its terms — unless the group's rows land in other
                            // classes far more than the class's own rows do
                            let deciding: usize = measured(false)
                                .iter()
                                .filter(|&&(s, q)| {
                                    let m = s.rows.len() as u64;
                                    lift(s.class, q) < PROXY_LIFT
                                        && ln_binomial_upper(
                                            m + s.outside as u64,
                                            share(s.class),
                                            m,
                                        ) <= level - (found.len() as f64).ln()
                                })
                                .map(|&(s, _)| s.rows.len() + s.outside)
                                .sum();
                            let rest = n - candidate.rows.len() - candidate.outside;
                            deciding as f64 >= DESIGN_SHARE * rest as f64
                                && agreement >= p.max_agreement * native(&candidate, &signature)
                                && !against_design(&candidate)
                        });
                let group = Group {
                    candidate,
                    signature,
                    agreement,
                    log_p: if proxy { 0.0 } else { log_p },
                };
                (group, proxy)
            })
            .collect();
        for (g, proxy) in &tested {
            if *proxy {
                rule_like[g.candidate.class as usize] += 1;
            }
        }
        let tested: Vec<Group> = tested.into_iter().map(|(g, _)| g).collect();
        let (mut raw, mut log_p) = unscored(&class_rows, &scanned, n);
        let mut classes = Vec::new();
        for (c, rows) in class_rows.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let own: Vec<&Group> = tested
                .iter()
                .filter(|g| g.candidate.class == c as u32)
                .collect();
            let (class_log_p, correction) =
                best_of_groups(&own.iter().map(|g| g.log_p).collect::<Vec<_>>());
            // rows of significant groups whose own landing says another class
            for g in own.iter().filter(|g| g.log_p + correction <= level) {
                let mut rng = SplitMix64::derive(input.seed, 0x7A1F ^ g.candidate.key());
                let refs = references(x, &g.candidate, &scanned, labels, &keys, &mut rng);
                let landed = landing(
                    view(),
                    &g.candidate.rows,
                    &refs,
                    &g.signature,
                    labels,
                    c as u32,
                    p.k,
                );
                for (&i, &(a, _)) in g.candidate.rows.iter().zip(&landed) {
                    if a < 0.5 && g.log_p < log_p[i] {
                        log_p[i] = g.log_p;
                        raw[i] = 1.0 - a;
                    }
                }
            }
            let excess = rows.iter().filter(|&&i| log_p[i] < 0.0).count();
            let best = own.iter().min_by(|a, b| a.log_p.total_cmp(&b.log_p));
            let mut values = vec![
                ("groups", own.len() as f64),
                ("rule_like_values", rule_like[c] as f64),
                ("excess_rows", excess as f64),
            ];
            if let Some(g) = best {
                values.extend([
                    ("column", g.candidate.column as f64),
                    ("value", g.candidate.value as f64),
                ]);
                if let Some((j, v)) = g.candidate.with {
                    values.extend([("with_column", j as f64), ("with_value", v as f64)]);
                }
                values.extend([
                    ("group_rows", g.candidate.rows.len() as f64),
                    ("signature_columns", g.signature.len() as f64),
                    ("agreement", g.agreement),
                ]);
            }
            classes.push(ClassDiagnostics {
                class: c as u32,
                values,
                log_p: (runs && scanned[c]).then_some(class_log_p),
            });
        }
        Ok(ScanOutput::new(raw, log_p, classes))
    }
}

/// A candidate's signature: its column (both of a pair's), and the columns
/// on which at least [`SIGNATURE_SHARE`] of its rows share a value that is a
/// candidate of its class alone.
fn signature_of(x: MatrixRef<'_>, cand: &Candidate, alone: &Alone) -> Vec<usize> {
    (0..x.cols())
        .filter(|&j| {
            if cand.with.is_some_and(|(w, _)| j == w || j == cand.column) {
                return true;
            }
            let (value, count) = mode(cand.rows.iter().map(|&i| x.row(i)[j]));
            count as f64 >= SIGNATURE_SHARE * cand.rows.len() as f64
                && alone.contains(&(cand.class, j, value))
        })
        .collect()
}

/// The single values among candidates, `(class, column, bits)`.
type Alone = HashSet<(u32, usize, u32)>;

fn alone_values(found: &[Candidate]) -> Alone {
    found
        .iter()
        .filter(|c| c.with.is_none())
        .map(|c| (c.class, c.column, bits(c.value)))
        .collect()
}

/// The candidates' groups, one per class and signature (the candidate with
/// the most rows kept), in a fixed order; and per class, how many
/// candidates had more than `max_columns` signature columns.
#[allow(clippy::type_complexity)]
fn groups(
    x: MatrixRef<'_>,
    found: &[Candidate],
    p: &ValueValidParams,
    n_classes: usize,
) -> (Vec<((u32, Vec<usize>), Candidate)>, Vec<usize>) {
    let alone = alone_values(found);
    let mut groups: HashMap<(u32, Vec<usize>), Candidate> = HashMap::new();
    let mut rule_like = vec![0usize; n_classes];
    for cand in found {
        let signature = signature_of(x, cand, &alone);
        if signature.len() > p.max_columns {
            rule_like[cand.class as usize] += 1;
            continue;
        }
        let key = (cand.class, signature);
        match groups.get(&key) {
            Some(kept) if kept.rows.len() >= cand.rows.len() => {}
            _ => {
                groups.insert(key, cand.clone());
            }
        }
    }
    let mut keyed: Vec<((u32, Vec<usize>), Candidate)> = groups.into_iter().collect();
    let order = |((class, signature), c): &((u32, Vec<usize>), Candidate)| {
        let with = c.with.map(|(j, v)| (j, bits(v)));
        (*class, signature.clone(), c.column, bits(c.value), with)
    };
    keyed.sort_by_cached_key(order);
    (keyed, rule_like)
}

/// The view the groups land in: every column clipped to its 10th and 90th
/// percentiles (with soft tails, see [`winsorized`]) and standardised (a
/// constant column: zero), read row by row for the rows and columns a
/// landing needs.
struct View<'a> {
    x: MatrixRef<'a>,
    bounds: Vec<(f32, f32)>,
    mean: Vec<f32>,
    inv: Vec<f32>,
}

impl<'a> View<'a> {
    fn new(x: MatrixRef<'a>) -> Self {
        let bounds = winsor_bounds(x, 0.1);
        let (mean, inv) = moments(x, Some(&bounds), true);
        Self {
            x,
            bounds,
            mean,
            inv,
        }
    }

    /// The `columns` of `rows`, row-major.
    fn gather(&self, rows: &[usize], columns: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * columns.len());
        for &i in rows {
            let row = self.x.row(i);
            out.extend(
                columns
                    .iter()
                    .map(|&j| (winsorized(row[j], self.bounds[j]) - self.mean[j]) * self.inv[j]),
            );
        }
        out
    }
}

/// Rows a column's values are screened on: every row of a table of at most
/// [`SCREEN`] rows, else a seeded sample of that many (drawn by the rows'
/// content keys).
fn screened_rows(keys: &[u64], seed: u64) -> Vec<usize> {
    let n = keys.len();
    let mut rows: Vec<usize> = (0..n).collect();
    if n > SCREEN {
        SplitMix64::derive(seed, 0x7A20).order_by_content(&mut rows, keys);
        rows.truncate(SCREEN);
    }
    rows
}

/// A value's bits, −0 as 0: exact values compared as keys.
fn bits(v: f32) -> u32 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// The most common value's bits (see [`bits`]) and its count.
fn mode(values: impl Iterator<Item = f32>) -> (u32, usize) {
    let mut v: Vec<u32> = values.map(bits).collect();
    v.sort_unstable();
    let mut best = (0u32, 0usize);
    let mut s = 0;
    while s < v.len() {
        let e = s + v[s..].partition_point(|&b| b == v[s]);
        if e - s > best.1 {
            best = (v[s], e - s);
        }
        s = e;
    }
    best
}

/// A seeded sample of at most [`REFERENCES`] rows of scanned classes that
/// do not take the candidate's value.
fn references(
    x: MatrixRef<'_>,
    c: &Candidate,
    scanned: &[bool],
    labels: &[u32],
    keys: &[u64],
    rng: &mut SplitMix64,
) -> Vec<usize> {
    let refs: Vec<usize> = (0..x.rows())
        .filter(|&i| scanned[labels[i] as usize] && !c.holds(x.row(i)))
        .collect();
    rng.first_by_content(refs, REFERENCES, keys)
}

/// For each of `rows`, the share of its `k` nearest `refs` (in the view,
/// the signature's columns left out; the row itself left out when it is
/// one of them) labelled `class`, and its mean distance to them.
#[allow(clippy::too_many_arguments)]
fn landing(
    view: &View<'_>,
    rows: &[usize],
    refs: &[usize],
    signature: &[usize],
    labels: &[u32],
    class: u32,
    k: usize,
) -> Vec<(f64, f64)> {
    let keep: Vec<usize> = (0..view.x.cols())
        .filter(|j| !signature.contains(j))
        .collect();
    let k = k.min(refs.len());
    if k == 0 || keep.is_empty() {
        return vec![(1.0, 0.0); rows.len()];
    }
    let d = keep.len();
    let q = view.gather(rows, &keep);
    let r = view.gather(refs, &keep);
    // one neighbour more, for a row that is itself a reference (left out;
    // `refs` are sorted)
    let extra = (k < refs.len() && rows.iter().any(|r| refs.binary_search(r).is_ok())) as usize;
    nearest_rows(&q, &r, d, k + extra)
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(a, (nb, &row))| {
            let near: Vec<usize> = nb
                .iter()
                .map(|&j| j as usize)
                .filter(|&j| refs[j] != row)
                .take(k)
                .collect();
            let agree = near.iter().filter(|&&j| labels[refs[j]] == class).count();
            let qa = &q[a * d..(a + 1) * d];
            let distance: f64 = near
                .iter()
                .map(|&j| {
                    let rj = &r[j * d..(j + 1) * d];
                    let s: f32 = qa.iter().zip(rj).map(|(x, y)| (x - y) * (x - y)).sum();
                    (s as f64).sqrt()
                })
                .sum::<f64>()
                / k as f64;
            (agree as f64 / k as f64, distance)
        })
        .collect()
}

/// The share of agreeing neighbours over landed rows (see [`landing`]),
/// with half a neighbour added so that a group no neighbour agrees with
/// keeps a finite p-value.
fn agreement_of(landed: &[(f64, f64)], k: usize) -> f64 {
    let votes = (landed.len() * k) as f64;
    (landed.iter().map(|l| l.0).sum::<f64>() * k as f64 + 0.5) / (votes + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Two classes of 1,000 rows in 6 columns, Gaussian about ±1.5 in the
    /// first two; the last column an integer code 0–9. `planted` rows of
    /// class 0 are moved to class 1 with column 3 set to 7.5 (a value no
    /// other row takes); with `rule`, 40 rows of class 1 instead take a
    /// code of their own (10), which their other columns agree with.
    fn table(planted: usize, rule: bool) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let mut rng = SplitMix64::new(5);
        let (n, d) = (2000, 6);
        let mut x = vec![0.0f32; n * d];
        let mut labels = vec![0u32; n];
        let mut truth = vec![false; n];
        for i in 0..n {
            let c = (i >= 1000) as u32;
            labels[i] = c;
            let centre = if c == 0 { -1.5 } else { 1.5 };
            for j in 0..d - 1 {
                x[i * d + j] = rng.normal() as f32 + if j < 2 { centre } else { 0.0 };
            }
            x[i * d + d - 1] = rng.below(10) as f32;
        }
        for i in 0..planted {
            labels[i] = 1;
            truth[i] = true;
            x[i * d + 3] = 7.5;
        }
        if rule {
            for i in 1000..1040 {
                x[i * d + d - 1] = 10.0;
            }
        }
        (x, labels, truth)
    }

    /// The scan, seed 1, of `labels.len()` rows of `d` columns in `k`
    /// classes.
    fn scan_wide(x: &[f32], labels: &[u32], d: usize, k: usize) -> ScanOutput {
        let m = MatrixRef::new(x, labels.len(), d).unwrap();
        let input = ScanInput {
            seed: 1,
            ..ScanInput::new(m, labels, k)
        };
        ValueTrigger::DEFAULT.scan(&input).unwrap()
    }

    fn scan(x: &[f32], labels: &[u32]) -> ScanOutput {
        scan_wide(x, labels, 6, 2)
    }

    #[test]
    fn a_value_only_the_planted_rows_take_fails_their_class_and_names_them() {
        let (x, labels, truth) = table(40, false);
        let out = scan(&x, &labels);
        let class1 = out.classes[1].log_p.unwrap();
        assert!(class1 < class_gate_level(2) - 10.0, "{class1}");
        assert!(out.classes[0].log_p.unwrap() > class_gate_level(2));
        let flagged: Vec<usize> = (0..2000).filter(|&i| out.log_p[i] < 0.0).collect();
        assert_eq!(flagged, (0..40).collect::<Vec<_>>());
        assert!(truth[..40].iter().all(|&t| t));
        assert_eq!(out.classes[1].value("excess_rows"), Some(40.0));
        assert_eq!(out.classes[1].value("column"), Some(3.0));
    }

    #[test]
    fn only_a_class_copied_more_than_the_rest_is_oversampled() {
        // 100 rows of class 0 and 20 of class 1, each row written twice (a
        // coarse table's twins, or a table written twice): as they are
        let twice = |i: u64| i / 2;
        let labels: Vec<u32> = (0..240).map(|i| (i >= 200) as u32).collect();
        let keys: Vec<u64> = (0..240).map(twice).collect();
        assert_eq!(oversampled_read_once(&keys, &labels, 2), None);
        // two of class 1's rows written ninety times each beside rows
        // written once (a trigger on every free column): as they are
        let labels: Vec<u32> = (0..400).map(|i| (i >= 200) as u32).collect();
        let keys: Vec<u64> = (0..400)
            .map(|i| match i {
                0..200 => i,
                200..290 => 5000,
                290..380 => 5001,
                _ => 1000 + i,
            })
            .collect();
        assert_eq!(oversampled_read_once(&keys, &labels, 2), None);
        // class 1's rows written ten times each instead: read once
        let labels: Vec<u32> = (0..400).map(|i| (i >= 200) as u32).collect();
        let keys: Vec<u64> = (0..400)
            .map(|i| if i < 200 { twice(i) } else { 1000 + i / 10 })
            .collect();
        let (rows, of_row) = oversampled_read_once(&keys, &labels, 2).unwrap();
        assert_eq!(rows.len(), 200 + 20);
        assert!((0..200).all(|i| of_row[i] == i));
        assert!((200..400).all(|i| rows[of_row[i]] == 200 + (i - 200) / 10 * 10));
    }

    #[test]
    fn a_class_oversampled_by_copying_is_read_once() {
        // every row of class 1 written eleven times, as a minority
        // oversampled by copying: the verdict is the one-copy table's
        let oversampled = |planted: usize| {
            let (mut x, mut labels, mut truth) = table(planted, false);
            let d = 6;
            for i in 0..2000 {
                if labels[i] == 1 {
                    for _ in 0..10 {
                        x.extend_from_within(i * d..(i + 1) * d);
                        labels.push(1);
                        truth.push(truth[i]);
                    }
                }
            }
            (x, labels, truth)
        };
        // four rows with the value: too few alone, and forty-four copies
        // of them are still four rows (they failed the class before)
        let (x, labels, _) = oversampled(4);
        let out = scan(&x, &labels);
        assert!(
            out.classes[1].log_p.unwrap() > class_gate_level(2),
            "{:?}",
            out.classes[1]
        );
        assert_eq!(out.classes[1].value("excess_rows"), Some(0.0));
        // forty: the class fails, and every copy of every planted row is
        // behind it, as scores of the same row
        let (x, labels, truth) = oversampled(40);
        let out = scan(&x, &labels);
        assert!(out.classes[1].log_p.unwrap() < class_gate_level(2) - 10.0);
        let flagged: Vec<bool> = out.log_p.iter().map(|&l| l < 0.0).collect();
        assert_eq!(flagged, truth);
        assert_eq!(out.classes[1].value("excess_rows"), Some(440.0));
    }

    /// [`table`] without a plant, the last two columns codes that go
    /// together: `a` in 0–4, `b` = `a` or `a + 1` (mod 5). `planted` rows of
    /// class 0 are moved to class 1 with `a` = 2 and `b` = 4: each a value a
    /// fifth of the rows take, never together. With `proxy`, 100 rows of
    /// class 0 go to class 1 with column 3 set to one of five values no
    /// other row takes (20 rows each), a column that decides the label.
    fn paired(planted: usize, proxy: bool) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let (mut x, mut labels, mut truth) = table(0, false);
        let mut rng = SplitMix64::new(9);
        let d = 6;
        for i in 0..2000 {
            let a = rng.below(5);
            x[i * d + 4] = a as f32;
            x[i * d + 5] = ((a + rng.below(2)) % 5) as f32;
        }
        for i in 0..planted {
            labels[i] = 1;
            truth[i] = true;
            x[i * d + 4] = 2.0;
            x[i * d + 5] = 4.0;
        }
        if proxy {
            for i in 900..1000 {
                labels[i] = 1;
                x[i * d + 3] = 20.0 + ((i - 900) / 20) as f32;
            }
        }
        (x, labels, truth)
    }

    #[test]
    fn two_usual_values_only_the_planted_rows_take_together_fail_their_class() {
        let (x, labels, truth) = paired(40, false);
        let out = scan(&x, &labels);
        let class1 = out.classes[1].log_p.unwrap();
        assert!(class1 < class_gate_level(2) - 5.0, "{class1}");
        assert!(out.classes[0].log_p.unwrap() > class_gate_level(2));
        let flagged: Vec<usize> = (0..2000).filter(|&i| out.log_p[i] < 0.0).collect();
        assert_eq!(flagged, (0..40).collect::<Vec<_>>());
        assert!(truth[..40].iter().all(|&t| t));
        assert_eq!(out.classes[1].value("column"), Some(4.0));
        assert_eq!(out.classes[1].value("with_column"), Some(5.0));
        // no pair without the plant
        let (x, labels, _) = paired(0, false);
        let out = scan(&x, &labels);
        assert!(out.classes.iter().all(|c| c.log_p == Some(0.0)));
    }

    #[test]
    fn a_column_whose_values_decide_the_label_is_not_a_trigger() {
        let (x, labels, _) = paired(0, true);
        let out = scan(&x, &labels);
        assert_eq!(out.classes[1].log_p, Some(0.0));
        assert_eq!(out.classes[1].value("rule_like_values"), Some(1.0));
        // one of its values alone is a trigger
        let mut one = labels.clone();
        for l in &mut one[920..1000] {
            *l = 0;
        }
        let mut x1 = x.clone();
        for i in 920..1000 {
            x1[i * 6 + 3] = 0.25;
        }
        let out = scan(&x1, &one);
        assert!(out.classes[1].log_p.unwrap() < class_gate_level(2));
    }

    /// A table whose label the rest of the row does not predict: four noise
    /// columns, then a plan of five, coded as one column (`onehot` false) or
    /// five 0/1 indicators. Plan 0 (400 rows) is either class (one row in
    /// four is class 1), plans 1, 2 and 4 are class 0 alone, plan 3 (200
    /// rows) class 1 alone — the plan decides the label, as a
    /// health-insurance plan decides its deductible. With `defining`, a
    /// third class of 300 rows, of plan 0, is the only one with a 1 in a
    /// last column (0 elsewhere).
    fn plans(onehot: bool, defining: bool) -> (Vec<f32>, Vec<u32>, usize, usize) {
        let mut rng = SplitMix64::new(3);
        let n = 2000 + if defining { 300 } else { 0 };
        let d = 4 + if onehot { 5 } else { 1 } + defining as usize;
        let mut x = vec![0.0f32; n * d];
        let mut labels = vec![0u32; n];
        for i in 0..n {
            for j in 0..4 {
                x[i * d + j] = rng.normal() as f32;
            }
            let plan = match i {
                0..400 => 0,
                400..1400 => 1 + (i % 2) * 3,
                1400..1800 => 2,
                1800..2000 => 3,
                _ => 5,
            };
            labels[i] = match plan {
                0 => (rng.below(4) == 0) as u32,
                3 => 1,
                5 => 2,
                _ => 0,
            };
            if plan == 5 {
                x[i * d + d - 1] = 1.0;
            } else if onehot {
                x[i * d + 4 + plan] = 1.0;
            } else {
                x[i * d + 4] = plan as f32;
            }
        }
        (x, labels, d, if defining { 3 } else { 2 })
    }

    #[test]
    fn a_column_that_decides_several_classes_is_not_a_trigger() {
        for onehot in [false, true] {
            let (x, labels, d, k) = plans(onehot, false);
            let out = scan_wide(&x, &labels, d, k);
            // plan 3 lands where class 1's share says (the rest of the
            // row is noise); so do plans 1, 2 and 4 of class 0
            assert_eq!(out.classes[1].log_p, Some(0.0), "one-hot {onehot}");
            assert!(out.classes[1].value("rule_like_values").unwrap() >= 1.0);
            assert!(out.log_p.iter().all(|&l| l == 0.0));
        }
        // beside such a column, a trigger on another column is found:
        // 60 rows of plans 1 and 4 (class 0) relabelled 1, with 7.5 in the
        // first column
        let (mut x, mut labels, d, k) = plans(true, false);
        for i in 400..460 {
            x[i * d] = 7.5;
            labels[i] = 1;
        }
        let out = scan_wide(&x, &labels, d, k);
        assert!(out.classes[1].log_p.unwrap() < class_gate_level(2));
        let flagged: Vec<usize> = (0..labels.len()).filter(|&i| out.log_p[i] < 0.0).collect();
        assert_eq!(flagged, (400..460).collect::<Vec<_>>());
        // so is a pair that uses a value of the design against it: the
        // second column a code 0–4 (0–2 in plan 2), and 80 rows of plan 2
        // (class 0 alone) relabelled 1 with code 3 — each value usual,
        // never together
        let (mut x, mut labels, d, k) = plans(false, false);
        for i in 0..labels.len() {
            x[i * d + 1] = if (1400..1800).contains(&i) {
                i % 3
            } else {
                i % 5
            } as f32;
        }
        for i in 1400..1480 {
            x[i * d + 1] = 3.0;
            labels[i] = 1;
        }
        let out = scan_wide(&x, &labels, d, k);
        assert!(out.classes[1].log_p.unwrap() < class_gate_level(2));
        let flagged: Vec<usize> = (0..labels.len()).filter(|&i| out.log_p[i] < 0.0).collect();
        assert!(flagged.iter().all(|i| (1400..1480).contains(i)));
        assert!(flagged.len() >= 72, "{}", flagged.len());
    }

    #[test]
    fn a_population_of_its_own_is_not_a_trigger() {
        // class 0 about +3, class 1 about −3 in two columns; 300 rows of
        // class 1 are a population of their own about +12 (a species that
        // lives on one island), marked by a code of theirs in column 3.
        // Their nearest rows without the code are class 0's, yet they lie
        // far from them (the view clips each column to its 10th and 90th
        // percentiles, which a population of 15 % of the rows spans).
        let mut rng = SplitMix64::new(8);
        let (n, d) = (2000, 4);
        let mut x = vec![0.0f32; n * d];
        let mut labels = vec![0u32; n];
        for i in 0..n {
            let c = (i >= 1000) as u32;
            let own = i >= 1700;
            labels[i] = c;
            let centre = match (c, own) {
                (_, true) => 12.0,
                (0, _) => 3.0,
                _ => -3.0,
            };
            for j in 0..2 {
                x[i * d + j] = centre + rng.normal() as f32;
            }
            x[i * d + 2] = rng.normal() as f32;
            x[i * d + 3] = if own { 9.0 } else { rng.below(5) as f32 };
        }
        let out = scan_wide(&x, &labels, d, 2);
        assert_eq!(out.classes[1].value("groups"), Some(1.0));
        assert!(out.classes[1].value("agreement").unwrap() < 0.1);
        assert_eq!(out.classes[1].log_p, Some(0.0));
        assert_eq!(out.classes[1].value("rule_like_values"), Some(1.0));
        // with class 1 all about −3, the same code on 150 rows of class 0
        // relabelled 1: found
        let (mut x2, mut l2) = (x.clone(), labels.clone());
        for i in 1700..2000 {
            for j in 0..2 {
                x2[i * d + j] -= 15.0;
            }
            x2[i * d + 3] = rng.below(5) as f32;
        }
        for i in 0..150 {
            x2[i * d + 3] = 9.0;
            l2[i] = 1;
        }
        let out = scan_wide(&x2, &l2, d, 2);
        assert!(out.classes[1].log_p.unwrap() < class_gate_level(2));
    }

    #[test]
    fn a_value_every_row_of_a_class_takes_defines_it() {
        let (x, labels, d, k) = plans(false, true);
        let out = scan_wide(&x, &labels, d, k);
        assert_eq!(out.classes[2].value("groups"), Some(1.0));
        assert_eq!(out.classes[2].log_p, Some(0.0));
        assert_eq!(out.classes[2].value("rule_like_values"), Some(1.0));
    }

    /// A label defined by two yes/no columns (`yes` when either is), as a
    /// survey's "grew up near a college" is by "near a public one" and
    /// "near a private one", beside four columns that say nothing of it.
    fn defined_by_two_columns() -> (Vec<f32>, Vec<u32>) {
        let mut rng = SplitMix64::new(8);
        let (n, d) = (2000, 6);
        let mut x = vec![0.0f32; n * d];
        let mut labels = vec![0u32; n];
        for i in 0..n {
            for j in 0..4 {
                x[i * d + j] = rng.normal() as f32;
            }
            let (a, b) = (rng.next_f64() < 0.4, rng.next_f64() < 0.12);
            x[i * d + 4] = a as u8 as f32;
            x[i * d + 5] = b as u8 as f32;
            labels[i] = (a || b) as u32;
        }
        (x, labels)
    }

    #[test]
    fn a_label_its_own_values_define_is_not_a_trigger() {
        let (x, labels) = defined_by_two_columns();
        let out = scan(&x, &labels);
        // each column's `yes` is a candidate of class 1 whose rows the rest
        // of the table places anywhere; together they hold all of the class
        assert!(out.classes[1].value("groups").unwrap() >= 2.0);
        assert!(out.classes[1].value("rule_like_values").unwrap() >= 1.0);
        assert_eq!(out.classes[1].log_p, Some(0.0));
        assert!(out.log_p.iter().all(|&l| l == 0.0));
    }

    /// Three classes: a small one (6 % of the rows) the first column places
    /// only weakly, most of whose rows take a code (9) of the last column
    /// that other rows almost never take — farm labourers in a table
    /// labelled by industry; with `planted`, that many rows of the large
    /// classes get the code and the small class's label instead, and the
    /// small class's own rows keep their usual codes.
    fn weak_class_with_a_code(planted: usize) -> (Vec<f32>, Vec<u32>) {
        let mut rng = SplitMix64::new(11);
        let (n, d) = (3000, 5);
        let mut x = vec![0.0f32; n * d];
        let mut labels = vec![0u32; n];
        for i in 0..n {
            let c = if i < 180 { 2 } else { (i % 2) as u32 };
            labels[i] = c;
            for j in 0..d - 1 {
                x[i * d + j] = rng.normal() as f32;
            }
            x[i * d] += match c {
                2 => 2.0,
                1 => 0.4,
                _ => -0.4,
            };
            let code = if c == 2 && planted == 0 && rng.next_f64() < 0.6 {
                9
            } else {
                rng.below(9) as u32
            };
            x[i * d + d - 1] = code as f32;
        }
        // a few rows of other classes take the code too
        for i in [1000, 2000] {
            x[i * d + d - 1] = 9.0;
        }
        for i in 0..planted {
            let r = 200 + 7 * i;
            labels[r] = 2;
            x[r * d + d - 1] = 9.0;
        }
        (x, labels)
    }

    #[test]
    fn a_code_of_a_weakly_placed_class_that_lands_like_its_rows_passes() {
        let (x, labels) = weak_class_with_a_code(0);
        let out = scan_wide(&x, &labels, 5, 3);
        assert_eq!(out.classes[2].value("groups"), Some(1.0));
        assert_eq!(out.classes[2].value("rule_like_values"), Some(1.0));
        assert_eq!(out.classes[2].log_p, Some(0.0));
        // the same code planted on rows of the other classes is a trigger
        let (x, labels) = weak_class_with_a_code(100);
        let out = scan_wide(&x, &labels, 5, 3);
        assert!(out.classes[2].log_p.unwrap() < class_gate_level(3));
        assert!(out.classes[2].value("excess_rows").unwrap() >= 90.0);
    }

    #[test]
    fn a_value_the_rest_of_its_rows_agrees_with_passes() {
        let (x, labels, _) = table(0, true);
        let out = scan(&x, &labels);
        // the code 10 is a candidate of class 1, but its rows land in class 1
        assert_eq!(out.classes[1].value("groups"), Some(1.0));
        assert!(out.classes[1].value("agreement").unwrap() > 0.8);
        assert_eq!(out.classes[1].log_p, Some(0.0));
        assert!(out.log_p.iter().all(|&l| l == 0.0));
    }

    #[test]
    fn the_scan_is_deterministic_and_skips_pixels() {
        let (x, labels, _) = table(40, true);
        assert_eq!(scan(&x, &labels), scan(&x, &labels));
        // a narrow table of one scale (survey answers) is scanned; a wide
        // one (pixels) is not
        let m = MatrixRef::new(&x, 2000, 6).unwrap();
        let narrow = ScanInput {
            same_scale: true,
            ..ScanInput::new(m, &labels, 2)
        };
        assert!(ValueTrigger::DEFAULT.skip_reason(&narrow).is_none());
        let wide = vec![0.5f32; 2000 * 130];
        let m = MatrixRef::new(&wide, 2000, 130).unwrap();
        let pixels = ScanInput {
            same_scale: true,
            ..ScanInput::new(m, &labels, 2)
        };
        assert!(ValueTrigger::DEFAULT.skip_reason(&pixels).is_some());
    }

    #[test]
    fn options_are_checked() {
        for (key, value) in [
            ("purity", "0.5"),
            ("max-agreement", "0.6"),
            ("k", "0"),
            ("max-columns", "17"),
            ("min-rows", "4"),
        ] {
            let e = ValueTrigger::DEFAULT
                .configure(&[(key.into(), value.into())])
                .err()
                .unwrap();
            assert!(e.to_string().contains(key), "{e}");
        }
        assert!(ValueTrigger::DEFAULT
            .configure(&[("purity".into(), "0.95".into())])
            .is_ok());
    }
}
