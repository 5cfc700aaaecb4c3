//! Multi-panel diagnostic figures: images with axes in arcsec, a title and a
//! colour bar labelled in data units (linear, asinh or symmetric scaling),
//! optional point overlays (critical curves, caustics), line plots with
//! marked values, and a text table, laid out on a grid and written as PNG.

use crate::figure::{register_fonts, tick, Series, COLOURS, FONT};
use crate::png::save_rgb;
use crate::IoError;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::{DerivedColorMap, ViridisRGB};
use std::path::Path;

/// How values map to colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaling {
    /// Viridis, linear between the given limits.
    Linear { min: f64, max: f64 },
    /// Viridis on asinh(v / softening), between the limits: faint arcs and a
    /// bright lens both visible.
    Asinh { min: f64, max: f64, softening: f64 },
    /// Blue–white–red, linear on ±limit (residuals).
    Symmetric { limit: f64 },
}

impl Scaling {
    /// Asinh scaling between the 0.5th and 99.8th percentiles of the finite
    /// values, softened at 2 % of the upper limit.
    pub fn asinh_auto(values: &[f64]) -> Scaling {
        let (lo, hi) = percentiles(values, 0.005, 0.998);
        Scaling::Asinh { min: lo, max: hi.max(lo + 1e-30), softening: (0.02 * hi.abs()).max(1e-30) }
    }

    fn forward(&self, v: f64) -> f64 {
        match *self {
            Scaling::Asinh { softening, .. } => (v / softening).asinh(),
            _ => v,
        }
    }

    fn inverse(&self, u: f64) -> f64 {
        match *self {
            Scaling::Asinh { softening, .. } => u.sinh() * softening,
            _ => u,
        }
    }

    /// The colour-bar range in scaled units.
    fn range(&self) -> (f64, f64) {
        match *self {
            Scaling::Linear { min, max } | Scaling::Asinh { min, max, .. } => (self.forward(min), self.forward(max)),
            Scaling::Symmetric { limit } => (-limit, limit),
        }
    }

    fn colour(&self, v: f64) -> RGBColor {
        let (lo, hi) = self.range();
        let u = ((self.forward(v) - lo) / (hi - lo)).clamp(0.0, 1.0);
        match self {
            Scaling::Symmetric { .. } => {
                DerivedColorMap::new(&[RGBColor(33, 102, 172), RGBColor(247, 247, 247), RGBColor(178, 24, 43)]).get_color(u)
            }
            _ => ViridisRGB::get_color(u),
        }
    }
}

/// Percentiles (fractions in [0, 1]) of the finite values; (0, 1) when none.
pub fn percentiles(values: &[f64], low: f64, high: f64) -> (f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    (at(low), at(high))
}

/// An image cell. `extent` = (x_min, x_max, y_min, y_max) in arcsec of the
/// pixel edges; data row-major, row 0 at y_min.
#[derive(Debug, Clone)]
pub struct ImageCell<'a> {
    pub title: String,
    pub data: &'a [f64],
    pub nx: usize,
    pub ny: usize,
    pub extent: (f64, f64, f64, f64),
    pub scaling: Scaling,
    pub colorbar_label: String,
    /// Point sets drawn on top (e.g. critical curves), with their legend names.
    pub overlays: Vec<(String, Vec<(f64, f64)>)>,
}

/// A line-plot cell with optional vertical markers (value, label).
#[derive(Debug, Clone)]
pub struct LineCell {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub markers: Vec<(f64, String)>,
    pub log_y: bool,
}

/// One cell of a panel.
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    Image(ImageCell<'a>),
    Lines(LineCell),
    /// A titled table of (name, value) rows.
    Table {
        title: String,
        rows: Vec<(String, String)>,
    },
}

const CELL_W: u32 = 460;
const CELL_H: u32 = 420;

fn err(path: &Path, e: impl std::fmt::Display) -> IoError {
    IoError::file(path, format!("cannot draw the figure: {e}"))
}

