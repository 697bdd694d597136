//! Whether pictures given as pixels were decoded from JPEG.
//!
//! JPEG keeps a picture's luminance as the discrete cosine transform of
//! each 8×8 block, every coefficient rounded to a multiple of its
//! frequency's quantisation step (2 to 3 levels for the low frequencies
//! at quality 90, 5 to 8 at quality 75). Decoding turns those multiples
//! back into pixels, rounded to whole levels; the transform of the decoded
//! blocks gives the multiples again, each moved by a fraction of a level.
//! Pixels that never went through JPEG (drawn, scaled, saved losslessly)
//! give coefficients spread evenly over any step's multiples. So a sample
//! of pictures whose low-frequency coefficients cluster at a step's
//! multiples was decoded from JPEG, whatever container holds them now
//! (Fan & de Queiroz 2003, "Identification of bit-map compression history:
//! JPEG detection and quantizer estimation", IEEE TIP 12(2)).
//!
//! Read only where the blocks still lie where JPEG put them (pictures at
//! the size they were decoded at, not cropped by other than multiples of 8
//! pixels) and the values are 8-bit levels in some scale (bytes, bytes
//! over 255, normalised by a mean and a deviation a channel: see
//! [`Levels`]). Blocks holding a clipped value (black or white in any
//! channel) are left out: decoding clipped them, moving their coefficients
//! off the multiples.

use rayon::prelude::*;

use crate::matrix::MatrixRef;
use crate::rng::SplitMix64;
use crate::warp::ImageShape;

/// Pictures sampled (seeded) to look for the trace: enough for
/// [`BLOCKS`] blocks, from 64 to 512.
const SAMPLE: (usize, usize) = (64, 512);

/// Blocks the sample's pictures hold at least, where [`SAMPLE`] allows:
/// JPEG's clustering, 0.2 and more, is then dozens of deviations above
/// none, and a scan of large pictures reads no more than it needs.
const BLOCKS: usize = 8192;

/// Quantisation steps tried: 2 (quality 95 leaves 1 at the lowest
/// frequencies, which rounding to whole levels hides, and 2 and more at
/// the others) to 16 (quality 50's lowest).
const STEPS: std::ops::RangeInclusive<u32> = 2..=16;

/// Least coefficients beyond half a step for a frequency to be read.
const MIN_COEFFICIENTS: usize = 50;

/// Least clustering at a step's multiples, the mean of `cos(2π c / q)`
/// (1 on the multiples, 0 spread evenly).
const MIN_CLUSTERING: f64 = 0.1;

/// Least z-score of that clustering against coefficients spread evenly
/// (each cosine's variance is ½): five standard deviations.
const MIN_Z: f64 = 5.0;

/// Least frequencies on a lattice, of the 63 that are not a block's mean:
/// JPEG at quality 95 to 50 puts 25 to 63 there, pictures that never went
/// through it none (measured on the photo mix, the emoji, game sprites and
/// Fashion-MNIST, each saved by Pillow at 95, 90, 75 and 50, and their
/// lossless originals).
const MIN_FREQUENCIES: usize = 8;

/// What was found of a JPEG history in pictures' pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JpegTrace {
    /// Unclipped 8×8 blocks read.
    pub blocks: usize,
    /// Frequencies (of the 63 that are not a block's mean) whose
    /// coefficients lie on a step's multiples.
    pub frequencies: usize,
}

impl JpegTrace {
    /// Whether the pictures were decoded from JPEG.
    pub fn found(&self) -> bool {
        self.frequencies >= MIN_FREQUENCIES
    }
}

/// The JPEG trace of the pictures `x` (one a row, `shape`), read on a
/// seeded sample of them; `None` where it cannot be read: values that are
/// not 8-bit levels in some scale (see [`Levels`]), pictures smaller than a
/// block, channels other than 1 or 3. Colour pictures are read by their
/// luminance.
pub fn jpeg_trace(x: MatrixRef<'_>, shape: ImageShape, seed: u64) -> Option<JpegTrace> {
    let (h, w, ch) = (shape.height, shape.width, shape.channels);
    if h < 8 || w < 8 || !matches!(ch, 1 | 3) || x.rows() == 0 {
        return None;
    }
    let mut rows: Vec<usize> = (0..x.rows()).collect();
    SplitMix64::derive(seed, 0x1B6).shuffle(&mut rows);
    let per_picture = (h / 8) * (w / 8);
    rows.truncate(BLOCKS.div_ceil(per_picture).clamp(SAMPLE.0, SAMPLE.1));
    rows.sort_unstable();
    let levels: Vec<Levels> = (0..ch)
        .map(|c| Levels::of(rows.iter().flat_map(|&i| x.row(i)[c..].iter().step_by(ch))))
        .collect::<Option<_>>()?;
    // luminance as JFIF weighs the channels; BGR pictures (as OpenCV
    // decodes) read so too keep most of the trace (the photo mix as JPEG at
    // quality 90: 51 frequencies against 53)
    let weights: [f64; 3] = match ch {
        1 => [1.0, 0.0, 0.0],
        _ => [0.299, 0.587, 0.114],
    };
    let basis = dct_basis();
    // each frequency's coefficients, block by block
    let mut coefficients = vec![Vec::new(); 64];
    let mut block = [[0f64; 8]; 8];
    for &i in &rows {
        let row = x.row(i);
        for by in (0..=h - 8).step_by(8) {
            'block: for bx in (0..=w - 8).step_by(8) {
                for (y, line) in block.iter_mut().enumerate() {
                    for (xx, v) in line.iter_mut().enumerate() {
                        let at = ((by + y) * w + bx + xx) * ch;
                        let mut luma = 0.0;
                        for ((&c, wt), l) in row[at..at + ch].iter().zip(weights).zip(&levels) {
                            let level = l.level(c);
                            if l.clipped(level) {
                                continue 'block;
                            }
                            luma += wt * level;
                        }
                        *v = luma;
                    }
                }
                for (f, c) in transform(&basis, &block).into_iter().flatten().enumerate() {
                    coefficients[f].push(c);
                }
            }
        }
    }
    let frequencies = coefficients[1..]
        .par_iter()
        .filter(|c| on_a_lattice(c))
        .count();
    Some(JpegTrace {
        blocks: coefficients[0].len(),
        frequencies,
    })
}

