//! Metrics of the Kafka plumbing. Every metric this crate emits is named here.
//!
//! Labels are topic names (a fixed catalog) and small enums; never ids.

use metrics::{counter, gauge, histogram};

/// `smsflow_kafka_consumed_total{group,topic}`: records taken from Kafka.
pub const CONSUMED: &str = "smsflow_kafka_consumed_total";
/// `smsflow_kafka_processed_total{group,outcome}`: records done (`handled`, `duplicate`, `dead_lettered`).
pub const PROCESSED: &str = "smsflow_kafka_processed_total";
/// `smsflow_kafka_handler_retries_total{group}`: transient failures retried.
pub const RETRIES: &str = "smsflow_kafka_handler_retries_total";
/// `smsflow_kafka_handler_seconds{group}`: time from take to done.
pub const HANDLER_SECONDS: &str = "smsflow_kafka_handler_seconds";
/// `smsflow_kafka_in_flight{group}`: records being processed.
pub const IN_FLIGHT: &str = "smsflow_kafka_in_flight";
/// `smsflow_kafka_produced_total{topic}`: records acknowledged by Kafka.
pub const PRODUCED: &str = "smsflow_kafka_produced_total";
/// `smsflow_kafka_produce_errors_total{topic}`: records Kafka did not acknowledge.
pub const PRODUCE_ERRORS: &str = "smsflow_kafka_produce_errors_total";
/// `smsflow_kafka_dead_lettered_total{group,code}`: records sent to `sms.dlq`.
pub const DEAD_LETTERED: &str = "smsflow_kafka_dead_lettered_total";

pub(crate) fn consumed(group: &str, topic: &str) {
    counter!(CONSUMED, "group" => group.to_owned(), "topic" => topic.to_owned()).increment(1);
}

pub(crate) fn processed(group: &str, outcome: &'static str, seconds: f64) {
    counter!(PROCESSED, "group" => group.to_owned(), "outcome" => outcome).increment(1);
    histogram!(HANDLER_SECONDS, "group" => group.to_owned()).record(seconds);
}

pub(crate) fn retried(group: &str) {
    counter!(RETRIES, "group" => group.to_owned()).increment(1);
}

pub(crate) fn in_flight(group: &str, n: usize) {
    gauge!(IN_FLIGHT, "group" => group.to_owned()).set(n as f64);
}

pub(crate) fn produced(topic: &str, ok: bool) {
    let name = if ok { PRODUCED } else { PRODUCE_ERRORS };
    counter!(name, "topic" => topic.to_owned()).increment(1);
}

pub(crate) fn dead_lettered(group: &str, code: &'static str) {
    counter!(DEAD_LETTERED, "group" => group.to_owned(), "code" => code).increment(1);
}
