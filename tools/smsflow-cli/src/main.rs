//! `smsflow`: the operator's command line. Thin: parses arguments, loads config, calls the
//! library in `lib.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "smsflow", version, about = "smsflow operator tool")]
struct Cli {
    /// TOML config file (kafka and store sections); `SMSFLOW_*` env overrides it.
    #[arg(long, short, global = true, env = "SMSFLOW_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Cluster administration.
    Admin {
        #[command(subcommand)]
        command: Admin,
    },
}

#[derive(Subcommand, Debug)]
enum Admin {
    /// Create topics, set registry compatibility, register schemas, apply CQL migrations.
    /// Idempotent: run it at every deploy.
    Setup {
        /// Seconds to wait for Kafka, the registry and the CQL store to answer.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Check that Kafka, the registry and the CQL store answer and are set up.
    Check,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg: smsflow_cli::CliConfig = smsflow_runtime::config::load(cli.config.as_deref())?;
    let _telemetry = smsflow_runtime::telemetry::init("smsflow-cli", &cfg.telemetry);
    match cli.command {
        Command::Admin {
            command: Admin::Setup { wait },
        } => smsflow_cli::setup(&cfg, std::time::Duration::from_secs(wait)).await,
        Command::Admin {
            command: Admin::Check,
        } => smsflow_cli::check(&cfg).await,
    }
}
