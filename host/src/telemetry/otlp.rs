//! OTLP/HTTP (protobuf) export of spans, off unless configured:
//! `--otlp-endpoint URL` (the collector's base URL, as
//! `OTEL_EXPORTER_OTLP_ENDPOINT` gives it: `/v1/traces` is appended), or
//! the environment's `OTEL_EXPORTER_OTLP_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (read by the exporter as the OTLP
//! specification says). Spans are batched on the exporter's own thread and
//! sent with a blocking client; the sampler is the SDK's (parent-based,
//! `OTEL_TRACES_SAMPLER` honoured), so a caller's unsampled trace is not
//! exported.

use std::time::Duration;

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where spans go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The traces URL made from `--otlp-endpoint`.
    Url(String),
    /// What the `OTEL_EXPORTER_OTLP_*` environment says.
    Environment,
}

#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("--otlp-endpoint must be an http:// or https:// URL with a host")]
    Endpoint,
    #[error("the OTLP exporter could not be set up (check the OTEL_EXPORTER_OTLP_* variables)")]
    Exporter,
}

/// The export configured by `flag` (`--otlp-endpoint`) or the environment;
/// none when neither names an endpoint.
pub fn configured(flag: Option<&str>) -> Result<Option<Endpoint>, OtlpError> {
    if let Some(base) = flag {
        return traces_url(base).map(|u| Some(Endpoint::Url(u)));
    }
    let set = |var: &str| std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
    Ok(
        (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .then_some(Endpoint::Environment),
    )
}

/// `base` + `/v1/traces`, if `base` is an http(s) URL with a host.
fn traces_url(base: &str) -> Result<String, OtlpError> {
    let url = url::Url::parse(base.trim()).map_err(|_| OtlpError::Endpoint)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(OtlpError::Endpoint);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(OtlpError::Endpoint);
    }
    Ok(format!("{}/v1/traces", url.as_str().trim_end_matches('/')))
}

/// A tracer provider batching spans to `endpoint`. Build it outside an
/// async runtime (the blocking client is made here).
pub fn provider(endpoint: &Endpoint) -> Result<SdkTracerProvider, OtlpError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(EXPORT_TIMEOUT);
    if let Endpoint::Url(url) = endpoint {
        builder = builder.with_endpoint(url.clone());
    }
    let exporter = builder.build().map_err(|_| OtlpError::Exporter)?;
    let resource = Resource::builder()
        .with_service_name("computehub")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_a_base_url() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://collector.example/otlp/").unwrap(),
            "https://collector.example/otlp/v1/traces"
        );
        for bad in [
            "",
            "127.0.0.1:4318",
            "ftp://host",
            "http://",
            "http://h/?q=1",
        ] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }
}
