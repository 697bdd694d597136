//! Class-level tests of label consistency whose null comes from the data
//! set itself, shared by `knn-label-disagreement` and `confident-learning`.
//!
//! Both scanners find *contradicted* rows: rows whose evidence (their
//! label-agnostic neighbours, or a model that did not train on them) points
//! to another class. Every real data set has them — classes overlap, some
//! samples are ambiguous — and how many a clean class has depends on how
//! much the classes overlap, which no fixed rate knows. Two patterns tell
//! poisoning from that natural ambiguity, and neither needs a constant rate:
//!
//! - **Unanimity** (dirty-label backdoors at low rates, label flipping):
//!   a relabelled sample lies among samples of its true class, so *none* of
//!   its neighbours carries its label; an ambiguous sample lies where the
//!   classes mix, so its neighbourhood is mixed. Along a natural class
//!   boundary the number of own-label neighbours falls off smoothly, and
//!   rows with none are about as common as rows with one (measured: 0.5 to
//!   1.7 times as common over the 20 classes of clean MNIST and clean
//!   Fashion-MNIST in raw pixels, k = 10); relabelled rows pile up at none
//!   (10 times as common with a 0.3 % backdoor in MNIST's target class, 9
//!   times with 10 % random flips). [`unanimity_test`].
//! - **Source** (dirty-label backdoors at low rates in a class with a
//!   confusable neighbour): the unanimity and isolation counts split by the
//!   class each row's neighbourhood points to. Relabelled rows come from
//!   classes the target does not border as well, where all of them are
//!   alone; a confusable neighbour's boundary rows, which hide them in the
//!   class's totals, keep their natural proportions. [`source_tests`].
//! - **Direction** (dirty-label backdoors at high rates, one-to-one
//!   attacks): poisoning moves rows from source classes *into* a target
//!   class; natural ambiguity between two classes runs both ways. The
//!   natural imbalance between the two directions varies from pair to pair
//!   (a compact class loses rows to a diffuse one), so the spread of that
//!   imbalance is estimated from all pairs (and all classes) of the same data
//!   set, most of which are clean. Class sizes drive part of it: where two
//!   classes overlap, a row's neighbours mostly carry the larger class's
//!   label, so a small class loses rows to a large one (measured on ISLP's
//!   Wage by marital status: the log ratio of a pair's two flows about 0.8–1.3
//!   times the log ratio of the two classes' sizes); that share is estimated
//!   from the data set's other pairs and expected of every pair. How much of
//!   the size ratio shows varies from pair to pair — a small class nested in
//!   a large one's region loses its boundary rows and wins none back
//!   (Fashion-MNIST's 250 shirts beside 5,400 T-shirts, clean: 105 rows one
//!   way, none the other, 1.7 times the log size ratio, where the data set's
//!   other pairs show 0.3), while well-separated classes trade rows about
//!   evenly whatever their sizes — so the share's spread over the other
//!   pairs widens a pair's null in proportion to its log size ratio.
//!   [`direction_test`].
//! - **Coherence** (dense triggers: blends, warps at 5 % and more): rows
//!   that share a trigger become each other's neighbours, so few of them
//!   are alone among another class — but those in the minority of their
//!   neighbourhood sit next to *each other*: their own-label neighbours are
//!   themselves minority rows. Natural boundary rows of a class are
//!   scattered along the boundary and their own-label neighbours mostly lie
//!   inside the class. Calibrated across the data set's other classes.
//!   [`coherence_test`].
//!
//! Every one of these tests contrasts a class's contradicted rows with the
//! rest of the class, its *core*: the rows its evidence recognises. A class
//! with no core — too few of its rows recognised, or no more than rows of
//! other classes are recognised as it — has labels its features do not
//! predict (ANES 1996's junior-college graduates among its other levels of
//! education: none of 90 rows has a plurality of its own label among its
//! neighbours; Fair's 109 women of occupation 6, whom a model always puts
//! in the far larger occupation 3). Every row of such a class looks
//! relabelled and the flows out of it are one-way by construction, yet
//! nothing says which rows were planted: the class is reported as label
//! noise and not judged ([`recognition`]). Its counts still calibrate the
//! other classes' nulls.
//!
//! "Other classes" is each of them, not only all of them together: a label
//! given to a random part of one kind of row beside the label that holds
//! the rest (a synonym that one of several merged sources used for part of
//! a class) is recognised by its own rows no more often than by the rest
//! of the kind — under a random label the neighbours of its rows and of
//! the other label's rows carry it alike — while its rows are far fewer
//! than the data set's, so against the data set at large it looked like a
//! core (MNIST, 30 % of the zeros labelled `10`: 24 of its 598 rows point
//! to it, 4 % against 3 % at large, and its coherence test failed it at
//! `ln p` −18.9, all 598 flagged). A class's own rows must point to it
//! more often than those of any other class whose own rows recognise it
//! better (the label that holds the rest of the kind: 82 % of the zeros'
//! rows point to 0, 6.4 % to `10`) and that is not its kin (kin are one
//! kind by design). The label holding the rest stays judged: the
//! synonym's rows point to it as often as its own do, but the synonym is
//! no better recognised. A target of planted rows keeps its own rows,
//! which point to it far more often than the source's rows do.

use rayon::prelude::*;

use crate::stats::{
    bisect, class_null, ln_binomial_sum_upper, ln_binomial_upper, ln_stratified_excess_upper,
    ln_upper_normal_p, median, robust_location_scale,
};

/// Median of the chi-square distribution with one degree of freedom.
const CHI2_1_MEDIAN: f64 = 0.454_936_423_119_572_8;

/// Least spread ever assumed (a factor 1.28 is one standard deviation).
const TAU_MIN: f64 = 0.25;

/// Least spread assumed when the data set's classes do confuse (enough pairs
/// carry counts): different densities on the two sides of a boundary make a
/// natural flow one-way (measured: 128 rows one way and 16 the other in a
/// clean table whose other pairs were balanced), so a factor 1.8 between
/// the directions is one standard deviation.
const TAU_CONFUSED_MIN: f64 = 0.6;

/// Pairs (or classes) with at least this many rows in both directions
/// together inform the spread: the log ratio of fewer is mostly sampling
/// noise (scikit-learn's digits, whose classes barely confuse, have flows of
/// 0 to 8 rows), which would inflate the spread.
const MIN_COUNT: u64 = 10;

/// Least number of pairs (or classes) to estimate the spread from: with
/// fewer, the direction test is not run (measured: three balanced pairs of
/// a clean four-class table made a natural 130-to-79 imbalance look
/// significant).
const MIN_INFORMATIVE: usize = 6;

/// Spread assumed when enough pairs exist but fewer than
/// [`MIN_INFORMATIVE`] of them carry counts: the classes barely confuse, so
/// there is no natural imbalance to allow for beyond the least spread
/// (scikit-learn's digits with a 3 % patch: 20 rows into the target class,
/// none out of it, and no other class with four contradicted rows).
const TAU_QUIET: f64 = TAU_MIN;

/// Least informative pairs to estimate the natural spread from when fewer
/// than [`MIN_INFORMATIVE`] carry counts: those few say what the spread is
/// better than [`TAU_QUIET`] (a five-class table whose three confused pairs
/// are three small classes each losing rows to one large class).
const MIN_FEW_INFORMATIVE: usize = 2;

/// Least ratio of two classes' sizes (as `ln`) for their pair to inform the
/// size effect (see [`size_effect`]).
const SIZE_RATIO_MIN: f64 = std::f64::consts::LN_2;

/// Least pairs to estimate the size effect from; with fewer, none is
/// assumed.
const MIN_SIZE_PAIRS: usize = 3;

/// Least rows of a class its evidence must recognise for the class to be
/// judged (see [`recognition`]): fewer is no core to contrast planted rows
/// with — the same count below which a pair's flows are sampling noise.
pub const MIN_RECOGNISED: u64 = MIN_COUNT;

/// Whether the evidence recognises a class (its *core*, see the module
/// documentation): `own` of its `rows` rows point to it (their neighbours'
/// strict plurality, or the model's most probable class), where rows of the
/// whole data set point to it at the rate `share`. Recognised when at least
/// [`MIN_RECOGNISED`] rows do and more than that rate explains (one-sided
/// binomial test at 1 %): labels that carry no information point to their
/// own class no more often than any row does.
fn recognition(own: u64, rows: u64, share: f64) -> bool {
    own >= MIN_RECOGNISED
        && ln_binomial_upper(rows, share.clamp(1e-12, 1.0 - 1e-12), own) <= 0.01f64.ln()
}

/// Per class of `scanned`, its recognised rows and whether it is judged
/// ([`recognition`]), from `pointed` (`c × c`): `pointed[y * c + t]` rows
/// labelled `y` whose evidence points to `t` (a row that points nowhere, in
/// no cell); `sizes`: each class's rows; `kin`: each class's kin (see
/// [`kin_classes`]; empty when none were sought). The rate its own rows are
/// held to is the larger of the rate at which rows at large (of the
/// scanned classes) point to the class and the rate at which the rows of
/// any one other class do — one that is not its kin, whose own rows point
/// to it more often than this class's rows point to this class, and at
/// least [`MIN_COUNT`] of whose rows point here (see the module
/// documentation: a synonym for part of a class; the label that holds the
/// rest of the kind stays judged).
pub fn recognised_classes(
    pointed: &[u64],
    c: usize,
    scanned: &[u32],
    sizes: &[usize],
    kin: &[Vec<u32>],
) -> Vec<Recognition> {
    assert_eq!(pointed.len(), c * c, "pointed is c × c");
    let total: usize = scanned.iter().map(|&y| sizes[y as usize]).sum();
    let put_in = pointed_to(pointed, c, scanned);
    // the share of a class's rows that point to it
    let own_share = |t: usize| pointed[t * c + t] as f64 / sizes[t].max(1) as f64;
    scanned
        .iter()
        .map(|&t| {
            let t = t as usize;
            let own = pointed[t * c + t];
            let at_large = put_in[t] as f64 / total.max(1) as f64;
            // the classes that hold the kind a sub-label is part of: their
            // own rows recognise them more often than this class's do
            let by_one = scanned
                .iter()
                .map(|&y| y as usize)
                .filter(|&y| y != t && own_share(y) > own_share(t))
                .filter(|&y| !kin.get(t).is_some_and(|k| k.contains(&(y as u32))))
                .filter(|&y| pointed[y * c + t] >= MIN_COUNT)
                .map(|y| (pointed[y * c + t] as f64 / sizes[y] as f64, y))
                .fold((0.0, t), |a, b| if b.0 > a.0 { b } else { a });
            let n = sizes[t] as u64;
            let judged = recognition(own, n, at_large.max(by_one.0));
            Recognition {
                own,
                judged,
                part_of: (!judged && recognition(own, n, at_large)).then_some(by_one.1 as u32),
            }
        })
        .collect()
}

/// Whether a class's evidence recognises it ([`recognised_classes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recognition {
    /// Its rows whose evidence points to it.
    pub own: u64,
    /// Whether it has a core, and so is judged.
    pub judged: bool,
    /// The better-recognised class whose kind it names part of, where that
    /// alone left it without a core (a synonym for part of that class).
    pub part_of: Option<u32>,
}

/// Per class (by id), the rows of the `scanned` classes whose evidence
/// points to it (`pointed` as for [`recognised_classes`]).
fn pointed_to(pointed: &[u64], c: usize, scanned: &[u32]) -> Vec<u64> {
    (0..c)
        .map(|t| scanned.iter().map(|&y| pointed[y as usize * c + t]).sum())
        .collect()
}

