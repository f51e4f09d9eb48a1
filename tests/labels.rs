//! `labels(...)`: metric labels taken from a function's arguments, as a
//! scrape of `/metrics` and a real Prometheus server see them. Enum labels
//! (`#[derive(LabelValue)]`) have every series at zero from `init`; string
//! labels are capped per label and fold the rest into `__overflow__`. The same
//! on `#[workflow]` (a run's series) and `#[node]` (a call's series, all its
//! attempts included).

mod support;

use std::time::{Duration, Instant};

use obs_runtime::{ErrorKind, LabelValue, node, observe, workflow};
use support::{http_get, promtool_check, require_tool, sample};

#[derive(Clone, Copy, Debug, LabelValue)]
enum Tier {
    Free,
    Pro,
    #[label(rename = "enterprise")]
    BigCustomer,
}

#[derive(Clone, Copy, Debug, LabelValue)]
enum Channel {
    Web,
    MobileApp,
}

#[derive(Debug)]
struct User {
    tier: Tier,
}

#[derive(Debug)]
struct Request {
    region: String,
    channel: Channel,
}

impl Request {
    fn region(&self) -> &str {
        &self.region
    }
}

#[derive(Debug, ErrorKind)]
enum ChargeError {
    Declined,
}

impl std::fmt::Display for ChargeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("declined")
    }
}

/// Two enum labels: every one of the 3 × 2 series exists from `init`.
#[observe(labels(tier = user.tier, channel = req.channel))]
async fn charge(user: User, req: Request, cents: u64) -> Result<u64, ChargeError> {
    // The body moves the arguments the labels were read from.
    let owned = (user, req);
    if cents == 0 { Err(ChargeError::Declined) } else { Ok(cents + owned.1.region.len() as u64) }
}

/// A string label from a method's result, capped by `label_values_limit(3)`.
#[observe(labels(region = req.region()))]
fn route(req: &Request) -> usize {
    req.region.len()
}

struct Shop {
    name: String,
}

impl Shop {
    /// A label read from `self`: its series register when first used.
    #[observe(labels(shop = self.name.as_str(), tier = tier))]
    fn open(&self, tier: Tier) -> bool {
        !self.name.is_empty() && tier.index() < 3
    }
}

/// A workflow's runs by the customer's tier: every tier at zero from `init`.
#[workflow(labels(tier = user.tier))]
async fn checkout(user: User, req: Request, items: u32) -> Result<u32, ChargeError> {
    let reserved = reserve(user.tier, req.channel, items).await?;
    ship(req.region).await?;
    Ok(reserved)
}

/// A node's calls by two enum labels; a failed attempt and its retry count in the call's series.
#[node(retries = 1, backoff = "1ms", labels(tier = tier, channel = channel))]
async fn reserve(tier: Tier, channel: Channel, items: u32) -> Result<u32, ChargeError> {
    if items == 0 { Err(ChargeError::Declined) } else { Ok(items) }
}

/// A node's string label, capped by `label_values_limit(3)` like a function's.
#[node(labels(region = region.as_str()))]
async fn ship(region: String) -> Result<(), ChargeError> {
    if region.is_empty() { Err(ChargeError::Declined) } else { Ok(()) }
}

/// A workflow's string label: the same cap, its folded runs counted against the runs family.
#[workflow(labels(region = region.as_str()))]
async fn deliver(region: String) -> Result<usize, ChargeError> {
    Ok(region.len())
}

fn request(region: &str, channel: Channel) -> Request {
    Request { region: region.to_owned(), channel }
}

