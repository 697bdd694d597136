//! Inline SVG charts, drawn with `plotters` (which escapes its text). No
//! string from the data goes into a chart: captions stay in the HTML.

use plotters::prelude::*;

/// Largest suspicion drawn, as −log₁₀(1 − score): scores of 1 − 10⁻⁶ and
/// above share the last bin.
const MAX_SUSPICION: f64 = 6.0;
const BINS: usize = 48;

/// A fused score on the chart's axis: −log₁₀(1 − score), so that 0.9,
/// 0.99 and 0.999 are evenly spaced where the flags are decided.
fn axis(score: f64) -> f64 {
    (-(1.0 - score).max(1e-12).log10()).clamp(0.0, MAX_SUSPICION)
}

/// Share of the scores in each bin of the axis.
fn shares(scores: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; BINS];
    let mut n = 0usize;
    for &s in scores.iter().filter(|s| !s.is_nan()) {
        let b = ((axis(s) / MAX_SUSPICION) * BINS as f64) as usize;
        counts[b.min(BINS - 1)] += 1;
        n += 1;
    }
    counts
        .into_iter()
        .map(|c| c as f64 / n.max(1) as f64)
        .collect()
}

/// The histogram of one class's fused scores (red) over the scores of the
/// classes that passed (grey), as shares of their rows on a log scale, with
/// the threshold as a blue line.
pub fn score_histogram(class: &[f64], clean: &[f64], threshold: f64) -> String {
    let (a, b) = (shares(class), shares(clean));
    let smallest = a
        .iter()
        .chain(&b)
        .copied()
        .filter(|&v| v > 0.0)
        .fold(1.0f64, f64::min);
    let floor = (smallest / 2.0).min(0.5);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 220)).into_drawing_area();
        let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(10)
                .x_label_area_size(34)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..MAX_SUSPICION, (floor..1.0).log_scale())?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc("fused score (log scale towards 1)")
                .y_desc("share of rows")
                .x_label_formatter(&|v| {
                    let s = 1.0 - 10f64.powf(-v);
                    format!("{:.*}", (v.round() as usize).clamp(1, 6), s)
                })
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .draw()?;
            let width = MAX_SUSPICION / BINS as f64;
            for (shares, colour) in [(&b, BLACK.mix(0.25)), (&a, RED.mix(0.55))] {
                chart.draw_series(shares.iter().enumerate().filter(|(_, &v)| v > 0.0).map(
                    |(i, &v)| {
                        let x = i as f64 * width;
                        Rectangle::new([(x, floor), (x + width, v)], colour.filled())
                    },
                ))?;
            }
            let t = axis(threshold);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(t, floor), (t, 1.0)],
                BLUE.stroke_width(2),
            )))?;
            root.present()?;
            Ok(())
        })();
        drawn.expect("drawing into an SVG string does not fail");
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one_and_high_scores_land_right() {
        let s = shares(&[0.0, 0.5, 0.999_999_9, f64::NAN]);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let third = 1.0 / 3.0;
        assert_eq!((s[0], s[2], s[BINS - 1]), (third, third, third));
        assert!((axis(0.99) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn histogram_is_an_svg() {
        let svg = score_histogram(&[0.1, 0.999, 0.9999], &[0.0, 0.2, 0.3], 0.99);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<rect"));
    }
}
