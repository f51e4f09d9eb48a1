//! `obs_runtime::testing`: what a capture records is what the instrumented
//! code did inside it, and nothing from other threads' captures.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use obs_runtime::workflow::TimeoutError;
use obs_runtime::{ErrorKind, node, observe, testing, workflow};

#[derive(Debug, ErrorKind)]
enum ShopError {
    PaymentDeclined,
    Timeout,
}

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShopError::PaymentDeclined => "payment declined",
            ShopError::Timeout => "timed out",
        })
    }
}

impl std::error::Error for ShopError {}

impl From<TimeoutError> for ShopError {
    fn from(_: TimeoutError) -> Self {
        ShopError::Timeout
    }
}

#[observe]
fn checkout(cart: u32) -> Result<u32, ShopError> {
    if cart > 100 { Err(ShopError::PaymentDeclined) } else { Ok(cart) }
}

#[observe]
fn price(cart: u32) -> u32 {
    cart * 2
}

#[test]
fn a_closure_is_captured_with_calls_errors_spans_logs_and_metrics() {
    let t = testing::capture(|| {
        let _ = checkout(price(5));
        let _ = checkout(500);
        7
    });
    assert_eq!(t.output, 7);
    assert_eq!(t.calls("checkout").total(), 2);
    assert_eq!(t.calls("checkout").ok(), 1);
    assert_eq!(t.calls("checkout").failed(), 1);
    assert_eq!(t.calls("checkout").error_kinds(), ["payment_declined"]);
    assert_eq!(t.errors("checkout", "payment_declined"), 1);
    assert_eq!(t.errors("checkout", "timeout"), 0);
    assert_eq!(t.metric("obs_function_calls_total", &[("status", "error")]), 1);
    assert_eq!(t.metric("obs_function_calls_total", &[("function", "price"), ("status", "ok")]), 1);
    assert_eq!(t.metric("obs_function_errors_total", &[("error", "payment_declined")]), 1);

    let names: Vec<_> = t.spans().iter().map(|s| s.name).collect();
    assert_eq!(names, ["testing::price", "testing::checkout", "testing::checkout"]);
    assert_eq!(t.span("checkout").fields["cart"], 10);
    assert_eq!(t.spans()[2].fields["error.type"], "payment_declined");

    let errors = t.events("function.error");
    assert_eq!(errors.len(), 1, "{:?}", t.logs());
    assert_eq!(errors[0]["error"]["kind"], "payment_declined");
    assert_eq!(errors[0]["error"]["message"], "payment declined");
    assert_eq!(errors[0]["service"], testing::SERVICE);
}

#[test]
fn a_failed_assertion_shows_what_was_recorded() {
    let t = testing::capture(|| {
        let _ = checkout(500);
    });
    let shown = format!("{:?}", t.calls("checkout").ok());
    assert_eq!(shown, "0 (recorded: checkout: error(payment_declined)×1)");
    let shown = format!("{:?}", t.metric("obs_function_calls_total", &[("status", "ok")]));
    assert!(shown.starts_with("0 (recorded: \n  obs_function_calls_total{function=\"checkout\""), "{shown}");
    let missing = std::panic::catch_unwind(|| t.span("refund").name).unwrap_err();
    let message = missing.downcast_ref::<String>().unwrap();
    assert_eq!(message, "no span `refund` was opened; spans recorded: [\"testing::checkout\"]");
}

#[test]
fn captures_on_parallel_threads_see_only_their_own_calls() {
    let threads: Vec<_> = (0..4u32)
        .map(|i| {
            std::thread::spawn(move || {
                let t = testing::capture(|| {
                    for _ in 0..=i {
                        let _ = price(i);
                    }
                });
                (i, t.calls("price").total().get(), t.spans().len(), t.events("function.success").len())
            })
        })
        .collect();
    for thread in threads {
        let (i, calls, spans, lines) = thread.join().unwrap();
        let expected = i as usize + 1;
        assert_eq!((calls, spans, lines), (expected, expected, expected), "thread {i}");
    }
    // Outside any capture nothing is tallied, and a capture after it starts empty.
    let _ = price(1);
    assert_eq!(testing::capture(|| ()).calls("price").total(), 0);
}

