//! Receipts against the real stack and the dlr-ingester service: a receipt that comes before
//! its submit is reported once the submit comes (waiting, or parked and swept), exactly once
//! per segment, and a carrier's duplicate receipt is dropped.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use smsflow_events::*;
use smsflow_integration::platform::{Running, dlr_config, start_dlr_with};
use smsflow_integration::{Stack, payload, read_topic, unique};
use smsflow_kafka::{EventProducer, KafkaConfig, Outgoing};
use smsflow_store::{Store, StoreConfig};

const PRODUCER: Producer = Producer {
    name: "receipts-test",
    version: "0",
};

/// One message of one segment, with the carrier id it gets.
struct Msg {
    id: MessageId,
    to: Msisdn,
    carrier_message_id: String,
}

impl Msg {
    fn new(n: u64) -> Self {
        let suffix = u64::from(std::process::id()) * 1000 + n;
        Self {
            id: MessageId::new(),
            to: Msisdn::parse(&format!("+4477{:08}", suffix % 100_000_000)).unwrap(),
            carrier_message_id: unique("cid"),
        }
    }

    fn submitted(&self) -> AttemptSubmitted {
        AttemptSubmitted {
            meta: EventMeta::new(PRODUCER, None),
            message_id: self.id,
            tenant_id: TenantId::parse("acme").unwrap(),
            to: self.to.clone(),
            attempt: 1,
            carrier_id: CarrierId::parse("sim").unwrap(),
            carrier_message_ids: vec![self.carrier_message_id.clone()],
            ambiguous: false,
        }
    }

    fn receipt(&self, state: DeliveryState) -> CarrierReceiptReceived {
        CarrierReceiptReceived {
            meta: EventMeta::new(PRODUCER, None),
            carrier_id: CarrierId::parse("sim").unwrap(),
            carrier_message_id: self.carrier_message_id.clone(),
            normalized_id: self.carrier_message_id.clone(),
            to: Some(self.to.as_str().to_owned()),
            state,
            error_code: None,
            submitted_at: None,
            done_at: Some(Timestamp::now()),
            source: "test".into(),
        }
    }
}

async fn start_dlr(
    kafka: &KafkaConfig,
    store: &StoreConfig,
    wait_ms: u64,
    sweep_secs: u64,
) -> Running {
    start_dlr_with(dlr_ingester::Config {
        early_receipt_wait_ms: wait_ms,
        park_sweep_secs: sweep_secs,
        ..dlr_config(kafka, store)
    })
    .await
}

async fn send<E: Into<Event>>(p: &EventProducer, topic: &str, key: &Msisdn, e: E) {
    p.send(&Outgoing::new(topic.to_owned(), key.as_str(), e))
        .await
        .expect("sent");
}

/// The ids and states of the `DeliveryReported` events of `m` on `sms.dlr` (the topic is
/// this test's own), read from the start until `n` records came or `timeout` passed (a
/// fresh reader needs a moment to join its group: never a short timeout).
async fn reports(
    kafka: &KafkaConfig,
    m: &Msg,
    n: usize,
    timeout: Duration,
) -> Vec<(EventId, DeliveryState, Option<TerminalStatus>)> {
    let codec = kafka.codec().unwrap();
    let records = read_topic(kafka, &kafka.topics().dlr, n, timeout);
    let mut out = Vec::new();
    for r in &records {
        if let Ok(Event::DeliveryReported(d)) = codec.decode(payload(r)).await
            && d.message_id == m.id
        {
            out.push((d.meta.event_id, d.state, d.message_status));
        }
    }
    out
}

/// The reports of `m` once there are at least `n`, re-reading until `timeout`.
async fn reported(
    kafka: &KafkaConfig,
    m: &Msg,
    n: usize,
    timeout: Duration,
) -> Option<Vec<(EventId, DeliveryState, Option<TerminalStatus>)>> {
    smsflow_integration::eventually(timeout, || async {
        let got = reports(kafka, m, usize::MAX, Duration::from_secs(2)).await;
        (got.len() >= n).then_some(got)
    })
    .await
}

async fn parked_rows(store: &Store, m: &Msg) -> usize {
    let q = format!(
        "SELECT event_id FROM {} WHERE carrier_id = 'sim' AND carrier_message_id = ?",
        store.table("dlr_pending")
    );
    let rows = store
        .session()
        .query_unpaged(q, (m.carrier_message_id.as_str(),))
        .await
        .expect("read dlr_pending")
        .into_rows_result()
        .expect("rows");
    rows.rows_num()
}

