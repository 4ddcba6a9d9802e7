//! Analytics configuration (`config/local/analytics.toml`, `SMSFLOW_*` env).

use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{HttpConfig, TelemetryConfig};
use smsflow_store::StoreConfig;

/// Analytics settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Query API, health, readiness and metrics listener.
    pub http: HttpConfig,
    /// Kafka and registry.
    pub kafka: KafkaConfig,
    /// CQL store (the views).
    pub store: StoreConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Records processed concurrently. Each waits for the writer's next flush, so this bounds
    /// how many events one flush can group: keep it above `flush_max_events`.
    pub max_in_flight: usize,
    /// How long the view writer lets events gather before a flush (milliseconds). Longer groups
    /// more events of a message into one store request; the view lags by about this much.
    pub flush_linger_ms: u64,
    /// Most events in one flush.
    pub flush_max_events: usize,
    /// How long a message with no final event yet may be held over to later flushes, so the
    /// rest of its events share its one store request (milliseconds; 0 turns holding off).
    /// Such a message shows in the view after at most `flush_linger_ms + flush_hold_ms`.
    pub flush_hold_ms: u64,
    /// Most messages written in one store request (an unlogged batch, one partition per
    /// message). Cassandra warns above 10 partitions in one batch.
    pub flush_messages_per_request: usize,
    /// Most bytes (about) in one such request: keep it under the store's batch size limits
    /// (Cassandra refuses a batch of several partitions above 50 KiB by default; ScyllaDB
    /// above 1 MiB).
    pub flush_request_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        let flush = crate::writer::FlushOptions::default();
        Self {
            http: HttpConfig::on("127.0.0.1:8085"),
            kafka: KafkaConfig::default(),
            store: StoreConfig::default(),
            telemetry: TelemetryConfig::default(),
            // Records wait for the flush that writes them, held messages up to the hold: room
            // for about (linger + hold) × 5 events × the message rate.
            max_in_flight: 65_536,
            flush_linger_ms: u64::try_from(flush.linger.as_millis()).unwrap_or(u64::MAX),
            flush_max_events: flush.max_events,
            flush_hold_ms: u64::try_from(flush.hold.as_millis()).unwrap_or(u64::MAX),
            flush_messages_per_request: flush.per_request,
            flush_request_bytes: flush.request_bytes,
        }
    }
}

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
