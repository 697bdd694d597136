//! The *shared warp* of `knn-label-disagreement`: in a class the label tests
//! failed, the contradicted rows that are one smooth displacement of their
//! neighbours.
//!
//! A warping trigger (WaNet, Nguyen & Tran 2021) resamples each poisoned
//! image along one smooth displacement field `F` — invisible, and not
//! additive: what it adds to an image depends on the image. To first order,
//! a warped row is `x(p + F(p)) ≈ x(p) + F(p) · ∇x(p)`: its residual against
//! the mean `m` of its neighbours of the neighbourhood's label (natural rows
//! of its source class, in the label-agnostic view) is `F · ∇m` plus the
//! natural spread, with the *same* `F` for every planted row, whatever its
//! source. A natural row on a class boundary differs from its neighbours in
//! ways no one field explains across rows. The label tests find the planted
//! rows from classes the target does not border (alone among trousers);
//! the ones from classes it borders (shirts relabelled T-shirt) look like
//! the class's natural boundary rows — this test separates them.
//!
//! Method, for a class the label tests failed (a refinement of *which*
//! rows: it never fails a class):
//! 1. The class's minority rows (their neighbourhood's majority label is
//!    another), split in two seeded halves. The field is smooth: a cosine
//!    basis of [`FREQS`] × [`FREQS`] functions per axis (`2 · FREQS²`
//!    coefficients), fitted by least squares to the residuals `x − m` of
//!    one half against `∇m` (central differences, every channel sharing the
//!    field), reweighted [`ROUNDS`] times by the share of each row's
//!    residual it explains (planted rows then carry the fit, natural ones
//!    fall away).
//! 2. Each row of the other half gets its *explained share*, `1 − |r −
//!    F · ∇m|² / |r|²` under the field its half did not see
//!    (cross-fitting: no row judges the field it shaped).
//! 3. The null: the minority rows of the other classes (a seeded sample of
//!    [`NULL_ROWS`]), under both halves' fields. A row is explained when its
//!    share exceeds the null's upper [`NULL_SHARE`]; its own p-value is the
//!    null's share at or above it.
//! 4. The count of explained rows against Binomial(minority rows,
//!    [`NULL_SHARE`]). The label scanner takes the explained rows as behind
//!    the class's failure where the count is significant at the failing
//!    level, at least [`MIN_EXPLAINED_SHARE`] of the minority rows, and
//!    among the rows its failing test named at least half as often as
//!    chance.
//!
//! Known false positives: a class whose natural boundary rows differ from
//! their neighbours by one shift or stretch (sandals among sneakers are
//! narrower); measured on clean Fashion-MNIST, every class's own field
//! explains 1.6–6 % of its minority rows beyond the other classes' 1 %
//! (footwear 24–36 %), so the count is never a class test — only, in a
//! class another test failed, which rows are behind it. In the most
//! confusable class (shirts, beside T-shirts, pullovers and coats) the fit
//! follows the natural field even under a warp: 9.5 % explained, half of
//! them natural (below [`MIN_EXPLAINED_SHARE`], so not used).
//!
//! Measured (prototype, raw pixels, Fashion-MNIST, warps relabelled
//! T-shirt): the cross-fitted share ranks the class's planted minority rows
//! above its natural ones at AUROC 0.91–0.92 at 0.3 % and 1 % (0.94–0.98
//! for planted shirts, pullovers and coats, which the label tests cannot
//! tell from natural boundary rows), 0.88–0.90 at 5–10 %; at 1 %, 429 rows
//! beyond the cut, 410 planted.

use std::collections::HashSet;

use rayon::prelude::*;

use crate::carried::Neighbourhoods;
use crate::linalg::{backward_substitute_transposed, cholesky, forward_substitute};
use crate::rng::SplitMix64;
use crate::stats::{ln_binomial_upper, quantile_of_sorted};

