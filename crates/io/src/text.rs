//! Text rasterized as an image: the out-of-distribution source of
//! Morningstar et al. (2019, Fig. 10), a lensed image of text. The glyphs
//! are drawn by plotters with the embedded font of the figures.

use crate::figure::{register_fonts, FONT};
use crate::IoError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// `text` drawn white on black on a `size × size` grid, as large as fits
/// 85 % of the side, centred on its lit pixels: values in [0, 1],
/// row-major with row 0 at the bottom (the image convention of the grids
/// here: y grows with the row), so the text reads upright with y up.
pub fn rasterize_text(text: &str, size: usize) -> Result<Vec<f64>, IoError> {
    let fail = |e: &dyn std::fmt::Display| IoError::file(std::path::Path::new("<text>"), format!("cannot rasterize {text:?}: {e}"));
    if text.trim().is_empty() || size < 8 {
        return Err(fail(&"needs a non-empty text and at least 8 pixels a side"));
    }
    register_fonts();
    // The glyphs at font size `px`, anchored at the centre (fonts place
    // their ink unevenly in the em box, so the ink is recentred below).
    let draw = |px: f64| -> Result<Vec<f64>, IoError> {
        let side = size as u32;
        let mut rgb = vec![0u8; size * size * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (side, side)).into_drawing_area();
            root.fill(&BLACK).map_err(|e| fail(&e))?;
            let style = (FONT, px).into_font().color(&WHITE).pos(Pos::new(HPos::Center, VPos::Center));
            root.draw_text(text, &style, (size as i32 / 2, size as i32 / 2)).map_err(|e| fail(&e))?;
            root.present().map_err(|e| fail(&e))?;
        }
        // The bitmap's row 0 is its top: flip to row 0 at the bottom.
        Ok((0..size * size).map(|p| rgb[((size - 1 - p / size) * size + p % size) * 3] as f64 / 255.0).collect())
    };
    // The bounding box of the ink: (row min, row max, column min, column max).
    let ink = |image: &[f64]| -> Option<(usize, usize, usize, usize)> {
        let lit: Vec<(usize, usize)> = (0..size * size).filter(|&p| image[p] > 0.0).map(|p| (p / size, p % size)).collect();
        let rows = lit.iter().map(|l| l.0);
        let cols = lit.iter().map(|l| l.1);
        Some((rows.clone().min()?, rows.max()?, cols.clone().min()?, cols.max()?))
    };
    let limit = (0.85 * size as f64) as usize;
    let mut px = size as f64;
    loop {
        let image = draw(px)?;
        let (r0, r1, c0, c1) = ink(&image).ok_or_else(|| fail(&"no glyph drawn"))?;
        let clipped = r0 == 0 || c0 == 0 || r1 == size - 1 || c1 == size - 1;
        if (r1 - r0 < limit && c1 - c0 < limit && !clipped) || px < 4.0 {
            let (dr, dc) = (((size - 1 - r1) as isize - r0 as isize) / 2, ((size - 1 - c1) as isize - c0 as isize) / 2);
            let mut centred = vec![0.0; size * size];
            for i in r0..=r1 {
                for j in c0..=c1 {
                    let (ti, tj) = ((i as isize + dr) as usize, (j as isize + dc) as usize);
                    centred[ti * size + tj] = image[i * size + j];
                }
            }
            return Ok(centred);
        }
        px *= 0.9;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_upright_within_the_grid() {
        let n = 64;
        let image = rasterize_text("T", n).unwrap();
        assert!(image.iter().all(|v| (0.0..=1.0).contains(v)));
        let lit =
            |rows: std::ops::Range<usize>| rows.flat_map(|i| (0..n).map(move |j| (i, j))).filter(|&(i, j)| image[i * n + j] > 0.5).count();
        // A "T": its bar is in the upper half (large row index, y up), wide;
        // its stem alone below.
        let row_width = |i: usize| (0..n).filter(|&j| image[i * n + j] > 0.5).count();
        let widest = (0..n).max_by_key(|&i| row_width(i)).unwrap();
        assert!(widest > n / 2, "the bar is at row {widest}, expected in the upper half");
        assert!(row_width(widest) > 3 * row_width(n / 2 - 4), "bar {} vs stem {}", row_width(widest), row_width(n / 2 - 4));
        assert!(lit(0..n) > n, "some pixels are lit");
        assert_eq!(lit(0..4) + lit(n - 4..n), 0, "a margin is left");
        let rows_lit: Vec<usize> = (0..n).filter(|&i| row_width(i) > 0).collect();
        let (low, high) = (rows_lit[0], *rows_lit.last().unwrap());
        assert!((low as isize - (n - 1 - high) as isize).abs() <= 1, "centred: rows {low}..{high}");
        assert!(rasterize_text(" ", n).is_err());
    }
}
