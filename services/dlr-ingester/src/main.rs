//! dlr-ingester binary: parse arguments, load config, start telemetry, run.

use std::path::PathBuf;

use clap::Parser;

/// smsflow dlr-ingester: delivery receipt correlation.
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
    let config: dlr_ingester::Config = smsflow_runtime::config::load(args.config.as_deref())?;
    let _telemetry = smsflow_runtime::telemetry::init("dlr-ingester", &config.telemetry);
    let shutdown = smsflow_runtime::shutdown::on_signal();
    let ctx = dlr_ingester::Context::connect(&config).await?;
    dlr_ingester::run(config, ctx, shutdown).await?;
    Ok(())
}