/// Layout of the label-agnostic inputs' rows when they are images: height
/// × width × channels, channels last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Rows of pixels.
    pub height: usize,
    /// Columns of pixels.
    pub width: usize,
    /// Values per pixel (1 grey, 3 colour).
    pub channels: usize,
}

impl ImageShape {
    /// Values per row.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Whether the shape holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Cosine functions per axis of the field's basis: displacements that turn
/// at most twice across the image (a WaNet field is interpolated from a
/// 4 × 4 control grid).
const FREQS: usize = 5;

/// Reweighting rounds of the fit.
const ROUNDS: usize = 3;

/// Other classes' minority rows the null is measured on at most.
const NULL_ROWS: usize = 4096;

/// Rows of a half the field is fitted on at most (a seeded sample; every
/// row is still judged), which bounds the fit's time in a class with tens
/// of thousands of contradicted rows.
const FIT_ROWS: usize = 4096;

/// Least minority rows, in the class and in the null.
const MIN_ROWS: usize = 50;

/// The null's upper share a row must exceed to count as explained.
pub const NULL_SHARE: f64 = 0.01;

/// Least share of the class's minority rows the field must explain for
/// them to be taken as the rows behind the class's failure: a planted
/// group, not a natural relation between classes. Measured (Fashion-MNIST,
/// raw pixels): a clean class's own field explains 1.6–6 % of its
/// minority rows (footwear 24–36 %); with 10 % of every class's labels
/// flipped, 1–5 %; warps relabelled T-shirt, 13 % (0.3 %) to 88 % (5 %).
pub const MIN_EXPLAINED_SHARE: f64 = 0.1;

/// Least images side for the test.
const MIN_SIDE: usize = 8;

/// Rows summed per task (a fixed split, so that the sums do not depend on
/// the number of threads).
const CHUNK: usize = 64;

/// The shared-warp test of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedWarp {
    /// `ln` p-value of the count of explained rows (0 when untested).
    pub log_p: f64,
    /// The class's minority rows, by row.
    pub rows: Vec<WarpRow>,
    pub tested: bool,
}

/// One minority row of a class the shared-warp test judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarpRow {
    pub row: usize,
    /// `ln` of the null's share at or above the row's explained share.
    pub log_p: f64,
    /// Beyond the null's upper [`NULL_SHARE`].
    pub explained: bool,
}

impl SharedWarp {
    pub fn untested() -> Self {
        Self {
            log_p: 0.0,
            rows: Vec::new(),
            tested: false,
        }
    }

    /// The class's minority rows.
    pub fn minority(&self) -> usize {
        self.rows.len()
    }

    /// The explained rows.
    pub fn explained(&self) -> usize {
        self.rows.iter().filter(|r| r.explained).count()
    }

    /// Whether the explained rows are behind the failure of a class whose
    /// failing test named `named` and failed it at `failed_level`: their
    /// count is significant at that level, they are at least
    /// [`MIN_EXPLAINED_SHARE`] of the minority rows (a planted group, not a
    /// natural relation between classes), and the named rows are explained
    /// at least half as often as chance gives. A natural field (sneakers
    /// beside sandals) explains boundary rows and avoids the planted ones
    /// (Fashion-MNIST all-to-all patch on 0.3 %: 1 of the sneakers' 100
    /// explained rows among their 25 named, 0.18 of the 5.5 chance gives);
    /// a warp's explained rows are its planted rows, named or not (warps
    /// into T-shirts: 0.98–1.9 times chance).
    pub fn behind_failure(&self, named: &HashSet<usize>, failed_level: f64) -> bool {
        let (explained, minority) = (self.explained(), self.minority());
        let overlap = self
            .rows
            .iter()
            .filter(|r| r.explained && named.contains(&r.row))
            .count();
        self.tested
            && self.log_p <= failed_level
            && explained as f64 >= MIN_EXPLAINED_SHARE * minority as f64
            && 2 * overlap * minority >= explained * named.len()
    }
}

