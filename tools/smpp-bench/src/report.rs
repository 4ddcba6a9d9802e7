//! The Markdown report.

use std::fmt::Write as _;

use crate::client_run::ClientRunResult;
use crate::machine::MachineInfo;
use crate::raw_load::RawLoadResult;

fn ms(d: std::time::Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Renders the report.
pub fn render(
    machine: &MachineInfo,
    runs: &[ClientRunResult],
    raw: Option<&RawLoadResult>,
    command: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# SMPP client benchmark — {}\n", machine.date);
    let _ = writeln!(
        out,
        "Produced by `tools/smpp-bench` (`{command}`). The harness measures and reports; it asserts nothing about time.\n"
    );
    let _ = writeln!(out, "## Machine and build\n");
    let _ = writeln!(out, "| item | value |\n| --- | --- |");
    let _ = writeln!(out, "| date | {} |", machine.timestamp);
    let _ = writeln!(
        out,
        "| cores (available to the process) | {} |",
        machine.cores
    );
    let _ = writeln!(out, "| CPU | {} |", machine.cpu);
    let _ = writeln!(out, "| OS | {} |", machine.os);
    let _ = writeln!(out, "| rustc | {} |", machine.rustc);
    let _ = writeln!(out, "| build profile | {} |", machine.profile);
    let _ = writeln!(
        out,
        "| load average at start (1/5/15 min) | {} |",
        machine.load_average
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "## Setup\n");
    let _ = writeln!(
        out,
        "- Simulator (`carrier-sim`) and client run in this one process, on one tokio multi-thread runtime, over loopback TCP: they share the cores above.\n\
         - Simulator scenario: submit latency 0, no TPS cap, no failures; the client asks for no receipts (`registered_delivery` 0), so only the submit path is measured.\n\
         - Each message is one GSM-7 segment, distinct destination, submitted with `SmppClient::submit` (segmentation and PDU building included). Latency is from the call to its result.\n\
         - Warm-up messages are sent first on the same connection and excluded."
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "## Client → simulator\n");
    let _ = writeln!(
        out,
        "| window | sessions | concurrent callers | measured messages | elapsed (s) | messages/s | p50 (ms) | p99 (ms) | max (ms) | not accepted | ledger accepted | ledger duplicates |"
    );
    let _ = writeln!(
        out,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.config.window,
            r.config.sessions,
            r.config.concurrency,
            r.config.messages,
            r.elapsed.as_secs_f64(),
            r.rate,
            ms(r.latency.p50),
            ms(r.latency.p99),
            ms(r.latency.max),
            r.failures,
            r.ledger.accepted,
            r.ledger.duplicate_segments,
        );
    }
    let _ = writeln!(out);
    if let Some(raw) = raw {
        let _ = writeln!(out, "## Simulator alone (raw pipelined load)\n");
        let _ = writeln!(
            out,
            "A minimal load generator (one pre-encoded submit_sm patched per message, responses counted by header) keeps {} submit_sm outstanding on each of {} connections; warm-up {:.1} s, measured {:.1} s.\n",
            raw.config.pipeline,
            raw.config.connections,
            raw.config.warmup.as_secs_f64(),
            raw.config.duration.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| connections | pipeline | measured responses | submits/s | error responses | ledger submits | ledger duplicates |"
        );
        let _ = writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {} |",
            raw.config.connections,
            raw.config.pipeline,
            raw.responses,
            raw.rate,
            raw.errors,
            raw.ledger.submits_received,
            raw.ledger.duplicate_segments
        );
        let _ = writeln!(out);
        let verdict = if raw.rate >= 20_000.0 {
            "reaches the 20,000 submits/s target"
        } else {
            "does NOT reach the 20,000 submits/s target"
        };
        let _ = writeln!(
            out,
            "The simulator {verdict} on this machine ({:.0} submits/s).\n",
            raw.rate
        );
    }
    out
}
