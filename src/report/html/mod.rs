//! `report.html`: the analyst's review page — one self-contained file (no
//! network, no scripts, pictures as `data:` PNG URIs, charts as inline SVG)
//! built from a scan's `summary.json`, its scores table and the scanned
//! data. The page model ([`Report`]) is built first and rendered by an
//! `askama` template, which escapes every value unless told otherwise (only
//! the SVG charts, drawn by `plotters`, are inserted as they are).

mod charts;
pub mod evidence;
mod page;
pub mod pictures;
mod scores_in;

use std::cell::{Cell, OnceCell};
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use base64::Engine;
use poisonscan_scanners::MatrixRef;
use serde_json::Value;

pub use page::{
    Chart, ClassRow, FileRow, GroupView, NeighbourView, Report, RowView, TestCell, TriggerView,
};
pub use scores_in::ScoreTable;

use crate::ingest::{white_of, Dataset, FeatureSource};
use evidence::{flagged_groups, sort_by_rank, trigger_map, Group, View};
use pictures::Shape;

/// Options of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// Most rows shown per group and among the near misses.
    pub max_rows: usize,
}

/// Default of `--report-max-rows`.
pub const DEFAULT_MAX_ROWS: usize = 64;

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            max_rows: DEFAULT_MAX_ROWS,
        }
    }
}

/// Groups shown with their rows; the rest are listed by size only.
const MAX_GROUPS: usize = 24;
/// Failed classes whose score distribution is drawn.
const MAX_CHARTS: usize = 12;
/// Neighbours shown per such row.
const NEIGHBOURS: usize = 3;
/// Feature columns in a tabular group's table.
const FEATURE_COLUMNS: usize = 6;
/// Bytes of thumbnails a page holds at most (about 8 MB): enough for
/// every thumbnail of a page of small images, a bound for large photos.
const PICTURE_BUDGET: usize = 8 << 20;

/// Characters of a row's caption (the sentence a text embedding encodes)
/// shown; the rest is cut, so that long documents keep the page small.
const CAPTION_CHARS: usize = 280;
/// Near misses shown on a page that passed.
const PASSED_NEAR_MISSES: usize = 16;

/// The scanned features as read (not a learned representation): pixels
/// with their shape, or named columns.
struct Inputs<'a> {
    x: MatrixRef<'a>,
    shape: Option<Shape>,
    /// The value of a white pixel, for images (see
    /// [`crate::ingest::white_of`]; 1 otherwise).
    white: f32,
    names: Vec<String>,
}

fn inputs(ds: &Dataset) -> Inputs<'_> {
    let (data, dims, source) = match (&ds.inputs, &ds.feature_source) {
        (Some((x, d, _)), FeatureSource::Learned { input, .. }) => (&x[..], *d, &**input),
        (Some((x, d, _)), source) => (&x[..], *d, source),
        (None, source) => (&ds.features[..], ds.n_features, source),
    };
    let x = MatrixRef::new(data, ds.n_rows(), dims).expect("input matrix shape is an invariant");
    let (shape, names) = match source {
        FeatureSource::Pixels {
            height,
            width,
            channels,
        } if height * width * channels == dims => (
            Some(Shape {
                height: *height,
                width: *width,
                channels: *channels,
            }),
            Vec::new(),
        ),
        FeatureSource::Columns { columns, .. } if columns.len() == dims => (None, columns.clone()),
        FeatureSource::Embedding { column } => {
            (None, (0..dims).map(|j| format!("{column}[{j}]")).collect())
        }
        _ => (None, (0..dims).map(|j| format!("feature {j}")).collect()),
    };
    let white = if shape.is_some() { white_of(data) } else { 1.0 };
    Inputs {
        x,
        shape,
        white,
        names,
    }
}

