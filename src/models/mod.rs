//! Representation models (Burn): a small network trained in-process on the
//! scanned data, giving the scanners a learned representation — the
//! penultimate layer (before its ReLU) of a model trained on every row — and
//! out-of-fold class probabilities from K cross-fitted models, for
//! `confident-learning`.
//!
//! The device is chosen at run time ([`DeviceSpec`]); Burn's pure-Rust CPU
//! backend is always built, `wgpu` and `cuda` are cargo features.

mod device;
mod nets;
mod train;

use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

pub use device::DeviceSpec;
pub use nets::EMBEDDING_DIMS;

use crate::ingest::{Dataset, FeatureSource};
use crate::pipeline::Progress;
use nets::{Classifier, Cnn, Mlp};
use poisonscan_scanners::SplitMix64;
use train::{fit, predict, Data};

/// `--model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A CNN for images, an MLP for vectors.
    #[default]
    Auto,
    /// Scan the features as given.
    None,
    /// A multi-layer perceptron.
    Mlp,
    /// A small convolutional network (images only).
    Cnn,
}

impl ModelKind {
    /// The name users write (`auto`, `none`, `mlp`, `cnn`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Auto => "auto",
            ModelKind::None => "none",
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
        }
    }
}

/// Training settings (`--epochs`, `--batch-size`, `--lr`, `--folds`,
/// `--device`), checked by [`ModelOptions::check`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelOptions {
    /// Which network.
    pub kind: ModelKind,
    /// Most passes over the training rows (early stopping may end sooner);
    /// `None`: enough passes for [`MIN_STEPS`] gradient steps, at least 2
    /// and at most 60.
    pub epochs: Option<usize>,
    /// Rows per gradient step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Cross-fitting folds for the out-of-fold probabilities.
    pub folds: usize,
    /// Epochs without a better hold-out loss before training stops.
    pub patience: usize,
    /// Share of the training rows held out for early stopping.
    pub holdout: f64,
    /// Where to train.
    #[serde(serialize_with = "display")]
    pub device: DeviceSpec,
    /// Seed of the weights and of the batch order.
    pub seed: u64,
}

fn display<S: serde::Serializer>(d: &DeviceSpec, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            kind: ModelKind::Auto,
            epochs: None,
            batch_size: 128,
            lr: 2e-3,
            folds: 2,
            patience: 2,
            holdout: 0.1,
            device: DeviceSpec::Cpu,
            seed: 0,
        }
    }
}

impl ModelOptions {
    /// Checks every value, naming the flag and its range.
    pub fn check(self) -> Result<Self, ModelError> {
        let bad = |flag: &'static str, value: String, allowed: &'static str| {
            Err(ModelError::Option {
                flag,
                value,
                allowed,
            })
        };
        if let Some(e) = self.epochs.filter(|e| !(1..=1000).contains(e)) {
            return bad("--epochs", e.to_string(), "an integer from 1 to 1000");
        }
        if !(1..=65536).contains(&self.batch_size) {
            return bad(
                "--batch-size",
                self.batch_size.to_string(),
                "an integer from 1 to 65536",
            );
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(
                "--lr",
                self.lr.to_string(),
                "a number above 0 and at most 1",
            );
        }
        if !(2..=20).contains(&self.folds) {
            return bad("--folds", self.folds.to_string(), "an integer from 2 to 20");
        }
        Ok(self)
    }
}

/// Gradient steps the automatic epoch count aims at: small data sets get
/// more passes, large ones fewer.
pub const MIN_STEPS: usize = 800;

impl ModelOptions {
    /// Epochs for `rows` training rows.
    pub fn epochs_for(&self, rows: usize) -> usize {
        self.epochs.unwrap_or_else(|| {
            let per_epoch = rows.div_ceil(self.batch_size).max(1);
            MIN_STEPS.div_ceil(per_epoch).clamp(2, 60)
        })
    }
}

/// One trained model: a cross-fitting fold or the model on every row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldReport {
    /// `fold 1/2`, …, or `all rows`.
    pub stage: String,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out for early stopping.
    pub holdout_rows: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// Wall seconds.
    pub seconds: f64,
    /// Accuracy on the held-out rows at the kept epoch.
    pub holdout_accuracy: Option<f64>,
}

