//! Shared helpers for the integration tests.

#![allow(dead_code)]

pub mod mock_smsc;

use std::time::Duration;

use smsflow_smpp::CarrierConfig;

/// A config pointing at 127.0.0.1:`port`, with short timers suited to tests.
pub fn test_config(port: u16) -> CarrierConfig {
    CarrierConfig {
        name: "test".into(),
        host: "127.0.0.1".into(),
        port,
        system_id: "smsflow".into(),
        password: "secret".into(),
        response_timeout_ms: 2_000,
        reconnect_min_backoff_ms: 50,
        reconnect_max_backoff_ms: 400,
        throttle_min_backoff_ms: 20,
        throttle_max_backoff_ms: 200,
        ..CarrierConfig::default()
    }
}

/// Installs a test tracing subscriber once (RUST_LOG controls it).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Generous bound for waiting on asynchronous effects.
pub const WAIT: Duration = Duration::from_secs(10);
