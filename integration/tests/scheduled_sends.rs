//! Issue 9, item 4, end to end: a scheduled send (`send_at`, as an external producer may set
//! it on `sms.requests`) reaches the carrier at its time, not before and not minutes after,
//! and while it waits it holds no handler slot: with one record in flight on the dispatcher's
//! bulk lane, messages sent after it go out at once. (The dispatcher used to sleep in the
//! handler until `not_before`, holding the lane's only slot for the whole wait.)

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smsflow_events::arbitrary::sample_request;
use smsflow_events::{Lane, MessageType, Timestamp};
use smsflow_integration::platform::{Options, Platform};
use smsflow_integration::{Stack, eventually, read_topic};
use smsflow_kafka::{EventProducer, Outgoing};

fn now_us() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_send_goes_out_on_time_and_holds_no_slot_meanwhile() {
    let p = Platform::start_with(
        &Stack::from_env(),
        Options {
            dispatcher_lanes: Some(dispatcher::config::LaneConcurrency {
                bulk: 1,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let producer = EventProducer::new(
        &p.kafka,
        Arc::new(p.kafka.codec().unwrap()),
        "scheduled-test",
    )
    .unwrap();
    let topics = p.kafka.topics();
    let base = 7_300_000_000 + u64::from(std::process::id() % 100_000) * 100;
    let number = |n: u64| format!("+44{}", base + n);
    let publish = |n: u64, send_at: Option<Timestamp>| {
        let mut r = sample_request(&number(n));
        r.message_type = MessageType::Marketing;
        r.lane = Lane::Bulk;
        r.send_at = send_at;
        let key = r.to.as_str().to_owned();
        let out = Outgoing::new(topics.requests.clone(), key, r);
        let producer = producer.clone();
        async move { producer.send(&out).await.unwrap() }
    };

    let wait = Duration::from_secs(15);
    let due = Timestamp::now().plus(wait);
    let due_us = now_us() + u64::try_from(wait.as_micros()).unwrap();
    publish(0, Some(due)).await;
    // The scheduled message is on the dispatcher's lane before the others are sent, so the
    // lane's one slot would be its own if waiting took one.
    let decided = read_topic(&p.kafka, &topics.routing_bulk, 1, Duration::from_secs(30));
    assert_eq!(decided.len(), 1, "the scheduled message was routed");
    let sent_us = now_us();
    for n in 1..=3 {
        publish(n, None).await;
    }
    let destinations: Vec<String> = (0..=3).map(number).collect();
    let ledger = p.sim.ledger();
    let others = eventually(Duration::from_secs(60), || {
        let d = ledger.submit_times(&destinations[1..]);
        async move { (d.len() == 3 && d.iter().all(|s| s.accepted > 0)).then_some(d) }
    })
    .await
    .expect("the unscheduled messages reached the carrier");
    for s in &others {
        assert!(
            s.first_submit_us < due_us,
            "{} waited for the scheduled send",
            s.destination
        );
        assert!(
            s.first_submit_us < sent_us + 8_000_000,
            "{} reached the carrier {} ms after it was sent",
            s.destination,
            (s.first_submit_us - sent_us) / 1000
        );
    }
    let scheduled = eventually(Duration::from_secs(60), || {
        let d = ledger.submit_times(&destinations[..1]);
        async move { d.first().filter(|s| s.accepted > 0).cloned() }
    })
    .await
    .expect("the scheduled message reached the carrier");
    assert!(
        scheduled.first_submit_us >= due_us - 1_000,
        "sent {} ms before its time",
        (due_us - scheduled.first_submit_us) / 1000
    );
    assert!(
        scheduled.first_submit_us < due_us + 6_000_000,
        "sent {} ms after its time",
        (scheduled.first_submit_us - due_us) / 1000
    );
    assert_eq!(scheduled.submits, 1, "sent once");
    p.stop().await;
}
