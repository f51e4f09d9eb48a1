//! `HttpLayer` and requests that never complete: a response future dropped
//! early (client gone, outer timeout) is recorded as cancelled and leaves the
//! in-flight gauge where it was, as a Prometheus scrape shows.

use std::future::Future;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use obs_runtime::trace::HttpLayer;
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

/// One Prometheus recorder for the whole test binary (the server's threads need a global one).
fn scrape() -> String {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().expect("recorder")).render()
}

/// The value of the sample line that starts with `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn active(text: &str, route: &str) -> Option<f64> {
    sample(text, &format!("obs_http_server_active_requests{{http_request_method=\"GET\",http_route=\"{route}\"}}"))
}

fn cancelled_count(text: &str, route: &str) -> Option<f64> {
    let series = format!(
        "obs_http_server_request_duration_seconds_count{{http_request_method=\"GET\",http_route=\"{route}\",\
         http_response_status_code=\"cancelled\"}}"
    );
    sample(text, &series)
}

/// A service whose responses never come.
#[derive(Clone)]
struct Never;

impl<B> Service<http::Request<B>> for Never {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Pending<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        std::future::pending()
    }
}

/// Keeps the `obs.outcome` values recorded on spans.
#[derive(Clone, Default)]
struct Outcomes(Arc<Mutex<Vec<String>>>);

impl Visit for Outcomes {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "obs.outcome" {
            self.0.lock().unwrap().push(format!("{value:?}").trim_matches('"').to_owned());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "obs.outcome" {
            self.0.lock().unwrap().push(value.to_owned());
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Outcomes {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
        attrs.record(&mut self.clone());
    }

    fn on_record(&self, _: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
        values.record(&mut self.clone());
    }
}

/// The tests that drop requests with no route count into the same `unmatched` series: one at a time.
static UNMATCHED: Mutex<()> = Mutex::new(());

#[test]
fn a_response_future_dropped_early_is_recorded_as_cancelled() {
    let _one_at_a_time = UNMATCHED.lock().unwrap_or_else(|e| e.into_inner());
    let before = cancelled_count(&scrape(), "unmatched").unwrap_or(0.0);
    let outcomes = Outcomes::default();
    let subscriber = tracing_subscriber::registry().with(outcomes.clone());
    tracing::subscriber::with_default(subscriber, || {
        let mut service = HttpLayer::new().layer(Never);
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..3 {
            let mut future = Box::pin(service.call(http::Request::new(())));
            assert!(future.as_mut().poll(&mut cx).is_pending());
            assert_eq!(active(&scrape(), "unmatched"), Some(1.0), "in flight while pending");
            drop(future);
            assert_eq!(active(&scrape(), "unmatched"), Some(0.0), "back down once dropped");
        }
        // Dropped before it was ever polled: still one request, cancelled.
        drop(service.call(http::Request::new(())));
    });
    let text = scrape();
    assert_eq!(active(&text, "unmatched"), Some(0.0));
    assert_eq!(cancelled_count(&text, "unmatched"), Some(before + 4.0), "{text}");
    assert_eq!(*outcomes.0.lock().unwrap(), ["cancelled"; 4]);
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(400)).await;
    "done"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_disconnect_mid_request_leave_no_request_active() {
    scrape();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/slow", get(slow)).layer(HttpLayer::new());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    const CLIENTS: usize = 30;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                write!(stream, "GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
                if index % 3 == 0 {
                    // Gone while the handler sleeps.
                    std::thread::sleep(Duration::from_millis(100));
                    stream.shutdown(std::net::Shutdown::Both).unwrap();
                    return None;
                }
                let mut response = String::new();
                stream.read_to_string(&mut response).unwrap();
                Some(response)
            })
        })
        .collect();
    let mut completed = 0;
    for client in clients {
        if let Some(response) = client.join().unwrap() {
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            completed += 1;
        }
    }
    assert_eq!(completed, CLIENTS - CLIENTS / 3);

    // The server notices a closed connection on its own schedule: wait for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = scrape();
        let settled = active(&text, "/slow") == Some(0.0) && cancelled_count(&text, "/slow") == Some(10.0);
        if settled || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(active(&text, "/slow"), Some(0.0), "{text}");
    assert_eq!(cancelled_count(&text, "/slow"), Some(10.0), "{text}");
    let ok = sample(
        &text,
        "obs_http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"/slow\",\
         http_response_status_code=\"200\"}",
    );
    assert_eq!(ok, Some(20.0), "{text}");
}

/// Keeps the length of the `url.path` recorded on spans.
#[derive(Clone, Default)]
struct PathLengths(Arc<Mutex<Vec<usize>>>);

impl Visit for PathLengths {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "url.path" {
            self.0.lock().unwrap().push(format!("{value:?}").trim_matches('"').len());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "url.path" {
            self.0.lock().unwrap().push(value.len());
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PathLengths {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
        attrs.record(&mut self.clone());
    }
}

#[test]
fn a_huge_request_path_is_recorded_cut_to_a_kilobyte() {
    let _one_at_a_time = UNMATCHED.lock().unwrap_or_else(|e| e.into_inner());
    let lengths = PathLengths::default();
    let subscriber = tracing_subscriber::registry().with(lengths.clone());
    tracing::subscriber::with_default(subscriber, || {
        let mut service = HttpLayer::new().layer(Never);
        // `http` refuses a URI of 64 KiB or more; hyper serves up to that.
        let long = format!("/{}", "a".repeat(60 * 1024));
        drop(service.call(http::Request::builder().uri(long).body(()).unwrap()));
        drop(service.call(http::Request::builder().uri("/short").body(()).unwrap()));
    });
    assert_eq!(*lengths.0.lock().unwrap(), [1024, 6]);
}
