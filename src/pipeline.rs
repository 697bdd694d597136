//! The scan pipeline: ingest → scan → fuse, with a timing for every stage.
//! It returns data ([`ScanReport`]); writing files and printing belong to
//! [`crate::report`].

use std::sync::Arc;
use std::time::Instant;

use poisonscan_scanners::{Derived, ScanError, ScanInput, ScanOutput, Scanner, TokenSets};
use thiserror::Error;

use arrow::buffer::ScalarBuffer;
use serde::Serialize;

use crate::fuse::{fuse, Corroborate, Fused};
use crate::ingest::{self, Dataset, FeatureSource, IngestError, IngestOptions};
use crate::models::{self, FoldReport, ModelError, ModelKind, ModelOptions};
use crate::settings::ScanSettings;

/// Stage notifications, for progress bars.
pub trait Progress: Sync {
    /// A stage starts.
    fn stage(&self, name: &str);
    /// `done` of `total` steps of the current stage are done.
    fn steps(&self, _done: u64, _total: u64) {}
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _name: &str) {}
}

/// Progress of work done side by side (trainings, scanners beside them):
/// each part reports to a slot of its own, and the parent shows every
/// running part's stage and steps, joined — rather than whichever part
/// spoke last. A part's slot is cleared when the part is dropped.
pub struct Parts<'a> {
    parent: &'a dyn Progress,
    prefix: &'a str,
    slots: std::sync::Mutex<Vec<(String, u64, u64)>>,
}

impl<'a> Parts<'a> {
    /// `n` parts reporting to `parent`; a `prefix` their stages share
    /// (`"model: "`) is shown once.
    pub fn new(parent: &'a dyn Progress, n: usize, prefix: &'a str) -> Self {
        Self {
            parent,
            prefix,
            slots: std::sync::Mutex::new(vec![(String::new(), 0, 0); n]),
        }
    }

    /// The progress of part `i`.
    pub fn part(&self, i: usize) -> Part<'_> {
        Part { parts: self, i }
    }

    fn update(&self, i: usize, change: impl FnOnce(&mut (String, u64, u64))) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut slots[i]);
        let stages: Vec<String> = slots
            .iter()
            .filter(|(s, ..)| !s.is_empty())
            .map(|(s, done, total)| {
                let s = s.strip_prefix(self.prefix).unwrap_or(s);
                if *total > 0 {
                    format!("{s} ({done}/{total})")
                } else {
                    s.to_string()
                }
            })
            .collect();
        self.parent
            .stage(&format!("{}{}", self.prefix, stages.join(" · ")));
    }
}

/// One part of [`Parts`].
pub struct Part<'a> {
    parts: &'a Parts<'a>,
    i: usize,
}

impl Drop for Part<'_> {
    fn drop(&mut self) {
        self.parts
            .update(self.i, |slot| *slot = (String::new(), 0, 0));
    }
}

impl Progress for Part<'_> {
    fn stage(&self, name: &str) {
        self.parts
            .update(self.i, |slot| *slot = (name.to_string(), 0, 0));
    }

    fn steps(&self, done: u64, total: u64) {
        self.parts.update(self.i, |slot| {
            slot.1 = done;
            slot.2 = total;
        });
    }
}

