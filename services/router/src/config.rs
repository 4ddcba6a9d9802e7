//! Router configuration (`config/local/router.toml`, `SMSFLOW_*` env).

use std::time::Duration;

use serde::Deserialize;
use smsflow_events::MessageType;
use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{HttpConfig, TelemetryConfig};
use smsflow_store::StoreConfig;

/// One route as written in the config file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Stable id, recorded in every decision it makes.
    pub route_id: String,
    /// Destination digit prefix (E.164 without `+`); the longest match wins, `""` matches all.
    #[serde(default)]
    pub prefix: String,
    /// Carrier to submit to.
    pub carrier_id: String,
    /// Carriers to fail over to, in order.
    #[serde(default)]
    pub failover: Vec<String>,
    /// Only for this tenant; none for all.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Only these lanes (`otp`, `transactional`, `bulk`); empty for all.
    #[serde(default)]
    pub lanes: Vec<String>,
    /// Cost per segment in micro-units of `currency`.
    #[serde(default)]
    pub cost_micros: i64,
    /// ISO 4217 currency.
    #[serde(default = "eur")]
    pub currency: String,
    /// Preference among equally specific routes; higher wins.
    #[serde(default)]
    pub weight: i32,
}

fn eur() -> String {
    "EUR".into()
}

/// The route table: a version and its routes.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RouteTableConfig {
    /// Version recorded in every decision.
    pub version: i64,
    /// Routes.
    pub routes: Vec<RouteConfig>,
}

impl Default for RouteTableConfig {
    fn default() -> Self {
        Self {
            version: 1,
            routes: vec![RouteConfig {
                route_id: "default".into(),
                prefix: String::new(),
                carrier_id: "sim".into(),
                failover: vec![],
                tenant_id: None,
                lanes: vec![],
                cost_micros: 5_000,
                currency: eur(),
                weight: 0,
            }],
        }
    }
}

/// How long a message stays sendable after its request when the request names no expiry,
/// per message type, in seconds. The router writes the expiry into every decision and the
/// dispatcher never submits past it, so a request read again long after (offsets lost, a
/// replay into the live topics) is rejected `EXPIRED`, never sent.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ValidityConfig {
    /// A one-time code is useless after minutes.
    pub otp_secs: u64,
    /// Alerts: a day.
    pub transactional_secs: u64,
    /// Campaigns: two days.
    pub marketing_secs: u64,
}

impl Default for ValidityConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ValidityConfig {
    /// OTP 10 minutes, transactional a day, marketing two days.
    pub const DEFAULT: Self = Self {
        otp_secs: 600,
        transactional_secs: 86_400,
        marketing_secs: 172_800,
    };

    /// The validity of a message of type `t` whose request names no expiry.
    pub fn for_type(&self, t: MessageType) -> Duration {
        Duration::from_secs(match t {
            MessageType::Otp => self.otp_secs,
            MessageType::Transactional => self.transactional_secs,
            MessageType::Marketing => self.marketing_secs,
        })
    }
}

/// Router settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Health, readiness and metrics listener.
    pub http: HttpConfig,
    /// Kafka and registry.
    pub kafka: KafkaConfig,
    /// CQL store (dedupe).
    pub store: StoreConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// The route table (versioned configuration; `sms.config` events replace it later).
    pub route_table: RouteTableConfig,
    /// Requests processed concurrently.
    pub max_in_flight: Option<usize>,
    /// Default validity per message type.
    pub validity: ValidityConfig,
}

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
