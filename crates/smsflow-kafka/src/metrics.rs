//! Metrics of the Kafka plumbing. Every metric this crate emits is named here.
//!
//! Labels are topic names (a fixed catalog) and small enums; never ids.

use std::collections::HashMap;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

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
/// `smsflow_kafka_held{group}`: records of delay topics read before they were due, waiting
/// with their partition paused.
pub const HELD: &str = "smsflow_kafka_held";
/// `smsflow_kafka_produced_total{topic}`: records acknowledged by Kafka.
pub const PRODUCED: &str = "smsflow_kafka_produced_total";
/// `smsflow_kafka_produce_errors_total{topic}`: records Kafka did not acknowledge.
pub const PRODUCE_ERRORS: &str = "smsflow_kafka_produce_errors_total";
/// `smsflow_kafka_dead_lettered_total{group,code}`: records sent to `sms.dlq`.
pub const DEAD_LETTERED: &str = "smsflow_kafka_dead_lettered_total";
/// `smsflow_kafka_table_records_total{topic,outcome}`: records of a followed compacted topic
/// applied to its local table (`applied`) or skipped as unreadable (`skipped`).
pub const TABLE_RECORDS: &str = "smsflow_kafka_table_records_total";

/// The metric handles of one consumer, registered once: the per-record path only bumps
/// atomics (no label strings built per record).
pub(crate) struct ConsumerMetrics {
    consumed: HashMap<String, Counter>,
    /// `processed` by outcome label: handled, duplicate, dead_lettered, abandoned.
    processed: [Counter; 4],
    seconds: Histogram,
    retries: Counter,
    in_flight: Gauge,
    held: Gauge,
}

/// Outcome labels, in the order of [`ConsumerMetrics::processed`].
pub(crate) const OUTCOMES: [&str; 4] = ["handled", "duplicate", "dead_lettered", "abandoned"];

impl ConsumerMetrics {
    pub(crate) fn new(group: &str, topics: &[String]) -> Self {
        let g = || group.to_owned();
        Self {
            consumed: topics
                .iter()
                .map(|t| {
                    (
                        t.clone(),
                        counter!(CONSUMED, "group" => g(), "topic" => t.clone()),
                    )
                })
                .collect(),
            processed: OUTCOMES.map(|o| counter!(PROCESSED, "group" => g(), "outcome" => o)),
            seconds: histogram!(HANDLER_SECONDS, "group" => g()),
            retries: counter!(RETRIES, "group" => g()),
            in_flight: gauge!(IN_FLIGHT, "group" => g()),
            held: gauge!(HELD, "group" => g()),
        }
    }

    pub(crate) fn consumed(&self, topic: &str) {
        if let Some(c) = self.consumed.get(topic) {
            c.increment(1);
        }
    }

    /// `outcome` indexes [`OUTCOMES`].
    pub(crate) fn processed(&self, outcome: usize, seconds: f64) {
        self.processed[outcome.min(OUTCOMES.len() - 1)].increment(1);
        self.seconds.record(seconds);
    }

    pub(crate) fn retried(&self) {
        self.retries.increment(1);
    }

    pub(crate) fn in_flight(&self, n: usize) {
        self.in_flight.set(n as f64);
    }

    pub(crate) fn held(&self, n: usize) {
        self.held.set(n as f64);
    }
}

pub(crate) fn produced(topic: &str, ok: bool) {
    let name = if ok { PRODUCED } else { PRODUCE_ERRORS };
    counter!(name, "topic" => topic.to_owned()).increment(1);
}

pub(crate) fn dead_lettered(group: &str, code: &'static str) {
    counter!(DEAD_LETTERED, "group" => group.to_owned(), "code" => code).increment(1);
}

pub(crate) fn table_applied(topic: &str) {
    counter!(TABLE_RECORDS, "topic" => topic.to_owned(), "outcome" => "applied").increment(1);
}

pub(crate) fn table_skipped(topic: &str) {
    counter!(TABLE_RECORDS, "topic" => topic.to_owned(), "outcome" => "skipped").increment(1);
}
