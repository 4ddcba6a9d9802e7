//! One measured run: send, watch the view and the processes while the platform catches up,
//! then check every id, read the ledger and write the result.
//!
//! Phases:
//! 1. **load**: the open-loop sender ([`crate::send`]); every tick the sampler estimates
//!    delivered-in-view and the monitor samples memory.
//! 2. **drain**: sending is over; ticks go on until the run's wait condition holds (`view`:
//!    every accepted message reads `delivered` in the sampled view; `submitted`: the carrier
//!    has every message of the latency priorities) or the drain timeout passes.
//! 3. CPU end reading (so the final check's GETs are not in the CPU numbers), ledger totals.
//! 4. **verify**: every accepted id read back from the view.
//!
//! Besides the throughput, the result holds `answers` ([`crate::answers::Answers`]): the
//! answer time of every POST, whatever the answer, as `count`, `p50_ms`, `p90_ms`, `p99_ms`,
//! `max_ms`, `mean_ms` and `over_ms` (POSTs slower than each `--answer-slo-ms` threshold,
//! keyed by it), the same per way of ending in `by_status` (`"202"`, `"503"`, `"timeout"`...),
//! `told_unknown` (503s that said the outcome is unknown) and `timeout_ms` (the POST
//! timeout, beyond which no answer time is measured).
//!
//! View lag: with A(t) the number of messages accepted by time t and D(t) the number the view
//! shows delivered at t, the lag at t is how long ago the D(t)-th message was accepted:
//! `t − A⁻¹(D(t))`, the horizontal distance between the two curves. For a view that keeps
//! up it is the end-to-end latency; for one that falls behind it grows.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use serde::Serialize;
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::{
    answers,
    book::{Book, now_us},
    ids::{self, Line},
    latency,
    plan::Priority,
    procs::{Monitor, Watched},
    refused,
    send::{self, SendPlan},
    sim::{self, Ledger},
    stats::Percentiles,
    view::{self, Sampler},
};

/// What the drain phase waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WaitFor {
    /// Every accepted message reads `delivered` (sampled view).
    View,
    /// The carrier has every message of the latency priorities (ledger).
    Submitted,
    /// Nothing: stop when the last answer is in.
    None,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name in the result.
    pub label: String,
    /// What to send.
    pub plan: SendPlan,
    /// Analytics base URL; no view sampling or check without it.
    pub view_url: Option<String>,
    /// Ids probed per bucket per round.
    pub probes: usize,
    /// GETs per tick at most.
    pub probe_budget: usize,
    /// Sampling period.
    pub tick: Duration,
    /// End of the drain phase.
    pub wait_for: WaitFor,
    /// Longest drain phase.
    pub drain_timeout: Duration,
    /// Check every id at the end.
    pub verify: bool,
    /// GETs in flight during the check.
    pub verify_concurrency: usize,
    /// How long ids that are not final yet are checked again.
    pub verify_timeout: Duration,
    /// How long ids still `retrying` then are checked again (when longer).
    pub verify_retrying_timeout: Duration,
    /// Carrier simulator base URL.
    pub sim_url: Option<String>,
    /// Priorities whose accept → submit latency is measured.
    pub latency_priorities: Vec<Priority>,
    /// Processes whose CPU and memory are measured.
    pub watched: Vec<Watched>,
    /// Where to write the ids.
    pub ids_out: Option<PathBuf>,
    /// Where to write the POSTs that did not end in an accepted message.
    pub refused_out: Option<PathBuf>,
    /// Answer-time thresholds, ms: the result counts the POSTs slower than each.
    pub answer_slo_ms: Vec<u64>,
    /// Where to write the time series (CSV).
    pub series_out: Option<PathBuf>,
    /// Progress on stderr every this many ticks (0: never).
    pub progress_every: u32,
}

/// One tick of the time series.
#[derive(Debug, Clone, Serialize)]
struct Point {
    t_s: f64,
    sent: u64,
    accepted: u64,
    failed: u64,
    delivered_est: f64,
    lag_s: Option<f64>,
    cpu_ms: f64,
}

/// The outcome, for the exit status.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Accepted messages.
    pub accepted: u64,
    /// Failed requests.
    pub failed: u64,
    /// Delivered per the check (or the estimate without one).
    pub delivered: u64,
    /// Accepted but not delivered at the end (check only).
    pub lost: Option<u64>,
    /// Duplicate segments at the carrier.
    pub duplicates: Option<u64>,
}

