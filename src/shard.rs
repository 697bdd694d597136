//! Sharded scans: a scan of one shard of a data set written as a *partial*
//! (every scanner's per-row evidence and per-class statistics), and the
//! merge of any number of partials into the data set's scores and verdict.
//!
//! The merge concatenates the shards' rows and combines each class's
//! statistics, then runs the same fusion as a whole scan over all rows, so
//! the calibration is over the total row count and every class (Bonferroni
//! over all rows and classes, as in one scan):
//!
//! - per-row p-values and scores (each scanner's, computed in the shard) are
//!   kept as they are: each is a valid p-value against the shard's null, and
//!   a uniform random shard is a sample of the same data;
//! - a class test's p-values from the shards (disjoint rows, so independent
//!   tests under the null) are combined by Fisher's method
//!   ([`poisonscan_scanners::stats::ln_fisher`]): exact as a test, and it
//!   accumulates the evidence a planted group spreads over every shard; a
//!   test that is the Bonferroni minimum of sub-tests (`<test>_log_p`) is
//!   recomputed as the minimum of its sub-tests, each combined so;
//! - counts (planted-row estimates, contradicted rows, the confusion matrix)
//!   are summed — exact; rates and spectra are row-weighted means — the
//!   summary's diagnostics only, approximate; a class named by a value
//!   (`top_source`) is taken from the shard whose test is strongest.
//!
//! What is *not* exact: a scanner sees only its shard, so kNN neighbourhoods
//! are drawn from a subsample (as far apart as `shards`× the whole data's;
//! a planted group keeps its share in every uniform shard), and spectral
//! directions are estimated from fewer rows. The README states the
//! tolerance the tests hold the merge to.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use poisonscan_scanners::stats::ln_fisher;
use poisonscan_scanners::{sub_test_log_p, ClassDiagnostics, ScanOutput};
use serde_json::{json, Value};
use thiserror::Error;

use crate::fuse::{fuse, Corroborate};
use crate::ingest::{Dataset, FeatureSource, SourceFile};
use crate::pipeline::{ScanReport, ViewReport};
use crate::report::{AtomicFile, ReportError};
use crate::settings::{ScanOptions, ScanSettings};

/// Schema metadata key holding a partial's statistics (JSON).
pub const PARTIAL_KEY: &str = "poisonscan.partial";
const FORMAT_VERSION: u64 = 1;

/// Reading or merging partials failed.
#[derive(Debug, Error)]
pub enum ShardError {
    /// A partial file is unreadable or not a partial.
    #[error("{}: {message}", path.display())]
    Partial {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The partials do not belong together.
    #[error("the partials cannot be merged: {0}")]
    Mismatch(String),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] ReportError),
}

/// The names a diagnostic value can have, kept for the life of the process
/// (scanner diagnostics are keyed by `&'static str`; a partial read back
/// names a small, fixed set of them).
fn intern(key: &str) -> &'static str {
    static KEYS: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(k) = keys.get(key) {
        return k;
    }
    let k: &'static str = Box::leak(key.to_string().into_boxed_str());
    keys.insert(key.to_string(), k);
    k
}

fn col(kind: &str, scanner: &str) -> String {
    format!("{kind}:{scanner}")
}

fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        Value::Null
    }
}

fn unnum(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => other.as_f64().unwrap_or(f64::NAN),
    }
}