/// A channel's 8-bit levels in the scale it was given in: bytes, bytes
/// over 255, or any affine map of them (a mean subtracted and a standard
/// deviation divided, as models' inputs are normalised). Its values take
/// at most 256 distinct values, each gap between them a whole multiple of
/// the least; a value's level is counted from the least value (an offset
/// moves only a block's mean, which the trace does not read).
struct Levels {
    least: f64,
    step: f64,
    /// The highest level seen.
    top: f64,
}

impl Levels {
    /// The levels of a channel's values; `None` where they are not 8-bit
    /// levels (more than 256 distinct values, gaps that are not whole
    /// multiples of the least, NaN) or hold one value.
    fn of<'a>(values: impl Iterator<Item = &'a f32>) -> Option<Self> {
        let mut distinct = std::collections::BTreeSet::new();
        for &v in values {
            // -0 is 0
            if v.is_nan() || (distinct.insert((v + 0.0).to_bits()) && distinct.len() > 256) {
                return None;
            }
        }
        let mut sorted: Vec<f64> = distinct
            .into_iter()
            .map(|b| f32::from_bits(b) as f64)
            .collect();
        sorted.sort_by(f64::total_cmp);
        let gaps: Vec<f64> = sorted.windows(2).map(|p| p[1] - p[0]).collect();
        let step = gaps.iter().copied().reduce(f64::min)?;
        // a float's rounding moves a gap by a few parts in ten million
        let whole = |g: f64| ((g / step) - (g / step).round()).abs() <= 1e-2;
        (step > 0.0 && gaps.iter().all(|&g| whole(g))).then(|| Levels {
            least: sorted[0],
            step,
            top: ((sorted[sorted.len() - 1] - sorted[0]) / step).round(),
        })
    }

    /// A value's level.
    fn level(&self, v: f32) -> f64 {
        (v as f64 - self.least) / self.step
    }

    /// Whether a level is the least or the highest seen: a value decoding
    /// clipped (black or white), or as near to it as the sample shows.
    fn clipped(&self, level: f64) -> bool {
        level < 0.5 || level > self.top - 0.5
    }
}