/// Classes that are one kind of row under several labels (*kin*), from
/// `pointed` (as for [`recognised_classes`]): `t` and `u` are kin when each
/// one's rows point to the other at least half as often as to themselves,
/// at least [`MIN_COUNT`] rows do, and the two together are recognised as
/// [`recognised_classes`] recognises a class (`sizes`: each class's rows) —
/// labels that split one kind at random (synonyms from merged sources,
/// fine-grained labels the inputs do not tell apart), whose rows'
/// neighbours carry their siblings' labels as often as their own. Natural
/// confusion between two kinds runs both ways but stays well under a
/// class's own recognition (Fashion-MNIST's shirts, the most confused
/// class: 57 % of its rows point to shirts); planted rows move one way,
/// and the target's own rows keep pointing to it. Labels the inputs do not
/// predict at all lean on each other by chance, and their union is no kind
/// (rpart's solder table labelled by its mask, a designed experiment's
/// factor: two of four masks leaned both ways, and counted as one kind,
/// one of them failed).
/// Returns each class's kin (by class id; empty for most).
///
/// Why it matters: the isolation and source tests count a row's own-label
/// neighbours, and a row whose kind carries four labels finds one of its
/// own label among ten neighbours a quarter as often — natural rows on
/// the boundary with another kind are then alone there as relabelled rows
/// are (Fashion-MNIST with each class split at random into four labels:
/// 23 of 40 clean classes failed by the source test, `ln p` to −89).
/// Counted by kind, they are boundary rows again.
pub fn kin_classes(pointed: &[u64], c: usize, scanned: &[u32], sizes: &[usize]) -> Vec<Vec<u32>> {
    assert_eq!(pointed.len(), c * c, "pointed is c × c");
    let total: usize = scanned.iter().map(|&y| sizes[y as usize]).sum();
    let into = pointed_to(pointed, c, scanned);
    let mut kin = vec![Vec::new(); c];
    let leans = |t: usize, u: usize| {
        let to = pointed[t * c + u];
        to >= MIN_COUNT && 2 * to >= pointed[t * c + t]
    };
    for (a, &t) in scanned.iter().enumerate() {
        for &u in &scanned[a + 1..] {
            let (t, u) = (t as usize, u as usize);
            if !(leans(t, u) && leans(u, t)) {
                continue;
            }
            // the two together are a kind the inputs recognise: labels the
            // inputs do not predict at all (a designed experiment's
            // factor) lean on each other by chance, and their union is no
            // kind
            let own =
                pointed[t * c + t] + pointed[t * c + u] + pointed[u * c + t] + pointed[u * c + u];
            let share = (into[t] + into[u]) as f64 / total.max(1) as f64;
            if recognition(own, (sizes[t] + sizes[u]) as u64, share) {
                kin[t].push(u as u32);
                kin[u].push(t as u32);
            }
        }
    }
    kin
}

/// The log ratio of `a` rows one way to `b` the other, `ln((a + ½)/(b +
/// ½))`.
fn log_ratio(a: u64, b: u64) -> f64 {
    ((a as f64 + 0.5) / (b as f64 + 0.5)).ln()
}

/// The sampling variance of [`log_ratio`], `1/(a + ½) + 1/(b + ½)`.
fn log_ratio_var(a: u64, b: u64) -> f64 {
    1.0 / (a as f64 + 0.5) + 1.0 / (b as f64 + 0.5)
}

/// `ln` of the one-sided p-value that `a` of `a + b` rows moved one way
/// when each pair's natural balance varies: `ln P(A ≥ a)` for `A ~
/// Binomial(a + b, σ(θ))` with the log odds `θ ~ Normal(μ, τ²)` (integrated
/// on a grid of ±8 standard deviations) — exact for small counts, including
/// none the other way, where a normal approximation of the log ratio is
/// not. `μ` is the log ratio expected of the pair (see [`size_effect`]).
/// Also returns the log ratio `ln((a + ½)/(b + ½))`.
fn imbalance(a: u64, b: u64, mu: f64, tau: f64) -> (f64, f64) {
    let l = log_ratio(a, b);
    if a == 0 || l <= mu {
        return (0.0, l);
    }
    let m = a + b;
    let step = 0.1;
    let terms = (-80..=80).map(|j| {
        let z = j as f64 * step;
        let p = 1.0 / (1.0 + (-(mu + tau * z)).exp());
        -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + step.ln()
            + ln_binomial_upper(m, p.clamp(1e-12, 1.0 - 1e-12), a)
    });
    let max = terms.clone().fold(f64::NEG_INFINITY, f64::max);
    let lp = max + terms.map(|t| (t - max).exp()).sum::<f64>().ln();
    (lp.min(0.0), l)
}

/// The spread `τ` of log ratios around what each pair's sizes predict
/// (`(a, b, μ)`, see [`size_effect`]) such that the median of
/// `(L − μ)² / (v + τ²)` over the informative pairs equals the median of a
/// chi-square with one degree of freedom — a random-effects estimate that a
/// minority of poisoned pairs does not move. With fewer than
/// [`MIN_INFORMATIVE`] pairs at all, `None`: nothing to estimate from. With
/// enough pairs but fewer than [`MIN_FEW_INFORMATIVE`] carrying counts,
/// [`TAU_QUIET`]: the classes barely confuse, and a large flow stands out.
/// Estimated, never below [`TAU_CONFUSED_MIN`]. The size effect's own spread
/// is not taken out of it: it is added to a pair's null on top (see
/// [`direction_test`]), so that the null is never narrower than without it.
pub fn natural_spread(pairs: &[(u64, u64, f64)]) -> Option<f64> {
    if pairs.len() < MIN_INFORMATIVE {
        return None;
    }
    let terms: Vec<(f64, f64)> = pairs
        .iter()
        .filter(|(a, b, _)| a + b >= MIN_COUNT)
        .map(|&(a, b, mu)| ((log_ratio(a, b) - mu).powi(2), log_ratio_var(a, b)))
        .collect();
    if terms.len() < MIN_FEW_INFORMATIVE {
        return Some(TAU_QUIET);
    }
    let stat = |tau2: f64| {
        median(
            &terms
                .iter()
                .map(|(l2, v)| l2 / (v + tau2))
                .collect::<Vec<_>>(),
        )
    };
    if stat(TAU_CONFUSED_MIN * TAU_CONFUSED_MIN) <= CHI2_1_MEDIAN {
        return Some(TAU_CONFUSED_MIN);
    }
    // stat decreases in tau2: bisection on [TAU_CONFUSED_MIN², hi]
    let (lo, mut hi) = (TAU_CONFUSED_MIN * TAU_CONFUSED_MIN, 1.0);
    while stat(hi) > CHI2_1_MEDIAN && hi < 1e4 {
        hi *= 4.0;
    }
    let (_, hi) = bisect(lo, hi, |mid| stat(mid) > CHI2_1_MEDIAN);
    Some(hi.sqrt())
}

/// Result of the direction test for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Direction {
    /// `ln` p-value, Bonferroni-corrected over the class's candidates (its
    /// total inflow and each source class).
    pub log_p: f64,
    /// Contradicted rows of this class (pointing to another class).
    pub inflow: u64,
    /// Rows of other classes that point to this class.
    pub outflow: u64,
    /// The source class whose pair is most imbalanced towards this class.
    pub top_source: Option<u32>,
    /// Rows beyond the natural balance in the most significant candidate.
    pub excess: f64,
    /// The natural spread used for pairs (`NaN` when too few classes to
    /// estimate it: the pair tests were skipped).
    pub tau_pair: f64,
    /// The natural spread used for whole classes (`NaN` likewise).
    pub tau_class: f64,
}

impl Direction {
    /// Makes this the result of a class that is not judged (see
    /// [`recognition`]): its flows, no p-value.
    pub fn unjudge(&mut self) {
        self.log_p = 0.0;
        self.excess = 0.0;
    }
}

/// How much of the log ratio of two classes' sizes the log ratio of their
/// flows shows (see [`size_effect`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SizeEffect {
    /// The share `β` expected of every pair.
    pub share: f64,
    /// Its spread from pair to pair.
    pub spread: f64,
}

impl SizeEffect {
    /// The log ratio of flows expected of a pair whose log size ratio is
    /// `ln_ratio` (`ln(n_second / n_first)`: the first class's rows that
    /// look like the second over the second's that look like the first).
    pub fn mu(&self, ln_ratio: f64) -> f64 {
        self.share * ln_ratio
    }

    /// The variance of that expectation from pair to pair.
    pub fn var(&self, ln_ratio: f64) -> f64 {
        (self.spread * ln_ratio).powi(2)
    }
}

/// A pair's log flow ratio over its log size ratio `l`, `ln((a + ½)/(b +
/// ½)) / l`, for a pair with counts ([`MIN_COUNT`]) whose sizes differ at
/// least twofold; `None` otherwise.
fn pair_share(a: u64, b: u64, l: f64) -> Option<f64> {
    (a + b >= MIN_COUNT && l.abs() >= SIZE_RATIO_MIN).then(|| log_ratio(a, b) / l)
}

/// The size effect over pairs `(a, b, ln(n_b' / n_a'))` — `a` rows of the
/// first class that look like the second, `b` the other way, `n` the
/// classes' sizes: over the pairs with counts whose sizes differ at least
/// twofold, the share `β` is the median of `ln((a + ½)/(b + ½)) / ln(n_b' /
/// n_a')`, within [0, 1], and its spread `1.4826 × MAD` of the same ratios;
/// both 0 with fewer than [`MIN_SIZE_PAIRS`] of them (balanced classes:
/// nothing to estimate, and nothing to allow for).
pub fn size_effect(pairs: &[(u64, u64, f64)]) -> SizeEffect {
    let shares: Vec<f64> = pairs
        .iter()
        .filter_map(|&(a, b, l)| pair_share(a, b, l))
        .collect();
    if shares.len() < MIN_SIZE_PAIRS {
        return SizeEffect::default();
    }
    let (share, spread) = robust_location_scale(&shares);
    SizeEffect {
        share: share.clamp(0.0, 1.0),
        spread,
    }
}

/// Least pairs of its own, besides the one tested, that give a class's own
/// size effect (see [`own_share`]).
const MIN_OWN_PAIRS: usize = 2;

/// A class's own size effect for its pair with `s`: the median share (see
/// [`size_effect`]) over its other pairs `shares` (`(class, share)`, pairs
/// with counts whose sizes differ at least twofold), within [0, 1]; `None`
/// with fewer than [`MIN_OWN_PAIRS`] of them. The data set's share is that
/// of a typical pair; a small class that overlaps larger ones loses rows to
/// every one of them far more than that (Fashion-MNIST cut to a long tail:
/// the 250 shirts lose 92 rows to the 5,400 T-shirts against 1 the other
/// way, 71 to the pullovers against 15, 23 to the coats against 9 — shares
/// 1.3, 0.75 and 0.88 — where the other pairs' median is 0). Rows
/// relabelled from one source stand out against the class's other pairs;
/// from every source, the whole-class candidate and the source test see
/// them.
fn own_share(shares: &[(usize, f64)], s: usize) -> Option<f64> {
    let other: Vec<f64> = shares
        .iter()
        .filter(|&&(o, _)| o != s)
        .map(|&(_, v)| v)
        .collect();
    (other.len() >= MIN_OWN_PAIRS).then(|| median(&other).clamp(0.0, 1.0))
}

/// The log ratio of the other classes' sizes to `t`'s, weighted by their
/// flows with it in `counts` (`c × c`).
fn weighted_size_ratio(
    counts: &[u64],
    c: usize,
    sizes: &[usize],
    t: usize,
    others: &[usize],
) -> f64 {
    let size = |t: usize| sizes[t].max(1) as f64;
    let (mut w, mut ws) = (0.0, 0.0);
    for &s in others.iter().filter(|&&s| s != t) {
        let f = (counts[t * c + s] + counts[s * c + t]) as f64;
        w += f;
        ws += f * size(s);
    }
    if w > 0.0 {
        (ws / w / size(t)).ln()
    } else {
        0.0
    }
}

