//! What `/metrics` adds around the families it renders: the constant labels
//! of [`Builder::const_label`](crate::Builder::const_label) (and
//! `OBS_CONST_LABELS`) on every sample, and the `target_info` family that
//! shows the resource.
//!
//! How the OpenTelemetry "Prometheus and OpenMetrics Compatibility" text was
//! read (its "Resource Attributes" section, for SDK pull exporters):
//! * resource attributes become one `target` info metric, never labels of the
//!   other families; its labels are the resource attributes and nothing else
//!   (so neither `job` nor `instance`: Prometheus adds its own target labels
//!   at scrape time, which is what `* on (job, instance) group_left(...)
//!   target_info` joins on);
//! * where the format has no info type (the Prometheus text format), a gauge
//!   named `target_info` with the value 1; OpenMetrics has `# TYPE target info`,
//!   whose sample is `target_info`; the help is OpenMetrics' `Target metadata`;
//! * attribute names: every character outside `[a-zA-Z0-9_]` (and a leading
//!   digit) becomes `_`, runs of `_` become one; two names that end up the same
//!   keep both values, joined with `;` in the order of the original keys.
//!
//! Constant labels are labels of the series, not resource attributes: the
//! OTLP metrics export (which reads this text) sends them as attributes of
//! every data point, and its resource stays the resource.
//!
//! The constant labels go in at one place, over the rendered text, so every
//! family (the recorder's, the store's, process, runtime, callback gauges)
//! gets them without each writer knowing: a sample line's label set is
//! rewritten with the constant labels first. A label of the application's own
//! metrics with a constant label's name is renamed `exported_<name>`, as
//! Prometheus renames a scraped label that clashes with a target label.

use std::fmt::Write as _;

use super::text_format::{TextFormat, escape_label_value, is_label_name, sanitize_label_name};
use crate::env::{env_var, parse_key_values, warn_env};
use crate::init_error::InitError;
use crate::metrics::families;

/// The longest constant label value, in bytes.
const MAX_VALUE_BYTES: usize = 256;

/// Label names a constant label may not take besides obs's own: Prometheus'
/// target labels and the suffix labels of histograms and summaries.
const RESERVED: [&str; 4] = ["job", "instance", "le", "quantile"];

/// The constant labels, checked, rendered once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConstLabels {
    /// `environment="prod",region="eu"`, escaped.
    rendered: String,
    names: Vec<String>,
}

impl ConstLabels {
    /// The builder's labels, then `OBS_CONST_LABELS` (a name in both takes the
    /// variable's value). A mistake in code is an error; in the variable, a
    /// warning, and none of the variable's labels are used.
    pub(crate) fn resolve(from_code: &[(String, String)]) -> Result<ConstLabels, InitError> {
        let mut labels: Vec<(String, String)> = Vec::new();
        for (name, value) in from_code {
            if labels.iter().any(|(n, _)| n == name) {
                return Err(InitError::Config(format!("const label `{name}` is given twice")));
            }
            check(name, value).map_err(|why| InitError::Config(format!("const label `{name}`: {why}")))?;
            labels.push((name.clone(), value.clone()));
        }
        if let Some(text) = env_var("OBS_CONST_LABELS") {
            match parse_key_values(&text).and_then(|members| checked_env(&members).map(|()| members)) {
                Ok(members) => {
                    for (name, value) in members {
                        match labels.iter_mut().find(|(n, _)| *n == name) {
                            Some(label) => label.1 = value,
                            None => labels.push((name, value)),
                        }
                    }
                }
                Err(why) => warn_env("OBS_CONST_LABELS", &why, "none of its labels"),
            }
        }
        let mut rendered = String::new();
        for (i, (name, value)) in labels.iter().enumerate() {
            if i > 0 {
                rendered.push(',');
            }
            let _ = write!(rendered, "{name}=\"");
            escape_label_value(&mut rendered, value);
            rendered.push('"');
        }
        Ok(ConstLabels { rendered, names: labels.into_iter().map(|(name, _)| name).collect() })
    }

