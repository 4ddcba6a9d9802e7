//! `carrier-sim` binary: parses arguments, sets up JSON logs, runs the simulator until
//! SIGINT/SIGTERM.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context as _;
use carrier_sim::{
    SimConfig,
    config::{DEFAULT_HTTP_PORT, DEFAULT_SMPP_PORT, loopback},
};
use clap::Parser;

/// Simulated SMS carrier: SMPP 3.4 SMSC + Kannel-style HTTP API, driven by a scenario file.
#[derive(Debug, Parser)]
#[command(name = "carrier-sim", version)]
struct Args {
    /// Config / scenario TOML file (see tools/carrier-sim/scenarios/).
    #[arg(long, env = "SMSFLOW_SIM_CONFIG")]
    config: Option<PathBuf>,
    /// SMPP listen address [default: file value, else 127.0.0.1:2775].
    #[arg(long, env = "SMSFLOW_SIM_SMPP_LISTEN")]
    smpp_listen: Option<SocketAddr>,
    /// HTTP listen address [default: file value, else 127.0.0.1:8090].
    #[arg(long, env = "SMSFLOW_SIM_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// Overrides the scenario seed.
    #[arg(long, env = "SMSFLOW_SIM_SEED")]
    seed: Option<u64>,
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "SMSFLOW_SIM_LOG", default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log).context("bad --log filter")?,
        )
        .with_current_span(false)
        .init();

    let mut config = match &args.config {
        Some(path) => SimConfig::from_toml_file(path)
            .with_context(|| format!("loading {}", path.display()))?,
        None => SimConfig::default(),
    };
    // a port-0 listener in the file means "not set" for the binary
    config.smpp_listen = args
        .smpp_listen
        .unwrap_or(if config.smpp_listen.port() == 0 {
            loopback(DEFAULT_SMPP_PORT)
        } else {
            config.smpp_listen
        });
    config.http_listen = args
        .http_listen
        .unwrap_or(if config.http_listen.port() == 0 {
            loopback(DEFAULT_HTTP_PORT)
        } else {
            config.http_listen
        });
    if let Some(seed) = args.seed {
        config.scenario.seed = seed;
    }

    let sim = carrier_sim::start(config).await?;
    tracing::info!(
        smpp = %sim.smpp_addr(),
        http = %sim.http_addr(),
        "ready"
    );
    wait_for_signal().await?;
    tracing::info!("signal received, shutting down");
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
