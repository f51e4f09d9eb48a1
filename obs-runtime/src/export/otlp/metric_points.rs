//! One collection of the metric families as an OTLP export request, with the
//! temporality asked for: cumulative (the default; every point starts when
//! `init` ran) or delta (every point covers the time since the previous
//! collection, its value what changed since). Gauges are gauges either way.
//! Histograms keep the bucket bounds `/metrics` has.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::metric_text::{self, Kind, Labels, TextFamily};
use super::settings::Temporality;

/// What the previous collection reported of one series.
#[derive(Debug, Clone)]
enum Previous {
    Sum(f64),
    Histogram(metric_text::Histogram),
}

/// Turns collections into export requests, remembering what delta needs.
pub(crate) struct Points {
    temporality: Temporality,
    resource: Resource,
    /// When `init` ran: the start of every cumulative point.
    start: u64,
    /// When the previous collection was taken: the start of every delta point.
    last: u64,
    previous: HashMap<(String, Labels), Previous>,
}

fn attributes(labels: &Labels) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| string_value(k, v)).collect()
}

fn string_value(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_owned())) }),
        ..Default::default()
    }
}

/// The unit by the Prometheus naming convention (`_seconds`), in UCUM as OTLP wants it.
fn unit(name: &str) -> &'static str {
    if name.ends_with("_seconds") { "s" } else { "" }
}

impl Points {
    pub(crate) fn new(temporality: Temporality, resource: &[(String, String)], start: u64) -> Points {
        let resource =
            Resource { attributes: resource.iter().map(|(k, v)| string_value(k, v)).collect(), ..Default::default() };
        Points { temporality, resource, start, last: start, previous: HashMap::new() }
    }

    /// The request for one rendering of `/metrics` taken at `now` (ns since the epoch), and its number of data points.
    pub(crate) fn request(&mut self, text: &str, now: u64) -> (ExportMetricsServiceRequest, u64) {
        let families = metric_text::parse(text);
        let start = match self.temporality {
            Temporality::Cumulative => self.start,
            Temporality::Delta => self.last,
        };
        let temporality = match self.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        } as i32;
        // An exemplar stays on `/metrics` until a newer call replaces it: sent once.
        let since = self.last;
        let mut points = 0;
        let mut metrics = Vec::with_capacity(families.len());
        for TextFamily { name, help, kind } in families {
            let data = match kind {
                Kind::Counter(series) => {
                    let data_points: Vec<NumberDataPoint> = series
                        .into_iter()
                        .map(|(labels, value, exemplar)| {
                            let value = self.sum_delta(&name, &labels, value);
                            NumberDataPoint {
                                exemplars: exemplar
                                    .iter()
                                    .filter(|e| e.time_unix_nano >= since)
                                    .map(otlp_exemplar)
                                    .collect(),
                                ..number_point(&labels, start, now, value)
                            }
                        })
                        .collect();
                    points += data_points.len() as u64;
                    metric::Data::Sum(Sum { data_points, aggregation_temporality: temporality, is_monotonic: true })
                }
                Kind::Gauge(series) => {
                    let data_points: Vec<NumberDataPoint> = series
                        .into_iter()
                        .map(|(labels, value)| number_point(&labels, self.start, now, value))
                        .collect();
                    points += data_points.len() as u64;
                    metric::Data::Gauge(Gauge { data_points })
                }
                Kind::Histogram(series) => {
                    let data_points: Vec<HistogramDataPoint> = series
                        .into_iter()
                        .map(|(labels, histogram)| {
                            let histogram = self.histogram_delta(&name, &labels, histogram);
                            HistogramDataPoint {
                                attributes: attributes(&labels),
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                count: histogram.count,
                                sum: Some(histogram.sum),
                                bucket_counts: histogram.counts,
                                explicit_bounds: histogram.bounds,
                                exemplars: histogram
                                    .exemplars
                                    .iter()
                                    .filter(|e| e.time_unix_nano >= since)
                                    .map(otlp_exemplar)
                                    .collect(),
                                ..Default::default()
                            }
                        })
                        .collect();
                    points += data_points.len() as u64;
                    metric::Data::Histogram(Histogram { data_points, aggregation_temporality: temporality })
                }
            };
            let unit = unit(&name).to_owned();
            metrics.push(Metric { name, description: help, unit, data: Some(data), ..Default::default() });
        }
        self.last = now;
        let scope = InstrumentationScope {
            name: "obs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics { scope: Some(scope), metrics, ..Default::default() }],
                ..Default::default()
            }],
        };
        (request, points)
    }

    /// The value to report of a sum: the total, or what changed since the previous collection
    /// (the whole total after a reset, when it went down).
    fn sum_delta(&mut self, name: &str, labels: &Labels, total: f64) -> f64 {
        if self.temporality == Temporality::Cumulative {
            return total;
        }
        let previous = self.previous.insert((name.to_owned(), labels.clone()), Previous::Sum(total));
        match previous {
            Some(Previous::Sum(before)) if before <= total => total - before,
            _ => total,
        }
    }

    fn histogram_delta(
        &mut self,
        name: &str,
        labels: &Labels,
        total: metric_text::Histogram,
    ) -> metric_text::Histogram {
        if self.temporality == Temporality::Cumulative {
            return total;
        }
        let previous = self.previous.insert((name.to_owned(), labels.clone()), Previous::Histogram(total.clone()));
        match previous {
            Some(Previous::Histogram(before))
                if before.bounds == total.bounds
                    && before.count <= total.count
                    && before.counts.len() == total.counts.len() =>
            {
                metric_text::Histogram {
                    counts: total
                        .counts
                        .iter()
                        .zip(&before.counts)
                        .map(|(now, then)| now.saturating_sub(*then))
                        .collect(),
                    sum: total.sum - before.sum,
                    count: total.count - before.count,
                    bounds: total.bounds,
                    exemplars: total.exemplars,
                }
            }
            _ => total,
        }
    }
}

