//! The JSON scene description used by `astrorim render`:
//!
//! ```json
//! {"grid": {"nx": 96, "ny": 96, "pixel_scale": 0.05, "supersampling": 4},
//!  "lens": [{"type": "SIE", "theta_E": 1.2, "e1": 0.1, "e2": 0.0}],
//!  "source": [{"type": "SERSIC_ELLIPSE", "amp": 10, "R_sersic": 0.2, "n_sersic": 1.5}],
//!  "lens_light": [],
//!  "psf": {"type": "MOFFAT", "fwhm": 0.1, "beta": 3.0}}
//! ```
//! Profile keywords are lenstronomy's. `psf.type` is NONE, GAUSSIAN (fwhm,
//! e1, e2), MOFFAT (fwhm, beta, e1, e2), AIRY (fwhm), PIXEL (kernel: 2-D list,
//! odd square) or FITS (file: a path, read by the caller). Widths in arcsec.
//! A scene may also be written in lenstronomy's form (`lens_model_list`,
//! `kwargs_lens`, …; see [`crate::lenstronomy_form`]).

use crate::lenstronomy_form::{is_lenstronomy_form, scene_from_lenstronomy};
use crate::light::{self, LightModel};
use crate::mass::{self, LensModel};
use crate::psf::{Kernel, PsfShape};
use crate::render::Scene;
use crate::{PhysicsError, PixelGrid};
use serde_json::{Map, Value};

/// How the PSF of a scene is given.
#[derive(Debug, Clone, PartialEq)]
pub enum PsfSpec {
    None,
    Analytic(PsfShape),
    Pixel(Kernel),
    /// A FITS file holding the kernel in its primary HDU (path as written).
    File(String),
}

/// A parsed scene whose PSF may still have to be read from a file.
#[derive(Debug)]
pub struct SceneSpec {
    pub grid: PixelGrid,
    pub lens: LensModel,
    pub source: LightModel,
    pub lens_light: LightModel,
    pub psf: PsfSpec,
}

