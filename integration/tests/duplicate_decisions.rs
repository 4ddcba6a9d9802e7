//! Guarantee 3 with the dispatcher's history reads skipped for fresh decisions (ADR 11,
//! decision 9): a routing decision published twice, later in the same partition (a router
//! that ran it again), reaches the carrier once, while the dispatcher runs and after it
//! restarted (a new assignment: the claim read back from `dispatch_progress`).

use std::sync::Arc;
use std::time::Duration;

use smsflow_events::arbitrary::sample_decision;
use smsflow_events::*;
use smsflow_integration::platform::Platform;
use smsflow_integration::{Stack, eventually, payload, read_topic};
use smsflow_kafka::{EventProducer, KafkaConfig, Outgoing};

fn decision(to: &Msisdn) -> RoutingDecided {
    let mut d = sample_decision(to.as_str(), MessageType::Marketing);
    d.text = "your parcel is on its way".into();
    d
}

/// `AttemptSubmitted` records of `m` on `sms.attempts` (a re-emitted one keeps its id).
async fn submitted_records(kafka: &KafkaConfig, m: MessageId) -> Vec<EventId> {
    let codec = kafka.codec().unwrap();
    let mut out = Vec::new();
    // Long enough for a fresh reader to join its group on a busy machine.
    for r in read_topic(
        kafka,
        &kafka.topics().attempts,
        usize::MAX,
        Duration::from_secs(5),
    ) {
        if let Ok(Event::AttemptSubmitted(s)) = codec.decode(payload(&r)).await
            && s.message_id == m
        {
            out.push(s.meta.event_id);
        }
    }
    out
}

async fn wait_for_records(kafka: &KafkaConfig, m: MessageId, n: usize) -> Vec<EventId> {
    eventually(Duration::from_secs(60), || async {
        let got = submitted_records(kafka, m).await;
        (got.len() >= n).then_some(got)
    })
    .await
    .unwrap_or_else(|| panic!("{n} AttemptSubmitted records of {m} did not arrive"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_published_again_reaches_the_carrier_once_also_after_a_restart() {
    let stack = Stack::from_env();
    let mut p = Platform::start(&stack).await;
    let producer = EventProducer::new(
        &p.kafka,
        Arc::new(p.kafka.codec().unwrap()),
        "duplicate-decisions-test",
    )
    .unwrap();
    let block = uuid::Uuid::new_v4().as_u128() % 100_000_000;
    let to = Msisdn::parse(&format!("+4478{block:08}")).unwrap();
    let d = decision(&to);
    let topic = p.kafka.topics().routing_bulk.clone();
    let out = Outgoing::new(topic, to.as_str(), d.clone());
    let publish = || producer.send(&out);

    publish().await.expect("published");
    let first = wait_for_records(&p.kafka, d.message_id, 1).await;
    // The same decision again, at a later offset, while the dispatcher runs.
    publish().await.expect("published again");
    let second = wait_for_records(&p.kafka, d.message_id, 2).await;
    // And once more after a restart.
    let dispatcher = p.dispatcher.take().expect("dispatcher running");
    dispatcher.stop().await;
    p.dispatcher = Some(p.start_dispatcher().await);
    publish().await.expect("published a third time");
    let third = wait_for_records(&p.kafka, d.message_id, 3).await;

    assert!(
        third.iter().all(|id| *id == first[0]) && second.len() >= 2,
        "every handling re-emits the same AttemptSubmitted: {third:?}"
    );
    let segments = p.sim.ledger().segments(to.as_str());
    assert_eq!(
        segments.len(),
        1,
        "one segment at the carrier: {segments:?}"
    );
    assert_eq!(segments[0].submits, 1, "submitted once: {segments:?}");
    p.stop().await;
}
