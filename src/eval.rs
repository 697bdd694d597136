//! Detection metrics: how well a scan's scores and flags match the ground
//! truth of a red-team file. The metrics are pure functions over slices;
//! [`evaluate_files`] reads and joins the two files (through
//! [`crate::ingest::read_columns`]); printing is [`crate::report`]'s.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, UInt64Type};
use serde::Serialize;
use thiserror::Error;

use poisonscan_scanners::SCANNERS;

use crate::ingest::{read_columns, IngestError};
use crate::report::scanner_column;

/// Evaluation that could not run.
#[derive(Debug, Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A column of the wrong type.
    #[error("{}: column `{column}` cannot be read as {expected}: {message}", file.display())]
    Column {
        /// The file.
        file: std::path::PathBuf,
        /// The column.
        column: String,
        /// The type wanted.
        expected: &'static str,
        /// Why.
        message: String,
    },
    /// The two files do not describe the same rows.
    #[error("{0}")]
    Mismatch(String),
}

fn column_as(
    file: &Path,
    batch: &arrow::array::RecordBatch,
    column: &str,
    dt: DataType,
    expected: &'static str,
) -> Result<ArrayRef, EvalError> {
    let a = batch
        .column_by_name(column)
        .expect("read_columns returned it");
    cast(a, &dt).map_err(|e| EvalError::Column {
        file: file.to_path_buf(),
        column: column.to_string(),
        expected,
        message: e.to_string(),
    })
}

/// Whether two labels name the same class: the same text, or the same
/// number written two ways (`5` in a truth file, `5.0` where the data kept
/// its labels as floats — SPSS, SAS and R store numbers so).
fn same_label(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (a.trim().parse::<f64>(), b.trim().parse::<f64>()),
            (Ok(x), Ok(y)) if x == y
        )
}

fn strings(a: &ArrayRef) -> Vec<String> {
    let s = a.as_string::<i32>();
    (0..s.len()).map(|i| s.value(i).to_string()).collect()
}

