//! One measured run of the smsflow SMPP client against the in-process simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use carrier_sim::LedgerSummary;
use smsflow_smpp::{CarrierConfig, SmppClient, SubmitRequest};

use crate::stats::{LatencySummary, summarise};

/// Parameters of one client run.
#[derive(Debug, Clone)]
pub struct ClientRunConfig {
    /// Window per session.
    pub window: u32,
    /// Sessions (binds).
    pub sessions: u32,
    /// Messages submitted before measuring (excluded from the figures).
    pub warmup: u64,
    /// Messages measured.
    pub messages: u64,
    /// Concurrent callers of `submit`.
    pub concurrency: usize,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct ClientRunResult {
    /// The parameters.
    pub config: ClientRunConfig,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Accepted messages per second.
    pub rate: f64,
    /// Latency of `submit` calls (call to result).
    pub latency: LatencySummary,
    /// Parts that did not end accepted (should be 0).
    pub failures: u64,
    /// The simulator's ledger after the run (sanity: accepted, duplicates).
    pub ledger: LedgerSummary,
}

/// Runs the client against a fresh simulator (latency 0, no TPS cap, no receipts).
pub async fn run(config: ClientRunConfig) -> anyhow::Result<ClientRunResult> {
    let sim = carrier_sim::start(carrier_sim::SimConfig::default()).await?;
    let carrier = CarrierConfig {
        name: "bench".into(),
        host: "127.0.0.1".into(),
        port: sim.smpp_addr().port(),
        system_id: "smsflow".into(),
        password: "secret".into(),
        sessions: config.sessions,
        window: config.window,
        registered_delivery: 0,
        submit_queue: 4096,
        ..CarrierConfig::default()
    };
    let (client, _inbound) = SmppClient::start(carrier)?;
    ensure!(
        client
            .wait_until_bound(config.sessions as usize, Duration::from_secs(10))
            .await,
        "client did not bind to the simulator"
    );

    // Warm-up (connections, allocator, caches), not measured.
    drive(&client, 0, config.warmup, config.concurrency).await?;
    let started = Instant::now();
    let (mut latencies, failures) = drive(
        &client,
        config.warmup,
        config.warmup + config.messages,
        config.concurrency,
    )
    .await?;
    let elapsed = started.elapsed();
    client.shutdown(Duration::from_secs(5)).await;
    let ledger = sim.ledger().summary();
    sim.shutdown().await;
    Ok(ClientRunResult {
        rate: config.messages as f64 / elapsed.as_secs_f64(),
        latency: summarise(&mut latencies),
        elapsed,
        failures,
        ledger,
        config,
    })
}

/// Submits messages `from..to` with `concurrency` callers; returns per-call latencies and
/// the number of parts that were not accepted.
async fn drive(
    client: &SmppClient,
    from: u64,
    to: u64,
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let next = Arc::new(AtomicU64::new(from));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = client.clone();
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    break;
                }
                let request = SubmitRequest::new(
                    "SMSFLOW",
                    format!("4470{:08}", i % 100_000_000),
                    format!("benchmark message number {i}"),
                    (i & 0xFFFF) as u16,
                );
                let t0 = Instant::now();
                let report = client.submit(request).await;
                latencies.push(t0.elapsed());
                match report {
                    Ok(r) => {
                        failures += r.parts.iter().filter(|p| p.result.is_err()).count() as u64
                    }
                    Err(_) => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::with_capacity(usize::try_from(to - from).unwrap_or(0));
    let mut failures = 0;
    for w in workers {
        let (lat, f) = w.await.context("worker panicked")?;
        all.extend(lat);
        failures += f;
    }
    Ok((all, failures))
}
