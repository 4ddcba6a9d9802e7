//! Deleting the topics and the keyspace of a benchmark run (`bench/run.py` gives each run its
//! own topic prefix and keyspace: a run that did not drain leaves its backlog there, and the
//! data of earlier runs would otherwise be compacted by the CQL server during later ones).

use std::time::Duration;

use anyhow::Context as _;
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions},
    client::DefaultClientContext,
    consumer::{BaseConsumer, Consumer},
};

/// Only prefixes the benchmark hands out can be deleted.
pub const REQUIRED_START: &str = "bench-";

/// Deletes every topic whose name starts with `prefix`; returns how many.
pub async fn delete_with_prefix(bootstrap: &str, prefix: &str) -> anyhow::Result<usize> {
    anyhow::ensure!(
        prefix.starts_with(REQUIRED_START),
        "only benchmark prefixes (`{REQUIRED_START}…`) are deleted"
    );
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    let consumer: BaseConsumer = cfg.create().context("kafka metadata client")?;
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .context("kafka metadata")?;
    let names: Vec<String> = md
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    if names.is_empty() {
        return Ok(0);
    }
    let admin: AdminClient<DefaultClientContext> = cfg.create().context("kafka admin client")?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let results = admin
        .delete_topics(
            &refs,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .context("delete topics")?;
    let mut deleted = 0;
    for r in results {
        match r {
            Ok(_) => deleted += 1,
            // Already gone (deleted meanwhile, or being deleted): nothing left to do.
            Err((_, rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((name, e)) => anyhow::bail!("delete {name}: {e}"),
        }
    }
    Ok(deleted)
}

/// Only keyspaces the benchmark hands out can be dropped.
pub const REQUIRED_KEYSPACE_START: &str = "bench_";

/// Which keyspaces to drop.
#[derive(Clone, Copy, Debug)]
pub enum Keyspaces<'a> {
    /// The one named so (a run's).
    Named(&'a str),
    /// Every one whose name starts so (`bench_`: all that runs left behind).
    Prefixed(&'a str),
}

impl Keyspaces<'_> {
    fn matches(self, name: &str) -> bool {
        match self {
            Keyspaces::Named(n) => name == n,
            Keyspaces::Prefixed(p) => name.starts_with(p),
        }
    }
}

/// Drops the benchmark keyspaces `which` through the CQL server at `contact_point`; returns
/// how many.
pub async fn drop_keyspaces(contact_point: &str, which: Keyspaces<'_>) -> anyhow::Result<usize> {
    let (Keyspaces::Named(given) | Keyspaces::Prefixed(given)) = which;
    anyhow::ensure!(
        given.starts_with(REQUIRED_KEYSPACE_START),
        "only benchmark keyspaces (`{REQUIRED_KEYSPACE_START}…`) are dropped"
    );
    // `Store::connect` refuses a keyspace name that is not a plain identifier; the names
    // dropped come from the server's own schema table.
    let cfg = smsflow_store::StoreConfig {
        contact_points: vec![contact_point.to_owned()],
        keyspace: "system".to_owned(),
        ..smsflow_store::StoreConfig::default()
    };
    let store = smsflow_store::Store::connect(&cfg).await?;
    let names: Vec<String> = store
        .keyspace_names()
        .await
        .context("list keyspaces")?
        .into_iter()
        .filter(|n| which.matches(n))
        .collect();
    for ks in &names {
        store
            .drop_keyspace(ks)
            .await
            .with_context(|| format!("drop keyspace {ks}"))?;
    }
    Ok(names.len())
}
