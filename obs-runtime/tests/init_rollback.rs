//! A failed `init` leaves nothing installed, so the application can call it
//! again with other settings (its own binary: it installs a global subscriber).

use std::io::{Read, Write};
use std::time::Duration;

use obs_runtime::InitError;

fn obs_threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("obs-"))
        .collect();
    names.sort();
    names
}

#[obs_runtime::observe]
fn work(n: u64) -> Result<u64, std::io::Error> {
    Ok(n * 2)
}

#[test]
fn an_init_refused_because_of_another_subscriber_installs_nothing_and_can_be_retried() {
    // The application's own subscriber, installed first.
    tracing::subscriber::set_global_default(tracing_subscriber::registry()).unwrap();
    let before = obs_threads();

    let first = obs_runtime::builder().service_name("rollback").http_addr("127.0.0.1:0".parse().unwrap()).init();
    assert!(matches!(first, Err(InitError::SubscriberAlreadySet)), "{first:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(obs_threads(), before, "no obs thread is left running");

    // Nothing global changed, so the suggested fix works: obs's recorder and
    // endpoints, the application's subscriber.
    let guard = obs_runtime::builder()
        .service_name("rollback")
        .http_addr("127.0.0.1:0".parse().unwrap())
        .install_subscriber(false)
        .init()
        .expect("a second init with the suggested setting succeeds");
    work(21).unwrap();
    let text = guard.render_metrics().unwrap();
    assert!(
        text.contains(r#"obs_function_calls_total{function="work",module="init_rollback",status="ok"} 1"#),
        "{text}"
    );
    let addr = guard.http_addr().expect("the endpoints are served");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut scrape = String::new();
    stream.read_to_string(&mut scrape).unwrap();
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");
    assert!(scrape.contains("obs_function_calls_total"), "{scrape}");
}
