//! The *carried-trigger* class test of `knn-label-disagreement`: a class
//! whose minority rows carry the trigger that the rows flagged in *other*
//! classes share.
//!
//! An all-to-all backdoor (BadNets' second attack: a trigger on rows of
//! every class, each relabelled to the next class) plants a few dozen rows
//! in each class. The label tests see each class's share on its own, and a
//! class whose planted rows come from a class it naturally borders (3s
//! from 2s) passes; what the planted rows of every class share — the
//! trigger — no per-class test pools. A planted row is a row of its source
//! class plus the trigger: minus the mean of its neighbours of the
//! neighbourhood's label (natural rows of that source, in the
//! label-agnostic view that clips the trigger away), it leaves the trigger
//! and noise; a natural boundary row leaves noise.
//!
//! Method, where some class has already failed the label tests (a
//! gatekeeping procedure, whose false alarms are those of the tests before
//! it; without a failed class, see the discovery below):
//! 1. Residuals, in the inputs the view was built from: a minority row
//!    minus the mean of its neighbours of the neighbourhood's majority
//!    label; an agreeing row (at least [`AGREE`] of its neighbours of its
//!    label) minus its own-label neighbours. Their covariance over a
//!    seeded sample of agreeing rows of every class ([`NULL_ROWS`];
//!    ridge-regularised) is the natural residual.
//! 2. The *seed* rows: the minority rows among the rows a failed class's
//!    label test names (its estimate of planted rows, most significant
//!    first). For class `c`, the trigger direction is the mean residual of
//!    the seeds of the *other* failed classes, in the natural residual's
//!    metric (`C⁻¹ m`, the linear discriminant of a shift against that
//!    noise); at least [`MIN_SEEDS`] of them.
//! 3. Class `c`'s agreeing rows' projections give the null's median and
//!    spread (`1.4826 × MAD`); the seeds, projected and standardised the
//!    same way, say how far the trigger carries a row; a minority row of
//!    `c` carries it when it reaches half the seeds' median (and at least
//!    [`Z_MIN`]). A trigger too faint to stand [`2 × Z_MIN`](Z_MIN) off in
//!    the seeds' median is not tested.
//! 4. The count of carrying minority rows against Binomial(minority rows,
//!    `q`), `q` the class's agreeing rows' share beyond the same cut (plus
//!    one, over their number plus one). Its excess is the count less its
//!    expectation.
//!
//! Without a failed class (too few seeds: fewer than [`MIN_SEEDS`]), the
//! seeds are *discovered*, where there are at least
//! [`MIN_DISCOVERY_FEATURES`] features: among confidently contradicted
//! rows (minority rows with at most a tenth of their neighbours of their
//! own label; a seeded sample of [`DISCOVERY_ROWS`]), each row's residual
//! is whitened by the natural residual (`L⁻¹ r`, unit length); for class
//! `c`, among the candidates neither of class `c` nor with it as their
//! neighbourhood's label, the *hub* is the one with the most others within
//! cosine [`PAIR_COS`], and the seeds are the candidates within
//! [`COS_MIN`] of the hub's and its company's mean. The class's own rows
//! play no part in choosing the direction it is tested along, and a
//! natural confusion between two classes (both ways, rows of one class
//! among the other's) is kept out of both classes' directions. Steps 3 and
//! 4 then run as above, and the p-value is corrected for an eighth test
//! beside the seven label tests (Bonferroni, × 8). Found so, the count in
//! step 4 is held against the larger of `q` and the share of the class's
//! *ambiguous* minority rows (mixed neighbourhoods: more than a tenth of
//! their own label; where there are [`MIN_NULL`] of them) that carry it:
//! planted rows are clear samples of another class, confidently
//! contradicted, while a direction natural contradicted rows share
//! reaches ambiguous rows as often. Measured (`--model none`, seed 1): a
//! clean Fashion-MNIST of 60,000 rows in shard order had a hub of 26–46
//! company and 21–32 seeds a class; its carrying rows were as frequent
//! among ambiguous rows (class 6: 11 of 894 confident, 28 of 1,671 mixed)
//! and four classes failed against `q` alone (ln p to −71); an all-to-all
//! 3×3 patch on 0.3 % carries into 13–29 confident rows a class and 0–1
//! mixed ones (MNIST and Fashion-MNIST). Measured (raw pixels,
//! seed 1): clean MNIST and Fashion-MNIST, the hubs have 4–26 company and
//! at most 19 seeds (not tested); MNIST all-to-all with a 3×3 patch on
//! 0.3 % of the rows (18 a class, no class failing the label tests), the
//! hub's company is 129–148 rows, the planted rows of eight class pairs,
//! and every class fails with its planted rows.
//!
//! A trigger found this way must be carried by at least [`MIN_SEEDS`] rows
//! over the classes, as many as failed classes must name as seeds: a
//! natural hub's direction can reach a few rows of a class far out.
//!
//! Inputs wider than [`MAX_FEATURES`] (colour or large images; the residual
//! covariance would be too large to factor) reach the test through the
//! scan's seeded Gaussian projection to that many features
//! ([`crate::ScanInput::projected`], shared with `shared-pattern`): a
//! trigger added to rows stays a shift shared by their projections, at
//! some loss of signal (the discovery's unit test: 22 of 30 planted rows
//! a class carry it as far at 2,000 features, 25–30 at 400). Measured
//! (`--model none`, seed 1): MNIST and Fashion-MNIST scaled to 56×56
//! (3,136 features), clean: no class tested (three seeds each); a 3×3
//! patch all-to-all on 0.3 % of the rows: every class fails, flagged
//! 100 / 100 % and 98 / 100 % (recall / precision; before: MNIST nothing
//! flagged, Fashion-MNIST one class, 12 %), as at 28×28; colour emoji
//! (32×32×3, 9 categories, 7,570 pictures), a checkerboard patch
//! all-to-all on 1 %: 4 of 9 classes fail, 37 / 78 % (before: none).
//!
//! Measured (prototype, raw pixels, `--model none`): MNIST all-to-all (a
//! 3×3 patch on 1 % of the rows, each relabelled to the next class): in
//! every class the carrying minority rows are the planted ones (the 3s,
//! which the label tests passed: 58 of 58); Fashion-MNIST all-to-all:
//! 58–76 planted of 60–77 carrying rows a class.

