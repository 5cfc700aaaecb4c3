//! Corner plots of posterior samples: for each parameter a histogram on the
//! diagonal (median and 68 % interval marked), for each pair a 2-D
//! histogram below it (shaded by relative density, with a colour bar), a
//! reference point (the most probable or the true value) marked in every
//! panel. Drawn with plotters, written as PNG atomically.

use crate::figure::{figure_error, register_fonts, tick, FONT};
use crate::png::save_rgb;
use crate::IoError;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use std::path::Path;

/// Histogram bins per axis.
const BINS: usize = 30;
/// Side of one panel in pixels.
const CELL: u32 = 190;

/// The range of a column: its 0.5–99.5 percentiles, widened a little (and
/// made non-empty for a constant column).
fn span(values: &[f64]) -> (f64, f64) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return (0.0, 1.0);
    }
    let at = |p: f64| sorted[((p * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)];
    let (lo, hi) = (at(0.005), at(0.995));
    if hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        let d = 1e-3 * lo.abs().max(1e-3);
        (lo - d, hi + d)
    }
}

fn bin(v: f64, (lo, hi): (f64, f64)) -> Option<usize> {
    let k = ((v - lo) / (hi - lo) * BINS as f64).floor();
    (k >= 0.0 && k < BINS as f64).then_some(k as usize)
}

fn quantile(values: &[f64], p: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.get(((p * (sorted.len().max(1) - 1) as f64).round()) as usize).copied().unwrap_or(f64::NAN)
}

