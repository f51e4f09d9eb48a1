//! `WorkflowSuccessCheck` as a user sees it: `/health` reports the workflow
//! `degraded` (still HTTP 200) with the ratio and the counts once too many
//! of its runs fail, and healthy while they succeed.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use obs_runtime::HealthCheck;
use obs_runtime::health::{ShowDetails, WorkflowSuccessCheck};
use obs_runtime::workflow;
use serde_json::Value;

#[derive(Debug)]
struct ImportFailed;
impl std::fmt::Display for ImportFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("import failed")
    }
}
impl std::error::Error for ImportFailed {}

#[workflow]
async fn import(fail: bool) -> Result<(), ImportFailed> {
    if fail { Err(ImportFailed) } else { Ok(()) }
}

#[derive(HealthCheck)]
struct Health {
    #[health(non_critical)]
    imports: WorkflowSuccessCheck,
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

#[tokio::test]
async fn health_degrades_when_the_workflow_success_ratio_drops() {
    let guard = obs_runtime::builder()
        .service_name("health-workflow")
        .log_writer(std::io::sink)
        .http_addr("127.0.0.1:0".parse().unwrap())
        .health(Health {
            imports: WorkflowSuccessCheck::new("import").min_ratio(0.9).window(Duration::from_secs(3600)),
        })
        .health_details(ShowDetails::Always)
        .health_cache(Duration::ZERO)
        .health_refresh(Duration::ZERO)
        .init()
        .expect("init");
    let addr = guard.http_addr().unwrap();

    for _ in 0..10 {
        import(false).await.unwrap();
    }
    let (code, body) = tokio::task::spawn_blocking(move || get(addr, "/health")).await.unwrap();
    let check = &body["checks"]["imports"];
    assert_eq!((code, check["status"].as_str()), (200, Some("healthy")), "{body}");
    assert_eq!(check["details"]["runs"], 10, "{body}");
    assert_eq!(check["details"]["success_ratio"], 1.0, "{body}");

    for fail in [true, true, false, false, false, false, false, false, false, false] {
        let _ = import(fail).await;
    }
    let (code, body) = tokio::task::spawn_blocking(move || get(addr, "/health")).await.unwrap();
    let check = &body["checks"]["imports"];
    // 18 of 20 runs succeeded: 90 %, not below the threshold.
    assert_eq!((code, check["status"].as_str()), (200, Some("healthy")), "{body}");
    assert_eq!((check["details"]["runs"].as_u64(), check["details"]["failed"].as_u64()), (Some(20), Some(2)), "{body}");

    let _ = import(true).await;
    let (code, body) = tokio::task::spawn_blocking(move || get(addr, "/health")).await.unwrap();
    let check = &body["checks"]["imports"];
    assert_eq!(code, 200, "degraded is still available: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(check["status"], "degraded", "{body}");
    assert_eq!((check["details"]["runs"].as_u64(), check["details"]["failed"].as_u64()), (Some(21), Some(3)), "{body}");
    let ratio = check["details"]["success_ratio"].as_f64().unwrap();
    assert!((ratio - 18.0 / 21.0).abs() < 1e-9, "{body}");
    assert!(check["error"].as_str().unwrap().contains("85.7% of the runs of import succeeded"), "{body}");
}