/// A number for the page: `—` for none, short scientific notation for
/// small p-values.
fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.is_nan() => "—".into(),
        Some(v) if v != 0.0 && v.abs() < 1e-3 => format!("{v:.1e}"),
        Some(v) => format!("{:.4}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// Whether the scan's input is the one `ds` was read from: the same files
/// with the same SHA-256 (the embedded demo: its one embedded source).
/// `Err` names the first difference.
pub fn check_same_input(summary: &Value, ds: &Dataset) -> Result<(), String> {
    let files = summary["files"].as_array().cloned().unwrap_or_default();
    if files.len() != ds.sources.len() {
        return Err(format!(
            "the scan read {} file(s), the input now has {}",
            files.len(),
            ds.sources.len()
        ));
    }
    for (f, s) in files.iter().zip(&ds.sources) {
        if f["sha256"].as_str() != Some(s.sha256.as_str()) {
            return Err(format!(
                "{} changed since the scan (SHA-256 differs)",
                s.path.display()
            ));
        }
    }
    if summary["rows"]["input"].as_u64() != Some(ds.n_input_rows as u64) {
        return Err("the row count differs from the scan's".into());
    }
    Ok(())
}

/// The scanned rows as the page reads them (indices are kept rows): scores,
/// flags and suspected classes from the scores table, labels and pictures
/// from the data set, and the page's picture budget.
struct Rows<'a> {
    ds: &'a Dataset,
    scores: &'a ScoreTable,
    /// The caption column's values as text, per input row.
    captions: Option<arrow::array::StringArray>,
    input: Inputs<'a>,
    score: Vec<f64>,
    /// The order rows are shown in (the significance, see [`ScoreTable`]).
    rank: Vec<f64>,
    flagged: Vec<bool>,
    suspected: Vec<Option<u32>>,
    code_of: HashMap<&'a str, u32>,
    /// Bytes of thumbnails so far, and rows shown without one since the
    /// budget ran out: thumbnails come in page order (groups, largest
    /// first, then near misses).
    picture_bytes: Cell<usize>,
    omitted: Cell<usize>,
}

impl<'a> Rows<'a> {
    fn new(ds: &'a Dataset, scores: &'a ScoreTable) -> Self {
        let n = ds.n_rows();
        let code_of: HashMap<&str, u32> = ds
            .class_names
            .iter()
            .enumerate()
            .map(|(c, name)| (name.as_str(), c as u32))
            .collect();
        let row = |k: usize| ds.kept_rows[k] as usize;
        let suspected = (0..n)
            .map(|k| {
                scores.suspected[row(k)]
                    .as_deref()
                    .and_then(|s| code_of.get(s).copied())
            })
            .collect();
        let captions = ds.caption_text().map(|(_, text)| text);
        Self {
            ds,
            scores,
            captions,
            input: inputs(ds),
            score: (0..n).map(|k| scores.score[row(k)]).collect(),
            rank: (0..n).map(|k| scores.rank()[row(k)]).collect(),
            flagged: (0..n).map(|k| scores.flagged[row(k)]).collect(),
            suspected,
            code_of,
            picture_bytes: Cell::new(0),
            omitted: Cell::new(0),
        }
    }

    fn len(&self) -> usize {
        self.score.len()
    }

    /// The input row of kept row `k`.
    fn row(&self, k: usize) -> usize {
        self.ds.kept_rows[k] as usize
    }

    fn label(&self, k: usize) -> u32 {
        self.ds.label_codes[k]
    }

    /// A class as the page names it (with its title when the file gives one).
    fn class_label(&self, c: u32) -> String {
        match &self.ds.class_titles {
            Some(t) => format!("{} ({})", self.ds.class_names[c as usize], t[c as usize]),
            None => self.ds.class_names[c as usize].clone(),
        }
    }

    /// A thumbnail of row `k` at most `side` pixels a side, while the
    /// picture budget lasts (images only).
    fn thumb(&self, k: usize, side: u32) -> Option<String> {
        let shape = self.input.shape?;
        if self.picture_bytes.get() >= PICTURE_BUDGET {
            self.omitted.set(self.omitted.get() + 1);
            return None;
        }
        let uri = pictures::thumbnail(self.input.x.row(k), shape, self.input.white, side);
        self.picture_bytes.set(self.picture_bytes.get() + uri.len());
        Some(uri)
    }

    /// Row `k`'s caption, cut to [`CAPTION_CHARS`] characters.
    fn caption(&self, k: usize) -> Option<String> {
        let c = self.captions.as_ref()?;
        let r = self.row(k);
        if arrow::array::Array::is_null(c, r) {
            return None;
        }
        let text = c.value(r);
        Some(match text.char_indices().nth(CAPTION_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        })
    }

    /// Row `k`'s score as the page shows it; where it rounds to 1, with its
    /// significance (`−log₁₀ p`), which tells such rows apart.
    fn score_text(&self, k: usize) -> String {
        let score = fmt_num(Some(self.score[k]));
        match &self.scores.significance {
            Some(s) if score == "1" && s[self.row(k)].is_finite() => {
                format!("1 (significance {:.1})", s[self.row(k)])
            }
            _ => score,
        }
    }