impl SceneSpec {
    /// Completes the scene, turning the PSF into a kernel; `read_kernel` loads
    /// `PsfSpec::File` kernels.
    pub fn into_scene<E>(self, read_kernel: impl FnOnce(&str) -> Result<Kernel, E>) -> Result<Scene, E>
    where
        E: From<PhysicsError>,
    {
        let psf = match self.psf {
            PsfSpec::None => None,
            PsfSpec::Analytic(shape) => Some(Kernel::analytic(shape, self.grid.pixel_scale)?),
            PsfSpec::Pixel(kernel) => Some(kernel),
            PsfSpec::File(path) => Some(read_kernel(&path)?),
        };
        Ok(Scene { grid: self.grid, lens: self.lens, source: self.source, lens_light: self.lens_light, psf })
    }
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, PhysicsError> {
    v.as_object().ok_or_else(|| PhysicsError::invalid(field, "expected a JSON object"))
}

fn reject_unknown(obj: &Map<String, Value>, known: &[&str], field: &str) -> Result<(), PhysicsError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(PhysicsError::invalid(
            if field.is_empty() { k.clone() } else { format!("{field}.{k}") },
            format!("unknown key (expected one of: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn number(obj: &Map<String, Value>, key: &str, field: &str, default: Option<f64>) -> Result<f64, PhysicsError> {
    match obj.get(key) {
        Some(v) => v.as_f64().ok_or_else(|| PhysicsError::invalid(format!("{field}.{key}"), format!("expected a number, got {v}"))),
        None => default.ok_or_else(|| PhysicsError::invalid(format!("{field}.{key}"), "required field is missing")),
    }
}

fn count(obj: &Map<String, Value>, key: &str, field: &str, default: Option<u64>) -> Result<usize, PhysicsError> {
    match obj.get(key) {
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| PhysicsError::invalid(format!("{field}.{key}"), format!("expected a non-negative integer, got {v}"))),
        None => default.map(|n| n as usize).ok_or_else(|| PhysicsError::invalid(format!("{field}.{key}"), "required field is missing")),
    }
}

fn parse_grid(v: &Value) -> Result<PixelGrid, PhysicsError> {
    let obj = object(v, "grid")?;
    reject_unknown(obj, &["nx", "ny", "pixel_scale", "supersampling"], "grid")?;
    let nx = count(obj, "nx", "grid", None)?;
    let ny = count(obj, "ny", "grid", None)?;
    if nx.saturating_mul(ny) > 16384 * 16384 {
        return Err(PhysicsError::invalid("grid.nx", "grid larger than 16384² pixels"));
    }
    PixelGrid::new(nx, ny, number(obj, "pixel_scale", "grid", None)?, count(obj, "supersampling", "grid", Some(1))?)
}

fn parse_list<T>(
    root: &Map<String, Value>,
    key: &str,
    required: bool,
    parse: impl Fn(&Map<String, Value>, &str) -> Result<T, PhysicsError>,
) -> Result<Vec<T>, PhysicsError> {
    let Some(v) = root.get(key) else {
        return if required { Err(PhysicsError::invalid(key, "required list is missing")) } else { Ok(Vec::new()) };
    };
    let items = v.as_array().ok_or_else(|| PhysicsError::invalid(key, "expected a list of profiles"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("{key}[{i}]");
            parse(object(item, &field)?, &field)
        })
        .collect()
}

fn parse_kernel_rows(v: &Value) -> Result<Kernel, PhysicsError> {
    let rows = v.as_array().ok_or_else(|| PhysicsError::invalid("psf.kernel", "expected a 2-D list of numbers"))?;
    let ny = rows.len();
    let mut nx = 0;
    let mut data = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_array().ok_or_else(|| PhysicsError::invalid(format!("psf.kernel[{i}]"), "expected a list of numbers"))?;
        if i == 0 {
            nx = row.len();
        } else if row.len() != nx {
            return Err(PhysicsError::invalid(format!("psf.kernel[{i}]"), format!("has {} values, row 0 has {nx}", row.len())));
        }
        for (j, x) in row.iter().enumerate() {
            data.push(x.as_f64().ok_or_else(|| PhysicsError::invalid(format!("psf.kernel[{i}][{j}]"), "expected a number"))?);
        }
    }
    Kernel::from_pixels(nx, ny, data)
}

fn parse_psf(v: &Value) -> Result<PsfSpec, PhysicsError> {
    let obj = object(v, "psf")?;
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| PhysicsError::invalid("psf.type", "missing PSF type"))?;
    let ell =
        |obj| -> Result<(f64, f64), PhysicsError> { Ok((number(obj, "e1", "psf", Some(0.0))?, number(obj, "e2", "psf", Some(0.0))?)) };
    Ok(match kind {
        "NONE" => {
            reject_unknown(obj, &["type"], "psf")?;
            PsfSpec::None
        }
        "GAUSSIAN" => {
            reject_unknown(obj, &["type", "fwhm", "e1", "e2"], "psf")?;
            let (e1, e2) = ell(obj)?;
            PsfSpec::Analytic(PsfShape::Gaussian { fwhm: number(obj, "fwhm", "psf", None)?, e1, e2 })
        }
        "MOFFAT" => {
            reject_unknown(obj, &["type", "fwhm", "beta", "e1", "e2"], "psf")?;
            let (e1, e2) = ell(obj)?;
            PsfSpec::Analytic(PsfShape::Moffat { fwhm: number(obj, "fwhm", "psf", None)?, beta: number(obj, "beta", "psf", None)?, e1, e2 })
        }
        "AIRY" => {
            reject_unknown(obj, &["type", "fwhm"], "psf")?;
            PsfSpec::Analytic(PsfShape::Airy { fwhm: number(obj, "fwhm", "psf", None)? })
        }
        "PIXEL" => {
            reject_unknown(obj, &["type", "kernel"], "psf")?;
            parse_kernel_rows(obj.get("kernel").ok_or_else(|| PhysicsError::invalid("psf.kernel", "required field is missing"))?)
                .map(PsfSpec::Pixel)?
        }
        "FITS" => {
            reject_unknown(obj, &["type", "file"], "psf")?;
            let file =
                obj.get("file").and_then(Value::as_str).ok_or_else(|| PhysicsError::invalid("psf.file", "expected a path string"))?;
            PsfSpec::File(file.to_string())
        }
        other => {
            return Err(PhysicsError::invalid(
                "psf.type",
                format!("unknown PSF type '{other}' (known: NONE, GAUSSIAN, MOFFAT, AIRY, PIXEL, FITS)"),
            ))
        }
    })
}

