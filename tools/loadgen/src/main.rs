//! `loadgen`: the open-loop HTTP load generator and end-to-end measurer behind `make bench`
//! (`bench/run.py`) and `make bench-smoke`.
//!
//! It posts `/v1/messages` at a fixed rate (or as fast as its connections allow), each
//! message to its own destination, with a priority mix; follows how many of them the status
//! view (analytics) shows `delivered` over time; reads CPU time and memory of the platform's
//! processes from `/proc`; reads the carrier simulator's ledger for submits, duplicates and
//! accept → submit latency; checks every accepted id at the end; and writes one JSON result.
//! The result's `answers` holds the answer time of every POST, whatever the answer, against
//! the SLO thresholds (`--answer-slo-ms`); `--refused-out` lists every POST not accepted, with
//! whether its 503 said the outcome is unknown.
//! Numbers go only to the ids file (`--ids-out`) and the refused file (`--refused-out`), texts
//! nowhere: never to the terminal.
//!
//! | module | role |
//! | --- | --- |
//! | [`plan`] | destinations, priority mix, open-loop schedule |
//! | [`send`] | the sender |
//! | [`book`] | accepted messages, failures and answer times of a run |
//! | [`answers`] | answer times against the SLO; a 503 that said the outcome is unknown |
//! | [`view`] | delivered-in-view sampling and the final check |
//! | [`procs`] | CPU and RSS from `/proc` |
//! | [`sim`] | the simulator's ledger API |
//! | [`latency`] | accept → submit latency per priority |
//! | [`ids`] | the ids file |
//! | [`refused`] | the refused file |
//! | [`run`] | one measured run, its phases and its result |
//! | [`stats`] | percentiles |
//! | [`topics`] | deleting a benchmark run's topics |
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod answers;
mod book;
mod ids;
mod latency;
mod plan;
mod procs;
mod refused;
mod run;
mod send;
mod sim;
mod stats;
mod topics;
mod view;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::{
    plan::{Destinations, Mix, Priority, Schedule},
    procs::Watched,
    run::WaitFor,
    send::SendPlan,
};

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Open-loop load generator and end-to-end measurer for smsflow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send load, follow the view, measure, check every id, print (or write) the result.
    Run(Box<RunArgs>),
    /// Check every id of an ids file in the view.
    Verify(VerifyArgs),
    /// Accept → carrier submit latency of the messages of an ids file.
    Latency(LatencyArgs),
    /// Delete the topics of benchmark runs (names starting with a `bench-…` prefix).
    DeleteTopics(DeleteTopicsArgs),
    /// Drop the CQL keyspaces of benchmark runs (names starting with a `bench_…` prefix).
    DropKeyspace(DropKeyspaceArgs),
}

#[derive(Debug, Args)]
struct DropKeyspaceArgs {
    /// Keyspace of a run (must start with `bench_`).
    #[arg(long, conflicts_with = "prefix")]
    keyspace: Option<String>,
    /// Every keyspace starting so: `bench_` for all that runs left (must start with `bench_`).
    #[arg(long)]
    prefix: Option<String>,
    /// CQL contact point.
    #[arg(long, default_value = "127.0.0.1:9042")]
    contact_point: String,
}