    /// Row `k` as the page shows it, with the feature `columns` (tables).
    fn view(&self, k: usize, columns: &[usize]) -> RowView {
        let r = self.row(k);
        RowView {
            row: r as u64,
            id: self.scores.id.as_ref().map(|ids| ids[r].clone()),
            label: self.class_label(self.label(k)),
            suspected: self.suspected[k]
                .filter(|&s| s != self.label(k))
                .map(|s| self.class_label(s)),
            score: self.score_text(k),
            reasons: self.scores.reasons[r].replace(',', ", "),
            thumb: self.thumb(k, pictures::THUMB_SIDE),
            caption: self.caption(k),
            values: columns
                .iter()
                .map(|&j| fmt_num(Some(self.input.x.row(k)[j] as f64)))
                .collect(),
            neighbours: Vec::new(),
        }
    }
}

/// The class table from the summary, failed classes first; also which
/// classes failed (by class code) and the scanners that ran.
fn class_table(summary: &Value, rows: &Rows<'_>) -> (Vec<ClassRow>, Vec<bool>, Vec<String>) {
    let summary_classes = summary["classes"].as_array().cloned().unwrap_or_default();
    let scanners: Vec<String> = summary_classes
        .first()
        .and_then(|c| c["scanners"].as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut class_failed = vec![false; rows.ds.class_names.len()];
    let mut classes: Vec<ClassRow> = summary_classes
        .iter()
        .map(|c| {
            let label = text(&c["label"]);
            let failed = c["verdict"] == "fail";
            let code = rows.code_of.get(label.as_str()).copied();
            if let Some(code) = code {
                class_failed[code as usize] = failed;
            }
            let failed_by: Vec<&str> = c["failed_by"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            ClassRow {
                label: code.map(|code| rows.class_label(code)).unwrap_or(label),
                rows: c["rows"].as_u64().unwrap_or(0),
                flagged: c["flagged"].as_u64().unwrap_or(0),
                class_score: fmt_num(c["class_score"].as_f64()),
                tests: scanners
                    .iter()
                    .map(|s| {
                        let t = &c["scanners"][s];
                        TestCell {
                            p: fmt_num(t["class_p_value"].as_f64()),
                            failed: failed_by.contains(&s.as_str()),
                            words: t["token_text"].as_str().map(|w| {
                                let count = |k: &str| t[k].as_f64().unwrap_or(f64::NAN);
                                let w = crate::report::visible_word(w);
                                let also: Vec<String> = t["also_token_texts"]
                                    .as_array()
                                    .map(|a| {
                                        a.iter()
                                            .filter_map(Value::as_str)
                                            .map(str::to_string)
                                            .collect()
                                    })
                                    .unwrap_or_default();
                                let note = format!(
                                    "“{w}”: {:.0} rows carry it; {}",
                                    count("token_rows"),
                                    crate::report::set_apart(
                                        count("token_contradicted"),
                                        count("token_sampled"),
                                        &also,
                                        t["also_tokens"].as_f64().unwrap_or(0.0)
                                    )
                                );
                                (w, note)
                            }),
                        }
                    })
                    .collect(),
                verdict: text(&c["verdict"]),
                failed,
            }
        })
        .collect();
    classes.sort_by_key(|c| !c.failed);
    (classes, class_failed, scanners)
}

/// Score distributions of the failed classes against the passing ones.
fn score_charts(rows: &Rows<'_>, class_failed: &[bool], threshold: f64) -> Vec<Chart> {
    let n = rows.len();
    let passing: Vec<f64> = (0..n)
        .filter(|&k| !class_failed[rows.label(k) as usize])
        .map(|k| rows.score[k])
        .collect();
    (0..class_failed.len() as u32)
        .filter(|&c| class_failed[c as usize])
        .take(MAX_CHARTS)
        .map(|c| {
            let own: Vec<f64> = (0..n)
                .filter(|&k| rows.label(k) == c)
                .map(|k| rows.score[k])
                .collect();
            Chart {
                label: rows.class_label(c),
                rows: own.len(),
                svg: charts::score_histogram(&own, &passing, threshold),
            }
        })
        .collect()
}

/// What the group views share.
struct GroupContext<'a> {
    view: View,
    unflagged_by_class: BTreeMap<u32, Vec<usize>>,
    spread: OnceCell<Vec<f64>>,
    /// The kNN scanner ran: show each row's nearest other-label rows.
    knn_ran: bool,
    /// When it did, per class of a shown group, the rows of other classes
    /// (one pool per class, shared by its groups).
    other_label: BTreeMap<u32, Vec<usize>>,
    max_rows: usize,
    rows: &'a Rows<'a>,
}

impl GroupContext<'_> {
    /// One flagged group: its trigger map (images) or distinguishing
    /// columns (tables), its rows with their other-label neighbours, and
    /// the scanners that fired.
    fn group_view(&self, g: &Group) -> GroupView {
        let rows = self.rows;
        let input = &rows.input;
        let reference = self
            .unflagged_by_class
            .get(&g.source.unwrap_or(g.class))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let map = trigger_map(input.x, &self.view, &g.rows, reference);
        let (trigger, columns) = match (&map, input.shape) {
            (Some(t), Some(shape)) => {
                let per_pixel = pictures::per_pixel(&t.difference, shape);
                let (heat, peak) = pictures::heat_map(&per_pixel, shape.height, shape.width);
                let trigger = TriggerView {
                    heat,
                    peak: fmt_num(Some(peak as f64)),
                    members_mean: pictures::thumbnail(
                        &t.members_mean,
                        shape,
                        input.white,
                        pictures::THUMB_SIDE,
                    ),
                    reference_mean: pictures::thumbnail(
                        &t.reference_mean,
                        shape,
                        input.white,
                        pictures::THUMB_SIDE,
                    ),
                    members: t.members,
                    reference: t.reference,
                    map: per_pixel,
                    height: shape.height,
                    width: shape.width,
                };
                (Some(trigger), Vec::new())
            }
            (Some(t), None) => {
                let spread = self
                    .spread
                    .get_or_init(|| evidence::feature_spread(input.x));
                let columns =
                    evidence::distinguishing_features(&t.difference, spread, FEATURE_COLUMNS);
                (None, columns)
            }
            (None, _) => (None, Vec::new()),
        };
        let other_label: &[usize] = self
            .other_label
            .get(&g.class)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let shown = g
            .rows
            .iter()
            .take(self.max_rows)
            .map(|&k| {
                let mut r = rows.view(k, &columns);
                if self.knn_ran {
                    r.neighbours = self
                        .view
                        .nearest(k, other_label, NEIGHBOURS)
                        .into_iter()
                        .map(|m| NeighbourView {
                            row: rows.row(m) as u64,
                            label: rows.class_label(rows.label(m)),
                            thumb: rows.thumb(m, pictures::SMALL_SIDE),
                            caption: rows.caption(m),
                        })
                        .collect();
                }
                r
            })
            .collect();
        let mut fired: BTreeMap<&str, usize> = BTreeMap::new();
        for &k in &g.rows {
            for r in rows.scores.reasons[rows.row(k)]
                .split(',')
                .filter(|r| !r.is_empty())
            {
                *fired.entry(r).or_default() += 1;
            }
        }
        let mut fired: Vec<(String, usize)> =
            fired.into_iter().map(|(s, c)| (s.to_string(), c)).collect();
        fired.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        GroupView {
            class: rows.class_label(g.class),
            source: g.source.map(|s| rows.class_label(s)),
            size: g.rows.len(),
            fired,
            trigger,
            columns: columns.iter().map(|&j| input.names[j].clone()).collect(),
            reference_values: match &map {
                Some(t) => columns
                    .iter()
                    .map(|&j| fmt_num(Some(t.reference_mean[j] as f64)))
                    .collect(),
                None => Vec::new(),
            },
            more: g.rows.len().saturating_sub(self.max_rows),
            rows: shown,
        }
    }
}

