//! The `smsflow` command line's logic.
//!
//! `admin setup` is the one place where the cluster is prepared: the topic catalog of
//! `smsflow_events::topics`, BACKWARD_TRANSITIVE compatibility and every schema in the
//! registry, and the CQL migrations of `smsflow_store::migrate`. `make up`, the integration
//! tests and the Kubernetes setup job all run it.
//!
//! | module | commands |
//! |---|---|
//! | this file | `admin setup`, `admin check` |
//! | [`dlq`] | `dlq list`, `dlq show`, `dlq redrive`: the dead-letter topic |

#![allow(clippy::print_stdout)] // a CLI reports on stdout

pub mod dlq;

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_kafka::admin::{self, TopicAction};
use smsflow_runtime::TelemetryConfig;
use smsflow_store::{Store, StoreConfig, migrate};

/// Configuration of the CLI.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CliConfig {
    /// Kafka and schema registry.
    pub kafka: KafkaConfig,
    /// CQL store.
    pub store: StoreConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
}

/// Retries `f` until it succeeds or `wait` has passed.
async fn retry<T, F, Fut>(what: &str, wait: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() < wait => {
                tracing::info!(what, error = %e, "not ready yet, retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e.context(format!("{what} did not answer within {wait:?}"))),
        }
    }
}

/// Prepares Kafka topics, the schema registry and the CQL schema. Idempotent.
pub async fn setup(cfg: &CliConfig, wait: Duration) -> anyhow::Result<()> {
    let topics = cfg.kafka.topics();
    let catalog = topics.catalog();
    let created = retry("kafka", wait, || async {
        Ok(admin::ensure_topics(&cfg.kafka, &catalog).await?)
    })
    .await?;
    let new = created
        .iter()
        .filter(|(_, a)| *a == TopicAction::Created)
        .count();
    println!(
        "kafka: {} topics ({} created, {} existed)",
        created.len(),
        new,
        created.len() - new
    );

    let codec = cfg.kafka.codec()?;
    retry("schema registry", wait, || async {
        Ok(codec.set_compatibility(None).await?)
    })
    .await?;
    let n = codec
        .register_catalog(&catalog)
        .await
        .context("registering the event schemas")?;
    println!("registry: {n} subjects at BACKWARD_TRANSITIVE");

    let store = retry("cql store", wait, || async {
        Ok(Store::connect(&cfg.store).await?)
    })
    .await?;
    let applied = migrate::migrate(&store, &cfg.store).await?;
    let now = applied.iter().filter(|m| m.applied_now).count();
    println!(
        "store: keyspace {} at schema version {} ({} migrations applied now)",
        store.keyspace(),
        migrate::required_version(),
        now
    );
    Ok(())
}

/// Checks every dependency answers and is set up; fails with what is missing.
pub async fn check(cfg: &CliConfig) -> anyhow::Result<()> {
    let brokers = admin::ping(&cfg.kafka, Duration::from_secs(5))
        .with_context(|| format!("kafka at {}", cfg.kafka.bootstrap_servers))?;
    let topics = cfg.kafka.topics();
    let mut missing = Vec::new();
    for spec in topics.catalog() {
        if admin::describe_topic(&cfg.kafka, &spec.name, Duration::from_secs(5))?.is_none() {
            missing.push(spec.name);
        }
    }
    println!("kafka: {brokers} broker(s); missing topics: {missing:?}");
    let store = Store::connect(&cfg.store).await?;
    let version = migrate::schema_version(&store).await?;
    println!(
        "store: release {}, schema version {version}",
        store.ping().await?
    );
    anyhow::ensure!(
        missing.is_empty(),
        "topics missing: run `smsflow admin setup`"
    );
    migrate::require_schema(&store).await?;
    Ok(())
}