use rayon::prelude::*;

use crate::linalg::{backward_substitute_transposed, cholesky, covariance, forward_substitute};
use crate::rng::SplitMix64;
use crate::stats::{ln_binomial_upper, median, robust_location_scale};
use crate::MatrixRef;

/// Least share of its neighbours an agreeing row has of its own label.
const AGREE: f64 = 0.8;

/// Agreeing rows, over every class, the natural residual is measured on.
const NULL_ROWS: usize = 4096;

/// Agreeing rows of a class its null is measured on at most.
const CLASS_NULL_ROWS: usize = 2048;

/// Least agreeing rows of a class for its test.
const MIN_NULL: usize = 50;

/// Least seed rows (over the other failed classes) for a direction.
pub const MIN_SEEDS: usize = 20;

/// Least cut, in the null's spreads, for a row to carry the trigger.
const Z_MIN: f64 = 5.0;

/// Least cosine, in the natural residual's metric, of a carrying row's
/// residual with the trigger. Measured (Fashion-MNIST): natural minority
/// rows reach 0.42 at most; planted rows of an all-to-all patch 0.62–0.90
/// in the median, 0.29–0.79 in the lowest tenth.
const COS_MIN: f64 = 0.4;

/// Most features the test runs on: wider inputs are given to it through
/// the scan's shared random projection ([`crate::ScanInput::projected`]).
pub const MAX_FEATURES: usize = crate::PROJECTED_FEATURES;

/// Ridge on the natural residual's covariance, in units of its mean
/// variance (pixels that never vary, such as a digit's blank border, stay
/// finite).
const RIDGE: f64 = 1e-2;

/// The carried-trigger test of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    /// `ln` p-value (0 when untested).
    pub log_p: f64,
    /// Carrying minority rows beyond the null's expectation.
    pub excess: f64,
    /// The carrying minority rows.
    pub rows: Vec<usize>,
    /// `ln` of the share of the class's agreeing rows that carry the
    /// trigger as far (a carrying row's own p-value; 0 when untested).
    pub row_log_p: f64,
    /// The cut, in the null's spreads (`NaN` untested).
    pub cut: f64,
    pub tested: bool,
    /// Whether the trigger was found without a failed class (see
    /// [`carried_trigger_tests`]).
    pub discovered: bool,
}