/// What the model step gives the scanners.
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    /// The network that ran (`mlp` or `cnn`).
    pub model: ModelKind,
    /// Penultimate-layer activations of the model trained on every row,
    /// `rows × dims`, row-major.
    pub activations: Vec<f32>,
    /// Width of the activations.
    pub dims: usize,
    /// Out-of-fold class probabilities, `rows × classes`, row-major.
    pub probs: Vec<f32>,
    /// One report per trained model: the folds, then the model on every row.
    pub folds: Vec<FoldReport>,
}

/// A model step that could not run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelError {
    /// A training option out of range.
    #[error("{flag} is {value}, but it must be {allowed}")]
    Option {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// A device this build does not include.
    #[error(
        "--device {device}: this build of poisonscan has no {feature} support; \
         rebuild with `cargo build --release --features {feature}` or use --device cpu"
    )]
    DeviceNotBuilt {
        /// The device asked for.
        device: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// `--model cnn` on features that are not images.
    #[error("--model cnn needs images (pixels); these features are {0}; use --model mlp")]
    NotImages(String),
    /// Too few rows to hold out and cross-fit.
    #[error("the model needs at least {needed} rows to cross-fit {folds} folds; there are {rows}")]
    TooFewRows {
        /// Rows needed.
        needed: usize,
        /// Folds asked for.
        folds: usize,
        /// Rows there are.
        rows: usize,
    },
    /// The tensor backend failed.
    #[error("the model backend failed: {0}")]
    Backend(String),
    /// No epoch ran.
    #[error("training ran no epoch")]
    NoTraining,
}

/// Rows below which `--model auto` scans the features as given: on small
/// data sets (scikit-learn's 1,797 digits) the networks learned too little
/// for the scanners, which found a planted BadNets patch on the raw pixels
/// and missed it in the activations.
pub const AUTO_MIN_ROWS: usize = 5000;

/// The network `--model` picks for these features: `auto` is a CNN for
/// images large enough for it, an MLP for numeric columns, and none for an
/// embedding column (already a learned representation) or below
/// [`AUTO_MIN_ROWS`] rows; `None` for `none`.
pub fn resolve(
    kind: ModelKind,
    source: &FeatureSource,
    rows: usize,
    learned: bool,
) -> Result<Option<ModelKind>, ModelError> {
    let image = match source {
        FeatureSource::Pixels { height, width, .. } => Some((*height, *width)),
        _ => None,
    };
    Ok(match kind {
        ModelKind::None => None,
        ModelKind::Mlp => Some(ModelKind::Mlp),
        ModelKind::Cnn => match image {
            Some((h, w)) if Cnn::fits(h, w) => Some(ModelKind::Cnn),
            Some((h, w)) => {
                return Err(ModelError::NotImages(format!("{h}x{w} images, below 4x4")))
            }
            None => return Err(ModelError::NotImages(source.describe())),
        },
        ModelKind::Auto if auto_declines(source, rows, learned).is_some() => None,
        ModelKind::Auto => match image {
            Some((h, w)) if Cnn::fits(h, w) => Some(ModelKind::Cnn),
            _ => Some(ModelKind::Mlp),
        },
    })
}

/// Why `--model auto` trains no model on these features, if it does not:
/// an embedding is a learned representation already (measured on a
/// 60,000 × 128 embedding with a shifted 1 % group: an MLP trained on top
/// learned the shift away and the scan passed it, while the embedding itself
/// failed the gate); and below [`AUTO_MIN_ROWS`] rows the networks learn too
/// little. `learned` says whether the features look like a learned
/// representation ([`crate::ingest::Dataset::looks_learned`]): an embedding
/// column of raw quantized values (pixels as bytes) gets a model like any
/// raw features, and an embedding spread over numeric columns gets none,
/// as in a list column.
pub fn auto_declines(source: &FeatureSource, rows: usize, learned: bool) -> Option<String> {
    let representation = match source {
        FeatureSource::Embedding { .. } if learned => Some(
            "--model auto trains no model on an embedding column (already a learned \
             representation); the embedding was scanned as given"
                .to_string(),
        ),
        FeatureSource::Columns { columns, .. } if learned => Some(format!(
            "--model auto trains no model on {} numeric columns of one scale and continuous \
             values, read as an embedding spread over columns (already a learned \
             representation); they were scanned as given",
            columns.len()
        )),
        _ => None,
    };
    representation.or_else(|| {
        (rows < AUTO_MIN_ROWS).then(|| {
            format!(
                "--model auto trains no model on fewer than {AUTO_MIN_ROWS} rows ({rows} here); \
                 the features were scanned as given (--model cnn or mlp trains one anyway)"
            )
        })
    })
}