/// A row's residual against its neighbours of its neighbourhood's label, and
/// that mean's gradient along both axes.
struct Residual {
    r: Vec<f64>,
    gy: Vec<f64>,
    gx: Vec<f64>,
}

fn residual(h: &Neighbourhoods<'_>, shape: ImageShape, i: usize) -> Option<Residual> {
    let (hh, w, ch) = (shape.height, shape.width, shape.channels);
    let m = h.neighbour_mean(i, h.majority[i])?;
    let r: Vec<f64> =
        h.x.row(i)
            .iter()
            .zip(&m)
            .map(|(&a, b)| a as f64 - b)
            .collect();
    let at = |y: usize, x: usize, c: usize| m[(y * w + x) * ch + c];
    let mut gy = vec![0.0; m.len()];
    let mut gx = vec![0.0; m.len()];
    for y in 0..hh {
        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(hh - 1));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
            for c in 0..ch {
                let p = (y * w + x) * ch + c;
                gy[p] = (at(y1, x, c) - at(y0, x, c)) / (y1 - y0) as f64;
                gx[p] = (at(y, x1, c) - at(y, x0, c)) / (x1 - x0) as f64;
            }
        }
    }
    Some(Residual { r, gy, gx })
}

/// The field's cosine basis, `FREQS²` functions over the pixels.
fn basis(shape: ImageShape) -> Vec<Vec<f64>> {
    let (h, w) = (shape.height, shape.width);
    let mut b = Vec::with_capacity(FREQS * FREQS);
    for a in 0..FREQS {
        for c in 0..FREQS {
            b.push(
                (0..h * w)
                    .map(|p| {
                        let (y, x) = ((p / w) as f64, (p % w) as f64);
                        (std::f64::consts::PI * a as f64 * (y + 0.5) / h as f64).cos()
                            * (std::f64::consts::PI * c as f64 * (x + 0.5) / w as f64).cos()
                    })
                    .collect(),
            );
        }
    }
    b
}

/// A displacement field, per pixel `(dy, dx)`.
struct Field(Vec<(f64, f64)>);

impl Field {
    /// The share of the residual the field explains (`−∞` … 1).
    fn explained(&self, res: &Residual, ch: usize) -> f64 {
        let (mut left, mut total) = (0.0, 0.0);
        for (p, &(fy, fx)) in self.0.iter().enumerate() {
            for c in 0..ch {
                let q = p * ch + c;
                let e = res.r[q] - fy * res.gy[q] - fx * res.gx[q];
                left += e * e;
                total += res.r[q] * res.r[q];
            }
        }
        if total > 0.0 {
            1.0 - left / total
        } else {
            0.0
        }
    }
}

/// Per-pixel sums of the weighted normal equations: `Σ w g_y²`, `Σ w g_y
/// g_x`, `Σ w g_x²`, `Σ w g_y r`, `Σ w g_x r` (over channels too).
fn sums(
    h: &Neighbourhoods<'_>,
    shape: ImageShape,
    rows: &[usize],
    weight: &[f64],
) -> [Vec<f64>; 5] {
    let pixels = shape.height * shape.width;
    let ch = shape.channels;
    let zero = || std::array::from_fn::<Vec<f64>, 5, _>(|_| vec![0.0; pixels]);
    let parts: Vec<[Vec<f64>; 5]> = rows
        .par_chunks(CHUNK)
        .zip(weight.par_chunks(CHUNK))
        .map(|(rows, weight)| {
            let mut s = zero();
            for (&i, &wt) in rows.iter().zip(weight) {
                let Some(res) = residual(h, shape, i) else {
                    continue;
                };
                // five sums per pixel, indexed together
                #[allow(clippy::needless_range_loop)]
                for p in 0..pixels {
                    for c in 0..ch {
                        let q = p * ch + c;
                        let (gy, gx, r) = (res.gy[q], res.gx[q], res.r[q]);
                        s[0][p] += wt * gy * gy;
                        s[1][p] += wt * gy * gx;
                        s[2][p] += wt * gx * gx;
                        s[3][p] += wt * gy * r;
                        s[4][p] += wt * gx * r;
                    }
                }
            }
            s
        })
        .collect();
    let mut total = zero();
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            for (a, b) in t.iter_mut().zip(p) {
                *a += b;
            }
        }
    }
    total
}