/// The natural null of the flows `at(t, s)` among the classes `over`: the
/// size effect over their pairs (a pair's log ratio predicted by `ratio`,
/// see [`size_effect`]), the pairs' natural spread around it, and the
/// natural spread of each class's whole inflow and outflow among them
/// around the effect of `ratio_of` — both as [`natural_spread`] gives them.
fn natural_null(
    at: impl Fn(usize, usize) -> u64,
    over: &[usize],
    ratio: impl Fn(usize, usize) -> f64,
    ratio_of: impl Fn(usize) -> f64,
) -> (SizeEffect, Option<f64>, Option<f64>) {
    let mut sized = Vec::new();
    for (i, &a) in over.iter().enumerate() {
        for &b in &over[i + 1..] {
            sized.push((at(a, b), at(b, a), ratio(a, b)));
        }
    }
    let effect = size_effect(&sized);
    let pairs: Vec<(u64, u64, f64)> = sized
        .iter()
        .map(|&(a, b, l)| (a, b, effect.mu(l)))
        .collect();
    let tau_pair = natural_spread(&pairs);
    let whole: Vec<(u64, u64, f64)> = over
        .iter()
        .map(|&a| {
            let inn = over.iter().filter(|&&b| b != a).map(|&b| at(a, b)).sum();
            let out = over.iter().filter(|&&b| b != a).map(|&b| at(b, a)).sum();
            (inn, out, effect.mu(ratio_of(a)))
        })
        .collect();
    (effect, tau_pair, natural_spread(&whole))
}

/// How far from what its sizes predict a view's log ratio may lie and still
/// count as the classes' natural overlap, in the view's own natural spreads
/// (see [`ViewNorm`]).
const VIEW_NORM_Z: f64 = 3.0;

/// What a label-agnostic view says each pair's and class's flows naturally
/// are, for [`direction_test`]: the view's log ratios, each kept within
/// [`VIEW_NORM_Z`] of the view's own natural spread around what the
/// classes' sizes predict. A pair that the view itself finds beyond natural
/// (rows relabelled where the inputs show it: MNIST's ones labelled seven,
/// 634 rows one way in the pixels and 11 back) is not the norm a model's
/// flows are measured against.
struct ViewNorm {
    /// Per pair `(t, s)` (`t * c + s`): the log ratio and its sampling
    /// variance.
    pair: Vec<(f64, f64)>,
    /// Per class: the log ratio of its whole inflow and outflow in the view,
    /// and its sampling variance.
    class: Vec<(f64, f64)>,
}

impl ViewNorm {
    fn new(v: &[u64], c: usize, classes: &[u32], sizes: &[usize]) -> Self {
        let size = |t: usize| sizes[t].max(1) as f64;
        let all: Vec<usize> = classes.iter().map(|&s| s as usize).collect();
        let (effect, tau_pair, tau_whole) = natural_null(
            |t, s| v[t * c + s],
            &all,
            |a, b| (size(b) / size(a)).ln(),
            |t| weighted_size_ratio(v, c, sizes, t, &all),
        );
        let tau_pair = tau_pair.unwrap_or(TAU_CONFUSED_MIN);
        let tau_class = tau_whole.map_or(tau_pair, |tc| tc.max(0.75 * tau_pair));
        let whole_flows = |t: usize| {
            all.iter()
                .filter(|&&s| s != t)
                .fold((0, 0), |(i, o), &s| (i + v[t * c + s], o + v[s * c + t]))
        };
        // the view's log ratio, within its natural spread around `mu`
        let bounded = |a: u64, b: u64, mu: f64, tau: f64| {
            let cap = VIEW_NORM_Z * (tau * tau + log_ratio_var(a, b)).sqrt();
            (
                mu + (log_ratio(a, b) - mu).clamp(-cap, cap),
                log_ratio_var(a, b),
            )
        };
        let mut pair = vec![(0.0, 0.0); c * c];
        for &t in &all {
            for &s in all.iter().filter(|&&s| s != t) {
                let mu = effect.mu((size(s) / size(t)).ln());
                pair[t * c + s] = bounded(v[t * c + s], v[s * c + t], mu, tau_pair);
            }
        }
        let mut class = vec![(0.0, 0.0); c];
        for &t in &all {
            let (i, o) = whole_flows(t);
            let mu = effect.mu(weighted_size_ratio(v, c, sizes, t, &all));
            class[t] = bounded(i, o, mu, tau_class);
        }
        ViewNorm { pair, class }
    }
}

/// The direction test on a confusion matrix `counts` (`c × c`, row = the
/// given label, column = the class the evidence points to; the diagonal is
/// ignored), for every class in `classes`, whose sizes are `sizes` (indexed
/// by class).
///
/// For class `t`, the candidates are its total inflow against its total
/// outflow (spread estimated over the classes) and, for every other class
/// `s`, the rows `t ← s` against `s ← t` (spread estimated over the pairs).
/// Each is a one-sided test of `ln((in + ½)/(out + ½))` against a normal
/// centred on what the sizes predict (`β` of the log ratio of the sizes,
/// `β` from the other pairs, see [`size_effect`], or for a pair the class's
/// own `β` from its other pairs where that predicts more, see
/// [`own_share`]; for a whole class, of the other classes' sizes weighted
/// by their flows with it) with the
/// binomial variance plus the natural spread plus the size effect's spread
/// times the log size ratio; the class's p-value is the smallest, times the
/// number of candidates.
///
/// With `view` (a second confusion matrix of the same rows, from a view the
/// labels did not shape), the view's own log ratio of each pair's flows (of
/// a class's whole inflow and outflow), kept within the view's natural
/// spread (see [`ViewNorm`]), takes the place of the log size ratio, its
/// binomial variance (times `β²`) added: `counts` are then tested for the
/// imbalance they show *beyond* what the classes' natural overlap in that
/// view shows — which already carries their sizes — as far as the other
/// pairs show the view's imbalance carried into `counts` (`β`; none where
/// too few pairs both confuse: a strong model's few confusions say nothing
/// of how it follows the view). A weak model's confusions follow the
/// overlap of the classes it learned from; a one-way pair the inputs themselves show
/// (crops of one picture in two classes, most of them in one) is natural,
/// and so is the same pair in the model.
pub fn direction_test(
    counts: &[u64],
    c: usize,
    classes: &[u32],
    sizes: &[usize],
    view: Option<&[u64]>,
) -> Vec<Direction> {
    assert_eq!(counts.len(), c * c, "confusion matrix is c × c");
    assert_eq!(sizes.len(), c, "a size per class");
    assert!(
        view.is_none_or(|v| v.len() == c * c),
        "view confusion is c × c"
    );
    let at = |t: usize, s: usize| counts[t * c + s];
    let size = |t: usize| sizes[t].max(1) as f64;
    let norm = view.map(|v| ViewNorm::new(v, c, classes, sizes));
    // what a pair's log ratio follows (times β): the view's, else the sizes'
    let ratio = |t: usize, s: usize| match &norm {
        Some(n) => n.pair[t * c + s].0,
        None => (size(s) / size(t)).ln(),
    };
    // and the sampling variance of that predictor
    let pair_var = |t: usize, s: usize| norm.as_ref().map_or(0.0, |n| n.pair[t * c + s].1);
    // the other classes' sizes against `t`'s, weighted by their flows with
    // it; or the view's log ratio of `t`'s inflow and outflow
    let ratio_of = |t: usize, others: &[usize]| {
        if let Some(n) = &norm {
            return n.class[t].0;
        }
        weighted_size_ratio(counts, c, sizes, t, others)
    };
    let class_var = |t: usize| norm.as_ref().map_or(0.0, |n| n.class[t].1);
    let inflow: Vec<u64> = (0..c)
        .map(|t| (0..c).filter(|&s| s != t).map(|s| at(t, s)).sum())
        .collect();
    let outflow: Vec<u64> = (0..c)
        .map(|t| (0..c).filter(|&s| s != t).map(|s| at(s, t)).sum())
        .collect();
    let others = classes.len().saturating_sub(1).max(1);
    let all: Vec<usize> = classes.iter().map(|&s| s as usize).collect();
    classes
        .iter()
        .map(|&t| {
            let t = t as usize;
            // The natural spreads, estimated without class t: an all-to-one
            // attack on t makes every other class a source, and would
            // otherwise widen the spread it is measured against.
            let rest: Vec<usize> = classes
                .iter()
                .map(|&s| s as usize)
                .filter(|&s| s != t)
                .collect();
            let (effect, tau_pair, tau_whole) =
                natural_null(at, &rest, ratio, |a| ratio_of(a, &rest));
            // A class's whole inflow is less noisy than a pair's, but its
            // spread rests on few classes; natural class-level imbalance is
            // large (Fashion-MNIST's sandals: 398 rows in, 81 out), so it is
            // never taken below three quarters of the pair spread.
            let tau_class = tau_whole.map(|tc| tau_pair.map_or(tc, |tp| tc.max(0.75 * tp)));
            let (mut best, mut excess) = (0.0, 0.0);
            if let Some(tau) = tau_class {
                let l = ratio_of(t, &all);
                let var = effect.var(l) + effect.share.powi(2) * class_var(t);
                let (mu, tau) = (effect.mu(l), (tau * tau + var).sqrt());
                let (lp, l) = imbalance(inflow[t], outflow[t], mu, tau);
                best = lp;
                if l > mu {
                    excess = inflow[t] as f64 - outflow[t] as f64 * mu.exp();
                }
            }
            // t's own size effect, from its pairs with the other classes
            // (a small class that overlaps larger ones loses rows to every
            // one of them; see `own_share`) — not with a view, whose flows
            // carry those losses already, and where a class whose other
            // pairs follow the view closely would take a planted pair the
            // view shows too for natural (MNIST's ones relabelled seven)
            let shares: Vec<(usize, f64)> = if view.is_some() {
                Vec::new()
            } else {
                rest.iter()
                    .filter_map(|&s| pair_share(at(t, s), at(s, t), ratio(t, s)).map(|v| (s, v)))
                    .collect()
            };
            let mut top = None;
            let mut top_lp = 0.0;
            for &s in &rest {
                let Some(tau) = tau_pair else { break };
                let l = ratio(t, s);
                let mut mu = effect.mu(l);
                if let Some(own) = own_share(&shares, s) {
                    mu = mu.max(own * l);
                }
                // (with a view no own share raises `mu`: `β` is the share)
                let var = effect.var(l) + effect.share.powi(2) * pair_var(t, s);
                let tau = (tau * tau + var).sqrt();
                let (lp, l) = imbalance(at(t, s), at(s, t), mu, tau);
                if lp < top_lp {
                    top_lp = lp;
                    top = Some(s as u32);
                }
                if lp < best {
                    best = lp;
                    excess = if l > mu {
                        at(t, s) as f64 - at(s, t) as f64 * mu.exp()
                    } else {
                        0.0
                    };
                }
            }
            Direction {
                log_p: (best + ((others + 1) as f64).ln()).min(0.0),
                inflow: inflow[t],
                outflow: outflow[t],
                top_source: top,
                excess: excess.max(0.0),
                tau_pair: tau_pair.unwrap_or(f64::NAN),
                tau_class: tau_class.unwrap_or(f64::NAN),
            }
        })
        .collect()
}

/// How a class's rows split by their number of own-label neighbours, for the
/// isolation tests.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OwnCounts {
    /// Rows with no neighbour of their own label.
    pub none: u64,
    /// Rows with exactly one.
    pub one: u64,
    /// Rows with from two to `k/2 − 1` (a mixed neighbourhood, own label in
    /// the minority).
    pub mixed: u64,
    /// The class's share of the rows it is weighed against: of the scanned
    /// rows, for a whole class; of its own and the source class's rows, for
    /// a source stratum (see [`source_tests`]).
    pub prior: f64,
}

