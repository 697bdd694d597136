//! `summary.json`: provenance, options, counts, per-class verdicts, timings.

use serde_json::{json, Value};

use poisonscan_scanners::text::ALSO_TOKENS;

use super::RunInfo;
use crate::fuse::Verdict;
use crate::ingest::Dataset;
use crate::pipeline::ScanReport;
use crate::settings::ScanSettings;

/// JSON-safe number: `null` for NaN.
fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// Builds the summary document.
pub fn summary_json(
    ds: &Dataset,
    report: &ScanReport,
    settings: &ScanSettings,
    run: &RunInfo,
) -> Value {
    let fused = &report.fused;
    let classes: Vec<Value> = fused
        .classes
        .iter()
        .map(|c| {
            let scanners: serde_json::Map<String, Value> = report
                .outputs
                .iter()
                .map(|(s, out)| {
                    let values: serde_json::Map<String, Value> = out
                        .classes
                        .iter()
                        .find(|d| d.class == c.class)
                        .map(|d| {
                            let mut m: serde_json::Map<String, Value> = d
                                .values
                                .iter()
                                .map(|(k, v)| (k.to_string(), num(*v)))
                                .collect();
                            if let Some(lp) = d.log_p {
                                m.insert("class_p_value".into(), json!(lp.exp()));
                                m.insert("class_log_p".into(), num(lp));
                            }
                            // a word of the rows' text, by its id (text-trigger)
                            if let (Some(t), Some(id)) = (&report.tokens, d.value("token")) {
                                m.insert("token_text".into(), json!(t.name(id as u32)));
                            }
                            // the other words behind its estimate
                            if let Some(t) = &report.tokens {
                                let also = super::also_words(d, t);
                                for name in ALSO_TOKENS {
                                    m.remove(name);
                                }
                                if !also.is_empty() {
                                    m.insert("also_token_texts".into(), json!(also));
                                }
                            }
                            m
                        })
                        .unwrap_or_default();
                    (s.name().to_string(), Value::Object(values))
                })
                .collect();
            let failed_by: Vec<&str> = report
                .outputs
                .iter()
                .enumerate()
                .filter(|(s, _)| c.failed_by & (1 << s) != 0)
                .map(|(_, (scanner, _))| scanner.name())
                .collect();
            let uncorroborated: Vec<&str> = report
                .outputs
                .iter()
                .enumerate()
                .filter(|(s, _)| c.uncorroborated & (1 << s) != 0)
                .map(|(_, (scanner, _))| scanner.name())
                .collect();
            json!({
                "label": ds.class_names[c.class as usize],
                "name": ds.class_titles.as_ref().map(|t| t[c.class as usize].clone()),
                "rows": c.rows,
                "evidence": c.evidence,
                "flagged": c.flagged,
                "max_score": num(c.max_score),
                "class_score": num(c.class_score),
                "verdict": c.verdict,
                "failed_by": failed_by,
                "failed_by_noise_policy": c.noise_failed,
                "uncorroborated": uncorroborated,
                "corroboration_auc": num(c.corroboration_auc),
                "scanners": scanners,
            })
        })
        .collect();
    let failed = fused
        .classes
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .count();
    let skipped_rows: usize = fused
        .classes
        .iter()
        .filter(|c| c.verdict == Verdict::Skipped)
        .map(|c| c.rows)
        .sum();
    let timings: serde_json::Map<String, Value> = report
        .timings
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "tool": {"name": "poisonscan", "version": env!("CARGO_PKG_VERSION")},
        "inputs": run.inputs,
        "files": ds.sources,
        "options": run.options,
        "settings": settings,
        "features": {
            "source": ds.feature_source,
            "dimensions": ds.n_features,
            "view": report.view,
        },
        "model": report.model,
        "rows": {
            "input": ds.n_input_rows,
            "scanned": ds.n_rows() - skipped_rows,
            "dropped_invalid": ds.dropped.len(),
            "skipped": skipped_rows,
            "flagged": fused.flagged.iter().filter(|&&f| f).count(),
            "distinct": fused.distinct_rows,
        },
        "dropped": ds.dropped.iter().take(1000).collect::<Vec<_>>(),
        "class_count": ds.class_names.len(),
        "classes": classes,
        "label_noise": label_noise(ds, report, settings),
        "failed_classes": failed,
        "verdict": fused.verdict,
        "warnings": report.warnings,
        "skipped_scanners": report
            .skipped_scanners
            .iter()
            .map(|(s, why)| json!({"scanner": s, "reason": why}))
            .collect::<Vec<_>>(),
        "timings_s": timings,
    })
}

/// The label-noise section: natural ambiguity as each label-consistency
/// scanner measured it — per class the share of rows whose evidence points
/// to another class, and the most confused pairs of classes with how
/// symmetric their confusion is; and per class the rows its evidence
/// recognises, and whether that was enough for the scanner to judge it.
/// Reported, not gated, unless `--fail-on-noise` asks.
fn label_noise(ds: &Dataset, report: &ScanReport, settings: &ScanSettings) -> Value {
    let names = &ds.class_names;
    let c = names.len();
    let mut by_scanner = serde_json::Map::new();
    for (scanner, out) in &report.outputs {
        let Some(confusion) = &out.confusion else {
            continue;
        };
        let classes: Vec<Value> = out
            .classes
            .iter()
            .filter_map(|d| {
                let noise = d.value("noise_rows")?;
                let rows = ds.label_codes.iter().filter(|&&l| l == d.class).count();
                let mut class = json!({
                    "label": names[d.class as usize],
                    "rows": rows,
                    "noise_rows": noise,
                    "noise_rate": num(noise / rows.max(1) as f64),
                });
                // a class whose evidence recognises too few of its rows is
                // not judged by the scanner's label tests
                if let Some(r) = d.value("recognised_rows") {
                    class["recognised_rows"] = json!(r);
                    class["judged"] = json!(d.value("judged").is_none_or(|j| j > 0.0));
                }
                // a label naming part of another class's kind (a synonym)
                if let Some(s) = d.value("kind_source") {
                    class["part_of"] = json!(names[s as usize]);
                }
                Some(class)
            })
            .collect();
        let pairs: Vec<Value> = super::confused_pairs(confusion, c)
            .into_iter()
            .take(10)
            .map(|(a, b)| {
                let (ab, ba) = (confusion[a * c + b], confusion[b * c + a]);
                json!({
                    "classes": [names[a], names[b]],
                    "first_looks_like_second": ab,
                    "second_looks_like_first": ba,
                    "symmetry": num(ab.min(ba) as f64 / ab.max(ba).max(1) as f64),
                })
            })
            .collect();
        by_scanner.insert(
            scanner.name().to_string(),
            json!({"classes": classes, "confused_pairs": pairs}),
        );
    }
    json!({
        "gated": settings.fail_on_noise.is_some(),
        "fail_on_noise": settings.fail_on_noise,
        "by_scanner": by_scanner,
    })
}