/// Inputs as the network reads them: pixels as they are (already in
/// [0, 1]), other features standardised per column.
fn network_inputs(ds: &Dataset) -> std::borrow::Cow<'_, [f32]> {
    let (n, d) = (ds.n_rows(), ds.n_features);
    if matches!(ds.feature_source, FeatureSource::Pixels { .. }) {
        return std::borrow::Cow::Borrowed(&ds.features);
    }
    let mut mean = vec![0f64; d];
    let mut sq = vec![0f64; d];
    for row in ds.features.chunks(d) {
        for j in 0..d {
            mean[j] += row[j] as f64;
            sq[j] += (row[j] as f64).powi(2);
        }
    }
    let nf = n.max(1) as f64;
    let scale: Vec<f64> = (0..d)
        .map(|j| {
            mean[j] /= nf;
            let var = sq[j] / nf - mean[j] * mean[j];
            if var > 1e-12 {
                1.0 / var.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    ds.features
        .chunks(d)
        .flat_map(|row| {
            (0..d)
                .map(|j| ((row[j] as f64 - mean[j]) * scale[j]) as f32)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<f32>>()
        .into()
}

/// Stratified fold of every row: each class's rows, in a seeded order of
/// their content keys, dealt in turn.
fn folds(labels: &[u32], keys: &[u64], classes: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; labels.len()];
    let mut rng = SplitMix64::derive(seed, 0xF01D);
    for c in 0..classes as u32 {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        rng.order_by_content(&mut rows, keys);
        for (t, r) in rows.into_iter().enumerate() {
            fold[r] = t % k;
        }
    }
    fold
}

/// `rows` in the order of their content keys (then positions, for copies).
fn in_content_order(mut rows: Vec<usize>, keys: &[u64]) -> Vec<usize> {
    rows.sort_unstable_by_key(|&r| (keys[r], r));
    rows
}

/// Splits `rows` into (train, held-out) with `share` held out, seeded, by
/// the rows' content keys.
fn split(rows: &[usize], keys: &[u64], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut r = rows.to_vec();
    SplitMix64::new(seed).order_by_content(&mut r, keys);
    let h = ((share * r.len() as f64).round() as usize).min(r.len().saturating_sub(1));
    let holdout = r.split_off(r.len() - h);
    (r, holdout)
}

/// Trains the networks and returns the learned representation.
pub fn represent(
    ds: &Dataset,
    kind: ModelKind,
    options: &ModelOptions,
    progress: &dyn Progress,
) -> Result<Representation, ModelError> {
    let n = ds.n_rows();
    let k = options.folds;
    let needed = 4 * k;
    if n < needed {
        return Err(ModelError::TooFewRows {
            needed,
            folds: k,
            rows: n,
        });
    }
    let device = options.device.device()?.autodiff();
    let classes = ds.class_names.len();
    let x = network_inputs(ds);
    let keys = poisonscan_scanners::content_keys(ds.matrix(), &ds.label_codes);
    let data = Data {
        x: &x,
        d: ds.n_features,
        y: &ds.label_codes,
        keys: &keys,
    };
    match (kind, &ds.feature_source) {
        (
            ModelKind::Cnn,
            FeatureSource::Pixels {
                height,
                width,
                channels,
            },
        ) => {
            let (h, w, c) = (*height, *width, *channels);
            cross_fit(&data, classes, kind, options, &device, progress, |dev| {
                Cnn::new(h, w, c, classes, dev)
            })
        }
        _ => cross_fit(
            &data,
            classes,
            ModelKind::Mlp,
            options,
            &device,
            progress,
            |dev| Mlp::new(data.d, classes, dev),
        ),
    }
}

/// Images to train on or to predict: `rows × (height · width · channels)`
/// pixels, channels last, and their class ids.
pub struct Images<'a> {
    /// Pixels, row-major.
    pub pixels: &'a [f32],
    /// Class id per row.
    pub labels: &'a [u32],
    /// Height, width and channels.
    pub shape: (usize, usize, usize),
}

/// The share of `rows` of `test` that a model trained on `train` predicts
/// as one of `targets`: an attack's success rate on a triggered test split
/// (Gu et al. 2017). The network is the scan's own for images (the CNN when
/// the images fit it, else the MLP), trained once on every row of `train`
/// with 10 % held out for early stopping, seeded by `options.seed`. `NaN`
/// when `rows` is empty.
pub fn attack_success(
    train: &Images<'_>,
    classes: usize,
    test: &Images<'_>,
    rows: &[usize],
    targets: &[u32],
    options: &ModelOptions,
    progress: &dyn Progress,
) -> Result<f64, ModelError> {
    let n = train.labels.len();
    if n < 10 {
        return Err(ModelError::TooFewRows {
            needed: 10,
            folds: 1,
            rows: n,
        });
    }
    let device = options.device.device()?.autodiff();
    let (h, w, c) = train.shape;
    let d = h * w * c;
    let keys = poisonscan_scanners::content_keys(
        poisonscan_scanners::MatrixRef::new(train.pixels, n, d).expect("one image a label"),
        train.labels,
    );
    let data = Data {
        x: train.pixels,
        d,
        y: train.labels,
        keys: &keys,
    };
    let all: Vec<usize> = (0..n).collect();
    let (train_rows, holdout) = split(&all, &keys, options.holdout, options.seed ^ 0xA5C);
    let job = SuccessJob {
        data: &data,
        train: &train_rows,
        holdout: &holdout,
        test,
        rows,
        seed: SplitMix64::derive(options.seed, 0xA5C).next_u64(),
    };
    let probs = if Cnn::fits(h, w) {
        job.run(
            |dev| Cnn::new(h, w, c, classes, dev),
            options,
            &device,
            progress,
        )?
    } else {
        job.run(|dev| Mlp::new(d, classes, dev), options, &device, progress)?
    };
    if rows.is_empty() {
        return Ok(f64::NAN);
    }
    let hits = probs
        .chunks(classes)
        .filter(|p| {
            let best = (0..classes)
                .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            targets.contains(&(best as u32))
        })
        .count();
    Ok(hits as f64 / rows.len() as f64)
}

/// A model from `make`, its weights drawn from the device's generator
/// seeded with `seed`, one model at a time across threads: the generator
/// is shared by every training on the device, so concurrent trainings draw
/// the weights they would draw one after another. Burn draws a parameter at
/// its first use, hence a forward pass of one blank row (of `d` inputs)
/// under the lock.
fn draw<M: Classifier>(
    device: &burn::tensor::Device,
    seed: u64,
    d: usize,
    make: impl FnOnce(&burn::tensor::Device) -> M,
) -> M {
    static DRAW: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = DRAW.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let model = make(device);
    let _ = model.forward(burn::tensor::Tensor::<2>::zeros([1, d], device));
    model
}

/// One attack-success training: `train` rows of `data` (early stopping on
/// `holdout`), weights drawn from `seed`, then the class probabilities of
/// `rows` of `test`.
struct SuccessJob<'a> {
    data: &'a Data<'a>,
    train: &'a [usize],
    holdout: &'a [usize],
    test: &'a Images<'a>,
    rows: &'a [usize],
    seed: u64,
}

impl SuccessJob<'_> {
    /// Trains the network `make` builds and predicts `rows` of `test`
    /// (`rows × classes`).
    fn run<M: Classifier>(
        &self,
        make: impl FnOnce(&burn::tensor::Device) -> M,
        options: &ModelOptions,
        device: &burn::tensor::Device,
        progress: &dyn Progress,
    ) -> Result<Vec<f32>, ModelError> {
        let model = draw(device, self.seed, self.data.d, make);
        let (model, _) = fit(
            model,
            self.data,
            self.train,
            self.holdout,
            options,
            device,
            "attack success",
            progress,
        )?;
        let test = Data {
            x: self.test.pixels,
            d: self.data.d,
            y: self.test.labels,
            // predicted only: no rows are drawn
            keys: &[],
        };
        let batch = options.batch_size.max(256);
        let (_, probs) = predict(&model, &test, self.rows, batch, device)?;
        Ok(probs)
    }
}