impl OwnCounts {
    /// Counts from the own-label neighbour counts of a class's rows.
    pub fn from_counts(own: impl Iterator<Item = usize>, k: usize, prior: f64) -> Self {
        let mut c = OwnCounts {
            none: 0,
            one: 0,
            mixed: 0,
            prior,
        };
        for o in own {
            c.add(o, k);
        }
        c
    }

    /// Counts one more row, with `own` own-label neighbours of `k`.
    pub fn add(&mut self, own: usize, k: usize) {
        match own {
            0 => self.none += 1,
            1 => self.one += 1,
            o if o >= 2 && 2 * o < k => self.mixed += 1,
            _ => {}
        }
    }
}

/// Result of the isolation tests for one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Isolation {
    /// `ln` p-value of the unanimity test (rows with no own-label neighbour
    /// against rows with one).
    pub unanimity_log_p: f64,
    /// `ln` p-value of the isolation test (rows with at most one against rows
    /// with a mixed neighbourhood).
    pub isolation_log_p: f64,
    /// The ratio each test allowed a clean class.
    pub unanimity_null: f64,
    /// See `unanimity_null`.
    pub isolation_null: f64,
    /// Estimated relabelled rows: the larger of the two tests' estimates.
    pub excess: f64,
    /// `ln` p-value of the pooled tests (see [`isolation_tests`]) for a class
    /// that takes part in them and exceeds its own null ratio; 0 otherwise.
    pub pooled_log_p: f64,
}

impl Isolation {
    /// Makes this the result of a class that is not judged (see
    /// [`recognition`]): its null ratios, no p-values.
    pub fn unjudge(&mut self) {
        self.unanimity_log_p = 0.0;
        self.isolation_log_p = 0.0;
        self.pooled_log_p = 0.0;
        self.excess = 0.0;
    }
}

/// The unanimity ratio (rows with no own-label neighbour of `k` over rows
/// with one) of rows whose neighbours are drawn at random from rows of
/// which a share `p` carries their label: labels that carry no local
/// information. 0 outside (0, 1).
fn no_info_unanimity(p: f64, k: usize) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        0.0
    } else {
        (1.0 - p) / (k as f64 * p)
    }
}

/// The isolation ratio (rows with at most one own-label neighbour of `k`
/// over rows with 2 to `k/2 − 1`) of such rows; see [`no_info_unanimity`].
fn no_info_isolation(p: f64, k: usize) -> f64 {
    let mid_hi = k.div_ceil(2) - 1; // own-label minority: 2 * o < k
    let mixed = binomial_mass(k, p, 2, mid_hi);
    if mixed > 0.0 {
        binomial_mass(k, p, 0, 1) / mixed
    } else {
        0.0
    }
}

/// `P(X ∈ lo..=hi)` for `X ~ Binomial(k, p)`.
fn binomial_mass(k: usize, p: f64, lo: usize, hi: usize) -> f64 {
    (lo..=hi.min(k))
        .map(|j| crate::stats::ln_binomial_pmf(k as u64, p, j as u64).exp())
        .sum()
}

/// The isolation tests of every class, from its own-label neighbour counts
/// (`k` neighbours).
///
/// - *Unanimity*: rows with no own-label neighbour against rows with one,
///   conditionally on their sum, under Binomial(sum, ρ/(1+ρ)).
/// - *Isolation*: rows with at most one against rows whose neighbourhood is
///   mixed (2 to `k/2 − 1` own-label neighbours), the same way; it sees
///   relabelled rows dense enough to be each other's neighbours (a 5 %
///   backdoor), which the unanimity test misses. Needs `k ≥ 6`.
///
/// The ratio ρ a clean class may show is the larger of the fixed ratio
/// (`unanimity_ratio`, `isolation_ratio`; natural boundaries stay below
/// them: 0.5–1.7 for unanimity and 0.3–1.0 for isolation over the classes of
/// clean MNIST and Fashion-MNIST) and the ratio that a class of its size would show if labels
/// carried no local information, scaled by how uninformative the data set's
/// labels are: the median over classes of each class's ratio over its own
/// no-information ratio (at most 1). A rare class in a noisy table is alone
/// among its neighbours by chance; a rare class in a data set whose classes
/// separate is not.
///
/// *Pooled*: the same two counts summed over the classes that are not
/// significant on their own (at 1 % over the classes), against the sum of
/// their binomials. Relabelled rows spread over every class (random label
/// flips) are too few in each class to tell from a boundary — nine of 180
/// rows in each class of scikit-learn's digits — but not in all of them
/// together. Each such class whose own counts exceed its null ratio gets
/// the pooled p-value (Bonferroni over the two pooled tests); leaving out
/// the classes that fail alone keeps a single poisoned class from lending
/// its evidence to clean ones; so does leaving out the classes that are not
/// `judged` (see [`recognition`]), whose rows all look relabelled.
pub fn isolation_tests(
    classes: &[OwnCounts],
    k: usize,
    unanimity_ratio: f64,
    isolation_ratio: f64,
    judged: &[bool],
) -> Vec<Isolation> {
    let with_iso = k >= 6;
    let unanimity_info = |p: f64| no_info_unanimity(p, k);
    let isolation_info = |p: f64| no_info_isolation(p, k);
    // how uninformative the labels are: median of observed / no-information ratio
    let level = |obs: &dyn Fn(&OwnCounts) -> Option<f64>, info: &dyn Fn(f64) -> f64| {
        let v: Vec<f64> = classes
            .iter()
            .filter_map(|c| {
                let r = obs(c)?;
                let n = info(c.prior);
                (n > 0.0).then(|| (r / n).min(1.0))
            })
            .collect();
        if v.len() < MIN_INFORMATIVE {
            1.0
        } else {
            median(&v)
        }
    };
    let unanimity_level = level(
        &|c| (c.none + c.one >= 10).then(|| c.none as f64 / c.one.max(1) as f64),
        &unanimity_info,
    );
    let isolation_level = level(
        &|c| {
            (c.none + c.one + c.mixed >= 10)
                .then(|| (c.none + c.one) as f64 / c.mixed.max(1) as f64)
        },
        &isolation_info,
    );
    let (typical_u, typical_i) = typical_ratios(classes, unanimity_ratio);
    let mut tests: Vec<Isolation> = classes
        .iter()
        .map(|c| {
            let rho_u = unanimity_ratio.max(unanimity_info(c.prior) * unanimity_level);
            let lp_u = ln_binomial_upper(c.none + c.one, null_share(rho_u), c.none);
            let rho_i = isolation_ratio.max(isolation_info(c.prior) * isolation_level);
            let low = c.none + c.one;
            let lp_i = if with_iso {
                ln_binomial_upper(low + c.mixed, null_share(rho_i), low)
            } else {
                0.0
            };
            // relabelled rows beyond what the data set's typical class shows
            // next to the same number of boundary rows; the isolation count
            // also holds relabelled rows that found one of their kind among
            // their neighbours, which the unanimity count leaves out
            let unanimous_excess = c.none as f64 - typical_u * c.one as f64;
            let isolated_excess = if with_iso {
                low as f64 - typical_i * c.mixed as f64
            } else {
                0.0
            };
            let excess = unanimous_excess.max(isolated_excess);
            Isolation {
                unanimity_log_p: lp_u,
                isolation_log_p: lp_i,
                unanimity_null: rho_u,
                isolation_null: rho_i,
                excess: excess.max(0.0),
                pooled_log_p: 0.0,
            }
        })
        .collect();
    pool(classes, &mut tests, with_iso, judged);
    tests
}

/// Least classes whose median isolation ratio is taken as the typical
/// class's beyond one for one (see [`typical_ratios`]): two poisoned
/// classes do not move the median of five.
const TYPICAL_CLASSES: usize = 5;

/// The unanimity and isolation ratios of a typical class of the data set
/// (the median over classes), for the tests' estimates of relabelled rows;
/// a class with no boundary rows counts as 0.
///
/// Each class's unanimity ratio counts at most one for one, the natural
/// level (rows with no own-label neighbour and rows with one are about
/// equally common along a boundary): when every class is poisoned, as by
/// random flips, the typical class is no guide. The isolation ratio has no
/// such natural level — it grows with how small a class is and how closely
/// it borders others (0.3–0.6 over the classes of MNIST, Fashion-MNIST and
/// the emoji; 2.2–4.8 when each MNIST digit is split into ten classes at
/// random, whose rows' neighbours carry the nine others' labels) — so it
/// is held at one for one only where the median cannot tell a typical
/// class — fewer than [`TYPICAL_CLASSES`] classes, where one poisoned
/// class moves it — or where the typical class shows relabelled rows
/// itself: a unanimity ratio beyond the test's null ratio
/// (`unanimity_ratio`). Held at one there, a planted group in one of the
/// hundred classes above (180 rows) was estimated at 476, and the class's
/// natural rows flagged beside it.
fn typical_ratios(classes: &[OwnCounts], unanimity_ratio: f64) -> (f64, f64) {
    let typical = |f: &dyn Fn(&OwnCounts) -> f64, most: f64| {
        let v: Vec<f64> = classes.iter().map(|c| f(c).min(most)).collect();
        if v.is_empty() {
            1.0
        } else {
            median(&v)
        }
    };
    let unanimity = |c: &OwnCounts| c.none as f64 / c.one.max(1) as f64;
    let held =
        classes.len() < TYPICAL_CLASSES || typical(&unanimity, f64::INFINITY) > unanimity_ratio;
    (
        typical(&unanimity, 1.0),
        typical(
            &|c| (c.none + c.one) as f64 / c.mixed.max(1) as f64,
            if held { 1.0 } else { f64::INFINITY },
        ),
    )
}

/// Result of the source test for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Sources {
    /// `ln` p-value: the smaller of the unanimity and isolation versions,
    /// Bonferroni over the two.
    pub log_p: f64,
    /// Estimated relabelled rows: the excess over the typical ratio, summed
    /// over the sources that exceed the null, of the version that gave the
    /// p-value.
    pub excess: f64,
    /// The version that gave the p-value counts rows with at most this many
    /// own-label neighbours (0: unanimity, 1: isolation).
    pub most_own: usize,
    /// Per source class, the estimated share of relabelled rows among the
    /// rows counted (0 for a source within the null).
    pub planted_share: Vec<f64>,
}

impl Sources {
    /// Makes this the result of a class that is not judged (see
    /// [`recognition`]).
    pub fn unjudge(&mut self) {
        self.log_p = 0.0;
        self.excess = 0.0;
        self.planted_share.iter_mut().for_each(|s| *s = 0.0);
    }
}

