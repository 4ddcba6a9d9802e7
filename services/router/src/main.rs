//! router binary: parse arguments, load config, start telemetry, run.

use std::path::PathBuf;

use clap::Parser;

/// smsflow router: route selection and lane assignment.
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
    let config: router::Config = smsflow_runtime::config::load(args.config.as_deref())?;
    let _telemetry = smsflow_runtime::telemetry::init("router", &config.telemetry);
    let shutdown = smsflow_runtime::shutdown::on_signal();
    let ctx = router::Context::connect(&config).await?;
    router::run(config, ctx, shutdown).await?;
    Ok(())
}
