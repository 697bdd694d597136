//! Whether the numbers of a list column, or a table's numeric columns, are
//! laid out as the pixels of an image, judged from the values alone.
//!
//! A flat list of `h·w` (or `h·w·3`) numbers per row may be an image saved
//! by a user's own code, or the rows of the red team's file re-saved without
//! its metadata, or a model's embedding; `h·w` numeric columns (`p0` …
//! `p783`, pandas' `0` … `783`) may be an image written out as a CSV, or a
//! questionnaire's answers. The container does not say; the values do. Neighbouring pixels move together — across the rows of a data
//! set, a pixel and the one beside it or below it correlate at 0.7–0.8
//! (MNIST, Fashion-MNIST; 0.3–0.5 for 8×8 digits), far more than pixels
//! half an image apart (0.0–0.25). A signal cut into rows (256 samples of
//! a smooth series as 16 × 16) has neighbours that move together too, but
//! not in two dimensions: a value correlates with the one half a row on
//! more than with the one a row on, where a picture's value correlates with
//! the one below it far more (0.69 against 0.04 on MNIST). The coordinates
//! of an embedding have no order: neighbours correlate as any two
//! coordinates do (an MLP's hidden
//! layer over Fashion-MNIST: 0.12 and 0.17 beside 0.17 for distant pairs;
//! PCA scores and Gaussian vectors: 0.00).

use super::FeatureSource;

/// How much more neighbouring values must correlate than distant ones:
/// 8×8 digits clear it by 0.38, MNIST by 0.69, an MLP's hidden layer falls
/// short of zero.
const MARGIN: f64 = 0.25;

/// How much more a value must correlate with the one below it than with
/// the one half a row to its right: pictures clear it by 0.27 (colour
/// emoji at 32×32, flat colours over wide areas) to 0.66 (Fashion-MNIST);
/// a signal of 256 samples cut into rows of 16, by −0.13 (the value 8
/// samples on moves with it more than the one 16 on).
const ROW_MARGIN: f64 = 0.1;

/// Rows the correlations are measured on at most (evenly spaced).
const SAMPLE: usize = 2048;

/// Least side of an image (as the nested-list rule).
const MIN_SIDE: usize = 8;

/// The order of a colour image's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Row-major pixels, each pixel's channels together (NumPy's `h × w × c`,
    /// the order the scan's images use).
    ChannelsLast,
    /// One plane per channel (PyTorch's `c × h × w`).
    ChannelsFirst,
}

/// An image layout found in the values, with the evidence for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ImageLayout {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub order: Order,
    /// Mean correlation of horizontally adjacent values (same channel).
    pub across: f64,
    /// Mean correlation of vertically adjacent values (same channel).
    pub down: f64,
    /// Mean correlation of values half a row apart.
    pub far: f64,
}

/// Per-feature means and standard deviations over the sampled rows, and the
/// sampled rows' indices.
struct Moments<'a> {
    values: &'a [f32],
    dim: usize,
    rows: Vec<usize>,
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl<'a> Moments<'a> {
    fn new(values: &'a [f32], n: usize, dim: usize) -> Self {
        let step = n.div_ceil(SAMPLE).max(1);
        let rows: Vec<usize> = (0..n).step_by(step).collect();
        let m = rows.len().max(1) as f64;
        let mut mean = vec![0f64; dim];
        for &i in &rows {
            for (s, &v) in mean.iter_mut().zip(&values[i * dim..(i + 1) * dim]) {
                *s += v as f64;
            }
        }
        mean.iter_mut().for_each(|s| *s /= m);
        let mut var = vec![0f64; dim];
        for &i in &rows {
            for ((s, &v), mu) in var
                .iter_mut()
                .zip(&values[i * dim..(i + 1) * dim])
                .zip(&mean)
            {
                *s += (v as f64 - mu).powi(2);
            }
        }
        let sd = var.iter().map(|s| (s / m).sqrt()).collect();
        Self {
            values,
            dim,
            rows,
            mean,
            sd,
        }
    }

    /// Mean correlation over the pairs of features that both vary; `None`
    /// when fewer than eight such pairs.
    fn mean_correlation(&self, pairs: impl Iterator<Item = (usize, usize)>) -> Option<f64> {
        let varies = |j: usize| self.sd[j] > 1e-12 * (1.0 + self.mean[j].abs());
        let pairs: Vec<(usize, usize)> = pairs.filter(|&(a, b)| varies(a) && varies(b)).collect();
        if pairs.len() < 8 {
            return None;
        }
        let m = self.rows.len() as f64;
        let mut sum = 0.0;
        for &(a, b) in &pairs {
            let mut cov = 0.0;
            for &i in &self.rows {
                let row = &self.values[i * self.dim..];
                cov += (row[a] as f64 - self.mean[a]) * (row[b] as f64 - self.mean[b]);
            }
            sum += cov / m / (self.sd[a] * self.sd[b]);
        }
        Some(sum / pairs.len() as f64)
    }

    /// Values half a row apart.
    fn far(&self) -> Option<f64> {
        let half = self.dim / 2;
        self.mean_correlation((0..half).map(|j| (j, j + half)))
    }
}

