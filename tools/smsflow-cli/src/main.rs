//! `smsflow`: the operator's command line. Thin: parses arguments, loads config, calls the
//! library in `lib.rs`.

#![allow(clippy::print_stderr)] // errors and the dlq commands' summaries go to stderr

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use smsflow_cli::dlq;

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
    /// Inspect and replay the dead-letter topic (`sms.dlq` with the deployment's topic
    /// prefix). Reads it without joining or committing for any service's consumer group.
    Dlq {
        #[command(subcommand)]
        command: Dlq,
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

/// Which dead letters a command takes. Repeat a flag to take any of its values.
#[derive(Args, Debug)]
struct Select {
    /// Service that gave up: `router` matches the consumer group `<prefix>smsflow-router`,
    /// `dispatcher` every dispatcher consumer and its raw SMPP dead letters; a full group id
    /// matches itself.
    #[arg(long = "service", value_name = "SERVICE")]
    services: Vec<String>,
    /// Error code (`smsflow.dlq.error.code`), e.g. NOT_WIRE_FORMAT; case-insensitive.
    #[arg(long = "code", value_name = "CODE")]
    codes: Vec<String>,
    /// Original topic, with or without the topic prefix (`sms.requests`), or `smpp:<carrier>`.
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// Only dead letters written since this RFC 3339 time (2026-12-07T09:00:00Z) or this long
    /// ago (90s, 15m, 2h, 7d, 1h30m).
    #[arg(long, value_name = "TIME|DURATION", value_parser = since)]
    since: Option<DateTime<Utc>>,
    /// Stop after this many selected dead letters.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

impl Select {
    fn filter(&self) -> dlq::Filter {
        dlq::Filter {
            services: self.services.clone(),
            codes: self.codes.clone(),
            topics: self.topics.clone(),
            since: self.since,
        }
    }
}

fn since(s: &str) -> Result<DateTime<Utc>, String> {
    dlq::parse_since(s, Utc::now())
}

#[derive(Subcommand, Debug)]
enum Dlq {
    /// One line per dead letter: its position (for `dlq show`), time, service, original
    /// topic-partition@offset, error code, event type/id and reason (numbers masked). Reads
    /// from the start (or --since) to the current end and stops.
    List {
        #[command(flatten)]
        select: Select,
        /// One JSON object per line, the whole reason in each.
        #[arg(long)]
        json: bool,
        /// Keep printing new dead letters after the end, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// One dead letter: every header and, when its bytes are an event the schema registry
    /// knows, the event. Phone numbers, message texts and raw bytes are masked.
    Show {
        /// Where it is in the dead-letter topic, as `dlq list` prints it: <partition>:<offset>.
        position: dlq::Position,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Show phone numbers, message texts and raw bytes in clear.
        #[arg(long)]
        reveal: bool,
    },
    /// Republish the selected dead letters (their original key, bytes and headers, plus
    /// `smsflow.redrive.from = <partition>:<offset>`) to the topic each came from, once its
    /// cause is fixed. Waits for every acknowledgement, prints a summary, exits non-zero if
    /// any send failed.
    ///
    /// The services' handlers are idempotent, so redriving a record twice is harmless; a
    /// record that is still poison is dead-lettered again (with a new position). Raw SMPP
    /// data (`smpp:<carrier>`), records of unknown origin and topics that do not exist are
    /// skipped and reported.
    Redrive {
        #[command(flatten)]
        select: Select,
        /// Print what would be redriven; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send to this topic instead of each record's original one.
        #[arg(long, value_name = "TOPIC")]
        to_topic: Option<String>,
    },
}

/// Logs of the dlq commands go to stderr: their stdout is the report (JSON with `--json`).
fn stderr_logs(cfg: &smsflow_runtime::TelemetryConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log_filter));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Exit codes: 0 done, 1 failed (the error on stderr, its causes after `: `), 2 bad arguments
/// (clap's).
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing left to say.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg: smsflow_cli::CliConfig = smsflow_runtime::config::load(cli.config.as_deref())?;
    let command = match cli.command {
        Command::Dlq { command } => {
            stderr_logs(&cfg.telemetry);
            return run_dlq(&cfg, command).await;
        }
        Command::Admin { command } => command,
    };
    let _telemetry = smsflow_runtime::telemetry::init("smsflow-cli", &cfg.telemetry);
    match command {
        Admin::Setup { wait } => {
            smsflow_cli::setup(&cfg, std::time::Duration::from_secs(wait)).await
        }
        Admin::Check => smsflow_cli::check(&cfg).await,
    }
}

async fn run_dlq(cfg: &smsflow_cli::CliConfig, command: Dlq) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        Dlq::List {
            select,
            json,
            follow,
        } => {
            let stop = smsflow_runtime::shutdown::on_signal();
            let opts = dlq::ListOptions { json, follow };
            let listed = dlq::list(
                &cfg.kafka,
                select.filter(),
                select.limit,
                opts,
                &stop,
                &mut out,
            )
            .await?;
            eprintln!(
                "{} of {} dead letters read from {}",
                listed.matched, listed.read, listed.topic
            );
            Ok(())
        }
        Dlq::Show {
            position,
            json,
            reveal,
        } => {
            let shown = dlq::inspect(&cfg.kafka, position).await?;
            dlq::render(&shown, dlq::ShowOptions { json, reveal }, &mut out)
        }
        Dlq::Redrive {
            select,
            dry_run,
            to_topic,
        } => {
            let opts = dlq::RedriveOptions { dry_run, to_topic };
            let report =
                dlq::redrive(&cfg.kafka, select.filter(), select.limit, &opts, &mut out).await?;
            anyhow::ensure!(
                report.failed.is_empty(),
                "{} record(s) were not acknowledged (lines `failed` above); redriving them \
                 again is harmless",
                report.failed.len()
            );
            Ok(())
        }
    }
}