#[node(retries = 2, backoff = "1ms", timeout = "20ms", retry_if = retry_all)]
async fn charge(tries: &AtomicU32) -> Result<u32, ShopError> {
    match tries.fetch_add(1, Ordering::SeqCst) {
        0 => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(0)
        }
        1 => Err(ShopError::PaymentDeclined),
        _ => Ok(42),
    }
}

fn retry_all(_: &ShopError) -> bool {
    true
}

#[workflow]
async fn order() -> Result<u32, ShopError> {
    let tries = AtomicU32::new(0);
    charge(&tries).await
}

#[tokio::test]
async fn a_workflow_is_captured_with_its_node_attempts() {
    let t = testing::capture_async(order()).await;
    assert_eq!(*t.output.as_ref().unwrap(), 42);
    assert_eq!(t.workflow_runs("order").ok(), 1);
    assert_eq!(t.node_attempts("charge"), ["timeout", "error", "ok"]);
    assert_eq!(t.calls("charge").ok(), 1);
    assert_eq!(t.metric("obs_workflow_runs_total", &[("workflow", "order"), ("status", "ok")]), 1);
    assert_eq!(t.metric("obs_node_runs_total", &[("workflow", "order"), ("node", "charge"), ("status", "ok")]), 1);
    assert_eq!(t.metric("obs_node_attempts_total", &[("node", "charge"), ("outcome", "timeout")]), 1);
    assert_eq!(t.metric("obs_node_retries_total", &[("workflow", "order")]), 2);
    // Each attempt is its own span, a child of the run's.
    let run = t.spans().iter().position(|s| s.is("order")).unwrap();
    let attempts: Vec<_> = t.spans().iter().filter(|s| s.is("charge")).collect();
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|a| a.parent == Some(run)));
    assert_eq!(attempts[2].fields["attempt"], 3);
    assert_eq!(t.events("node.retry").len(), 2);
    let run_id = &t.span("order").fields["run_id"];
    assert!(t.events("node.success")[0]["run_id"] == *run_id, "{:?}", t.logs());
}

#[observe]
fn charge_card(total: u32) -> Result<u32, ShopError> {
    if total > 100 { Err(ShopError::PaymentDeclined) } else { Ok(total) }
}

#[node]
async fn pay(total: u32) -> Result<u32, ShopError> {
    charge_card(total)
}

#[derive(Debug, Clone)]
#[allow(dead_code)]
struct Order {
    lines: Vec<String>,
    note: String,
}

#[workflow]
async fn place(order: Order, customer_id: u64) -> Result<u32, ShopError> {
    let _ = (&order, customer_id);
    pay(500).await
}

/// The log contract: one failure is one ERROR line where it happened; the
/// units it propagates through say so at WARN, naming it; a node's line does
/// not repeat the workflow's arguments, only what identifies the run.
#[tokio::test]
async fn one_failure_is_one_error_line_and_lines_repeat_only_identifying_fields() {
    let order = Order { lines: vec!["x".repeat(200); 5], note: "leave at the door".into() };
    let t = testing::capture_async(place(order, 77)).await;
    assert!(t.output.is_err());
    let failures: Vec<_> = t.logs().into_iter().filter(|l| l["level"] != "DEBUG" && l["level"] != "INFO").collect();
    let shape: Vec<_> = failures.iter().map(|l| (l["event"].as_str().unwrap(), l["level"].as_str().unwrap())).collect();
    assert_eq!(shape, [("function.error", "ERROR"), ("node.error", "WARN"), ("workflow.error", "WARN")]);
    assert!(failures[0]["error"]["message"] == "payment declined" && failures[0].get("cause").is_none());
    assert_eq!(failures[1]["cause"], "charge_card");
    assert_eq!(failures[2]["cause"], "charge_card");
    assert_eq!(failures[2]["error"]["kind"], "payment_declined");
    // The node's lines carry the run id and the workflow's `customer_id`, not the order.
    let node_start = &t.events("node.start")[0];
    assert_eq!(node_start["run_id"], t.span("place").fields["run_id"]);
    assert_eq!(node_start["customer_id"], 77);
    assert!(node_start.get("order").is_none(), "{node_start}");
    assert!(node_start.to_string().len() < 600, "{node_start}");
    // The workflow's own lines still carry its arguments.
    assert!(t.events("workflow.start")[0]["order"].as_str().unwrap().contains("leave at the door"));
}