/// The partial of a scanned shard: its kept rows with their label, id and
/// every scanner's row evidence, and the per-class statistics and options
/// in the schema's metadata.
pub fn partial_batch(ds: &Dataset, report: &ScanReport, settings: &ScanSettings) -> RecordBatch {
    let names = &ds.class_names;
    let mut fields = vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("label", DataType::Utf8, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(ds.kept_rows.clone())),
        Arc::new(StringArray::from_iter_values(
            ds.label_codes.iter().map(|&c| names[c as usize].as_str()),
        )),
    ];
    // The rows' content keys, by which the merge counts copies (a key holds
    // the shard's class code: exact where the shards list the same classes,
    // as uniform shards do; elsewhere copies in two shards count twice).
    if report.row_keys.len() == ds.label_codes.len() {
        fields.push(Field::new("key", DataType::UInt64, false));
        columns.push(Arc::new(UInt64Array::from(report.row_keys.clone())));
    }
    if let Some(ids) = &ds.ids {
        let ids = arrow::compute::cast(ids, &DataType::Utf8).expect("ids cast to text");
        let kept: Vec<Option<String>> = {
            let text = ids.as_string::<i32>();
            ds.kept_rows
                .iter()
                .map(|&r| {
                    text.is_valid(r as usize)
                        .then(|| text.value(r as usize).to_string())
                })
                .collect()
        };
        fields.push(Field::new("id", DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(kept)));
    }
    let mut scanners = Vec::new();
    for (scanner, out) in &report.outputs {
        let name = scanner.name();
        for (kind, values) in [("raw", Some(&out.raw)), ("log_p", Some(&out.log_p))]
            .into_iter()
            .chain([("ungated", out.ungated_log_p.as_ref())])
        {
            let Some(values) = values else { continue };
            fields.push(Field::new(col(kind, name), DataType::Float64, true));
            columns.push(Arc::new(Float64Array::from(values.clone())));
        }
        if let Some(s) = &out.suspected {
            fields.push(Field::new(col("suspected", name), DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from_iter_values(
                s.iter().map(|&c| names[c as usize].as_str()),
            )));
        }
        let classes: Vec<Value> = out
            .classes
            .iter()
            .map(|d| {
                let values: serde_json::Map<String, Value> = d
                    .values
                    .iter()
                    .map(|(k, v)| (k.to_string(), num(*v)))
                    .collect();
                json!({
                    "label": names[d.class as usize],
                    "rows": ds.label_codes.iter().filter(|&&l| l == d.class).count(),
                    "log_p": d.log_p.map(num),
                    "values": values,
                })
            })
            .collect();
        let confusion: Option<Vec<Value>> = out.confusion.as_ref().map(|m| {
            let c = names.len();
            (0..c * c)
                .filter(|&i| m[i] > 0)
                .map(|i| json!([names[i / c], names[i % c], m[i]]))
                .collect()
        });
        scanners.push(json!({"name": name, "classes": classes, "confusion": confusion}));
    }
    let meta = json!({
        "version": FORMAT_VERSION,
        "tool_version": env!("CARGO_PKG_VERSION"),
        "settings": settings,
        "scanners": scanners,
        "skipped_classes": report.skipped_classes.iter().map(|&c| &names[c as usize]).collect::<Vec<_>>(),
        "input_rows": ds.n_input_rows,
        "dropped_rows": ds.dropped.len(),
        "feature_source": ds.feature_source,
        "dimensions": ds.n_features,
        "view": report.view,
        "sources": ds.sources,
        "warnings": report.warnings,
        "id_column": ds.id_column,
        "label_column": ds.label_column,
    });
    let metadata: std::collections::HashMap<String, String> =
        [(PARTIAL_KEY.to_string(), meta.to_string())]
            .into_iter()
            .collect();
    let schema = Schema::new(fields).with_metadata(metadata);
    RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema")
}

/// A partial as Parquet bytes (for callers that move partials themselves,
/// such as a Spark job).
pub fn partial_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None)
        .expect("a partial's schema is Parquet-writable");
    w.write(batch).expect("a partial is Parquet-writable");
    w.close().expect("a partial is Parquet-writable");
    out
}

/// Writes a partial (Parquet) atomically.
pub fn write_partial(path: &Path, batch: &RecordBatch) -> Result<(), ShardError> {
    let mut file = AtomicFile::new(path)?;
    file.write_all(&partial_bytes(batch))?;
    file.commit()?;
    Ok(())
}

/// One partial, read back.
pub struct Partial {
    path: PathBuf,
    meta: Value,
    batch: RecordBatch,
}