/// A scan that failed.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// Reading the input failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A scanner failed.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The representation model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Everything a scan found, per row of the data set's kept rows.
pub struct ScanReport {
    /// Scores, flags and verdicts.
    pub fused: Fused,
    /// Each scanner with its raw output, in settings order.
    pub outputs: Vec<(Arc<dyn Scanner>, ScanOutput)>,
    /// Classes left out, too small to scan.
    pub skipped_classes: Vec<u32>,
    /// Warnings for the summary.
    pub warnings: Vec<String>,
    /// Scanners that did not run, with the reason.
    pub skipped_scanners: Vec<(&'static str, String)>,
    /// Seconds per stage, in order.
    pub timings: Vec<(&'static str, f64)>,
    /// The representation model, when one was trained.
    pub model: Option<ModelReport>,
    /// How the features were looked at, as decided from their values.
    pub view: ViewReport,
    /// The rows' content keys (label-agnostic values and label,
    /// [`poisonscan_scanners::content_keys`]), by which fusion counts
    /// copies; a shard's partial carries them to the merge.
    pub row_keys: Vec<u64>,
    /// The words of the rows' text that the text-trigger scanner read (its
    /// class diagnostics name a word by its id here); `None` without text.
    pub tokens: Option<TokenSets>,
}

/// How the scanners looked at the features — decided from the values, not
/// from the container (see [`poisonscan_scanners::shared_scale`] and
/// [`Dataset::looks_learned`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct ViewReport {
    /// The scanned features share one scale and were compared as they are
    /// (else each was standardised).
    pub shared_scale: bool,
    /// The label-agnostic view's source (the inputs, when a model was
    /// trained) shares one scale.
    pub label_agnostic_shared_scale: bool,
    /// The features were taken for a learned representation (the model's
    /// activations, or an embedding of continuous values), so the
    /// sub-population scanners ran on them.
    pub learned_representation: bool,
    /// The pictures' values are not the ones they were made with (decoded
    /// from JPEG or lossy WebP, or scaled): `stamped-patch` looked for
    /// stamps of near values too.
    #[serde(default)]
    pub lossy_pictures: bool,
}

/// What the model step did, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    /// The network trained (`mlp` or `cnn`).
    pub model: ModelKind,
    /// The training options.
    pub options: ModelOptions,
    /// One entry per trained model: the cross-fitting folds, then the model
    /// on every row (whose activations the scanners read).
    pub trainings: Vec<FoldReport>,
    /// Where the class probabilities the scanners read came from:
    /// `out-of-fold` (the folds' models) or `input` (`--probs`).
    pub probabilities: &'static str,
    /// Wall seconds of the whole model step.
    pub seconds: f64,
}

impl ScanReport {
    /// The scanners whose own score reaches the threshold for kept row `k`.
    pub fn reasons(&self, k: usize) -> Vec<&'static str> {
        self.outputs
            .iter()
            .enumerate()
            .filter(|(s, _)| self.fused.fired[k] & (1 << s) != 0)
            .map(|(_, (scanner, _))| scanner.name())
            .collect()
    }
}

/// Scans a data set that is already in memory.
pub fn scan_dataset(
    ds: &Dataset,
    settings: &ScanSettings,
    progress: &dyn Progress,
) -> Result<ScanReport, ScanError> {
    scan_with(
        ds,
        settings,
        progress,
        ds.looks_learned(),
        Vec::new(),
        ds.text_tokens(),
    )
}