impl Carried {
    fn untested() -> Self {
        Self {
            log_p: 0.0,
            excess: 0.0,
            rows: Vec::new(),
            row_log_p: 0.0,
            cut: f64::NAN,
            tested: false,
            discovered: false,
        }
    }
}

/// What the test reads from the label-agnostic scan.
#[derive(Clone, Copy)]
pub struct Neighbourhoods<'a> {
    /// The inputs the view was built from.
    pub x: MatrixRef<'a>,
    pub labels: &'a [u32],
    /// `k` neighbours per row.
    pub nb: &'a [u32],
    pub k: usize,
    /// Own-label neighbours per row.
    pub same: &'a [u64],
    /// The neighbourhood's majority label per row.
    pub majority: &'a [u32],
    /// Whether the row's label is in the minority of its neighbourhood.
    pub minority: &'a [bool],
    /// The rows' content keys (samples are drawn in their order).
    pub keys: &'a [u64],
}

impl Neighbourhoods<'_> {
    /// The mean of row `i`'s neighbours labelled `label` (`None` when it
    /// has none).
    pub(crate) fn neighbour_mean(&self, i: usize, label: u32) -> Option<Vec<f64>> {
        let nbrs: Vec<usize> = self.nb[i * self.k..(i + 1) * self.k]
            .iter()
            .map(|&j| j as usize)
            .filter(|&j| self.labels[j] == label)
            .collect();
        if nbrs.is_empty() {
            return None;
        }
        let mut m = vec![0.0; self.x.cols()];
        let w = 1.0 / nbrs.len() as f64;
        for j in nbrs {
            for (a, &b) in m.iter_mut().zip(self.x.row(j)) {
                *a += w * b as f64;
            }
        }
        Some(m)
    }

    /// Row `i` minus the mean of its neighbours labelled `label` (`None`
    /// when it has none).
    fn residual(&self, i: usize, label: u32) -> Option<Vec<f64>> {
        let mut r = self.neighbour_mean(i, label)?;
        for (a, &v) in r.iter_mut().zip(self.x.row(i)) {
            *a = v as f64 - *a;
        }
        Some(r)
    }

    fn agrees(&self, i: usize) -> bool {
        self.same[i] as f64 >= AGREE * self.k as f64
    }
}

