//! A real `mlflow server` for a test: a free loopback port, a temporary sqlite
//! store and artifact root (served by the server itself, so runs get
//! `mlflow-artifacts:/` locations), in its own process group so that its
//! workers are stopped with it, and the REST calls the tests read it back with.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ProcessGroupGuard, free_port, http_get, http_post_json, require_mlflow};

pub struct Mlflow {
    pub addr: SocketAddr,
    server: Option<ProcessGroupGuard>,
    dir: std::path::PathBuf,
}

impl Drop for Mlflow {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Mlflow {
    /// Starts the server and waits until `/health` answers (first start: up to 180 s).
    pub fn start(tag: &str) -> Mlflow {
        let mlflow = require_mlflow();
        let dir = std::env::temp_dir().join(format!("obs-mlflow-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let mut command = Command::new(mlflow);
        command
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--serve-artifacts")
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let server = ProcessGroupGuard::spawn(command).expect("start mlflow server");
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = http_get(addr, "/health") {
                break;
            }
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            assert!(started.elapsed() < Duration::from_secs(180), "mlflow did not answer /health within 180 s:\n{log}");
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!("mlflow ready after {:?}", started.elapsed());
        Mlflow { addr, server: Some(server), dir }
    }

    /// Stops the server and every process it started.
    pub fn stop(&mut self) {
        drop(self.server.take());
    }

    /// `GET /api/...` answered with 200 and JSON.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = http_get(self.addr, path).expect("mlflow request");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    /// `POST /api/...` with a JSON body, answered with 200 and JSON.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let (status, text) = http_post_json(self.addr, path, &body.to_string()).expect("mlflow request");
        assert_eq!(status, 200, "POST {path} {body}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: not JSON ({e}): {text}"))
    }

    /// Creates the experiment `name`; its id.
    pub fn create_experiment(&self, name: &str) -> String {
        let created = self.post("/api/2.0/mlflow/experiments/create", &serde_json::json!({ "name": name }));
        created["experiment_id"].as_str().expect("experiment id").to_owned()
    }
}