/// Reads a partial written by [`write_partial`].
pub fn read_partial(path: &Path) -> Result<Partial, ShardError> {
    let bytes = std::fs::read(path).map_err(|e| ShardError::Partial {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    partial_from_bytes(path, bytes)
}

/// Reads a partial from its Parquet bytes; `name` names it in errors.
pub fn partial_from_bytes(name: &Path, bytes: Vec<u8>) -> Result<Partial, ShardError> {
    let bad = |message: String| ShardError::Partial {
        path: name.to_path_buf(),
        message,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?;
    // The builder's schema carries the file's metadata.
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| bad(e.to_string()))?;
    let meta: Value = schema
        .metadata()
        .get(PARTIAL_KEY)
        .ok_or_else(|| bad("not a poisonscan partial (written by `scan --shard-out`)".into()))
        .and_then(|m| serde_json::from_str(m).map_err(|e| bad(e.to_string())))?;
    if meta["version"].as_u64() != Some(FORMAT_VERSION) {
        return Err(bad(format!(
            "partial format {} is not the one this poisonscan reads ({FORMAT_VERSION})",
            meta["version"]
        )));
    }
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let batch = arrow::compute::concat_batches(&reader_schema(&batches, &schema), &batches)
        .map_err(|e| bad(e.to_string()))?;
    Ok(Partial {
        path: name.to_path_buf(),
        meta,
        batch,
    })
}

/// The batches' own schema (the file's, without its metadata, when there
/// are none).
fn reader_schema(
    batches: &[RecordBatch],
    file: &arrow::datatypes::SchemaRef,
) -> arrow::datatypes::SchemaRef {
    batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| file.clone())
}

/// Class names in the order ingestion gives them: numerically when every
/// name is an integer, else as text.
fn class_order(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    if names.iter().all(|n| n.parse::<i64>().is_ok()) {
        names.sort_by_key(|n| n.parse::<i64>().unwrap_or_default());
    }
    names
}

/// Keys of diagnostic values that count rows, summed over shards.
const COUNT_KEYS: &[&str] = &[
    "contradicted",
    "unanimous",
    "one_own_neighbour",
    "mixed_neighbourhood",
    "inflow",
    "outflow",
];

/// Combines one class's diagnostics from several shards: `(rows, class
/// log p, values)` per shard.
fn combine_class(
    class: u32,
    shards: &[(usize, Option<f64>, BTreeMap<String, f64>)],
) -> ClassDiagnostics {
    let tests: Vec<f64> = shards.iter().filter_map(|s| s.1).collect();
    let strongest = shards
        .iter()
        .min_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))
        .expect("at least one shard");
    // every value but a word's id, which only its shard's vocabulary reads
    // (text-trigger's `token`, `also_token_*` and their count)
    let keys: Vec<&String> = {
        let mut k: Vec<&String> = shards
            .iter()
            .flat_map(|s| s.2.keys())
            .filter(|k| k.as_str() != "token" && !k.starts_with("also_token"))
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let values = keys
        .into_iter()
        .map(|key| {
            let present: Vec<(usize, f64)> = shards
                .iter()
                .filter_map(|s| s.2.get(key).map(|&v| (s.0, v)))
                .filter(|(_, v)| !v.is_nan())
                .collect();
            let v = if key.contains("log_p") {
                ln_fisher(&present.iter().map(|p| p.1).collect::<Vec<_>>())
            } else if key.ends_with("_rows") || COUNT_KEYS.contains(&key.as_str()) {
                present.iter().map(|p| p.1).sum()
            } else if key.ends_with("_source") {
                strongest.2.get(key).copied().unwrap_or(f64::NAN)
            } else {
                let rows: usize = present.iter().map(|p| p.0).sum();
                present.iter().map(|&(r, v)| r as f64 * v).sum::<f64>() / rows.max(1) as f64
            };
            (intern(key), v)
        })
        .collect::<Vec<_>>();
    // A class test made of sub-tests is recomputed from the sub-tests'
    // combined p-values: a planted group shows in the same sub-test in every
    // shard, and combining the shards' Bonferroni minima instead pays the
    // correction once per shard (measured: a 40-row group in three shards,
    // log p −6.1 that way against −8.9, where one scan of all rows has −18.6).
    let log_p = (!tests.is_empty()).then(|| {
        sub_test_log_p(values.iter().map(|&(k, v)| (k, v))).unwrap_or_else(|| ln_fisher(&tests))
    });
    ClassDiagnostics {
        class,
        values,
        log_p,
    }
}

