//! The report's charts, drawn as SVG with plotters.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// A named line of (x, y) points.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (lo - pad, hi + pad)
}

/// Lines on shared axes, with a legend.
pub fn lines(path: &Path, title: &str, x_desc: &str, y_desc: &str, lines: &[Line]) -> Result<()> {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (x0, x1) = range(all().map(|p| p.0));
    let (y0, y1) = range(all().map(|p| p.1));
    let root = SVGBackend::new(path, (560, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (i, line) in lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        if line.points.len() <= 12 {
            let dots = line
                .points
                .iter()
                .map(|&p| Circle::new(p, 3, colour.filled()));
            chart.draw_series(dots).map_err(|e| anyhow!("{e}"))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// One labelled point per class, real score on x and generated score on y, with the diagonal
/// and the least diverse real class's score as a horizontal line.
pub fn diversity_scatter(path: &Path, points: &[(String, f64, f64)], threshold: f64) -> Result<()> {
    let (lo, hi) = range(points.iter().flat_map(|p| [p.1, p.2]).chain([threshold]));
    let root = SVGBackend::new(path, (480, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Mean MS-SSIM per class (lower = more diverse)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("real data")
        .y_desc("generated samples")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], grey))
        .map_err(|e| anyhow!("{e}"))?;
    let red = RGBColor(214, 39, 40);
    chart
        .draw_series(LineSeries::new(vec![(lo, threshold), (hi, threshold)], red))
        .map_err(|e| anyhow!("{e}"))?;
    let dots = points.iter().map(|(name, x, y)| {
        EmptyElement::at((*x, *y))
            + Circle::new((0, 0), 4, COLOURS[0].filled())
            + Text::new(name.clone(), (6, -6), ("sans-serif", 12))
    });
    chart.draw_series(dots).map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
