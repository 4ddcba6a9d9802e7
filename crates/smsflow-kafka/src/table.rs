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

use rdkafka::client::ClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use smsflow_events::{Event, EventCodec};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{KafkaConfig, KafkaError, admin, metrics};

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

    /// Whether the table is caught up and still followed, now (for a readiness check: false
    /// before the catch-up and again once the follower ended).
    pub fn following(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let rx = self.caught_up.clone();
        move || *rx.borrow()
    }

    /// Waits for the follower to end: after its shutdown token, or because it failed (a
    /// panic in the table's `apply`). Awaiting it again after it returned returns at once.
    pub async fn ended(&mut self) {
        if !self.task.is_finished() {
            let _ = (&mut self.task).await;
        }
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

/// Starts following `topic` into `table`, until `shutdown`. A topic the broker cannot
/// describe yet (the broker down, the topic not created) is asked for again every second:
/// the follower is not caught up meanwhile, and says so in the log.
pub fn follow<A: Apply>(
    cfg: &KafkaConfig,
    topic: &str,
    codec: Arc<EventCodec>,
    table: Arc<A>,
    shutdown: CancellationToken,
) -> Result<Follower, KafkaError> {
    let mut cc = cfg.client_config();
    // A group id is required by the client, never used: partitions are assigned, not
    // subscribed, and no offset is committed. An offset out of range restarts the
    // partition from its beginning, never from its end.
    cc.set("group.id", format!("{}table-follower", cfg.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        // An empty partition reaches its end after one fetch wait: short, so a start is not
        // held for long, and a change is read within it while idle (10 fetches a second).
        .set("fetch.wait.max.ms", "100")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed");
    let consumer: StreamConsumer<Quiet> = cc.create_with_context(Quiet)?;
    let (tx, rx) = watch::channel(false);
    let signal = Signal(tx);
    let (cfg, topic) = (cfg.clone(), topic.to_owned());
    let task = tokio::spawn(async move {
        let Some(partitions) = assign_all(&cfg, &consumer, &topic, &shutdown).await else {
            return;
        };
        info!(%topic, partitions = partitions.len(), "following a compacted topic");
        let mut catch_up = CatchUp::new(partitions);
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
                        signal.0.send_replace(true);
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

/// Assigns every partition of `topic` from its beginning, once the broker describes it
/// ([`admin::describe_topic`], off the runtime: it blocks); `None` if `shutdown` came first.
async fn assign_all(
    cfg: &KafkaConfig,
    consumer: &StreamConsumer<Quiet>,
    topic: &str,
    shutdown: &CancellationToken,
) -> Option<Vec<i32>> {
    loop {
        let (c, t) = (cfg.clone(), topic.to_owned());
        let described = tokio::task::spawn_blocking(move || {
            admin::describe_topic(&c, &t, Duration::from_secs(5))
        })
        .await;
        let error = match described {
            Ok(Ok(Some(info))) if info.partitions > 0 => {
                let parts: Vec<i32> =
                    (0..i32::try_from(info.partitions).unwrap_or(i32::MAX)).collect();
                let mut tpl = TopicPartitionList::new();
                let assigned = parts
                    .iter()
                    .try_for_each(|p| tpl.add_partition_offset(topic, *p, Offset::Beginning))
                    .and_then(|()| consumer.assign(&tpl));
                match assigned {
                    Ok(()) => return Some(parts),
                    Err(e) => e.to_string(),
                }
            }
            Ok(Ok(_)) => "not described (missing, or no partitions)".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        warn!(%topic, %error, "table follower: topic not readable yet");
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Whether the table is caught up and followed: `true` once every partition reached its
/// end, `false` again when the follower ends for whatever reason (a panic included), so a
/// readiness check reading it never reports a table nobody updates.
struct Signal(watch::Sender<bool>);

impl Drop for Signal {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

/// The client context of a follower: librdkafka reports every partition end as an error
/// event, which the default context logs at error level; here it is the catch-up signal
/// (read from the stream), not an error.
struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: RdKafkaError, reason: &str) {
        if !matches!(error, RdKafkaError::PartitionEOF(_)) {
            warn!(error = %error, reason, "table follower: client error");
        }
    }
}

impl ConsumerContext for Quiet {}

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

    #[test]
    fn a_follower_that_ends_is_no_longer_following() {
        let (tx, rx) = watch::channel(false);
        let signal = Signal(tx);
        signal.0.send_replace(true);
        assert!(*rx.borrow(), "caught up");
        drop(signal); // the task's end, however it ended
        assert!(!*rx.borrow(), "a table nobody updates is not ready");
    }
}
