//! Figures a person reads: line plots with a title, labelled axes and a
//! legend, drawn with plotters into an RGB buffer and written as PNG
//! atomically. Text uses the Ubuntu font that `epaint_default_fonts` embeds,
//! so no system font library is needed.

use crate::png::save_rgb;
use crate::IoError;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The font family name every figure uses.
pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
            .unwrap_or_else(|_| panic!("the embedded Ubuntu font parses"));
    });
}

/// One named curve of a line plot.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A line plot: title, axis labels, and whether y is logarithmic.
#[derive(Debug, Clone)]
pub struct LinePlot<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_y: bool,
}

/// Series read from a CSV table with a header: `x` against each column of
/// `ys`, and with `group` one series per distinct value of that column
/// (labelled "value: y"). Cells that do not parse as numbers are left out.
pub fn csv_series(path: &Path, x: &str, ys: &[&str], group: Option<&str>) -> Result<Vec<Series>, IoError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| IoError::file(path, format!("cannot read: {e}")))?;
    let header = reader.headers().map_err(|e| IoError::file(path, format!("no CSV header: {e}")))?.clone();
    let column = |name: &str| header.iter().position(|h| h == name).ok_or_else(|| IoError::file(path, format!("no column '{name}'")));
    let xi = column(x)?;
    let yis = ys.iter().map(|y| column(y)).collect::<Result<Vec<_>, _>>()?;
    let gi = group.map(column).transpose()?;
    let mut series: Vec<Series> = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| IoError::file(path, format!("row {}: {e}", line + 2)))?;
        let number = |i: usize| record.get(i).and_then(|v| v.trim().parse::<f64>().ok());
        let Some(xv) = number(xi) else { continue };
        for (y, &yi) in ys.iter().zip(&yis) {
            let label = match gi {
                Some(g) => format!("{}: {y}", record.get(g).unwrap_or("")),
                None => y.to_string(),
            };
            let Some(yv) = number(yi) else { continue };
            match series.iter_mut().find(|s| s.label == label) {
                Some(s) => s.points.push((xv, yv)),
                None => series.push(Series { label, points: vec![(xv, yv)] }),
            }
        }
    }
    Ok(series)
}

/// Distinct line colours (colour-blind-safe Okabe–Ito order).
pub(crate) const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The corner of the plot whose region (the outer 45 % of each axis) holds
/// the fewest points, for the legend (ties: upper right, then lower right,
/// upper left, lower left).
fn legend_corner(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64), log_y: bool) -> SeriesLabelPosition {
    let along = |v: f64, (lo, hi): (f64, f64), log: bool| {
        let (v, lo, hi) = if log { (v.log10(), lo.log10(), hi.log10()) } else { (v, lo, hi) };
        if hi > lo {
            (v - lo) / (hi - lo)
        } else {
            0.5
        }
    };
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let inside = |&(px, py): &(f64, f64), right: bool, upper: bool| {
        let (u, v) = (along(px, x, false), along(py, y, log_y));
        (if right { u >= 0.55 } else { u <= 0.45 }) && (if upper { v >= 0.55 } else { v <= 0.45 })
    };
    corners
        .into_iter()
        .min_by_key(|&(_, right, upper)| points.iter().filter(|p| inside(p, right, upper)).count())
        .map(|(position, _, _)| position)
        .expect("four corners")
}

/// A tick label: integers plainly, small or large magnitudes in exponent form.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || ((1.0..1e6).contains(&a) && v.fract() == 0.0) {
        format!("{v:.0}")
    } else if !(1e-2..1e6).contains(&a) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub(crate) fn figure_error(path: &Path, e: impl std::fmt::Display) -> IoError {
    IoError::file(path, format!("cannot draw the figure: {e}"))
}

