//! Router metrics. Labels: lane, outcome, reason code (small fixed sets).

use metrics::counter;

/// `smsflow_router_decisions_total{lane,outcome}`: `routed` or `rejected`.
pub const DECISIONS: &str = "smsflow_router_decisions_total";
/// `smsflow_router_rejections_total{reason}`: rejections by reason code.
pub const REJECTIONS: &str = "smsflow_router_rejections_total";

pub(crate) fn routed(lane: smsflow_events::Lane) {
    counter!(DECISIONS, "lane" => lane.as_str(), "outcome" => "routed").increment(1);
}

pub(crate) fn rejected(lane: smsflow_events::Lane, reason: &str) {
    counter!(DECISIONS, "lane" => lane.as_str(), "outcome" => "rejected").increment(1);
    counter!(REJECTIONS, "reason" => reason.to_owned()).increment(1);
}
