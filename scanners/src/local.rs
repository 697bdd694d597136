//! The *contradicted pattern* and the *shared local pattern* of
//! `knn-label-disagreement`: with images, the rows of a class that carry
//! one small block of exact pixel values — wherever in the picture it sits.
//! The first is a class test on every class's contradicted rows; the second
//! refines a class the label tests failed, on the rows they named.
//!
//! A patch trigger need not sit in one place: an attacker can stamp it
//! anywhere, and a training pipeline's random crops and shifts move a fixed
//! one. Moved, it is no longer a shift the planted rows share (what
//! `shared-pattern` and the carried trigger look for), and the label tests
//! find the planted rows only as far as their pictures look like their
//! source classes: on Fashion-MNIST, where shirts border T-shirts, a solid
//! 3×3 patch at a place of its own in each of 1 % of the pictures,
//! relabelled T-shirt, fails the class but the flagged rows were 88 %
//! planted and held 76 % of them. What the planted rows still share is the
//! patch's values, exactly, in some 3×3 block: a block that natural
//! pictures of other classes do not hold (no clean Fashion-MNIST picture of
//! the 70,000 holds a saturated 3×3 block; 2–3.5 % of each MNIST digit
//! class do, thick strokes).
//!
//! Method, for a class the label tests failed (a refinement of *which*
//! rows: it never fails a class):
//! 1. Keys: every `3 × 3` block of a picture (every channel, stride 1),
//!    its exact values hashed; a row's keys are the set of its blocks.
//! 2. The rows the failing test named (a seeded sample of at most
//!    [`SEEDS`]): the keys at least [`MIN_ROWS`] and a tenth of them hold
//!    are candidates, the [`CANDIDATES`] most held.
//! 3. The null: a seeded sample of at most [`OTHERS`] rows of the other
//!    classes, and how many hold each candidate (a block of background
//!    every picture holds is held by them all). A candidate's `ln` p-value
//!    is `ln P(B ≥ s)`, `B ~ Binomial(named rows, min(1, LIFT · r))`, `s`
//!    the named rows holding it and `r` the other classes' share (half a
//!    row added), plus `ln` of the number of candidates.
//! 4. Where the best candidate is significant at the failing level and
//!    held by at least a tenth of the named rows, every row of the class
//!    that holds it — or holds a block that nine in ten of its holders hold
//!    and the other classes hold no more than twice as often (another part
//!    of the same trigger: `trigger_holders`) — is behind the failure: the
//!    label scanner takes them as the class's planted rows (its estimate is
//!    at least their number less the other classes' share of the class).
//!
//! The contradicted-pattern test (a class test) runs the same steps on
//! each class's contradicted rows (their label in the minority among their
//! neighbours) instead of named ones, with every block at least
//! [`MIN_ROWS`] of them hold as a candidate — in a class under 400 rows, a
//! twentieth of the class and at least [`SMALL_CLASS_MIN_ROWS`] — (not the
//! eight most held by a
//! tenth: a class's boundary rows share many background blocks, a patch on
//! 1 % of Fashion-MNIST's four tops is held by a quarter of the T-shirts'
//! contradicted rows, below the eighth background block, and a 4×4
//! checkerboard on 0.3 % by 5.5 % of the pullovers'). Its
//! null is the larger of two shares, each from a seeded sample of at most
//! [`PER_CLASS`] rows of every class: the other classes' rows, and the
//! class's own agreeing rows — a block natural to the class (a flat colour
//! of one kind of emoji) is held by its agreeing rows as much as by its
//! boundary rows, where planted rows are mostly contradicted.
//!
//! Known limits: exact values — a picture saved as JPEG after the patch was
//! stamped no longer holds them (the label tests still judge its rows); a
//! patch smaller than the block, or one blended into the picture, holds no
//! block of its own; on flat drawings whose colours repeat in one class
//! (emoji), natural blocks held by a class's contradicted rows are
//! candidates too, which the null must outweigh.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::rng::SplitMix64;
use crate::stats::ln_binomial_upper;
use crate::warp::ImageShape;
use crate::MatrixRef;