/// The merged data set (labels, ids, sources; no features) and its scan.
pub struct Merged {
    /// The merged rows.
    pub ds: Dataset,
    /// Scores, flags and verdicts over all rows.
    pub report: ScanReport,
    /// The shards' common options.
    pub settings: ScanSettings,
}

/// Merges partials (in the order given) into the data set's scan: rows
/// are the shards' rows in that order; ids are the shards' ids, or
/// `<shard>:<row>` when they have none.
pub fn merge(parts: &[Partial]) -> Result<Merged, ShardError> {
    let first = parts
        .first()
        .ok_or_else(|| ShardError::Mismatch("no partials given".into()))?;
    let (settings, scanner_names) = common_settings(parts)?;
    let class_names = merged_classes(parts)?;
    let code: HashMap<&str, u32> = class_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let c = class_names.len();
    let mut rows = concat_rows(parts, &scanner_names, &code)?;
    let mut outputs = Vec::with_capacity(scanner_names.len());
    for (s, name) in scanner_names.iter().enumerate() {
        let scanner = settings
            .scanners
            .iter()
            .find(|x| x.name() == name)
            .cloned()
            .ok_or_else(|| ShardError::Mismatch(format!("unknown scanner {name}")))?;
        let (classes, confusion) = combine_scanner(parts, s, &code);
        let own = std::mem::take(&mut rows.scanners[s]);
        outputs.push((
            scanner,
            ScanOutput {
                raw: own.raw,
                log_p: own.log_p,
                classes,
                suspected: own.suspected,
                ungated_log_p: own.ungated,
                confusion,
            },
        ));
    }
    let skipped = skipped_classes(parts, &class_names, &rows.label_codes);
    let corroborate: Vec<Corroborate> = outputs
        .iter()
        .map(|(s, _)| Corroborate {
            class_test: false,
            row_gate: s.row_gate_needs_corroboration(),
            names_rows: s.names_its_rows(),
        })
        .collect();
    let raw_refs: Vec<&ScanOutput> = outputs.iter().map(|(_, o)| o).collect();
    let fused = fuse(
        &raw_refs,
        &rows.label_codes,
        c,
        &skipped,
        &settings,
        &corroborate,
        &rows.keys,
    );
    let mut warnings = vec![format!(
        "merged from {} shard partial(s); see the README on what a sharded scan approximates",
        parts.len()
    )];
    let dropped: u64 = parts
        .iter()
        .map(|p| p.meta["dropped_rows"].as_u64().unwrap_or(0))
        .sum();
    if dropped > 0 {
        warnings.push(format!(
            "{dropped} row(s) were left out as invalid in the shards"
        ));
    }
    let view: ViewReport =
        serde_json::from_value(first.meta["view"].clone()).unwrap_or(ViewReport {
            shared_scale: false,
            label_agnostic_shared_scale: false,
            learned_representation: false,
            lossy_pictures: false,
        });
    let ds = merged_dataset(parts, rows.label_codes, rows.ids, class_names);
    let report = ScanReport {
        fused,
        outputs,
        skipped_classes: skipped,
        warnings,
        skipped_scanners: Vec::new(),
        timings: Vec::new(),
        model: None,
        view,
        row_keys: rows.keys,
        tokens: None,
    };
    Ok(Merged {
        ds,
        report,
        settings,
    })
}

