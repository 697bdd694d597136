//! Training and inference: seeded mini-batch Adam with early stopping on a
//! held-out slice, and batched forward passes for activations and class
//! probabilities.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use poisonscan_scanners::SplitMix64;

use super::nets::Classifier;
use super::{FoldReport, ModelError, ModelOptions};
use crate::pipeline::Progress;

/// The training data: `n × d` row-major inputs, class ids, and the rows'
/// content keys (`poisonscan_scanners::content_keys` of the data set's
/// rows): folds, held-out rows and the order of each epoch's batches are
/// drawn by them, so that a model trained on the same rows in another order
/// is the same model.
pub(crate) struct Data<'a> {
    pub x: &'a [f32],
    pub d: usize,
    pub y: &'a [u32],
    pub keys: &'a [u64],
}

impl Data<'_> {
    /// The inputs of `rows` as a `rows × d` tensor.
    fn inputs(&self, rows: &[usize], device: &Device) -> Tensor<2> {
        let mut v = Vec::with_capacity(rows.len() * self.d);
        for &r in rows {
            v.extend_from_slice(&self.x[r * self.d..(r + 1) * self.d]);
        }
        Tensor::from_data(TensorData::new(v, [rows.len(), self.d]), device)
    }

    /// The class ids of `rows`.
    fn targets(&self, rows: &[usize], device: &Device) -> Tensor<1, Int> {
        let v: Vec<i64> = rows.iter().map(|&r| self.y[r] as i64).collect();
        Tensor::from_data(TensorData::new(v, [rows.len()]), device)
    }
}

fn floats(t: Tensor<2>) -> Result<Vec<f32>, ModelError> {
    let data = t.into_data();
    data.as_slice::<f32>()
        .map(<[f32]>::to_vec)
        .map_err(|e| ModelError::Backend(format!("{e:?}")))
}

/// Mean loss and accuracy of `model` on `rows` (no gradients).
fn evaluate<M: Classifier>(
    model: &M,
    data: &Data<'_>,
    rows: &[usize],
    batch: usize,
    device: &Device,
) -> Result<(f64, f64), ModelError> {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for chunk in rows.chunks(batch) {
        let (_, logits) = model.forward(data.inputs(chunk, device));
        let targets = data.targets(chunk, device);
        let l = loss_fn.forward(logits.clone(), targets.clone());
        loss += floats(l.reshape([1, 1]))?[0] as f64 * chunk.len() as f64;
        let predicted = floats(logits.argmax(1).float())?;
        correct += chunk
            .iter()
            .zip(&predicted)
            .filter(|(&r, &p)| data.y[r] as f32 == p)
            .count();
    }
    let n = rows.len().max(1) as f64;
    Ok((loss / n, correct as f64 / n))
}

/// Trains `model` on `train` rows, stopping early when the loss on
/// `holdout` rows has not improved for `patience` epochs; returns the best
/// model seen and its report.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit<M: Classifier>(
    mut model: M,
    data: &Data<'_>,
    train: &[usize],
    holdout: &[usize],
    options: &ModelOptions,
    device: &Device,
    stage: &str,
    progress: &dyn Progress,
) -> Result<(M, FoldReport), ModelError> {
    let start = Instant::now();
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut rng = SplitMix64::derive(options.seed, 0x7A1);
    let mut order = train.to_vec();
    let batches = order.len().div_ceil(options.batch_size) as u64;
    let mut best: Option<(f64, f64, M)> = None;
    let (mut epochs_run, mut since_best) = (0, 0);
    let epochs = options.epochs_for(train.len());
    for epoch in 0..epochs {
        rng.order_by_content(&mut order, data.keys);
        progress.stage(&format!("model: {stage}, epoch {}/{epochs}", epoch + 1));
        for (b, chunk) in order.chunks(options.batch_size).enumerate() {
            progress.steps(b as u64, batches);
            let (_, logits) = model.forward(data.inputs(chunk, device));
            let loss = loss_fn.forward(logits, data.targets(chunk, device));
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(options.lr, model, grads);
        }
        epochs_run = epoch + 1;
        if holdout.is_empty() {
            best = Some((0.0, f64::NAN, model.clone()));
            continue;
        }
        let (loss, accuracy) = evaluate(
            &model.valid(),
            data,
            holdout,
            options.batch_size.max(256),
            device,
        )?;
        if best.as_ref().is_none_or(|(l, _, _)| loss < *l) {
            best = Some((loss, accuracy, model.clone()));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= options.patience {
                break;
            }
        }
    }
    let (_, accuracy, model) = best.ok_or(ModelError::NoTraining)?;
    Ok((
        model,
        FoldReport {
            stage: stage.to_string(),
            train_rows: train.len(),
            holdout_rows: holdout.len(),
            epochs_run,
            seconds: start.elapsed().as_secs_f64(),
            holdout_accuracy: if accuracy.is_nan() {
                None
            } else {
                Some(accuracy)
            },
        },
    ))
}

/// Activations (`rows × dims`) and class probabilities (`rows × classes`)
/// of `rows`, in order.
pub(crate) fn predict<M: Classifier>(
    model: &M,
    data: &Data<'_>,
    rows: &[usize],
    batch: usize,
    device: &Device,
) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
    let model = model.valid();
    let (mut acts, mut probs) = (Vec::new(), Vec::new());
    for chunk in rows.chunks(batch) {
        let (e, logits) = model.forward(data.inputs(chunk, device));
        acts.extend(floats(e)?);
        probs.extend(floats(softmax(logits, 1))?);
    }
    Ok((acts, probs))
}