/// Draws the corner plot of `columns` (one sample vector per parameter,
/// equal lengths) labelled `labels`, with `reference` (one value per
/// parameter, `reference_label` in the legend line) marked, to `path`.
pub fn save_corner(
    path: &Path,
    title: &str,
    labels: &[&str],
    columns: &[Vec<f64>],
    reference: Option<(&str, &[f64])>,
) -> Result<(), IoError> {
    let n = columns.len();
    if n == 0 || labels.len() != n || columns.iter().any(|c| c.len() != columns[0].len()) || columns[0].is_empty() {
        return Err(IoError::file(path, "corner plot: needs one non-empty column of equal length per label"));
    }
    register_fonts();
    let spans: Vec<(f64, f64)> = columns.iter().map(|c| span(c)).collect();
    let header = 70u32;
    let (width, height) = (CELL * n as u32 + 40, CELL * n as u32 + header + 20);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| figure_error(path, e))?;
        let (top, body) = root.split_vertically(header);
        top.titled(title, (FONT, 24)).map_err(|e| figure_error(path, e))?;
        if let Some((what, _)) = reference {
            top.draw_text(
                &format!("blue lines: median and 68 % interval; red: {what}"),
                &(FONT, 15).into_text_style(&top),
                (20, header as i32 - 22),
            )
            .map_err(|e| figure_error(path, e))?;
        }
        let body = body.margin(0, 20, 20, 20);
        let cells = body.split_evenly((n, n));
        for i in 0..n {
            for j in 0..n {
                let area = &cells[i * n + j];
                let bottom = i == n - 1;
                let left = j == 0;
                let mut builder = ChartBuilder::on(area);
                builder.margin(4).x_label_area_size(if bottom { 42 } else { 0 }).y_label_area_size(if left && i > 0 { 58 } else { 0 });
                let label_style = (FONT, 12);
                if j == i {
                    let mut counts = vec![0usize; BINS];
                    for &v in &columns[i] {
                        if let Some(k) = bin(v, spans[i]) {
                            counts[k] += 1;
                        }
                    }
                    let peak = *counts.iter().max().unwrap_or(&1) as f64 * 1.1;
                    let (lo, hi) = spans[i];
                    let mut chart = builder.build_cartesian_2d(lo..hi, 0.0..peak.max(1.0)).map_err(|e| figure_error(path, e))?;
                    let mut mesh = chart.configure_mesh();
                    mesh.disable_mesh().disable_y_axis().x_labels(3).x_label_formatter(&|v| tick(*v)).label_style(label_style);
                    if bottom {
                        mesh.x_desc(labels[j]).axis_desc_style((FONT, 15));
                    } else {
                        mesh.disable_x_axis();
                    }
                    mesh.draw().map_err(|e| figure_error(path, e))?;
                    let w = (hi - lo) / BINS as f64;
                    chart
                        .draw_series(counts.iter().enumerate().map(|(k, &c)| {
                            let x0 = lo + k as f64 * w;
                            Rectangle::new([(x0, 0.0), (x0 + w, c as f64)], RGBColor(120, 120, 120).filled())
                        }))
                        .map_err(|e| figure_error(path, e))?;
                    for p in [0.16, 0.5, 0.84] {
                        let q = quantile(&columns[i], p);
                        let style = ShapeStyle::from(RGBColor(0, 114, 178)).stroke_width(if p == 0.5 { 2 } else { 1 });
                        chart
                            .draw_series(std::iter::once(PathElement::new(vec![(q, 0.0), (q, peak)], style)))
                            .map_err(|e| figure_error(path, e))?;
                    }
                    if let Some((_, r)) = reference {
                        let style = ShapeStyle::from(RGBColor(213, 94, 0)).stroke_width(2);
                        chart
                            .draw_series(std::iter::once(PathElement::new(vec![(r[i], 0.0), (r[i], peak)], style)))
                            .map_err(|e| figure_error(path, e))?;
                    }
                } else if j < i {
                    let mut counts = vec![0usize; BINS * BINS];
                    for (&x, &y) in columns[j].iter().zip(&columns[i]) {
                        if let (Some(a), Some(b)) = (bin(x, spans[j]), bin(y, spans[i])) {
                            counts[b * BINS + a] += 1;
                        }
                    }
                    let peak = *counts.iter().max().unwrap_or(&1) as f64;
                    let ((x0, x1), (y0, y1)) = (spans[j], spans[i]);
                    let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| figure_error(path, e))?;
                    let mut mesh = chart.configure_mesh();
                    mesh.disable_mesh().x_labels(3).y_labels(3).x_label_formatter(&|v| tick(*v)).y_label_formatter(&|v| tick(*v));
                    mesh.label_style(label_style).axis_desc_style((FONT, 15));
                    if bottom {
                        mesh.x_desc(labels[j]);
                    } else {
                        mesh.disable_x_axis();
                    }
                    if left {
                        mesh.y_desc(labels[i]);
                    } else {
                        mesh.disable_y_axis();
                    }
                    mesh.draw().map_err(|e| figure_error(path, e))?;
                    let (wx, wy) = ((x1 - x0) / BINS as f64, (y1 - y0) / BINS as f64);
                    chart
                        .draw_series(counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(k, &c)| {
                            let (a, b) = ((k % BINS) as f64, (k / BINS) as f64);
                            let colour = ViridisRGB::get_color_normalized(c as f64 / peak, 0.0, 1.0);
                            Rectangle::new([(x0 + a * wx, y0 + b * wy), (x0 + (a + 1.0) * wx, y0 + (b + 1.0) * wy)], colour.filled())
                        }))
                        .map_err(|e| figure_error(path, e))?;
                    if let Some((_, r)) = reference {
                        chart
                            .draw_series(std::iter::once(Cross::new((r[j], r[i]), 5, RGBColor(213, 94, 0).stroke_width(2))))
                            .map_err(|e| figure_error(path, e))?;
                    }
                } else if i == 0 && j == n - 1 {
                    // The colour bar of the 2-D histograms, in the empty upper triangle.
                    let mut chart = ChartBuilder::on(area)
                        .margin_top(20)
                        .margin_bottom(20)
                        .margin_left(CELL as i32 / 2 - 10)
                        .margin_right(10)
                        .y_label_area_size(0)
                        .right_y_label_area_size(45)
                        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
                        .map_err(|e| figure_error(path, e))?;
                    chart
                        .configure_mesh()
                        .disable_mesh()
                        .disable_x_axis()
                        .y_labels(3)
                        .y_desc("relative density")
                        .label_style(label_style)
                        .axis_desc_style((FONT, 13))
                        .draw()
                        .map_err(|e| figure_error(path, e))?;
                    chart
                        .draw_series((0..50).map(|k| {
                            let v = k as f64 / 50.0;
                            Rectangle::new([(0.0, v), (1.0, v + 0.02)], ViridisRGB::get_color_normalized(v + 0.01, 0.0, 1.0).filled())
                        }))
                        .map_err(|e| figure_error(path, e))?;
                }
            }
        }
        root.present().map_err(|e| figure_error(path, e))?;
    }
    save_rgb(path, width as usize, height as usize, &rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_histograms_and_marks_into_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corner.png");
        // Two correlated columns and a third, deterministic and spread out.
        let a: Vec<f64> = (0..4000).map(|k| ((k * 7919) % 4001) as f64 / 4001.0).collect();
        let b: Vec<f64> = a.iter().enumerate().map(|(k, v)| v + 0.1 * (((k * 104729) % 997) as f64 / 997.0)).collect();
        let c: Vec<f64> = (0..4000).map(|k| 1.0 + ((k * 31) % 101) as f64 / 1000.0).collect();
        save_corner(&path, "Posterior", &["θ_E", "q", "x"], &[a, b, c], Some(("truth", &[0.5, 0.55, 1.05]))).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3 * CELL + 40, 3 * CELL + 90));
        let grey = buf.chunks_exact(3).filter(|p| p == &[120, 120, 120]).count();
        let red = buf.chunks_exact(3).filter(|p| p == &[213, 94, 0]).count();
        assert!(grey > 2000 && red > 100, "grey {grey}, red {red} pixels");
        assert!(save_corner(&path, "x", &["a"], &[vec![]], None).is_err());
    }
}
