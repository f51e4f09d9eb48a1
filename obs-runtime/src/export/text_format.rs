//! The escaping of the Prometheus text format, for every line obs renders
//! itself (the function families, the bucketed histograms): one set of rules.
//! Not metrics-exporter-prometheus's `formatting` helpers: they take a
//! backslash before a quote as an escape already made, and so lose it from
//! `a\"b`.

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

/// A `# HELP` text: backslash and newline escaped (quotes stay).
pub(crate) fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
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

fn sanitize(name: &str, colons: bool) -> String {
    name.char_indices()
        .map(|(i, c)| {
            let valid = c.is_ascii_alphabetic() || c == '_' || (colons && c == ':') || (i > 0 && c.is_ascii_digit());
            if valid { c } else { '_' }
        })
        .collect()
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
        escape_help(&mut out, "say \"hi\"\\\nthen");
        assert_eq!(out, r#"say "hi"\\\nthen"#);
        assert_eq!(sanitize_metric_name("9app:req-total"), "_app:req_total");
        assert_eq!(sanitize_label_name("9a:b-c"), "_a_b_c");
    }
}
