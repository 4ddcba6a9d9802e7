//! Connection settings for Kafka and the schema registry, shared by every service.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::Deserialize;

/// How to reach Kafka and the schema registry. Defaults run against the local stack.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: String,
    /// `sasl.mechanism` (e.g. `PLAIN`, `SCRAM-SHA-512`) when SASL is used.
    pub sasl_mechanism: Option<String>,
    /// `sasl.username`.
    pub sasl_username: Option<String>,
    /// `sasl.password`. Prefer the `SMSFLOW_KAFKA__SASL_PASSWORD` environment variable.
    pub sasl_password: Option<String>,
    /// `ssl.ca.location`: CA bundle to verify the brokers.
    pub ssl_ca_location: Option<String>,
    /// Any other librdkafka property (e.g. `client.rack`, `linger.ms`). It cannot weaken the
    /// delivery guarantees: `acks`, idempotence, commit and offset-store settings are fixed.
    pub properties: BTreeMap<String, String>,
    /// Prefix in front of every topic name (`""` for the standard `sms.*` names).
    pub topic_prefix: String,
    /// Confluent-compatible schema registry base URL (for Apicurio: `.../apis/ccompat/v7`).
    pub schema_registry_url: String,
    /// Registry basic-auth user (Confluent Cloud: the API key).
    pub schema_registry_username: Option<String>,
    /// Registry basic-auth password (Confluent Cloud: the API secret). Prefer the
    /// `SMSFLOW_KAFKA__SCHEMA_REGISTRY_PASSWORD` environment variable.
    pub schema_registry_password: Option<String>,
    /// Partitions for topics created by `smsflow admin setup`.
    pub partitions: i32,
    /// Replication factor for topics created by `smsflow admin setup`.
    pub replication_factor: i32,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: "127.0.0.1:9092".into(),
            security_protocol: "plaintext".into(),
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            properties: BTreeMap::new(),
            topic_prefix: String::new(),
            schema_registry_url: "http://127.0.0.1:8081/apis/ccompat/v7".into(),
            schema_registry_username: None,
            schema_registry_password: None,
            partitions: 6,
            replication_factor: 1,
        }
    }
}

impl KafkaConfig {
    /// A librdkafka client configuration with the connection and security settings.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", &self.security_protocol)
            .set("socket.keepalive.enable", "true")
            .set("log_level", "4");
        let optional = [
            ("sasl.mechanism", &self.sasl_mechanism),
            ("sasl.username", &self.sasl_username),
            ("sasl.password", &self.sasl_password),
            ("ssl.ca.location", &self.ssl_ca_location),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                c.set(k, v);
            }
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// The event codec for this deployment's schema registry (with its credentials, if any).
    pub fn codec(&self) -> Result<smsflow_events::EventCodec, smsflow_events::EncodeError> {
        let auth = match (
            &self.schema_registry_username,
            &self.schema_registry_password,
        ) {
            (Some(u), Some(p)) => Some((u.as_str(), p.as_str())),
            (Some(u), None) => Some((u.as_str(), "")),
            _ => None,
        };
        smsflow_events::EventCodec::with_auth(&self.schema_registry_url, auth)
    }

    /// The topic names of this deployment.
    pub fn topics(&self) -> smsflow_events::Topics {
        smsflow_events::Topics::with_prefix(&self.topic_prefix)
    }
}
