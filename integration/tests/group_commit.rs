//! Group commit against the real CQL server (ADR 11, decision 16): writes of many tasks,
//! sent as a few batches, all land with their own values, and each caller hears only once
//! its row is stored.

use smsflow_integration::{Stack, unique};
use smsflow_store::{GroupCommit, GroupOptions, Store};

#[tokio::test]
async fn every_grouped_write_lands_with_its_own_values() {
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
    // Two requests in flight at most: of 300 concurrent writes, most wait and go in batches.
    let opts = GroupOptions {
        max_rows: 10,
        in_flight: 2,
    };
    let writer: GroupCommit<(String, i32, i64)> =
        GroupCommit::start(store.clone(), "group commit test", insert, opts);
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
}
