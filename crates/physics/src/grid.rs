//! The pixel grid convention and a plain row-major image type.
//!
//! This is the only place the pixel-centre convention is written down:
//! pixel (column j, row i) has its centre at x = (j − (nx−1)/2)·s,
//! y = (i − (ny−1)/2)·s, in arcsec, with the grid centred on the optical axis.

use crate::PhysicsError;

/// A regular grid of square pixels centred on (0, 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelGrid {
    /// Number of columns (FITS NAXIS1).
    pub nx: usize,
    /// Number of rows (FITS NAXIS2).
    pub ny: usize,
    /// Pixel side in arcsec.
    pub pixel_scale: f64,
    /// Integer supersampling factor per axis (1 = pixel centres only).
    pub supersampling: usize,
}

impl PixelGrid {
    /// Validates the grid; errors name the offending field.
    pub fn new(nx: usize, ny: usize, pixel_scale: f64, supersampling: usize) -> Result<Self, PhysicsError> {
        if nx == 0 {
            return Err(PhysicsError::invalid("grid.nx", "must be at least 1"));
        }
        if ny == 0 {
            return Err(PhysicsError::invalid("grid.ny", "must be at least 1"));
        }
        if !(pixel_scale.is_finite() && pixel_scale > 0.0) {
            return Err(PhysicsError::invalid("grid.pixel_scale", format!("must be a positive number of arcsec, got {pixel_scale}")));
        }
        if supersampling == 0 || supersampling > 64 {
            return Err(PhysicsError::invalid("grid.supersampling", format!("must be an integer in 1..=64, got {supersampling}")));
        }
        Ok(PixelGrid { nx, ny, pixel_scale, supersampling })
    }

    /// Centre x (arcsec) of column `j`.
    #[inline]
    pub fn x_of_col(&self, j: usize) -> f64 {
        (j as f64 - (self.nx as f64 - 1.0) / 2.0) * self.pixel_scale
    }

    /// Centre y (arcsec) of row `i`.
    #[inline]
    pub fn y_of_row(&self, i: usize) -> f64 {
        (i as f64 - (self.ny as f64 - 1.0) / 2.0) * self.pixel_scale
    }

    /// Offsets (arcsec) of the sub-pixel centres from the pixel centre along one
    /// axis: ((k + ½)/ss − ½)·s for k = 0..ss.
    pub fn subpixel_offsets(&self) -> Vec<f64> {
        let ss = self.supersampling as f64;
        (0..self.supersampling).map(|k| ((k as f64 + 0.5) / ss - 0.5) * self.pixel_scale).collect()
    }

    /// Pixel area in arcsec².
    pub fn pixel_area(&self) -> f64 {
        self.pixel_scale * self.pixel_scale
    }

    /// Evaluates `f(x, y)` at every pixel centre.
    pub fn map(&self, mut f: impl FnMut(f64, f64) -> f64) -> Image {
        let mut data = Vec::with_capacity(self.nx * self.ny);
        for i in 0..self.ny {
            let y = self.y_of_row(i);
            for j in 0..self.nx {
                data.push(f(self.x_of_col(j), y));
            }
        }
        Image { nx: self.nx, ny: self.ny, data }
    }
}

/// A row-major 2-D array of f64: `data[i * nx + j]` is row i, column j.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub nx: usize,
    pub ny: usize,
    pub data: Vec<f64>,
}

impl Image {
    pub fn zeros(nx: usize, ny: usize) -> Self {
        Image { nx, ny, data: vec![0.0; nx * ny] }
    }

    #[inline]
    pub fn at(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.nx + col]
    }

    pub fn sum(&self) -> f64 {
        self.data.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centres_are_symmetric_about_the_axis() {
        let g = PixelGrid::new(4, 3, 0.5, 1).unwrap();
        assert_eq!(g.x_of_col(0), -0.75);
        assert_eq!(g.x_of_col(3), 0.75);
        assert_eq!(g.y_of_row(1), 0.0);
        let g4 = PixelGrid::new(1, 1, 1.0, 4).unwrap();
        assert_eq!(g4.subpixel_offsets(), vec![-0.375, -0.125, 0.125, 0.375]);
    }

    #[test]
    fn rejects_bad_grids() {
        assert!(PixelGrid::new(0, 3, 0.1, 1).is_err());
        assert!(PixelGrid::new(3, 3, -0.1, 1).is_err());
        assert!(PixelGrid::new(3, 3, 0.1, 0).is_err());
    }
}
