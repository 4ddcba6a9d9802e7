//! smpp-bench: see the library docs. Runs the client benchmark for each window size and the
//! raw simulator load, prints a summary and writes the Markdown report.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use smpp_bench::client_run::{self, ClientRunConfig};
use smpp_bench::machine::MachineInfo;
use smpp_bench::raw_load::{self, RawLoadConfig};
use smpp_bench::report;

/// SMPP client and simulator benchmark.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Report path (default `bench/reports/smpp-<date>.md` under the current directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Window sizes to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u32, 10, 50])]
    windows: Vec<u32>,
    /// Sessions (binds) of the client.
    #[arg(long, default_value_t = 1)]
    sessions: u32,
    /// Measured messages per window size (window 1 uses a fifth of it).
    #[arg(long, default_value_t = 200_000)]
    messages: u64,
    /// Warm-up messages per run (not measured).
    #[arg(long, default_value_t = 5_000)]
    warmup: u64,
    /// Connections of the raw simulator load.
    #[arg(long, default_value_t = 4)]
    raw_connections: usize,
    /// Outstanding submit_sm per raw connection.
    #[arg(long, default_value_t = 500)]
    raw_pipeline: usize,
    /// Measured seconds of the raw load.
    #[arg(long, default_value_t = 5.0)]
    raw_seconds: f64,
    /// Skip the raw simulator load.
    #[arg(long)]
    no_raw: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let machine = MachineInfo::collect();
    println!(
        "smpp-bench: {} cores, {}, {} build",
        machine.cores, machine.rustc, machine.profile
    );

    let mut runs = Vec::new();
    for &window in &args.windows {
        let messages = if window == 1 {
            (args.messages / 5).max(1)
        } else {
            args.messages
        };
        let config = ClientRunConfig {
            window,
            sessions: args.sessions,
            warmup: args.warmup,
            messages,
            concurrency: (window as usize * args.sessions as usize * 2).max(2),
        };
        println!("client run: window {window}, {messages} messages ...");
        let result = client_run::run(config).await?;
        println!(
            "  {:.0} msg/s, p50 {:?}, p99 {:?}, not accepted {}",
            result.rate, result.latency.p50, result.latency.p99, result.failures
        );
        runs.push(result);
    }

    let raw = if args.no_raw {
        None
    } else {
        println!(
            "raw simulator load: {} connections x {} outstanding, {} s ...",
            args.raw_connections, args.raw_pipeline, args.raw_seconds
        );
        let result = raw_load::run(RawLoadConfig {
            connections: args.raw_connections,
            pipeline: args.raw_pipeline,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs_f64(args.raw_seconds),
        })
        .await?;
        println!("  {:.0} submits/s ({} errors)", result.rate, result.errors);
        Some(result)
    };

    let command: String = std::env::args().collect::<Vec<_>>().join(" ");
    let text = report::render(&machine, &runs, raw.as_ref(), &command);
    let path = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("bench/reports/smpp-{}.md", machine.date)));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("report written to {}", path.display());
    Ok(())
}
