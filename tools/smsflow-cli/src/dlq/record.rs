//! One record read from the dead-letter topic, and what its `smsflow.dlq.*` headers say about
//! where it came from and why it died (written by `smsflow_kafka::dlq::send`, and by the
//! dispatcher for raw SMPP data).

use std::fmt;

use chrono::{DateTime, Utc};
use rdkafka::Timestamp;
use rdkafka::message::{Headers as _, Message};
use smsflow_kafka::headers;

use super::position::Position;

/// Record headers in order, as read (a value may be absent or not UTF-8).
pub type Headers = Vec<(String, Option<Vec<u8>>)>;

/// What `smsflow.dlq.topic` of a dead letter names as its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A Kafka record (it can be redriven): its topic and, when the headers say, partition and
    /// offset.
    Kafka {
        /// Topic, the deployment's prefix included.
        topic: String,
        /// Partition it had.
        partition: Option<i32>,
        /// Offset it had.
        offset: Option<i64>,
    },
    /// Raw data a carrier sent over SMPP (`smpp:<carrier>`): an unreadable receipt, an MO
    /// from a sender that is not a number. Never a Kafka record, so never redriven.
    Smpp {
        /// Carrier id.
        carrier: String,
    },
    /// A value that is no Kafka topic name.
    NotATopic(String),
    /// No `smsflow.dlq.topic` header.
    Unknown,
}

/// Whether `s` can be a Kafka topic name (1 to 249 of `a-z A-Z 0-9 . _ -`).
pub fn is_topic_name(s: &str) -> bool {
    (1..=249).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Origin {
    /// Reads the origin from a dead letter's headers.
    pub fn of(topic: Option<&str>, partition: Option<&str>, offset: Option<&str>) -> Self {
        match topic {
            None => Origin::Unknown,
            Some(t) => match t.strip_prefix("smpp:") {
                Some(carrier) => Origin::Smpp {
                    carrier: carrier.to_owned(),
                },
                None if is_topic_name(t) => Origin::Kafka {
                    topic: t.to_owned(),
                    partition: partition.and_then(|p| p.parse().ok()),
                    offset: offset.and_then(|o| o.parse().ok()),
                },
                None => Origin::NotATopic(t.to_owned()),
            },
        }
    }
}

impl fmt::Display for Origin {
    /// `topic-partition@offset` (Kafka's usual notation), `smpp:<carrier>`, or `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Kafka {
                topic,
                partition,
                offset,
            } => {
                f.write_str(topic)?;
                if let Some(p) = partition {
                    write!(f, "-{p}")?;
                }
                if let Some(o) = offset {
                    write!(f, "@{o}")?;
                }
                Ok(())
            }
            Origin::Smpp { carrier } => write!(f, "smpp:{carrier}"),
            Origin::NotATopic(t) => f.write_str(t),
            Origin::Unknown => f.write_str("-"),
        }
    }
}

/// A dead letter as read from the dead-letter topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadRecord {
    /// Where it is in the dead-letter topic.
    pub position: Position,
    /// When it was dead-lettered (the record's timestamp), if the broker gave one.
    pub timestamp: Option<DateTime<Utc>>,
    /// The original record's key (most topics: the destination number; never print it in
    /// clear without `--reveal`).
    pub key: Option<Vec<u8>>,
    /// The original record's bytes (for SMPP dead letters, what the carrier sent).
    pub payload: Option<Vec<u8>>,
    /// The original headers, then the `smsflow.dlq.*` ones.
    pub headers: Headers,
}