/// The options every partial was scanned with (refusing partials scanned
/// with others, or with other scanners), and the scanners that ran.
fn common_settings(parts: &[Partial]) -> Result<(ScanSettings, Vec<String>), ShardError> {
    let first = &parts[0];
    let settings_json = &first.meta["settings"];
    let ran = |p: &Partial| -> Vec<String> {
        p.meta["scanners"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let scanner_names = ran(first);
    // how the features were read: a shard read as images and another as a
    // table ran different tests on different values
    let read_as = |p: &Partial| {
        let source = &p.meta["feature_source"];
        let kind = source["kind"].as_str().unwrap_or("?").to_string();
        match (source["height"].as_u64(), source["width"].as_u64()) {
            (Some(h), Some(w)) => format!("{kind} {h}x{w}x{}", source["channels"]),
            _ => format!("{kind} of {} values", p.meta["dimensions"]),
        }
    };
    let first_read = read_as(first);
    for p in parts {
        if read_as(p) != first_read {
            return Err(ShardError::Mismatch(format!(
                "{} read its features as {}, {} as {first_read}: scan every shard with the \
                 same --image-shape (or --features, --embedding)",
                p.path.display(),
                read_as(p),
                first.path.display()
            )));
        }
        if &p.meta["settings"] != settings_json {
            return Err(ShardError::Mismatch(format!(
                "{} was scanned with other options than {}",
                p.path.display(),
                first.path.display()
            )));
        }
        let names = ran(p);
        if names != scanner_names {
            return Err(ShardError::Mismatch(format!(
                "{} ran scanners {names:?}, {} ran {scanner_names:?}",
                p.path.display(),
                first.path.display()
            )));
        }
    }
    let scanner_options = settings_json["scanner_options"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(scanner, options)| {
                    let pairs = options
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    (scanner.clone(), pairs)
                })
                .collect()
        })
        .unwrap_or_default();
    let options = ScanOptions {
        threshold: settings_json["threshold"].as_f64().unwrap_or(0.99),
        budget: settings_json["budget"].as_f64(),
        min_flagged: settings_json["min_flagged"].as_u64().unwrap_or(3) as usize,
        fail_on_noise: settings_json["fail_on_noise"].as_f64(),
        seed: settings_json["seed"].as_u64().unwrap_or(0),
        scanners: scanner_names.clone(),
        scanner_options,
    };
    let mut settings = options
        .check()
        .map_err(|e| ShardError::Mismatch(format!("the partials' options: {e}")))?;
    settings.scanners_chosen = settings_json["scanners_chosen"].as_bool().unwrap_or(false);
    Ok((settings, scanner_names))
}

/// A partial's `label` column.
fn labels(p: &Partial) -> Result<&arrow::array::StringArray, ShardError> {
    p.batch
        .column_by_name("label")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| ShardError::Partial {
            path: p.path.clone(),
            message: "no `label` column".into(),
        })
}

/// The union of the shards' classes, in ingestion order.
fn merged_classes(parts: &[Partial]) -> Result<Vec<String>, ShardError> {
    let mut all = Vec::new();
    for p in parts {
        all.extend(labels(p)?.iter().flatten().map(String::from));
    }
    Ok(class_order(all))
}

/// One scanner's per-row evidence over every shard.
#[derive(Default)]
struct ScannerRows {
    raw: Vec<f64>,
    log_p: Vec<f64>,
    ungated: Option<Vec<f64>>,
    suspected: Option<Vec<u32>>,
}

/// The shards' rows, in order.
struct Rows {
    label_codes: Vec<u32>,
    ids: Vec<String>,
    /// Content keys; empty unless every partial has them.
    keys: Vec<u64>,
    scanners: Vec<ScannerRows>,
}

