//! Views are a function of the log: the same events applied in another order, or twice,
//! give the same rows in the real CQL store.

use smsflow_events::*;
use smsflow_integration::Stack;

const P: Producer = Producer {
    name: "views-test",
    version: "0",
};

/// A message's life: requested, routed, a transient failure, retried, submitted, delivered.
/// Event ids are derived from `seed`, so two calls describe the same events.
fn life(m: MessageId, seed: uuid::Uuid) -> Vec<Event> {
    let tenant = TenantId::parse("itest").unwrap();
    let to = Msisdn::parse("+447700900555").unwrap();
    let carrier = CarrierId::parse("sim").unwrap();
    let mut t = 1_767_225_600_000_000_i64;
    let mut meta = || {
        t += 1_000;
        let mut x = EventMeta::new(P, None);
        x.event_id = EventId::derived(seed, &t.to_string());
        x.occurred_at = Timestamp::from_micros(t);
        x
    };
    let decided = |meta, attempt| RoutingDecided {
        meta,
        message_id: m,
        tenant_id: tenant.clone(),
        to: to.clone(),
        from: "ITEST".into(),
        text: "hi".into(),
        message_type: MessageType::Otp,
        lane: Lane::Otp,
        attempt,
        carrier_id: carrier.clone(),
        route_id: "default".into(),
        route_table_version: 3,
        failover: vec![],
        encoding: Encoding::Gsm7,
        segments: 1,
        cost_micros: 5000,
        currency: "EUR".into(),
        not_before: None,
        expires_at: None,
    };
    vec![
        SendRequested {
            meta: meta(),
            message_id: m,
            tenant_id: tenant.clone(),
            to: to.clone(),
            from: "ITEST".into(),
            text: "hi".into(),
            message_type: MessageType::Otp,
            lane: Lane::Otp,
            client_ref: Some("c1".into()),
            idempotency_key: None,
            callback_url: None,
            send_at: None,
            expires_at: None,
            smart_encoding: false,
            channel: "api".into(),
        }
        .into(),
        decided(meta(), 1).into(),
        AttemptStarted {
            meta: meta(),
            message_id: m,
            tenant_id: tenant.clone(),
            to: to.clone(),
            lane: Lane::Otp,
            attempt: 1,
            carrier_id: carrier.clone(),
            segments: 1,
        }
        .into(),
        AttemptFailed {
            meta: meta(),
            message_id: m,
            tenant_id: tenant.clone(),
            to: to.clone(),
            attempt: 1,
            carrier_id: carrier.clone(),
            error_class: ErrorClass::Transient,
            error_code: "SMPP_0x00000008".into(),
            reason: "system error".into(),
            carrier_message_ids: vec![],
            will_retry: true,
        }
        .into(),
        AttemptStarted {
            meta: meta(),
            message_id: m,
            tenant_id: tenant.clone(),
            to: to.clone(),
            lane: Lane::Otp,
            attempt: 2,
            carrier_id: carrier.clone(),
            segments: 1,
        }
        .into(),
        AttemptSubmitted {
            meta: meta(),
            message_id: m,
            tenant_id: tenant.clone(),
            to: to.clone(),
            attempt: 2,
            carrier_id: carrier.clone(),
            carrier_message_ids: vec!["42".into()],
            ambiguous: false,
        }
        .into(),
        DeliveryReported {
            meta: meta(),
            message_id: m,
            tenant_id: tenant.clone(),
            to: to.clone(),
            attempt: 2,
            carrier_id: carrier.clone(),
            carrier_message_id: "42".into(),
            segment_index: 1,
            segment_count: 1,
            state: DeliveryState::Delivered,
            error_code: Some("000".into()),
            done_at: None,
            message_status: Some(TerminalStatus::Delivered),
        }
        .into(),
    ]
}

fn without_id(mut v: serde_json::Value) -> serde_json::Value {
    v.as_object_mut().unwrap().remove("id");
    v
}