/// Side of a block.
pub const BLOCK: usize = 3;

/// Named rows whose blocks are counted at most.
const SEEDS: usize = 4096;

/// Other classes' rows the null is counted on at most.
const OTHERS: usize = 8192;

/// Least named rows holding a candidate.
const MIN_ROWS: usize = 20;

/// Least contradicted rows holding a candidate in a small class (under
/// [`MIN_ROWS`] × [`SMALL_CLASS_SHARE`]⁻¹ rows): a tenth of scikit-learn's
/// 178 zeros relabelled with a patch leaves 17 contradicted rows, under
/// [`MIN_ROWS`], whose shared block was never a candidate.
const SMALL_CLASS_MIN_ROWS: usize = 10;

/// Share of a small class its contradicted rows holding a candidate must
/// reach at least (with [`SMALL_CLASS_MIN_ROWS`] the floor and [`MIN_ROWS`]
/// the ceiling): a class of 400 rows or more asks for [`MIN_ROWS`] as before.
const SMALL_CLASS_SHARE: f64 = 0.05;

/// Least contradicted rows of a class of `size` rows holding a candidate of
/// the contradicted-pattern test.
fn least_holders(size: usize) -> usize {
    ((SMALL_CLASS_SHARE * size as f64).ceil() as usize).clamp(SMALL_CLASS_MIN_ROWS, MIN_ROWS)
}

/// Least share of the named rows holding the pattern.
const MIN_SHARE: f64 = 0.1;

/// Rows of each class sampled for the contradicted-pattern test's null.
const PER_CLASS: usize = 2048;

/// Candidates tested per class at most.
const CANDIDATES: usize = 8;

/// How many times the other classes' share the named rows' share must
/// exceed: contradicted rows look like other classes, and may hold their
/// natural blocks somewhat more often than those classes' rows at large.
const LIFT: f64 = 4.0;

/// The pictures the tests read: their pixels (`x`, one picture a row), their
/// shape, and the rows' content keys (samples are drawn in their order).
#[derive(Debug, Clone, Copy)]
pub struct Pictures<'a> {
    pub x: MatrixRef<'a>,
    pub shape: ImageShape,
    pub keys: &'a [u64],
}

/// The shared-local-pattern test of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalPattern {
    /// `ln` p-value of the best candidate (0 when untested).
    pub log_p: f64,
    /// The named rows, and how many of them hold the best candidate.
    pub named: usize,
    pub holding: usize,
    /// The share of natural rows holding it: the other classes' (for the
    /// contradicted pattern, the smaller of theirs and the class's agreeing
    /// rows' — planted rows of other classes, in an all-to-all attack,
    /// raise the first; planted rows that agree with their class, the
    /// second).
    pub natural_share: f64,
    /// Every row of the class holding it.
    pub rows: Vec<usize>,
}

impl LocalPattern {
    pub fn untested() -> Self {
        Self {
            log_p: 0.0,
            named: 0,
            holding: 0,
            natural_share: f64::NAN,
            rows: Vec::new(),
        }
    }

    /// Whether the rows holding the pattern are behind the failure of a
    /// class failed at `failed_level` (see the module docs).
    pub fn behind_failure(&self, failed_level: f64) -> bool {
        self.log_p <= failed_level && self.holding as f64 >= MIN_SHARE * self.named as f64
    }

    /// The rows holding the pattern beyond the natural share of a class of
    /// `size` rows.
    pub fn excess(&self, size: usize) -> f64 {
        (self.rows.len() as f64 - self.natural_share * size as f64).max(0.0)
    }
}

