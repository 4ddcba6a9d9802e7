//! # smsflow-runtime: what every service binary shares
//!
//! | module | role |
//! |---|---|
//! | [`config`] | typed config from TOML + `SMSFLOW_*` env; `HttpConfig`, `TelemetryConfig` |
//! | [`telemetry`] | JSON logs, OTLP traces, the Prometheus recorder |
//! | [`shutdown`] | a cancellation token fired by SIGINT/SIGTERM |
//! | [`http`] | `/healthz`, `/readyz` (named dependency checks), `/metrics`, serve with graceful shutdown |
//! | [`service`] | the `main` sequence, [`service::ServiceError`], [`service::ServiceContext`] |
//! | [`threads`] | [`ThreadRuntime`]: a runtime on a thread of its own (latency-critical work) |
//! | [`wiring`] | the links of a consuming service: producer, CQL store, dedupe, readiness probes |
//!
//! A service's `main.rs` calls [`service::main`]: parse CLI, [`config::load`],
//! [`telemetry::init`], [`shutdown::on_signal`], then `<service>::Context::connect` and
//! `<service>::run(config, ctx, shutdown)`.

pub mod config;
pub mod http;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod threads;
pub mod wiring;

pub use config::{ConfigError, HttpConfig, TelemetryConfig};

/// The allocator of every binary that links this crate (the services, the CLI, the tests).
/// The hot path allocates small, short-lived buffers per record (Kafka messages, events,
/// CQL values); glibc's malloc spent a quarter of the services' CPU on them under load
/// (`perf`, issue 8), mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use http::Readiness;
pub use threads::ThreadRuntime;
pub use tokio_util::sync::CancellationToken;
