//! How the settings read the builder (these tests do not touch the process
//! environment: `obs-runtime/tests/env_settings.rs` does, in child processes).

use super::endpoint::{Endpoint, check_url};
use super::env::{Signal, parse_key_values};
use super::options::{OtlpOptions, OtlpProtocol};
use super::redact::redact_url;
use super::resolved::Settings;
use super::sampler::{TraceSampler, env_sampler};
use super::tls::TlsOptions;
use crate::init_error::InitError;

#[test]
fn samplers_parse_as_the_spec_names_them_in_any_case() {
    assert_eq!(env_sampler("always_off", None), Some(TraceSampler::AlwaysOff));
    assert_eq!(env_sampler("ALWAYS_OFF", None), Some(TraceSampler::AlwaysOff));
    assert_eq!(env_sampler("parentbased_traceidratio", Some("0.25")), Some(TraceSampler::ParentBasedRatio(0.25)));
    assert_eq!(env_sampler("TraceIdRatio", None), Some(TraceSampler::Ratio(1.0)));
}

/// Was `unknown_samplers_and_bad_ratios_are_errors`: from the environment
/// they are now warned about and ignored; from the builder still an error.
#[test]
fn unknown_samplers_and_bad_ratios_are_ignored_but_bad_builder_ratios_are_errors() {
    assert_eq!(env_sampler("sometimes", None), None);
    assert_eq!(env_sampler("traceidratio", Some("1.5")), Some(TraceSampler::Ratio(1.0)));
    assert_eq!(env_sampler("traceidratio", Some("half")), Some(TraceSampler::Ratio(1.0)));
    assert!(TraceSampler::ParentBasedRatio(-0.1).check().is_err());
}

#[test]
fn key_values_are_percent_decoded() {
    let kv = parse_key_values("a=1, b = two%20words ,,x-mlflow-experiment-id=0").unwrap();
    assert_eq!(
        kv,
        vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "two words".to_owned()),
            ("x-mlflow-experiment-id".to_owned(), "0".to_owned())
        ]
    );
    assert!(parse_key_values("novalue").is_err());
    assert!(parse_key_values("a=%zz").is_err());
    assert!(parse_key_values("a=%+1").is_err());
    assert!(parse_key_values("=v").is_err());
}

const CANARY: &str = "Zq9CanaryX";

#[test]
fn a_malformed_member_is_named_by_position_never_shown() {
    for text in [
        format!("x-a=1,Authorization: Bearer {CANARY}"),
        format!("x-a=1,authorization=Bearer%2{CANARY}"),
        format!("x-a=1,={CANARY}"),
    ] {
        let why = parse_key_values(&text).unwrap_err();
        assert!(why.starts_with("member 2 of 2 "), "{why}");
        assert!(!why.contains(CANARY), "{why}");
    }
}

#[test]
fn urls_are_checked() {
    assert!(check_url("localhost:4318").is_err());
    assert!(check_url("ftp://a/b").is_err());
    assert!(check_url("http://a:1/x").is_ok());
    assert!(check_url("HTTP://a:1/x").is_ok());
    assert!(check_url("https://a:1/x").is_ok());
    assert!(check_url("collector:4317").is_err(), "a scheme is needed (gRPC gets one from the INSECURE rule)");
}

#[test]
fn echoed_urls_have_no_userinfo_or_query_values() {
    let url = format!("https://user:{CANARY}@collector:4318/v1/traces?token={CANARY}&x#{CANARY}");
    let shown = redact_url(&url);
    assert_eq!(shown, "https://<redacted>@collector:4318/v1/traces?token=<redacted>&<redacted>");
    assert_eq!(redact_url("http://c:4318/"), "http://c:4318/");
    // A malformed list puts userinfo-like text in the path: not shown either.
    let listed = format!("http://127.0.0.1:9/v1/traces,{CANARY}:{CANARY}@x");
    assert_eq!(redact_url(&listed), "http://127.0.0.1:9/<redacted>");
    let bad = url.replace("https://", "ftp://");
    let err =
        Endpoint::resolve(Signal::Traces, &OtlpOptions { endpoint: Some(bad), ..Default::default() }).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(text.contains("https://") && text.contains("collector:4318"), "{text}");
        assert!(!text.contains(CANARY), "{text}");
    }
}

#[test]
fn debug_output_shows_no_header_value_or_endpoint_secret() {
    let options = OtlpOptions {
        endpoint: Some(format!("http://u:{CANARY}@c:4318")),
        headers: vec![("authorization".into(), format!("Bearer {CANARY}"))],
        ..Default::default()
    };
    let endpoint = Endpoint::resolve(Signal::Traces, &options).unwrap().unwrap();
    for text in [format!("{options:?}"), format!("{endpoint:?}")] {
        assert!(text.contains("authorization"), "{text}");
        assert!(!text.contains(CANARY), "{text}");
    }
}

#[test]
fn a_bad_builder_header_is_an_error_without_its_value() {
    let options = OtlpOptions {
        endpoint: Some("http://c:4318".into()),
        headers: vec![("x-a".into(), format!("{CANARY}\n"))],
        ..Default::default()
    };
    let err = Endpoint::resolve(Signal::Traces, &options).unwrap_err().to_string();
    assert!(err.contains("Builder::otlp_header number 1"), "{err}");
    assert!(!err.contains(CANARY), "{err}");
}

/// Builder settings only (these unit tests do not touch the process environment).
fn endpoint(signal: Signal, protocol: OtlpProtocol) -> Result<Option<Endpoint>, InitError> {
    let options = OtlpOptions { endpoint: Some("http://collector:4318/".into()), protocol, ..Default::default() };
    Endpoint::resolve(signal, &options)
}