/// Concatenates the shards' rows: labels as merged class codes, ids, and
/// every scanner's row evidence.
fn concat_rows(
    parts: &[Partial],
    scanner_names: &[String],
    code: &HashMap<&str, u32>,
) -> Result<Rows, ShardError> {
    let mut rows = Rows {
        label_codes: Vec::new(),
        ids: Vec::new(),
        keys: Vec::new(),
        scanners: scanner_names
            .iter()
            .map(|_| ScannerRows {
                ungated: Some(Vec::new()),
                suspected: Some(Vec::new()),
                ..ScannerRows::default()
            })
            .collect(),
    };
    // partials written before keys were carried have none
    let mut keyed = true;
    for (k, p) in parts.iter().enumerate() {
        let b = &p.batch;
        let bad = |message: String| ShardError::Partial {
            path: p.path.clone(),
            message,
        };
        let own: Vec<u32> = labels(p)?
            .iter()
            .map(|l| code[l.unwrap_or_default()])
            .collect();
        let shard_row = b
            .column_by_name("row")
            .ok_or_else(|| bad("no `row` column".into()))?
            .as_primitive::<UInt64Type>();
        match b.column_by_name("id") {
            Some(id) => rows.ids.extend(
                id.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string()),
            ),
            None => rows
                .ids
                .extend(shard_row.values().iter().map(|r| format!("{k}:{r}"))),
        }
        let f64s = |name: String| -> Option<Vec<f64>> {
            b.column_by_name(&name).map(|a| {
                let a = a.as_primitive::<Float64Type>();
                (0..a.len())
                    .map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN })
                    .collect()
            })
        };
        for (all, name) in rows.scanners.iter_mut().zip(scanner_names) {
            all.raw.extend(
                f64s(col("raw", name)).ok_or_else(|| bad(format!("no raw scores of {name}")))?,
            );
            all.log_p.extend(
                f64s(col("log_p", name)).ok_or_else(|| bad(format!("no p-values of {name}")))?,
            );
            match (&mut all.ungated, f64s(col("ungated", name))) {
                (Some(v), Some(more)) => v.extend(more),
                (slot, _) => *slot = None,
            }
            // A suspected class unknown to the merge is the row's own.
            match (
                &mut all.suspected,
                b.column_by_name(&col("suspected", name)),
            ) {
                (Some(v), Some(more)) => v.extend(
                    more.as_string::<i32>()
                        .iter()
                        .zip(&own)
                        .map(|(l, &mine)| l.and_then(|l| code.get(l).copied()).unwrap_or(mine)),
                ),
                (slot, _) => *slot = None,
            }
        }
        match b.column_by_name("key") {
            Some(key) => rows
                .keys
                .extend(key.as_primitive::<UInt64Type>().values().iter()),
            None => keyed = false,
        }
        rows.label_codes.extend(own);
    }
    if !keyed || rows.keys.len() != rows.label_codes.len() {
        rows.keys.clear();
    }
    Ok(rows)
}

/// Scanner `s`'s class statistics combined over the shards, and its
/// confusion matrix summed (`c × c` in merged class order).
fn combine_scanner(
    parts: &[Partial],
    s: usize,
    code: &HashMap<&str, u32>,
) -> (Vec<ClassDiagnostics>, Option<Vec<u64>>) {
    let c = code.len();
    // each shard's rows of the class, its p-value and its diagnostics
    type Shards = Vec<(usize, Option<f64>, BTreeMap<String, f64>)>;
    let mut per_class: Vec<Shards> = vec![Vec::new(); c];
    let mut confusion: Option<Vec<u64>> = None;
    for p in parts {
        let sm = &p.meta["scanners"][s];
        for d in sm["classes"].as_array().into_iter().flatten() {
            let Some(&cl) = d["label"].as_str().and_then(|l| code.get(l)) else {
                continue;
            };
            let values = d["values"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), unnum(v))).collect())
                .unwrap_or_default();
            let lp = (!d["log_p"].is_null()).then(|| unnum(&d["log_p"]));
            per_class[cl as usize].push((d["rows"].as_u64().unwrap_or(0) as usize, lp, values));
        }
        if let Some(cells) = sm["confusion"].as_array() {
            let m = confusion.get_or_insert_with(|| vec![0; c * c]);
            for cell in cells {
                let (Some(a), Some(b)) = (
                    cell[0].as_str().and_then(|l| code.get(l)),
                    cell[1].as_str().and_then(|l| code.get(l)),
                ) else {
                    continue;
                };
                m[*a as usize * c + *b as usize] += cell[2].as_u64().unwrap_or(0);
            }
        }
    }
    let classes = per_class
        .iter()
        .enumerate()
        .filter(|(_, shards)| !shards.is_empty())
        .map(|(cl, shards)| combine_class(cl as u32, shards))
        .collect();
    (classes, confusion)
}

/// Classes skipped (too small) in every shard that has them.
fn skipped_classes(parts: &[Partial], class_names: &[String], label_codes: &[u32]) -> Vec<u32> {
    let mut counts = vec![0usize; class_names.len()];
    label_codes.iter().for_each(|&l| counts[l as usize] += 1);
    (0..class_names.len() as u32)
        .filter(|&cl| {
            parts.iter().all(|p| {
                p.meta["skipped_classes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .any(|l| l.as_str() == Some(class_names[cl as usize].as_str()))
                    })
                    .unwrap_or(false)
                    || counts[cl as usize] == 0
            })
        })
        .collect()
}