/// The isolation tests source by source (*source test*): a class's rows
/// split by the class their neighbourhood points to (`sources[t][s]`: the
/// own-label counts of class `t`'s rows whose neighbourhood majority is `s`,
/// with `prior` the share of `t` among the rows of `t` and `s`), each source
/// a stratum, against the null ratios of `tests` (from [`isolation_tests`]
/// on the same `classes`, with the same `unanimity_ratio`).
///
/// Why: a class's natural boundary rows come from the classes it borders,
/// with as many rows next to one own-label neighbour as next to none; rows
/// relabelled into it come from every source class, including classes it
/// does not border, where each source's rows are *all* alone among that
/// class. Pooled over the class, a confusable neighbour's boundary rows
/// dilute them (Fashion-MNIST, 180 patched rows relabelled T-shirt: 149
/// natural rows with no own-label neighbour, most from shirts, and the class
/// test passes); per source, 20 to 40 rows alone among sandals, sneakers or
/// trousers, against one or two on clean data, are not.
/// [`crate::stats::ln_stratified_excess_upper`] sums the evidence of the
/// sources in excess, so that the clean strata of a large boundary do not
/// hide them.
///
/// A source many times the class's size is allowed more: a stratum's null
/// ratio is the larger of the class's and the ratio of rows placed at
/// random among the two classes' rows (see [`no_info_unanimity`]), since
/// where a small class overlaps a large one even its natural rows rarely
/// meet one of their kind among `k` neighbours (Fashion-MNIST's shirts cut
/// to 250 rows beside 5,400 T-shirts: 64 rows with no shirt neighbour, 23
/// with one and 5 with two to four, where rows placed at random among the
/// two classes give 64 %, 29 % and 7 %). Rows relabelled from a class the
/// target does not overlap are still alone far beyond that.
///
/// A source is also allowed what the other classes' rows that point to it
/// show (the upper quartile of their ratios), as far as that exceeds the
/// typical stratum of the data set (the median ratio over every class and
/// source, when above the class's null ratio): where classes are mixtures
/// of shared kinds of row (a photo set whose classes draw on the same
/// scenes), every class's rows lie alone where another class dominates,
/// and with thousands of rows exceed any fixed ratio (50,000 such
/// pictures: two to four clean classes of ten failed, `ln p` −18 to −23).
/// Rows planted from a source are alone beyond what the other classes'
/// rows there are; poisoning moves rows into one or a few classes, not into
/// most — and where it moves rows into every class (random flips), every
/// stratum is raised alike, the typical one with them (Fashion-MNIST with
/// 10 % flips: a typical ratio of 5.6 against a null of 2; the photo set:
/// 1.0).
pub fn source_tests(
    classes: &[OwnCounts],
    sources: &[Vec<OwnCounts>],
    tests: &[Isolation],
    k: usize,
    unanimity_ratio: f64,
) -> Vec<Sources> {
    let (typical_u, typical_i) = typical_ratios(classes, unanimity_ratio);
    // one version of the test: per source, (rows counted, rows against,
    // the null ratio, the natural ratio for the estimate); the own-label
    // neighbours the counted rows have at most
    let version = |counts: Vec<(u64, u64, f64, f64)>, most_own: usize| {
        let strata: Vec<(u64, u64, f64)> = counts
            .iter()
            .map(|&(x, y, rho, _)| (x, x + y, null_share(rho)))
            .collect();
        // a source's excess: its counted rows beyond the natural ratio, for
        // the sources over the null
        let excess: Vec<f64> = counts
            .iter()
            .map(|&(x, y, rho, natural)| {
                if x as f64 > null_share(rho) * (x + y) as f64 {
                    (x as f64 - natural * y as f64).max(0.0)
                } else {
                    0.0
                }
            })
            .collect();
        Sources {
            log_p: ln_stratified_excess_upper(&strata),
            excess: excess.iter().sum(),
            most_own,
            planted_share: excess
                .iter()
                .zip(&counts)
                .map(|(e, &(x, ..))| if x > 0 { e / x as f64 } else { 0.0 })
                .collect(),
        }
    };
    // A source's own level: the ratio the other classes' rows that point to
    // it show (the upper quartile over those with a stratum of at least
    // `PEER_ROWS` rows, when `PEER_CLASSES` have one). Where a class
    // dominates a region, every class's rows there are alone; rows planted
    // from it are alone beyond what the other classes' rows there are.
    let ratio = |(x, y): (u64, u64)| x as f64 / y.max(1) as f64;
    // per source, the ratios of the classes with a stratum of at least
    // `PEER_ROWS` rows, ascending, and each class's place among them; and
    // the typical stratum's ratio over the whole data set (their median):
    // where relabelled rows are spread over every class (random flips),
    // every source's rows are alone in every class, and a source's level
    // counts only as far as it exceeds that
    struct Peers {
        sorted: Vec<f64>,
        place: Vec<Option<usize>>,
    }
    let peer_table = |count: fn(&OwnCounts) -> (u64, u64)| -> (Vec<Peers>, f64) {
        let table: Vec<Peers> = (0..sources.iter().map(Vec::len).max().unwrap_or(0))
            .map(|s| {
                let mut r: Vec<(f64, usize)> = sources
                    .iter()
                    .enumerate()
                    .filter_map(|(u, from)| from.get(s).map(|c| (count(c), u)))
                    .filter(|&((x, y), _)| x + y >= PEER_ROWS)
                    .map(|(xy, u)| (ratio(xy), u))
                    .collect();
                r.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut place = vec![None; sources.len()];
                for (i, &(_, u)) in r.iter().enumerate() {
                    place[u] = Some(i);
                }
                Peers {
                    sorted: r.into_iter().map(|(v, _)| v).collect(),
                    place,
                }
            })
            .collect();
        let all: Vec<f64> = table
            .iter()
            .flat_map(|p| p.sorted.iter().copied())
            .collect();
        let typical = if all.is_empty() { 0.0 } else { median(&all) };
        (table, typical)
    };
    let (unanimity_peers, isolation_peers) = (
        peer_table(|c| (c.none, c.one)),
        peer_table(|c| (c.none + c.one, c.mixed)),
    );
    // the upper quartile of a source's ratios without class `t`'s own
    let peer = |table: &[Peers], t: usize, s: usize| -> f64 {
        let Some(p) = table.get(s) else {
            return 0.0;
        };
        let own = p.place.get(t).copied().flatten();
        let m = p.sorted.len() - own.is_some() as usize;
        if m < PEER_CLASSES {
            return 0.0;
        }
        let q = ((m - 1) as f64 * 0.75) as usize;
        p.sorted[if own.is_some_and(|i| i <= q) {
            q + 1
        } else {
            q
        }]
    };
    sources
        .par_iter()
        .zip(tests)
        .enumerate()
        .map(|(ti, (from, t))| {
            // per source: its counts, its null ratio (the class's, or that
            // of rows placed at random among the two classes' rows or the
            // source's own level when larger) and its natural ratio for the
            // estimate
            let strata = |count: fn(&OwnCounts) -> (u64, u64),
                          random: fn(f64, usize) -> f64,
                          null: f64,
                          typical: f64,
                          (stratum, table): (f64, &[Peers])| {
                from.iter()
                    .enumerate()
                    .map(|(s, c)| {
                        let ((x, y), random) = (count(c), random(c.prior, k));
                        let level = random.max(peer(table, ti, s) * null / stratum.max(null));
                        (x, y, null.max(level), typical.max(random))
                    })
                    .collect()
            };
            let unanimity = strata(
                |c| (c.none, c.one),
                no_info_unanimity,
                t.unanimity_null,
                typical_u,
                (unanimity_peers.1, &unanimity_peers.0),
            );
            let mut best = version(unanimity, 0);
            let mut tried = 1f64;
            if k >= 6 {
                let isolation = strata(
                    |c| (c.none + c.one, c.mixed),
                    no_info_isolation,
                    t.isolation_null,
                    typical_i,
                    (isolation_peers.1, &isolation_peers.0),
                );
                let iso = version(isolation, 1);
                tried = 2.0;
                if iso.log_p < best.log_p {
                    best = iso;
                }
            }
            best.log_p = (best.log_p + tried.ln()).min(0.0);
            best
        })
        .collect()
}

/// Least rows of another class's stratum, and least such classes, for a
/// source's own level (see [`source_tests`]).
const PEER_ROWS: u64 = 20;
const PEER_CLASSES: usize = 4;

/// The share of counted rows a null ratio `rho` (counted per row against)
/// allows: `rho / (1 + rho)`.
fn null_share(rho: f64) -> f64 {
    rho / (1.0 + rho)
}

/// The pooled tests of [`isolation_tests`], written into `tests`.
fn pool(classes: &[OwnCounts], tests: &mut [Isolation], with_iso: bool, judged: &[bool]) {
    let alone = crate::class_gate_level(classes.len());
    let pooled: Vec<usize> = (0..classes.len())
        .filter(|&j| judged[j] && tests[j].unanimity_log_p.min(tests[j].isolation_log_p) > alone)
        .collect();
    let (mut unanimity, mut isolation) = (Vec::new(), Vec::new());
    let (mut none, mut low) = (0u64, 0u64);
    for &j in &pooled {
        let (c, t) = (&classes[j], &tests[j]);
        unanimity.push((c.none + c.one, null_share(t.unanimity_null)));
        isolation.push((c.none + c.one + c.mixed, null_share(t.isolation_null)));
        none += c.none;
        low += c.none + c.one;
    }
    let mut lp = ln_binomial_sum_upper(&unanimity, none);
    if with_iso {
        lp = (lp.min(ln_binomial_sum_upper(&isolation, low)) + 2f64.ln()).min(0.0);
    }
    for &j in &pooled {
        let (c, t) = (&classes[j], &mut tests[j]);
        let over_u = c.none as f64 > null_share(t.unanimity_null) * (c.none + c.one) as f64;
        let over_i = with_iso
            && (c.none + c.one) as f64
                > null_share(t.isolation_null) * (c.none + c.one + c.mixed) as f64;
        if over_u || over_i {
            t.pooled_log_p = lp;
        }
    }
}

/// Least spread of a class's coherence log odds around the other classes'
/// median: natural classes lie up to 0.85 above it (clean MNIST's ones, in
/// raw pixels, among classes within ±0.3) and 0.57 (Fashion-MNIST's
/// shirts); planted dense groups 2.1 (MNIST, blend 5 %) and 3.3 (warp 5 %).
const COHERENCE_SPREAD_MIN: f64 = 0.5;

/// Least other classes the coherence test calibrates on (a data set of
/// four classes); with fewer than six its spread is widened (see [`class_null`]).
/// Measured with `--model none`: a 5 % warp into MNIST's 3 among 3, 5, 8
/// and 9 lifts the 3s' log odds from −1.55 to 0.76 against −1.8 to −1.25
/// for the others; clean Fashion-MNIST tops (T-shirts, pullovers, coats,
/// shirts) lie within 0.64 of their peers' median (the shirts' natural
/// pocket).
const MIN_FEW_PEERS: usize = 3;

/// The minority rows of a class and their own-label neighbours, for the
/// coherence test.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Minority {
    /// Rows of the class.
    pub rows: u64,
    /// Rows whose label is in the minority among their neighbours.
    pub minority: u64,
    /// Own-label neighbours of those rows (neighbour slots).
    pub own: u64,
    /// Of those, neighbours that are minority rows themselves.
    pub own_minority: u64,
}

/// Result of the coherence test for one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coherence {
    /// `ln` p-value (0 when too few classes to calibrate on).
    pub log_p: f64,
    /// Log odds that an own-label neighbour of a minority row is a minority
    /// row too.
    pub log_odds: f64,
    /// Minority rows beyond the other classes' median share of them.
    pub excess: f64,
}

impl Coherence {
    /// Makes this the result of a class that is not judged (see
    /// [`recognition`]).
    pub fn unjudge(&mut self) {
        self.log_p = 0.0;
        self.excess = 0.0;
    }
}