/// Parses a scene from JSON text; errors name the offending field.
pub fn parse_scene(text: &str) -> Result<SceneSpec, PhysicsError> {
    let root: Value = serde_json::from_str(text).map_err(|e| PhysicsError::invalid("scene", format!("invalid JSON: {e}")))?;
    let root = object(&root, "scene")?;
    let converted;
    let root = if is_lenstronomy_form(root) {
        converted = scene_from_lenstronomy(root)?;
        object(&converted, "scene")?
    } else {
        root
    };
    reject_unknown(root, &["grid", "lens", "source", "lens_light", "psf"], "")?;
    let grid = parse_grid(root.get("grid").ok_or_else(|| PhysicsError::invalid("grid", "required object is missing"))?)?;
    let lens = LensModel::new(parse_list(root, "lens", false, mass::from_json)?);
    let source = LightModel::new(parse_list(root, "source", false, light::from_json)?);
    let lens_light = LightModel::new(parse_list(root, "lens_light", false, light::from_json)?);
    let psf = match root.get("psf") {
        Some(v) => parse_psf(v)?,
        None => PsfSpec::None,
    };
    Ok(SceneSpec { grid, lens, source, lens_light, psf })
}

/// The lens model of a JSON object's `"lens"` list (a scene file, or any
/// object carrying one; other keys are ignored); errors name the field.
pub fn parse_lens_list(text: &str) -> Result<LensModel, PhysicsError> {
    let root: Value = serde_json::from_str(text).map_err(|e| PhysicsError::invalid("lens", format!("invalid JSON: {e}")))?;
    let root = object(&root, "lens file")?;
    let profiles = parse_list(root, "lens", true, mass::from_json)?;
    if profiles.is_empty() {
        return Err(PhysicsError::invalid("lens", "the list holds no mass profile"));
    }
    Ok(LensModel::new(profiles))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_scene(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_full_scene() {
        let s = parse_scene(
            r#"{"grid": {"nx": 9, "ny": 7, "pixel_scale": 0.1, "supersampling": 2},
                "lens": [{"type": "SIE", "theta_E": 1.0, "e1": 0.1, "e2": 0.0}, {"type": "SHEAR", "gamma1": 0.01, "gamma2": 0.0}],
                "source": [{"type": "GAUSSIAN", "amp": 1.0, "sigma": 0.1}],
                "psf": {"type": "PIXEL", "kernel": [[0, 1, 0], [1, 4, 1], [0, 1, 0]]}}"#,
        )
        .unwrap();
        assert_eq!((s.grid.nx, s.grid.ny, s.grid.supersampling), (9, 7, 2));
        assert_eq!(s.lens.profiles.len(), 2);
        assert!(matches!(s.psf, PsfSpec::Pixel(ref k) if (k.data()[4] - 0.5).abs() < 1e-15));
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err(r#"{"lens": []}"#).starts_with("grid:"));
        assert!(err(r#"{"grid": {"nx": 0, "ny": 3, "pixel_scale": 0.1}}"#).starts_with("grid.nx"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": -0.1}}"#).starts_with("grid.pixel_scale"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3}}"#).starts_with("grid.pixel_scale"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": 0.1}, "lens": [{"type": "XYZ"}]}"#).starts_with("lens[0].type"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": 0.1}, "source": [{"type": "SERSIC", "amp": 1}]}"#)
            .starts_with("source[0] (SERSIC).R_sersic"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": 0.1}, "psf": {"type": "PIXEL", "kernel": [[1, 1], [1, 1]]}}"#)
            .starts_with("psf.kernel"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": 0.1}, "psf": {"type": "PIXEL", "kernel": [[1, 1, 1]]}}"#)
            .starts_with("psf.kernel"));
        assert!(err(r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": 0.1}, "extra": 1}"#).starts_with("extra"));
        assert!(err("{not json").starts_with("scene: invalid JSON"));
    }

    #[test]
    fn lens_lists_parse_alone_or_inside_a_scene() {
        let lens = parse_lens_list(r#"{"grid": {"nx": 3}, "lens": [{"type": "SIS", "theta_E": 1.0}]}"#).unwrap();
        assert!((lens.deflection(2.0, 0.0).0 - 1.0).abs() < 1e-12);
        let err = |t: &str| parse_lens_list(t).unwrap_err().to_string();
        assert!(err(r#"{"lens": []}"#).starts_with("lens:"));
        assert!(err(r#"{"source": []}"#).starts_with("lens:"));
        assert!(err(r#"{"lens": [{"type": "SIE"}]}"#).starts_with("lens[0] (SIE).theta_E"), "{}", err(r#"{"lens": [{"type": "SIE"}]}"#));
        assert!(err("[1, 2]").starts_with("lens file"));
    }
}
