//! Analytics metrics.

use metrics::{counter, histogram};

/// `smsflow_analytics_events_applied_total{event}`: events applied to the views, by type.
pub const APPLIED: &str = "smsflow_analytics_events_applied_total";
/// `smsflow_analytics_flush_events`: events written by one flush of the view writer.
pub const FLUSH_EVENTS: &str = "smsflow_analytics_flush_events";
/// `smsflow_analytics_flush_messages`: messages (one row mutation each) of one flush.
pub const FLUSH_MESSAGES: &str = "smsflow_analytics_flush_messages";

/// `smsflow_analytics_view_requests_total`: store requests (batches of one or more messages)
/// the view writer made.
pub const VIEW_REQUESTS: &str = "smsflow_analytics_view_requests_total";

pub(crate) fn view_request() {
    counter!(VIEW_REQUESTS).increment(1);
}

/// `smsflow_analytics_split_requests_total`: view requests of several messages the store
/// refused, written again message by message.
pub const SPLIT_REQUESTS: &str = "smsflow_analytics_split_requests_total";

pub(crate) fn split_request() {
    counter!(SPLIT_REQUESTS).increment(1);
}

pub(crate) fn applied(event: &'static str) {
    counter!(APPLIED, "event" => event).increment(1);
}

pub(crate) fn flushed(events: usize, messages: usize) {
    histogram!(FLUSH_EVENTS).record(events as f64);
    histogram!(FLUSH_MESSAGES).record(messages as f64);
}
