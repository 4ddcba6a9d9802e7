//! dlr-ingester configuration (`config/local/dlr-ingester.toml`, `SMSFLOW_*` env).

use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{HttpConfig, TelemetryConfig};
use smsflow_store::StoreConfig;

/// dlr-ingester settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Health, readiness and metrics listener.
    pub http: HttpConfig,
    /// Kafka and registry.
    pub kafka: KafkaConfig,
    /// CQL store (correlation tables, dedupe).
    pub store: StoreConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Records processed concurrently.
    pub max_in_flight: Option<usize>,
    /// Correlations kept in memory (default 262,144, about a minute of traffic at 5,000
    /// messages/s): a receipt whose submit this instance recorded is correlated without a
    /// store read. 0 turns the cache off.
    pub correlation_cache: Option<usize>,
}

/// Correlations cached when `correlation_cache` is not set.
pub const DEFAULT_CORRELATION_CACHE: usize = 262_144;

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