/// The coherence test of every class: the log odds `L` that an own-label
/// neighbour of a minority row is itself a minority row, against the other
/// classes' (median, and `1.4826 × MAD` as the spread, never below
/// [`COHERENCE_SPREAD_MIN`]), plus the class's own sampling variance
/// `1/a + 1/b`; one-sided normal test. Classes with fewer than
/// [`MIN_COUNT`] own-label slots take no part. The centre and spread are
/// [`class_null`]'s: with fewer than six other classes taking part (a data
/// set of four or five classes), the median of so few is itself uncertain
/// and the spread is widened by `√(1 + π/(2m))` for `m` peers; with fewer
/// than [`MIN_FEW_PEERS`], no test.
pub fn coherence_test(classes: &[Minority]) -> Vec<Coherence> {
    let odds = |m: &Minority| {
        let (a, b) = (
            m.own_minority as f64 + 0.5,
            (m.own - m.own_minority) as f64 + 0.5,
        );
        ((a / b).ln(), 1.0 / a + 1.0 / b)
    };
    let share = |m: &Minority| m.minority as f64 / m.rows.max(1) as f64;
    classes
        .iter()
        .enumerate()
        .map(|(t, m)| {
            let (l, v) = odds(m);
            let others: Vec<usize> = (0..classes.len())
                .filter(|&j| j != t && classes[j].own >= MIN_COUNT)
                .collect();
            if m.own < MIN_COUNT || others.len() < MIN_FEW_PEERS {
                return Coherence {
                    log_p: 0.0,
                    log_odds: l,
                    excess: 0.0,
                };
            }
            let ls: Vec<f64> = others.iter().map(|&j| odds(&classes[j]).0).collect();
            let (centre, spread) =
                class_null(&ls, COHERENCE_SPREAD_MIN).expect("at least MIN_FEW_PEERS peers");
            let z = (l - centre) / (spread * spread + v).sqrt();
            let typical = median(
                &others
                    .iter()
                    .map(|&j| share(&classes[j]))
                    .collect::<Vec<_>>(),
            );
            Coherence {
                log_p: ln_upper_normal_p(z),
                log_odds: l,
                excess: (m.minority as f64 - typical * m.rows as f64).max(0.0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_classes_suffice_for_coherence_with_a_wider_spread() {
        // MNIST 3, 5, 8 and 9 in raw pixels (k = 10), measured: three
        // clean classes and the 3s with a 5 % warp planted in them
        let class = |own: u64, own_minority: u64, minority: u64| Minority {
            rows: 6000,
            minority,
            own,
            own_minority,
        };
        let mut classes = vec![
            class(300, 52, 171),
            class(180, 30, 99),
            class(330, 62, 190),
            class(160, 42, 84),
        ];
        for t in coherence_test(&classes) {
            assert!(t.log_p > (0.01f64 / 4.0).ln(), "{t:?}");
        }
        // log odds 0.76 against −1.8 to −1.25
        classes[0] = class(2400, 1635, 1110);
        let t = coherence_test(&classes);
        // significant after the class gate and the seven tests
        assert!(t[0].log_p < (0.01f64 / 4.0 / 7.0).ln(), "{:?}", t[0]);
        // the same classes with only two peers: no test
        let t = coherence_test(&classes[..3]);
        assert_eq!(t[0].log_p, 0.0, "{:?}", t[0]);
    }

    #[test]
    fn minority_rows_next_to_each_other_are_coherent() {
        // measured on MNIST in raw pixels (k = 10): nine clean classes ...
        let clean = [
            (156, 25),
            (155, 55),
            (416, 102),
            (607, 115),
            (421, 82),
            (448, 68),
            (119, 16),
            (315, 65),
            (634, 138),
            (464, 81),
        ];
        let mut classes: Vec<Minority> = clean
            .iter()
            .map(|&(own, own_minority)| Minority {
                rows: 6000,
                minority: own / 2,
                own,
                own_minority,
            })
            .collect();
        for t in coherence_test(&classes) {
            assert!(t.log_p > (0.01f64 / 10.0).ln(), "{t:?}");
        }
        // ... and class 0 with 5 % of MNIST blended into it
        classes[0] = Minority {
            rows: 8923,
            minority: 1810,
            own: 4864,
            own_minority: 3193,
        };
        let t = coherence_test(&classes)[0];
        assert!(t.log_p < (0.001f64 / 50.0).ln(), "{t:?}");
        assert!(t.excess > 1000.0, "{t:?}");
    }

    #[test]
    fn symmetric_confusion_passes_and_a_one_way_flow_fails() {
        // Eight classes; natural confusion between neighbours in both
        // directions with pair-to-pair imbalance up to 2×, and 300 rows of
        // class 3 relabelled to class 0.
        let c = 8;
        let mut m = vec![0u64; c * c];
        let natural = [
            (0, 1, 40, 25),
            (1, 2, 60, 90),
            (2, 3, 30, 55),
            (3, 4, 80, 70),
            (0, 4, 20, 35),
            (1, 3, 15, 10),
        ];
        for &(a, b, ab, ba) in &natural {
            m[a * c + b] = ab;
            m[b * c + a] = ba;
        }
        let classes: Vec<u32> = (0..c as u32).collect();
        let clean = direction_test(&m, c, &classes, &[100; 8], None);
        for d in &clean {
            assert!(d.log_p > (0.01f64 / 8.0).ln(), "{d:?}");
        }
        m[3] += 300; // class 0 ← class 3
        let poisoned = direction_test(&m, c, &classes, &[100; 8], None);
        assert!(poisoned[0].log_p < -15.0, "{:?}", poisoned[0]);
        assert_eq!(poisoned[0].top_source, Some(3));
        assert!(poisoned[0].excess > 250.0);
        // the source class is not blamed
        assert!(
            poisoned[3].log_p > (0.01f64 / 5.0).ln(),
            "{:?}",
            poisoned[3]
        );
    }

    #[test]
    fn a_weak_models_one_way_pair_the_pixels_show_too_passes() {
        // A weak model's confusions of ten classes of 5,000 (the clean
        // 50,000-picture photo mix, a CNN at 32 % accuracy, seed 3; the
        // view: each contradicted row's ten nearest neighbours in 32
        // principal components of the raw pixels, their plurality):
        // class 9 loses 691 rows to class 2 and gets 35 back, the pixels
        // 582 and 146.
        let c = 10;
        let model = [
            [0, 307, 406, 259, 579, 415, 252, 230, 137, 286],
            [210, 0, 497, 338, 804, 558, 428, 321, 270, 223],
            [365, 377, 0, 218, 688, 42, 295, 118, 132, 35],
            [151, 389, 228, 0, 588, 523, 254, 572, 188, 286],
            [252, 465, 293, 420, 0, 304, 208, 264, 147, 241],
            [386, 326, 236, 640, 361, 0, 249, 400, 311, 79],
            [312, 541, 1026, 155, 552, 70, 0, 221, 310, 313],
            [31, 398, 167, 475, 251, 451, 261, 0, 318, 163],
            [415, 475, 226, 435, 386, 292, 407, 320, 0, 35],
            [403, 362, 691, 283, 351, 219, 248, 412, 75, 0],
        ];
        let pixels = [
            [0, 411, 432, 224, 294, 353, 236, 197, 93, 358],
            [419, 0, 555, 429, 545, 408, 408, 235, 199, 251],
            [313, 332, 0, 228, 418, 204, 212, 159, 166, 146],
            [403, 373, 311, 0, 416, 510, 134, 520, 213, 181],
            [477, 512, 453, 279, 0, 369, 151, 104, 111, 174],
            [447, 516, 266, 421, 193, 0, 128, 449, 313, 192],
            [339, 462, 816, 97, 346, 196, 0, 248, 253, 375],
            [179, 250, 156, 261, 153, 366, 208, 0, 181, 291],
            [362, 506, 258, 251, 252, 304, 312, 211, 0, 120],
            [523, 295, 582, 225, 207, 196, 138, 361, 72, 0],
        ];
        let (m, view) = (model.concat(), pixels.concat());
        let classes: Vec<u32> = (0..c as u32).collect();
        let sizes = [5000; 10];
        let level = (0.01f64 / 10.0).ln();
        // against the sizes alone the pair stands out; against the view not
        let alone = direction_test(&m, c, &classes, &sizes, None);
        assert!(alone[9].log_p < level - 2.0, "{:?}", alone[9]);
        let seen = direction_test(&m, c, &classes, &sizes, Some(&view));
        for d in &seen {
            assert!(d.log_p > level, "{d:?}");
        }
    }

    #[test]
    fn a_planted_pair_the_pixels_show_too_fails_against_them() {
        // MNIST with 1 % of the ones relabelled seven (seed 4): a CNN's
        // confident joint (`--seed 1`), and each row's ten nearest
        // neighbours in 32 principal components of the raw pixels, where
        // its own label is in the minority: their plurality.
        // Class 7's other pairs follow the pixels closely; the planted pair
        // is one way in both (391 to 3; 634 to 11).
        let c = 10;
        let model = [
            [0, 0, 0, 0, 0, 0, 1, 0, 1, 1],
            [0, 0, 3, 0, 0, 0, 0, 3, 1, 0],
            [0, 0, 0, 3, 2, 0, 0, 14, 4, 1],
            [0, 0, 7, 0, 0, 2, 0, 13, 5, 4],
            [1, 1, 2, 0, 0, 0, 1, 3, 1, 7],
            [0, 0, 1, 4, 0, 0, 2, 0, 5, 1],
            [3, 1, 0, 0, 2, 1, 0, 0, 1, 0],
            [1, 391, 4, 0, 2, 0, 0, 0, 3, 2],
            [2, 4, 0, 2, 1, 4, 0, 2, 0, 6],
            [4, 1, 0, 2, 5, 3, 0, 13, 1, 0],
        ];
        let pixels = [
            [0, 4, 10, 0, 1, 6, 21, 3, 5, 2],
            [0, 0, 25, 7, 5, 2, 4, 11, 3, 8],
            [25, 16, 0, 10, 4, 4, 11, 62, 19, 7],
            [3, 14, 48, 0, 2, 57, 5, 30, 60, 31],
            [4, 25, 2, 1, 0, 0, 21, 7, 1, 116],
            [12, 3, 4, 38, 4, 0, 57, 10, 17, 22],
            [14, 9, 2, 0, 4, 19, 0, 0, 5, 0],
            [3, 634, 20, 1, 11, 2, 0, 0, 5, 53],
            [9, 31, 17, 43, 19, 58, 25, 8, 0, 50],
            [14, 12, 7, 29, 45, 17, 5, 49, 17, 0],
        ];
        let (m, view) = (model.concat(), pixels.concat());
        let classes: Vec<u32> = (0..c as u32).collect();
        let sizes = [5923, 6142, 5958, 6131, 5842, 5421, 5918, 6865, 5851, 5949];
        let d = &direction_test(&m, c, &classes, &sizes, Some(&view))[7];
        assert!(d.log_p < (0.01f64 / 10.0).ln() - 10.0, "{d:?}");
        assert_eq!(d.top_source, Some(1));
    }

    #[test]
    fn a_flow_beyond_the_views_fails_and_so_does_one_beyond_the_views_own_spread() {
        // Eight classes of 5,000: a model confuses each pair 8–16 times
        // each way, the view 30–54; five pairs run one way in both, the
        // model's sharper.
        let c = 8;
        let (mut m, mut view) = (vec![0u64; c * c], vec![0u64; c * c]);
        for a in 0..c {
            for b in a + 1..c {
                m[a * c + b] = 8 + ((a * 5 + b * 3) % 9) as u64;
                m[b * c + a] = 8 + ((a * 3 + b * 7) % 9) as u64;
                view[a * c + b] = 30 + ((a * 11 + b * 5) % 25) as u64;
                view[b * c + a] = 30 + ((a * 7 + b * 13) % 25) as u64;
            }
        }
        let one_way = [
            (0, 1, (150, 6), (260, 30)),
            (2, 3, (90, 5), (200, 30)),
            (4, 5, (120, 8), (220, 35)),
            (6, 7, (100, 4), (240, 25)),
            (1, 3, (80, 6), (180, 30)),
        ];
        for (a, b, model, seen) in one_way {
            (m[a * c + b], m[b * c + a]) = model;
            (view[a * c + b], view[b * c + a]) = seen;
        }
        let classes: Vec<u32> = (0..c as u32).collect();
        let sizes = [5000; 8];
        let level = (0.01f64 / 8.0).ln();
        let alone = direction_test(&m, c, &classes, &sizes, None);
        assert!(alone[0].log_p < level - 2.0, "{:?}", alone[0]);
        let seen = direction_test(&m, c, &classes, &sizes, Some(&view));
        for d in &seen {
            assert!(d.log_p > level, "{d:?}");
        }
        // 300 rows of class 6 relabelled 5: the model sees them, the view
        // does not
        m[5 * c + 6] += 300;
        let poisoned = direction_test(&m, c, &classes, &sizes, Some(&view));
        assert!(poisoned[5].log_p < level - 2.0, "{:?}", poisoned[5]);
        assert_eq!(poisoned[5].top_source, Some(6));
        // a flow the view shows as well weighs less ...
        let mut shown = view.clone();
        shown[5 * c + 6] += 250;
        let both = direction_test(&m, c, &classes, &sizes, Some(&shown));
        assert!(both[5].log_p > poisoned[5].log_p, "{:?}", both[5]);
        // ... but counts as natural only as far as the view's own spread
        // allows: 1,000 rows relabelled, 1,500 more one way in the view
        m[5 * c + 6] += 700;
        shown[5 * c + 6] += 1250;
        let both = direction_test(&m, c, &classes, &sizes, Some(&shown));
        assert!(both[5].log_p < level, "{:?}", both[5]);
        // a strong model's few confusions say nothing of how it follows
        // the view: its flows are tested against the sizes
        let strong: Vec<u64> = m.iter().map(|&v| v / 20).collect();
        let alone = direction_test(&strong, c, &classes, &sizes, None);
        let seen = direction_test(&strong, c, &classes, &sizes, Some(&shown));
        assert_eq!(alone[5].log_p, seen[5].log_p);
        assert!(seen[5].log_p < level, "{:?}", seen[5]);
    }

    /// A `c × c` confusion matrix with `n` rows of class `a` pointing to `b`
    /// for every `(a, b, n)`.
    fn confusion(c: usize, flows: &[(usize, usize, u64)]) -> Vec<u64> {
        let mut m = vec![0u64; c * c];
        for &(a, b, n) in flows {
            m[a * c + b] = n;
        }
        m
    }

    /// The direction test of every class of `m`, each checked to pass at
    /// 1 % over the classes.
    fn all_pass(m: &[u64], c: usize, sizes: &[usize]) -> Vec<Direction> {
        let classes: Vec<u32> = (0..c as u32).collect();
        let level = (0.01f64 / c as f64).ln();
        let clean = direction_test(m, c, &classes, sizes, None);
        for d in &clean {
            assert!(d.log_p > level, "{d:?}");
        }
        clean
    }

    #[test]
    fn small_classes_losing_rows_to_a_large_one_pass() {
        // ISLP's Wage by marital status (k-NN flows, clean): never married
        // 648, married 2,074, widowed 19, divorced 204, separated 55; each
        // small class's rows mostly look married where they overlap
        let c = 5;
        let sizes = [648, 2074, 19, 204, 55];
        let mut m = confusion(
            c,
            &[
                (0, 1, 360),
                (1, 0, 127),
                (2, 1, 18),
                (3, 1, 185),
                (1, 3, 4),
                (4, 1, 48),
                (3, 0, 6),
                (4, 0, 3),
            ],
        );
        let classes: Vec<u32> = (0..c as u32).collect();
        let level = (0.01f64 / 5.0).ln();
        let clean = all_pass(&m, c, &sizes);
        // the sizes explain most of the imbalance: the spread left is
        // smaller than between classes of one size
        let even = direction_test(&m, c, &classes, &[600; 5], None);
        assert!(clean[3].tau_pair < 0.5 * even[3].tau_pair);
        // 120 never-married rows relabelled divorced
        m[3 * c] += 120;
        let poisoned = direction_test(&m, c, &classes, &[528, 2074, 19, 324, 55], None);
        assert!(poisoned[3].log_p < level - 5.0, "{:?}", poisoned[3]);
        assert_eq!(poisoned[3].top_source, Some(0));
        assert!(poisoned[0].log_p > level, "{:?}", poisoned[0]);
    }

    #[test]
    fn natural_spread_grows_with_pair_imbalance() {
        let balanced: Vec<(u64, u64, f64)> = (0..10).map(|i| (100 + i, 100 - i, 0.0)).collect();
        assert_eq!(natural_spread(&balanced), Some(TAU_CONFUSED_MIN));
        let uneven: Vec<(u64, u64, f64)> = (0..10)
            .map(|i| {
                if i % 2 == 0 {
                    (200, 50, 0.0)
                } else {
                    (50, 200, 0.0)
                }
            })
            .collect();
        let tau = natural_spread(&uneven).unwrap();
        assert!(tau > 1.5 && tau < 2.5, "{tau}");
        assert_eq!(natural_spread(&[(3, 0, 0.0), (0, 1, 0.0)]), None);
        let quiet = [(3, 0), (0, 1), (0, 0), (40, 30), (1, 1), (0, 0)];
        let quiet: Vec<(u64, u64, f64)> = quiet.iter().map(|&(a, b)| (a, b, 0.0)).collect();
        assert_eq!(natural_spread(&quiet), Some(TAU_QUIET));
        // the spread is around what the sizes predict
        let sized: Vec<(u64, u64, f64)> = uneven
            .iter()
            .map(|&(a, b, _)| (a, b, ((a as f64 + 0.5) / (b as f64 + 0.5)).ln()))
            .collect();
        assert_eq!(natural_spread(&sized), Some(TAU_CONFUSED_MIN));
    }

    #[test]
    fn a_small_class_nested_in_a_large_one_passes() {
        // Fashion-MNIST's classes at sizes falling a hundredfold (raw-pixel
        // k-NN flows, clean): the 250 shirts lose 105 rows to the 5,400
        // T-shirts and win none back, far more than the other pairs' share
        // of their size ratios predicts
        let c = 10;
        let sizes = [5400, 3237, 1940, 1163, 697, 418, 250, 150, 90, 54];
        let mut m = confusion(
            c,
            &[
                (0, 1, 3),
                (1, 0, 51),
                (0, 2, 100),
                (2, 0, 84),
                (0, 3, 35),
                (3, 0, 171),
                (0, 4, 12),
                (4, 0, 20),
                (6, 0, 105),
                (0, 8, 6),
                (8, 0, 9),
                (1, 2, 24),
                (2, 1, 1),
                (1, 3, 38),
                (3, 1, 13),
                (2, 3, 9),
                (3, 2, 18),
                (2, 4, 91),
                (4, 2, 219),
                (2, 6, 8),
                (6, 2, 69),
                (2, 8, 3),
                (8, 2, 9),
                (3, 4, 19),
                (4, 3, 29),
                (4, 6, 8),
                (6, 4, 12),
                (5, 7, 43),
                (7, 5, 1),
                (5, 9, 17),
                (9, 5, 2),
                (7, 9, 5),
                (9, 7, 11),
            ],
        );
        all_pass(&m, c, &sizes);
        let classes: Vec<u32> = (0..c as u32).collect();
        let level = (0.01f64 / 10.0).ln();
        // 150 sandals relabelled shirt: a flow no size explains
        m[6 * c + 5] += 150;
        let poisoned = direction_test(
            &m,
            c,
            &classes,
            &[5400, 3237, 1940, 1163, 697, 268, 400, 150, 90, 54],
            None,
        );
        assert!(poisoned[6].log_p < level - 2.0, "{:?}", poisoned[6]);
        assert_eq!(poisoned[6].top_source, Some(5));
    }

    #[test]
    fn a_small_class_overlapping_larger_ones_passes_by_its_own_size_effect() {
        // The same long tail in raw pixels (k = 10): the shirts lose 92
        // rows to the T-shirts against 1, 71 to the pullovers against 15
        // and 23 to the coats against 9, where the data set's other pairs
        // show no size effect at all (their median share is 0)
        let c = 10;
        let sizes = [5400, 3237, 1940, 1163, 697, 418, 250, 150, 90, 54];
        #[rustfmt::skip]
        let mut m: Vec<u64> = vec![
            0, 3, 72, 42, 11, 6, 1, 1, 12, 0,
            55, 0, 12, 41, 3, 1, 0, 0, 0, 0,
            89, 3, 0, 15, 93, 1, 15, 1, 3, 0,
            124, 14, 20, 0, 26, 0, 1, 0, 0, 0,
            10, 4, 165, 28, 0, 0, 9, 0, 2, 0,
            4, 0, 0, 1, 0, 0, 0, 25, 1, 5,
            92, 0, 71, 3, 23, 0, 0, 0, 2, 0,
            0, 0, 0, 0, 0, 25, 0, 0, 0, 5,
            11, 0, 6, 3, 0, 4, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 5, 0, 5, 0, 0,
        ];
        all_pass(&m, c, &sizes);
        let classes: Vec<u32> = (0..c as u32).collect();
        let level = (0.01f64 / 10.0).ln();
        let d = &direction_test(&m, c, &classes, &sizes, None)[6];
        assert!(d.log_p > -4.0, "{d:?}");
        // 150 trousers relabelled shirt: the class's other pairs do not
        // explain so large a flow from a class it does not border — though
        // a one-way flow is weak evidence against a class that loses rows
        // one way to every large neighbour (60 rows: ln p = −4.8, left to
        // the source test, which sees them alone among trousers)
        m[6 * c + 1] += 150;
        let mut poisoned = sizes;
        poisoned[1] -= 150;
        poisoned[6] += 150;
        let d = &direction_test(&m, c, &classes, &poisoned, None)[6];
        assert!(d.log_p < level + 0.5, "{d:?}");
        assert_eq!(d.top_source, Some(1));
    }

    #[test]
    fn isolation_tells_relabelled_rows_from_a_boundary() {
        let counts = |none, one, mixed| OwnCounts {
            none,
            one,
            mixed,
            prior: 0.1,
        };
        // Ten classes with natural boundaries (as many rows with no own-label
        // neighbour as with one, fewer than with a mixed neighbourhood) ...
        let mut classes: Vec<OwnCounts> =
            (0..10).map(|i| counts(90 + i, 60 + 2 * i, 300)).collect();
        for t in isolation_tests(&classes, 10, 2.0, 1.5, &vec![true; classes.len()]) {
            assert!(
                t.unanimity_log_p > -2.0 && t.isolation_log_p > -2.0,
                "{t:?}"
            );
        }
        // ... then sparse relabelled rows in class 0: they pile up at none.
        classes[0] = counts(280, 70, 300);
        let t = isolation_tests(&classes, 10, 2.0, 1.5, &vec![true; classes.len()])[0];
        assert!(t.unanimity_log_p < -15.0, "{t:?}");
        assert!(t.excess > 150.0, "{t:?}");
        // Dense relabelled rows (each other's neighbours) in class 1: as
        // many with none as with one, but far more isolated than mixed.
        classes[1] = counts(900, 1000, 400);
        let t = isolation_tests(&classes, 10, 2.0, 1.5, &vec![true; classes.len()])[1];
        assert!(t.unanimity_log_p > -2.0, "{t:?}");
        assert!(t.isolation_log_p < -20.0, "{t:?}");
    }

    #[test]
    fn the_estimate_takes_a_typical_class_more_isolated_than_one_for_one() {
        // A hundred classes, each a tenth of one kind of row split at
        // random: a row's neighbours mostly carry its nine siblings' labels,
        // so three times as many rows have at most one own-label neighbour
        // as have a mixed neighbourhood, in every class (MNIST's digits split
        // ten ways: 2.2–4.8).
        let counts = |none, one, mixed| OwnCounts {
            none,
            one,
            mixed,
            prior: 0.01,
        };
        let mut classes: Vec<OwnCounts> = (0..100).map(|i| counts(200 + i % 7, 210, 140)).collect();
        // 180 rows relabelled into class 0 from other kinds, alone there
        classes[0].none += 180;
        let t = isolation_tests(&classes, 10, 2.0, 1.5, &vec![true; classes.len()]);
        assert!(t[0].isolation_log_p < -5.0, "{:?}", t[0]);
        assert!((150.0..=210.0).contains(&t[0].excess), "{:?}", t[0]);
        // the clean classes' estimates stay near none
        assert!(t[1..].iter().all(|t| t.excess < 20.0), "{:?}", &t[1..5]);
        // With two classes the median is one poisoned class's own ratio:
        // held at one for one, as when every class is relabelled (random
        // flips: the typical class shows them at none).
        let two = [counts(380, 210, 140), counts(200, 210, 140)];
        let t = isolation_tests(&two, 10, 2.0, 1.5, &[true, true]);
        assert!((440.0..=460.0).contains(&t[0].excess), "{:?}", t[0]);
        let flipped: Vec<OwnCounts> = (0..10).map(|_| counts(600, 100, 80)).collect();
        let t = isolation_tests(&flipped, 10, 2.0, 1.5, &vec![true; flipped.len()]);
        assert!(t.iter().all(|t| t.excess >= 600.0), "{:?}", t[0]);
    }

    #[test]
    fn rows_alone_among_classes_the_target_does_not_border_fail_the_source_test() {
        let counts = |none, one, mixed| OwnCounts {
            none,
            one,
            mixed,
            prior: 0.1,
        };
        // Ten classes of one size, each bordering two neighbours (natural
        // proportions: about as many rows with no own-label neighbour as
        // with one, more with a mixed neighbourhood) and seeing a stray row
        // or two from the rest.
        let pair = |none, one, mixed| OwnCounts {
            prior: 0.5,
            ..counts(none, one, mixed)
        };
        let natural = |t: usize| -> Vec<OwnCounts> {
            (0..10)
                .map(|s| {
                    if s == t {
                        pair(0, 0, 0)
                    } else if s == (t + 1) % 10 || s == (t + 9) % 10 {
                        pair(70 + s as u64, 80, 400)
                    } else {
                        pair((s % 2) as u64, 1, 0)
                    }
                })
                .collect()
        };
        let mut sources: Vec<Vec<OwnCounts>> = (0..10).map(natural).collect();
        // 20 rows relabelled into class 0 from each class it does not
        // border, all alone among their source
        for counts in &mut sources[0][2..9] {
            counts.none += 20;
        }
        let whole: Vec<OwnCounts> = sources
            .iter()
            .map(|from| {
                from.iter().fold(counts(0, 0, 0), |a, c| {
                    counts(a.none + c.none, a.one + c.one, a.mixed + c.mixed)
                })
            })
            .collect();
        let tests = isolation_tests(&whole, 10, 2.0, 1.5, &vec![true; whole.len()]);
        // pooled over the class, the two boundaries dilute them ...
        assert!(
            tests[0].unanimity_log_p > -5.0 && tests[0].isolation_log_p > -5.0,
            "{:?}",
            tests[0]
        );
        // ... source by source they stand out, and the clean classes do not
        let by_source = source_tests(&whole, &sources, &tests, 10, 2.0);
        assert!(by_source[0].log_p < -30.0, "{:?}", by_source[0]);
        for t in &by_source[1..] {
            assert!(t.log_p > -3.0, "{t:?}");
        }
        // the estimate counts the relabelled rows, and the planted share
        // tells the planted sources from the boundary
        let b = &by_source[0];
        assert!((120.0..=170.0).contains(&b.excess), "{b:?}");
        for s in 2..9 {
            assert!(b.planted_share[s] > 0.9, "{b:?}");
        }
        assert!(
            b.planted_share[1] < 0.2 && b.planted_share[9] < 0.2,
            "{b:?}"
        );
    }

    #[test]
    fn rows_alone_where_one_class_dominates_pass_the_source_test_in_every_class() {
        // Classes that are mixtures of shared kinds of row (a photo set
        // whose classes draw on the same scenes in different proportions;
        // 50,000 pictures): where class 7 dominates a region, rows of most
        // other classes lie there alone, four to six times as often as next
        // to one of their kind — beyond the fixed null ratio, and with
        // thousands of rows beyond it by far.
        let pair = |none, one, mixed| OwnCounts {
            none,
            one,
            mixed,
            prior: 0.5,
        };
        let natural = |t: usize| -> Vec<OwnCounts> {
            (0..10)
                .map(|s| {
                    if s == t {
                        pair(0, 0, 0)
                    } else if s == 7 && t < 7 {
                        pair(150 + 10 * t as u64, 30 + 2 * t as u64, 60)
                    } else if s == (t + 1) % 10 || s == (t + 9) % 10 {
                        pair(70 + s as u64, 80, 400)
                    } else {
                        pair((s % 2) as u64, 1, 0)
                    }
                })
                .collect()
        };
        let whole_of = |sources: &[Vec<OwnCounts>]| -> Vec<OwnCounts> {
            sources
                .iter()
                .map(|from| {
                    from.iter().fold(
                        OwnCounts {
                            prior: 0.1,
                            ..OwnCounts::default()
                        },
                        |a, c| OwnCounts {
                            none: a.none + c.none,
                            one: a.one + c.one,
                            mixed: a.mixed + c.mixed,
                            prior: a.prior,
                        },
                    )
                })
                .collect()
        };
        let test = |sources: &[Vec<OwnCounts>]| {
            let whole = whole_of(sources);
            let tests = isolation_tests(&whole, 10, 2.0, 1.5, &vec![true; whole.len()]);
            source_tests(&whole, sources, &tests, 10, 2.0)
        };
        let mut sources: Vec<Vec<OwnCounts>> = (0..10).map(natural).collect();
        for t in test(&sources) {
            assert!(t.log_p > -3.0, "{t:?}");
        }
        // rows relabelled into class 0 from the classes it does not border
        // are alone beyond what the other classes' rows there are
        for counts in &mut sources[0][2..9] {
            counts.none += 20;
        }
        let by_source = test(&sources);
        assert!(by_source[0].log_p < -30.0, "{:?}", by_source[0]);
        for t in &by_source[1..] {
            assert!(t.log_p > -3.0, "{t:?}");
        }
        // rows relabelled at random into every class from every class (10 %
        // flips) raise every source's level alike: the level counts only
        // beyond the typical stratum's, and every class still fails
        let mut flipped: Vec<Vec<OwnCounts>> = (0..10).map(natural).collect();
        for (t, from) in flipped.iter_mut().enumerate() {
            for (s, counts) in from.iter_mut().enumerate() {
                if s != t {
                    counts.none += 25;
                    counts.one += 3;
                }
            }
        }
        for t in test(&flipped) {
            assert!(t.log_p < -10.0, "{t:?}");
        }
    }

    #[test]
    fn a_small_class_overlapping_a_large_one_passes_the_source_test() {
        // Fashion-MNIST cut to a long tail (5,400 T-shirts down to 54 ankle
        // boots; raw pixels, k = 10): every class's own-label counts, and
        // the 250 shirts' split by the class their neighbours point to.
        let sizes = [5400u64, 3237, 1940, 1163, 697, 418, 250, 150, 90, 54];
        let total: u64 = sizes.iter().sum();
        let whole: Vec<OwnCounts> = [
            (29, 31, 131),
            (32, 38, 47),
            (34, 23, 197),
            (40, 42, 125),
            (29, 36, 172),
            (6, 7, 24),
            (94, 51, 56),
            (1, 4, 25),
            (6, 10, 15),
            (3, 1, 6),
        ]
        .iter()
        .zip(&sizes)
        .map(|(&(none, one, mixed), &n)| OwnCounts {
            none,
            one,
            mixed,
            prior: n as f64 / total as f64,
        })
        .collect();
        let shirts = 6;
        let stratum = |s: usize, none, one, mixed| OwnCounts {
            none,
            one,
            mixed,
            prior: sizes[shirts] as f64 / (sizes[shirts] + sizes[s]) as f64,
        };
        let natural: Vec<OwnCounts> = (0..10)
            .map(|s| match s {
                0 => stratum(0, 64, 23, 5),
                2 => stratum(2, 19, 21, 38),
                3 => stratum(3, 2, 0, 1),
                4 => stratum(4, 9, 5, 12),
                8 => stratum(8, 0, 2, 0),
                _ => stratum(s, 0, 0, 0),
            })
            .collect();
        let run = |shirt_sources: Vec<OwnCounts>| {
            let mut whole = whole.clone();
            whole[shirts] = shirt_sources.iter().fold(
                OwnCounts {
                    prior: whole[shirts].prior,
                    ..OwnCounts::default()
                },
                |a, c| OwnCounts {
                    none: a.none + c.none,
                    one: a.one + c.one,
                    mixed: a.mixed + c.mixed,
                    ..a
                },
            );
            let tests = isolation_tests(&whole, 10, 2.0, 1.5, &[true; 10]);
            let mut sources: Vec<Vec<OwnCounts>> = whole
                .iter()
                .map(|w| vec![OwnCounts { prior: 0.5, ..*w }])
                .collect();
            sources[shirts] = shirt_sources;
            source_tests(&whole, &sources, &tests, 10, 2.0)[shirts].log_p
        };
        // the natural overlap passes (it failed at ln p = −13.9 with the
        // class's own null for every source)
        let clean = run(natural.clone());
        assert!(clean > -3.0, "{clean}");
        // 60 rows relabelled from the trousers, which shirts do not border,
        // still fail
        let mut planted = natural.clone();
        planted[1].none += 60;
        let lp = run(planted);
        assert!(lp < -10.0, "{lp}");
        // (60 relabelled from the T-shirts themselves are not seen by this
        // test: 124 rows with none against 23 with one is within the
        // class's own null, 3.5 to one)
        let mut planted = natural;
        planted[0].none += 60;
        let lp = run(planted);
        assert!(lp > -3.0, "{lp}");
    }

    #[test]
    fn relabelled_rows_spread_over_every_class_fail_the_pooled_test() {
        let counts = |none, one, mixed| OwnCounts {
            none,
            one,
            mixed,
            prior: 0.1,
        };
        // Ten small classes, each with a few more rows alone among other
        // labels than its boundary explains: none significant alone ...
        let flipped: Vec<OwnCounts> = (0..10).map(|i| counts(8 + i % 3, 1, 1)).collect();
        let tests = isolation_tests(&flipped, 10, 2.0, 1.5, &vec![true; flipped.len()]);
        for t in &tests {
            assert!(t.unanimity_log_p > -4.0, "{t:?}");
            assert!(t.pooled_log_p < -8.0, "{t:?}");
        }
        // ... natural boundaries of small classes pool to nothing
        let clean: Vec<OwnCounts> = (0..10).map(|i| counts(1 + i % 3, 2, 3)).collect();
        for t in isolation_tests(&clean, 10, 2.0, 1.5, &vec![true; clean.len()]) {
            assert!(t.pooled_log_p > -2.0, "{t:?}");
        }
        // ... and one poisoned class does not lend its evidence to the rest,
        // whose ratios sit just over the null
        let mut one: Vec<OwnCounts> = (0..10).map(|_| counts(5, 2, 20)).collect();
        one[0] = counts(300, 10, 20);
        let tests = isolation_tests(&one, 10, 2.0, 1.5, &vec![true; one.len()]);
        assert!(tests[0].unanimity_log_p < -50.0);
        for t in &tests[1..] {
            assert!(t.pooled_log_p > -3.0, "{t:?}");
        }
    }

    #[test]
    fn a_rare_class_in_uninformative_labels_is_not_isolated_by_attack() {
        // Two classes whose labels carry no local information, priors 0.97
        // and 0.03: the rare class's rows are alone among their k = 10
        // neighbours by chance (Binomial(10, 0.03)).
        let rare = OwnCounts {
            none: 737,
            one: 228,
            mixed: 32,
            prior: 0.03,
        };
        let common = OwnCounts {
            none: 0,
            one: 0,
            mixed: 30,
            prior: 0.97,
        };
        let t = isolation_tests(&[common, rare], 10, 2.0, 1.5, &[true, true])[1];
        assert!(
            t.unanimity_log_p > -3.0 && t.isolation_log_p > -3.0,
            "{t:?}"
        );
    }
}