#[test]
fn the_general_endpoint_gets_the_signal_path_over_http_only() {
    let url = |signal| endpoint(signal, OtlpProtocol::HttpProtobuf).unwrap().unwrap().url;
    assert_eq!(url(Signal::Traces), "http://collector:4318/v1/traces");
    assert_eq!(url(Signal::Logs), "http://collector:4318/v1/logs");
    let grpc = endpoint(Signal::Traces, OtlpProtocol::Grpc);
    if cfg!(feature = "otlp-grpc") {
        assert_eq!(grpc.unwrap().unwrap().url, "http://collector:4318/");
    } else {
        let err = grpc.unwrap_err().to_string();
        assert!(err.contains("`otlp-grpc` feature"), "{err}");
    }
    assert!(Endpoint::resolve(Signal::Logs, &OtlpOptions::default()).unwrap().is_none());
}

#[test]
fn log_export_without_an_endpoint_is_an_error() {
    let options = OtlpOptions { logs: true, ..Default::default() };
    let err = Settings::resolve(&options, &[]).unwrap_err().to_string();
    assert!(err.contains("no endpoint"), "{err}");
    let options = OtlpOptions { logs: true, endpoint: Some("http://c:4318".into()), ..Default::default() };
    let settings = Settings::resolve(&options, &[]).unwrap().unwrap();
    assert_eq!(settings.logs.unwrap().url, "http://c:4318/v1/logs");
    assert_eq!(settings.traces.unwrap().url, "http://c:4318/v1/traces");
}

#[test]
fn protocols_parse_as_the_spec_names_them() {
    if cfg!(feature = "otlp-grpc") {
        assert_eq!(OtlpProtocol::parse("GRPC").unwrap(), OtlpProtocol::Grpc);
    } else {
        assert!(OtlpProtocol::parse("grpc").unwrap_err().contains("`otlp-grpc` feature"));
    }
    assert_eq!(OtlpProtocol::parse(" http/protobuf ").unwrap(), OtlpProtocol::HttpProtobuf);
    assert_eq!(OtlpProtocol::parse("HTTP/PROTOBUF").unwrap(), OtlpProtocol::HttpProtobuf);
    assert!(OtlpProtocol::parse("http/json").unwrap_err().contains("not http/json"));
    assert!(OtlpProtocol::parse("thrift").is_err());
}

/// A file of the test's own, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("obs-tls-unit-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn with_tls(tls: TlsOptions) -> Result<Option<Endpoint>, InitError> {
    Endpoint::resolve(
        Signal::Traces,
        &OtlpOptions { endpoint: Some("https://c:4318".into()), tls, ..Default::default() },
    )
}

#[test]
fn a_missing_or_unparsable_tls_file_is_an_error_naming_the_setting_not_the_content() {
    let missing = TlsOptions { certificate: Some("/nonexistent/obs-ca.pem".into()), ..Default::default() };
    let err = with_tls(missing).unwrap_err().to_string();
    assert!(err.contains("Builder::otlp_certificate: cannot read"), "{err}");
    assert!(err.contains("no such file"), "{err}");

    let garbage = TempFile::new("garbage.pem", &format!("-----BEGIN CERTIFICATE-----\n{CANARY}!!\n"));
    let err = with_tls(TlsOptions { certificate: Some(garbage.0.clone()), ..Default::default() }).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Builder::otlp_certificate: ") && text.contains("PEM"), "{text}");
    assert!(!text.contains(CANARY), "{text}");

    let empty = TempFile::new("empty.pem", "just words\n");
    let err = with_tls(TlsOptions { certificate: Some(empty.0.clone()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("holds no PEM certificate"), "{err}");

    let key = TempFile::new("not-a-key.pem", &format!("{CANARY}\n"));
    let options = TlsOptions {
        client_certificate: Some("/nonexistent/client.pem".into()),
        client_key: Some(key.0.clone()),
        ..Default::default()
    };
    let err = with_tls(options).unwrap_err().to_string();
    assert!(err.contains("Builder::otlp_client_certificate: cannot read"), "{err}");
}

#[test]
fn a_client_certificate_needs_its_key() {
    let cert = TlsOptions { client_certificate: Some("/nonexistent/client.pem".into()), ..Default::default() };
    let err = with_tls(cert).unwrap_err().to_string();
    assert!(err.contains("needs its key"), "{err}");
}

#[test]
fn insecure_decides_the_scheme_of_a_grpc_endpoint_without_one() {
    if !cfg!(feature = "otlp-grpc") {
        return;
    }
    let url = |insecure: Option<bool>, endpoint: &str| {
        let options = OtlpOptions {
            endpoint: Some(endpoint.into()),
            protocol: OtlpProtocol::Grpc,
            tls: TlsOptions { insecure, ..Default::default() },
            ..Default::default()
        };
        Endpoint::resolve(Signal::Traces, &options).unwrap().unwrap().url
    };
    assert_eq!(url(None, "collector:4317"), "https://collector:4317");
    assert_eq!(url(Some(false), "collector:4317"), "https://collector:4317");
    assert_eq!(url(Some(true), "collector:4317"), "http://collector:4317");
    assert_eq!(url(Some(true), "https://collector:4317"), "https://collector:4317", "a scheme wins");
    assert_eq!(url(None, "http://collector:4317"), "http://collector:4317");
    // OTLP/HTTP always needs its scheme.
    let options = OtlpOptions {
        endpoint: Some("collector:4318".into()),
        tls: TlsOptions { insecure: Some(true), ..Default::default() },
        ..Default::default()
    };
    assert!(Endpoint::resolve(Signal::Traces, &options).is_err());
}