/// The carried-trigger tests of the `scanned` classes (`class_rows` by
/// label), given each scanned class's seed rows (empty where the class has
/// not failed). Deterministic for `seed`.
pub fn carried_trigger_tests(
    h: &Neighbourhoods<'_>,
    class_rows: &[Vec<usize>],
    scanned: &[u32],
    seeds: &[Vec<usize>],
    seed: u64,
) -> Vec<Carried> {
    let untested = || scanned.iter().map(|_| Carried::untested()).collect();
    let d = h.x.cols();
    let total_seeds: usize = seeds.iter().map(Vec::len).sum();
    let discover = total_seeds < MIN_SEEDS;
    if d > MAX_FEATURES || d == 0 || (discover && d < MIN_DISCOVERY_FEATURES) {
        return untested();
    }
    // 1. the natural residual's covariance, from a seeded sample of
    // agreeing rows of every scanned class
    let mut agreeing: Vec<usize> = scanned
        .iter()
        .flat_map(|&c| class_rows[c as usize].iter().copied())
        .filter(|&i| h.agrees(i))
        .collect();
    SplitMix64::derive(seed, 0xCA77).order_by_content(&mut agreeing, h.keys);
    agreeing.truncate(NULL_ROWS);
    let null: Vec<Vec<f64>> = agreeing
        .par_iter()
        .filter_map(|&i| h.residual(i, h.labels[i]))
        .collect();
    if null.len() < MIN_NULL {
        return untested();
    }
    let flat: Vec<f32> = null.iter().flatten().map(|&v| v as f32).collect();
    let m = MatrixRef::new(&flat, null.len(), d).expect("residual matrix shape");
    let all: Vec<usize> = (0..null.len()).collect();
    let mut cov = covariance(m, &all, &vec![0.0; d]);
    let ridge = RIDGE * (0..d).map(|j| cov[j * d + j]).sum::<f64>() / d as f64;
    if ridge <= 0.0 {
        return untested();
    }
    for j in 0..d {
        cov[j * d + j] += ridge;
    }
    let Some(l) = cholesky(&cov, d) else {
        return untested();
    };
    // 2. the seeds' residuals, per class
    let seed_res: Vec<Vec<Vec<f64>>> = seeds
        .iter()
        .map(|rows| {
            rows.par_iter()
                .filter_map(|&i| h.residual(i, h.majority[i]))
                .collect()
        })
        .collect();
    let found = if discover {
        Some(Discovery::new(h, class_rows, scanned, &l, seed))
    } else {
        None
    };
    let tests: Vec<Carried> = scanned
        .par_iter()
        .enumerate()
        .map(|(t, &c)| {
            let owned: Vec<Vec<f64>>;
            let others: Vec<&Vec<f64>> = if let Some(f) = &found {
                owned = f.seeds_for(h, c);
                owned.iter().collect()
            } else {
                seed_res
                    .iter()
                    .enumerate()
                    .filter(|&(u, _)| u != t)
                    .flat_map(|(_, r)| r.iter())
                    .collect()
            };
            if others.len() < MIN_SEEDS {
                return Carried::untested();
            }
            // the coordinate-wise median: a trigger is in most seeds at the
            // same place; natural boundary rows among them scatter
            let mut v: Vec<f64> = (0..d)
                .map(|j| median(&others.iter().map(|r| r[j]).collect::<Vec<_>>()))
                .collect();
            // v = C⁻¹ m: L y = m, then Lᵀ v = y
            forward_substitute(&l, d, &mut v);
            let m_norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            backward_substitute_transposed(&l, d, &mut v);
            let project = |r: &[f64]| r.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
            // the cosine of a residual with the trigger, in the natural
            // residual's metric: a planted row's residual is mostly the
            // trigger; a natural row that projects far along it points
            // elsewhere too
            let aligned = |r: &[f64]| {
                let mut w = r.to_vec();
                forward_substitute(&l, d, &mut w);
                let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt();
                project(r) >= COS_MIN * norm * m_norm
            };
            // 3. the class's null, and how far the trigger carries
            let mut own: Vec<usize> = class_rows[c as usize]
                .iter()
                .copied()
                .filter(|&i| h.agrees(i))
                .collect();
            SplitMix64::derive(seed, 0xCA78 ^ c as u64).order_by_content(&mut own, h.keys);
            own.truncate(CLASS_NULL_ROWS);
            let own_res: Vec<Vec<f64>> = own.iter().filter_map(|&i| h.residual(i, c)).collect();
            let a: Vec<f64> = own_res.iter().map(|r| project(r)).collect();
            if a.len() < MIN_NULL {
                return Carried::untested();
            }
            let (mid, spread) = robust_location_scale(&a);
            if spread.is_nan() || spread <= 0.0 {
                return Carried::untested();
            }
            let z = |p: f64| (p - mid) / spread;
            let reach = median(&others.iter().map(|r| z(project(r))).collect::<Vec<_>>());
            if reach.is_nan() || reach < 2.0 * Z_MIN {
                return Carried::untested();
            }
            let cut = 0.5 * reach;
            let beyond = own_res
                .iter()
                .zip(&a)
                .filter(|&(r, &p)| z(p) >= cut && aligned(r))
                .count();
            let q = (beyond + 1) as f64 / (a.len() + 1) as f64;
            // 4. the class's minority rows beyond the cut
            let minority: Vec<usize> = class_rows[c as usize]
                .iter()
                .copied()
                .filter(|&i| h.minority[i])
                .collect();
            let rows: Vec<usize> = minority
                .iter()
                .copied()
                .filter(|&i| {
                    h.residual(i, h.majority[i])
                        .is_some_and(|r| z(project(&r)) >= cut && aligned(&r))
                })
                .collect();
            // found without a failed class, the test is one more beside
            // the seven (Bonferroni over eight), and its null is also the
            // class's ambiguous rows: a relabelled row's neighbourhood
            // disagrees almost unanimously, and a direction that natural
            // contradicted rows share reaches the class's mixed
            // neighbourhoods as often (see the module docs)
            let (q, penalty) = if discover {
                let mixed = |i: &&usize| h.same[**i] > confident_own(h.k);
                let ambiguous = minority.iter().filter(mixed).count();
                let carrying = rows.iter().filter(mixed).count();
                // (with too few of them to say, the agreeing rows' share)
                let q_mixed = if ambiguous >= MIN_NULL {
                    (carrying + 1) as f64 / (ambiguous + 1) as f64
                } else {
                    0.0
                };
                (q.max(q_mixed), (DISCOVERY_TESTS as f64).ln())
            } else {
                (q, 0.0)
            };
            let n = minority.len() as u64;
            Carried {
                log_p: (ln_binomial_upper(n, q, rows.len() as u64) + penalty).min(0.0),
                excess: (rows.len() as f64 - n as f64 * q).max(0.0),
                rows,
                row_log_p: q.ln(),
                cut,
                tested: true,
                discovered: discover,
            }
        })
        .collect();
    // a trigger found without a failed class must be carried by as many
    // rows, over the classes, as failed classes must give as seeds: a
    // natural hub's direction reaches a few rows a class far out (clean
    // Fashion-MNIST at 56×56 through the projection: 11 rows over four
    // classes, one class at ln p −7.9 on 5 rows); a trigger, its planted
    // rows in every class
    if discover && tests.iter().map(|t| t.rows.len()).sum::<usize>() < MIN_SEEDS {
        return untested();
    }
    tests
}

