//! Scenes written the way lenstronomy users already hold them, turned into
//! this project's scene JSON ([`crate::scene`]), so that a lenstronomy user
//! can render with their existing dictionaries:
//!
//! ```json
//! {"lens_model_list": ["SIE", "SHEAR"], "kwargs_lens": [{...}, {...}],
//!  "source_light_model_list": ["SERSIC_ELLIPSE"], "kwargs_source": [{...}],
//!  "lens_light_model_list": [], "kwargs_lens_light": [],
//!  "kwargs_data": {"transform_pix2angle": [[0.05, 0], [0, 0.05]],
//!                  "ra_at_xy_0": -2.375, "dec_at_xy_0": -2.375, "image_data": [[...]]},
//!  "kwargs_psf": {"psf_type": "PIXEL", "kernel_point_source": [[...]]},
//!  "kwargs_numerics": {"supersampling_factor": 4}}
//! ```
//! The grid comes from `kwargs_data` (its `image_data` gives the shape; or
//! `numPix`) or from `numPix` and `deltaPix` at the top level (the names of
//! lenstronomy's `sim_util`). Only grids centred on (0, 0) with square,
//! unrotated pixels and x increasing with the column are supported (what
//! `data_configure_simple` makes); anything else is refused, naming the key.
//! Noise keywords of `kwargs_data` (`background_rms`, `exposure_time`,
//! `noise_map`) are accepted and ignored: rendering is noiseless.

use crate::PhysicsError;
use serde_json::{json, Map, Value};

/// Whether a JSON object is a scene in lenstronomy's form.
pub fn is_lenstronomy_form(root: &Map<String, Value>) -> bool {
    ["lens_model_list", "source_light_model_list", "lens_light_model_list"].iter().any(|k| root.contains_key(*k))
}

const KNOWN: [&str; 11] = [
    "lens_model_list",
    "kwargs_lens",
    "source_light_model_list",
    "kwargs_source",
    "lens_light_model_list",
    "kwargs_lens_light",
    "kwargs_data",
    "kwargs_psf",
    "kwargs_numerics",
    "numPix",
    "deltaPix",
];

fn invalid(field: impl Into<String>, message: impl Into<String>) -> PhysicsError {
    PhysicsError::invalid(field, message)
}

