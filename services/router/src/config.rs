//! Router configuration (`config/local/router.toml`, `SMSFLOW_*` env).

use serde::Deserialize;
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
}

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
