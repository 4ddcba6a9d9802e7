//! analytics binary: parse arguments, load config, start telemetry, run.

use std::path::PathBuf;

use clap::Parser;

/// smsflow analytics: views and the query API.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// TOML config file; `SMSFLOW_*` environment variables override it.
    #[arg(long, short, env = "SMSFLOW_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config: analytics::Config = smsflow_runtime::config::load(args.config.as_deref())?;
    let _telemetry = smsflow_runtime::telemetry::init("analytics", &config.telemetry);
    let shutdown = smsflow_runtime::shutdown::on_signal();
    let ctx = analytics::Context::connect(&config).await?;
    analytics::run(config, ctx, shutdown).await?;
    Ok(())
}
