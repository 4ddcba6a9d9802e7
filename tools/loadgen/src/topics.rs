//! Deleting the topics of a benchmark run (`bench/run.py` gives each run its own topic
//! prefix, and a run that did not drain leaves its backlog there).

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
        prefix.starts_with(REQUIRED_START) && prefix.len() > REQUIRED_START.len(),
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
            Err((name, e)) => anyhow::bail!("delete {name}: {e}"),
        }
    }
    Ok(deleted)
}
