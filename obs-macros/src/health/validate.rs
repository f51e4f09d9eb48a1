//! Checks the model as a whole and turns it into the checks to expand.

use syn::{Ident, LitStr, Type};

use super::ast::Input;
use crate::args::duration;
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
        let timeout_nanos = attrs.timeout.as_ref().and_then(|lit| match timeout_nanos(&lit.value()) {
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

/// What an invalid timeout's message suggests: the units that fit the accepted range.
const TIMEOUT_UNITS: &str = "expected a number followed by `ms`, `s` or `m`, as in \"500ms\" or \"2s\"";

/// A check's timeout in nanoseconds: any duration of the one grammar, between
/// 1ms (a check cannot answer sooner) and 60m (a probe that waits longer is no probe).
fn timeout_nanos(text: &str) -> Result<u64, String> {
    let nanos = duration::nanos(text).ok_or_else(|| duration::invalid(text, TIMEOUT_UNITS))?;
    if nanos < 1_000_000 {
        return Err(format!("timeout \"{text}\" is too short, expected at least 1ms"));
    }
    if nanos > 3_600_000_000_000 {
        return Err(format!("timeout \"{text}\" is too long, expected at most 60m"));
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::timeout_nanos;

    #[test]
    fn durations_read_like_humans_write_them() {
        assert_eq!(timeout_nanos("1s"), Ok(1_000_000_000));
        assert_eq!(timeout_nanos("500ms"), Ok(500_000_000));
        assert_eq!(timeout_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(timeout_nanos("2m"), Ok(120_000_000_000));
        assert!(timeout_nanos("1 sec").is_err());
        assert!(timeout_nanos("s").is_err());
        assert!(timeout_nanos("0s").is_err());
    }

    #[test]
    fn timeouts_share_the_duration_grammar_of_the_attributes() {
        assert_eq!(timeout_nanos("1500us"), Ok(1_500_000));
        assert_eq!(timeout_nanos("1h"), Ok(3_600_000_000_000));
        assert_eq!(timeout_nanos("0.5m"), Ok(30_000_000_000));
        assert!(timeout_nanos("250us").unwrap_err().contains("too short"));
        assert!(timeout_nanos("2h").unwrap_err().contains("too long"));
    }
}
