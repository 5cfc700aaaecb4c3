//! FITS images through cfitsio (`fitsio`, compiled from its bundled source).
//!
//! Arrays are row-major with NAXIS1 = nx (columns, x) and NAXIS2 = ny (rows,
//! y), matching [`astrorim_physics::Image`]. The pixel scale is written as
//! CDELT1 = CDELT2 = scale/3600 (degrees, with CUNITi = 'deg') and PIXSCALE
//! (arcsec); on reading it is taken from the CD matrix, CDELT1 or PIXSCALE,
//! whichever is present, in that order.

use crate::atomic::write_atomic;
use crate::IoError;
use astrorim_physics::Image;
use fitsio::hdu::{FitsHdu, HduInfo};
use fitsio::images::{ImageDescription, ImageType};
use fitsio::FitsFile;
use std::path::Path;

/// A header keyword value.
#[derive(Debug, Clone, PartialEq)]
pub enum Card {
    Float(f64),
    Int(i64),
    Text(String),
}

/// A header keyword with its comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyword {
    pub name: String,
    pub value: Card,
    pub comment: String,
}

impl Keyword {
    pub fn float(name: &str, value: f64, comment: &str) -> Self {
        Keyword { name: name.into(), value: Card::Float(value), comment: comment.into() }
    }
    pub fn int(name: &str, value: i64, comment: &str) -> Self {
        Keyword { name: name.into(), value: Card::Int(value), comment: comment.into() }
    }
    pub fn text(name: &str, value: &str, comment: &str) -> Self {
        Keyword { name: name.into(), value: Card::Text(value.into()), comment: comment.into() }
    }
}

/// Sample type written to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F64,
}

/// One image HDU to write: `name` None for the primary.
#[derive(Debug, Clone)]
pub struct HduOut<'a> {
    pub name: Option<&'a str>,
    pub image: &'a Image,
    pub keywords: Vec<Keyword>,
}

/// An image read from a FITS file, with the pixel scale if its header gives one.
#[derive(Debug, Clone)]
pub struct FitsImage {
    pub image: Image,
    pub pixel_scale_arcsec: Option<f64>,
}

fn fits_err(path: &Path, e: fitsio::errors::Error) -> IoError {
    IoError::file(path, e)
}

/// Writes the primary image and extensions atomically. The primary HDU must
/// come first and have `name: None`; extensions get EXTNAME = name.
pub fn write_fits(path: &Path, hdus: &[HduOut], precision: Precision, pixel_scale_arcsec: Option<f64>) -> Result<(), IoError> {
    let (primary, extensions) = hdus.split_first().ok_or_else(|| IoError::file(path, "nothing to write"))?;
    assert!(primary.name.is_none() && extensions.iter().all(|h| h.name.is_some()), "primary first, then named extensions");
    let data_type = match precision {
        Precision::F32 => ImageType::Float,
        Precision::F64 => ImageType::Double,
    };
    write_atomic(path, |tmp| {
        let dims = [primary.image.ny, primary.image.nx];
        let desc = ImageDescription { data_type, dimensions: &dims };
        let mut file = FitsFile::create(tmp).with_custom_primary(&desc).overwrite().open().map_err(|e| fits_err(path, e))?;
        let hdu = file.primary_hdu().map_err(|e| fits_err(path, e))?;
        write_hdu(&mut file, &hdu, primary, precision, pixel_scale_arcsec).map_err(|e| fits_err(path, e))?;
        for ext in extensions {
            let dims = [ext.image.ny, ext.image.nx];
            let desc = ImageDescription { data_type, dimensions: &dims };
            let hdu = file.create_image(ext.name.unwrap_or_default(), &desc).map_err(|e| fits_err(path, e))?;
            write_hdu(&mut file, &hdu, ext, precision, pixel_scale_arcsec).map_err(|e| fits_err(path, e))?;
        }
        Ok(())
    })
}

fn write_hdu(file: &mut FitsFile, hdu: &FitsHdu, out: &HduOut, precision: Precision, scale: Option<f64>) -> fitsio::errors::Result<()> {
    match precision {
        Precision::F32 => {
            let data: Vec<f32> = out.image.data.iter().map(|&v| v as f32).collect();
            hdu.write_image(file, &data)?;
        }
        Precision::F64 => hdu.write_image(file, &out.image.data)?,
    }
    if let Some(s) = scale {
        hdu.write_key(file, "CDELT1", (s / 3600.0, "pixel scale along NAXIS1 [deg]"))?;
        hdu.write_key(file, "CDELT2", (s / 3600.0, "pixel scale along NAXIS2 [deg]"))?;
        hdu.write_key(file, "CUNIT1", ("deg", "unit of CDELT1"))?;
        hdu.write_key(file, "CUNIT2", ("deg", "unit of CDELT2"))?;
        hdu.write_key(file, "PIXSCALE", (s, "pixel scale [arcsec]"))?;
    }
    for k in &out.keywords {
        match &k.value {
            Card::Float(v) => hdu.write_key(file, &k.name, (*v, k.comment.as_str()))?,
            Card::Int(v) => hdu.write_key(file, &k.name, (*v, k.comment.as_str()))?,
            Card::Text(v) => hdu.write_key(file, &k.name, (v.clone(), k.comment.as_str()))?,
        }
    }
    Ok(())
}

fn image_shape(hdu: &FitsHdu) -> Option<Vec<usize>> {
    match &hdu.info {
        HduInfo::ImageInfo { shape, .. } if !shape.is_empty() => Some(shape.clone()),
        _ => None,
    }
}