/// Outputs of scanners run ahead of the others (while the model trained),
/// by scanner name, with their seconds.
type Ahead = Vec<(&'static str, Result<ScanOutput, ScanError>, f64)>;

/// Classes with fewer than two rows: not scanned.
fn too_small_classes(ds: &Dataset) -> Vec<u32> {
    ds.class_counts()
        .iter()
        .enumerate()
        .filter(|(_, &n)| n < 2)
        .map(|(c, _)| c as u32)
        .collect()
}

/// Runs, on `ds` before its model, the scanners that read only the
/// label-agnostic view ([`Scanner::label_agnostic_only`]), with that view
/// exactly as the scan after the model gives it to them: the inputs, with
/// the `same_scale` [`learn_with`] keeps for them. Their outputs are the
/// ones the scan would compute; run beside the training, they use the
/// cores one training leaves idle.
fn scan_view_ahead(
    ds: &Dataset,
    same_scale: bool,
    settings: &ScanSettings,
    tokens: Option<&TokenSets>,
    progress: &dyn Progress,
) -> Ahead {
    let x = ds.matrix();
    let skipped = too_small_classes(ds);
    let derived = Derived::default();
    let input = ScanInput {
        features: x,
        labels: &ds.label_codes,
        n_classes: ds.class_names.len(),
        skip_classes: &skipped,
        seed: settings.seed,
        same_scale,
        probs: None,
        inputs: Some((x, same_scale)),
        image: ds.feature_source.image_shape(),
        derived: Some(&derived),
        text: tokens,
        view_flows: None,
        tones: ds.tones_matrix(),
        lossy: ds.lossy,
    };
    settings
        .scanners
        .iter()
        .filter(|s| s.label_agnostic_only() && s.skip_reason(&input).is_none())
        .map(|s| {
            progress.stage(s.name());
            let t = Instant::now();
            let out = s.scan(&input);
            (s.name(), out, t.elapsed().as_secs_f64())
        })
        .collect()
}

/// [`scan_dataset`], told whether the features are a learned representation
/// ([`Dataset::looks_learned`], which reads the whole matrix), with the
/// outputs of scanners already run and the words of the rows' text
/// ([`Dataset::text_tokens`]).
fn scan_with(
    ds: &Dataset,
    settings: &ScanSettings,
    progress: &dyn Progress,
    learned: bool,
    mut ahead: Ahead,
    tokens: Option<TokenSets>,
) -> Result<ScanReport, ScanError> {
    let mut warnings = ds.notes.clone();
    if !ds.dropped.is_empty() {
        warnings.push(format!(
            "{} row(s) with invalid features were left out (--drop-invalid)",
            ds.dropped.len()
        ));
    }
    let counts = ds.class_counts();
    let skipped = too_small_classes(ds);
    for &c in &skipped {
        warnings.push(format!(
            "class `{}` has {} row(s); classes need at least 2 rows to be scanned, so it was skipped",
            ds.class_names[c as usize], counts[c as usize]
        ));
    }
    let derived = Derived::default();
    let input = ScanInput {
        features: ds.matrix(),
        labels: &ds.label_codes,
        n_classes: ds.class_names.len(),
        skip_classes: &skipped,
        seed: settings.seed,
        // Chosen from the values, never from the container: the same pixels
        // as an IDX file, a PNG folder or a list column get the same view.
        // A learned representation's units are standardised whatever their
        // ranges, as the sub-population scanners were calibrated (issues 5
        // and 10); the rule is for raw data.
        same_scale: !learned && poisonscan_scanners::shared_scale(ds.matrix()),
        probs: ds.probs_matrix(),
        inputs: ds.inputs.as_ref().map(|(x, d, same)| {
            (
                poisonscan_scanners::MatrixRef::new(x, ds.n_rows(), *d)
                    .expect("input matrix shape is an invariant"),
                *same,
            )
        }),
        image: ds.feature_source.image_shape(),
        derived: Some(&derived),
        text: tokens.as_ref(),
        view_flows: None,
        tones: ds.tones_matrix(),
        lossy: ds.lossy,
    };
    let view = ViewReport {
        shared_scale: input.same_scale,
        label_agnostic_shared_scale: input.label_agnostic().1,
        learned_representation: learned,
        lossy_pictures: input.lossy && input.image.is_some(),
    };
    let mut timings = Vec::new();
    let mut skipped_scanners = Vec::new();
    let mut outputs: Vec<(Arc<dyn Scanner>, ScanOutput)> =
        Vec::with_capacity(settings.scanners.len());
    for scanner in &settings.scanners {
        if scanner.learned_features_only() && !learned && !settings.scanners_chosen {
            skipped_scanners.push((
                scanner.name(),
                "it looks for poison in learned representations (an embedding column of \
                 continuous values), and raw pixels or columns have natural modes it would \
                 mistake for poison; name it in --scanners to run it anyway"
                    .to_string(),
            ));
            continue;
        }
        if let Some(reason) = scanner.skip_reason(&input) {
            if settings.scanners_chosen {
                warnings.push(format!("{} was skipped: {reason}", scanner.name()));
            }
            skipped_scanners.push((scanner.name(), reason));
            continue;
        }
        if scanner.needs_probs() && input.probs.is_none() {
            let reason = "it needs out-of-sample class probabilities (--probs COL)".to_string();
            if settings.scanners_chosen {
                warnings.push(format!("{} was skipped: {reason}", scanner.name()));
            }
            skipped_scanners.push((scanner.name(), reason));
            continue;
        }
        // the label-agnostic view's confusion, from the first scanner that
        // reads nothing else and reports one
        let view_flows = outputs
            .iter()
            .filter(|(s, _)| s.label_agnostic_only())
            .find_map(|(_, o)| o.confusion.as_deref());
        let input = ScanInput {
            view_flows,
            ..input
        };
        progress.stage(scanner.name());
        warnings.extend(scanner.note(&input));
        let (out, seconds) = match ahead.iter().position(|(name, ..)| *name == scanner.name()) {
            Some(i) => {
                let (_, out, seconds) = ahead.swap_remove(i);
                (out?, seconds)
            }
            None => {
                let t = Instant::now();
                (scanner.scan(&input)?, t.elapsed().as_secs_f64())
            }
        };
        timings.push((scanner.name(), seconds));
        outputs.push((scanner.clone(), out));
    }
    progress.stage("fuse");
    let t = Instant::now();
    let raw: Vec<&ScanOutput> = outputs.iter().map(|(_, o)| o).collect();
    // On the scan's own model's representation, the sub-population scanners'
    // class tests need the label-agnostic view to agree (see fuse.rs).
    let own_model = matches!(
        ds.feature_source,
        crate::ingest::FeatureSource::Learned { .. }
    );
    let corroborate: Vec<Corroborate> = outputs
        .iter()
        .map(|(s, _)| Corroborate {
            class_test: own_model && s.learned_features_only(),
            row_gate: s.row_gate_needs_corroboration(),
            names_rows: s.names_its_rows(),
        })
        .collect();
    let row_keys = input.row_keys().into_owned();
    let fused = fuse(
        &raw,
        &ds.label_codes,
        ds.class_names.len(),
        &skipped,
        settings,
        &corroborate,
        &row_keys,
    );
    timings.push(("fuse", t.elapsed().as_secs_f64()));
    Ok(ScanReport {
        fused,
        outputs,
        skipped_classes: skipped,
        warnings,
        skipped_scanners,
        timings,
        model: None,
        view,
        row_keys,
        tokens,
    })
}

/// The model step: trains the representation network `--model` asks for
/// and returns the data set with its learned features (the activations of
/// the model trained on every row) and, unless `--probs` gave some, the
/// out-of-fold class probabilities. Returns the data set unchanged for
/// `--model none`.
pub fn learn(
    ds: Dataset,
    options: &ModelOptions,
    progress: &dyn Progress,
) -> Result<(Dataset, Option<ModelReport>), PipelineError> {
    let learned = ds.looks_learned();
    let (ds, report, _) = learn_with(ds, options, progress, learned, |_, _, _| Vec::new())?;
    Ok((ds, report))
}

/// [`learn`], told whether the features are a learned representation.
/// `beside` runs while the model trains, on the data set as it was read and
/// whether its features share one scale — the inputs as the scan after the
/// model sees them (the scanners that do not read the model's output,
/// [`scan_view_ahead`]); it does not run when no model is trained.
fn learn_with(
    mut ds: Dataset,
    options: &ModelOptions,
    progress: &dyn Progress,
    learned: bool,
    beside: impl FnOnce(&Dataset, bool, &dyn Progress) -> Ahead + Send,
) -> Result<(Dataset, Option<ModelReport>, Ahead), PipelineError> {
    let Some(kind) = models::resolve(options.kind, &ds.feature_source, ds.n_rows(), learned)?
    else {
        return Ok((ds, None, Vec::new()));
    };
    let same_scale = poisonscan_scanners::shared_scale(ds.matrix());
    let parts = Parts::new(progress, 2, "");
    let ((rep, seconds), ahead) = rayon::join(
        || {
            let start = Instant::now();
            let rep = models::represent(&ds, kind, options, &parts.part(0));
            (rep, start.elapsed().as_secs_f64())
        },
        || beside(&ds, same_scale, &parts.part(1)),
    );
    let rep = rep?;
    let probabilities = if ds.probs.is_some() {
        "input"
    } else {
        ds.probs = Some(ScalarBuffer::from(rep.probs));
        "out-of-fold"
    };
    let raw = std::mem::replace(&mut ds.features, ScalarBuffer::from(rep.activations));
    ds.inputs = Some((raw, ds.n_features, same_scale));
    ds.n_features = rep.dims;
    let input = std::mem::replace(
        &mut ds.feature_source,
        FeatureSource::Columns {
            columns: vec![],
            categorical: vec![],
        },
    );
    ds.feature_source = FeatureSource::Learned {
        model: rep.model.name().to_string(),
        input: Box::new(input),
    };
    let report = ModelReport {
        model: rep.model,
        options: options.clone(),
        trainings: rep.folds,
        probabilities,
        seconds,
    };
    Ok((ds, Some(report), ahead))
}

/// Reads the inputs, trains the representation model (see [`learn`]) and
/// scans.
pub fn run(
    inputs: &[String],
    ingest_options: &IngestOptions,
    model: &ModelOptions,
    settings: &ScanSettings,
    progress: &dyn Progress,
) -> Result<(Dataset, ScanReport), PipelineError> {
    progress.stage("read");
    let t = Instant::now();
    let ds = ingest::load(inputs, ingest_options)?;
    let ingest_time = t.elapsed().as_secs_f64();
    scan_loaded(ds, ingest_time, model, settings, progress)
}

/// [`learn`] and [`scan_dataset`] on a data set read in `ingest_time`
/// seconds.
pub fn scan_loaded(
    ds: Dataset,
    ingest_time: f64,
    model: &ModelOptions,
    settings: &ScanSettings,
    progress: &dyn Progress,
) -> Result<(Dataset, ScanReport), PipelineError> {
    ingest::check_scannable(&ds)?;
    // Read the whole matrix once to tell a learned representation from raw
    // values; a trained model's activations are learned by definition.
    let learned = ds.looks_learned();
    let auto_declined = (model.kind == ModelKind::Auto)
        .then(|| models::auto_declines(&ds.feature_source, ds.n_rows(), learned))
        .flatten();
    let tokens = ds.text_tokens();
    let (ds, model_report, ahead) =
        learn_with(ds, model, progress, learned, |ds, same_scale, beside| {
            scan_view_ahead(ds, same_scale, settings, tokens.as_ref(), beside)
        })?;
    let learned = learned || model_report.is_some();
    let mut report = scan_with(&ds, settings, progress, learned, ahead, tokens)?;
    if let Some(why) = auto_declined {
        report.warnings.push(why);
    }
    report.timings.insert(0, ("ingest", ingest_time));
    if let Some(m) = &model_report {
        report.timings.insert(1, ("model", m.seconds));
    }
    report.model = model_report;
    Ok((ds, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what a progress display would show.
    #[derive(Default)]
    struct Shown(std::sync::Mutex<(String, u64, u64)>);

    impl Progress for Shown {
        fn stage(&self, name: &str) {
            let mut s = self.0.lock().unwrap();
            *s = (name.to_string(), 0, 0);
        }
        fn steps(&self, done: u64, total: u64) {
            let mut s = self.0.lock().unwrap();
            (s.1, s.2) = (done, total);
        }
    }

    #[test]
    fn parts_show_every_running_part_with_its_steps() {
        let shown = Shown::default();
        let text = || shown.0.lock().unwrap().0.clone();
        let parts = Parts::new(&shown, 3, "model: ");
        let (fold, all) = (parts.part(0), parts.part(2));
        fold.stage("model: fold 1/2, epoch 1/4");
        all.stage("model: all rows, epoch 1/2");
        fold.steps(3, 10);
        all.steps(2, 20);
        assert_eq!(
            text(),
            "model: fold 1/2, epoch 1/4 (3/10) · all rows, epoch 1/2 (2/20)"
        );
        // a new stage of one part restarts its own steps only
        fold.stage("model: fold 1/2, epoch 2/4");
        assert_eq!(
            text(),
            "model: fold 1/2, epoch 2/4 · all rows, epoch 1/2 (2/20)"
        );
        // a finished part leaves the display
        drop(fold);
        assert_eq!(text(), "model: all rows, epoch 1/2 (2/20)");
        // parts nest: a part of the outer display carries the inner one's text
        let outer = Parts::new(&shown, 2, "");
        let (model, beside) = (outer.part(0), outer.part(1));
        let inner = Parts::new(&model, 2, "model: ");
        let training = inner.part(1);
        training.stage("model: all rows, epoch 1/2");
        beside.stage("knn-label-disagreement");
        assert_eq!(
            text(),
            "model: all rows, epoch 1/2 · knn-label-disagreement"
        );
    }
}
