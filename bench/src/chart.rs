//! SVG charts (plotters, SVG backend only; text is emitted as SVG `<text>` elements, so no
//! font library is needed at build or run time).
//!
//! * [`throughput_chart`]: horizontal bars, one per system (e.g. replay M events/s).
//! * [`handoff_chart`]: latency percentiles in ns on a log scale; meant for wal_recovery's
//!   handoff figures once they exist.

use std::path::Path;

use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

const BAR: RGBColor = RGBColor(0x3b, 0x6e, 0xa8);

/// Draws one horizontal bar per `(label, value)` row, first row on top, value printed at
/// the bar's end.
pub fn throughput_chart(
    rows: &[(String, f64)],
    title: &str,
    x_desc: &str,
    path: &Path,
) -> anyhow::Result<()> {
    anyhow::ensure!(!rows.is_empty(), "no rows to chart");
    let n = rows.len();
    let longest = rows.iter().map(|r| r.0.len()).max().unwrap_or(10) as u32;
    let height = 110 + 44 * n as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9) * 1.18;
    // Row i is centred on y = n - 1 - i, so the first row is drawn at the top.
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(20 + 7 * longest)
        .build_cartesian_2d(0.0..max, -0.5..(n as f64 - 0.5))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_desc)
        .draw()?;
    let y = |i: usize| (n - 1 - i) as f64;
    chart.draw_series(
        rows.iter()
            .enumerate()
            .map(|(i, r)| Rectangle::new([(0.0, y(i) - 0.36), (r.1, y(i) + 0.36)], BAR.filled())),
    )?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!(" {}", fmt_value(r.1)),
            (r.1, y(i)),
            ("sans-serif", 13)
                .into_font()
                .into_text_style(&root)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }))?;
    let label_style = ("sans-serif", 13)
        .into_font()
        .into_text_style(&root)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (i, r) in rows.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(0.0, y(i)));
        root.draw(&Text::new(r.0.clone(), (px - 8, py), label_style.clone()))?;
    }
    root.present()?;
    Ok(())
}

/// Plots latency percentiles (label such as "p50", value in ns) as bars on a log axis,
/// in the given order from left to right.
pub fn handoff_chart(percentiles: &[(String, f64)], path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(!percentiles.is_empty(), "no percentiles to chart");
    anyhow::ensure!(
        percentiles.iter().all(|p| p.1.is_finite() && p.1 > 0.0),
        "percentiles must be positive ns values"
    );
    let n = percentiles.len();
    let lo = percentiles.iter().map(|p| p.1).fold(f64::MAX, f64::min) / 2.0;
    let hi = percentiles.iter().map(|p| p.1).fold(0.0, f64::max) * 3.0;
    let root = SVGBackend::new(path, (200 + 90 * n as u32, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("handoff latency percentiles", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("latency (ns, log scale)")
        .y_label_formatter(&|v| fmt_value(*v))
        .draw()?;
    chart.draw_series(percentiles.iter().enumerate().map(|(i, p)| {
        let x = i as f64;
        Rectangle::new([(x - 0.35, lo), (x + 0.35, p.1)], BAR.filled())
    }))?;
    let centered = |vpos| {
        ("sans-serif", 13)
            .into_font()
            .into_text_style(&root)
            .pos(Pos::new(HPos::Center, vpos))
    };
    chart.draw_series(
        percentiles
            .iter()
            .enumerate()
            .map(|(i, p)| Text::new(fmt_value(p.1), (i as f64, p.1), centered(VPos::Bottom))),
    )?;
    for (i, p) in percentiles.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, lo));
        root.draw(&Text::new(p.0.clone(), (px, py + 8), centered(VPos::Top)))?;
    }
    root.present()?;
    Ok(())
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_chart_writes_svg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("handoff.svg");
        let data: Vec<(String, f64)> = [
            ("p50", 180.0),
            ("p90", 240.0),
            ("p99", 350.0),
            ("p99.9", 2_500.0),
            ("max", 1.2e6),
        ]
        .iter()
        .map(|(l, v)| (l.to_string(), *v))
        .collect();
        handoff_chart(&data, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("p99.9"));
        assert!(svg.contains("<rect"));
        assert!(handoff_chart(&[], &path).is_err());
    }

    #[test]
    fn throughput_chart_writes_svg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        let rows = vec![("a".to_string(), 4.2), ("bb".to_string(), 40.0)];
        throughput_chart(&rows, "t", "M events/s", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains(">bb<") || svg.contains("bb"));
    }
}