/// The merged data set: the shards' rows with labels and ids, their
/// sources, and no features (the evidence is already in the partials).
fn merged_dataset(
    parts: &[Partial],
    label_codes: Vec<u32>,
    ids: Vec<String>,
    class_names: Vec<String>,
) -> Dataset {
    let first = &parts[0].meta;
    let n = label_codes.len();
    let sources: Vec<SourceFile> = parts
        .iter()
        .filter_map(|p| serde_json::from_value::<Vec<SourceFile>>(p.meta["sources"].clone()).ok())
        .flatten()
        .collect();
    let feature_source: FeatureSource = serde_json::from_value(first["feature_source"].clone())
        .unwrap_or(FeatureSource::Columns {
            categorical: Vec::new(),
            columns: Vec::new(),
        });
    Dataset {
        n_input_rows: n,
        kept_rows: (0..n as u64).collect(),
        dropped: Vec::new(),
        ids: Some(Arc::new(StringArray::from(ids))),
        id_column: Some(first["id_column"].as_str().unwrap_or("id").to_string()),
        captions: None,
        labels: Arc::new(StringArray::from_iter_values(
            label_codes
                .iter()
                .map(|&l| class_names[l as usize].as_str()),
        )),
        label_column: first["label_column"]
            .as_str()
            .unwrap_or("label")
            .to_string(),
        label_codes,
        class_names,
        features: Vec::<f32>::new().into(),
        n_features: 0,
        probs: None,
        feature_source,
        sources,
        inputs: None,
        notes: Vec::new(),
        class_titles: None,
        tones: None,
        lossy: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_sort_as_ingestion_sorts_them() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(class_order(v(&["10", "2", "2"])), v(&["2", "10"]));
        assert_eq!(class_order(v(&["dog", "cat"])), v(&["cat", "dog"]));
    }

    #[test]
    fn class_statistics_combine_by_kind() {
        let shard = |rows, lp: f64, excess, rate, src| {
            let values: BTreeMap<String, f64> = [
                ("excess_rows".to_string(), excess),
                ("contradicted_rate".to_string(), rate),
                ("unanimity_log_p".to_string(), lp),
                ("top_source".to_string(), src),
                ("inflow".to_string(), excess),
            ]
            .into_iter()
            .collect();
            (rows, Some(lp), values)
        };
        let d = combine_class(
            3,
            &[
                shard(100, -10.0, 5.0, 0.1, 7.0),
                shard(300, -2.0, 3.0, 0.3, 1.0),
            ],
        );
        assert_eq!(d.class, 3);
        // X/2 = 12 over 4 degrees of freedom: P = e^-12 (1 + 12).
        let fisher = ln_fisher(&[-10.0, -2.0]);
        assert!((fisher - (-12.0 + 13f64.ln())).abs() < 1e-12);
        assert_eq!(d.log_p, Some(fisher));
        assert_eq!(d.value("excess_rows"), Some(8.0));
        assert_eq!(d.value("inflow"), Some(8.0));
        assert!((d.value("contradicted_rate").unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(d.value("unanimity_log_p"), Some(fisher));
        assert_eq!(d.value("top_source"), Some(7.0));
    }

    #[test]
    fn a_test_of_sub_tests_is_the_minimum_of_the_combined_sub_tests() {
        // two sub-tests; the group shows in the second in both shards
        let shard = |a: f64, b: f64| {
            let values: BTreeMap<String, f64> =
                [("a_log_p".to_string(), a), ("b_log_p".to_string(), b)]
                    .into_iter()
                    .collect();
            let class = (a.min(b) + 2f64.ln()).min(0.0);
            (100, Some(class), values)
        };
        let d = combine_class(0, &[shard(-1.0, -6.0), shard(-0.5, -7.0)]);
        let b = ln_fisher(&[-6.0, -7.0]);
        assert_eq!(d.log_p, Some(b + 2f64.ln()));
        // stronger than combining the shards' corrected minima
        let minima = ln_fisher(&[-6.0 + 2f64.ln(), -7.0 + 2f64.ln()]);
        assert!(b + 2f64.ln() < minima);
    }
}