/// The side of a square picture of `d` pixels, at least [`MIN_SIDE`].
pub(crate) fn square_side(d: usize) -> Option<usize> {
    let s = (d as f64).sqrt().round() as usize;
    (s >= MIN_SIDE && s * s == d).then_some(s)
}

/// The image layout of `n` rows of `dim` values each (`values`, row-major),
/// when the values are laid out as square images — grey (`dim = s²`) or
/// colour (`dim = 3s²`, channels last or first) — whose neighbouring values
/// correlate [`MARGIN`] more than distant ones, horizontally and
/// vertically. `None` otherwise, or with fewer than three rows.
pub(crate) fn image_layout(values: &[f32], n: usize, dim: usize) -> Option<ImageLayout> {
    if n < 3 || values.len() != n * dim {
        return None;
    }
    let candidates: Vec<(usize, usize, Order)> = if let Some(s) = square_side(dim) {
        vec![(s, 1, Order::ChannelsLast)]
    } else if let Some(s) = square_side(dim / 3).filter(|_| dim.is_multiple_of(3)) {
        vec![(s, 3, Order::ChannelsLast), (s, 3, Order::ChannelsFirst)]
    } else {
        return None;
    };
    let moments = Moments::new(values, n, dim);
    let far = moments.far()?;
    candidates
        .into_iter()
        .filter_map(|(side, channels, order)| {
            let (across_step, down_step) = match order {
                Order::ChannelsLast => (channels, side * channels),
                Order::ChannelsFirst => (1, side),
            };
            // the column and row of value `j` within its image plane
            let at = |j: usize| match order {
                Order::ChannelsLast => ((j / channels) % side, (j / channels) / side),
                Order::ChannelsFirst => ((j % (side * side)) % side, (j % (side * side)) / side),
            };
            let across = moments.mean_correlation(
                (0..dim)
                    .filter(|&j| at(j).0 + 1 < side)
                    .map(|j| (j, j + across_step)),
            )?;
            let down = moments.mean_correlation(
                (0..dim)
                    .filter(|&j| at(j).1 + 1 < side)
                    .map(|j| (j, j + down_step)),
            )?;
            // a value and the one half a row to its right, which a signal
            // (correlation falling with the distance) holds closer than the
            // value a row on, and a picture does not
            let half = side / 2;
            let along = moments.mean_correlation(
                (0..dim)
                    .filter(|&j| at(j).0 + half < side)
                    .map(|j| (j, j + half * across_step)),
            )?;
            (across.min(down) >= far + MARGIN && down >= along + ROW_MARGIN).then_some(
                ImageLayout {
                    height: side,
                    width: side,
                    channels,
                    order,
                    across,
                    down,
                    far,
                },
            )
        })
        .max_by(|a, b| a.across.min(a.down).total_cmp(&b.across.min(b.down)))
}

/// Feature values (`what`: a list column, or a table's numeric columns) of
/// `n` rows of `dim` values laid out as images ([`image_layout`]): the pixel
/// source, with the values rewritten channels last where they came one
/// plane per channel, and the note that says so. `None` (values untouched)
/// otherwise.
pub(crate) fn read_as_images(
    values: &mut arrow::buffer::ScalarBuffer<f32>,
    n: usize,
    dim: usize,
    what: &str,
) -> Option<(FeatureSource, String)> {
    let found = image_layout(values, n, dim)?;
    let planes = found.order == Order::ChannelsFirst;
    if planes {
        *values = channels_last(values, n, found.height, found.width, found.channels).into();
    }
    let note = format!(
        "read {what} as {}x{}{} images{}: neighbouring values move together as pixels do \
         (correlation {:.2} across, {:.2} down, {:.2} half an image apart); --image-shape \
         HxW[xC] sets another shape, none reads them as they are",
        found.height,
        found.width,
        if found.channels == 1 {
            String::new()
        } else {
            format!("x{}", found.channels)
        },
        if planes {
            ", one plane per channel"
        } else {
            ""
        },
        found.across,
        found.down,
        found.far,
    );
    Some((
        FeatureSource::Pixels {
            height: found.height,
            width: found.width,
            channels: found.channels,
        },
        note,
    ))
}

/// Whether values next to each other in a row move together far more than
/// distant ones ([`MARGIN`]): raw measurements laid out in space or time
/// (an image of any shape, a signal), not the unordered coordinates of an
/// embedding.
pub(crate) fn ordered(values: &[f32], n: usize, dim: usize) -> bool {
    if n < 3 || dim < 16 || values.len() != n * dim {
        return false;
    }
    let moments = Moments::new(values, n, dim);
    match (
        moments.mean_correlation((0..dim - 1).map(|j| (j, j + 1))),
        moments.far(),
    ) {
        (Some(next), Some(far)) => next >= far + MARGIN,
        _ => false,
    }
}

