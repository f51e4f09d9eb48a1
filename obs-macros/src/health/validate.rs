//! Checks the model as a whole and turns it into the checks to expand.

use syn::{Ident, LitStr, Type};

use super::ast::Input;
use crate::errors::Errors;

/// A field that is a check, with its settings decided.
pub struct CheckField<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub name: LitStr,
    pub critical: bool,
    pub timeout_nanos: Option<u64>,
    pub liveness: bool,
    pub readiness: bool,
}

pub fn validate<'a>(input: &Input<'a>, errors: &mut Errors) -> Vec<CheckField<'a>> {
    let mut checks: Vec<CheckField> = Vec::new();
    for field in &input.fields {
        let attrs = &field.attrs;
        if attrs.skip.is_some() {
            for (key, span) in attrs.given() {
                errors.push(syn::Error::new(
                    span,
                    format!("`{key}` has no effect on a field marked `skip`; remove one of them"),
                ));
            }
            continue;
        }
        if let (Some(_), Some(non_critical)) = (&attrs.critical, &attrs.non_critical) {
            errors.push(syn::Error::new(
                non_critical.span(),
                "`critical` and `non_critical` conflict: a check is one or the other",
            ));
        }
        let name = match &attrs.name {
            Some(name) => {
                if let Err(message) = check_name(&name.value()) {
                    errors.push(syn::Error::new(name.span(), message));
                }
                name.clone()
            }
            None => {
                let text = field.ident.to_string();
                LitStr::new(text.strip_prefix("r#").unwrap_or(&text), field.ident.span())
            }
        };
        if let Some(first) = checks.iter().find(|c| c.name.value() == name.value()) {
            errors.push(syn::Error::new(
                name.span(),
                format!(
                    "duplicate health check name \"{}\" (also used by field `{}`); give one a different `name`",
                    name.value(),
                    first.ident
                ),
            ));
        }
        let timeout_nanos = attrs.timeout.as_ref().and_then(|lit| match parse_duration(&lit.value()) {
            Ok(nanos) => Some(nanos),
            Err(message) => {
                errors.push(syn::Error::new(lit.span(), message));
                None
            }
        });
        let liveness = attrs.liveness.is_some();
        checks.push(CheckField {
            ident: field.ident,
            ty: field.ty,
            name,
            critical: attrs.non_critical.is_none(),
            timeout_nanos,
            liveness,
            // Readiness unless the field only asked for liveness.
            readiness: attrs.readiness.is_some() || !liveness,
        });
    }
    if checks.is_empty() {
        let message = if input.fields.is_empty() {
            "#[derive(HealthCheck)] expects at least one field, found an empty struct"
        } else {
            "#[derive(HealthCheck)] expects at least one field that is not `skip`"
        };
        errors.push(syn::Error::new(input.ident.span(), message));
    }
    checks
}

/// Names appear in URLs (`/health/{name}`), metric labels and dotted paths.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("health check name must not be empty".to_owned());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(format!(
            "invalid character {bad:?} in health check name, expected letters, digits, `_` or `-` (it is used in urls and metric labels)"
        ));
    }
    Ok(())
}

/// `"500ms"`, `"1s"`, `"1.5s"`, `"2m"` to nanoseconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "invalid duration \"{text}\", expected a number followed by `ms`, `s` or `m`, as in \"500ms\" or \"2s\""
        )
    };
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => return Err(invalid()),
    };
    let nanos = value * scale;
    if nanos < 1e6 {
        return Err(format!("timeout \"{text}\" is too short, expected at least 1ms"));
    }
    if nanos > 3600e9 {
        return Err(format!("timeout \"{text}\" is too long, expected at most 60m"));
    }
    Ok(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_like_humans_write_them() {
        assert_eq!(parse_duration("1s"), Ok(1_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert!(parse_duration("1 sec").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