impl LinePlot<'_> {
    /// Draws `series` (non-finite points and, on a log axis, non-positive
    /// values are left out) and writes `path` as a 960×600 PNG.
    pub fn save(&self, path: &Path, series: &[Series]) -> Result<(), IoError> {
        register_fonts();
        let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0);
        let points: Vec<Vec<(f64, f64)>> = series.iter().map(|s| s.points.iter().copied().filter(keep).collect()).collect();
        let all: Vec<(f64, f64)> = points.iter().flatten().copied().collect();
        if all.is_empty() {
            return Err(IoError::file(path, "no finite points to plot"));
        }
        let span = |values: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            if hi > lo {
                (lo, hi)
            } else {
                (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0))
            }
        };
        let (x0, x1) = span(&mut all.iter().map(|p| p.0));
        let (y0, y1) = span(&mut all.iter().map(|p| p.1));
        let (width, height) = (960u32, 600u32);
        let mut rgb = vec![255u8; (width * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| figure_error(path, e))?;
            let mut builder = ChartBuilder::on(&root);
            builder.caption(self.title, (FONT, 26)).margin(16).margin_right(40).x_label_area_size(50).y_label_area_size(90);
            let colour = |k: usize| COLOURS[k % COLOURS.len()];
            macro_rules! draw {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc(self.x_label)
                        .y_desc(self.y_label)
                        .x_label_formatter(&|v| tick(*v))
                        .y_label_formatter(&|v| tick(*v))
                        .label_style((FONT, 16))
                        .axis_desc_style((FONT, 18))
                        .draw()
                        .map_err(|e| figure_error(path, e))?;
                    for (k, (s, pts)) in series.iter().zip(&points).enumerate() {
                        let style = ShapeStyle::from(colour(k)).stroke_width(2);
                        // Past the palette's length the colours repeat: those
                        // series are drawn dashed with triangles instead.
                        if k < COLOURS.len() {
                            chart
                                .draw_series(LineSeries::new(pts.iter().copied(), style))
                                .map_err(|e| figure_error(path, e))?
                                .label(s.label.as_str())
                                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                            chart
                                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour(k).filled())))
                                .map_err(|e| figure_error(path, e))?;
                        } else {
                            chart
                                .draw_series(DashedLineSeries::new(pts.iter().copied(), 8, 5, style))
                                .map_err(|e| figure_error(path, e))?
                                .label(s.label.as_str())
                                .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 20, y)], 6, 4, style));
                            chart
                                .draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 5, colour(k).filled())))
                                .map_err(|e| figure_error(path, e))?;
                        }
                    }
                    chart
                        .configure_series_labels()
                        .position(legend_corner(&all, (x0, x1), (y0, y1), self.log_y))
                        .label_font((FONT, 16))
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK)
                        .draw()
                        .map_err(|e| figure_error(path, e))?;
                }};
            }
            if self.log_y {
                // Whole decades, so that the axis always carries labelled ticks.
                let (lo, hi) = (10f64.powf(y0.log10().floor()), 10f64.powf(y1.log10().ceil()));
                draw!(builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale()).map_err(|e| figure_error(path, e))?);
            } else {
                let pad = 0.05 * (y1 - y0);
                draw!(builder.build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad)).map_err(|e| figure_error(path, e))?);
            }
            root.present().map_err(|e| figure_error(path, e))?;
        }
        save_rgb(path, width as usize, height as usize, &rgb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_labelled_curves_into_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curve.png");
        let plot = LinePlot { title: "Validation loss", x_label: "samples seen", y_label: "loss", log_y: true };
        let series = vec![
            Series { label: "train".into(), points: (1..50).map(|k| (k as f64, 1.0 / k as f64)).collect() },
            Series { label: "validation".into(), points: vec![(10.0, 0.2), (20.0, f64::NAN), (30.0, 0.05), (40.0, 0.0)] },
        ];
        plot.save(&path, &series).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (960, 600));
        // Something was drawn in the line colours, not a blank canvas.
        let blue = buf.chunks_exact(3).filter(|p| p == &[0, 114, 178]).count();
        let orange = buf.chunks_exact(3).filter(|p| p == &[213, 94, 0]).count();
        assert!(blue > 100 && orange > 20, "blue {blue}, orange {orange} pixels");
        let csv = dir.path().join("m.csv");
        std::fs::write(&csv, "step,stage,loss,ssim\n1,a,0.5,0.1\n2,a,0.25,x\n3,b,0.1,0.3\n").unwrap();
        let got = csv_series(&csv, "step", &["loss", "ssim"], Some("stage")).unwrap();
        let labels: Vec<&str> = got.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["a: loss", "a: ssim", "b: loss", "b: ssim"]);
        assert_eq!(got[0].points, vec![(1.0, 0.5), (2.0, 0.25)]);
        assert_eq!(got[1].points, vec![(1.0, 0.1)], "unparsable cells are left out");
        assert!(csv_series(&csv, "step", &["nope"], None).unwrap_err().to_string().contains("nope"));
        let empty = LinePlot { title: "t", x_label: "x", y_label: "y", log_y: true };
        assert!(empty.save(&path, &[Series { label: "none".into(), points: vec![(1.0, -1.0)] }]).is_err());
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner() {
        let rising: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64, k as f64)).collect();
        // A rising line fills the lower-left and upper-right corners; the
        // lower right comes first among the empty two.
        assert!(matches!(legend_corner(&rising, (0.0, 10.0), (0.0, 10.0), false), SeriesLabelPosition::LowerRight));
        let falling: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64, 10f64.powi(-k))).collect();
        assert!(matches!(legend_corner(&falling, (0.0, 10.0), (1e-10, 1.0), true), SeriesLabelPosition::UpperRight));
    }

    /// Past the palette, a series reuses a colour but is drawn dashed: the
    /// same line in the same colour covers fewer pixels than when solid.
    #[test]
    fn series_past_the_palette_are_dashed() {
        let dir = tempfile::tempdir().unwrap();
        let plot = LinePlot { title: "t", x_label: "x", y_label: "y", log_y: false };
        let line = Series { label: "line".into(), points: vec![(0.0, 0.3), (50.0, 0.5), (100.0, 0.7)] };
        let blue_pixels = |series: &[Series]| {
            let path = dir.path().join("p.png");
            plot.save(&path, series).unwrap();
            let mut reader = png::Decoder::new(std::fs::File::open(&path).unwrap()).read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size()];
            reader.next_frame(&mut buf).unwrap();
            buf.chunks_exact(3).filter(|p| p == &[0, 114, 178]).count()
        };
        // Eight series: the line first (solid) or last (the first colour
        // again), the others single points far from it.
        let dots: Vec<Series> = (0..COLOURS.len()).map(|k| Series { label: format!("s{k}"), points: vec![(k as f64, 0.0)] }).collect();
        let solid = blue_pixels(&[&[line.clone()], &dots[..]].concat());
        let dashed = blue_pixels(&[&dots[..], &[line]].concat());
        assert!(dashed > 100 && (dashed as f64) < 0.85 * solid as f64, "dashed {dashed} against solid {solid} blue pixels");
    }
}