impl DeadRecord {
    /// Copies a record read from the dead-letter topic.
    pub fn from_message(m: &impl Message) -> Self {
        let timestamp = match m.timestamp() {
            Timestamp::CreateTime(ms) | Timestamp::LogAppendTime(ms) => {
                DateTime::from_timestamp_millis(ms)
            }
            Timestamp::NotAvailable => None,
        };
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            position: Position {
                partition: m.partition(),
                offset: m.offset(),
            },
            timestamp,
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec),
            headers,
        }
    }

    /// The value of header `name` as UTF-8. The last one wins: a record dead-lettered twice
    /// carries the newest details last.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| std::str::from_utf8(v.as_deref()?).ok())
    }

    /// Where the record came from.
    pub fn origin(&self) -> Origin {
        Origin::of(
            self.header(headers::DLQ_TOPIC),
            self.header(headers::DLQ_PARTITION),
            self.header(headers::DLQ_OFFSET),
        )
    }

    /// The stable error code (`smsflow.dlq.error.code`).
    pub fn code(&self) -> Option<&str> {
        self.header(headers::DLQ_ERROR_CODE)
    }

    /// The error text (`smsflow.dlq.error`); it may quote the record, so mask it for display.
    pub fn reason(&self) -> Option<&str> {
        self.header(headers::DLQ_ERROR)
    }

    /// The service (consumer group) that gave up (`smsflow.dlq.service`).
    pub fn service(&self) -> Option<&str> {
        self.header(headers::DLQ_SERVICE)
    }

    /// The event type, when the original record said (`smsflow.event.type`).
    pub fn event_type(&self) -> Option<&str> {
        self.header(headers::EVENT_TYPE)
    }

    /// The event id, when the original record said (`smsflow.event.id`).
    pub fn event_id(&self) -> Option<&str> {
        self.header(headers::EVENT_ID)
    }

    /// The payload, or no bytes.
    pub fn bytes(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A dead letter at `p:o` with `headers` (name, value), key `+447700900123`, payload `abc`.
    pub(crate) fn dead(p: i32, o: i64, headers: &[(&str, &str)]) -> DeadRecord {
        DeadRecord {
            position: Position {
                partition: p,
                offset: o,
            },
            timestamp: DateTime::from_timestamp_millis(1_765_000_000_000),
            key: Some(b"+447700900123".to_vec()),
            payload: Some(b"abc".to_vec()),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Some(v.as_bytes().to_vec())))
                .collect(),
        }
    }

    #[test]
    fn origin_from_the_headers() {
        let r = dead(
            0,
            1,
            &[
                (headers::DLQ_TOPIC, "staging.sms.requests"),
                (headers::DLQ_PARTITION, "3"),
                (headers::DLQ_OFFSET, "1042"),
            ],
        );
        assert_eq!(
            r.origin(),
            Origin::Kafka {
                topic: "staging.sms.requests".into(),
                partition: Some(3),
                offset: Some(1042)
            }
        );
        assert_eq!(r.origin().to_string(), "staging.sms.requests-3@1042");

        let smpp = dead(0, 2, &[(headers::DLQ_TOPIC, "smpp:sim")]);
        assert_eq!(
            smpp.origin(),
            Origin::Smpp {
                carrier: "sim".into()
            }
        );
        assert_eq!(smpp.origin().to_string(), "smpp:sim");
        assert_eq!(dead(0, 3, &[]).origin(), Origin::Unknown);
        assert_eq!(
            dead(0, 4, &[(headers::DLQ_TOPIC, "no such/topic")]).origin(),
            Origin::NotATopic("no such/topic".into())
        );
    }

    #[test]
    fn the_last_header_of_a_name_wins() {
        let r = dead(
            0,
            1,
            &[
                (headers::DLQ_ERROR_CODE, "OLD"),
                (headers::DLQ_ERROR_CODE, "NEW"),
            ],
        );
        assert_eq!(r.code(), Some("NEW"));
        assert_eq!(r.reason(), None);
    }

    #[test]
    fn topic_names() {
        assert!(is_topic_name("t-1-2-ab.sms.dlr.raw"));
        assert!(!is_topic_name(""));
        assert!(!is_topic_name("smpp:sim"));
        assert!(!is_topic_name(&"a".repeat(250)));
    }
}
