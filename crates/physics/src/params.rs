//! Parameter specifications: lenstronomy keyword names, units and bounds, as
//! data shared by JSON parsing, samplers and (later) the encoder's heads.

use crate::PhysicsError;
use serde_json::{Map, Value};

/// One named profile parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// lenstronomy keyword name, e.g. `theta_E`.
    pub name: &'static str,
    /// Unit, for messages and docs.
    pub unit: &'static str,
    /// Inclusive lower bound of the physically valid range.
    pub lower: f64,
    /// Inclusive upper bound of the physically valid range.
    pub upper: f64,
    /// Value taken when the keyword is absent; `None` makes it required.
    pub default: Option<f64>,
}

impl ParamSpec {
    pub const fn required(name: &'static str, unit: &'static str, lower: f64, upper: f64) -> Self {
        ParamSpec { name, unit, lower, upper, default: None }
    }

    pub const fn optional(name: &'static str, unit: &'static str, lower: f64, upper: f64, default: f64) -> Self {
        ParamSpec { name, unit, lower, upper, default: Some(default) }
    }

    /// A position coordinate (arcsec), 0 when absent.
    pub const fn position(name: &'static str) -> Self {
        ParamSpec::optional(name, "arcsec", -1e4, 1e4, 0.0)
    }

    /// A component of an ellipticity (e1, e2) or shear (gamma1, gamma2).
    pub const fn component(name: &'static str) -> Self {
        ParamSpec::optional(name, "", -1.0, 1.0, 0.0)
    }

    /// Checks `value` against the bounds; the error names `context.name`.
    pub fn check(&self, value: f64, context: &str) -> Result<f64, PhysicsError> {
        if !value.is_finite() || value < self.lower || value > self.upper {
            return Err(PhysicsError::invalid(
                format!("{context}.{}", self.name),
                format!("{value} is outside the valid range [{}, {}] {}", self.lower, self.upper, self.unit),
            ));
        }
        Ok(value)
    }
}

/// Reads the parameters `specs` from a JSON object in spec order. Keys other
/// than `type` and the specs' names are rejected so that typos are not
/// silently replaced by defaults.
pub fn parse_params(obj: &Map<String, Value>, specs: &[ParamSpec], context: &str) -> Result<Vec<f64>, PhysicsError> {
    if let Some(unknown) = obj.keys().find(|k| *k != "type" && !specs.iter().any(|s| s.name == k.as_str())) {
        let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
        return Err(PhysicsError::invalid(
            format!("{context}.{unknown}"),
            format!("unknown parameter (expected one of: {})", known.join(", ")),
        ));
    }
    specs
        .iter()
        .map(|spec| {
            let value = match obj.get(spec.name) {
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| PhysicsError::invalid(format!("{context}.{}", spec.name), format!("expected a number, got {v}")))?,
                None => spec
                    .default
                    .ok_or_else(|| PhysicsError::invalid(format!("{context}.{}", spec.name), "required parameter is missing"))?,
            };
            spec.check(value, context)
        })
        .collect()
}

/// Reads a `{"type": ..., keywords...}` profile object against a registry of
/// (type name, parameter specs): returns the registered type name and the
/// values in spec order. `kind` ("mass", "light") names the registry in errors.
pub fn parse_typed<'r>(
    obj: &Map<String, Value>,
    context: &str,
    kind: &str,
    registry: &'r [(&'static str, &'static [ParamSpec])],
) -> Result<(&'r str, Vec<f64>), PhysicsError> {
    let type_name =
        obj.get("type").and_then(Value::as_str).ok_or_else(|| PhysicsError::invalid(format!("{context}.type"), "missing profile type"))?;
    let (name, specs) = registry.iter().find(|(name, _)| *name == type_name).ok_or_else(|| {
        let known: Vec<&str> = registry.iter().map(|(n, _)| *n).collect();
        PhysicsError::invalid(format!("{context}.type"), format!("unknown {kind} profile '{type_name}' (known: {})", known.join(", ")))
    })?;
    Ok((name, parse_params(obj, specs, &format!("{context} ({type_name})"))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[ParamSpec::required("theta_E", "arcsec", 0.0, 100.0), ParamSpec::position("center_x")];

    fn obj(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn parses_defaults_and_rejects_bad_values() {
        assert_eq!(parse_params(&obj(r#"{"theta_E": 1.2}"#), SPECS, "lens[0]").unwrap(), vec![1.2, 0.0]);
        let e = parse_params(&obj(r#"{"center_x": 1}"#), SPECS, "lens[0]").unwrap_err();
        assert!(e.to_string().starts_with("lens[0].theta_E"), "{e}");
        let e = parse_params(&obj(r#"{"theta_E": -1}"#), SPECS, "lens[0]").unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        let e = parse_params(&obj(r#"{"theta_E": 1, "thetaE": 2}"#), SPECS, "lens[0]").unwrap_err();
        assert!(e.to_string().starts_with("lens[0].thetaE"), "{e}");
        let e = parse_params(&obj(r#"{"theta_E": "big"}"#), SPECS, "lens[0]").unwrap_err();
        assert!(e.to_string().contains("expected a number"), "{e}");
    }
}