/// The keys of one picture's blocks, sorted and distinct.
fn keys(row: &[f32], shape: ImageShape) -> Vec<u64> {
    let (h, w, ch) = (shape.height, shape.width, shape.channels);
    let mut out = Vec::with_capacity((h + 1 - BLOCK) * (w + 1 - BLOCK));
    for y in 0..=h - BLOCK {
        for x in 0..=w - BLOCK {
            let mut key = 0xCBF2_9CE4_8422_2325u64;
            for dy in 0..BLOCK {
                let at = ((y + dy) * w + x) * ch;
                for v in &row[at..at + BLOCK * ch] {
                    key = (key ^ v.to_bits() as u64).wrapping_mul(0x0000_0100_0000_01B3);
                }
            }
            out.push(SplitMix64::new(key).next_u64());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The blocks at least `least` rows of `sample` hold, the `most` most
/// held, with how many hold each.
fn candidates(
    x: MatrixRef<'_>,
    shape: ImageShape,
    sample: &[usize],
    least: usize,
    most: usize,
) -> Vec<(usize, u64)> {
    let mut held: HashMap<u64, usize> = HashMap::new();
    for &i in sample {
        for k in keys(x.row(i), shape) {
            *held.entry(k).or_insert(0) += 1;
        }
    }
    let mut candidates: Vec<(usize, u64)> = held
        .into_iter()
        .filter(|&(_, n)| n >= least)
        .map(|(k, n)| (n, k))
        .collect();
    // most held first; ties by key, so that the order is the same every run
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    candidates.truncate(most);
    candidates
}

/// `ln` p-value of `holding` of `named` rows holding a block that a share
/// `null` of the rows it is compared with hold (see the module docs), with
/// `tested` candidates; a block held about as often there is no evidence.
fn block_log_p(named: usize, holding: usize, null: f64, tested: usize) -> f64 {
    let p = LIFT * null;
    if p < 1.0 {
        (ln_binomial_upper(named as u64, p, holding as u64) + (tested as f64).ln()).min(0.0)
    } else {
        0.0
    }
}

/// Share of the best block's holders that must hold a block for it to be
/// taken as another part of the same trigger.
const CO_HELD: f64 = 0.9;

/// The rows of `class` holding the trigger that block `best` is part of:
/// `best`'s holders, and the rows holding any block that nearly all of them
/// hold ([`CO_HELD`]) and that the rows of `others` hold no more than twice
/// as often as `best` (`share`: its share there). A trigger is larger than
/// one block, and the block its test picked need not be the one every
/// planted row holds: on emoji, a 3×3 checkerboard in a corner of 5 % of the
/// pictures, relabelled, was found through a block of its edge and the
/// dark pixels beside it, which 121 of the 379 planted pictures hold; the
/// checkerboard's own block, which all of them hold, is held by the class's
/// agreeing rows too (the planted pictures their neighbours do not
/// contradict: emoji classes are themes, not looks), whose null outweighed
/// it. 121 rows were flagged; with the blocks the 121 share, 379 of 379.
/// Blocks of background every class holds stay out.
fn trigger_holders(
    x: MatrixRef<'_>,
    shape: ImageShape,
    class: &[usize],
    best: u64,
    others: &[usize],
    share: f64,
) -> Vec<usize> {
    let class_keys: Vec<Vec<u64>> = class.par_iter().map(|&i| keys(x.row(i), shape)).collect();
    let holding: Vec<usize> = (0..class.len())
        .filter(|&j| class_keys[j].binary_search(&best).is_ok())
        .collect();
    let mut held: HashMap<u64, usize> = HashMap::new();
    for &j in &holding {
        for &k in &class_keys[j] {
            *held.entry(k).or_insert(0) += 1;
        }
    }
    let least = (CO_HELD * holding.len() as f64).ceil() as usize;
    let mut co: Vec<u64> = held
        .into_iter()
        .filter(|&(k, n)| n >= least && k != best)
        .map(|(k, _)| k)
        .collect();
    co.sort_unstable();
    if !co.is_empty() && !others.is_empty() {
        let counts = others
            .par_iter()
            .map(|&i| {
                let k = keys(x.row(i), shape);
                co.iter()
                    .map(|c| k.binary_search(c).is_ok() as usize)
                    .collect::<Vec<_>>()
            })
            .reduce(
                || vec![0; co.len()],
                |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
            );
        let limit = 2.0 * share * (others.len() as f64 + 1.0);
        co = co
            .into_iter()
            .zip(counts)
            .filter(|&(_, n)| n as f64 + 0.5 <= limit)
            .map(|(k, _)| k)
            .collect();
    } else {
        co.clear();
    }
    (0..class.len())
        .filter(|&j| {
            class_keys[j].binary_search(&best).is_ok()
                || co.iter().any(|c| class_keys[j].binary_search(c).is_ok())
        })
        .map(|j| class[j])
        .collect()
}

/// The contradicted-pattern test of every class of `scanned` (see the
/// module docs): a block its contradicted rows (`contradicted`) share, against
/// how often the other classes' rows and its own agreeing rows hold it. The
/// rows holding the best block are collected where its `ln` p-value is at
/// most `level`.
pub fn contradicted_pattern_tests(
    pictures: Pictures<'_>,
    class_rows: &[Vec<usize>],
    scanned: &[u32],
    contradicted: &[bool],
    level: f64,
    seed: u64,
) -> Vec<LocalPattern> {
    let untested = || vec![LocalPattern::untested(); scanned.len()];
    let Pictures {
        x,
        shape,
        keys: row_keys,
    } = pictures;
    if shape.len() != x.cols() || shape.height < BLOCK || shape.width < BLOCK {
        return untested();
    }
    // each class's contradicted rows and a sample of all its rows
    let mut named = Vec::with_capacity(scanned.len());
    let mut samples = Vec::with_capacity(scanned.len());
    for &c in scanned {
        let mut rng = SplitMix64::derive(seed, 0xC0_10CA ^ ((c as u64) << 20));
        let rows = &class_rows[c as usize];
        let mut m: Vec<usize> = rows.iter().copied().filter(|&i| contradicted[i]).collect();
        if m.len() > SEEDS {
            rng.order_by_content(&mut m, row_keys);
            m.truncate(SEEDS);
        }
        let mut s = rows.clone();
        if s.len() > PER_CLASS {
            rng.order_by_content(&mut s, row_keys);
            s.truncate(PER_CLASS);
        }
        named.push(m);
        samples.push(s);
    }
    let candidates: Vec<Vec<(usize, u64)>> = named
        .par_iter()
        .zip(scanned)
        .map(|(m, &c)| {
            let least = least_holders(class_rows[c as usize].len());
            candidates(x, shape, m, least, usize::MAX)
        })
        .collect();
    if candidates.iter().all(Vec::is_empty) {
        return untested();
    }
    // every candidate block, numbered
    let mut ids: HashMap<u64, usize> = HashMap::new();
    for &(_, key) in candidates.iter().flatten() {
        let next = ids.len();
        ids.entry(key).or_insert(next);
    }
    // how many of each class's sampled rows hold each candidate, and how
    // many of those agree with their class; how many sampled rows agree
    let counted: Vec<(Vec<u32>, Vec<u32>, usize)> = samples
        .par_iter()
        .map(|s| {
            let (mut held, mut agree) = (vec![0u32; ids.len()], vec![0u32; ids.len()]);
            for &i in s {
                for k in keys(x.row(i), shape) {
                    if let Some(&id) = ids.get(&k) {
                        held[id] += 1;
                        agree[id] += !contradicted[i] as u32;
                    }
                }
            }
            let agreeing = s.iter().filter(|&&i| !contradicted[i]).count();
            (held, agree, agreeing)
        })
        .collect();
    let total: usize = samples.iter().map(Vec::len).sum();
    (0..scanned.len())
        .map(|t| {
            let cs = &candidates[t];
            if cs.is_empty() {
                return LocalPattern {
                    named: named[t].len(),
                    ..LocalPattern::untested()
                };
            }
            let (others, agreeing) = (total - samples[t].len(), counted[t].2);
            let (best, log_p, natural_share, other_share) = cs
                .iter()
                .map(|&(s, key)| {
                    let id = ids[&key];
                    let other: u32 =
                        counted.iter().map(|c| c.0[id]).sum::<u32>() - counted[t].0[id];
                    let o = (other as f64 + 0.5) / (others as f64 + 1.0);
                    let a = (counted[t].1[id] as f64 + 0.5) / (agreeing as f64 + 1.0);
                    (
                        (s, key),
                        block_log_p(named[t].len(), s, o.max(a), cs.len()),
                        o.min(a),
                        o,
                    )
                })
                .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .expect("a candidate");
            let rows = if log_p <= level && log_p < 0.0 {
                let others: Vec<usize> = samples
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != t)
                    .flat_map(|(_, s)| s.iter().copied())
                    .collect();
                let class = &class_rows[scanned[t] as usize];
                trigger_holders(x, shape, class, best.1, &others, other_share)
            } else {
                Vec::new()
            };
            LocalPattern {
                log_p,
                named: named[t].len(),
                holding: best.0,
                natural_share,
                rows,
            }
        })
        .collect()
}

/// The shared-local-pattern test of class `c`, whose failing test named
/// `named` (see the module docs); `x` holds the pictures' pixels.
pub fn local_pattern_test(
    pictures: Pictures<'_>,
    class_rows: &[Vec<usize>],
    scanned: &[u32],
    c: u32,
    named: &[usize],
    seed: u64,
) -> LocalPattern {
    let Pictures {
        x,
        shape,
        keys: row_keys,
    } = pictures;
    if shape.len() != x.cols() || shape.height < BLOCK || shape.width < BLOCK {
        return LocalPattern::untested();
    }
    let mut rng = SplitMix64::derive(seed, 0x10CA1 ^ ((c as u64) << 20));
    let mut sample = named.to_vec();
    sample.sort_unstable();
    if sample.len() > SEEDS {
        rng.order_by_content(&mut sample, row_keys);
        sample.truncate(SEEDS);
    }
    let least = MIN_ROWS.max((MIN_SHARE * sample.len() as f64).ceil() as usize);
    let candidates = candidates(x, shape, &sample, least, CANDIDATES);
    if candidates.is_empty() {
        return LocalPattern {
            named: sample.len(),
            ..LocalPattern::untested()
        };
    }
    let mut others: Vec<usize> = scanned
        .iter()
        .filter(|&&o| o != c)
        .flat_map(|&o| class_rows[o as usize].iter().copied())
        .collect();
    if others.len() > OTHERS {
        rng.order_by_content(&mut others, row_keys);
        others.truncate(OTHERS);
    }
    let mut other_counts = vec![0usize; candidates.len()];
    for &i in &others {
        let k = keys(x.row(i), shape);
        for (j, (_, key)) in candidates.iter().enumerate() {
            other_counts[j] += k.binary_search(key).is_ok() as usize;
        }
    }
    let (best, log_p, share) = candidates
        .iter()
        .zip(&other_counts)
        .map(|(&(s, key), &o)| {
            let share = (o as f64 + 0.5) / (others.len() as f64 + 1.0);
            // a block the other classes hold as often (background) is no
            // evidence
            let lp = block_log_p(sample.len(), s, share, candidates.len());
            ((s, key), lp, share)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .expect("a candidate");
    // a block that is no evidence names no rows (the class's background)
    let rows: Vec<usize> = if log_p < 0.0 {
        trigger_holders(x, shape, &class_rows[c as usize], best.1, &others, share)
    } else {
        Vec::new()
    };
    LocalPattern {
        log_p,
        named: sample.len(),
        holding: best.0,
        natural_share: share,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pictures of `m`, keyed by content (the keys leak: tests only).
    fn pictures(m: MatrixRef<'_>, shape: ImageShape) -> Pictures<'_> {
        let keys = crate::content_keys(m, &[]);
        Pictures {
            x: m,
            shape,
            keys: Box::leak(keys.into_boxed_slice()),
        }
    }

    /// Pictures of two textures by class, with a 3×3 block of ones stamped
    /// at a place of its own in `planted` rows of class 1 taken from class 0.
    fn world(n: usize, planted: usize) -> (Vec<f32>, Vec<u32>, Vec<bool>, ImageShape) {
        let shape = ImageShape {
            height: 10,
            width: 10,
            channels: 1,
        };
        let mut rng = SplitMix64::new(3);
        let (mut x, mut labels, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let class = (i % 2) as u32;
            let mut img: Vec<f32> = (0..100)
                .map(|_| (rng.below(200) as f32 + 40.0 * class as f32) / 255.0)
                .collect();
            let plant = class == 0 && i / 2 < planted;
            if plant {
                let (top, left) = (rng.below(8), rng.below(8));
                for y in top..top + 3 {
                    for x in left..left + 3 {
                        img[y * 10 + x] = 1.0;
                    }
                }
            }
            x.extend(img);
            labels.push(if plant { 1 } else { class });
            truth.push(plant);
        }
        (x, labels, truth, shape)
    }

    #[test]
    fn the_rows_holding_any_part_of_the_trigger_are_its_holders() {
        // 10×10 noise pictures, 300 of class 0 and 300 of class 1, each with
        // a blank bottom-right corner (a block every picture holds); 40 of
        // class 1 carry a 3×3 block of ones at the top left, and 15 of those
        // also a blank column beside it: the block of the ones' edge and
        // that column, which only the 15 hold, is the one a test picked
        let shape = ImageShape {
            height: 10,
            width: 10,
            channels: 1,
        };
        let mut rng = SplitMix64::new(3);
        let mut x = Vec::new();
        for i in 0..600 {
            let mut img: Vec<f32> = (0..100).map(|_| rng.next_f64() as f32).collect();
            for y in 7..10 {
                for c in 7..10 {
                    img[y * 10 + c] = 0.0;
                }
            }
            let planted = (300..340).contains(&i);
            if planted {
                for y in 0..3 {
                    for c in 0..3 {
                        img[y * 10 + c] = 1.0;
                    }
                }
                if i < 315 {
                    for y in 0..3 {
                        img[y * 10 + 3] = 0.0;
                    }
                }
            }
            x.extend(img);
        }
        let m = MatrixRef::new(&x, 600, 100).unwrap();
        let edge = {
            let mut k = 0xCBF2_9CE4_8422_2325u64;
            for y in 0..3 {
                for v in &x[300 * 100 + y * 10 + 1..300 * 100 + y * 10 + 4] {
                    k = (k ^ v.to_bits() as u64).wrapping_mul(0x0000_0100_0000_01B3);
                }
            }
            SplitMix64::new(k).next_u64()
        };
        assert!(keys(m.row(300), shape).binary_search(&edge).is_ok());
        let class: Vec<usize> = (300..600).collect();
        let others: Vec<usize> = (0..300).collect();
        let rows = trigger_holders(m, shape, &class, edge, &others, 0.5 / 301.0);
        assert_eq!(rows, (300..340).collect::<Vec<_>>());
    }

    #[test]
    fn a_block_stamped_anywhere_is_found_and_its_rows_named() {
        let (x, labels, truth, shape) = world(2000, 60);
        let m = MatrixRef::new(&x, labels.len(), 100).unwrap();
        let rows = class_rows(&labels);
        // the failing test named 40 planted rows and 40 natural ones
        let planted: Vec<usize> = (0..labels.len()).filter(|&i| truth[i]).collect();
        let mut named: Vec<usize> = planted[..40].to_vec();
        named.extend(rows[1].iter().copied().filter(|&i| !truth[i]).take(40));
        let p = local_pattern_test(pictures(m, shape), &rows, &[0, 1], 1, &named, 5);
        assert!(p.behind_failure(-10.0), "{p:?}");
        assert_eq!(p.rows, planted);
        assert_eq!(p.holding, 40);
        assert!((p.excess(rows[1].len()) - 60.0).abs() < 1.0);
        // Nothing stamped: the named rows share no block.
        let (x, labels, _, _) = world(2000, 0);
        let m = MatrixRef::new(&x, labels.len(), 100).unwrap();
        let rows = class_rows(&labels);
        let named: Vec<usize> = rows[1][..80].to_vec();
        let p = local_pattern_test(pictures(m, shape), &rows, &[0, 1], 1, &named, 5);
        assert!(!p.behind_failure(-10.0), "{p:?}");
        assert!(p.rows.is_empty() || p.log_p > -10.0, "{p:?}");
    }

    /// Each class's rows.
    fn class_rows(labels: &[u32]) -> Vec<Vec<usize>> {
        (0..2)
            .map(|c| (0..labels.len()).filter(|&i| labels[i] == c).collect())
            .collect()
    }

    /// The planted rows contradicted, with the first `ones` natural rows of
    /// class 1 and the first `zeros` of class 0.
    fn contradicting(truth: &[bool], rows: &[Vec<usize>], ones: usize, zeros: usize) -> Vec<bool> {
        let mut contradicted = truth.to_vec();
        let natural = rows[1].iter().filter(|&&i| !truth[i]).take(ones);
        for &i in natural.chain(rows[0].iter().take(zeros)) {
            contradicted[i] = true;
        }
        contradicted
    }

    #[test]
    fn a_small_class_is_searched_for_a_smaller_group() {
        assert_eq!(
            [100, 180, 250, 399, 400, 60_000].map(least_holders),
            [10, 10, 13, 20, 20, 20]
        );
        // 180 rows a class, 15 of class 0 stamped and relabelled 1: fewer
        // than the 20 a large class's contradicted rows must share
        let (x, labels, truth, shape) = world(360, 15);
        let m = MatrixRef::new(&x, labels.len(), 100).unwrap();
        let rows = class_rows(&labels);
        let contradicted = contradicting(&truth, &rows, 20, 20);
        let tests =
            contradicted_pattern_tests(pictures(m, shape), &rows, &[0, 1], &contradicted, -10.0, 5);
        assert!(tests[1].log_p < -10.0, "{:?}", tests[1]);
        let planted: Vec<usize> = (0..labels.len()).filter(|&i| truth[i]).collect();
        assert_eq!(tests[1].rows, planted);
        assert_eq!(tests[0].log_p, 0.0, "{:?}", tests[0]);
        // under the small class's floor: no candidate
        let (x, labels, truth, shape) = world(360, 8);
        let m = MatrixRef::new(&x, labels.len(), 100).unwrap();
        let rows = class_rows(&labels);
        let tests =
            contradicted_pattern_tests(pictures(m, shape), &rows, &[0, 1], &truth, -10.0, 5);
        assert_eq!(tests[1].log_p, 0.0, "{:?}", tests[1]);
    }

    #[test]
    fn a_block_the_contradicted_rows_share_fails_the_class_and_a_natural_one_does_not() {
        // 60 planted rows among 700 contradicted ones of class 1 (fewer
        // than a tenth)
        let (x, labels, truth, shape) = world(4000, 60);
        let m = MatrixRef::new(&x, labels.len(), 100).unwrap();
        let rows = class_rows(&labels);
        let contradicted = contradicting(&truth, &rows, 640, 300);
        let tests =
            contradicted_pattern_tests(pictures(m, shape), &rows, &[0, 1], &contradicted, -10.0, 5);
        assert!(tests[1].log_p < -30.0, "{:?}", tests[1]);
        let planted: Vec<usize> = (0..labels.len()).filter(|&i| truth[i]).collect();
        assert_eq!(tests[1].rows, planted);
        assert!((tests[1].excess(rows[1].len()) - 60.0).abs() < 2.0);
        assert_eq!(tests[0].log_p, 0.0, "{:?}", tests[0]);
        // The block on a fifth of class 1, agreeing rows and contradicted
        // alike: natural to the class, no evidence.
        let (mut x, labels, _, shape) = world(4000, 0);
        let rows = class_rows(&labels);
        let mut rng = SplitMix64::new(9);
        for &i in rows[1].iter().filter(|&&i| i % 5 == 1) {
            let (top, left) = (rng.below(8), rng.below(8));
            for y in top..top + 3 {
                for c in left..left + 3 {
                    x[i * 100 + y * 10 + c] = 1.0;
                }
            }
        }
        let m = MatrixRef::new(&x, labels.len(), 100).unwrap();
        let mut contradicted = vec![false; labels.len()];
        for &i in rows[1].iter().take(300).chain(rows[0].iter().take(300)) {
            contradicted[i] = true;
        }
        let tests =
            contradicted_pattern_tests(pictures(m, shape), &rows, &[0, 1], &contradicted, -10.0, 5);
        assert!(
            tests.iter().all(|t| t.log_p > -10.0 && t.rows.is_empty()),
            "{tests:?}"
        );
    }
}