fn reject_unknown(obj: &Map<String, Value>, known: &[&str], field: &str) -> Result<(), PhysicsError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(invalid(
            if field.is_empty() { k.clone() } else { format!("{field}.{k}") },
            format!("unknown or unsupported key (supported: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `[{"type": name, **kwargs}]` from a model list and its keyword list.
fn profiles(root: &Map<String, Value>, list_key: &str, kwargs_key: &str) -> Result<Value, PhysicsError> {
    let names = match root.get(list_key) {
        None => {
            return if root.contains_key(kwargs_key) {
                Err(invalid(list_key, format!("missing while {kwargs_key} is given")))
            } else {
                Ok(json!([]))
            }
        }
        Some(v) => v.as_array().ok_or_else(|| invalid(list_key, "expected a list of profile names"))?,
    };
    let empty = Vec::new();
    let kwargs = match root.get(kwargs_key) {
        None if names.is_empty() => &empty,
        None => return Err(invalid(kwargs_key, format!("missing while {list_key} names {} profile(s)", names.len()))),
        Some(v) => v.as_array().ok_or_else(|| invalid(kwargs_key, "expected a list of keyword dictionaries"))?,
    };
    if kwargs.len() != names.len() {
        return Err(invalid(kwargs_key, format!("holds {} dictionaries, {list_key} names {} profiles", kwargs.len(), names.len())));
    }
    names
        .iter()
        .zip(kwargs)
        .enumerate()
        .map(|(i, (name, kw))| {
            let name = name.as_str().ok_or_else(|| invalid(format!("{list_key}[{i}]"), "expected a profile name"))?;
            let mut obj = kw.as_object().ok_or_else(|| invalid(format!("{kwargs_key}[{i}]"), "expected a keyword dictionary"))?.clone();
            if obj.contains_key("type") {
                return Err(invalid(format!("{kwargs_key}[{i}].type"), "unknown key"));
            }
            obj.insert("type".into(), Value::String(name.to_string()));
            Ok(Value::Object(obj))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn number(obj: &Map<String, Value>, key: &str, field: &str) -> Result<Option<f64>, PhysicsError> {
    obj.get(key).map(|v| v.as_f64().ok_or_else(|| invalid(format!("{field}{key}"), format!("expected a number, got {v}")))).transpose()
}

fn pixel_count(v: &Value, field: &str) -> Result<u64, PhysicsError> {
    v.as_u64().filter(|n| *n > 0).ok_or_else(|| invalid(field, format!("expected a positive integer, got {v}")))
}

/// (nx, ny, pixel scale) of the scene's grid.
fn grid(root: &Map<String, Value>) -> Result<(u64, u64, f64), PhysicsError> {
    let top_n = root.get("numPix").map(|v| pixel_count(v, "numPix")).transpose()?;
    let Some(data) = root.get("kwargs_data") else {
        let n = top_n.ok_or_else(|| invalid("kwargs_data", "give kwargs_data, or numPix and deltaPix"))?;
        let s = number(root, "deltaPix", "")?.ok_or_else(|| invalid("deltaPix", "required with numPix when kwargs_data is absent"))?;
        return Ok((n, n, s));
    };
    if root.contains_key("deltaPix") {
        return Err(invalid("deltaPix", "give the pixel scale once: kwargs_data.transform_pix2angle or deltaPix"));
    }
    let data = data.as_object().ok_or_else(|| invalid("kwargs_data", "expected a keyword dictionary"))?;
    reject_unknown(
        data,
        &["transform_pix2angle", "ra_at_xy_0", "dec_at_xy_0", "image_data", "background_rms", "exposure_time", "noise_map"],
        "kwargs_data",
    )?;
    let (nx, ny) = match data.get("image_data") {
        Some(v) => {
            let rows = v.as_array().ok_or_else(|| invalid("kwargs_data.image_data", "expected a 2-D array"))?;
            let nx = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
            if rows.is_empty() || nx == 0 || rows.iter().any(|r| r.as_array().map(Vec::len) != Some(nx)) {
                return Err(invalid("kwargs_data.image_data", "expected a non-empty 2-D array with rows of equal length"));
            }
            (nx as u64, rows.len() as u64)
        }
        None => {
            let n = top_n.ok_or_else(|| invalid("kwargs_data.image_data", "give image_data (for the shape) or numPix"))?;
            (n, n)
        }
    };
    let m = data.get("transform_pix2angle").ok_or_else(|| invalid("kwargs_data.transform_pix2angle", "required field is missing"))?;
    let m: Vec<f64> = m
        .as_array()
        .filter(|rows| rows.len() == 2)
        .map(|rows| rows.iter().filter_map(Value::as_array).flatten().filter_map(Value::as_f64).collect())
        .filter(|v: &Vec<f64>| v.len() == 4)
        .ok_or_else(|| invalid("kwargs_data.transform_pix2angle", "expected a 2×2 matrix of numbers"))?;
    let s = m[0];
    let tol = 1e-12 * s.abs();
    if !(s > 0.0 && (m[3] - s).abs() <= tol && m[1].abs() <= tol && m[2].abs() <= tol) {
        return Err(invalid(
            "kwargs_data.transform_pix2angle",
            format!("only [[s, 0], [0, s]] with s > 0 is supported (square, unrotated pixels, x along columns), got {m:?}"),
        ));
    }
    for (key, n) in [("ra_at_xy_0", nx), ("dec_at_xy_0", ny)] {
        let want = -0.5 * (n as f64 - 1.0) * s;
        let got = number(data, key, "kwargs_data.")?.unwrap_or(want);
        if (got - want).abs() > 1e-9 * s.max(1.0) {
            return Err(invalid(
                format!("kwargs_data.{key}"),
                format!("only grids centred on (0, 0) are supported: expected {want}, got {got}"),
            ));
        }
    }
    Ok((nx, ny, s))
}

fn psf(root: &Map<String, Value>) -> Result<Value, PhysicsError> {
    let Some(v) = root.get("kwargs_psf") else { return Ok(json!({"type": "NONE"})) };
    let obj = v.as_object().ok_or_else(|| invalid("kwargs_psf", "expected a keyword dictionary"))?;
    let kind = obj.get("psf_type").and_then(Value::as_str).ok_or_else(|| invalid("kwargs_psf.psf_type", "missing PSF type"))?;
    match kind {
        "NONE" => {
            reject_unknown(obj, &["psf_type"], "kwargs_psf")?;
            Ok(json!({"type": "NONE"}))
        }
        "GAUSSIAN" => {
            reject_unknown(obj, &["psf_type", "fwhm"], "kwargs_psf")?;
            let fwhm = number(obj, "fwhm", "kwargs_psf.")?.ok_or_else(|| invalid("kwargs_psf.fwhm", "required field is missing"))?;
            Ok(json!({"type": "GAUSSIAN", "fwhm": fwhm}))
        }
        "PIXEL" => {
            reject_unknown(obj, &["psf_type", "kernel_point_source"], "kwargs_psf")?;
            let kernel =
                obj.get("kernel_point_source").ok_or_else(|| invalid("kwargs_psf.kernel_point_source", "required field is missing"))?;
            Ok(json!({"type": "PIXEL", "kernel": kernel}))
        }
        other => Err(invalid("kwargs_psf.psf_type", format!("'{other}' is not supported (NONE, GAUSSIAN, PIXEL)"))),
    }
}

fn supersampling(root: &Map<String, Value>) -> Result<u64, PhysicsError> {
    let Some(v) = root.get("kwargs_numerics") else { return Ok(1) };
    let obj = v.as_object().ok_or_else(|| invalid("kwargs_numerics", "expected a keyword dictionary"))?;
    reject_unknown(obj, &["supersampling_factor", "supersampling_convolution"], "kwargs_numerics")?;
    if obj.get("supersampling_convolution").is_some_and(|v| v != &Value::Bool(false)) {
        return Err(invalid("kwargs_numerics.supersampling_convolution", "only false is supported (the PSF acts on the pixel grid)"));
    }
    obj.get("supersampling_factor").map_or(Ok(1), |v| pixel_count(v, "kwargs_numerics.supersampling_factor"))
}

/// The scene in this project's form (`grid`, `lens`, `source`, `lens_light`, `psf`).
pub fn scene_from_lenstronomy(root: &Map<String, Value>) -> Result<Value, PhysicsError> {
    reject_unknown(root, &KNOWN, "")?;
    let (nx, ny, s) = grid(root)?;
    Ok(json!({
        "grid": {"nx": nx, "ny": ny, "pixel_scale": s, "supersampling": supersampling(root)?},
        "lens": profiles(root, "lens_model_list", "kwargs_lens")?,
        "source": profiles(root, "source_light_model_list", "kwargs_source")?,
        "lens_light": profiles(root, "lens_light_model_list", "kwargs_lens_light")?,
        "psf": psf(root)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(v: Value) -> Result<Value, PhysicsError> {
        scene_from_lenstronomy(v.as_object().unwrap())
    }

    #[test]
    fn translates_lists_grid_psf_and_numerics() {
        let got = convert(json!({
            "lens_model_list": ["SIE", "SHEAR"],
            "kwargs_lens": [{"theta_E": 1.0, "e1": 0.1, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}, {"gamma1": 0.01, "gamma2": 0.02}],
            "source_light_model_list": ["GAUSSIAN"],
            "kwargs_source": [{"amp": 1.0, "sigma": 0.1, "center_x": 0.0, "center_y": 0.0}],
            "kwargs_data": {"transform_pix2angle": [[0.1, 0.0], [0.0, 0.1]], "ra_at_xy_0": -0.45, "dec_at_xy_0": -0.25,
                            "image_data": vec![vec![0.0; 10]; 6], "background_rms": 0.1},
            "kwargs_psf": {"psf_type": "GAUSSIAN", "fwhm": 0.2},
            "kwargs_numerics": {"supersampling_factor": 3, "supersampling_convolution": false}
        }))
        .unwrap();
        assert_eq!(got["grid"], json!({"nx": 10, "ny": 6, "pixel_scale": 0.1, "supersampling": 3}));
        assert_eq!(got["lens"][1], json!({"type": "SHEAR", "gamma1": 0.01, "gamma2": 0.02}));
        assert_eq!(got["source"][0]["type"], "GAUSSIAN");
        assert_eq!(got["lens_light"], json!([]));
        assert_eq!(got["psf"], json!({"type": "GAUSSIAN", "fwhm": 0.2}));
    }

    #[test]
    fn sim_util_names_give_a_square_grid() {
        let got = convert(json!({"lens_model_list": ["SIS"], "kwargs_lens": [{"theta_E": 1.0}], "numPix": 8, "deltaPix": 0.05})).unwrap();
        assert_eq!(got["grid"], json!({"nx": 8, "ny": 8, "pixel_scale": 0.05, "supersampling": 1}));
    }

    #[test]
    fn refuses_what_it_cannot_represent_naming_the_key() {
        let base = |data: Value| json!({"lens_model_list": ["SIS"], "kwargs_lens": [{"theta_E": 1.0}], "kwargs_data": data, "numPix": 4});
        let err = |v: Value| convert(v).unwrap_err().to_string();
        assert!(err(base(json!({"transform_pix2angle": [[-0.1, 0.0], [0.0, 0.1]]}))).contains("kwargs_data.transform_pix2angle"));
        assert!(err(base(json!({"transform_pix2angle": [[0.1, 0.0], [0.0, 0.1]], "ra_at_xy_0": 0.0}))).contains("kwargs_data.ra_at_xy_0"));
        assert!(err(json!({"lens_model_list": ["SIS", "SIS"], "kwargs_lens": [{"theta_E": 1.0}], "numPix": 4, "deltaPix": 0.1}))
            .starts_with("kwargs_lens"));
        assert!(err(
            json!({"lens_model_list": ["SIS"], "kwargs_lens": [{}], "numPix": 4, "deltaPix": 0.1, "kwargs_psf": {"psf_type": "MOFFAT"}})
        )
        .starts_with("kwargs_psf.psf_type"));
        assert!(err(json!({"lens_model_list": [], "numPix": 4, "deltaPix": 0.1, "point_source_model_list": []}))
            .starts_with("point_source_model_list"));
    }
}