/// `values` of colour images stored one plane per channel, rewritten with
/// each pixel's channels together (the order the scan's images use).
pub(crate) fn channels_last(
    values: &[f32],
    n: usize,
    height: usize,
    width: usize,
    channels: usize,
) -> Vec<f32> {
    let plane = height * width;
    let dim = plane * channels;
    let mut out = vec![0f32; values.len()];
    for i in 0..n {
        let (src, dst) = (
            &values[i * dim..(i + 1) * dim],
            &mut out[i * dim..(i + 1) * dim],
        );
        for p in 0..plane {
            for c in 0..channels {
                dst[p * channels + c] = src[c * plane + p];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonscan_scanners::SplitMix64;

    /// `n` smooth random images `side × side × channels` (channels last):
    /// sums of a few wide bumps at random places, as pixels of objects are.
    fn smooth_images(n: usize, side: usize, channels: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        let mut out = Vec::with_capacity(n * side * side * channels);
        for _ in 0..n {
            let bumps: Vec<(f64, f64, f64)> = (0..4)
                .map(|_| {
                    (
                        rng.next_f64() * side as f64,
                        rng.next_f64() * side as f64,
                        rng.next_f64(),
                    )
                })
                .collect();
            for y in 0..side {
                for x in 0..side {
                    let v: f64 = bumps
                        .iter()
                        .map(|&(bx, by, a)| {
                            let d2 = (x as f64 - bx).powi(2) + (y as f64 - by).powi(2);
                            a * (-d2 / (0.1 * (side * side) as f64)).exp()
                        })
                        .sum();
                    for c in 0..channels {
                        out.push((v * (1.0 + 0.2 * c as f64)) as f32);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn smooth_images_are_found_with_their_shape_and_order() {
        let grey = smooth_images(300, 12, 1, 1);
        let found = image_layout(&grey, 300, 144).expect("grey images");
        assert_eq!((found.height, found.width, found.channels), (12, 12, 1));
        assert!(found.across > found.far + MARGIN && found.down > found.far + MARGIN);

        let colour = smooth_images(300, 10, 3, 2);
        let found = image_layout(&colour, 300, 300).expect("colour images");
        assert_eq!((found.channels, found.order), (3, Order::ChannelsLast));
        // the same images one plane per channel are found as such, and
        // rewritten channels last they are the images again
        let mut planes = vec![0f32; colour.len()];
        for i in 0..300 {
            for p in 0..100 {
                for c in 0..3 {
                    planes[i * 300 + c * 100 + p] = colour[i * 300 + p * 3 + c];
                }
            }
        }
        let found = image_layout(&planes, 300, 300).expect("channels first");
        assert_eq!(found.order, Order::ChannelsFirst);
        assert_eq!(channels_last(&planes, 300, 10, 10, 3), colour);
        assert!(ordered(&grey, 300, 144));
    }

    #[test]
    fn unordered_coordinates_are_not_an_image() {
        // an embedding: correlated coordinates (a few shared factors), but
        // no order among them — and the same images with their pixels
        // shuffled by one fixed permutation
        let (n, dim) = (400, 144);
        let mut rng = SplitMix64::new(3);
        let loadings: Vec<f64> = (0..dim * 4).map(|_| rng.next_f64() - 0.5).collect();
        let mut emb = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let f: Vec<f64> = (0..4).map(|_| rng.next_f64() - 0.5).collect();
            for j in 0..dim {
                let v: f64 = (0..4).map(|t| f[t] * loadings[j * 4 + t]).sum::<f64>()
                    + 0.3 * (rng.next_f64() - 0.5);
                emb.push(v as f32);
            }
        }
        assert_eq!(image_layout(&emb, n, dim), None);
        assert!(!ordered(&emb, n, dim));

        let images = smooth_images(n, 12, 1, 4);
        let mut perm: Vec<usize> = (0..dim).collect();
        for j in (1..dim).rev() {
            perm.swap(j, (rng.next_u64() % (j as u64 + 1)) as usize);
        }
        let shuffled: Vec<f32> = (0..n)
            .flat_map(|i| perm.iter().map(move |&j| (i, j)))
            .map(|(i, j)| images[i * dim + j])
            .collect();
        assert_eq!(image_layout(&shuffled, n, dim), None);
        assert!(!ordered(&shuffled, n, dim));
        // a length that is no square (nor three squares) is never an image
        assert_eq!(image_layout(&images[..n * 140], n, 140), None);
    }

    #[test]
    fn a_signal_cut_into_rows_is_ordered_but_not_an_image() {
        // smooth series of 256 samples (AR(1), 0.97 from one sample to the
        // next): a value and the one 16 samples on move together, as a
        // pixel and the one below it would in 16 × 16 pictures, but the one
        // 8 samples on moves with it more
        let (n, dim) = (400, 256);
        let mut rng = SplitMix64::new(6);
        let phi = 0.97f64;
        let mut series = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let mut v = rng.normal();
            for _ in 0..dim {
                series.push(v as f32);
                v = phi * v + (1.0 - phi * phi).sqrt() * rng.normal();
            }
        }
        assert_eq!(image_layout(&series, n, dim), None);
        assert!(ordered(&series, n, dim));
    }
}