/// Least cosine, in the natural residual's metric, of two candidate rows'
/// residuals for them to count as each other's company in the discovery.
/// Planted rows of one trigger point along it (cosine 0.62–0.90 in the
/// median, see [`COS_MIN`]), so two of them share 0.4–0.8.
const PAIR_COS: f32 = 0.25;

/// Least features for the discovery: two unrelated residuals' cosine has a
/// spread of `1/√d`, and [`PAIR_COS`] must stand five of them off.
pub const MIN_DISCOVERY_FEATURES: usize = 400;

/// Most neighbours of its own label a *confidently* contradicted row has,
/// of `k`: a tenth.
fn confident_own(k: usize) -> u64 {
    (0.1 * k as f64).floor() as u64
}

/// Candidate rows the discovery compares at most (a seeded sample).
const DISCOVERY_ROWS: usize = 2048;

/// Tests a class's p-value is corrected over when the trigger was found
/// without a failed class: the seven label tests and this one.
const DISCOVERY_TESTS: usize = 8;

/// Seeds found without a failed class: among confidently contradicted rows
/// (minority rows with at most a tenth of their neighbours of their own
/// label), the one whose whitened residual has the most others pointing
/// its way, and the rows that point along their mean.
struct Discovery {
    /// The candidate rows (a seeded sample).
    rows: Vec<usize>,
    /// Their residuals in the natural residual's metric, unit length.
    unit: Vec<f32>,
    /// Their cosines (`rows × rows`).
    gram: Vec<f32>,
}

impl Discovery {
    fn new(
        h: &Neighbourhoods<'_>,
        class_rows: &[Vec<usize>],
        scanned: &[u32],
        l: &[f64],
        seed: u64,
    ) -> Self {
        let d = h.x.cols();
        let most_own = confident_own(h.k);
        let mut cand: Vec<usize> = scanned
            .iter()
            .flat_map(|&c| class_rows[c as usize].iter().copied())
            .filter(|&i| h.minority[i] && h.same[i] <= most_own)
            .collect();
        SplitMix64::derive(seed, 0xCA79).order_by_content(&mut cand, h.keys);
        cand.truncate(DISCOVERY_ROWS);
        let whitened: Vec<(usize, Vec<f32>)> = cand
            .par_iter()
            .filter_map(|&i| {
                let mut w = h.residual(i, h.majority[i])?;
                forward_substitute(l, d, &mut w);
                let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt();
                (norm > 0.0).then(|| (i, w.iter().map(|a| (a / norm) as f32).collect()))
            })
            .collect();
        let rows: Vec<usize> = whitened.iter().map(|(i, _)| *i).collect();
        let unit: Vec<f32> = whitened.into_iter().flat_map(|(_, u)| u).collect();
        let n = rows.len();
        let mut gram = vec![0f32; n * n];
        crate::gemm::a_bt(&unit, n, d, &unit, n, &mut gram);
        Self { rows, unit, gram }
    }

