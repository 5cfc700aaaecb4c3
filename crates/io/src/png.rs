//! PNG mosaics of images for a person to look at: tiles on a dark
//! background, each tile stretched on its own (asinh between the 0.5 and
//! 99.7 percentiles, or symmetric for residuals), written atomically.

use crate::atomic::write_atomic;
use crate::IoError;
use std::path::Path;

/// How a tile maps values to grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stretch {
    /// asinh stretch between robust minimum and maximum (images, sources).
    Asinh,
    /// Linear, symmetric about zero: blue negative, red positive (residuals).
    Diverging,
}

/// A grid of square tiles.
pub struct Mosaic {
    cols: usize,
    tile: usize,
    gap: usize,
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

fn percentile(sorted: &[f32], p: f64) -> f32 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl Mosaic {
    pub fn new(cols: usize, rows: usize, tile: usize) -> Self {
        let gap = 4;
        let (width, height) = (cols * tile + (cols + 1) * gap, rows * tile + (rows + 1) * gap);
        Mosaic { cols, tile, gap, width, height, rgb: vec![24; width * height * 3] }
    }

    /// Draws the row-major `nx × ny` image into tile (col, row), scaled to fit.
    pub fn put(&mut self, col: usize, row: usize, data: &[f32], nx: usize, ny: usize, stretch: Stretch) {
        assert!(col < self.cols && data.len() == nx * ny);
        let mut finite: Vec<f32> = data.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return;
        }
        finite.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let (lo, hi) = (percentile(&finite, 0.005), percentile(&finite, 0.997));
        let amax = finite.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
        let sym = percentile(&finite.iter().map(|v| v.abs()).collect::<Vec<_>>(), 0.99).max(amax * 1e-3);
        let (x0, y0) = (self.gap + col * (self.tile + self.gap), self.gap + row * (self.tile + self.gap));
        let n = nx.max(ny);
        for ty in 0..self.tile {
            for tx in 0..self.tile {
                let (j, i) = (tx * n / self.tile, ty * n / self.tile);
                if j >= nx || i >= ny {
                    continue;
                }
                // Row 0 is y = min: draw it at the bottom, as astronomers do.
                let v = data[(ny - 1 - i) * nx + j];
                let px = match stretch {
                    Stretch::Asinh => {
                        let t = ((v - lo) / (hi - lo).max(f32::MIN_POSITIVE)).clamp(0.0, 1.0);
                        let g = ((10.0 * t).asinh() / 10f32.asinh() * 255.0) as u8;
                        [g, g, g]
                    }
                    Stretch::Diverging => {
                        let t = (v / sym).clamp(-1.0, 1.0);
                        let w = (255.0 * (1.0 - t.abs())) as u8;
                        if t >= 0.0 {
                            [255, w, w]
                        } else {
                            [w, w, 255]
                        }
                    }
                };
                let k = ((y0 + ty) * self.width + x0 + tx) * 3;
                self.rgb[k..k + 3].copy_from_slice(&px);
            }
        }
    }

    /// Writes the mosaic as an 8-bit RGB PNG.
    pub fn save(&self, path: &Path) -> Result<(), IoError> {
        save_rgb(path, self.width, self.height, &self.rgb)
    }
}

/// Writes an 8-bit RGB buffer (row-major, 3 bytes a pixel) as a PNG, atomically.
pub fn save_rgb(path: &Path, width: usize, height: usize, rgb: &[u8]) -> Result<(), IoError> {
    write_atomic(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| IoError::file(path, format!("cannot create: {e}")))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| IoError::file(path, e))?;
        writer.write_image_data(rgb).map_err(|e| IoError::file(path, e))?;
        writer.finish().map_err(|e| IoError::file(path, e))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_decodable_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.png");
        let mut m = Mosaic::new(2, 1, 32);
        let img: Vec<f32> = (0..64).map(|k| k as f32).collect();
        m.put(0, 0, &img, 8, 8, Stretch::Asinh);
        m.put(1, 0, &img.iter().map(|v| v - 32.0).collect::<Vec<_>>(), 8, 8, Stretch::Diverging);
        m.save(&path).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width, 2 * 32 + 3 * 4);
    }
}