fn calls(text: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample(text, "obs_function_calls_total", labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_from_arguments_reach_the_scrape_and_prometheus() {
    require_tool("prometheus");
    let guard = obs_runtime::builder()
        .service_name("labels-test")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .label_values_limit(3)
        .init()
        .expect("init");
    let app = guard.http_addr().unwrap();

    // Before any call: every enum combination at zero, and nothing for string labels yet.
    let (_, text) = http_get(app, "/metrics").unwrap();
    for tier in ["free", "pro", "enterprise"] {
        for channel in ["web", "mobile_app"] {
            let labels = [("function", "charge"), ("tier", tier), ("channel", channel), ("status", "ok")];
            assert_eq!(calls(&text, &labels), Some(0.0), "{tier}/{channel} registered at zero:\n{text}");
            let bucket = format!(
                "obs_function_duration_seconds_count{{function=\"charge\",module=\"labels\",tier=\"{tier}\",channel=\"{channel}\"}} 0"
            );
            assert!(text.lines().any(|l| l == bucket), "missing {bucket:?}:\n{text}");
        }
    }
    assert_eq!(calls(&text, &[("function", "route")]), None, "string labels register as seen:\n{text}");
    for tier in ["free", "pro", "enterprise"] {
        let line = format!("obs_workflow_runs_total{{workflow=\"checkout\",tier=\"{tier}\",status=\"ok\"}} 0");
        assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{text}");
    }
    // No series without its labels for a labelled workflow either.
    assert!(!text.contains("obs_workflow_runs_total{workflow=\"checkout\",status="), "{text}");
    // A workflow with only string labels has no series before its first run.
    assert!(!text.contains("workflow=\"deliver\""), "{text}");
    // No series without its labels for a labelled function.
    assert!(!text.contains("obs_function_in_flight{function=\"charge\",module=\"labels\"}"), "{text}");

    for cents in [0, 5, 7] {
        let _ = charge(User { tier: Tier::Pro }, request("eu", Channel::Web), cents).await;
    }
    let _ = charge(User { tier: Tier::BigCustomer }, request("us", Channel::MobileApp), 1).await;
    for region in ["eu", "us", "eu", "ap", "sa", "mars", "eu"] {
        route(&request(region, Channel::Web));
    }
    let shop = Shop { name: "corner \"shop\"".into() };
    assert!(shop.open(Tier::Free));
    for (tier, region, channel, items) in [
        (Tier::Pro, "eu", Channel::Web, 2),
        (Tier::Pro, "eu", Channel::Web, 0),
        (Tier::BigCustomer, "us", Channel::MobileApp, 1),
    ] {
        let _ = checkout(User { tier }, request(region, channel), items).await;
    }
    // Outside any workflow: `ap` is the third region, `sa` and `mars` fold.
    for region in ["ap", "sa", "mars", "eu"] {
        ship(region.to_owned()).await.unwrap();
    }
    for region in ["eu", "us", "ap", "sa", "mars", "eu"] {
        deliver(region.to_owned()).await.unwrap();
    }

    let (status, text) = http_get(app, "/metrics").unwrap();
    assert_eq!(status, 200);
    let pro_web = [("function", "charge"), ("tier", "pro"), ("channel", "web")];
    assert_eq!(calls(&text, &[&pro_web[..], &[("status", "ok")]].concat()), Some(2.0), "{text}");
    assert_eq!(calls(&text, &[&pro_web[..], &[("status", "error")]].concat()), Some(1.0), "{text}");
    let big = [("function", "charge"), ("tier", "enterprise"), ("channel", "mobile_app"), ("status", "ok")];
    assert_eq!(calls(&text, &big), Some(1.0), "{text}");
    assert_eq!(calls(&text, &[("function", "charge"), ("tier", "free"), ("status", "ok")]), Some(0.0));
    // Errors carry the labels too.
    let errors = [("function", "charge"), ("error", "declined"), ("tier", "pro"), ("channel", "web")];
    assert_eq!(sample(&text, "obs_function_errors_total", &errors), Some(1.0), "{text}");

    // Three regions kept apart (the limit), the rest folded and counted.
    let route_ok = |region: &str| calls(&text, &[("function", "route"), ("region", region), ("status", "ok")]);
    assert_eq!(route_ok("eu"), Some(3.0), "{text}");
    assert_eq!(route_ok("us"), Some(1.0));
    assert_eq!(route_ok("ap"), Some(1.0));
    assert_eq!(route_ok("__overflow__"), Some(2.0), "sa and mars fold:\n{text}");
    assert_eq!(route_ok("sa"), None);
    assert_eq!(
        sample(&text, "obs_overflow_total", &[("metric", "obs_function_calls_total")]),
        Some(2.0),
        "every folded call is counted:\n{text}"
    );
    // A value from `self`, escaped like every label value.
    assert!(
        text.contains(r#"obs_function_calls_total{function="open",module="labels",shop="corner \"shop\"",tier="free",status="ok"} 1"#),
        "{text}"
    );

    // A workflow's runs, duration and budget series carry its labels.
    let runs = |tier: &str, status: &str| {
        sample(&text, "obs_workflow_runs_total", &[("workflow", "checkout"), ("tier", tier), ("status", status)])
    };
    assert_eq!(runs("pro", "ok"), Some(1.0), "{text}");
    assert_eq!(runs("pro", "error"), Some(1.0), "{text}");
    assert_eq!(runs("enterprise", "ok"), Some(1.0), "{text}");
    assert_eq!(runs("free", "ok"), Some(0.0), "{text}");
    assert!(text.contains(r#"obs_workflow_duration_seconds_count{workflow="checkout",tier="pro"} 2"#), "{text}");
    assert!(text.contains(r#"obs_workflow_active{workflow="checkout",tier="pro"} 0"#), "{text}");
    assert!(
        text.contains(r#"obs_workflow_budget_exceeded_total{workflow="checkout",tier="pro",budget="deadline"} 0"#),
        "{text}"
    );

    // A node's series carry the node's labels, once per call: the failed call's two attempts
    // and its retry are in the same series as its end.
    let reserve = |family: &str, extra: (&str, &str)| {
        let labels = [("workflow", "checkout"), ("node", "reserve"), ("tier", "pro"), ("channel", "web"), extra];
        sample(&text, family, &labels)
    };
    assert_eq!(reserve("obs_node_runs_total", ("status", "ok")), Some(1.0), "{text}");
    assert_eq!(reserve("obs_node_runs_total", ("status", "error")), Some(1.0), "{text}");
    assert_eq!(reserve("obs_node_attempts_total", ("outcome", "error")), Some(2.0), "{text}");
    assert!(
        text.contains(r#"obs_node_retries_total{workflow="checkout",node="reserve",tier="pro",channel="web"} 1"#),
        "{text}"
    );
    // Every enum combination of the node under its workflow, registered at zero with the first.
    assert!(
        text.contains(
            r#"obs_node_runs_total{workflow="checkout",node="reserve",tier="free",channel="mobile_app",status="ok"} 0"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"obs_node_duration_seconds_count{workflow="checkout",node="reserve",tier="enterprise",channel="mobile_app"} 1"#),
        "{text}"
    );
    // A node's string label: three values per label of the site, the rest folded and counted.
    let ship = |workflow: &str, region: &str| {
        let labels = [("workflow", workflow), ("node", "ship"), ("region", region), ("status", "ok")];
        sample(&text, "obs_node_runs_total", &labels)
    };
    assert_eq!(ship("checkout", "eu"), Some(1.0), "{text}");
    assert_eq!(ship("checkout", "us"), Some(1.0), "{text}");
    assert_eq!(ship("none", "ap"), Some(1.0), "{text}");
    assert_eq!(ship("none", "eu"), Some(1.0), "{text}");
    assert_eq!(ship("none", "__overflow__"), Some(2.0), "sa and mars fold:\n{text}");
    assert_eq!(ship("none", "sa"), None, "{text}");
    assert_eq!(
        sample(&text, "obs_overflow_total", &[("metric", "obs_node_runs_total")]),
        Some(2.0),
        "a node's folded calls are counted against its runs family:\n{text}"
    );
    let deliver = |region: &str| {
        sample(&text, "obs_workflow_runs_total", &[("workflow", "deliver"), ("region", region), ("status", "ok")])
    };
    assert_eq!(deliver("eu"), Some(2.0), "{text}");
    assert_eq!(deliver("ap"), Some(1.0), "{text}");
    assert_eq!(deliver("__overflow__"), Some(2.0), "{text}");
    assert_eq!(
        sample(&text, "obs_overflow_total", &[("metric", "obs_workflow_runs_total")]),
        Some(2.0),
        "a workflow's folded runs are counted against its runs family:\n{text}"
    );
    promtool_check(&text);

    // The catalog names each function's labels.
    let site = obs_runtime::catalog().iter().find(|s| s.name() == "charge").expect("charge in the catalog");
    assert_eq!(site.labels(), ["tier", "channel"]);

    // A real Prometheus: a query over a label from an argument.
    let server = support::Prometheus::start("labels", app, &[]);
    let promql = r#"sum by (tier) (obs_function_calls_total{function="charge"})"#;
    let deadline = Instant::now() + Duration::from_secs(90);
    let by_tier = loop {
        if server.ready() {
            let result = server.query_ok(promql);
            if result.len() == 3 {
                break result;
            }
        }
        assert!(Instant::now() < deadline, "Prometheus did not scrape the app within 90 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let tier = |name: &str| {
        by_tier.iter().find(|s| s["metric"]["tier"] == name).and_then(|s| s["value"][1].as_str()).map(str::to_owned)
    };
    assert_eq!(tier("pro").as_deref(), Some("3"));
    assert_eq!(tier("enterprise").as_deref(), Some("1"));
    assert_eq!(tier("free").as_deref(), Some("0"));

    // The same query over a workflow's runs and a node's calls (the scrape above has them).
    for (promql, what) in [
        (r#"sum by (tier) (obs_workflow_runs_total{workflow="checkout"})"#, "workflow runs"),
        (r#"sum by (tier) (obs_node_runs_total{node="reserve"})"#, "node calls"),
    ] {
        let by_tier = server.query_ok(promql);
        let tier = |name: &str| {
            by_tier.iter().find(|s| s["metric"]["tier"] == name).and_then(|s| s["value"][1].as_str()).map(str::to_owned)
        };
        assert_eq!(by_tier.len(), 3, "{what}: {by_tier:?}");
        assert_eq!(tier("pro").as_deref(), Some("2"), "{what}: {by_tier:?}");
        assert_eq!(tier("enterprise").as_deref(), Some("1"), "{what}: {by_tier:?}");
        assert_eq!(tier("free").as_deref(), Some("0"), "{what}: {by_tier:?}");
    }

    drop(server);
}
