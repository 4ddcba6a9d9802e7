//! [`EventProducer`]: the idempotent producer every service writes events with.
//!
//! `acks=all` and `enable.idempotence=true`: a send returns only once the broker has the event
//! durably, and librdkafka's retries never duplicate or reorder it within a partition.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use smsflow_events::{Event, EventCodec, Lane};

use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::headers;
use crate::metrics;

/// An event to publish: topic, key (the destination number for most topics) and event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Full topic name.
    pub topic: String,
    /// Record key.
    pub key: String,
    /// The event.
    pub event: Event,
}

impl Outgoing {
    /// Creates an outgoing event.
    pub fn new(topic: impl Into<String>, key: impl Into<String>, event: impl Into<Event>) -> Self {
        Self {
            topic: topic.into(),
            key: key.into(),
            event: event.into(),
        }
    }
}

/// Where Kafka stored a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// Produces events in the Confluent wire format. Clone it freely (it is an `Arc` inside).
#[derive(Clone)]
pub struct EventProducer {
    inner: FutureProducer,
    /// How long a send may wait for room in librdkafka's queue.
    queue_timeout: Duration,
    codec: Arc<EventCodec>,
}

impl std::fmt::Debug for EventProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventProducer").finish_non_exhaustive()
    }
}

/// Linger of a client whose records someone waits for (an API call, an OTP).
pub const PROMPT_LINGER: Duration = Duration::from_millis(2);
/// Linger of a service's own client: bulk lanes, receipts, reports (ADR 11).
pub const BATCH_LINGER: Duration = Duration::from_millis(10);

/// How long a send may wait for room in librdkafka's queue before failing, at most.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue wait for a client whose records get `delivery.timeout.ms`: no longer than a record
/// may wait for its acknowledgement, so a short delivery timeout (ingest's accept timeout)
/// bounds the whole send, not only the part after the record was queued.
fn queue_timeout(delivery_timeout_ms: Option<&str>) -> Duration {
    delivery_timeout_ms
        .and_then(|v| v.parse().ok())
        .map_or(QUEUE_TIMEOUT, |ms| {
            Duration::from_millis(ms).min(QUEUE_TIMEOUT)
        })
}

impl EventProducer {
    /// An idempotent, `acks=all` producer named `client_id`, lingering [`PROMPT_LINGER`].
    pub fn new(
        cfg: &KafkaConfig,
        codec: Arc<EventCodec>,
        client_id: &str,
    ) -> Result<Self, KafkaError> {
        Self::with_linger(cfg, codec, client_id, PROMPT_LINGER)
    }

    /// The same, gathering records for up to `linger` before a produce request. The broker's
    /// cost is per request and per batch more than per record, so a client whose records are
    /// not waited for by a person (bulk, receipts, reports) lingers longer ([`BATCH_LINGER`]).
    pub fn with_linger(
        cfg: &KafkaConfig,
        codec: Arc<EventCodec>,
        client_id: &str,
        linger: Duration,
    ) -> Result<Self, KafkaError> {
        let mut c = cfg.client_config();
        c.set("client.id", client_id)
            .set("linger.ms", linger.as_millis().to_string())
            .set("batch.num.messages", "10000")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", "200000")
            .set("delivery.timeout.ms", "60000");
        // Configured properties may tune the above, never the delivery guarantees below.
        for (k, v) in &cfg.properties {
            c.set(k, v);
        }
        c.set("enable.idempotence", "true").set("acks", "all");
        Ok(Self {
            queue_timeout: queue_timeout(c.get("delivery.timeout.ms")),
            inner: c.create()?,
            codec,
        })
    }

    /// The codec this producer encodes with.
    pub fn codec(&self) -> &Arc<EventCodec> {
        &self.codec
    }

    /// Encodes and sends one event; returns once Kafka acknowledged it.
    pub async fn send(&self, out: &Outgoing) -> Result<Stored, KafkaError> {
        let payload = self.codec.encode(&out.topic, &out.event).await?;
        let event_id = out.event.meta().event_id.to_string();
        let h = headers::with(OwnedHeaders::new(), headers::EVENT_ID, &event_id);
        let h = headers::with(h, headers::EVENT_TYPE, out.event.kind().name());
        let h = headers::inject_current_trace(h);
        self.send_raw(&out.topic, Some(out.key.as_bytes()), &payload, h)
            .await
    }

    /// Sends several events, pipelined; returns once every one is acknowledged, or the first
    /// error. Records to the same partition keep their order.
    pub async fn send_all(&self, outs: &[Outgoing]) -> Result<Vec<Stored>, KafkaError> {
        futures::future::try_join_all(outs.iter().map(|o| self.send(o))).await
    }

    /// Sends raw bytes with headers; returns once Kafka acknowledged them.
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<Stored, KafkaError> {
        let mut rec: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(topic).payload(payload).headers(headers);
        if let Some(k) = key {
            rec = rec.key(k);
        }
        match self
            .inner
            .send(rec, Timeout::After(self.queue_timeout))
            .await
        {
            Ok(d) => {
                metrics::produced(topic, true);
                Ok(Stored {
                    partition: d.partition,
                    offset: d.offset,
                })
            }
            Err((source, _)) => {
                metrics::produced(topic, false);
                Err(KafkaError::NotAcknowledged {
                    topic: topic.to_owned(),
                    source,
                })
            }
        }
    }

    /// Waits until every queued record is acknowledged or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        Ok(self.inner.flush(Timeout::After(timeout))?)
    }
}

/// One `T` for bulk and one for the lanes someone waits for (OTP and transactional), so the
/// latter never queue behind the former (ADR 11): producer clients, store writers.
#[derive(Clone, Debug)]
pub struct ByPriority<T> {
    /// For the bulk lane (and retries).
    pub bulk: T,
    /// For the OTP and transactional lanes.
    pub priority: T,
}

impl<T> ByPriority<T> {
    /// The one for records of `lane`.
    pub fn for_lane(&self, lane: Lane) -> &T {
        match lane {
            Lane::Bulk => &self.bulk,
            Lane::Otp | Lane::Transactional => &self.priority,
        }
    }
}

/// Producers by priority: OTP and transactional records go through a client of their own (its
/// own queues and connections), so they never wait behind the bulk records queued in one
/// client for the same partition.
pub type LaneProducers = ByPriority<EventProducer>;

impl LaneProducers {
    /// `bulk`, and beside it a priority client `<client_id>-priority` with the same codec.
    pub fn beside(
        cfg: &KafkaConfig,
        bulk: EventProducer,
        client_id: &str,
    ) -> Result<Self, KafkaError> {
        let priority =
            EventProducer::new(cfg, bulk.codec().clone(), &format!("{client_id}-priority"))?;
        Ok(Self { bulk, priority })
    }

    /// Waits until both clients delivered what they hold.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.bulk.flush(timeout)?;
        self.priority.flush(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_delivery_timeout_bounds_the_queue_wait_too() {
        assert_eq!(queue_timeout(Some("1500")), Duration::from_millis(1500));
        assert_eq!(queue_timeout(Some("60000")), QUEUE_TIMEOUT);
        assert_eq!(queue_timeout(None), QUEUE_TIMEOUT);
    }
}