/// The smooth field that best explains the rows' residuals, reweighted by
/// the share each explains.
fn fit(
    h: &Neighbourhoods<'_>,
    shape: ImageShape,
    basis: &[Vec<f64>],
    rows: &[usize],
) -> Option<Field> {
    let nb = basis.len();
    let n = 2 * nb;
    let mut weight = vec![1.0; rows.len()];
    let mut field = None;
    for round in 0..ROUNDS {
        let [syy, syx, sxx, sy, sx] = sums(h, shape, rows, &weight);
        let mut a = vec![0.0; n * n];
        let mut b = vec![0.0; n];
        for j in 0..nb {
            for l in 0..=j {
                let (mut yy, mut yx, mut xx) = (0.0, 0.0, 0.0);
                for p in 0..syy.len() {
                    let bb = basis[j][p] * basis[l][p];
                    yy += bb * syy[p];
                    yx += bb * syx[p];
                    xx += bb * sxx[p];
                }
                // symmetric in (j, l), so both off-diagonal blocks hold `yx`
                for (u, v, val) in [
                    (j, l, yy),
                    (nb + j, nb + l, xx),
                    (j, nb + l, yx),
                    (nb + j, l, yx),
                ] {
                    a[u * n + v] = val;
                    a[v * n + u] = val;
                }
            }
            b[j] = basis[j].iter().zip(&sy).map(|(u, v)| u * v).sum();
            b[nb + j] = basis[j].iter().zip(&sx).map(|(u, v)| u * v).sum();
        }
        let ridge = 1e-6 * (0..n).map(|j| a[j * n + j]).sum::<f64>() / n as f64;
        if ridge <= 0.0 {
            return None;
        }
        for j in 0..n {
            a[j * n + j] += ridge;
        }
        let l = cholesky(&a, n)?;
        forward_substitute(&l, n, &mut b);
        backward_substitute_transposed(&l, n, &mut b);
        let f = Field(
            (0..syy.len())
                .map(|p| {
                    let fy: f64 = (0..nb).map(|j| b[j] * basis[j][p]).sum();
                    let fx: f64 = (0..nb).map(|j| b[nb + j] * basis[j][p]).sum();
                    (fy, fx)
                })
                .collect(),
        );
        if round + 1 < ROUNDS {
            weight = rows
                .par_iter()
                .map(|&i| {
                    residual(h, shape, i)
                        .map_or(0.0, |res| f.explained(&res, shape.channels).max(0.0))
                        + 1e-3
                })
                .collect();
        }
        field = Some(f);
    }
    field
}

