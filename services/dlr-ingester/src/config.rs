//! dlr-ingester configuration (`config/local/dlr-ingester.toml`, `SMSFLOW_*` env).

use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{HttpConfig, TelemetryConfig};
use smsflow_store::StoreConfig;

/// dlr-ingester settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
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
    /// Records processed concurrently, per consumer (submits, receipts).
    pub max_in_flight: Option<usize>,
    /// Correlations kept in memory (default 262,144, about a minute of traffic at 5,000
    /// messages/s): a receipt whose submit this instance recorded is correlated without a
    /// store read. 0 turns the cache off.
    pub correlation_cache: Option<usize>,
    /// How long a receipt that came before its submit waits for it before it is parked
    /// (milliseconds).
    pub early_receipt_wait_ms: u64,
    /// How often parked receipts are swept (seconds).
    pub park_sweep_secs: u64,
    /// How long after a submit a message whose carrier has not reported on every segment
    /// ends `expired` with error `RECEIPT_TIMEOUT` (seconds; 0: never). A receipt that comes
    /// later still sets its status. Default 48 h, as long as a receipt waits parked.
    pub receipt_timeout_secs: u64,
    /// STOP / START / HELP in inbound messages.
    pub keywords: crate::keywords::KeywordConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            kafka: KafkaConfig::default(),
            store: StoreConfig::default(),
            telemetry: TelemetryConfig::default(),
            max_in_flight: None,
            correlation_cache: None,
            early_receipt_wait_ms: 30_000,
            park_sweep_secs: 10,
            receipt_timeout_secs: DEFAULT_RECEIPT_TIMEOUT_SECS,
            keywords: crate::keywords::KeywordConfig::default(),
        }
    }
}

/// `receipt_timeout_secs` by default: 48 h.
pub const DEFAULT_RECEIPT_TIMEOUT_SECS: u64 = 48 * 3600;

/// Correlations cached when `correlation_cache` is not set.
pub const DEFAULT_CORRELATION_CACHE: usize = 262_144;

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
