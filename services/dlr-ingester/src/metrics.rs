//! dlr-ingester metrics.

use metrics::{counter, gauge};

/// `smsflow_dlr_ingester_receipts_total{outcome}`: `correlated`,
/// `waited` (came before its submit and waited for it), `parked`, `replayed` (by the sweep),
/// `duplicate`, `reemitted`.
pub const RECEIPTS: &str = "smsflow_dlr_ingester_receipts_total";

pub(crate) fn receipt(outcome: &'static str) {
    counter!(RECEIPTS, "outcome" => outcome).increment(1);
}

/// `smsflow_dlr_ingester_correlation_cache_total{result}`: receipts correlated from memory
/// (`hit`) or looked up in the store (`miss`).
pub const CORRELATION_CACHE: &str = "smsflow_dlr_ingester_correlation_cache_total";

pub(crate) fn cache(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    counter!(CORRELATION_CACHE, "result" => result).increment(1);
}

/// `smsflow_dlr_ingester_parked_receipts`: receipts still parked after the last sweep (their
/// submit is not recorded: late, or an id nobody gave).
pub const PARKED: &str = "smsflow_dlr_ingester_parked_receipts";

pub(crate) fn parked(n: usize) {
    gauge!(PARKED).set(n as f64);
}

/// `smsflow_dlr_ingester_deadlines_total{outcome}`: submits checked at their receipt timeout:
/// `settled` (every segment final) or `timed_out` (the message ended `expired`,
/// `RECEIPT_TIMEOUT`).
pub const DEADLINES: &str = "smsflow_dlr_ingester_deadlines_total";

pub(crate) fn deadline(outcome: &'static str) {
    counter!(DEADLINES, "outcome" => outcome).increment(1);
}

/// `smsflow_dlr_ingester_consent_changes_total{status}`: keywords that changed a consent
/// (`opted_out`, `opted_in`).
pub const CONSENT_CHANGES: &str = "smsflow_dlr_ingester_consent_changes_total";

pub(crate) fn consent_changed(opted_out: bool) {
    let status = if opted_out { "opted_out" } else { "opted_in" };
    counter!(CONSENT_CHANGES, "status" => status).increment(1);
}

/// `smsflow_dlr_ingester_inbound_parts_total{outcome}`: parts of long inbound messages:
/// `kept` (waiting for the rest), `completed` (the message was published whole),
/// `duplicate` (a carrier's second copy of a kept part, ignored).
pub const INBOUND_PARTS: &str = "smsflow_dlr_ingester_inbound_parts_total";

pub(crate) fn inbound_part(outcome: &'static str) {
    counter!(INBOUND_PARTS, "outcome" => outcome).increment(1);
}
