//! Dispatcher configuration (`config/local/dispatcher.toml`, `SMSFLOW_*` env).

use std::collections::BTreeMap;

use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{HttpConfig, TelemetryConfig};
use smsflow_smpp::CarrierConfig;
use smsflow_store::StoreConfig;

/// Records processed concurrently per lane (each lane has its own consumer, so OTP never
/// queues behind bulk in Kafka).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LaneConcurrency {
    /// `sms.routing.otp`.
    pub otp: usize,
    /// `sms.routing.transactional`.
    pub transactional: usize,
    /// `sms.routing.bulk`.
    pub bulk: usize,
    /// `sms.retry.*`.
    pub retry: usize,
}

impl Default for LaneConcurrency {
    fn default() -> Self {
        Self {
            otp: 256,
            transactional: 256,
            bulk: 256,
            retry: 512,
        }
    }
}

/// Whether a message whose submit outcome is unknown (timeout, link lost) is submitted again,
/// at the risk of a duplicate, per message type.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct UnknownOutcomePolicy {
    /// A late OTP is useless and a duplicate harmless: resubmit.
    pub otp: bool,
    /// Transactional alerts: do not risk a duplicate.
    pub transactional: bool,
    /// Marketing: never duplicate.
    pub marketing: bool,
}

impl Default for UnknownOutcomePolicy {
    fn default() -> Self {
        Self {
            otp: true,
            transactional: false,
            marketing: false,
        }
    }
}

/// When a carrier counts as down, so that its decisions fail over (ADR 12, decision 11).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Seconds without a bound session after which a carrier is down.
    pub down_after_secs: u64,
    /// Attempts failing in a row for reasons of the carrier that open its breaker.
    pub failures_to_open: u32,
    /// Seconds an open breaker waits before letting a probe through.
    pub open_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        let d = crate::breaker::BreakerOptions::default();
        Self {
            down_after_secs: d.down_after.as_secs(),
            failures_to_open: d.failures_to_open,
            open_secs: d.open_for.as_secs(),
        }
    }
}

impl BreakerConfig {
    /// As the breaker takes it.
    pub fn options(&self) -> crate::breaker::BreakerOptions {
        crate::breaker::BreakerOptions {
            down_after: std::time::Duration::from_secs(self.down_after_secs),
            failures_to_open: self.failures_to_open.max(1),
            open_for: std::time::Duration::from_secs(self.open_secs),
        }
    }
}

/// Dispatcher settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Health, readiness and metrics listener.
    pub http: HttpConfig,
    /// Kafka and registry.
    pub kafka: KafkaConfig,
    /// CQL store (attempt state, dedupe).
    pub store: StoreConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// SMPP carriers by carrier id (the id route tables name). At least one is required.
    pub carriers: BTreeMap<String, CarrierConfig>,
    /// Concurrency per lane.
    pub lanes: LaneConcurrency,
    /// Attempts per carrier before failing over or giving up.
    pub max_attempts: i32,
    /// Resubmit policy when an outcome is unknown.
    pub resubmit_unknown: UnknownOutcomePolicy,
    /// Seconds to wait, at shutdown, for submits already written to be answered.
    pub shutdown_grace_secs: u64,
    /// Offsets claimed per lane partition at a time (ADR 11): a first attempt above the claim
    /// read at assignment skips reading its history. 0 reads it for every decision.
    pub fresh_window: i64,
    /// Ids of first attempts remembered per generation (two are kept), so a duplicate
    /// decision or a retry in place reads its history.
    pub fresh_recent: usize,
    /// Seconds a partition lease lasts (at least 6; renewed every fifth of it): after a crash,
    /// the next owner of its partitions waits at most this long (ADR 12, decision 9).
    pub lease_secs: u64,
    /// Seconds added to the lease and the slowest carrier's response timeout while an attempt
    /// found STARTED, its parts unanswered, is awaited before it counts as outcome unknown
    /// (for types that do not resubmit unknown outcomes; ADR 12, decision 10).
    pub unknown_settle_margin_secs: u64,
    /// When a carrier counts as down.
    pub breaker: BreakerConfig,
    /// Attempts that are not resubmitted when their outcome is unknown take a slot per part
    /// before their write-ahead, of this many windows of the carrier's configured sessions
    /// (per carrier and instance; ADR 12, decision 23): a crash then leaves written ahead
    /// but unsent at most these parts, rather than every decision in flight. 0: no slots.
    pub write_ahead_windows: u32,
}

impl Config {
    /// How long an attempt found STARTED is awaited: the lease (its starter may have written
    /// until its end), the slowest carrier's response timeout, and the margin.
    pub fn unknown_settle(&self) -> std::time::Duration {
        let slowest = self
            .carriers
            .values()
            .map(CarrierConfig::response_timeout)
            .max()
            .unwrap_or_default();
        std::time::Duration::from_secs(self.lease_secs + self.unknown_settle_margin_secs) + slowest
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            kafka: KafkaConfig::default(),
            store: StoreConfig::default(),
            telemetry: TelemetryConfig::default(),
            carriers: BTreeMap::new(),
            lanes: LaneConcurrency::default(),
            max_attempts: 4,
            resubmit_unknown: UnknownOutcomePolicy::default(),
            shutdown_grace_secs: 10,
            fresh_window: crate::fresh::DEFAULT_WINDOW,
            fresh_recent: crate::fresh::DEFAULT_RECENT,
            lease_secs: 15,
            unknown_settle_margin_secs: 15,
            breaker: BreakerConfig::default(),
            write_ahead_windows: 2,
        }
    }
}

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