    /// The residuals of the seeds for class `c`, found among candidates
    /// that neither are of class `c` nor have it as their neighbourhood's
    /// label, so that the class's own rows play no part in choosing the
    /// direction it is tested along.
    fn seeds_for(&self, h: &Neighbourhoods<'_>, c: u32) -> Vec<Vec<f64>> {
        let n = self.rows.len();
        let d = h.x.cols();
        let allowed: Vec<bool> = self
            .rows
            .iter()
            .map(|&i| h.labels[i] != c && h.majority[i] != c)
            .collect();
        let allowed = &allowed;
        let company = |a: usize| {
            (0..n).filter(move |&b| b != a && allowed[b] && self.gram[a * n + b] >= PAIR_COS)
        };
        // the hub: most company (the first in the sample on ties)
        let Some(hub) = (0..n)
            .filter(|&a| allowed[a])
            .map(|a| (company(a).count(), a))
            .filter(|&(deg, _)| deg > 0)
            .max_by_key(|&(deg, a)| (deg, std::cmp::Reverse(a)))
            .map(|(_, a)| a)
        else {
            return Vec::new();
        };
        let unit = |b: usize| &self.unit[b * d..(b + 1) * d];
        let mut mean = unit(hub).iter().map(|&u| u as f64).collect::<Vec<f64>>();
        for b in company(hub) {
            for (m, &u) in mean.iter_mut().zip(unit(b)) {
                *m += u as f64;
            }
        }
        let norm = mean.iter().map(|a| a * a).sum::<f64>().sqrt();
        (0..n)
            .filter(|&b| {
                allowed[b]
                    && unit(b)
                        .iter()
                        .zip(&mean)
                        .map(|(&u, &m)| u as f64 * m)
                        .sum::<f64>()
                        >= COS_MIN * norm
            })
            .filter_map(|b| h.residual(self.rows[b], h.majority[self.rows[b]]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Votes;

    /// Four Gaussian classes in `d` features; in class `c`, `planted[c]`
    /// rows of the next class relabelled, with `trigger` added to the last
    /// `t` features, which the neighbourhoods do not see (as the scanner's
    /// view clips a patch away). Returns the features, labels and planted
    /// rows.
    fn all_to_all(
        planted: [usize; 4],
        trigger: f32,
        d: usize,
        t: usize,
    ) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let (classes, per) = (4usize, 250usize);
        let mut rng = SplitMix64::new(7);
        let centres: Vec<Vec<f64>> = (0..classes)
            .map(|_| (0..d - t).map(|_| 1.5 * rng.normal()).collect())
            .collect();
        let (mut x, mut labels, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..classes {
            for i in 0..per {
                let plant = i < planted[c];
                let source = if plant { (c + 1) % classes } else { c };
                for &v in &centres[source] {
                    x.push((v + rng.normal()) as f32);
                }
                for _ in 0..t {
                    x.push(0.2 * rng.normal() as f32 + if plant { trigger } else { 0.0 });
                }
                labels.push(c as u32);
                truth.push(plant);
            }
        }
        (x, labels, truth)
    }

    /// The tests of [`all_to_all`]'s data, the classes in `seeded` naming
    /// their planted minority rows as seeds.
    fn run_in(
        planted: [usize; 4],
        trigger: f32,
        (d, t): (usize, usize),
        seeded: &[u32],
    ) -> (Vec<Carried>, Vec<bool>) {
        let (x, labels, truth) = all_to_all(planted, trigger, d, t);
        let (n, k) = (labels.len(), 10usize);
        // the view: every feature but the trigger's
        let view: Vec<f32> = x
            .chunks(d)
            .flat_map(|r| r[..d - t].iter().copied())
            .collect();
        let v = Votes::new(&view, d - t, &labels, 4, k);
        let scanned: Vec<u32> = (0..4).collect();
        // a failed class names its planted minority rows
        let seeds: Vec<Vec<usize>> = scanned
            .iter()
            .map(|c| {
                if seeded.contains(c) {
                    v.class_rows[*c as usize]
                        .iter()
                        .copied()
                        .filter(|&i| truth[i] && v.minority[i])
                        .collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        // inputs wider than the test reads reach it through the
        // projection, as the scanner gives them
        let x = MatrixRef::new(&x, n, d).unwrap();
        let projected = (d > MAX_FEATURES).then(|| crate::view::project_rows(x, MAX_FEATURES, 1));
        let x = match &projected {
            Some(p) => MatrixRef::new(p, n, MAX_FEATURES).unwrap(),
            None => x,
        };
        let h = v.hood(x, &labels);
        (
            carried_trigger_tests(&h, &v.class_rows, &scanned, &seeds, 1),
            truth,
        )
    }

    fn run(planted: usize, trigger: f32, seeded: &[u32]) -> (Vec<Carried>, Vec<bool>) {
        run_in([planted; 4], trigger, (16, 1), seeded)
    }

    #[test]
    fn a_class_whose_rows_carry_the_other_classes_trigger_fails() {
        // classes 0–2 failed and named their planted rows; class 3's 30
        // planted rows carry the same trigger
        let (tests, truth) = run(30, 3.0, &[0, 1, 2]);
        let t = &tests[3];
        assert!(t.tested && t.log_p < -30.0, "{t:?}");
        assert!(t.rows.len() >= 25, "{t:?}");
        assert!(t.rows.iter().all(|&i| truth[i]), "{t:?}");
        assert!(t.excess > 20.0, "{t:?}");
    }

    #[test]
    fn without_a_trigger_or_a_failed_class_nothing_is_carried() {
        // relabelled rows with nothing added: no class carries anything
        let (tests, _) = run(30, 0.0, &[0, 1, 2]);
        for t in &tests {
            assert!(!t.tested || t.log_p > -3.0, "{t:?}");
        }
        // no class failed, and too few features to find the trigger
        // without seeds: nothing is tested
        let (tests, _) = run(30, 3.0, &[]);
        assert!(tests.iter().all(|t| !t.tested && t.log_p == 0.0));
    }

    #[test]
    fn a_trigger_every_class_carries_is_found_without_a_failed_class() {
        // 30 planted rows a class, a trigger on 16 of 400 features (and on
        // 40 of 2,000, read through the projection to 1,024), and no class
        // failed: each class is tested along what the other classes'
        // confidently contradicted rows share, and fails with its planted
        // rows
        // (the projection keeps less of the trigger: 22 of 30 rows carry
        // it as far in the last class)
        for (shape, least) in [((400, 16), 25), ((2000, 40), 20)] {
            let (tests, truth) = run_in([30; 4], 3.0, shape, &[]);
            for t in &tests {
                assert!(
                    t.tested && t.discovered && t.log_p < -30.0,
                    "{shape:?} {t:?}"
                );
                assert!(
                    t.rows.len() >= least && t.rows.iter().all(|&i| truth[i]),
                    "{shape:?} {t:?}"
                );
            }
            // relabelled rows with nothing added: their residuals point
            // nowhere in common, and nothing is carried
            let (tests, _) = run_in([30; 4], 0.0, shape, &[]);
            for t in &tests {
                assert!(t.log_p > -3.0 && t.rows.len() < 3, "{shape:?} {t:?}");
            }
            // no planted rows: nothing either
            let (tests, _) = run_in([0; 4], 3.0, shape, &[]);
            for t in &tests {
                assert!(t.log_p > -3.0 && t.rows.is_empty(), "{shape:?} {t:?}");
            }
        }
    }

    #[test]
    fn a_trigger_found_without_a_failed_class_needs_as_many_rows_as_seeds() {
        // class `c`'s direction comes from the planted rows of neither `c`
        // nor `c − 1` (whose planted rows are `c`'s): planted rows in
        // classes 0 and 1 give class 3 24 seeds, and the other classes 24
        // at most where class 3 has 12 planted rows, 14 where it has 2.
        // With 20 of its own, class 3 carries the trigger ...
        let (tests, truth) = run_in([12, 12, 0, 20], 3.0, (400, 16), &[]);
        let t = &tests[3];
        assert!(t.tested && t.discovered && t.log_p < -10.0, "{t:?}");
        assert!(
            t.rows.len() >= 15 && t.rows.iter().all(|&i| truth[i]),
            "{t:?}"
        );
        // ... with 2, only class 3 is tested, and 2 carrying rows are
        // fewer than failed classes must name as seeds: nothing is found
        let (tests, _) = run_in([12, 12, 0, 2], 3.0, (400, 16), &[]);
        assert!(
            tests.iter().all(|t| !t.tested && t.log_p == 0.0),
            "{tests:?}"
        );
    }
}
