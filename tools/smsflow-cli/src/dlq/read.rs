//! Reading the dead-letter topic without touching any service's consumer group.
//!
//! The consumer is assigned partitions (never subscribed, so it joins no group), has a group
//! id of its own (`smsflow-cli-dlq-<pid>`, which librdkafka wants even to assign), and commits
//! nothing: auto-commit and offset stores are off, and it never calls commit. A scan reads
//! from the start of each partition (or its first record at `--since`) to the end it had when
//! the scan began, and stops; with `follow` it keeps reading.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use smsflow_kafka::KafkaConfig;

use super::error::DlqError;
use super::filter::Filter;
use super::position::Position;
use super::record::DeadRecord;

/// How long metadata and watermark requests may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a scan waits for records that exist before it gives up on the broker.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Logs librdkafka's global errors as rdkafka's default context does, except the end of a
/// partition: a scan asks for it (`enable.partition.eof`) to know it is done.
#[derive(Debug)]
pub struct ScanContext;

impl ClientContext for ScanContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for ScanContext {}

/// The consumer of a scan.
type DlqConsumer = StreamConsumer<ScanContext>;

/// A consumer that joins no group and commits nothing (see the module doc).
fn consumer(cfg: &KafkaConfig) -> Result<DlqConsumer, DlqError> {
    let mut c = cfg.client_config();
    // librdkafka wants a group id even to assign; this one is no service's (they are
    // `<prefix>smsflow-<service>`) and nothing is ever committed under it.
    c.set(
        "group.id",
        format!("smsflow-cli-dlq-{}", std::process::id()),
    )
    .set("enable.auto.commit", "false")
    .set("enable.auto.offset.store", "false")
    // An offset retention deleted is an error, never a silent jump elsewhere.
    .set("auto.offset.reset", "error")
    .set("enable.partition.eof", "true");
    Ok(c.create_with_context(ScanContext)?)
}

/// The partitions of `topic`.
fn partitions(
    consumer: &DlqConsumer,
    cfg: &KafkaConfig,
    topic: &str,
) -> Result<Vec<i32>, DlqError> {
    let md = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|cause| DlqError::Unreachable {
            servers: cfg.bootstrap_servers.clone(),
            secs: METADATA_TIMEOUT.as_secs(),
            cause,
        })?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| DlqError::NoSuchTopic(topic.to_owned()))?;
    let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    ps.sort_unstable();
    Ok(ps)
}

