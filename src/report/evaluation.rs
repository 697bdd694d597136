//! The terminal table of `poisonscan eval`.

use std::io::Write;

use crate::eval::Evaluation;

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{:.1} %", 100.0 * x))
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.4}"))
}

/// Prints the evaluation as a small report.
pub fn print_evaluation(out: &mut dyn Write, e: &Evaluation) -> std::io::Result<()> {
    writeln!(out, "rows {}, poisoned {}", e.rows, e.poisoned)?;
    writeln!(out, "  AUROC                      {}", num(e.auroc))?;
    writeln!(
        out,
        "  average precision          {}",
        num(e.average_precision)
    )?;
    writeln!(
        out,
        "  flagged by the scan        {} rows: precision {}, recall {}",
        e.flagged.flagged,
        pct(e.flagged.precision),
        pct(e.flagged.recall)
    )?;
    writeln!(
        out,
        "  top {} (1.5 x poisoned)    precision {}, recall {}",
        e.at_budget.flagged,
        pct(e.at_budget.precision),
        pct(e.at_budget.recall)
    )?;
    writeln!(
        out,
        "  false-positive rate        {}",
        pct(e.false_positive_rate)
    )?;
    match (&e.verdict, e.verdict_correct) {
        (Some(v), Some(ok)) => writeln!(
            out,
            "  verdict                    {v} ({})",
            if ok { "right" } else { "WRONG" }
        )?,
        _ => writeln!(
            out,
            "  verdict                    - (no summary.json beside the scores)"
        )?,
    }
    writeln!(
        out,
        "  {:<10} {:>7} {:>8} {:>8} {:>6} {:>8}",
        "class", "rows", "poisoned", "flagged", "hits", "AUROC"
    )?;
    for c in &e.classes {
        writeln!(
            out,
            "  {:<10} {:>7} {:>8} {:>8} {:>6} {:>8}",
            c.label,
            c.rows,
            c.poisoned,
            c.flagged,
            c.hits,
            num(c.auroc)
        )?;
    }
    if !e.scanners.is_empty() {
        writeln!(
            out,
            "  {:<26} {:>8} {:>8}",
            "scanner (own score)", "AUROC", "AP"
        )?;
        for m in &e.scanners {
            writeln!(
                out,
                "  {:<26} {:>8} {:>8}",
                m.scanner,
                num(m.auroc),
                num(m.average_precision)
            )?;
        }
    }
    Ok(())
}