/// The shared-warp test of class `c` (its rows `class_rows`), against the
/// minority rows of the `scanned` classes' other rows. Deterministic for
/// `seed`.
pub fn shared_warp_test(
    h: &Neighbourhoods<'_>,
    shape: ImageShape,
    class_rows: &[Vec<usize>],
    scanned: &[u32],
    c: u32,
    seed: u64,
) -> SharedWarp {
    if shape.len() != h.x.cols() || shape.height < MIN_SIDE || shape.width < MIN_SIDE {
        return SharedWarp::untested();
    }
    let mut own: Vec<usize> = class_rows[c as usize]
        .iter()
        .copied()
        .filter(|&i| h.minority[i])
        .collect();
    let mut null: Vec<usize> = scanned
        .iter()
        .filter(|&&o| o != c)
        .flat_map(|&o| class_rows[o as usize].iter().copied())
        .filter(|&i| h.minority[i])
        .collect();
    if own.len() < MIN_ROWS || null.len() < MIN_ROWS {
        return SharedWarp::untested();
    }
    SplitMix64::derive(seed, 0x3A2F ^ c as u64).order_by_content(&mut null, h.keys);
    null.truncate(NULL_ROWS);
    own.sort_unstable();
    let mut halves = own.clone();
    SplitMix64::derive(seed, 0x3A30 ^ c as u64).order_by_content(&mut halves, h.keys);
    let basis = basis(shape);
    let ch = shape.channels;
    let mut shares: Vec<(usize, f64)> = Vec::with_capacity(own.len());
    let mut null_shares = Vec::with_capacity(2 * null.len());
    for half in 0..2 {
        let (train, test): (Vec<usize>, Vec<usize>) = {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (t, &i) in halves.iter().enumerate() {
                if t % 2 == half {
                    b.push(i);
                } else {
                    a.push(i);
                }
            }
            (a, b)
        };
        let Some(field) = fit(h, shape, &basis, &train[..train.len().min(FIT_ROWS)]) else {
            return SharedWarp::untested();
        };
        let judge = |rows: &[usize]| -> Vec<(usize, f64)> {
            rows.par_iter()
                .filter_map(|&i| Some((i, field.explained(&residual(h, shape, i)?, ch))))
                .collect()
        };
        shares.extend(judge(&test));
        null_shares.extend(judge(&null).into_iter().map(|(_, e)| e));
    }
    if null_shares.len() < MIN_ROWS {
        return SharedWarp::untested();
    }
    null_shares.sort_by(f64::total_cmp);
    let cut = quantile_of_sorted(&null_shares, 1.0 - NULL_SHARE);
    let total = null_shares.len() as f64;
    let mut rows: Vec<WarpRow> = shares
        .into_iter()
        .map(|(row, e)| {
            let at_or_above = null_shares.len() - null_shares.partition_point(|&v| v < e);
            WarpRow {
                row,
                log_p: ((at_or_above as f64 + 1.0) / (total + 1.0)).ln(),
                explained: e > cut,
            }
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.row);
    let mut warp = SharedWarp {
        log_p: 0.0,
        rows,
        tested: true,
    };
    warp.log_p = ln_binomial_upper(warp.minority() as u64, NULL_SHARE, warp.explained() as u64);
    warp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Votes;
    use crate::MatrixRef;

    const SIDE: usize = 16;
    const CLASSES: usize = 8;

    /// Resamples a `SIDE × SIDE` image at `p + field(p)` (bilinear, edges
    /// clamped).
    fn warped(img: &[f32], field: impl Fn(f64, f64) -> (f64, f64)) -> Vec<f32> {
        let px = |y: isize, x: isize| {
            img[y.clamp(0, SIDE as isize - 1) as usize * SIDE
                + x.clamp(0, SIDE as isize - 1) as usize] as f64
        };
        let mut out = vec![0.0; SIDE * SIDE];
        for y in 0..SIDE {
            for x in 0..SIDE {
                let (dy, dx) = field(y as f64, x as f64);
                let (sy, sx) = (y as f64 + dy, x as f64 + dx);
                let (y0, x0) = (sy.floor() as isize, sx.floor() as isize);
                let (ty, tx) = (sy - y0 as f64, sx - x0 as f64);
                let top = px(y0, x0) * (1.0 - tx) + px(y0, x0 + 1) * tx;
                let bottom = px(y0 + 1, x0) * (1.0 - tx) + px(y0 + 1, x0 + 1) * tx;
                out[y * SIDE + x] = (top * (1.0 - ty) + bottom * ty) as f32;
            }
        }
        out
    }

    /// Eight classes of smooth blob images (200 each, the blobs' places
    /// jittered from image to image), and into every class 10 copies of
    /// each other class's images (its natural contradicted rows); the
    /// copies into class 0 resampled along one smooth field first when
    /// `warp`. Returns the test of class 0 and the warped rows.
    fn run(warp: bool) -> (SharedWarp, Vec<bool>) {
        let mut rng = SplitMix64::new(11);
        let blobs: Vec<Vec<(f64, f64, f64)>> = (0..CLASSES)
            .map(|_| {
                (0..3)
                    .map(|_| {
                        (
                            3.0 + 10.0 * rng.next_f64(),
                            3.0 + 10.0 * rng.next_f64(),
                            1.5 + rng.next_f64(),
                        )
                    })
                    .collect()
            })
            .collect();
        let image = |c: usize, rng: &mut SplitMix64| -> Vec<f32> {
            // each blob's strength, width and place vary from image to image
            let vary: Vec<[f64; 4]> = (0..3)
                .map(|_| {
                    [
                        1.0 + 0.3 * rng.normal(),
                        1.0 + 0.25 * rng.normal(),
                        0.3 * rng.normal(),
                        0.3 * rng.normal(),
                    ]
                })
                .collect();
            (0..SIDE * SIDE)
                .map(|p| {
                    let (y, x) = ((p / SIDE) as f64, (p % SIDE) as f64);
                    blobs[c]
                        .iter()
                        .zip(&vary)
                        .map(|(&(by, bx, s), &[g, w, jy, jx])| {
                            let (dy, dx, s) = (y - by - jy, x - bx - jx, s * w.max(0.3));
                            g * (-(dy * dy + dx * dx) / (2.0 * s * s)).exp()
                        })
                        .sum::<f64>() as f32
                })
                .collect()
        };
        let field = |y: f64, x: f64| {
            (
                0.9 * (std::f64::consts::PI * x / SIDE as f64).sin(),
                0.9 * (std::f64::consts::PI * y / SIDE as f64).cos(),
            )
        };
        let (mut x, mut labels, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..CLASSES {
            for _ in 0..200 {
                x.extend(image(c, &mut rng));
                labels.push(c as u32);
                truth.push(false);
            }
            for o in (0..CLASSES).filter(|&o| o != c) {
                for _ in 0..10 {
                    let img = image(o, &mut rng);
                    let planted = warp && c == 0;
                    x.extend(if planted { warped(&img, field) } else { img });
                    labels.push(c as u32);
                    truth.push(planted);
                }
            }
        }
        let (n, d, k) = (labels.len(), SIDE * SIDE, 10usize);
        let v = Votes::new(&x, d, &labels, CLASSES, k);
        let h = v.hood(MatrixRef::new(&x, n, d).unwrap(), &labels);
        let shape = ImageShape {
            height: SIDE,
            width: SIDE,
            channels: 1,
        };
        (
            shared_warp_test(
                &h,
                shape,
                &v.class_rows,
                &(0..CLASSES as u32).collect::<Vec<_>>(),
                0,
                1,
            ),
            truth,
        )
    }

    #[test]
    fn rows_one_smooth_warp_explains_are_found_and_plain_copies_are_not() {
        let (w, truth) = run(true);
        assert!(w.tested && w.minority() >= 50, "{w:?}");
        let explained: Vec<usize> = w
            .rows
            .iter()
            .filter(|r| r.explained)
            .map(|r| r.row)
            .collect();
        let planted = explained.iter().filter(|&&i| truth[i]).count();
        assert!(
            planted >= 40,
            "{planted} planted of {} explained",
            explained.len()
        );
        assert!(
            planted * 10 >= 9 * explained.len(),
            "{planted} of {}",
            explained.len()
        );
        assert!(w.log_p < -50.0, "{}", w.log_p);
        // the class's other minority rows judged less explained than the
        // planted ones
        let (p, q): (Vec<_>, Vec<_>) = w.rows.iter().partition(|r| truth[r.row]);
        let mean = |v: &[&WarpRow]| v.iter().map(|r| r.log_p).sum::<f64>() / v.len().max(1) as f64;
        assert!(mean(&p) < mean(&q) - 1.0, "{} {}", mean(&p), mean(&q));
        // the same rows copied without the warp: nothing in common
        let (w, _) = run(false);
        assert!(w.tested && w.log_p > -5.0, "{}", w.log_p);
    }
}