/// Reads a scores file and a ground-truth file, joins them (on `id` when
/// both have one, else on `row`; a truth file without `row` is taken in
/// order) and evaluates. The truth's labels (column `label_column`) must be
/// the scanned ones. The scan's verdict is read from the `summary.json`
/// beside the scores, when there is one.
pub fn evaluate_files(
    scores_path: &Path,
    truth_path: &Path,
    truth_column: &str,
    label_column: &str,
) -> Result<Evaluation, EvalError> {
    let scanner_columns: Vec<(String, String)> = SCANNERS
        .iter()
        .map(|s| (s.name().to_string(), scanner_column(s.name())))
        .collect();
    let optional: Vec<&str> = ["id", "label", "significance", "rank"]
        .into_iter()
        .chain(scanner_columns.iter().map(|(_, c)| c.as_str()))
        .collect();
    let scores = read_columns(scores_path, &["row", "score", "flagged"], &optional)?;
    let truth = read_columns(truth_path, &[truth_column, label_column], &["row", "id"])?;
    let keys = |file: &Path,
                b: &arrow::array::RecordBatch,
                use_id: bool|
     -> Result<Vec<String>, EvalError> {
        if use_id {
            return Ok(strings(&column_as(file, b, "id", DataType::Utf8, "text")?));
        }
        Ok(match b.column_by_name("row") {
            Some(_) => column_as(file, b, "row", DataType::UInt64, "an unsigned integer")?
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .map(u64::to_string)
                .collect(),
            None => (0..b.num_rows()).map(|i| i.to_string()).collect(),
        })
    };
    let use_id = scores.column_by_name("id").is_some() && truth.column_by_name("id").is_some();
    let truth_keys = keys(truth_path, &truth, use_id)?;
    let score_keys = keys(scores_path, &scores, use_id)?;
    if score_keys.len() != truth_keys.len() {
        return Err(EvalError::Mismatch(format!(
            "{} has {} rows but {} has {}",
            scores_path.display(),
            score_keys.len(),
            truth_path.display(),
            truth_keys.len()
        )));
    }
    let index: HashMap<&str, usize> = truth_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let truth_flags = column_as(
        truth_path,
        &truth,
        truth_column,
        DataType::Boolean,
        "boolean",
    )?;
    let truth_flags = truth_flags.as_boolean();
    let truth_labels = strings(&column_as(
        truth_path,
        &truth,
        label_column,
        DataType::Utf8,
        "text",
    )?);
    // rows are ranked as the scan ranked them (`rank`, counted from the
    // top: its negative orders rows as a score does); in a file without it,
    // by their significance (−log₁₀ p), which does not round to 1.0 as the
    // score of many rows does; else by the score
    let by_rank = scores.column_by_name("rank").is_some();
    let rank_column = if by_rank {
        "rank"
    } else if scores.column_by_name("significance").is_some() {
        "significance"
    } else {
        "score"
    };
    let score_col = column_as(
        scores_path,
        &scores,
        rank_column,
        DataType::Float64,
        "a number",
    )?;
    let score_col = score_col.as_primitive::<Float64Type>();
    let flagged_col = column_as(
        scores_path,
        &scores,
        "flagged",
        DataType::Boolean,
        "boolean",
    )?;
    let flagged_col = flagged_col.as_boolean();
    let score_labels = match scores.column_by_name("label") {
        Some(_) => Some(strings(&column_as(
            scores_path,
            &scores,
            "label",
            DataType::Utf8,
            "text",
        )?)),
        None => None,
    };
    let n = score_keys.len();
    let (mut s, mut f, mut t, mut l) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, key) in score_keys.iter().enumerate() {
        let Some(&j) = index.get(key.as_str()) else {
            return Err(EvalError::Mismatch(format!(
                "{}: row {i} (key `{key}`) has no match in {}",
                scores_path.display(),
                truth_path.display()
            )));
        };
        if let Some(sl) = &score_labels {
            if !same_label(&sl[i], &truth_labels[j]) {
                let differ = score_keys
                    .iter()
                    .enumerate()
                    .filter(|(a, k)| {
                        index
                            .get(k.as_str())
                            .is_some_and(|&b| !same_label(&sl[*a], &truth_labels[b]))
                    })
                    .count();
                return Err(EvalError::Mismatch(format!(
                    "the labels differ at {differ} of {n} rows (first: row {i}, `{}` in {} but `{}` in {}); \
                     the truth file does not describe the data that was scanned",
                    sl[i],
                    scores_path.display(),
                    truth_labels[j],
                    truth_path.display()
                )));
            }
        }
        s.push(score_col.is_valid(i).then(|| {
            let v = score_col.value(i);
            if by_rank {
                -v
            } else {
                v
            }
        }));
        f.push(flagged_col.is_valid(i) && flagged_col.value(i));
        t.push(truth_flags.is_valid(j) && truth_flags.value(j));
        l.push(truth_labels[j].clone());
    }
    let verdict = scores_path
        .parent()
        .map(|d| d.join("summary.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["verdict"].as_str().map(str::to_string));
    let mut evaluation = evaluate(&s, &f, &t, &l, verdict);
    for (name, column) in &scanner_columns {
        if scores.column_by_name(column).is_none() {
            continue;
        }
        let col = column_as(scores_path, &scores, column, DataType::Float64, "a number")?;
        let col = col.as_primitive::<Float64Type>();
        let own: Vec<f64> = (0..n)
            .map(|i| if col.is_valid(i) { col.value(i) } else { 0.0 })
            .map(|v| if v.is_nan() { 0.0 } else { v })
            .collect();
        evaluation.scanners.push(ScannerMetrics {
            scanner: name.clone(),
            auroc: auroc(&own, &t),
            average_precision: average_precision(&own, &t),
        });
    }
    Ok(evaluation)
}

/// Area under the ROC curve, counting ties as half (the Mann–Whitney U
/// statistic with midranks). `None` without both classes.
pub fn auroc(scores: &[f64], truth: &[bool]) -> Option<f64> {
    let pos = truth.iter().filter(|&&t| t).count();
    let neg = truth.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let midrank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += midrank * order[i..=j].iter().filter(|&&k| truth[k]).count() as f64;
        i = j + 1;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// Average precision: the mean over thresholds (each distinct score, high to
/// low) of precision, weighted by the gain in recall. Tied scores enter
/// together. `None` without positives.
pub fn average_precision(scores: &[f64], truth: &[bool]) -> Option<f64> {
    let pos = truth.iter().filter(|&&t| t).count();
    if pos == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        tp += order[i..=j].iter().filter(|&&k| truth[k]).count();
        seen += j - i + 1;
        let recall = tp as f64 / pos as f64;
        ap += (recall - last_recall) * tp as f64 / seen as f64;
        last_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// The `k` highest-scoring rows; ties go to the earlier row.
pub fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Precision and recall of a set of flagged rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrecisionRecall {
    /// Rows flagged.
    pub flagged: usize,
    /// Of them, poisoned.
    pub hits: usize,
    /// hits / flagged (`None` when nothing is flagged).
    pub precision: Option<f64>,
    /// hits / poisoned (`None` without poison).
    pub recall: Option<f64>,
}

fn precision_recall(flags: &[bool], truth: &[bool]) -> PrecisionRecall {
    let flagged = flags.iter().filter(|&&f| f).count();
    let hits = flags.iter().zip(truth).filter(|(f, t)| **f && **t).count();
    let pos = truth.iter().filter(|&&t| t).count();
    PrecisionRecall {
        flagged,
        hits,
        precision: (flagged > 0).then(|| hits as f64 / flagged as f64),
        recall: (pos > 0).then(|| hits as f64 / pos as f64),
    }
}

/// Metrics for one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// The label (as in the truth file).
    pub label: String,
    /// Rows.
    pub rows: usize,
    /// Poisoned rows.
    pub poisoned: usize,
    /// Flagged rows.
    pub flagged: usize,
    /// Flagged and poisoned.
    pub hits: usize,
    /// AUROC within the class, when it has both kinds of row.
    pub auroc: Option<f64>,
}

/// Everything `poisonscan eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Poisoned rows.
    pub poisoned: usize,
    /// AUROC of the fused score.
    pub auroc: Option<f64>,
    /// Average precision of the fused score.
    pub average_precision: Option<f64>,
    /// Precision and recall of the scan's own `flagged` column.
    pub flagged: PrecisionRecall,
    /// The removal budget: 1.5 × the poisoned count, rounded up.
    pub budget: usize,
    /// Precision and recall of the top `budget` rows by score.
    pub at_budget: PrecisionRecall,
    /// Flagged clean rows / clean rows.
    pub false_positive_rate: Option<f64>,
    /// The scan's data-set verdict, when its summary.json was found.
    pub verdict: Option<String>,
    /// Whether that verdict is right (fail ⇔ any poison).
    pub verdict_correct: Option<bool>,
    /// Per class.
    pub classes: Vec<ClassMetrics>,
    /// AUROC of each scanner's own score, for the scanners whose
    /// `score_<scanner>` column the scores file has.
    pub scanners: Vec<ScannerMetrics>,
}

/// How well one scanner's own score ranks the poisoned rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScannerMetrics {
    /// The scanner's name.
    pub scanner: String,
    /// AUROC of its score (a missing score counts as 0).
    pub auroc: Option<f64>,
    /// Average precision of its score.
    pub average_precision: Option<f64>,
}

