use obs_runtime::ErrorKind;

#[derive(Debug, ErrorKind)]
#[error_kind(crate = "obs_runtime")]
enum NotAPath {
    A,
}

#[derive(Debug, ErrorKind)]
#[error_kind(krate = obs_runtime)]
enum UnknownKey {
    A,
}

#[derive(Debug, ErrorKind)]
#[error_kind(crate = obs_runtime)]
#[error_kind(crate = obs_runtime)]
enum Duplicate {
    A,
}

#[derive(Debug, ErrorKind)]
#[error_kind]
enum NoArguments {
    A,
}

fn main() {}
