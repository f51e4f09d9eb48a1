use obs_runtime::workflow;

#[derive(Debug)]
struct Config {
    layers: u32,
}

#[workflow(mlflow)]
async fn default_experiment() {}

#[workflow(mlflow(experiment = "churn-model", params(learning_rate, epochs, config: debug, api_token)))]
async fn train(learning_rate: f64, epochs: u32, config: Config, api_token: String) -> u32 {
    let _ = (learning_rate, api_token);
    epochs + config.layers
}

fn assert_send<T: Send>(_: &T) {}

fn main() {
    let run = train(0.1, 3, Config { layers: 2 }, "t".into());
    assert_send(&run);
    drop(run);
    drop(default_experiment());
}
