//! The one duration grammar of every attribute: a number, optionally with a
//! fraction, and a unit among `ns`, `us` (or `µs`), `ms`, `s`, `m` (or `min`)
//! and `h`, as in `"250ms"` or `"1.5m"`.

use syn::LitStr;

/// What the error says is expected, where any duration will do.
pub const EXPECTED: &str = "expected a number and a unit: ns, us, ms, s, m or h (as in \"250ms\")";

/// `lit` as whole nanoseconds; `expected` finishes the error message, so that
/// an attribute with a narrower range can suggest the units that fit it.
pub fn parse(lit: &LitStr, expected: &str) -> syn::Result<u64> {
    let text = lit.value();
    nanos(&text).ok_or_else(|| syn::Error::new(lit.span(), invalid(&text, expected)))
}

/// The message for a `text` that is not a duration.
pub fn invalid(text: &str, expected: &str) -> String {
    format!("invalid duration {text:?}, {expected}")
}

/// `text` as whole nanoseconds, or `None` when it is not a duration.
pub fn nanos(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = trimmed.split_at(split);
    let nanos_per_unit: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    let nanos = number.parse::<f64>().ok()? * nanos_per_unit;
    (nanos.is_finite() && nanos < u64::MAX as f64).then(|| nanos.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::nanos;

    #[test]
    fn every_unit_reads_the_same_everywhere() {
        assert_eq!(nanos("10ns"), Some(10));
        assert_eq!(nanos("250us"), Some(250_000));
        assert_eq!(nanos("250ms"), Some(250_000_000));
        assert_eq!(nanos("1.5s"), Some(1_500_000_000));
        assert_eq!(nanos("1.5m"), Some(90_000_000_000));
        assert_eq!(nanos("1h"), Some(3_600_000_000_000));
        assert_eq!(nanos("0s"), Some(0));
    }

    #[test]
    fn anything_else_is_rejected() {
        for text in ["", "s", "30", "1 second", "30 parsecs", "soon", "1.2.3s", "-1s"] {
            assert_eq!(nanos(text), None, "{text:?}");
        }
    }
}
