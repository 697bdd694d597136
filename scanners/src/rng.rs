//! A tiny seeded random number generator, so that every scanner is
//! reproducible without depending on a particular `rand` version.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// SplitMix64 (Steele, Lea & Flood 2014): fast, seedable, good enough for
/// random starting vectors and sampling; not for cryptography.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed; different seeds give independent streams.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for a sub-task (a class, a fold) of a seeded run.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut g = Self(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
        g.next_u64();
        g
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias worth noticing.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Puts `rows` (indices into `keys`) in a seeded order fixed by their
    /// content keys ([`content_keys`](crate::content_keys)) rather than by
    /// their positions: where a scanner draws a sample, the rows drawn are the
    /// same whatever order the data set's rows arrive in. Copies of one row
    /// (the same values and label: panel data repeats a person's row each
    /// year) each get a place of their own, the first copy in position order
    /// one place, the second another, so that copies are spread through the
    /// order as a shuffle spreads them, not drawn as a block: which copy is
    /// drawn follows the positions, but copies are interchangeable. One draw
    /// of the generator.
    pub fn order_by_content(&mut self, rows: &mut [usize], keys: &[u64]) {
        let salt = self.next_u64();
        order_by_content_with(salt, rows, keys);
    }

    /// The first `most` of `rows` in [`order_by_content`]'s order (the same
    /// draw of the generator), in position order: a seeded sample, as
    /// `order_by_content`, `truncate(most)` and `sort` give it, in linear
    /// time where the rows' keys are all different (the ordering is then a
    /// selection by place alone); with copies among them, by the full order.
    /// No more than `most` rows are returned as they are, without a draw.
    ///
    /// [`order_by_content`]: Self::order_by_content
    pub fn first_by_content(
        &mut self,
        mut rows: Vec<usize>,
        most: usize,
        keys: &[u64],
    ) -> Vec<usize> {
        if rows.len() <= most {
            return rows;
        }
        let salt = self.next_u64();
        // a copy's first place is its original's (the mix is a bijection)
        let mut places: Vec<(u64, usize)> = rows
            .iter()
            .map(|&r| (first_place(keys[r], salt), r))
            .collect();
        let mut seen: HashSet<u64, BuildHasherDefault<Placed>> =
            HashSet::with_capacity_and_hasher(places.len(), BuildHasherDefault::default());
        if places.iter().all(|&(p, _)| seen.insert(p)) {
            if most > 0 {
                places.select_nth_unstable(most - 1);
            }
            rows = places[..most].iter().map(|&(_, r)| r).collect();
        } else {
            order_by_content_with(salt, &mut rows, keys);
            rows.truncate(most);
        }
        rows.sort_unstable();
        rows
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A row's place in the seeded content order before copies are spread
/// (see [`SplitMix64::order_by_content`]).
fn first_place(key: u64, salt: u64) -> u64 {
    SplitMix64::new(key ^ salt).next_u64()
}

/// [`SplitMix64::order_by_content`] with its draw `salt`.
fn order_by_content_with(salt: u64, rows: &mut [usize], keys: &[u64]) {
    rows.sort_unstable_by_key(|&r| (keys[r], r));
    let mut ranked: Vec<(u64, usize)> = Vec::with_capacity(rows.len());
    let mut copy = 0u64;
    for (j, &r) in rows.iter().enumerate() {
        copy = if j > 0 && keys[rows[j - 1]] == keys[r] {
            copy + 1
        } else {
            0
        };
        let place = first_place(keys[r], salt);
        let place = if copy == 0 {
            place
        } else {
            SplitMix64::new(place.wrapping_add(copy.wrapping_mul(0x9E37_79B9_7F4A_7C15))).next_u64()
        };
        ranked.push((place, r));
    }
    ranked.sort_unstable_by_key(|&(place, r)| (place, keys[r], r));
    for (slot, (_, r)) in rows.iter_mut().zip(ranked) {
        *slot = r;
    }
}

/// Hashes places, which are random already, as themselves.
#[derive(Default)]
struct Placed(u64);

impl Hasher for Placed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |g, _| Some(g.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |g, _| Some(g.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(
            SplitMix64::derive(7, 1).next_u64(),
            SplitMix64::derive(7, 2).next_u64()
        );
    }

    #[test]
    fn an_order_by_content_follows_the_rows_not_their_positions() {
        // 1,000 rows' keys, and the same rows in reverse order: the first
        // 100 drawn are the same rows either way, for each seed; another
        // seed draws others
        let keys: Vec<u64> = (0..1000).map(|i| SplitMix64::new(i).next_u64()).collect();
        let reversed: Vec<u64> = keys.iter().rev().copied().collect();
        let draw = |keys: &[u64], seed: u64| {
            let mut rows: Vec<usize> = (0..keys.len()).collect();
            SplitMix64::new(seed).order_by_content(&mut rows, keys);
            let mut first: Vec<u64> = rows[..100].iter().map(|&r| keys[r]).collect();
            first.sort_unstable();
            first
        };
        assert_eq!(draw(&keys, 3), draw(&reversed, 3));
        // copies of a row are spread, not drawn together: 100 rows five
        // times over, a sample of 100 holds about 100 (1 − (4/5)^5) = 67
        // distinct rows, not 20 blocks of five
        let copies: Vec<u64> = (0..500).map(|i| keys[i % 100]).collect();
        let mut rows: Vec<usize> = (0..500).collect();
        SplitMix64::new(3).order_by_content(&mut rows, &copies);
        let mut distinct: Vec<u64> = rows[..100].iter().map(|&r| copies[r]).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert!((55..=80).contains(&distinct.len()), "{}", distinct.len());
        assert_ne!(draw(&keys, 3), draw(&keys, 4));
        // a sample, not a slice of the key order
        let mut lowest = keys.clone();
        lowest.sort_unstable();
        assert_ne!(draw(&keys, 3), lowest[..100].to_vec());
    }

    #[test]
    fn the_first_by_content_are_the_order_by_content_truncated() {
        let keys: Vec<u64> = (0..3000).map(|i| SplitMix64::new(i).next_u64()).collect();
        // with copies: 300 rows ten times over
        let copies: Vec<u64> = (0..3000).map(|i| keys[i % 300]).collect();
        for keys in [&keys, &copies] {
            for (seed, most) in [(1, 100), (2, 1), (3, 1499), (4, 0), (5, 1024), (6, 2000)] {
                // every other row, in position order, and shuffled
                let mut rows: Vec<usize> = (0..3000).step_by(2).collect();
                for shuffled in [false, true] {
                    if shuffled {
                        SplitMix64::new(seed + 10).shuffle(&mut rows);
                    }
                    let mut full = rows.clone();
                    let mut a = SplitMix64::new(seed);
                    if rows.len() > most {
                        a.order_by_content(&mut full, keys);
                        full.truncate(most);
                        full.sort_unstable();
                    }
                    let mut b = SplitMix64::new(seed);
                    let first = b.first_by_content(rows.clone(), most, keys);
                    assert_eq!(first, full, "seed {seed}, {most} rows");
                    assert_eq!(a.next_u64(), b.next_u64());
                }
            }
        }
        // no more rows than asked for: as they are, no draw
        let mut g = SplitMix64::new(1);
        assert_eq!(g.first_by_content(vec![5, 3, 9], 3, &keys), vec![5, 3, 9]);
        assert_eq!(g.next_u64(), SplitMix64::new(1).next_u64());
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut g = SplitMix64::new(1);
        let xs: Vec<f64> = (0..20000).map(|_| g.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
