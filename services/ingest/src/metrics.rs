//! Ingest metrics. Labels: small fixed sets (lane, error code).

use metrics::{counter, histogram};

/// `smsflow_ingest_accepted_total{lane}`: requests accepted (202).
pub const ACCEPTED: &str = "smsflow_ingest_accepted_total";
/// `smsflow_ingest_rejected_total{code}`: requests refused, by error code.
pub const REJECTED: &str = "smsflow_ingest_rejected_total";
/// `smsflow_ingest_publish_seconds`: time until Kafka acknowledged the request.
pub const PUBLISH_SECONDS: &str = "smsflow_ingest_publish_seconds";

pub(crate) fn accepted(lane: smsflow_events::Lane, publish_seconds: f64) {
    counter!(ACCEPTED, "lane" => lane.as_str()).increment(1);
    histogram!(PUBLISH_SECONDS).record(publish_seconds);
}

pub(crate) fn rejected(code: &'static str) {
    counter!(REJECTED, "code" => code).increment(1);
}
