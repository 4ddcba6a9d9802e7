//! What every service binary and library share: the `main` sequence (arguments, config,
//! telemetry, signals), the error type of `connect` and `run`, and the context of a consuming
//! service (its links and its HTTP listener).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::de::DeserializeOwned;
use smsflow_kafka::KafkaConfig;
use smsflow_store::StoreConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpConfig, TelemetryConfig};
use crate::wiring::{Links, WiringError};

/// A service configuration: it says how the service logs.
pub trait ServiceConfig: DeserializeOwned {
    /// Logging and tracing settings.
    fn telemetry(&self) -> &TelemetryConfig;
}

/// Command line every service accepts.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// TOML config file; `SMSFLOW_*` environment variables override it.
    #[arg(long, short, env = "SMSFLOW_CONFIG")]
    config: Option<PathBuf>,
}

/// The body of every service's `main`: parse arguments, load the config, start telemetry,
/// arm SIGINT/SIGTERM, then hand over to `start` (which connects and runs the service).
pub async fn main<C, F, Fut>(name: &'static str, start: F) -> anyhow::Result<()>
where
    C: ServiceConfig,
    F: FnOnce(C, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), ServiceError>>,
{
    let args = Args::parse();
    let config: C = crate::config::load(args.config.as_deref())?;
    let _telemetry = crate::telemetry::init(name, config.telemetry());
    let shutdown = crate::shutdown::on_signal();
    start(config, shutdown).await?;
    Ok(())
}

/// Why a service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A configuration value is not usable.
    #[error("configuration: {0}")]
    Config(String),
    /// Kafka, registry or store link.
    #[error(transparent)]
    Wiring(#[from] WiringError),
    /// The store.
    #[error(transparent)]
    Store(#[from] smsflow_store::StoreError),
    /// Kafka.
    #[error(transparent)]
    Kafka(#[from] smsflow_kafka::KafkaError),
    /// The HTTP listener.
    #[error("http: {0}")]
    Io(#[from] std::io::Error),
}

/// The links and the bound HTTP listener of a consuming service.
#[derive(Debug)]
pub struct ServiceContext {
    /// Producer, store, dedupe.
    pub links: Links,
    /// The service's HTTP listener (ops endpoints, and its API if it has one).
    pub listener: TcpListener,
}

impl ServiceContext {
    /// Opens the links (checking the store schema) and binds the listener.
    pub async fn connect(
        kafka: &KafkaConfig,
        store: &StoreConfig,
        http: &HttpConfig,
        service: &str,
    ) -> Result<Self, ServiceError> {
        let links = Links::connect(kafka, store, service).await?;
        let listener = crate::http::bind(http).await?;
        Ok(Self { links, listener })
    }

    /// Where the listener is bound.
    pub fn http_addr(&self) -> SocketAddr {
        local_addr(&self.listener)
    }
}

/// The bound address of `l` (`127.0.0.1:0` if the OS won't say).
pub fn local_addr(l: &TcpListener) -> SocketAddr {
    l.local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}
