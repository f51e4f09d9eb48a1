//! What `/metrics` says, read back: the families of one rendering of the
//! Prometheus text format (obs's recorder and its store, see
//! `export/prometheus.rs::render`), as counters, gauges and histograms with
//! their buckets. OTLP metrics export takes its values from here, so both
//! report the same numbers and the same bucket bounds.
//!
//! Only the text obs itself renders is read: `# HELP`/`# TYPE` before the
//! samples of a family, histograms as cumulative `_bucket{le}` series with
//! `_sum` and `_count`, label values escaped with `\\`, `\"` and `\n`. A line
//! that does not parse is skipped (it is counted by the caller's data-point
//! check, never a panic).

use std::collections::BTreeMap;

/// The labels of one series, in the order rendered (`le` removed).
pub(crate) type Labels = Vec<(String, String)>;

/// One family of one rendering.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextFamily {
    pub name: String,
    pub help: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Counter(Vec<(Labels, f64)>),
    Gauge(Vec<(Labels, f64)>),
    Histogram(Vec<(Labels, Histogram)>),
}

/// One histogram series: bucket bounds (without `+Inf`), the count in each
/// bucket (not cumulative; one more than the bounds, the last for `+Inf`), sum and count.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Histogram {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

/// One histogram series being read: its labels, the cumulative `(le, count)` buckets, sum and count.
type Reading = (Labels, Vec<(f64, f64)>, f64, f64);

/// Every counter, gauge and histogram family of `text`, in order.
pub(crate) fn parse(text: &str) -> Vec<TextFamily> {
    let mut families: Vec<TextFamily> = Vec::new();
    let mut help: BTreeMap<String, String> = BTreeMap::new();
    // Cumulative buckets of the histogram being read, by series.
    let mut buckets: Vec<Reading> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help.insert(name.to_owned(), text.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            finish_histogram(&mut families, &mut buckets);
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = match kind.trim() {
                "counter" => Kind::Counter(Vec::new()),
                "gauge" => Kind::Gauge(Vec::new()),
                "histogram" => Kind::Histogram(Vec::new()),
                _ => continue,
            };
            let help = help.get(name).cloned().unwrap_or_default();
            families.push(TextFamily { name: name.to_owned(), help, kind });
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, labels, value)) = sample(line) else { continue };
        let Some(family) = families.last_mut() else { continue };
        match &mut family.kind {
            Kind::Counter(points) | Kind::Gauge(points) if series == family.name => points.push((labels, value)),
            Kind::Histogram(_) => {
                let Some(suffix) = series.strip_prefix(family.name.as_str()) else { continue };
                let (mut labels, le) = take_le(labels);
                let at = match buckets.iter().position(|(l, ..)| *l == labels) {
                    Some(at) => at,
                    None => {
                        buckets.push((std::mem::take(&mut labels), Vec::new(), 0.0, 0.0));
                        buckets.len() - 1
                    }
                };
                let entry = &mut buckets[at];
                match (suffix, le) {
                    ("_bucket", Some(le)) => entry.1.push((le, value)),
                    ("_sum", None) => entry.2 = value,
                    ("_count", None) => entry.3 = value,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    finish_histogram(&mut families, &mut buckets);
    families
}

/// Turns the cumulative buckets read so far into the last family's series.
fn finish_histogram(families: &mut [TextFamily], buckets: &mut Vec<Reading>) {
    let Some(TextFamily { kind: Kind::Histogram(series), .. }) = families.last_mut() else {
        buckets.clear();
        return;
    };
    for (labels, mut cumulative, sum, count) in buckets.drain(..) {
        cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut counts = Vec::with_capacity(cumulative.len());
        let mut previous = 0.0;
        for (_, c) in &cumulative {
            counts.push((c - previous).max(0.0) as u64);
            previous = *c;
        }
        let bounds = cumulative.iter().map(|(le, _)| *le).filter(|le| le.is_finite()).collect();
        series.push((labels, Histogram { bounds, counts, sum, count: count as u64 }));
    }
}

/// `le` out of a bucket's labels.
fn take_le(labels: Labels) -> (Labels, Option<f64>) {
    let mut le = None;
    let rest = labels
        .into_iter()
        .filter(|(k, v)| {
            if k == "le" {
                le = parse_value(v);
                false
            } else {
                true
            }
        })
        .collect();
    (rest, le)
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        t => t.parse().ok(),
    }
}

/// `name{a="x",b="y"} value [timestamp]` → name, labels, value.
fn sample(line: &str) -> Option<(&str, Labels, f64)> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let mut labels = Vec::new();
    let rest = if let Some(mut body) = rest.strip_prefix('{') {
        loop {
            body = body.trim_start_matches([',', ' ']);
            if let Some(after) = body.strip_prefix('}') {
                break after;
            }
            let (key, after) = body.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break i,
                    c => value.push(c),
                }
            };
            labels.push((key.trim().to_owned(), value));
            body = &after[end + 1..];
        }
    } else {
        rest
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP obs_function_calls_total Calls.
# TYPE obs_function_calls_total counter
obs_function_calls_total{function="say \"hi\"",module="app",status="ok"} 3
obs_function_calls_total{function="b",module="app",status="error"} 1

# TYPE jobs_queued gauge
jobs_queued 4.5
# HELP obs_function_duration_seconds Duration.
# TYPE obs_function_duration_seconds histogram
obs_function_duration_seconds_bucket{function="a",module="app",le="0.001"} 2
obs_function_duration_seconds_bucket{function="a",module="app",le="0.5"} 3
obs_function_duration_seconds_bucket{function="a",module="app",le="+Inf"} 4
obs_function_duration_seconds_sum{function="a",module="app"} 2.25
obs_function_duration_seconds_count{function="a",module="app"} 4
"#;

    #[test]
    fn families_read_back_with_values_labels_and_buckets() {
        let families = parse(TEXT);
        assert_eq!(families.len(), 3, "{families:#?}");
        assert_eq!(families[0].name, "obs_function_calls_total");
        assert_eq!(families[0].help, "Calls.");
        let Kind::Counter(points) = &families[0].kind else { panic!("{families:#?}") };
        assert_eq!(points[0].0[0], ("function".to_owned(), "say \"hi\"".to_owned()));
        assert_eq!(points[0].1, 3.0);
        assert_eq!(points[1].1, 1.0);
        assert_eq!(families[1].kind, Kind::Gauge(vec![(vec![], 4.5)]));
        let Kind::Histogram(series) = &families[2].kind else { panic!("{families:#?}") };
        assert_eq!(series.len(), 1);
        let labels = vec![("function".to_owned(), "a".to_owned()), ("module".to_owned(), "app".to_owned())];
        assert_eq!(series[0].0, labels);
        assert_eq!(series[0].1, Histogram { bounds: vec![0.001, 0.5], counts: vec![2, 1, 1], sum: 2.25, count: 4 });
    }

    #[test]
    fn lines_that_do_not_parse_are_skipped() {
        let families = parse("# TYPE x counter\nx{a=\"unterminated} 3\nx 2\ngarbage\n# TYPE y summary\ny 1\n");
        assert_eq!(
            families,
            vec![TextFamily { name: "x".into(), help: String::new(), kind: Kind::Counter(vec![(vec![], 2.0)]) }]
        );
    }
}