/// Builds the page model from a scan's summary, its scores table (one row
/// per input row) and the scanned data set. `ran_at` is when the scan
/// wrote its results.
pub fn build(
    summary: &Value,
    scores: &ScoreTable,
    ds: &Dataset,
    options: ReportOptions,
    ran_at: SystemTime,
) -> Result<Report, String> {
    if scores.len() != ds.n_input_rows {
        return Err(format!(
            "the scores table has {} rows, the data set {}",
            scores.len(),
            ds.n_input_rows
        ));
    }
    let max_rows = options.max_rows.max(1);
    let rows = Rows::new(ds, scores);
    let n = rows.len();
    let threshold = summary["settings"]["threshold"].as_f64().unwrap_or(0.99);
    let (classes, class_failed, scanners) = class_table(summary, &rows);
    let charts = score_charts(&rows, &class_failed, threshold);

    // Flagged groups, with their trigger maps.
    let groups = flagged_groups(
        &ds.label_codes,
        &rows.flagged,
        &rows.suspected,
        &rows.rank,
        &class_failed,
    );
    let hidden = groups.len().saturating_sub(MAX_GROUPS);
    let hidden_rows: usize = groups.iter().skip(MAX_GROUPS).map(|g| g.rows.len()).sum();
    let group_views: Vec<GroupView> = if groups.is_empty() {
        Vec::new()
    } else {
        let mut unflagged_by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for k in (0..n).filter(|&k| !rows.flagged[k]) {
            unflagged_by_class.entry(rows.label(k)).or_default().push(k);
        }
        let knn_ran = scanners.iter().any(|s| s == "knn-label-disagreement");
        let mut other_label: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        if knn_ran {
            for g in groups.iter().take(MAX_GROUPS) {
                other_label
                    .entry(g.class)
                    .or_insert_with(|| (0..n).filter(|&k| rows.label(k) != g.class).collect());
            }
        }
        let context = GroupContext {
            view: View::new(
                rows.input.x,
                summary["settings"]["seed"].as_u64().unwrap_or_default(),
            ),
            unflagged_by_class,
            spread: OnceCell::new(),
            knn_ran,
            other_label,
            max_rows,
            rows: &rows,
        };
        groups
            .iter()
            .take(MAX_GROUPS)
            .map(|g| context.group_view(g))
            .collect()
    };

    // Near misses: the highest-scoring rows that were not flagged.
    let passed = summary["verdict"] == "pass";
    let near_count = if passed {
        max_rows.min(PASSED_NEAR_MISSES)
    } else {
        max_rows
    };
    let mut candidates: Vec<usize> = (0..n)
        .filter(|&k| !rows.flagged[k] && !rows.score[k].is_nan())
        .collect();
    sort_by_rank(&mut candidates, &rows.rank);
    let near_misses: Vec<RowView> = candidates
        .into_iter()
        .take(near_count)
        .map(|k| rows.view(k, &[]))
        .collect();

    let flagged_rows = scores.flagged.iter().filter(|&&f| f).count();
    let export_href = (flagged_rows > 0).then(|| {
        format!(
            "data:text/csv;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(scores.flagged_csv())
        )
    });
    let inputs_given: Vec<String> = summary["inputs"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    let dataset = if inputs_given == ["--demo"] {
        "embedded demo (digits with a planted BadNets patch)".to_string()
    } else {
        inputs_given.join(", ")
    };
    Ok(Report {
        passed,
        verdict: text(&summary["verdict"]),
        dataset,
        rows_input: summary["rows"]["input"].as_u64().unwrap_or(0),
        rows_scanned: summary["rows"]["scanned"].as_u64().unwrap_or(0),
        rows_flagged: flagged_rows,
        failed_classes: summary["failed_classes"].as_u64().unwrap_or(0),
        threshold: fmt_num(Some(threshold)),
        budget: fmt_num(summary["settings"]["budget"].as_f64()),
        min_flagged: text(&summary["settings"]["min_flagged"]),
        seed: text(&summary["settings"]["seed"]),
        version: text(&summary["tool"]["version"]),
        ran_at: humantime::format_rfc3339_seconds(ran_at).to_string(),
        files: summary["files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| FileRow {
                        path: text(&f["path"]),
                        sha256: text(&f["sha256"]),
                        rows: f["rows"].as_u64().unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        // From the summary, so that a report rendered later says what the
        // scan read (a model's activations), not what was read again.
        features: serde_json::from_value::<FeatureSource>(summary["features"]["source"].clone())
            .map(|f| f.describe())
            .unwrap_or_else(|_| ds.feature_source.describe()),
        warnings: summary["warnings"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default(),
        scanners,
        classes,
        charts,
        groups: group_views,
        hidden_groups: hidden,
        hidden_group_rows: hidden_rows,
        images: rows.input.shape.is_some(),
        caption_column: rows.ds.captions.as_ref().map(|(name, _)| name.clone()),
        near_misses,
        export_href,
        thumbnails_omitted: rows.omitted.get(),
    })
}

/// Renders the page.
pub fn render(report: &Report) -> Result<String, String> {
    use askama::Template;
    report.render().map_err(|e| e.to_string())
}
