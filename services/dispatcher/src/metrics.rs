//! Dispatcher metrics. Labels: carrier (configured ids), outcome, kind (small fixed sets).

use std::time::Duration;

use metrics::{counter, histogram};
use smsflow_events::Lane;

/// `smsflow_dispatcher_attempts_total{carrier,outcome}`: `submitted`, `not_sent`, or a failure class.
pub const ATTEMPTS: &str = "smsflow_dispatcher_attempts_total";
/// `smsflow_dispatcher_submit_seconds{carrier,lane}`: time to get every part of a message
/// answered, from queueing them on the SMPP link.
pub const SUBMIT_SECONDS: &str = "smsflow_dispatcher_submit_seconds";
/// `smsflow_dispatcher_ambiguous_resubmits_total{carrier}`: submits that may duplicate an
/// earlier one whose outcome was unknown (flagged `ambiguous` on `AttemptSubmitted`).
pub const AMBIGUOUS: &str = "smsflow_dispatcher_ambiguous_resubmits_total";
/// `smsflow_dispatcher_inbound_total{carrier,kind}`: receipts and MO messages from the binds.
pub const INBOUND: &str = "smsflow_dispatcher_inbound_total";
/// `smsflow_dispatcher_inbound_deferred_total{kind}`: deliver_sm answered ESME_RX_T_APPN because
/// Kafka did not acknowledge their event (the carrier delivers them again).
pub const INBOUND_DEFERRED: &str = "smsflow_dispatcher_inbound_deferred_total";

/// `smsflow_dispatcher_history_total{outcome}`: `read` (a decision's attempt history was read)
/// or `skipped` (a fresh first attempt, see `fresh`).
pub const HISTORY: &str = "smsflow_dispatcher_history_total";

/// `smsflow_dispatcher_write_ahead_seconds{lane}`: time until Kafka acknowledged an attempt's
/// `AttemptStarted` (before its first byte goes to the carrier).
pub const WRITE_AHEAD_SECONDS: &str = "smsflow_dispatcher_write_ahead_seconds";

/// `smsflow_dispatcher_lease_events_total{event}`: partition leases `claimed`, `waited` (another
/// instance held it), `lost` (a renewal not applied), `released`.
pub const LEASE_EVENTS: &str = "smsflow_dispatcher_lease_events_total";

pub(crate) fn lease(event: &'static str) {
    counter!(LEASE_EVENTS, "event" => event).increment(1);
}

/// `smsflow_dispatcher_unknown_awaited_total`: redeliveries that found an attempt STARTED by
/// an instance that may still record its outcome, and waited for it (ADR 12, decision 10).
pub const UNKNOWN_AWAITED: &str = "smsflow_dispatcher_unknown_awaited_total";

pub(crate) fn awaited() {
    counter!(UNKNOWN_AWAITED).increment(1);
}

/// `smsflow_dispatcher_carrier_down_total{carrier}`: decisions not attempted because their
/// carrier had no bind or an open breaker (failed over, or parked on a retry tier).
pub const CARRIER_DOWN: &str = "smsflow_dispatcher_carrier_down_total";

pub(crate) fn carrier_down(carrier: &str) {
    counter!(CARRIER_DOWN, "carrier" => carrier.to_owned()).increment(1);
}

/// `smsflow_dispatcher_slot_wait_seconds{lane}`: time an attempt waited for its carrier's
/// window slots before its write-ahead (`slots`).
pub const SLOT_WAIT_SECONDS: &str = "smsflow_dispatcher_slot_wait_seconds";

pub(crate) fn slot_wait(lane: Lane, took: Duration) {
    histogram!(SLOT_WAIT_SECONDS, "lane" => lane.as_str()).record(took.as_secs_f64());
}

pub(crate) fn write_ahead(lane: Lane, took: Duration) {
    histogram!(WRITE_AHEAD_SECONDS, "lane" => lane.as_str()).record(took.as_secs_f64());
}

pub(crate) fn history(outcome: &'static str) {
    counter!(HISTORY, "outcome" => outcome).increment(1);
}

pub(crate) fn attempt(carrier: &str, outcome: &'static str) {
    counter!(ATTEMPTS, "carrier" => carrier.to_owned(), "outcome" => outcome).increment(1);
}

pub(crate) fn submit_seconds(carrier: &str, lane: Lane, took: Duration) {
    histogram!(SUBMIT_SECONDS, "carrier" => carrier.to_owned(), "lane" => lane.as_str())
        .record(took.as_secs_f64());
}

pub(crate) fn inbound(carrier: &str, kind: &'static str) {
    counter!(INBOUND, "carrier" => carrier.to_owned(), "kind" => kind).increment(1);
}

pub(crate) fn inbound_deferred(kind: &'static str) {
    counter!(INBOUND_DEFERRED, "kind" => kind).increment(1);
}

pub(crate) fn ambiguous(carrier: &str) {
    counter!(AMBIGUOUS, "carrier" => carrier.to_owned()).increment(1);
}
