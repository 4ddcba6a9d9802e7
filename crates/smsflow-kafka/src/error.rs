//! Errors of the Kafka plumbing, and the class a handler gives its failures.

use thiserror::Error;

/// A Kafka or codec failure.
#[derive(Debug, Error)]
pub enum KafkaError {
    /// librdkafka refused a configuration or call.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Encoding an event failed.
    #[error(transparent)]
    Encode(#[from] smsflow_events::EncodeError),
    /// A produce was not acknowledged.
    #[error("produce to {topic} not acknowledged: {source}")]
    NotAcknowledged {
        /// Topic.
        topic: String,
        /// librdkafka error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// Creating or describing topics failed.
    #[error("topic admin: {0}")]
    Admin(String),
    /// A consumer running on another runtime ended without a result (it panicked, or that
    /// runtime was shut down under it).
    #[error("consumer {group} ended abruptly: {reason}")]
    Aborted {
        /// Consumer group.
        group: String,
        /// The task's join error.
        reason: String,
    },
}

/// How a handler failed, which decides what the consumer loop does next.
#[derive(Clone, Debug, Error)]
pub enum HandlerError {
    /// A dependency is unavailable (store down, registry down): retry the same event later,
    /// without committing past it.
    #[error("transient: {0}")]
    Retry(String),
    /// The event can never be processed: send it to the dead-letter topic with this reason
    /// and move on.
    #[error("dead letter ({code}): {reason}")]
    DeadLetter {
        /// Stable code for the `smsflow.dlq.error.code` header.
        code: &'static str,
        /// Human-readable reason.
        reason: String,
    },
    /// This instance may no longer handle the record (its partition went to another owner):
    /// give it up without storing its offset, and without retrying; the partition's owner
    /// reads it. Only for a record of a revoked partition: on a partition still owned, its
    /// position could never pass the record.
    #[error("given up: {0}")]
    Abandon(String),
}

impl HandlerError {
    /// A dead-letter error.
    pub fn dead_letter(code: &'static str, reason: impl Into<String>) -> Self {
        HandlerError::DeadLetter {
            code,
            reason: reason.into(),
        }
    }

    /// A transient error.
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        HandlerError::Retry(reason.to_string())
    }
}
