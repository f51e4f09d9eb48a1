//! What `/metrics` says, read back: the families of one rendering of the
//! Prometheus text format (obs's recorder and its store, see
//! `export/prometheus.rs::render`), as counters, gauges and histograms with
//! their buckets. OTLP metrics export takes its values from here, so both
//! report the same numbers and the same bucket bounds.
//!
//! Only the text obs itself renders is read, in either format
//! (`export/text_format.rs`): `# HELP`/`# TYPE` before the samples of a
//! family (an OpenMetrics counter family named without the `_total` its
//! samples carry), histograms as cumulative `_bucket{le}` series with `_sum`
//! and `_count`, label values escaped with `\\`, `\"` and `\n`, and the
//! exemplars OpenMetrics puts after a sample (`# {trace_id=…,span_id=…} value
//! timestamp`). A line that does not parse is skipped (it is counted by the
//! caller's data-point check, never a panic).

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
    /// Each series with its value and exemplar.
    Counter(Vec<(Labels, f64, Option<TextExemplar>)>),
    Gauge(Vec<(Labels, f64)>),
    Histogram(Vec<(Labels, Histogram)>),
}

/// One histogram series: bucket bounds (without `+Inf`), the count in each
/// bucket (not cumulative; one more than the bounds, the last for `+Inf`), sum
/// and count, and the exemplars of its buckets.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Histogram {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
    pub exemplars: Vec<TextExemplar>,
}

/// An exemplar as rendered: the trace and span it points at, its value and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TextExemplar {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub value: f64,
    pub time_unix_nano: u64,
}

/// One histogram series being read: its labels, the cumulative `(le, count)` buckets, sum, count and exemplars.
type Reading = (Labels, Vec<(f64, f64)>, f64, f64, Vec<TextExemplar>);

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
        let Some((series, labels, value, exemplar)) = sample(line) else { continue };
        let Some(family) = families.last_mut() else { continue };
        match &mut family.kind {
            Kind::Counter(points) => {
                // OpenMetrics names the family without the `_total` its samples carry.
                let total = series.strip_suffix("_total") == Some(family.name.as_str());
                if total {
                    family.name = series.to_owned();
                }
                if total || series == family.name {
                    points.push((labels, value, exemplar));
                }
            }
            Kind::Gauge(points) if series == family.name => points.push((labels, value)),
            Kind::Histogram(_) => {
                let Some(suffix) = series.strip_prefix(family.name.as_str()) else { continue };
                let (mut labels, le) = take_le(labels);
                let at = match buckets.iter().position(|(l, ..)| *l == labels) {
                    Some(at) => at,
                    None => {
                        buckets.push((std::mem::take(&mut labels), Vec::new(), 0.0, 0.0, Vec::new()));
                        buckets.len() - 1
                    }
                };
                let entry = &mut buckets[at];
                match (suffix, le) {
                    ("_bucket", Some(le)) => {
                        entry.1.push((le, value));
                        entry.4.extend(exemplar);
                    }
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
    for (labels, mut cumulative, sum, count, exemplars) in buckets.drain(..) {
        cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut counts = Vec::with_capacity(cumulative.len());
        let mut previous = 0.0;
        for (_, c) in &cumulative {
            counts.push((c - previous).max(0.0) as u64);
            previous = *c;
        }
        let bounds = cumulative.iter().map(|(le, _)| *le).filter(|le| le.is_finite()).collect();
        series.push((labels, Histogram { bounds, counts, sum, count: count as u64, exemplars }));
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

/// `name{a="x",b="y"} value [timestamp] [# {exemplar labels} value timestamp]`
/// → name, labels, value, exemplar.
fn sample(line: &str) -> Option<(&str, Labels, f64, Option<TextExemplar>)> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let (labels, rest) = labels(rest)?;
    let (value, exemplar) = match rest.split_once(" # ") {
        Some((value, exemplar)) => (value, parse_exemplar(exemplar)),
        None => (rest, None),
    };
    let value = parse_value(value.split_whitespace().next()?)?;
    Some((name, labels, value, exemplar))
}

/// `{trace_id="…",span_id="…"} value timestamp`, as obs renders it.
fn parse_exemplar(text: &str) -> Option<TextExemplar> {
    let (labels, rest) = labels(text)?;
    let hex = |key: &str| labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let trace_id = u128::from_str_radix(hex("trace_id")?, 16).ok()?.to_be_bytes();
    let span_id = u64::from_str_radix(hex("span_id")?, 16).ok()?.to_be_bytes();
    let mut words = rest.split_whitespace();
    let value = parse_value(words.next()?)?;
    let time_unix_nano = unix_nanos(words.next()?)?;
    Some(TextExemplar { trace_id, span_id, value, time_unix_nano })
}

/// `1700000000.123456789` (seconds) in nanoseconds, read as digits: an `f64`
/// holds no nanoseconds at this magnitude.
fn unix_nanos(seconds: &str) -> Option<u64> {
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let fraction = fraction.get(..fraction.len().min(9))?;
    let nanos =
        if fraction.is_empty() { 0 } else { fraction.parse::<u64>().ok()? * 10u64.pow(9 - fraction.len() as u32) };
    whole.parse::<u64>().ok()?.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// `{a="x",b="y"}` at the start of `rest` (or nothing) → the labels and what follows.
fn labels(rest: &str) -> Option<(Labels, &str)> {
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
    Some((labels, rest))
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
        let expected =
            Histogram { bounds: vec![0.001, 0.5], counts: vec![2, 1, 1], sum: 2.25, count: 4, exemplars: vec![] };
        assert_eq!(series[0].1, expected);
    }

    #[test]
    fn lines_that_do_not_parse_are_skipped() {
        let families = parse("# TYPE x counter\nx{a=\"unterminated} 3\nx 2\ngarbage\n# TYPE y summary\ny 1\n");
        assert_eq!(
            families,
            vec![TextFamily { name: "x".into(), help: String::new(), kind: Kind::Counter(vec![(vec![], 2.0, None)]) }]
        );
    }

    #[test]
    fn openmetrics_counters_keep_their_total_name_and_exemplars_are_read() {
        let text = "# HELP c Calls.\n# TYPE c counter\n\
            c_total{f=\"a\"} 3 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\"} 1 1700000000.250000000\n\
            # TYPE d histogram\n\
            d_bucket{le=\"0.5\"} 1 # {trace_id=\"00000000000000000000000000000001\",span_id=\"0000000000000002\"} 0.3 1700000001.5\n\
            d_bucket{le=\"+Inf\"} 1\nd_sum 0.3\nd_count 1\n# EOF\n";
        let families = parse(text);
        assert_eq!((families[0].name.as_str(), families[0].help.as_str()), ("c_total", "Calls."));
        let Kind::Counter(points) = &families[0].kind else { panic!("{families:#?}") };
        let exemplar = points[0].2.expect("the counter's exemplar");
        assert_eq!(exemplar.trace_id, 0x0af7651916cd43dd8448eb211c80319c_u128.to_be_bytes());
        assert_eq!(exemplar.span_id, 0xb7ad6b7169203331_u64.to_be_bytes());
        assert_eq!((exemplar.value, exemplar.time_unix_nano), (1.0, 1_700_000_000_250_000_000));
        let Kind::Histogram(series) = &families[1].kind else { panic!("{families:#?}") };
        assert_eq!(series[0].1.exemplars.len(), 1);
        assert_eq!(series[0].1.exemplars[0].value, 0.3);
        assert_eq!(series[0].1.count, 1);
    }
}