/// An exemplar as OTLP carries it: the trace and span ids as bytes.
fn otlp_exemplar(exemplar: &metric_text::TextExemplar) -> Exemplar {
    Exemplar {
        time_unix_nano: exemplar.time_unix_nano,
        value: Some(exemplar::Value::AsDouble(exemplar.value)),
        span_id: exemplar.span_id.to_vec(),
        trace_id: exemplar.trace_id.to_vec(),
        ..Default::default()
    }
}

fn number_point(labels: &Labels, start: u64, now: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(calls: u64, buckets: [u64; 3]) -> String {
        let cumulative = [buckets[0], buckets[0] + buckets[1], buckets[0] + buckets[1] + buckets[2]];
        format!(
            "# TYPE c_total counter\nc_total{{f=\"a\"}} {calls}\n# TYPE g gauge\ng 2\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{{f=\"a\",le=\"0.1\"}} {}\nd_seconds_bucket{{f=\"a\",le=\"1\"}} {}\n\
             d_seconds_bucket{{f=\"a\",le=\"+Inf\"}} {}\nd_seconds_sum{{f=\"a\"}} 1.5\nd_seconds_count{{f=\"a\"}} {}\n",
            cumulative[0], cumulative[1], cumulative[2], cumulative[2]
        )
    }

    fn sum_value(request: &ExportMetricsServiceRequest) -> (f64, u64) {
        let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
        let Some(metric::Data::Sum(sum)) = &metric.data else { panic!("{metric:?}") };
        let Some(number_data_point::Value::AsDouble(v)) = sum.data_points[0].value else { panic!() };
        (v, sum.data_points[0].start_time_unix_nano)
    }

    fn buckets(request: &ExportMetricsServiceRequest) -> (Vec<u64>, Vec<f64>, String) {
        let metric = &request.resource_metrics[0].scope_metrics[0].metrics[2];
        let Some(metric::Data::Histogram(h)) = &metric.data else { panic!("{metric:?}") };
        (h.data_points[0].bucket_counts.clone(), h.data_points[0].explicit_bounds.clone(), metric.unit.clone())
    }

    #[test]
    fn cumulative_points_are_totals_since_start() {
        let mut points = Points::new(Temporality::Cumulative, &[], 100);
        let (first, count) = points.request(&text(3, [1, 1, 0]), 200);
        assert_eq!(count, 3);
        assert_eq!(sum_value(&first), (3.0, 100));
        let (second, _) = points.request(&text(5, [2, 1, 1]), 300);
        assert_eq!(sum_value(&second), (5.0, 100));
        assert_eq!(buckets(&second), (vec![2, 1, 1], vec![0.1, 1.0], "s".to_owned()));
    }

    #[test]
    fn delta_points_are_what_changed_since_the_previous_collection() {
        let mut points = Points::new(Temporality::Delta, &[], 100);
        let (first, _) = points.request(&text(3, [1, 1, 0]), 200);
        assert_eq!(sum_value(&first), (3.0, 100));
        let (second, _) = points.request(&text(5, [2, 1, 1]), 300);
        assert_eq!(sum_value(&second), (2.0, 200));
        assert_eq!(buckets(&second).0, vec![1, 0, 1]);
        let (third, _) = points.request(&text(5, [2, 1, 1]), 400);
        assert_eq!(sum_value(&third), (0.0, 300));
    }
}
