use obs_runtime::workflow;

// A misspelled parameter, one that does not exist, one named twice, and an unknown key.
#[workflow(mlflow(experiment = "churn", params(learning_rat, epochs, layers, epochs), sample = 3))]
async fn train(learning_rate: f64, epochs: u32) -> u32 {
    let _ = learning_rate;
    epochs
}

// A parameter that is not `Display`, and a format that does not exist.
struct Config;

#[workflow(skip(config), mlflow(params(config)))]
async fn tune(config: Config) {
    let _ = config;
}

#[workflow(skip(config), mlflow(params(config: yaml)))]
async fn tune_again(config: Config) {
    let _ = config;
}

#[workflow(mlflow = "churn")]
async fn assigned() {}

fn main() {}