/// Runs and returns the result document.
pub async fn run(
    opts: &Options,
    http: &reqwest::Client,
) -> anyhow::Result<(serde_json::Value, Outcome)> {
    let ledger = opts
        .sim_url
        .as_deref()
        .map(|u| Ledger::new(u, http.clone()));
    let ledger_before = match &ledger {
        Some(l) => Some(l.summary().await?),
        None => None,
    };
    let book = Arc::new(Book::default());
    let mut sampler = opts
        .view_url
        .as_deref()
        .map(|u| Sampler::new(http.clone(), u, opts.probes, opts.probe_budget));
    let mut monitor = Monitor::start(opts.watched.clone());
    let self_cpu0 = crate::procs::read(std::process::id()).ok();

    let started = Instant::now();
    let started_us = now_us();
    let sender = {
        let plan = opts.plan.clone();
        let http = http.clone();
        let book = Arc::clone(&book);
        tokio::spawn(async move { send::run(&plan, &http, &book).await })
    };
    let mut sender = Some(sender);
    let mut send_stats = None;
    let mut load_end: Option<Instant> = None;

    let mut series: Vec<Point> = Vec::new();
    let mut lags: Vec<f64> = Vec::new();
    let mut delivered_max = 0.0f64;
    let mut caught_up_seen = false;
    let mut drained_at: Option<(Instant, u64)> = None;
    let mut pending_latency: Vec<(usize, String)> = Vec::new();
    let mut latency_scanned = 0usize;
    let mut ticker = interval(opts.tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut n = 0u32;
    loop {
        ticker.tick().await;
        n += 1;
        if let Some(s) = &sender
            && s.is_finished()
            && let Some(s) = sender.take()
        {
            send_stats = Some(s.await?);
            load_end = Some(Instant::now());
        }
        let accepted = book.len();
        let delivered = match sampler.as_mut() {
            // `+ 0.0`: an empty f64 sum is -0.0.
            Some(s) => s.tick(&book).await + 0.0,
            None => 0.0,
        };
        delivered_max = delivered_max.max(delivered);
        let now = now_us();
        let d = delivered_max.floor() as usize;
        // Once sending is over and the view has caught up, the lag is measured once (the
        // catch-up point); after that the curves no longer differ.
        let caught_up = load_end.is_some() && d >= accepted;
        let lag_s = if caught_up && caught_up_seen {
            None
        } else {
            d.min(accepted)
                .checked_sub(1)
                .and_then(|i| book.get(i))
                .map(|a| now.saturating_sub(a.accept_us) as f64 / 1e6)
        };
        caught_up_seen |= caught_up;
        let cpu_ms = monitor.tick();
        if drained_at.is_none()
            && let Some(l) = lag_s
        {
            lags.push(l);
        }
        series.push(Point {
            t_s: started.elapsed().as_secs_f64(),
            sent: book.sent.load(std::sync::atomic::Ordering::Relaxed),
            accepted: accepted as u64,
            failed: book.failed.load(std::sync::atomic::Ordering::Relaxed),
            delivered_est: delivered,
            lag_s: if drained_at.is_none() { lag_s } else { None },
            cpu_ms,
        });
        if opts.progress_every > 0 && n.is_multiple_of(opts.progress_every) {
            eprintln!(
                "[loadgen] {} t={:.0}s accepted={} failed={} delivered~{:.0} lag={}",
                opts.label,
                started.elapsed().as_secs_f64(),
                accepted,
                book.failed.load(std::sync::atomic::Ordering::Relaxed),
                delivered,
                lag_s.map_or("-".into(), |l| format!("{l:.1}s")),
            );
        }

        // Submitted-to-carrier tracking for the latency priorities (every other tick).
        if opts.wait_for == WaitFor::Submitted
            && let Some(l) = &ledger
        {
            let len = book.len();
            if len > latency_scanned {
                let fresh = book.pick(&(latency_scanned..len).collect::<Vec<_>>());
                pending_latency.extend(
                    fresh
                        .into_iter()
                        .filter(|(_, a)| opts.latency_priorities.contains(&a.priority))
                        .map(|(i, a)| (i, opts.plan.destinations.number(a.index))),
                );
                latency_scanned = len;
            }
            if n.is_multiple_of(2) && !pending_latency.is_empty() {
                let dests: Vec<String> = pending_latency.iter().map(|(_, d)| d.clone()).collect();
                if let Ok(found) = l.submit_times(&dests).await {
                    pending_latency.retain(|(_, d)| !found.contains_key(d));
                }
            }
        }

        let Some(end) = load_end else { continue };
        if drained_at.is_none() {
            let done = match opts.wait_for {
                WaitFor::View => sampler.as_ref().is_none_or(|s| s.all_done()),
                WaitFor::Submitted => pending_latency.is_empty() && n.is_multiple_of(2),
                WaitFor::None => true,
            };
            if done {
                drained_at = Some((Instant::now(), now));
            }
        }
        if drained_at.is_some() || end.elapsed() >= opts.drain_timeout {
            break;
        }
    }
    let drained = drained_at.is_some();
    let (end_instant, end_us) = drained_at.unwrap_or((Instant::now(), now_us()));
    let (usage, machine_busy) = monitor.finish();
    let self_cpu_ms = match (self_cpu0, crate::procs::read(std::process::id()).ok()) {
        (Some(a), Some(b)) => {
            (b.cpu_ticks - a.cpu_ticks) as f64 * 1000.0 / crate::procs::clock_ticks() as f64
        }
        _ => 0.0,
    };
    let ledger_delta = match (&ledger, ledger_before) {
        (Some(l), Some(b)) => Some(l.summary().await?.since(&b)),
        _ => None,
    };
    let send_stats = send_stats.unwrap_or_default();
    let load_secs = send_stats.secs;
    let accepted_all = book.snapshot();
    let delivered_at_end = delivered_max.round() as u64;

    // Verify.
    let verified = match (&opts.view_url, opts.verify) {
        (Some(u), true) => {
            eprintln!(
                "[loadgen] {} checking {} ids in the view",
                opts.label,
                accepted_all.len()
            );
            Some(
                view::verify(
                    http,
                    u,
                    accepted_all.iter().map(|a| a.id).collect(),
                    opts.verify_concurrency,
                    view::Deadlines::after(opts.verify_timeout, opts.verify_retrying_timeout),
                )
                .await,
            )
        }
        _ => None,
    };

    // Ids and accept latency.
    let lines: Vec<Line> = accepted_all
        .iter()
        .map(|a| Line::of(a, &opts.plan.destinations))
        .collect();
    if let Some(p) = &opts.ids_out {
        ids::write(p, lines.iter().cloned())?;
    }
    if let Some(p) = &opts.refused_out {
        refused::write(
            p,
            book.refused()
                .iter()
                .map(|r| refused::Line::of(r, &opts.plan.destinations)),
        )?;
    }
    let answers = answers::summarize(
        &book.answers(),
        &opts.answer_slo_ms,
        u64::try_from(opts.plan.post_timeout.as_millis()).unwrap_or(u64::MAX),
    );
    eprintln!(
        "[loadgen] {} answers: {} max {:.0} ms p99 {:.0} ms over {} told unknown {}",
        opts.label,
        answers.all.count,
        answers.all.max_ms,
        answers.all.p99_ms,
        answers
            .all
            .over_ms
            .iter()
            .map(|(t, n)| format!("{t} ms: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        answers.told_unknown,
    );
    let mut accept_ms: Vec<f64> = accepted_all
        .iter()
        .map(|a| a.accept_us.saturating_sub(a.intended_us) as f64 / 1000.0)
        .collect();
    let accept_latency = Percentiles::of(&mut accept_ms);
    let mut by_priority: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &accepted_all {
        *by_priority.entry(a.priority.as_str()).or_default() += 1;
    }

    // Accept → submit latency.
    let submit_latency = match &ledger {
        Some(l) if !opts.latency_priorities.is_empty() => {
            let dests: Vec<String> = lines
                .iter()
                .filter(|x| opts.latency_priorities.contains(&x.priority))
                .map(|x| x.to.clone())
                .collect();
            let found = if dests.is_empty() {
                Default::default()
            } else {
                l.submit_times(&dests).await?
            };
            Some(latency::compute(&lines, &opts.latency_priorities, &found))
        }
        _ => None,
    };

    // CPU per message.
    let delivered_for_cpu = if opts.view_url.is_some() {
        delivered_at_end
    } else {
        ledger_delta.map_or(0, |d| d.accepted)
    };
    let total_cpu: f64 = usage.iter().map(|u| u.cpu_ms).sum();
    let per = |ms: f64| {
        if delivered_for_cpu > 0 {
            ms / delivered_for_cpu as f64
        } else {
            0.0
        }
    };
    let procs: Vec<serde_json::Value> = usage
        .iter()
        .map(|u| {
            let mut v = serde_json::to_value(u).unwrap_or_default();
            v["cpu_ms_per_msg"] = json!(per(u.cpu_ms));
            v
        })
        .collect();

    let first_accept = accepted_all
        .iter()
        .map(|a| a.accept_us)
        .min()
        .unwrap_or(started_us);
    let last_delivered_us = match &verified {
        Some(v) if v.lost() == 0 && v.last_delivered_us > 0 => v.last_delivered_us,
        _ => end_us,
    };
    let e2e_secs = last_delivered_us.saturating_sub(first_accept) as f64 / 1e6;
    let delivered_final = verified.as_ref().map_or(delivered_at_end, |v| v.delivered);
    let duplicates = ledger_delta.map(|d| d.duplicate_segments);
    let lost = verified.as_ref().map(|v| v.lost());

    let mut lag_sorted = lags.clone();
    let lag = Percentiles::of(&mut lag_sorted);
    if let Some(p) = &opts.series_out {
        write_series(p, &series)?;
    }
    let failed = book.failed.load(std::sync::atomic::Ordering::Relaxed);
    let result = json!({
        "label": opts.label,
        "started_unix_us": started_us,
        "target_rate": opts.plan.schedule.rate(),
        "duration_s": opts.plan.duration.map(|d| d.as_secs_f64()),
        "count_limit": opts.plan.count,
        "connections": opts.plan.connections,
        "mix": opts.plan.mix.to_string(),
        "destination_base": opts.plan.destinations.base(),
        "sent": send_stats.sent,
        "accepted": accepted_all.len(),
        "accepted_by_priority": by_priority,
        "failed": failed,
        "failures": book.failures(),
        "load_secs": load_secs,
        "accepted_per_sec": if load_secs > 0.0 { accepted_all.len() as f64 / load_secs } else { 0.0 },
        "max_behind_schedule_ms": send_stats.max_behind_schedule_ms,
        "accept_latency_ms": accept_latency,
        "answers": answers,
        "wait_for": format!("{:?}", opts.wait_for).to_lowercase(),
        "drained": drained,
        "drain_secs": load_end.map(|e| end_instant.saturating_duration_since(e).as_secs_f64()),
        "delivered_in_view_est_at_end": delivered_at_end,
        "view_gets_sampling": sampler.as_ref().map(|s| s.gets),
        "view_lag_s": lag,
        "e2e_secs": e2e_secs,
        "delivered_per_sec": if e2e_secs > 0.0 { delivered_final as f64 / e2e_secs } else { 0.0 },
        "verify": verified,
        "delivered": delivered_final,
        "lost": lost,
        "ledger": ledger_delta,
        "duplicates": duplicates,
        "submit_latency": submit_latency,
        "cpu": {
            "window_secs": end_instant.saturating_duration_since(started).as_secs_f64(),
            "messages": delivered_for_cpu,
            "basis": if opts.view_url.is_some() { "delivered in view (estimate at the end of the window)" } else { "submitted (ledger)" },
            "total_ms": total_cpu,
            "total_ms_per_msg": per(total_cpu),
            "processes": procs,
            "machine_busy_share": machine_busy,
            "loadgen_ms": self_cpu_ms,
        },
        "series": series,
    });
    Ok((
        result,
        Outcome {
            accepted: accepted_all.len() as u64,
            failed,
            delivered: delivered_final,
            lost,
            duplicates,
        },
    ))
}

fn write_series(path: &std::path::Path, series: &[Point]) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut s = String::from("t_s,sent,accepted,failed,delivered_est,lag_s,cpu_ms\n");
    for p in series {
        let _ = writeln!(
            s,
            "{:.3},{},{},{},{:.1},{},{:.1}",
            p.t_s,
            p.sent,
            p.accepted,
            p.failed,
            p.delivered_est,
            p.lag_s.map_or(String::new(), |l| format!("{l:.3}")),
            p.cpu_ms
        );
    }
    std::fs::write(path, s)?;
    Ok(())
}

/// Accept → submit latency of the messages in an ids file (the `latency` command).
pub async fn latency_of(
    lines: &[Line],
    which: &[Priority],
    ledger: &Ledger,
) -> anyhow::Result<BTreeMap<String, latency::SubmitLatency>> {
    let dests: Vec<String> = lines
        .iter()
        .filter(|l| which.contains(&l.priority))
        .map(|l| l.to.clone())
        .collect();
    let found: std::collections::HashMap<String, sim::DestinationSubmits> =
        ledger.submit_times(&dests).await?;
    Ok(latency::compute(lines, which, &found))
}
