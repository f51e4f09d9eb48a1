//! The two text formats `/metrics` speaks, for every line obs renders: the
//! Prometheus text format (0.0.4), and OpenMetrics 1.0 for clients that ask
//! for it (`Accept: application/openmetrics-text`), which adds exemplars.
//!
//! The differences, all decided here: an OpenMetrics counter family is named
//! without `_total` in its `# HELP`/`# TYPE` lines while its sample keeps it
//! (a counter named without the suffix gets it on the sample); `# HELP`
//! escapes double quotes too; exemplars follow a sample after ` # `; the text
//! ends with `# EOF`. Neither format has blank lines. Label values are
//! escaped one way in both (backslash, double quote, newline), a backslash
//! before a quote included.

use std::fmt::Write as _;

use crate::metrics::MetricType;
use crate::metrics::exemplar::Exemplar;

/// Which text format a rendering is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFormat {
    /// The Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0, with exemplars.
    OpenMetrics,
}

impl TextFormat {
    /// The format a scrape's `Accept` header asks for: OpenMetrics when it
    /// names it (Prometheus does when exemplar storage or native scraping is on).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn negotiate(accept: Option<&str>) -> TextFormat {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => TextFormat::OpenMetrics,
            _ => TextFormat::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            TextFormat::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            TextFormat::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// `# HELP` (when there is help) and `# TYPE` of the family whose samples
    /// are named `name` (a counter's with `_total`, a histogram's before
    /// `_bucket`); returns the name a counter's or gauge's samples take.
    pub(crate) fn family(self, out: &mut String, name: &str, kind: MetricType, help: Option<&str>) -> String {
        let family = match (self, kind) {
            (TextFormat::OpenMetrics, MetricType::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        if let Some(help) = help {
            let _ = write!(out, "# HELP {family} ");
            self.escape_help(out, help);
            out.push('\n');
        }
        let _ = writeln!(out, "# TYPE {family} {kind}");
        match (self, kind) {
            (TextFormat::OpenMetrics, MetricType::Counter) => format!("{family}_total"),
            _ => name.to_owned(),
        }
    }

    /// A `# HELP` text: backslash and newline escaped, and in OpenMetrics the double quote.
    pub(crate) fn escape_help(self, out: &mut String, help: &str) {
        for c in help.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' if self == TextFormat::OpenMetrics => out.push_str("\\\""),
                c => out.push(c),
            }
        }
    }

    /// ` # {trace_id="…",span_id="…"} value timestamp` after a sample, in OpenMetrics.
    pub(crate) fn exemplar(self, out: &mut String, exemplar: Option<&Exemplar>) {
        let (TextFormat::OpenMetrics, Some(e)) = (self, exemplar) else { return };
        let _ = write!(out, " # {{trace_id=\"{:032x}\",span_id=\"{:016x}\"}} ", e.trace_id, e.span_id);
        write_value(out, e.value);
        let _ = write!(out, " {}.{:09}", e.unix_nanos / 1_000_000_000, e.unix_nanos % 1_000_000_000);
    }

    /// What ends a rendering: `# EOF` in OpenMetrics.
    pub(crate) fn finish(self, out: &mut String) {
        if self == TextFormat::OpenMetrics {
            out.push_str("# EOF\n");
        }
    }
}

/// A sample value: `+Inf`, `-Inf` and `NaN` spelled as both formats want.
pub(crate) fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// A label value: backslash, double quote and newline escaped.
pub(crate) fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A metric name made valid (`[a-zA-Z_:][a-zA-Z0-9_:]*`) the way the recorder
/// does it for the names it renders, so a namespace reads the same in both.
pub(crate) fn sanitize_metric_name(name: &str) -> String {
    sanitize(name, true)
}

/// A label name made valid (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn sanitize_label_name(name: &str) -> String {
    sanitize(name, false)
}

/// Whether `name` is a label name as it stands (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn is_label_name(name: &str) -> bool {
    !name.is_empty() && name.char_indices().all(|(i, c)| name_char(i, c, false))
}

fn sanitize(name: &str, colons: bool) -> String {
    name.char_indices().map(|(i, c)| if name_char(i, c, colons) { c } else { '_' }).collect()
}

/// Whether `c` may stand at index `i` of a metric name (`colons`) or label name.
fn name_char(i: usize, c: char, colons: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (colons && c == ':') || (i > 0 && c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut out = String::new();
        escape_label_value(&mut out, "a\\b\"c\nd é");
        assert_eq!(out, r#"a\\b\"c\nd é"#);
        let mut out = String::new();
        escape_label_value(&mut out, r#"C:\"x\"#);
        assert_eq!(out, r#"C:\\\"x\\"#, "a backslash before a quote is kept");
    }

    #[test]
    fn help_keeps_quotes_and_names_lose_what_the_format_refuses() {
        let mut out = String::new();
        TextFormat::Prometheus.escape_help(&mut out, "say \"hi\"\\\nthen");
        assert_eq!(out, r#"say "hi"\\\nthen"#);
        let mut out = String::new();
        TextFormat::OpenMetrics.escape_help(&mut out, "say \"hi\"");
        assert_eq!(out, r#"say \"hi\""#);
        assert_eq!(sanitize_metric_name("9app:req-total"), "_app:req_total");
        assert_eq!(sanitize_label_name("9a:b-c"), "_a_b_c");
    }
}