#[derive(Debug, Args)]
struct DeleteTopicsArgs {
    /// Topic prefix: a run's, or `bench-` for every run's (must start with `bench-`).
    #[arg(long)]
    prefix: String,
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap_servers: String,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Name of the run in the result.
    #[arg(long, default_value = "run")]
    label: String,
    /// The send endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080/v1/messages")]
    url: String,
    /// API key (Bearer).
    #[arg(long, env = "LOADGEN_API_KEY", default_value = "sk_local_demo")]
    api_key: String,
    /// Sender id.
    #[arg(long, default_value = "ACME")]
    from: String,
    /// Messages per second; 0 sends as fast as the connections allow.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long)]
    duration: Option<f64>,
    /// Messages to send at most.
    #[arg(long)]
    count: Option<u64>,
    /// Requests in flight at most (keep-alive connections).
    #[arg(long, default_value_t = 128)]
    connections: usize,
    /// Priority weights, e.g. `otp=1,transactional=2,bulk=7`.
    #[arg(long, default_value = "transactional=1")]
    mix: Mix,
    /// Seed of the priority draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Offset of the first destination in +447000000000…+447999999999 (random if not given).
    #[arg(long)]
    dest_base: Option<u64>,
    /// Goes into every text (default: the start time).
    #[arg(long)]
    tag: Option<String>,
    /// Every n-th message gets a text of two segments (0: none).
    #[arg(long, default_value_t = 0)]
    multipart_every: u64,
    /// Analytics base URL for the view ("" to skip view sampling and the check).
    #[arg(long, default_value = "http://127.0.0.1:8085")]
    view_url: String,
    /// Ids probed per bucket and round.
    #[arg(long, default_value_t = 8)]
    probes: usize,
    /// GETs per sampling tick at most.
    #[arg(long, default_value_t = 100)]
    probe_budget: usize,
    /// Sampling period, ms.
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// What the drain phase waits for.
    #[arg(long, value_enum, default_value_t = WaitFor::View)]
    wait_for: WaitFor,
    /// Longest drain phase, seconds.
    #[arg(long, default_value_t = 300.0)]
    drain_timeout: f64,
    /// Skip the check of every id.
    #[arg(long)]
    no_verify: bool,
    /// GETs in flight during the check.
    #[arg(long, default_value_t = 32)]
    verify_concurrency: usize,
    /// How long ids that are not final are checked again, seconds.
    #[arg(long, default_value_t = 30.0)]
    verify_timeout: f64,
    /// How long ids still `retrying` then are checked again, seconds (a retry may wait on
    /// the 10-minute tier); no longer than --verify-timeout if shorter.
    #[arg(long, default_value_t = 0.0)]
    verify_retrying_timeout: f64,
    /// Carrier simulator base URL ("" to skip the ledger).
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    sim_url: String,
    /// Priorities whose accept → submit latency is measured (comma-separated; "" for none).
    #[arg(long, default_value = "otp")]
    latency: String,
    /// A process to measure, `name=pid` (repeat).
    #[arg(long = "proc")]
    procs: Vec<Watched>,
    /// Write the accepted ids (with destination, priority and times) here.
    #[arg(long)]
    ids_out: Option<PathBuf>,
    /// Write every POST not accepted (TSV: index, to, priority, status, told_unknown,
    /// retry_after, answer_ms, sent_us) here.
    #[arg(long)]
    refused_out: Option<PathBuf>,
    /// Answer-time thresholds, ms (comma-separated or repeated): the result's
    /// `answers.over_ms` counts the POSTs slower than each.
    #[arg(long, value_delimiter = ',', default_value = "5000")]
    answer_slo_ms: Vec<u64>,
    /// How long a POST waits for its whole answer, ms; one still pending then counts as a
    /// `timeout` with the time it waited. Keep it above the SLO to see how slow answers are.
    #[arg(long, default_value_t = 30_000)]
    post_timeout_ms: u64,
    /// Write the time series (CSV) here.
    #[arg(long)]
    series_out: Option<PathBuf>,
    /// Write the result (JSON) here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Progress line on stderr every this many ticks (0: none).
    #[arg(long, default_value_t = 5)]
    progress: u32,
    /// Exit 1 if nothing was delivered, or anything failed, was lost or duplicated.
    #[arg(long)]
    fail_on_loss: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Ids file written by `run --ids-out`.
    #[arg(long)]
    ids: PathBuf,
    /// Analytics base URL.
    #[arg(long, default_value = "http://127.0.0.1:8085")]
    view_url: String,
    /// GETs in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long ids that are not final are checked again, seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// How long ids still `retrying` then are checked again, seconds.
    #[arg(long, default_value_t = 0.0)]
    retrying_timeout: f64,
}

#[derive(Debug, Args)]
struct LatencyArgs {
    /// Ids file written by `run --ids-out`.
    #[arg(long)]
    ids: PathBuf,
    /// Carrier simulator base URL.
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    sim_url: String,
    /// Priorities (comma-separated).
    #[arg(long, default_value = "otp")]
    priorities: String,
}

fn priorities(s: &str) -> anyhow::Result<Vec<Priority>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_err(anyhow::Error::msg))
        .collect()
}

fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .pool_idle_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        // For the GETs; a POST carries its own (`--post-timeout-ms`), and one that reaches it
        // is recorded as a `timeout` with the time it waited, never dropped.
        .timeout(Duration::from_secs(30))
        .build()
        .context("http client")
}

