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

/// What an opt-out stops besides marketing, for one tenant (ADR 13).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentPolicy {
    /// Transactional messages still go to a recipient who opted out (default false: a STOP
    /// stops every message from the tenant but OTPs, as carriers expect).
    pub transactional_after_opt_out: bool,
    /// OTPs still go to a recipient who opted out (default true: a code is sent because the
    /// recipient asked for it, just now).
    pub otp_after_opt_out: bool,
}

impl Default for ConsentPolicy {
    fn default() -> Self {
        Self {
            transactional_after_opt_out: false,
            otp_after_opt_out: true,
        }
    }
}

/// Consent: the policy for every tenant, and the tenants that have their own.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// Whether the router follows `sms.consent` and obeys it (default true; false for a
    /// deployment whose tenants keep consent themselves, and to measure what it costs).
    pub enabled: bool,
    /// The policy of a tenant not listed in `tenants`.
    pub default: ConsentPolicy,
    /// Tenant id → its policy.
    pub tenants: std::collections::BTreeMap<String, ConsentPolicy>,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default: ConsentPolicy::default(),
            tenants: std::collections::BTreeMap::new(),
        }
    }
}

impl ConsentConfig {
    /// The policy of `tenant`.
    pub fn for_tenant(&self, tenant: &str) -> &ConsentPolicy {
        self.tenants.get(tenant).unwrap_or(&self.default)
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
    /// What an opt-out stops.
    pub consent: ConsentConfig,
}

impl smsflow_runtime::service::ServiceConfig for Config {
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