fn draw_image(area: &DrawingArea<BitMapBackend, Shift>, cell: &ImageCell, path: &Path) -> Result<(), IoError> {
    let (body, bar) = area.split_horizontally(CELL_W - 95);
    let (x0, x1, y0, y1) = cell.extent;
    let mut chart = ChartBuilder::on(&body)
        .caption(&cell.title, (FONT, 18))
        .margin(6)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x [arcsec]")
        .y_desc("y [arcsec]")
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(|e| err(path, e))?;
    let (dx, dy) = ((x1 - x0) / cell.nx as f64, (y1 - y0) / cell.ny as f64);
    chart
        .draw_series((0..cell.nx * cell.ny).map(|p| {
            let (i, j) = ((p / cell.nx) as f64, (p % cell.nx) as f64);
            let v = cell.data[p];
            let colour = if v.is_finite() { cell.scaling.colour(v) } else { RGBColor(128, 128, 128) };
            Rectangle::new([(x0 + j * dx, y0 + i * dy), (x0 + (j + 1.0) * dx, y0 + (i + 1.0) * dy)], colour.filled())
        }))
        .map_err(|e| err(path, e))?;
    for (k, (name, points)) in cell.overlays.iter().enumerate() {
        let colour = [RGBColor(255, 255, 255), RGBColor(230, 159, 0), RGBColor(213, 94, 0)][k % 3];
        chart
            .draw_series(
                points.iter().filter(|p| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1).map(|&p| Circle::new(p, 1, colour.filled())),
            )
            .map_err(|e| err(path, e))?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x, y), 3, colour.filled()));
    }
    if !cell.overlays.is_empty() {
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.7))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(path, e))?;
    }
    // The colour bar: scaled units on the axis, labelled with data values.
    let (lo, hi) = cell.scaling.range();
    let scaling = cell.scaling;
    let mut bar_chart = ChartBuilder::on(&bar)
        .margin_top(34)
        .margin_bottom(42)
        .margin_right(4)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(|e| err(path, e))?;
    let label_of = move |u: &f64| tick(scaling.inverse(*u));
    bar_chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(cell.colorbar_label.as_str())
        .y_label_formatter(&label_of)
        .y_labels(6)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(|e| err(path, e))?;
    let steps = 128;
    bar_chart
        .draw_series((0..steps).map(|k| {
            let (a, b) = (lo + (hi - lo) * k as f64 / steps as f64, lo + (hi - lo) * (k + 1) as f64 / steps as f64);
            Rectangle::new([(0.0, a), (1.0, b)], scaling.colour(scaling.inverse(0.5 * (a + b))).filled())
        }))
        .map_err(|e| err(path, e))?;
    Ok(())
}

fn draw_lines(area: &DrawingArea<BitMapBackend, Shift>, cell: &LineCell, path: &Path) -> Result<(), IoError> {
    let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!cell.log_y || y > 0.0);
    let all: Vec<(f64, f64)> = cell.series.iter().flat_map(|s| s.points.iter().copied().filter(keep)).collect();
    if all.is_empty() {
        return Err(IoError::file(path, format!("panel '{}' has no finite points", cell.title)));
    }
    let fold = |f: fn(&(f64, f64)) -> f64| all.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (x0, x1) = fold(|p| p.0);
    let (y0, y1) = fold(|p| p.1);
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { (x0 - 1.0, x1 + 1.0) };
    let mut builder = ChartBuilder::on(area);
    builder.caption(&cell.title, (FONT, 18)).margin(8).margin_right(20).x_label_area_size(36).y_label_area_size(64);
    macro_rules! finish {
        ($chart:expr, $ylo:expr, $yhi:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(cell.x_label.as_str())
                .y_desc(cell.y_label.as_str())
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(|e| err(path, e))?;
            for (k, s) in cell.series.iter().enumerate() {
                let colour = COLOURS[k % COLOURS.len()];
                let style = ShapeStyle::from(colour).stroke_width(2);
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied().filter(keep), style))
                    .map_err(|e| err(path, e))?
                    .label(s.label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
            }
            for (k, (value, label)) in cell.markers.iter().enumerate() {
                let colour = COLOURS[(k + 3) % COLOURS.len()];
                let style = ShapeStyle::from(colour).stroke_width(1);
                chart
                    .draw_series(LineSeries::new(vec![(*value, $ylo), (*value, $yhi)], style))
                    .map_err(|e| err(path, e))?
                    .label(label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
            }
            chart
                .configure_series_labels()
                .label_font((FONT, 12))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(path, e))?;
        }};
    }
    if cell.log_y {
        let (lo, hi) = (10f64.powf(y0.log10().floor()), 10f64.powf(y1.log10().ceil()));
        finish!(builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale()).map_err(|e| err(path, e))?, lo, hi);
    } else {
        let pad = 0.05 * (y1 - y0).max(1e-30);
        finish!(builder.build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad)).map_err(|e| err(path, e))?, y0 - pad, y1 + pad);
    }
    Ok(())
}