fn blank(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

async fn run_command(a: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.duration.is_some() || a.count.is_some(),
        "give --duration or --count"
    );
    anyhow::ensure!(a.connections > 0, "--connections must be > 0");
    anyhow::ensure!(a.post_timeout_ms > 0, "--post-timeout-ms must be > 0");
    let view_url = blank(&a.view_url);
    anyhow::ensure!(
        a.wait_for != WaitFor::View || view_url.is_some(),
        "--wait-for view needs --view-url"
    );
    let sim_url = blank(&a.sim_url);
    anyhow::ensure!(
        a.wait_for != WaitFor::Submitted || sim_url.is_some(),
        "--wait-for submitted needs --sim-url"
    );
    let tag = a
        .tag
        .clone()
        .unwrap_or_else(|| format!("{}", book::now_us() / 1_000_000));
    let opts = run::Options {
        label: a.label.clone(),
        plan: SendPlan {
            url: a.url.clone(),
            api_key: a.api_key.clone(),
            from: a.from.clone(),
            schedule: Schedule::new(a.rate),
            count: a.count,
            duration: a.duration.map(Duration::from_secs_f64),
            connections: a.connections,
            mix: a.mix.clone(),
            seed: a.seed,
            destinations: a
                .dest_base
                .map_or_else(Destinations::random, Destinations::new),
            tag,
            multipart_every: a.multipart_every,
            post_timeout: Duration::from_millis(a.post_timeout_ms),
        },
        view_url,
        probes: a.probes,
        probe_budget: a.probe_budget,
        tick: Duration::from_millis(a.tick_ms.max(50)),
        wait_for: a.wait_for,
        drain_timeout: Duration::from_secs_f64(a.drain_timeout),
        verify: !a.no_verify,
        verify_concurrency: a.verify_concurrency,
        verify_timeout: Duration::from_secs_f64(a.verify_timeout),
        verify_retrying_timeout: Duration::from_secs_f64(a.verify_retrying_timeout),
        sim_url,
        latency_priorities: priorities(&a.latency)?,
        watched: a.procs.clone(),
        ids_out: a.ids_out.clone(),
        refused_out: a.refused_out.clone(),
        answer_slo_ms: a.answer_slo_ms.clone(),
        series_out: a.series_out.clone(),
        progress_every: a.progress,
    };
    let http = client(a.connections)?;
    let (result, outcome) = run::run(&opts, &http).await?;
    let text = serde_json::to_string_pretty(&result)?;
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("write {}", p.display()))?,
        None => println!("{text}"),
    }
    eprintln!(
        "[loadgen] {}: accepted {} failed {} delivered {} lost {} duplicates {}",
        a.label,
        outcome.accepted,
        outcome.failed,
        outcome.delivered,
        outcome.lost.map_or("?".into(), |l| l.to_string()),
        outcome.duplicates.map_or("?".into(), |d| d.to_string()),
    );
    if a.fail_on_loss {
        let mut problems = Vec::new();
        if outcome.delivered == 0 {
            problems.push("nothing delivered".to_string());
        }
        if outcome.failed > 0 {
            problems.push(format!("{} requests failed", outcome.failed));
        }
        match outcome.lost {
            Some(0) => {}
            Some(l) => problems.push(format!("{l} accepted messages not delivered")),
            None => problems.push("no check of the ids (needs --view-url)".into()),
        }
        if let Some(d) = outcome.duplicates.filter(|&d| d > 0) {
            problems.push(format!("{d} duplicate submits"));
        }
        if !problems.is_empty() {
            eprintln!("[loadgen] {}: FAILED: {}", a.label, problems.join("; "));
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Run(a) => run_command(*a).await,
        Command::Verify(a) => {
            let lines = ids::read(&a.ids)?;
            let http = client(a.concurrency)?;
            let v = view::verify(
                &http,
                &a.view_url,
                lines.iter().map(|l| l.id).collect(),
                a.concurrency,
                view::Deadlines::after(
                    Duration::from_secs_f64(a.timeout),
                    Duration::from_secs_f64(a.retrying_timeout),
                ),
            )
            .await;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(if v.lost() == 0 && v.delivered > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Latency(a) => {
            let lines = ids::read(&a.ids)?;
            let http = client(8)?;
            let ledger = sim::Ledger::new(&a.sim_url, http);
            let l = run::latency_of(&lines, &priorities(&a.priorities)?, &ledger).await?;
            println!("{}", serde_json::to_string_pretty(&l)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::DeleteTopics(a) => {
            let n = topics::delete_with_prefix(&a.bootstrap_servers, &a.prefix).await?;
            eprintln!("[loadgen] deleted {n} topics starting with {}", a.prefix);
            Ok(ExitCode::SUCCESS)
        }
        Command::DropKeyspace(a) => {
            let which = match (&a.keyspace, &a.prefix) {
                (Some(k), None) => topics::Keyspaces::Named(k),
                (None, Some(p)) => topics::Keyspaces::Prefixed(p),
                _ => anyhow::bail!("give one of --keyspace and --prefix"),
            };
            let n = topics::drop_keyspaces(&a.contact_point, which).await?;
            eprintln!("[loadgen] dropped {n} keyspaces ({which:?})");
            Ok(ExitCode::SUCCESS)
        }
    }
}
