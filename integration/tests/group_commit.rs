//! Group commit against the real CQL server (ADR 11, decision 16): writes of many tasks,
//! sent as a few batches, all land with their own values, and each caller hears only once
//! its row is stored; with a linger, a stream of writes goes out in full batches.

use std::time::Duration;

use smsflow_integration::{Stack, unique};
use smsflow_store::{GroupCommit, GroupOptions, Store};

/// Writes 300 rows at once through a writer with `opts` named `what`, checks each landed with
/// its own values, and returns (requests, rows) counted by the writer's metrics.
async fn write_300(what: &'static str, opts: GroupOptions) -> (u64, u64) {
    // The recorder must be installed before the writer counts.
    let prometheus = smsflow_runtime::telemetry::prometheus();
    let stack = Stack::from_env();
    let cfg = stack.store_config(true).await;
    let store = Store::connect(&cfg).await.unwrap();
    let t = store.table("dispatch_progress");
    let insert = store
        .prepare(
            "group commit test",
            format!("INSERT INTO {t} (topic, partition, claimed_below) VALUES (?, ?, ?)"),
        )
        .await
        .unwrap();
    let writer: GroupCommit<(String, i32, i64)> =
        GroupCommit::start(store.clone(), what, insert, opts);
    let topic = unique("gc");
    let writes = (0..300).map(|p| {
        let (writer, topic) = (writer.clone(), topic.clone());
        async move {
            writer.write((topic, p, i64::from(p) * 7 + 1)).await?;
            // Returned: the row is readable now.
            Ok::<_, smsflow_kafka::HandlerError>(p)
        }
    });
    let done = futures::future::try_join_all(writes).await.unwrap();
    assert_eq!(done.len(), 300);

    let select = store
        .prepare(
            "group commit test",
            format!("SELECT partition, claimed_below FROM {t} WHERE topic = ? AND partition = ?"),
        )
        .await
        .unwrap();
    for p in 0..300 {
        let rows: Vec<(i32, i64)> = store
            .rows("group commit test", &select, (topic.as_str(), p))
            .await
            .unwrap();
        assert_eq!(rows, vec![(p, i64::from(p) * 7 + 1)], "partition {p}");
    }
    let metrics = prometheus.render();
    (
        counter(&metrics, "requests", what),
        counter(&metrics, "rows", what),
    )
}

fn counter(text: &str, which: &str, what: &str) -> u64 {
    let name = format!("smsflow_store_group_{which}_total{{what=\"{what}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(name.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

#[tokio::test]
async fn every_grouped_write_lands_with_its_own_values() {
    // Two requests in flight at most: of 300 concurrent writes, most wait and go in batches.
    let opts = GroupOptions {
        max_rows: 10,
        in_flight: 2,
        linger: Duration::ZERO,
    };
    let (requests, rows) = write_300("group commit test", opts).await;
    assert_eq!(rows, 300);
    assert!(requests < 300, "{requests} requests for 300 rows");
}

#[tokio::test]
async fn a_lingering_writer_sends_full_batches() {
    // Room for every request at once: without the linger, writes would go out one by one.
    let opts = GroupOptions::lingering(Duration::from_millis(50));
    let (requests, rows) = write_300("group commit linger test", opts).await;
    assert_eq!(rows, 300);
    assert!(
        requests <= 60,
        "{requests} requests for 300 rows: batches of 5 or more expected"
    );
}