/// Reads a 2-D image. `extension` None reads the primary HDU, or, when the
/// primary holds no data (common for HST products), the first image extension.
/// Degenerate leading axes (e.g. 1 × ny × nx) are dropped.
pub fn read_image(path: &Path, extension: Option<&str>) -> Result<FitsImage, IoError> {
    if !path.exists() {
        return Err(IoError::file(path, "no such file"));
    }
    let mut file = FitsFile::open(path).map_err(|e| IoError::file(path, format!("not a readable FITS file ({e})")))?;
    let hdu = match extension {
        Some(name) => file.hdu(name).map_err(|_| IoError::file(path, format!("has no extension named {name}")))?,
        None => {
            let primary = file.primary_hdu().map_err(|e| fits_err(path, e))?;
            if image_shape(&primary).is_some() {
                primary
            } else {
                let n = file.num_hdus().map_err(|e| fits_err(path, e))?;
                (1..n)
                    .filter_map(|i| file.hdu(i).ok())
                    .find(|h| image_shape(h).is_some())
                    .ok_or_else(|| IoError::file(path, "contains no image data"))?
            }
        }
    };
    let shape = image_shape(&hdu).ok_or_else(|| IoError::file(path, "the HDU is not an image"))?;
    let dims: Vec<usize> = shape.iter().copied().skip_while(|&d| d == 1).collect();
    let (ny, nx) = match dims.as_slice() {
        [ny, nx] => (*ny, *nx),
        [nx] => (1, *nx),
        _ => return Err(IoError::file(path, format!("expected a 2-D image, got shape {shape:?}"))),
    };
    let data: Vec<f64> = hdu.read_image(&mut file).map_err(|e| IoError::file(path, format!("cannot read image data ({e})")))?;
    if data.len() != nx * ny {
        return Err(IoError::file(path, format!("image data is truncated ({} of {} values)", data.len(), nx * ny)));
    }
    let pixel_scale_arcsec = read_pixel_scale(&mut file, &hdu);
    Ok(FitsImage { image: Image { nx, ny, data }, pixel_scale_arcsec })
}

fn read_pixel_scale(file: &mut FitsFile, hdu: &FitsHdu) -> Option<f64> {
    let key = |file: &mut FitsFile, name: &str| hdu.read_key::<f64>(file, name).ok().filter(|v| v.is_finite());
    let cd = (key(file, "CD1_1"), key(file, "CD2_1"));
    let scale = match cd {
        (Some(a), b) => (a * a + b.unwrap_or(0.0).powi(2)).sqrt() * 3600.0,
        (None, Some(b)) => b.abs() * 3600.0,
        (None, None) => match key(file, "CDELT1") {
            Some(d) => d.abs() * 3600.0,
            None => key(file, "PIXSCALE")?,
        },
    };
    (scale > 0.0).then_some(scale)
}

/// Reads a floating-point header keyword of an HDU (None = primary).
pub fn read_keyword(path: &Path, extension: Option<&str>, name: &str) -> Result<Option<f64>, IoError> {
    let mut file = FitsFile::open(path).map_err(|e| IoError::file(path, format!("not a readable FITS file ({e})")))?;
    let hdu = match extension {
        Some(ext) => file.hdu(ext).map_err(|_| IoError::file(path, format!("has no extension named {ext}")))?,
        None => file.primary_hdu().map_err(|e| fits_err(path, e))?,
    };
    Ok(hdu.read_key::<f64>(&mut file, name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(nx: usize, ny: usize) -> Image {
        Image { nx, ny, data: (0..nx * ny).map(|k| k as f64 * 0.5 - 3.0).collect() }
    }

    #[test]
    fn round_trips_images_extensions_and_keywords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.fits");
        let (img, ext) = (ramp(5, 3), ramp(2, 4));
        let hdus = [
            HduOut { name: None, image: &img, keywords: vec![Keyword::float("THETA_E", 1.25, "arcsec"), Keyword::text("SRC", "test", "")] },
            HduOut { name: Some("KAPPA"), image: &ext, keywords: vec![] },
        ];
        write_fits(&path, &hdus, Precision::F64, Some(0.05)).unwrap();
        let back = read_image(&path, None).unwrap();
        assert_eq!(back.image, img);
        assert!((back.pixel_scale_arcsec.unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(read_image(&path, Some("KAPPA")).unwrap().image, ext);
        assert_eq!(read_keyword(&path, None, "THETA_E").unwrap(), Some(1.25));
        assert!(read_image(&path, Some("NOPE")).unwrap_err().to_string().contains("NOPE"));
    }

    #[test]
    fn float32_output_rounds_to_single_precision() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.fits");
        let img = Image { nx: 2, ny: 1, data: vec![0.1, 1.0 / 3.0] };
        write_fits(&path, &[HduOut { name: None, image: &img, keywords: vec![] }], Precision::F32, None).unwrap();
        let back = read_image(&path, None).unwrap();
        assert_eq!(back.image.data, vec![0.1f32 as f64, (1.0f32 / 3.0) as f64]);
        assert_eq!(back.pixel_scale_arcsec, None);
    }

    #[test]
    fn bad_files_give_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.fits");
        assert!(read_image(&missing, None).unwrap_err().to_string().contains("missing.fits"));
        let corrupt = dir.path().join("corrupt.fits");
        std::fs::write(&corrupt, b"SIMPLE  = T garbage").unwrap();
        assert!(read_image(&corrupt, None).unwrap_err().to_string().contains("corrupt.fits"));
        // A truncated but otherwise valid file.
        let good = dir.path().join("good.fits");
        let img = ramp(64, 64);
        write_fits(&good, &[HduOut { name: None, image: &img, keywords: vec![] }], Precision::F64, None).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
        assert!(read_image(&corrupt, None).is_err());
    }
}
