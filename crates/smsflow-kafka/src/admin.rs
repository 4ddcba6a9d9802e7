//! Topic administration: create the catalog idempotently, and describe topics.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use smsflow_events::TopicSpec;
use smsflow_events::topics::Cleanup;

use crate::config::KafkaConfig;
use crate::error::KafkaError;

/// What `ensure_topics` did to one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicAction {
    /// It was created.
    Created,
    /// It already existed (left as is).
    Existed,
}

/// A topic as the cluster describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Number of partitions.
    pub partitions: usize,
}

fn admin(cfg: &KafkaConfig) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    Ok(cfg.client_config().create()?)
}

/// How long a record of a compacted topic is kept before a later one of its key may replace
/// it (`min.compaction.lag.ms`).
pub const COMPACTION_LAG: Duration = Duration::from_secs(7 * 24 * 3600);

/// Creates every topic in `specs` that does not exist yet, with `cfg.partitions` partitions,
/// `cfg.replication_factor` replicas, and the spec's cleanup policy and retention.
pub async fn ensure_topics(
    cfg: &KafkaConfig,
    specs: &[TopicSpec],
) -> Result<Vec<(String, TopicAction)>, KafkaError> {
    let client = admin(cfg)?;
    let settings: Vec<(String, Vec<(&str, String)>)> = specs
        .iter()
        .map(|s| {
            let mut c = vec![(
                "cleanup.policy",
                match s.cleanup {
                    Cleanup::Delete => "delete".to_owned(),
                    Cleanup::Compact => "compact".to_owned(),
                },
            )];
            if let Some(r) = s.retention {
                c.push(("retention.ms", r.as_millis().to_string()));
            }
            if s.cleanup == Cleanup::Compact {
                // Every change stays a week before compaction may drop it for a later one of
                // its key: a reader that keeps history (analytics' consent history) and is
                // down for less than that misses none.
                c.push((
                    "min.compaction.lag.ms",
                    COMPACTION_LAG.as_millis().to_string(),
                ));
            }
            if cfg.replication_factor > 1 {
                c.push(("min.insync.replicas", "2".to_owned()));
            }
            (s.name.clone(), c)
        })
        .collect();
    let new: Vec<NewTopic<'_>> = settings
        .iter()
        .map(|(name, conf)| {
            conf.iter().fold(
                NewTopic::new(
                    name,
                    cfg.partitions,
                    TopicReplication::Fixed(cfg.replication_factor),
                ),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = client.create_topics(new.iter(), &opts).await?;
    results
        .into_iter()
        .map(|r| match r {
            Ok(name) => Ok((name, TopicAction::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => Ok((name, TopicAction::Existed)),
            Err((name, code)) => Err(KafkaError::Admin(format!("creating {name}: {code}"))),
        })
        .collect()
}

/// Describes `topic` (partition count), or `None` if it does not exist.
pub fn describe_topic(
    cfg: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> Result<Option<TopicInfo>, KafkaError> {
    let consumer: BaseConsumer = cfg.client_config().create()?;
    let md = consumer.fetch_metadata(Some(topic), timeout)?;
    Ok(md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| TopicInfo {
            name: t.name().to_owned(),
            partitions: t.partitions().len(),
        }))
}

/// Checks that the cluster answers a metadata request within `timeout` (readiness probe).
pub fn ping(cfg: &KafkaConfig, timeout: Duration) -> Result<usize, KafkaError> {
    let consumer: BaseConsumer = cfg.client_config().create()?;
    Ok(consumer.fetch_metadata(None, timeout)?.brokers().len())
}
