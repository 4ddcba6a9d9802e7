//! dlr-ingester metrics.

use metrics::counter;

/// `smsflow_dlr_ingester_receipts_total{outcome}`: `correlated`, `parked`, `replayed`, `duplicate`, `reemitted`.
pub const RECEIPTS: &str = "smsflow_dlr_ingester_receipts_total";

pub(crate) fn receipt(outcome: &'static str) {
    counter!(RECEIPTS, "outcome" => outcome).increment(1);
}