#[allow(clippy::too_many_arguments)]
fn cross_fit<M: Classifier>(
    data: &Data<'_>,
    classes: usize,
    kind: ModelKind,
    options: &ModelOptions,
    device: &burn::tensor::Device,
    progress: &dyn Progress,
    make: impl Fn(&burn::tensor::Device) -> M + Sync,
) -> Result<Representation, ModelError> {
    let n = data.y.len();
    let k = options.folds;
    let fold = folds(data.y, data.keys, classes, k, options.seed);
    let batch = options.batch_size.max(256);
    let mut probs = vec![0f32; n * classes];
    let mut reports = Vec::with_capacity(k + 1);
    // One seeded training on `rows` (10 % held out for early stopping).
    let train_on = |rows: &[usize], stream: u64, stage: &str, progress: &dyn Progress| {
        let (train, holdout) = split(
            rows,
            data.keys,
            options.holdout,
            options.seed ^ stream.wrapping_mul(0x9E37),
        );
        let seed = SplitMix64::derive(options.seed, stream).next_u64();
        let model = draw(device, seed, data.d, &make);
        fit(
            model, data, &train, &holdout, options, device, stage, progress,
        )
    };
    // The folds and the model on every row train at the same time: one
    // small network's operations keep two cores only partly busy, and each
    // training depends only on its own seed (scores identical to training
    // one after another). Job `k`, the model on every row, starts first.
    // Full MNIST with the CNN: 113 s one after another, 84–86 s so
    // (BENCHMARKS.md). Plain threads feeding the pool were slower still.
    let all: Vec<usize> = (0..n).collect();
    let parts = crate::pipeline::Parts::new(progress, k + 1, "model: ");
    let trained: Vec<(Vec<usize>, Vec<f32>, FoldReport)> = std::iter::once(k)
        .chain(0..k)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|f| {
            let progress = parts.part(f);
            if f == k {
                let (model, report) = train_on(&all, 0, "all rows", &progress)?;
                // predicted in batches of the rows' content order, so that
                // each row meets the same batch in any row order and its
                // activations are the same to the bit (the scanners that
                // read them draw by their values)
                let order = in_content_order(all.clone(), data.keys);
                let (sorted, _) = predict(&model, data, &order, batch, device)?;
                let dims = sorted.len() / n.max(1);
                let mut activations = vec![0f32; sorted.len()];
                for (t, &r) in order.iter().enumerate() {
                    activations[r * dims..(r + 1) * dims]
                        .copy_from_slice(&sorted[t * dims..(t + 1) * dims]);
                }
                return Ok((Vec::new(), activations, report));
            }
            let rest: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
            let own = in_content_order((0..n).filter(|&i| fold[i] == f).collect(), data.keys);
            let (model, report) = train_on(
                &rest,
                f as u64 + 1,
                &format!("fold {}/{k}", f + 1),
                &progress,
            )?;
            let (_, p) = predict(&model, data, &own, batch, device)?;
            Ok((own, p, report))
        })
        .collect::<Result<_, ModelError>>()?;
    let mut trained = trained.into_iter();
    let (_, activations, all_rows) = trained.next().ok_or(ModelError::NoTraining)?;
    for (own, p, report) in trained {
        for (t, &r) in own.iter().enumerate() {
            probs[r * classes..(r + 1) * classes]
                .copy_from_slice(&p[t * classes..(t + 1) * classes]);
        }
        reports.push(report);
    }
    reports.push(all_rows);
    Ok(Representation {
        model: kind,
        activations,
        dims: EMBEDDING_DIMS,
        probs,
        folds: reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_seeded() {
        let labels: Vec<u32> = (0..100).map(|i| (i % 3) as u32).collect();
        let keys: Vec<u64> = (0..100).map(|i| SplitMix64::new(i).next_u64()).collect();
        let f = folds(&labels, &keys, 3, 4, 7);
        for c in 0..3u32 {
            let mut counts = [0; 4];
            for i in 0..100 {
                if labels[i] == c {
                    counts[f[i]] += 1;
                }
            }
            assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
        }
        assert_eq!(f, folds(&labels, &keys, 3, 4, 7));
        let (a, b) = split(&(0..50).collect::<Vec<_>>(), &keys, 0.1, 3);
        assert_eq!((a.len(), b.len()), (45, 5));
        // the same rows in another order: each row keeps its fold, and the
        // held-out rows are the same rows
        let order: Vec<usize> = (0..100).rev().collect();
        let (l2, k2): (Vec<u32>, Vec<u64>) = order.iter().map(|&i| (labels[i], keys[i])).unzip();
        let f2 = folds(&l2, &k2, 3, 4, 7);
        assert!(order.iter().enumerate().all(|(j, &i)| f2[j] == f[i]));
        let (_, b2) = split(&(0..50).collect::<Vec<_>>(), &k2[50..], 0.1, 3);
        let mut moved: Vec<usize> = b2.iter().map(|&j| 99 - (50 + j)).collect();
        moved.sort_unstable();
        let mut b = b;
        b.sort_unstable();
        assert_eq!(moved, b);
    }

    #[test]
    fn options_are_checked() {
        let e = ModelOptions {
            folds: 1,
            ..ModelOptions::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--folds is 1, but it must be an integer from 2 to 20"
        );
    }
}