    /// `environment="prod",region="eu"` (empty without constant labels).
    pub(crate) fn shown(&self) -> &str {
        &self.rendered
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `text` with the constant labels first in every sample's label set
    /// (comment lines, exemplars and `target_info` unchanged).
    pub(crate) fn apply(&self, text: String) -> String {
        if self.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len() + (self.rendered.len() + 1) * text.len() / 40);
        for line in text.split_inclusive('\n') {
            let mark = out.len();
            if !self.write_labelled(&mut out, line) {
                out.truncate(mark);
                out.push_str(line);
            }
        }
        out
    }

    /// Writes one sample line with the constant labels; `false` (with
    /// something written, which the caller takes back) to keep it as it is.
    fn write_labelled(&self, out: &mut String, line: &str) -> bool {
        if line.starts_with('#') || line.trim().is_empty() {
            return false;
        }
        let Some(at) = line.find(['{', ' ']) else { return false };
        let (name, rest) = line.split_at(at);
        if name == TARGET_INFO {
            return false;
        }
        out.push_str(name);
        out.push('{');
        out.push_str(&self.rendered);
        let Some(mut body) = rest.strip_prefix('{') else {
            out.push('}');
            out.push_str(rest);
            return true;
        };
        // `key="value"` pairs up to the closing brace; a line that does not
        // read so is left alone (obs renders none, but it must never fail).
        loop {
            body = body.trim_start_matches(',');
            if let Some(after) = body.strip_prefix('}') {
                out.push('}');
                out.push_str(after);
                return true;
            }
            let Some((key, after)) = body.split_once("=\"") else { return false };
            let Some(end) = value_end(after) else { return false };
            out.push(',');
            if self.names.iter().any(|n| n == key) {
                out.push_str(&exported(key, rest, &self.names));
            } else {
                out.push_str(key);
            }
            out.push_str("=\"");
            out.push_str(&after[..=end]);
            body = &after[end + 1..];
        }
    }
}

/// `exported_<key>`, prefixed again while that is a constant label or a label
/// of the line (`labels`: its label set as written), as Prometheus does.
fn exported(key: &str, labels: &str, names: &[String]) -> String {
    let mut name = format!("exported_{key}");
    let taken = |name: &str| {
        names.iter().any(|n| n == name)
            || labels.contains(&format!("{{{name}=\""))
            || labels.contains(&format!(",{name}=\""))
    };
    while taken(&name) {
        name.insert_str(0, "exported_");
    }
    name
}

/// The byte index of the quote that closes an escaped label value (bytes,
/// not chars: the quote and the backslash are ASCII, never inside a UTF-8 sequence).
fn value_end(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Why a constant label is refused, if it is.
fn check(name: &str, value: &str) -> Result<(), String> {
    if !is_label_name(name) {
        return Err("a label name is [a-zA-Z_][a-zA-Z0-9_]*".into());
    }
    if name.starts_with("__") {
        return Err("names starting with `__` are reserved by Prometheus".into());
    }
    if RESERVED.contains(&name) || families().iter().any(|f| f.labels().contains(&name)) {
        return Err("obs or Prometheus already puts a label of this name on its series".into());
    }
    if let Some(site) = crate::callsite::catalog().iter().find(|site| site.labels().contains(&name)) {
        return Err(format!("`labels(...)` of `{}` already puts a label of this name on its series", site.name()));
    }
    if value.is_empty() {
        return Err("the value is empty (Prometheus treats an empty label as no label)".into());
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(format!("the value is longer than {MAX_VALUE_BYTES} bytes"));
    }
    Ok(())
}

/// The variable's members checked as the builder's are; the reason names
/// the member by position, never its value.
fn checked_env(members: &[(String, String)]) -> Result<(), String> {
    for (i, (name, value)) in members.iter().enumerate() {
        let position = format!("member {} of {}", i + 1, members.len());
        if members[..i].iter().any(|(n, _)| n == name) {
            return Err(format!("{position} repeats a label name"));
        }
        check(name, value).map_err(|why| format!("{position}: {why}"))?;
    }
    Ok(())
}

/// The sample name of the resource's family.
pub(crate) const TARGET_INFO: &str = "target_info";

/// The `target_info` family: the resource's attributes as labels, value 1
/// (an info family in OpenMetrics, a gauge in the Prometheus text format).
pub(crate) fn write_target_info(out: &mut String, format: TextFormat, resource: &[(String, String)]) {
    if resource.is_empty() {
        return;
    }
    let help = crate::metrics::TARGET_INFO.help();
    match format {
        TextFormat::OpenMetrics => {
            let _ = write!(out, "# HELP target {help}\n# TYPE target info\n");
        }
        TextFormat::Prometheus => {
            let _ = write!(out, "# HELP {TARGET_INFO} {help}\n# TYPE {TARGET_INFO} gauge\n");
        }
    }
    // Sorted by the original key, so values of names that collide join in that order.
    let mut attrs: Vec<&(String, String)> = resource.iter().collect();
    attrs.sort();
    let mut labels: Vec<(String, String)> = Vec::new();
    for (key, value) in attrs {
        let name = attribute_label(key);
        match labels.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push(';');
                joined.push_str(value);
            }
            None => labels.push((name, value.clone())),
        }
    }
    out.push_str(TARGET_INFO);
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"");
        escape_label_value(out, value);
        out.push('"');
    }
    out.push_str("} 1\n");
}

