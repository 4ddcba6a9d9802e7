//! Ingest configuration (`config/local/ingest.toml`, `SMSFLOW_*` env).

use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{HttpConfig, TelemetryConfig};
use smsflow_webhooks::TargetPolicy;

use crate::validate::Rules;

/// One API key and the tenant it belongs to.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Tenant the key acts for.
    pub tenant: String,
    /// SHA-256 of the key, hex. What production configs carry.
    pub sha256: Option<String>,
    /// The key in clear, for local development only.
    pub key: Option<String>,
}

/// Ingest settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Public HTTP API listener.
    pub http: HttpConfig,
    /// Kafka and registry.
    pub kafka: KafkaConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Accepted API keys (a key store replaces this list in a later version).
    pub api_keys: Vec<ApiKeyConfig>,
    /// Base URL of the analytics service, which answers `GET /v1/messages/{id}`.
    pub analytics_url: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most SMS segments one message may take.
    pub max_segments: usize,
    /// Milliseconds a `POST` waits for the message log to confirm the request (the producer's
    /// `delivery.timeout.ms`, kept within 100 ms..=10 min, and its longest wait for queue
    /// room); then it answers 503 saying the outcome is unknown. 4.5 s by default: every
    /// answer within 5 s, the rest of the request included.
    pub accept_timeout_ms: u64,
    /// Where a `callback_url` may point: public addresses, plus `allow_networks` (the SSRF
    /// guard; the local demo allows `127.0.0.0/8`).
    pub webhooks: TargetPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::on("127.0.0.1:8080"),
            kafka: KafkaConfig::default(),
            telemetry: TelemetryConfig::default(),
            api_keys: Vec::new(),
            analytics_url: "http://127.0.0.1:8085".into(),
            max_body_bytes: 64 * 1024,
            max_segments: Rules::DEFAULT.max_segments,
            accept_timeout_ms: 4_500,
            webhooks: TargetPolicy::PUBLIC_ONLY,
        }
    }
}

impl Config {
    /// What a request is checked against.
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            max_segments: self.max_segments,
            callbacks: &self.webhooks,
        }
    }

    /// `accept_timeout_ms`, kept where the producer accepts it (above its 2 ms linger).
    pub fn accept_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.accept_timeout_ms.clamp(100, 600_000))
    }
}

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
