//! The dead-letter topic: a record that can never be processed is copied to `sms.dlq` with
//! its original key and bytes, and headers saying where it came from and why, so the
//! partition moves on and nothing disappears.

use rdkafka::message::{Headers, OwnedHeaders};

use crate::error::KafkaError;
use crate::headers;
use crate::producer::{EventProducer, Stored};

/// Where a dead record came from and why it died.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Stable error code.
    pub code: &'static str,
    /// Error text.
    pub reason: &'a str,
    /// Service / consumer group that gave up.
    pub service: &'a str,
}

/// Copies the record to `dlq_topic`, keeping its key, payload and original headers.
pub async fn send(
    producer: &EventProducer,
    dlq_topic: &str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    original: Option<&OwnedHeaders>,
    dead: &DeadLetter<'_>,
) -> Result<Stored, KafkaError> {
    let mut h = OwnedHeaders::new();
    if let Some(orig) = original {
        for hd in orig.iter() {
            h = h.insert(rdkafka::message::Header {
                key: hd.key,
                value: hd.value,
            });
        }
    }
    let h = headers::with(h, headers::DLQ_TOPIC, dead.topic);
    let h = headers::with(h, headers::DLQ_PARTITION, &dead.partition.to_string());
    let h = headers::with(h, headers::DLQ_OFFSET, &dead.offset.to_string());
    let h = headers::with(h, headers::DLQ_ERROR_CODE, dead.code);
    let h = headers::with(h, headers::DLQ_ERROR, dead.reason);
    let h = headers::with(h, headers::DLQ_SERVICE, dead.service);
    producer
        .send_raw(dlq_topic, key, payload.unwrap_or_default(), h)
        .await
}