/// The low and high watermarks of a partition. Retried for up to [`METADATA_TIMEOUT`] while
/// the partition has no leader (a broker restarting, a topic just created).
async fn watermarks(
    consumer: &DlqConsumer,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), DlqError> {
    let deadline = tokio::time::Instant::now() + METADATA_TIMEOUT;
    loop {
        match consumer.fetch_watermarks(topic, partition, METADATA_TIMEOUT) {
            Err(e)
                if tokio::time::Instant::now() < deadline
                    && matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::NotLeaderForPartition
                                | RDKafkaErrorCode::LeaderNotAvailable
                                | RDKafkaErrorCode::UnknownTopicOrPartition
                        )
                    ) =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// Whether `topic` exists (a redrive target).
pub fn topic_exists(cfg: &KafkaConfig, topic: &str) -> Result<bool, DlqError> {
    let c = consumer(cfg)?;
    match partitions(&c, cfg, topic) {
        Ok(_) => Ok(true),
        Err(DlqError::NoSuchTopic(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads dead letters one at a time, filtered. Ends at the end the topic had when it opened,
/// or never when following.
pub struct Scanner {
    consumer: DlqConsumer,
    topic: String,
    prefix: String,
    filter: Filter,
    limit: Option<usize>,
    follow: bool,
    /// Per partition not yet read to its end: the end (offset after its last record).
    ends: BTreeMap<i32, i64>,
    /// Records read.
    read: usize,
    /// Records selected by the filter (and returned).
    matched: usize,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("topic", &self.topic)
            .field("read", &self.read)
            .field("matched", &self.matched)
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// Opens the deployment's dead-letter topic. `limit` ends the scan after that many
    /// selected records; `follow` keeps reading past the end.
    pub async fn open(
        cfg: &KafkaConfig,
        filter: Filter,
        limit: Option<usize>,
        follow: bool,
    ) -> Result<Self, DlqError> {
        let topic = cfg.topics().dlq;
        let consumer = consumer(cfg)?;
        let parts = partitions(&consumer, cfg, &topic)?;
        let starts = match filter.since {
            Some(since) => {
                let mut q = TopicPartitionList::new();
                for &p in &parts {
                    q.add_partition_offset(&topic, p, Offset::Offset(since.timestamp_millis()))?;
                }
                let found = consumer.offsets_for_times(q, METADATA_TIMEOUT)?;
                parts
                    .iter()
                    .map(|&p| {
                        let start = found.find_partition(&topic, p).map(|e| e.offset());
                        (p, start)
                    })
                    .collect()
            }
            None => parts.iter().map(|&p| (p, None)).collect::<Vec<_>>(),
        };
        let mut assignment = TopicPartitionList::new();
        let mut ends = BTreeMap::new();
        for (p, since_start) in starts {
            let (low, high) = watermarks(&consumer, &topic, p).await?;
            let start = match since_start {
                Some(Offset::Offset(o)) => o.max(low),
                // No record at or after `since`.
                Some(Offset::End) => high,
                _ => low,
            };
            if start < high || follow {
                assignment.add_partition_offset(&topic, p, Offset::Offset(start))?;
            }
            if start < high {
                ends.insert(p, high);
            }
        }
        if assignment.count() > 0 {
            consumer.assign(&assignment)?;
        }
        Ok(Self {
            consumer,
            topic,
            prefix: cfg.topic_prefix.clone(),
            filter,
            limit,
            follow,
            ends,
            read: 0,
            matched: 0,
        })
    }

    /// The dead-letter topic read.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Records read so far.
    pub fn read(&self) -> usize {
        self.read
    }

    /// Records selected so far.
    pub fn matched(&self) -> usize {
        self.matched
    }

    /// The next selected dead letter, or `None` at the end (or the limit).
    pub async fn next(&mut self) -> Result<Option<DeadRecord>, DlqError> {
        loop {
            if self.limit.is_some_and(|l| self.matched >= l)
                || (!self.follow && self.ends.is_empty())
            {
                return Ok(None);
            }
            let got = match tokio::time::timeout(STALL_TIMEOUT, self.consumer.recv()).await {
                Err(_) if self.follow => continue,
                Err(_) => {
                    return Err(DlqError::Stalled {
                        topic: self.topic.clone(),
                        secs: STALL_TIMEOUT.as_secs(),
                        partitions: self.ends.keys().copied().collect(),
                    });
                }
                Ok(got) => got,
            };
            let m = match got {
                Ok(m) => m,
                Err(KafkaError::PartitionEOF(p)) => {
                    self.ends.remove(&p);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if !self.follow {
                match self.ends.get(&m.partition()) {
                    Some(&end) if m.offset() < end => {
                        if m.offset() + 1 >= end {
                            self.ends.remove(&m.partition());
                        }
                    }
                    // Written after the scan began.
                    _ => continue,
                }
            }
            self.read += 1;
            let r = DeadRecord::from_message(&m);
            if self.filter.matches(&r, &self.prefix) {
                self.matched += 1;
                return Ok(Some(r));
            }
        }
    }
}

/// The dead letter at `position` of the deployment's dead-letter topic.
pub async fn fetch(cfg: &KafkaConfig, position: Position) -> Result<DeadRecord, DlqError> {
    let topic = cfg.topics().dlq;
    let consumer = consumer(cfg)?;
    let parts = partitions(&consumer, cfg, &topic)?;
    if !parts.contains(&position.partition) {
        return Err(DlqError::NoSuchPartition {
            topic,
            partition: position.partition,
            count: i32::try_from(parts.len()).unwrap_or(i32::MAX),
        });
    }
    let (low, high) = watermarks(&consumer, &topic, position.partition).await?;
    let not_found = |topic: String| DlqError::OffsetNotFound {
        topic,
        position,
        low,
        high,
    };
    if position.offset < low || position.offset >= high {
        return Err(not_found(topic));
    }
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(&topic, position.partition, Offset::Offset(position.offset))?;
    consumer.assign(&assignment)?;
    let got = tokio::time::timeout(STALL_TIMEOUT, consumer.recv())
        .await
        .map_err(|_| DlqError::Stalled {
            topic: topic.clone(),
            secs: STALL_TIMEOUT.as_secs(),
            partitions: vec![position.partition],
        })?;
    match got {
        Ok(m) if m.offset() == position.offset => Ok(DeadRecord::from_message(&m)),
        // A gap (the offset was deleted while we looked, or never held a record).
        Ok(_) | Err(KafkaError::PartitionEOF(_)) => Err(not_found(topic)),
        Err(e)
            if matches!(
                e.rdkafka_error_code(),
                Some(RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset)
            ) =>
        {
            Err(not_found(topic))
        }
        Err(e) => Err(e.into()),
    }
}
