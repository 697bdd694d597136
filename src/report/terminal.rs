//! The human summary printed after a scan.

use std::io::Write;

use crate::fuse::{by_significance, Verdict};
use crate::ingest::Dataset;
use crate::pipeline::ScanReport;

use super::Written;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Skipped => "skipped",
    }
}

/// Prints per-class verdicts, the most suspicious rows and the data set's
/// verdict.
pub fn print_summary(
    out: &mut dyn Write,
    ds: &Dataset,
    report: &ScanReport,
    written: Option<&Written>,
) -> std::io::Result<()> {
    let fused = &report.fused;
    let features = ds.feature_source.describe();
    writeln!(
        out,
        "poisonscan {}: {} rows, {} classes, {} features ({features})",
        env!("CARGO_PKG_VERSION"),
        ds.n_input_rows,
        ds.class_names.len(),
        ds.n_features
    )?;
    let width = (0..ds.class_names.len())
        .map(|c| ds.class_title(c).chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "  {:<width$}  {:>8}  {:>8}  {:>9}  {:>11}  verdict",
        "class", "rows", "flagged", "max score", "class score"
    )?;
    let fmt = |v: f64| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.4}")
        }
    };
    for c in &fused.classes {
        writeln!(
            out,
            "  {:<width$}  {:>8}  {:>8}  {:>9}  {:>11}  {}",
            ds.class_title(c.class as usize),
            c.rows,
            c.flagged,
            fmt(c.max_score),
            fmt(c.class_score),
            verdict_word(c.verdict)
        )?;
    }
    // Natural ambiguity, from the first label-consistency scanner.
    if let Some((scanner, scanned)) = report.outputs.iter().find(|(_, o)| o.confusion.is_some()) {
        let confusion = scanned.confusion.as_deref().unwrap_or_default();
        let c = ds.class_names.len();
        let pairs = super::confused_pairs(confusion, c);
        if !pairs.is_empty() {
            writeln!(
                out,
                "  label noise ({}; reported, not gated unless --fail-on-noise): most confused pairs",
                scanner.name()
            )?;
            for &(a, b) in pairs.iter().take(3) {
                writeln!(
                    out,
                    "    {} ↔ {}: {} look like {}, {} the other way",
                    ds.class_title(a),
                    ds.class_title(b),
                    confusion[a * c + b],
                    ds.class_title(b),
                    confusion[b * c + a]
                )?;
            }
        }
        let unjudged: Vec<String> = scanned
            .classes
            .iter()
            .filter(|d| d.value("judged") == Some(0.0))
            .map(|d| {
                let rows = ds.label_codes.iter().filter(|&&l| l == d.class).count();
                let part_of = d.value("kind_source").map_or(String::new(), |s| {
                    format!(
                        "; its rows look like part of {}'s, a second name for some of them?",
                        ds.class_title(s as usize)
                    )
                });
                format!(
                    "{} ({} of {rows} rows recognised{part_of})",
                    ds.class_title(d.class as usize),
                    d.value("recognised_rows").unwrap_or(0.0)
                )
            })
            .collect();
        if !unjudged.is_empty() {
            writeln!(
                out,
                "  classes whose labels the features do not predict (not judged): {}",
                unjudged.join(", ")
            )?;
        }
    }
    // The words behind a failure, where a test read the rows' text.
    if let Some(tokens) = &report.tokens {
        for (s, (scanner, scanned)) in report.outputs.iter().enumerate() {
            for d in &scanned.classes {
                let failed = fused.classes.iter().any(|c| {
                    c.class == d.class && c.verdict == Verdict::Fail && c.failed_by & (1 << s) != 0
                });
                if let (true, Some(id), Some(rows), Some(contradicted), Some(sampled)) = (
                    failed,
                    d.value("token"),
                    d.value("token_rows"),
                    d.value("token_contradicted"),
                    d.value("token_sampled"),
                ) {
                    let also = super::also_words(d, tokens);
                    let all = d.value("also_tokens").unwrap_or(0.0);
                    writeln!(
                        out,
                        "  {}: {rows:.0} rows of {} carry \"{}\"; {}",
                        scanner.name(),
                        ds.class_title(d.class as usize),
                        super::visible_word(tokens.name(id as u32)),
                        super::set_apart(contradicted, sampled, &also, all),
                    )?;
                }
            }
        }
    }
    let mut top: Vec<usize> = (0..fused.score.len())
        .filter(|&i| fused.flagged[i])
        .collect();
    top.sort_by(|&a, &b| by_significance(&fused.significance, a, b));
    if !top.is_empty() {
        writeln!(out, "  most suspicious rows (of {} flagged):", top.len())?;
        for &i in top.iter().take(10) {
            let reasons = report.reasons(i);
            let suspected = match &fused.suspected {
                Some(s) if s[i] != ds.label_codes[i] => {
                    format!(", looks like {}", ds.class_title(s[i] as usize))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "    row {:>8}  label {:<width$}  score {:.4}  significance {:>6.1}  ({}{suspected})",
                ds.kept_rows[i],
                ds.class_title(ds.label_codes[i] as usize),
                fused.score[i],
                fused.significance[i],
                reasons.join(", ")
            )?;
        }
    }
    for w in &report.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    let failed: Vec<String> = fused
        .classes
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| ds.class_title(c.class as usize))
        .collect();
    match fused.verdict {
        Verdict::Fail => writeln!(
            out,
            "verdict: FAIL: poisoning suspected in {} class(es): {}",
            failed.len(),
            failed.join(", ")
        )?,
        _ => writeln!(
            out,
            "verdict: pass: no class shows a poisoned sub-population"
        )?,
    }
    if let Some(w) = written {
        writeln!(
            out,
            "wrote {} and {}",
            w.scores.display(),
            w.summary.display()
        )?;
        if let Some(r) = &w.report {
            writeln!(out, "wrote {}", r.display())?;
        }
    }
    Ok(())
}
