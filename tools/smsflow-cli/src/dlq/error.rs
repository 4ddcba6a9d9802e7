//! What can go wrong reading the dead-letter topic, each said so an operator knows what to do.

use super::position::Position;

/// A failure of a `dlq` command.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// No broker answered a metadata request.
    #[error(
        "kafka at {servers} did not answer within {secs} s ({cause}); check \
         kafka.bootstrap_servers and the security settings"
    )]
    Unreachable {
        /// `bootstrap.servers`.
        servers: String,
        /// How long we waited.
        secs: u64,
        /// librdkafka's error (in the message, not a source: said once).
        cause: rdkafka::error::KafkaError,
    },
    /// The dead-letter topic (or a redrive target) does not exist.
    #[error("topic {0} does not exist (check kafka.topic_prefix, or run `smsflow admin setup`)")]
    NoSuchTopic(String),
    /// `dlq show` named a partition the topic does not have.
    #[error("{topic} has no partition {partition}: it has {count} (0 to {last})", last = count - 1)]
    NoSuchPartition {
        /// Dead-letter topic.
        topic: String,
        /// Partition asked for.
        partition: i32,
        /// Partitions it has.
        count: i32,
    },
    /// `dlq show` named an offset the partition does not hold (never written, or deleted by
    /// retention).
    #[error("{topic} has no record at {position}: partition {} holds {}", position.partition, holds(*low, *high))]
    OffsetNotFound {
        /// Dead-letter topic.
        topic: String,
        /// Position asked for.
        position: Position,
        /// Lowest offset still held.
        low: i64,
        /// Next offset to be written.
        high: i64,
    },
    /// Records that exist did not arrive: the broker went away mid-read.
    #[error(
        "reading {topic}: nothing arrived for {secs} s from partitions {partitions:?}, which \
         hold more records; is the broker reachable?"
    )]
    Stalled {
        /// Dead-letter topic.
        topic: String,
        /// How long nothing came.
        secs: u64,
        /// Partitions not read to their end.
        partitions: Vec<i32>,
    },
    /// Any other Kafka failure.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

fn holds(low: i64, high: i64) -> String {
    if low >= high {
        format!("no records (its next offset is {high})")
    } else {
        format!("offsets {low} to {}", high - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_errors_say_what_the_partition_holds() {
        let e = DlqError::OffsetNotFound {
            topic: "sms.dlq".into(),
            position: Position {
                partition: 2,
                offset: 99,
            },
            low: 10,
            high: 20,
        };
        assert_eq!(
            e.to_string(),
            "sms.dlq has no record at 2:99: partition 2 holds offsets 10 to 19"
        );
        let e = DlqError::OffsetNotFound {
            topic: "sms.dlq".into(),
            position: Position {
                partition: 0,
                offset: 0,
            },
            low: 5,
            high: 5,
        };
        assert!(
            e.to_string()
                .ends_with("holds no records (its next offset is 5)")
        );
        let e = DlqError::NoSuchPartition {
            topic: "sms.dlq".into(),
            partition: 7,
            count: 6,
        };
        assert_eq!(
            e.to_string(),
            "sms.dlq has no partition 7: it has 6 (0 to 5)"
        );
    }
}