/// The orthonormal 8-point DCT-II basis, `basis[u][y]` (JPEG's transform).
pub(crate) fn dct_basis() -> [[f64; 8]; 8] {
    let mut b = [[0f64; 8]; 8];
    for (u, line) in b.iter_mut().enumerate() {
        let norm = if u == 0 {
            (1.0f64 / 8.0).sqrt()
        } else {
            (2.0f64 / 8.0).sqrt()
        };
        for (y, v) in line.iter_mut().enumerate() {
            *v = norm * ((2 * y + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
        }
    }
    b
}

/// A block's transform, `[u][v]` (`u` down, `v` across): its rows, then
/// its columns.
pub(crate) fn transform(basis: &[[f64; 8]; 8], block: &[[f64; 8]; 8]) -> [[f64; 8]; 8] {
    let mut across = [[0f64; 8]; 8];
    for (line, out) in block.iter().zip(across.iter_mut()) {
        for (o, b) in out.iter_mut().zip(basis) {
            *o = line.iter().zip(b).map(|(p, q)| p * q).sum();
        }
    }
    let mut c = [[0f64; 8]; 8];
    for (out, b) in c.iter_mut().zip(basis) {
        for (v, o) in out.iter_mut().enumerate() {
            *o = across.iter().zip(b).map(|(line, q)| line[v] * q).sum();
        }
    }
    c
}

/// Whether coefficients cluster at the multiples of some step of
/// [`STEPS`]: among those beyond half the step (the rest JPEG rounded to
/// 0, as it would any small coefficient), the mean of `cos(2π c / q)` at
/// least [`MIN_CLUSTERING`] and [`MIN_Z`] standard deviations above 0.
fn on_a_lattice(c: &[f64]) -> bool {
    STEPS.into_iter().any(|q| {
        let q = q as f64;
        let (mut m, mut sum) = (0usize, 0f64);
        for &v in c.iter().filter(|v| v.abs() > q / 2.0) {
            m += 1;
            sum += (std::f64::consts::TAU * v / q).cos();
        }
        if m < MIN_COEFFICIENTS {
            return false;
        }
        let clustering = sum / m as f64;
        clustering >= MIN_CLUSTERING && clustering * (2.0 * m as f64).sqrt() >= MIN_Z
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::through_jpeg;

    /// Smooth pictures with texture, 8-bit levels in `[0, 1]`, away from
    /// black and white (seeded).
    fn pictures(n: usize, side: usize, channels: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        let mut x = Vec::with_capacity(n * side * side * channels);
        for _ in 0..n {
            let (a, b, c) = (rng.normal(), rng.normal(), rng.normal());
            for y in 0..side {
                for xx in 0..side {
                    for k in 0..channels {
                        let t = (y as f64 * 0.3 * a + xx as f64 * 0.2 * b + k as f64).sin();
                        let v = 128.0
                            + 60.0 * t
                            + 20.0 * c * (xx as f64 / side as f64)
                            + 8.0 * rng.normal();
                        x.push((v.clamp(10.0, 245.0).round() / 255.0) as f32);
                    }
                }
            }
        }
        x
    }

    fn trace(x: &[f32], side: usize, channels: usize) -> Option<JpegTrace> {
        let d = side * side * channels;
        let shape = ImageShape {
            height: side,
            width: side,
            channels,
        };
        jpeg_trace(MatrixRef::new(x, x.len() / d, d).unwrap(), shape, 5)
    }

    /// Grey pictures through JPEG at quality 50, 75 and 90 show the trace;
    /// the same pictures before it do not.
    #[test]
    fn pictures_through_jpeg_show_its_trace_and_their_originals_do_not() {
        let original = pictures(300, 24, 1, 1);
        let before = trace(&original, 24, 1).unwrap();
        assert!(!before.found(), "{before:?}");
        assert!(before.blocks > 2000, "{before:?}");
        for quality in [50, 75, 90, 95] {
            let mut x = original.clone();
            through_jpeg(&mut x, (24, 24, 1), quality);
            let t = trace(&x, 24, 1).unwrap();
            assert!(t.found(), "quality {quality}: {t:?}");
        }
    }

    /// Colour pictures through JPEG show the trace in RGB order and in
    /// BGR order (as OpenCV decodes); the same pictures before it do not.
    #[test]
    fn colour_pictures_show_the_trace_in_either_channel_order() {
        let side = 16;
        let original = pictures(400, side, 3, 2);
        let mut rgb = original.clone();
        through_jpeg(&mut rgb, (side, side, 3), 85);
        let t = trace(&rgb, side, 3).unwrap();
        assert!(t.found(), "{t:?}");
        let bgr: Vec<f32> = rgb.chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
        assert!(trace(&bgr, side, 3).unwrap().found());
        // as bytes, and normalised as a model's inputs are (each channel's
        // mean subtracted, its deviation divided): the same trace
        let bytes: Vec<f32> = rgb.iter().map(|&v| (v * 255.0).round()).collect();
        assert_eq!(trace(&bytes, side, 3), Some(t));
        let normalised: Vec<f32> = rgb
            .chunks(3)
            .flat_map(|p| {
                let (mean, deviation) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
                [0, 1, 2].map(|c| (p[c] - mean[c]) / deviation[c])
            })
            .collect();
        assert_eq!(trace(&normalised, side, 3), Some(t));
        let before = trace(&original, side, 3).unwrap();
        assert!(!before.found() && before.blocks > 1000, "{before:?}");
    }

    /// Pictures it cannot read: values that are not 8-bit levels (12-bit
    /// levels, continuous values), pictures smaller than a block; blocks
    /// with clipped values are not read.
    #[test]
    fn pictures_it_cannot_read_give_no_trace() {
        let x = pictures(50, 24, 1, 3);
        let shape = ImageShape {
            height: 24,
            width: 24,
            channels: 1,
        };
        let read = |x: &[f32], shape| jpeg_trace(MatrixRef::new(x, 50, 576).unwrap(), shape, 1);
        assert!(read(&x, shape).is_some());
        let twelve: Vec<f32> = (0..x.len()).map(|i| (i % 4096) as f32 / 4095.0).collect();
        assert_eq!(read(&twelve, shape), None);
        let mut rng = SplitMix64::new(4);
        let continuous: Vec<f32> = x
            .iter()
            .map(|&v| v + rng.next_f64() as f32 * 1e-3)
            .collect();
        assert_eq!(read(&continuous, shape), None);
        let small = ImageShape {
            height: 6,
            width: 96,
            channels: 1,
        };
        assert_eq!(read(&x, small), None);
        let halves: Vec<f32> = (0..x.len()).map(|i| (i % 2) as f32).collect();
        let t = read(&halves, shape).unwrap();
        assert_eq!(t.blocks, 0);
        assert!(!t.found());
    }
}