fn draw_table(area: &DrawingArea<BitMapBackend, Shift>, title: &str, rows: &[(String, String)], path: &Path) -> Result<(), IoError> {
    area.draw_text(title, &(FONT, 18).into_text_style(area), (12, 8)).map_err(|e| err(path, e))?;
    let style = (FONT, 14).into_text_style(area);
    let line = ((CELL_H as i32 - 40) / rows.len().max(1) as i32).min(20);
    for (k, (name, value)) in rows.iter().enumerate() {
        let y = 36 + k as i32 * line;
        area.draw_text(name, &style, (12, y)).map_err(|e| err(path, e))?;
        area.draw_text(value, &style, (215, y)).map_err(|e| err(path, e))?;
    }
    Ok(())
}

/// Draws `cells` on a grid of `columns` under a figure title and writes `path`.
pub fn save_panel(path: &Path, title: &str, columns: usize, cells: &[Cell]) -> Result<(), IoError> {
    register_fonts();
    let columns = columns.max(1);
    let rows = cells.len().div_ceil(columns).max(1);
    let (width, height) = (CELL_W * columns as u32, CELL_H * rows as u32 + 40);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let (header, body) = root.split_vertically(40);
        header.draw_text(title, &(FONT, 24).into_text_style(&header), (12, 8)).map_err(|e| err(path, e))?;
        let areas = body.split_evenly((rows, columns));
        for (cell, area) in cells.iter().zip(&areas) {
            match cell {
                Cell::Image(c) => draw_image(area, c, path)?,
                Cell::Lines(c) => draw_lines(area, c, path)?,
                Cell::Table { title, rows } => draw_table(area, title, rows, path)?,
            }
        }
        root.present().map_err(|e| err(path, e))?;
    }
    save_rgb(path, width as usize, height as usize, &rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalings_map_their_limits_to_the_colour_map_ends_and_invert() {
        let s = Scaling::Asinh { min: 0.0, max: 10.0, softening: 0.2 };
        assert_eq!(s.colour(10.0), ViridisRGB::get_color(1.0));
        assert_eq!(s.colour(-1.0), ViridisRGB::get_color(0.0));
        assert!((s.inverse(s.forward(3.7)) - 3.7).abs() < 1e-12);
        let r = Scaling::Symmetric { limit: 3.0 };
        assert_eq!(r.colour(0.0), RGBColor(247, 247, 247), "zero residual is white");
        assert_eq!(r.colour(5.0), RGBColor(178, 24, 43));
        assert_eq!(percentiles(&[f64::NAN, 3.0, 1.0, 2.0], 0.0, 1.0), (1.0, 3.0));
    }

    #[test]
    fn draws_image_line_and_table_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("panel.png");
        let data: Vec<f64> = (0..32 * 32).map(|p| ((p % 32) as f64 - 15.5).hypot((p / 32) as f64 - 15.5)).collect();
        let cells = vec![
            Cell::Image(ImageCell {
                title: "radius".into(),
                data: &data,
                nx: 32,
                ny: 32,
                extent: (-1.6, 1.6, -1.6, 1.6),
                scaling: Scaling::asinh_auto(&data),
                colorbar_label: "pixels".into(),
                overlays: vec![("ring".into(), (0..100).map(|k| (k as f64 * 0.0628).sin_cos()).collect())],
            }),
            Cell::Lines(LineCell {
                title: "profile".into(),
                x_label: "r".into(),
                y_label: "f".into(),
                series: vec![Series { label: "1/r".into(), points: (1..20).map(|k| (k as f64, 1.0 / k as f64)).collect() }],
                markers: vec![(5.0, "five".into())],
                log_y: true,
            }),
            Cell::Table { title: "numbers".into(), rows: vec![("a".into(), "1".into())] },
        ];
        save_panel(&path, "test", 2, &cells).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2 * CELL_W, 2 * CELL_H + 40));
        // The image's brightest corner pixels are viridis' yellow end.
        let top = ViridisRGB::get_color(1.0);
        let yellow = buf.chunks_exact(3).filter(|p| p == &[top.0, top.1, top.2]).count();
        assert!(yellow > 50, "{yellow} pixels at the top colour");
    }
}