/// Evaluates scores (a missing score counts as 0) and flags against the truth.
pub fn evaluate(
    scores: &[Option<f64>],
    flags: &[bool],
    truth: &[bool],
    labels: &[String],
    verdict: Option<String>,
) -> Evaluation {
    let s: Vec<f64> = scores.iter().map(|v| v.unwrap_or(0.0)).collect();
    let poisoned = truth.iter().filter(|&&t| t).count();
    let clean = truth.len() - poisoned;
    let budget = (1.5 * poisoned as f64).ceil() as usize;
    let mut in_budget = vec![false; s.len()];
    for i in top_k(&s, budget) {
        in_budget[i] = true;
    }
    let false_alarms = flags.iter().zip(truth).filter(|(f, t)| **f && !**t).count();
    let mut names: Vec<&String> = labels.iter().collect();
    names.sort_by(|a, b| match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    names.dedup();
    let classes = names
        .into_iter()
        .map(|name| {
            let idx: Vec<usize> = (0..labels.len()).filter(|&i| &labels[i] == name).collect();
            let cs: Vec<f64> = idx.iter().map(|&i| s[i]).collect();
            let ct: Vec<bool> = idx.iter().map(|&i| truth[i]).collect();
            ClassMetrics {
                label: name.clone(),
                rows: idx.len(),
                poisoned: ct.iter().filter(|&&t| t).count(),
                flagged: idx.iter().filter(|&&i| flags[i]).count(),
                hits: idx.iter().filter(|&&i| flags[i] && truth[i]).count(),
                auroc: auroc(&cs, &ct),
            }
        })
        .collect();
    let verdict_correct = verdict.as_deref().map(|v| (v == "fail") == (poisoned > 0));
    Evaluation {
        rows: s.len(),
        poisoned,
        auroc: auroc(&s, truth),
        average_precision: average_precision(&s, truth),
        flagged: precision_recall(flags, truth),
        budget,
        at_budget: precision_recall(&in_budget, truth),
        false_positive_rate: (clean > 0).then(|| false_alarms as f64 / clean as f64),
        verdict,
        verdict_correct,
        classes,
        scanners: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_perfect_inverted_and_tied() {
        let t = [true, true, false, false];
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &t), Some(1.0));
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &t), Some(0.0));
        assert_eq!(auroc(&[0.5, 0.5, 0.5, 0.5], &t), Some(0.5));
        // one positive tied with one negative, the other above all: (1 + 0.5 + 1 + 1) / 4
        assert_eq!(auroc(&[0.9, 0.5, 0.5, 0.1], &t), Some(0.875));
        assert_eq!(auroc(&[0.1, 0.2], &[false, false]), None);
    }

    #[test]
    fn labels_written_as_floats_match_whole_numbers() {
        assert!(same_label("5", "5.0") && same_label("cat", "cat"));
        assert!(!same_label("5", "5.5") && !same_label("cat", "dog") && !same_label("1", "01x"));
    }

    #[test]
    fn average_precision_by_hand() {
        let t = [true, false, true, false];
        // ranks: P, N, P, N → (1/1 + 2/3) / 2
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.1], &t).unwrap();
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(
            average_precision(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]),
            Some(1.0)
        );
        // all tied: precision 2/4 at recall 1
        assert_eq!(average_precision(&[0.5; 4], &t), Some(0.5));
        assert_eq!(average_precision(&[0.5; 2], &[false, false]), None);
    }

    #[test]
    fn budget_flags_and_classes() {
        let scores = [Some(0.9), Some(0.8), Some(0.7), None, Some(0.1), Some(0.05)];
        let flags = [true, true, false, false, false, true];
        let truth = [true, false, true, false, false, false];
        let labels: Vec<String> = ["1", "1", "10", "10", "2", "2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = evaluate(&scores, &flags, &truth, &labels, Some("fail".into()));
        assert_eq!(e.budget, 3);
        assert_eq!(e.at_budget.hits, 2);
        assert_eq!(e.at_budget.recall, Some(1.0));
        assert_eq!(e.flagged.precision, Some(1.0 / 3.0));
        assert_eq!(e.flagged.recall, Some(0.5));
        assert_eq!(e.false_positive_rate, Some(0.5));
        assert_eq!(e.verdict_correct, Some(true));
        let order: Vec<&str> = e.classes.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(order, vec!["1", "2", "10"]);
        assert_eq!(e.classes[0].auroc, Some(1.0));
    }
}
