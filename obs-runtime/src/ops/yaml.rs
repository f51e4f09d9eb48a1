//! Block-style YAML, the form Prometheus rule files and Alertmanager
//! configurations are read and edited in, from a small ordered tree (keys stay
//! in the order a person would write them: `alert`, `expr`, `for`, `labels`).
//! Every string is written as a JSON string, which is a valid YAML
//! double-quoted scalar with the same escapes, so no value can be mistaken for
//! a number, a boolean or YAML syntax.
//!
//! Written here rather than taken from a crate: `serde_yaml` is archived, and
//! the maintained YAML serializers bring a parser, a second `syn` and encoding
//! tables for what is, on the emitting side only, this page. promtool and
//! amtool read every file it writes in the tests.

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    Map(Vec<(String, Yaml)>),
    List(Vec<Yaml>),
    Str(String),
    Bool(bool),
}

/// `[(key, value), ...]` as a map, keys in the given order.
pub(crate) fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Yaml {
    Yaml::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// A string scalar.
pub(crate) fn s(text: impl Into<String>) -> Yaml {
    Yaml::Str(text.into())
}

impl Yaml {
    /// The value as a YAML document.
    pub(crate) fn to_document(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0, Position::Top);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, indent: usize, at: Position) {
        match self {
            Yaml::Map(entries) if !entries.is_empty() => {
                for (i, (key, value)) in entries.iter().enumerate() {
                    // The first key of a list item shares the line of its `- `.
                    if !(at == Position::ListItem && i == 0) {
                        if at != Position::Top || i > 0 {
                            out.push('\n');
                        }
                        push_indent(out, indent);
                    }
                    push_key(out, key);
                    out.push(':');
                    value.write(out, indent + 2, Position::MapValue);
                }
            }
            Yaml::List(items) if !items.is_empty() => {
                // A list under a key sits at the key's own indentation, as people write it.
                let own = if at == Position::MapValue { indent - 2 } else { indent };
                for item in items {
                    out.push('\n');
                    push_indent(out, own);
                    out.push_str("- ");
                    item.write(out, own + 2, Position::ListItem);
                }
            }
            scalar => {
                if at == Position::MapValue {
                    out.push(' ');
                }
                match scalar {
                    Yaml::Map(_) => out.push_str("{}"),
                    Yaml::List(_) => out.push_str("[]"),
                    Yaml::Str(text) => push_quoted(out, text),
                    Yaml::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Position {
    Top,
    /// After `key:`.
    MapValue,
    /// After `- `.
    ListItem,
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A key that is a plain identifier is written bare, as people write them.
fn push_key(out: &mut String, key: &str) {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        out.push_str(key);
    } else {
        push_quoted(out, key);
    }
}

/// A JSON string literal: `"`, `\` and control characters escaped.
fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_and_lists_are_block_style_in_order() {
        let doc = map([
            (
                "groups",
                Yaml::List(vec![
                    map([
                        ("name", s("a")),
                        (
                            "rules",
                            Yaml::List(vec![map([
                                ("record", s("x:y")),
                                ("expr", s("sum(rate(z{a=\"b\\\\c\"}[5m]))")),
                                ("labels", map([("le", s("0.25"))])),
                            ])]),
                        ),
                    ]),
                    map([("name", s("b")), ("rules", Yaml::List(vec![]))]),
                ]),
            ),
            ("send_resolved", Yaml::Bool(true)),
            ("group_by", Yaml::List(vec![s("alertname"), s("service")])),
            ("weird key", Yaml::Bool(false)),
        ]);
        let expected = r#"groups:
- name: "a"
  rules:
  - record: "x:y"
    expr: "sum(rate(z{a=\"b\\\\c\"}[5m]))"
    labels:
      le: "0.25"
- name: "b"
  rules: []
send_resolved: true
group_by:
- "alertname"
- "service"
"weird key": false
"#;
        assert_eq!(doc.to_document(), expected);
    }
}