#[tokio::test]
async fn views_do_not_depend_on_order_or_repetition() {
    let stack = Stack::from_env();
    let cfg = stack.store_config(true).await;
    let store = smsflow_store::Store::connect(&cfg).await.unwrap();
    let views = analytics::views::Views::new(store).await.unwrap();

    let (a, b, seed) = (MessageId::new(), MessageId::new(), uuid::Uuid::new_v4());
    for e in life(a, seed) {
        views.apply(&e).await.unwrap();
    }
    // b: the same facts, arriving newest first, and every one twice.
    for e in life(b, seed).into_iter().rev() {
        views.apply(&e).await.unwrap();
        views.apply(&e).await.unwrap();
    }
    let va = views.message(a).await.unwrap().expect("view of a");
    let vb = views.message(b).await.unwrap().expect("view of b");
    assert_eq!(va["status"], "delivered");
    assert_eq!(va["attempts"], 2);
    assert_eq!(va["timeline"].as_array().unwrap().len(), 7);
    assert_eq!(without_id(va), without_id(vb));

    // The status rule: a lower-ranked event that happened later (a new fact, not a replay:
    // its own id, a time after the delivery) does not undo a terminal status. A "latest
    // wins" rule would show `retrying`.
    let Event::AttemptFailed(mut late) = life(a, seed).remove(3) else {
        panic!("the fourth event of a life is the retry's AttemptFailed");
    };
    late.meta.event_id = EventId::derived(uuid::Uuid::new_v4(), "late");
    late.meta.occurred_at = Timestamp::from_micros(1_767_225_600_000_000 + 60_000_000);
    views.apply(&late.into()).await.unwrap();
    let va = views.message(a).await.unwrap().unwrap();
    assert_eq!(va["status"], "delivered");
    assert_eq!(
        va["timeline"].as_array().unwrap().len(),
        8,
        "the late event is in the timeline, only not the status"
    );
}

/// The views over a keyspace of their own.
async fn fresh_views() -> std::sync::Arc<analytics::views::Views> {
    let cfg = Stack::from_env().store_config(true).await;
    let store = smsflow_store::Store::connect(&cfg).await.unwrap();
    std::sync::Arc::new(analytics::views::Views::new(store).await.unwrap())
}

/// The group-commit writer (what the service runs): two messages' events handed over at once,
/// each twice, are grouped into one batch (both messages in one request) and give the same
/// view as applying them one by one; every handler gets its answer only once the store has its
/// event.
#[tokio::test]
async fn the_group_commit_writer_gives_the_same_view() {
    use analytics::writer::{FlushOptions, ViewWriter};

    let views = fresh_views().await;
    let opts = FlushOptions {
        linger: std::time::Duration::from_millis(50),
        max_events: 64,
        concurrency: 4,
        hold: std::time::Duration::from_millis(200),
        per_request: 2,
        request_bytes: 32 * 1024,
    };
    let (writer, task) = ViewWriter::start(views.clone(), opts);

    let (a, b, c, seed) = (
        MessageId::new(),
        MessageId::new(),
        MessageId::new(),
        uuid::Uuid::new_v4(),
    );
    for e in life(a, seed) {
        views.apply(&e).await.unwrap();
    }
    let events: Vec<Event> = life(b, seed).into_iter().chain(life(c, seed)).collect();
    let all = events.iter().chain(events.iter()).map(|e| writer.apply(e));
    futures::future::try_join_all(all).await.unwrap();
    // Every apply has returned: the views must already hold all of it.
    let va = without_id(views.message(a).await.unwrap().expect("view of a"));
    for m in [b, c] {
        let v = views.message(m).await.unwrap().expect("view of b and c");
        assert_eq!(v["status"], "delivered");
        assert_eq!(v["timeline"].as_array().unwrap().len(), 7);
        assert_eq!(without_id(v), va);
    }

    // The writer ends once every handle is gone.
    drop(writer);
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the writer stops when its handles are dropped")
        .unwrap();
}

