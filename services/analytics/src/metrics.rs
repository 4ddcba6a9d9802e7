//! Analytics metrics.

use metrics::counter;

/// `smsflow_analytics_events_applied_total{event}`: events applied to the views, by type.
pub const APPLIED: &str = "smsflow_analytics_events_applied_total";

pub(crate) fn applied(event: &'static str) {
    counter!(APPLIED, "event" => event).increment(1);
}
