//! # smsflow-kafka: the Kafka plumbing every service shares
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`KafkaConfig`]: brokers, security, topic prefix, schema registry URL |
//! | [`producer`] | [`EventProducer`]: idempotent `acks=all` producer of Confluent-framed events |
//! | [`consumer`] | the consumer loop: decode, dedupe, [`Handler`], outputs, commit-after-ack |
//! | [`offsets`] | per-partition offset tracking for concurrent processing (internal) |
//! | `due` | records of delay topics held, their partition paused, until due (internal) |
//! | `retry` | retry waits: jittered backoff, all woken when a failed record goes through (internal) |
//! | [`dedupe`] | the [`Dedupe`] hook (the durable one is in `smsflow-store`) |
//! | [`dlq`] | dead-lettering to `sms.dlq` with origin and error headers |
//! | [`headers`] | header names, W3C `traceparent` propagation |
//! | [`table`] | a compacted topic followed into a local table, with a caught-up signal |
//! | [`admin`] | topic creation from the catalog, describe, ping |
//! | [`metrics`] | every metric this crate emits |
//! | [`error`] | [`KafkaError`], and [`HandlerError`] (retry vs dead-letter) |

pub mod admin;
pub mod config;
pub mod consumer;
pub mod dedupe;
pub mod dlq;
mod due;
pub mod error;
pub mod headers;
pub mod metrics;
mod offsets;
pub mod producer;
mod retry;
pub mod table;

pub use config::KafkaConfig;
pub use consumer::{ConsumerOptions, ConsumerParts, Fetch, Finished, Handler, Incoming, Outcome};
pub use dedupe::{Dedupe, NoDedupe};
pub use error::{HandlerError, KafkaError};
pub use producer::{
    BATCH_LINGER, ByPriority, EventProducer, LaneProducers, Outgoing, PROMPT_LINGER, Stored,
};
