//! A small training workflow tracked in MLflow: linear regression fitted by
//! gradient descent, a few epochs, in plain Rust. Each run of `train` is an
//! MLflow run with its hyper-parameters, a loss curve (one point per epoch),
//! a duration per node execution, the fitted weights as an artifact and a new
//! version of the registered model `toy-linear-regression`.
//!
//! ```text
//! # without MLflow: it trains and prints what it would track
//! cargo run -p obs-examples --example train_model
//!
//! # with a local tracking server (see the README's "MLflow experiment tracking")
//! MLFLOW_TRACKING_URI=http://127.0.0.1:5000 cargo run -p obs-examples --example train_model
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use obs_runtime::{mlflow, node, workflow};

/// Points of `y = 3x + 2` with a little deterministic noise.
#[node]
async fn load_data(points: usize) -> Vec<(f64, f64)> {
    (0..points)
        .map(|i| {
            let x = i as f64 / points as f64 * 4.0 - 2.0;
            let noise = ((i * 7919) % 97) as f64 / 97.0 - 0.5;
            (x, 3.0 * x + 2.0 + 0.3 * noise)
        })
        .collect()
}

fn mean_squared_error(data: &[(f64, f64)], w: f64, b: f64) -> f64 {
    data.iter().map(|(x, y)| (w * x + b - y).powi(2)).sum::<f64>() / data.len() as f64
}

/// One pass of gradient descent over the data; logs the loss at this epoch.
#[node(skip(data))]
async fn train_epoch(epoch: u32, data: &[(f64, f64)], w: f64, b: f64, learning_rate: f64) -> (f64, f64) {
    let n = data.len() as f64;
    let (dw, db) = data.iter().fold((0.0, 0.0), |(dw, db), (x, y)| {
        let error = w * x + b - y;
        (dw + 2.0 * error * x / n, db + 2.0 * error / n)
    });
    let (w, b) = (w - learning_rate * dw, b - learning_rate * db);
    let loss = mean_squared_error(data, w, b);
    mlflow::log_metric("loss", loss, i64::from(epoch));
    mlflow::log_metric("weight", w, i64::from(epoch));
    mlflow::log_metric("bias", b, i64::from(epoch));
    tokio::time::sleep(Duration::from_millis(20)).await;
    (w, b)
}

/// Writes the fitted model where MLflow picks it up: `model/weights.json` and a README.
fn save_model(dir: &Path, w: f64, b: f64) -> std::io::Result<PathBuf> {
    let model = dir.join("model");
    std::fs::create_dir_all(&model)?;
    std::fs::write(model.join("weights.json"), format!("{{\"weight\": {w}, \"bias\": {b}}}\n"))?;
    std::fs::write(model.join("README.txt"), "y = weight * x + bias, fitted by obs's train_model example\n")?;
    Ok(model)
}

#[workflow(mlflow(experiment = "toy-linear-regression", params(learning_rate, epochs, points)))]
async fn train(learning_rate: f64, epochs: u32, points: usize) -> std::io::Result<f64> {
    mlflow::log_param("model", "linear regression, gradient descent");
    let data = load_data(points).await;
    let (mut w, mut b) = (0.0, 0.0);
    for epoch in 0..epochs {
        (w, b) = train_epoch(epoch, &data, w, b, learning_rate).await;
    }
    let loss = mean_squared_error(&data, w, b);
    mlflow::log_metric("final_rmse", loss.sqrt(), 0);
    let dir = std::env::temp_dir().join(format!("obs-train-model-{}", std::process::id()));
    let model = save_model(&dir, w, b)?;
    mlflow::log_artifact(model.join("weights.json"));
    mlflow::log_model(&model, "toy-linear-regression");
    println!("epochs={epochs} learning_rate={learning_rate}: weight={w:.3} bias={b:.3} rmse={:.4}", loss.sqrt());
    Ok(loss)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let tracked = std::env::var_os("MLFLOW_TRACKING_URI").is_some();
    let _guard = obs_runtime::builder()
        .service_name("train-model")
        .service_version("0.1.0")
        // A batch job: on exit, wait for what is still queued for MLflow (a cold server
        // answers its first requests slowly) rather than the default 5 s.
        .mlflow_shutdown_timeout(Duration::from_secs(60))
        .init()
        .expect("obs");
    // A small sweep: one MLflow run per learning rate, to compare in the UI.
    for learning_rate in [0.01, 0.05, 0.2] {
        train(learning_rate, 30, 200).await?;
    }
    if !tracked {
        println!("MLFLOW_TRACKING_URI is not set: nothing was tracked (see the README to start a local server)");
    }
    // Dropping the guard sends what is queued and ends the runs.
    Ok(())
}
