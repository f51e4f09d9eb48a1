//! MLflow experiment tracking as an exporter: the settings resolved in `init`
//! (`MLFLOW_TRACKING_URI` or the builder; `MLFLOW_TRACKING_TOKEN` as a Bearer
//! token or `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` as Basic
//! credentials; `MLFLOW_EXPERIMENT_NAME` as the default experiment), then the
//! bounded queue `obs_runtime::mlflow` fills and the one thread that empties it
//! (`mlflow/tracker.rs`). Shutdown sends what is queued and ends the runs still
//! open as `KILLED`, within the guard's deadline.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::seam::{Configured, Exporter, Settings, StartContext};
use crate::env::{env_var, warn_env};
use crate::init_error::InitError;
use crate::metrics::{
    EXPORTER_DROPPED_SPANS_TOTAL, EXPORTER_EXPORTED_SPANS_TOTAL, EXPORTER_FAILED_SPANS_TOTAL, Family,
};
use crate::mlflow::client::{Client, Connection, basic, bearer};
use crate::mlflow::options::MlflowOptions;
use crate::mlflow::tracker::{Counters, Options, Stopping, Tracker};
use crate::mlflow::{Op, Sink};
use crate::worker::Worker;

/// The tracking exporter when a tracking URI is set; an unusable URI from the
/// builder is an error, one from the environment (perhaps meant for a Python
/// client, `sqlite:///...`) is warned about and tracking stays off.
pub(crate) fn configure(settings: &Settings) -> Result<Option<Box<dyn Configured>>, InitError> {
    let options = settings.mlflow.clone();
    let (uri, from_env) = match options.tracking_uri.clone() {
        Some(uri) => (uri, false),
        None => match env_var("MLFLOW_TRACKING_URI") {
            Some(uri) => (uri, true),
            None => return Ok(None),
        },
    };
    let auth = match (env_var("MLFLOW_TRACKING_TOKEN"), env_var("MLFLOW_TRACKING_USERNAME")) {
        (Some(token), _) => Some(bearer(&token)),
        (None, Some(user)) => Some(basic(&user, &env_var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default())),
        (None, None) => None,
    }
    .transpose()
    .map_err(|why| InitError::Config(format!("MLflow tracking: {why}")))?;
    let connection = match Connection::new(&uri, auth, options.timeout) {
        Ok(connection) => connection,
        Err(why) if from_env => {
            warn_env("MLFLOW_TRACKING_URI", &why, "no MLflow tracking");
            return Ok(None);
        }
        Err(why) => return Err(InitError::Config(format!("MLflow tracking URI {why}"))),
    };
    let client = Client::new(connection)?;
    let mut tags = vec![("service.name", settings.service.clone())];
    if let Some(version) = &settings.otlp.service_version {
        tags.push(("service.version", version.clone()));
    }
    if let Some(host) = crate::resource::host_name() {
        tags.push(("host.name", host));
    }
    let experiment = options.experiment.clone().or_else(|| env_var("MLFLOW_EXPERIMENT_NAME"));
    Ok(Some(Box::new(Tracking { client, options, experiment, tags })))
}

struct Tracking {
    client: Client,
    options: MlflowOptions,
    experiment: Option<String>,
    tags: Vec<(&'static str, String)>,
}

impl Configured for Tracking {
    fn start(self: Box<Self>, _cx: &mut StartContext) -> Result<Box<dyn Exporter>, InitError> {
        let Tracking { client, options, experiment, tags } = *self;
        let counter = |family: &Family| metrics::counter!(family.name(), "signal" => "mlflow");
        let (queue, received) = std::sync::mpsc::sync_channel::<Op>(options.queue_size.max(1));
        let unlogged = Arc::new(AtomicU64::new(0));
        if !Sink::install(queue, counter(&EXPORTER_DROPPED_SPANS_TOTAL), unlogged.clone()) {
            return Err(InitError::Config("MLflow tracking is already running in this process".into()));
        }
        let runtime = crate::worker::current_thread_runtime()
            .map_err(|e| InitError::Config(format!("MLflow tracking: its runtime: {e}")))?;
        let counters = Counters {
            exported: counter(&EXPORTER_EXPORTED_SPANS_TOTAL),
            failed: counter(&EXPORTER_FAILED_SPANS_TOTAL),
            dropped_unlogged: unlogged,
        };
        let stopping = Arc::new(Stopping::default());
        let tracker = Tracker::new(
            client,
            runtime,
            Options {
                default_experiment: experiment,
                tags,
                retry_for: options.retry_for,
                error_log_interval: options.error_log_interval,
                flush_every: options.flush_every,
            },
            counters,
            stopping.clone(),
        );
        let worker = Worker::spawn_stopped_by("obs-mlflow", || {}, move || tracker.run(received))
            .map_err(|e| InitError::Config(format!("MLflow tracking: its thread: {e}")))?;
        Ok(Box::new(Running { worker, stopping, limit: options.shutdown_timeout }))
    }
}

struct Running {
    worker: Worker,
    stopping: Arc<Stopping>,
    limit: Duration,
}

impl Exporter for Running {
    fn shutdown_limit(&self) -> Duration {
        self.limit
    }

    fn shutdown(self: Box<Self>, deadline: Instant) {
        let deadline = deadline.min(Instant::now() + self.limit);
        Sink::close();
        self.stopping.ask(deadline);
        self.worker.stop(deadline);
    }
}