/// The writer holds a message that has no final event yet, so its later events can join it,
/// but never loses it: a message whose life stops half way (no receipt yet) is written once its
/// hold runs out, and a final event releases its held message at once.
#[tokio::test]
async fn held_messages_are_written_when_final_or_when_the_hold_runs_out() {
    use analytics::writer::{FlushOptions, ViewWriter};

    let views = fresh_views().await;
    // A hold far longer than the test may take: only a final event can release `done` early.
    let opts = FlushOptions {
        linger: std::time::Duration::from_millis(20),
        max_events: 64,
        concurrency: 4,
        hold: std::time::Duration::from_secs(600),
        per_request: 10,
        request_bytes: 32 * 1024,
    };
    let (writer, task) = ViewWriter::start(views.clone(), opts);
    let (half, done, seed) = (MessageId::new(), MessageId::new(), uuid::Uuid::new_v4());

    // `done`: every event but the last, then the final one; the first ones wait for it.
    let mut events = life(done, seed);
    let last = events.pop().unwrap();
    let w = writer.clone();
    let early = tokio::spawn(async move {
        futures::future::try_join_all(events.iter().map(|e| w.apply(e))).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !early.is_finished(),
        "a message with no final event is held"
    );
    assert!(views.message(done).await.unwrap().is_none());
    writer.apply(&last).await.unwrap();
    early.await.unwrap().unwrap();
    let v = views
        .message(done)
        .await
        .unwrap()
        .expect("view of the finished message");
    assert_eq!(v["status"], "delivered");
    assert_eq!(v["timeline"].as_array().unwrap().len(), 7);

    drop(writer);
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the writer stops when its handles are dropped")
        .unwrap();

    // `half`: routed and never finished; a writer with a short hold writes it when the hold
    // runs out (the generous timeout only keeps a hang from hanging the suite).
    let opts = FlushOptions {
        hold: std::time::Duration::from_millis(200),
        ..opts
    };
    let (writer, task) = ViewWriter::start(views.clone(), opts);
    let half_events: Vec<Event> = life(half, uuid::Uuid::new_v4())
        .into_iter()
        .take(2)
        .collect();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        futures::future::try_join_all(half_events.iter().map(|e| writer.apply(e))),
    )
    .await
    .expect("a held message is written when its hold runs out")
    .unwrap();
    let v = views
        .message(half)
        .await
        .unwrap()
        .expect("view of the half-done message");
    assert_eq!(v["status"], "routed");
    drop(writer);
    task.await.unwrap();
}

/// A request the store refuses as a whole (two messages' views in one batch, over its batch
/// size limit: 1 MiB on the local stack as on ScyllaDB, 50 KiB on a stock Cassandra) is
/// written again message by message, so the message that fits is not refused with the one
/// that made the batch too big, and that one is stored alone.
#[tokio::test]
async fn a_request_the_store_refuses_is_written_message_by_message() {
    use analytics::writer::{FlushOptions, ViewWriter};

    // The writer counts the split; the recorder must be there first.
    let prometheus = smsflow_runtime::telemetry::prometheus();
    let views = fresh_views().await;
    let opts = FlushOptions {
        linger: std::time::Duration::from_millis(50),
        max_events: 64,
        concurrency: 1,
        hold: std::time::Duration::ZERO,
        per_request: 2,
        request_bytes: usize::MAX,
    };
    let (writer, task) = ViewWriter::start(views.clone(), opts);
    let (small, big, seed) = (MessageId::new(), MessageId::new(), uuid::Uuid::new_v4());
    let huge = "x".repeat(1_100_000);
    let mut events = life(small, seed);
    events.extend(life(big, seed).into_iter().map(|mut e| {
        if let Event::SendRequested(r) = &mut e {
            r.client_ref = Some(huge.clone());
        }
        e
    }));
    futures::future::try_join_all(events.iter().map(|e| writer.apply(e)))
        .await
        .expect("both messages written, one request each after the refusal");

    let v = views.message(small).await.unwrap().expect("view of small");
    assert_eq!(v["status"], "delivered");
    let v = views.message(big).await.unwrap().expect("view of big");
    assert_eq!(v["status"], "delivered");
    assert_eq!(v["client_ref"].as_str().map(str::len), Some(huge.len()));
    let split = prometheus
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("smsflow_analytics_split_requests_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(split >= Some(1), "the store refused no request: {split:?}");
    drop(writer);
    task.await.unwrap();
}
