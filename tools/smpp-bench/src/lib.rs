//! smpp-bench: throughput and latency of the smsflow SMPP client against the carrier
//! simulator, both in this process, on loopback; and of the simulator alone under a raw
//! pipelined load. It measures and reports; it asserts nothing about time.
//!
//! Module map:
//! - [`client_run`] — one client run (one window size): concurrent `submit` calls, latency
//!   per call, messages per second, warm-up excluded.
//! - [`raw_load`] — minimal codec-level load generator (pre-encoded submit_sm, pipelined on
//!   several connections) to measure what the simulator sustains by itself.
//! - [`stats`] — latency percentiles.
//! - [`machine`] — cores, CPU, rustc version, build profile, UTC date.
//! - [`report`] — the Markdown report.

pub mod client_run;
pub mod machine;
pub mod raw_load;
pub mod report;
pub mod stats;