/// A resource attribute's name as a label: invalid characters `_`, runs of `_` one.
fn attribute_label(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for c in sanitize_label_name(key).chars() {
        if !(c == '_' && name.ends_with('_')) {
            name.push(c);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Result<ConstLabels, InitError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        ConstLabels::resolve(&pairs)
    }

    #[test]
    fn every_sample_gets_the_labels_first_and_a_clashing_label_is_exported() {
        let env = labels(&[("environment", "prod"), ("region", "e\"u")]).unwrap();
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\
            b{environment=\"dev\",k=\"x\\\"}y\"} 2 # {trace_id=\"ab\"} 1 1.5\n\
            c_bucket{le=\"+Inf\"} 1\ntarget_info{service_name=\"s\"} 1\n# EOF\n";
        let expected = "# HELP a_total A.\n# TYPE a_total counter\n\
            a_total{environment=\"prod\",region=\"e\\\"u\"} 3\n\
            b{environment=\"prod\",region=\"e\\\"u\",exported_environment=\"dev\",k=\"x\\\"}y\"} 2 # {trace_id=\"ab\"} 1 1.5\n\
            c_bucket{environment=\"prod\",region=\"e\\\"u\",le=\"+Inf\"} 1\n\
            target_info{service_name=\"s\"} 1\n# EOF\n";
        assert_eq!(env.apply(text.to_owned()), expected);
        let both = "d{environment=\"a\",exported_environment=\"b\"} 1\n";
        let renamed = "d{environment=\"prod\",region=\"e\\\"u\",exported_exported_environment=\"a\",exported_environment=\"b\"} 1\n";
        assert_eq!(env.apply(both.to_owned()), renamed, "no label twice");
        assert_eq!(labels(&[]).unwrap().apply(text.to_owned()), text);
    }

    #[test]
    fn init_refuses_what_prometheus_or_obs_would_not_take() {
        for (name, value, why) in [
            ("9env", "x", "[a-zA-Z_]"),
            ("env-name", "x", "[a-zA-Z_]"),
            ("__env", "x", "reserved"),
            ("instance", "x", "already"),
            ("status", "x", "already"),
            ("le", "x", "already"),
            ("env", "", "empty"),
        ] {
            let err = labels(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(name), "{name}: {err}");
        }
        let long = "v".repeat(MAX_VALUE_BYTES + 1);
        assert!(labels(&[("env", &long)]).unwrap_err().to_string().contains("longer than 256"));
        let err = labels(&[("env", "a"), ("env", "b")]).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn target_info_follows_the_compatibility_spec() {
        let resource = [
            ("service.name".to_string(), "shop".to_string()),
            ("service.version".to_string(), "1.2".to_string()),
            ("a.b".to_string(), "1".to_string()),
            ("a_b".to_string(), "2".to_string()),
            ("9k..x".to_string(), "q\"".to_string()),
        ];
        let mut out = String::new();
        write_target_info(&mut out, TextFormat::Prometheus, &resource);
        assert_eq!(
            out,
            "# HELP target_info Target metadata\n# TYPE target_info gauge\n\
             target_info{_k_x=\"q\\\"\",a_b=\"1;2\",service_name=\"shop\",service_version=\"1.2\"} 1\n"
        );
        let mut out = String::new();
        write_target_info(&mut out, TextFormat::OpenMetrics, &resource[..1]);
        assert_eq!(out, "# HELP target Target metadata\n# TYPE target info\ntarget_info{service_name=\"shop\"} 1\n");
    }
}
