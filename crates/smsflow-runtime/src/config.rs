//! Typed configuration from a TOML file and `SMSFLOW_*` environment variables.
//!
//! Precedence: struct defaults (which run against the local stack) < the TOML file <
//! environment. Nested keys use a double underscore: `SMSFLOW_KAFKA__BOOTSTRAP_SERVERS`
//! sets `kafka.bootstrap_servers`, `SMSFLOW_STORE__CONTACT_POINTS='["10.0.0.5:9042"]'` sets a list.
//!
//! Credentials (`..._USERNAME`, `..._PASSWORD`, `..._SECRET`) are taken verbatim as strings,
//! whatever they look like. Not configuration, and ignored here: `SMSFLOW_CONFIG` (the config file's path),
//! `SMSFLOW_STACK_*` (the local stack script) and `SMSFLOW_SIM_*` (the carrier simulator).

use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Environment variable prefix.
pub const ENV_PREFIX: &str = "SMSFLOW_";

/// Configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Loads `T` from defaults, then `file` (if given), then the environment.
pub fn load<T: DeserializeOwned>(file: Option<&Path>) -> Result<T, ConfigError> {
    let mut fig = Figment::new();
    if let Some(f) = file {
        if !f.exists() {
            return Err(ConfigError(format!("file {} does not exist", f.display())));
        }
        fig = fig.merge(Toml::file(f));
    }
    fig = fig.merge(
        Env::prefixed(ENV_PREFIX)
            .filter(|k| is_config_variable(k.as_str()) && !is_secret(k.as_str()))
            .split("__"),
    );
    // Credentials are taken verbatim: a password of digits must stay a string.
    for (name, value) in std::env::vars() {
        if let Some(key) = name.strip_prefix(ENV_PREFIX)
            && is_config_variable(key)
            && is_secret(key)
        {
            let path = key.to_ascii_lowercase().replace("__", ".");
            fig = fig.merge(Serialized::default(&path, value));
        }
    }
    fig.extract().map_err(|e| ConfigError(e.to_string()))
}

/// Whether `SMSFLOW_<key>` is a configuration override (see the module doc). Kubernetes'
/// service links (`SMSFLOW_INGEST_SERVICE_HOST`, `..._PORT_8080_TCP`) are not.
fn is_config_variable(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let tool = k == "config" || k.starts_with("stack_") || k.starts_with("sim_");
    let service_link = !k.contains("__") && (k.contains("_service_") || k.contains("_port"));
    !tool && !service_link
}

/// Whether the key names a credential (its last part ends in `username`, `password` or
/// `secret`): taken verbatim, never parsed as a number or boolean.
fn is_secret(key: &str) -> bool {
    let last = key.rsplit("__").next().unwrap_or(key).to_ascii_lowercase();
    last.ends_with("username") || last.ends_with("password") || last.ends_with("secret")
}

/// Settings of the service's own HTTP listener (health, readiness, metrics, API).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`; port 0 picks a free one.
    pub listen: String,
    /// Milliseconds a client has to send a request's headers, and an idle connection stays
    /// open waiting for the next request; then the connection is closed (slowloris).
    pub header_timeout_ms: u64,
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl HttpConfig {
    /// A listener on `listen`, with the default limits.
    pub fn on(listen: &str) -> Self {
        Self {
            listen: listen.to_owned(),
            header_timeout_ms: 10_000,
            max_connections: 4_096,
        }
    }

    /// `header_timeout_ms` (at least 100 ms).
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms.max(100))
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::on("127.0.0.1:0")
    }
}

/// Logging and tracing.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `json` (default) or `pretty`.
    pub log_format: String,
    /// `tracing` filter, e.g. `info,smsflow_kafka=debug`. `RUST_LOG` overrides it.
    pub log_filter: String,
    /// OTLP/gRPC endpoint for traces, e.g. `http://otel-collector:4317`; none disables export.
    pub otlp_endpoint: Option<String>,
    /// `tracing` filter of the spans exported over OTLP. The default takes a span per record
    /// handled (`smsflow_kafka`, debug) and per HTTP request (`tower_http`, debug).
    pub trace_filter: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: "json".into(),
            log_filter: "info,scylla=warn,rdkafka=warn".into(),
            otlp_endpoint: None,
            trace_filter: "info,smsflow_kafka=debug,tower_http=debug".into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's test jail has a large error type
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        http: HttpConfig,
        name: String,
        db: Db,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Db {
        port: u16,
        password: Option<String>,
    }

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "svc.toml",
                "name = \"from-file\"\n[http]\nlisten = \"127.0.0.1:1\"\n",
            )?;
            jail.set_env("SMSFLOW_HTTP__LISTEN", "127.0.0.1:2");
            let s: Sample = load(Some(Path::new("svc.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.name, "from-file");
            assert_eq!(s.http.listen, "127.0.0.1:2");
            Ok(())
        });
    }

    #[test]
    fn tool_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SMSFLOW_CONFIG", "svc.toml");
            jail.set_env("SMSFLOW_STACK_KAFKA_PORT", "19092");
            jail.set_env("SMSFLOW_SIM_SEED", "3");
            jail.set_env("SMSFLOW_INGEST_SERVICE_HOST", "10.0.0.1");
            jail.set_env("SMSFLOW_INGEST_PORT_8080_TCP", "tcp://10.0.0.1:8080");
            jail.set_env("SMSFLOW_NAME", "from-env");
            let s: Sample = load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.name, "from-env");
            Ok(())
        });
    }

    #[test]
    fn secrets_stay_strings_whatever_they_look_like() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SMSFLOW_DB__PASSWORD", "12345678");
            jail.set_env("SMSFLOW_DB__PORT", "9042");
            let s: Sample = load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.db.password.as_deref(), Some("12345678"));
            assert_eq!(s.db.port, 9042);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("svc.toml", "nmae = \"typo\"\n")?;
            let r: Result<Sample, _> = load(Some(Path::new("svc.toml")));
            assert!(r.unwrap_err().to_string().contains("nmae"));
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let r: Result<Sample, _> = load(Some(Path::new("/nonexistent/smsflow.toml")));
        assert!(r.is_err());
    }
}