/// A receipt published before its submit waits for it: one report, DELIVERED, and neither
/// the same receipt again nor a second receipt from the carrier adds another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_before_its_submit_is_reported_once_and_a_duplicate_is_dropped() {
    let stack = Stack::from_env();
    stack.require().await;
    let kafka = stack.isolated_kafka(3).await;
    let store = stack.store_config(false).await;
    let t = kafka.topics();
    let producer =
        EventProducer::new(&kafka, Arc::new(kafka.codec().unwrap()), "receipts-test").unwrap();
    let dlr = start_dlr(&kafka, &store, 30_000, 10).await;

    let m = Msg::new(1);
    let receipt = m.receipt(DeliveryState::Delivered);
    send(&producer, &t.dlr_raw, &m.to, receipt.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        reports(&kafka, &m, 1, Duration::from_secs(3))
            .await
            .is_empty(),
        "no report before the submit"
    );
    send(&producer, &t.attempts, &m.to, m.submitted()).await;
    // The same receipt event again (a redelivery) and another DELIVRD for the same id.
    send(&producer, &t.dlr_raw, &m.to, receipt).await;
    send(
        &producer,
        &t.dlr_raw,
        &m.to,
        m.receipt(DeliveryState::Delivered),
    )
    .await;

    let got = reports(&kafka, &m, usize::MAX, Duration::from_secs(10)).await;
    let ids: BTreeSet<_> = got.iter().map(|(id, ..)| *id).collect();
    assert_eq!(
        ids.len(),
        1,
        "one report (a re-emitted one keeps its id): {got:?}"
    );
    assert!(
        got.iter()
            .all(|(_, s, st)| *s == DeliveryState::Delivered
                && *st == Some(TerminalStatus::Delivered)),
        "{got:?}"
    );
    dlr.stop().await;
}

/// A receipt that waited in vain is parked; once its submit is recorded, the sweep applies it
/// and deletes the parked row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_receipt_is_swept_once_its_submit_is_recorded() {
    let stack = Stack::from_env();
    stack.require().await;
    let kafka = stack.isolated_kafka(3).await;
    // A keyspace of its own: the sweep applies every parked receipt of its keyspace.
    let store_cfg = stack.store_config(true).await;
    let store = Store::connect(&store_cfg).await.expect("store");
    let t = kafka.topics();
    let producer =
        EventProducer::new(&kafka, Arc::new(kafka.codec().unwrap()), "receipts-test").unwrap();
    let dlr = start_dlr(&kafka, &store_cfg, 200, 1).await;

    let m = Msg::new(2);
    send(
        &producer,
        &t.dlr_raw,
        &m.to,
        m.receipt(DeliveryState::Undeliverable),
    )
    .await;
    let parked = smsflow_integration::eventually(Duration::from_secs(10), || async {
        (parked_rows(&store, &m).await == 1).then_some(())
    })
    .await;
    assert!(parked.is_some(), "the receipt was parked");
    assert!(
        reports(&kafka, &m, 1, Duration::from_secs(3))
            .await
            .is_empty(),
        "no report while parked"
    );

    send(&producer, &t.attempts, &m.to, m.submitted()).await;
    let got = reports(&kafka, &m, 1, Duration::from_secs(30)).await;
    assert!(!got.is_empty(), "the sweep reported the parked receipt");
    assert_eq!(got[0].1, DeliveryState::Undeliverable);
    assert_eq!(got[0].2, Some(TerminalStatus::Undelivered));
    let unparked = smsflow_integration::eventually(Duration::from_secs(5), || async {
        (parked_rows(&store, &m).await == 0).then_some(())
    })
    .await;
    assert!(unparked.is_some(), "applied receipts are unparked");
    dlr.stop().await;
}

/// Issue 9, item 6: a message whose carrier never reports ends `expired` (error
/// `RECEIPT_TIMEOUT`) once its receipt timeout has passed since the submit, and no sooner;
/// a message whose receipt came gets no such report; a receipt that comes after the timeout
/// is still reported, and, being later, sets the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_without_its_receipt_ends_expired_after_the_receipt_timeout() {
    let stack = Stack::from_env();
    stack.require().await;
    let kafka = stack.isolated_kafka(3).await;
    let store = stack.store_config(false).await;
    let t = kafka.topics();
    let producer =
        EventProducer::new(&kafka, Arc::new(kafka.codec().unwrap()), "receipts-test").unwrap();
    let timeout = Duration::from_secs(4);
    let dlr = start_dlr_with(dlr_ingester::Config {
        receipt_timeout_secs: timeout.as_secs(),
        ..dlr_config(&kafka, &store)
    })
    .await;

    let (silent, answered) = (Msg::new(3), Msg::new(4));
    let submitted_at = std::time::Instant::now();
    send(&producer, &t.attempts, &silent.to, silent.submitted()).await;
    send(&producer, &t.attempts, &answered.to, answered.submitted()).await;
    send(
        &producer,
        &t.dlr_raw,
        &answered.to,
        answered.receipt(DeliveryState::Delivered),
    )
    .await;

    let expired = reported(&kafka, &silent, 1, Duration::from_secs(60))
        .await
        .expect("the silent message was reported");
    assert!(
        submitted_at.elapsed() >= timeout,
        "reported {:?} after its submit, before the timeout",
        submitted_at.elapsed()
    );
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].1, DeliveryState::Unknown);
    assert_eq!(expired[0].2, Some(TerminalStatus::Expired));

    // The answered one: its delivery only, also once its own timeout has passed.
    tokio::time::sleep(timeout).await;
    let got = reports(&kafka, &answered, usize::MAX, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].2, Some(TerminalStatus::Delivered));

    // A late receipt for the silent one is still correlated and reported.
    send(
        &producer,
        &t.dlr_raw,
        &silent.to,
        silent.receipt(DeliveryState::Delivered),
    )
    .await;
    let late = reported(&kafka, &silent, 2, Duration::from_secs(30))
        .await
        .expect("the late receipt was reported");
    assert!(
        late.iter()
            .any(|(_, s, st)| *s == DeliveryState::Delivered
                && *st == Some(TerminalStatus::Delivered)),
        "{late:?}"
    );
    dlr.stop().await;
}
