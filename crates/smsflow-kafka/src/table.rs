//! A compacted topic followed into a local table (the router's consent book, ADR 13): every
//! instance reads every partition from the beginning (`assign`, no group, nothing committed)
//! and applies each event in log order, then keeps following. [`follow`] hands back a
//! [`Follower`] whose [`Follower::caught_up`] resolves once every partition has been read to
//! the end it had when the follower started (librdkafka's partition EOF, which also passes
//! over transaction markers), so a service can refuse work until its table is whole.
//!
//! An event the codec cannot read is skipped with a warning and a metric: the table is a
//! view of the topic, and a poison record in it must not stop every instance's start.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use smsflow_events::{Event, EventCodec};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{KafkaConfig, KafkaError, metrics};

/// What a table does with the topic's records, in log order per partition.
pub trait Apply: Send + Sync + 'static {
    /// One record: its key, and its event (`None`: a tombstone, the key deleted).
    fn apply(&self, key: Option<&[u8]>, event: Option<Event>);
}

/// A running follower of one topic.
#[derive(Debug)]
pub struct Follower {
    caught_up: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    /// Resolves once the table holds everything the topic held when the follower started;
    /// `false` if the follower stopped first (shutdown, or the consumer failed).
    pub async fn caught_up(&self) -> bool {
        let mut rx = self.caught_up.clone();
        rx.wait_for(|c| *c).await.is_ok()
    }

    /// Waits for the follower to end (after its shutdown token).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Which partitions have not yet been read to their end once.
#[derive(Debug)]
pub(crate) struct CatchUp {
    pending: HashSet<i32>,
}

impl CatchUp {
    pub(crate) fn new(partitions: impl IntoIterator<Item = i32>) -> Self {
        Self {
            pending: partitions.into_iter().collect(),
        }
    }

    /// Partition `p` reached its end; true when that made every partition caught up.
    pub(crate) fn reached_end(&mut self, p: i32) -> bool {
        self.pending.remove(&p) && self.pending.is_empty()
    }

    pub(crate) fn done(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Starts following `topic` into `table`, until `shutdown`.
pub async fn follow<A: Apply>(
    cfg: &KafkaConfig,
    topic: &str,
    codec: Arc<EventCodec>,
    table: Arc<A>,
    shutdown: CancellationToken,
) -> Result<Follower, KafkaError> {
    let mut cc = cfg.client_config();
    for (k, v) in &cfg.properties {
        cc.set(k, v);
    }
    // A group id is required by the client, never used: partitions are assigned, not
    // subscribed, and no offset is committed.
    cc.set("group.id", format!("{}table-follower", cfg.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed");
    let consumer: StreamConsumer = cc.create()?;
    // Blocks for one metadata round trip, once at start.
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(KafkaError::Admin(format!(
            "topic {topic} has no partitions"
        )));
    }
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let (tx, rx) = watch::channel(false);
    let topic = topic.to_owned();
    let mut catch_up = CatchUp::new(partitions);
    info!(%topic, "following a compacted topic");
    let task = tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                _ = shutdown.cancelled() => break,
                m = consumer.recv() => m,
            };
            match msg {
                Ok(m) => {
                    let event = match m.payload() {
                        None => None,
                        Some(bytes) => match decode(&codec, bytes, &shutdown).await {
                            Some(e) => Some(e),
                            None => {
                                metrics::table_skipped(&topic);
                                continue;
                            }
                        },
                    };
                    table.apply(m.key(), event);
                    metrics::table_applied(&topic);
                }
                Err(RdKafkaError::PartitionEOF(p)) => {
                    if catch_up.reached_end(p) {
                        info!(%topic, "table caught up");
                        let _ = tx.send(true);
                    }
                }
                Err(e) => {
                    warn!(%topic, error = %e, "table follower: consume error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if !catch_up.done() {
            warn!(%topic, "table follower stopped before it caught up");
        }
    });
    Ok(Follower {
        caught_up: rx,
        task,
    })
}

/// Decodes a record, retrying what may succeed later (the registry unreachable) until
/// `shutdown`; `None` for a record that can never be read.
async fn decode(codec: &EventCodec, bytes: &[u8], shutdown: &CancellationToken) -> Option<Event> {
    loop {
        match codec.decode(bytes).await {
            Ok(e) => return Some(e),
            Err(e) if e.is_retriable() && !shutdown.is_cancelled() => {
                warn!(error = %e, "table follower: cannot decode yet, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                warn!(code = e.code(), error = %e, "table follower: record skipped");
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_up_only_once_every_partition_reached_its_end() {
        let mut c = CatchUp::new([0, 1, 2]);
        assert!(!c.reached_end(1));
        assert!(!c.reached_end(1), "an end reached again counts once");
        assert!(!c.reached_end(0));
        assert!(!c.done());
        assert!(c.reached_end(2));
        assert!(c.done());
        assert!(!c.reached_end(2), "later ends are not a new catch-up");
    }
}
