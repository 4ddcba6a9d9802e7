//! Issue 11, item 2 (first part), on the real stack: a long inbound message that the carrier
//! delivers in parts (a concatenation UDH, the simulator's `/mo` with `parts`) is published
//! on `sms.inbound` once more as one whole message, once, naming its parts; a keyword split
//! across parts is read from the whole message; a carrier's second copy of a kept part is
//! ignored by the part store (the real CQL table).

use std::time::Duration;

use smsflow_events::{
    CarrierId, Encoding, Event, EventMeta, InboundMessageReceived, InboundPart, MessageId, Msisdn,
    Timestamp,
};
use smsflow_integration::platform::Platform;
use smsflow_integration::{Stack, eventually, payload, read_topic};

const SHORT_CODE: &str = "12345";

/// The inbound events from `handset` on the platform's `sms.inbound`, once `n` are there.
async fn inbound_from(p: &Platform, handset: &str, n: usize) -> Vec<InboundMessageReceived> {
    let codec = p.kafka.codec().expect("codec");
    let topic = p.kafka.topics().inbound;
    let mut events = Vec::new();
    for _ in 0..15 {
        events.clear();
        for r in read_topic(&p.kafka, &topic, usize::MAX, Duration::from_secs(2)) {
            if let Ok(Event::InboundMessageReceived(e)) = codec.decode(payload(&r)).await
                && e.from.as_str() == handset
            {
                events.push(e);
            }
        }
        if events.len() >= n {
            return events;
        }
    }
    panic!(
        "{} of {n} inbound events from the handset: {events:?}",
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_inbound_message_is_published_whole_once() {
    let p = Platform::start(&Stack::from_env()).await;
    let handset = format!("+4477007{:05}", std::process::id() % 100_000);
    let text = "Hello, I moved house last week: please deliver to 12 Elm Street from now on";
    p.sim
        .inject_mo_parts("smsflow", &handset, SHORT_CODE, text, 3)
        .await
        .expect("the dispatcher's receiver is bound");
    let events = inbound_from(&p, &handset, 4).await;
    let (parts, wholes): (Vec<_>, Vec<_>) = events.iter().partition(|e| e.part.is_some());
    assert_eq!(parts.len(), 3, "{events:?}");
    assert_eq!(wholes.len(), 1, "published whole exactly once: {wholes:?}");
    let whole = wholes[0];
    assert_eq!(whole.text, text);
    assert_eq!(whole.to, SHORT_CODE);
    let mut by_seq = parts.clone();
    by_seq.sort_by_key(|e| e.part.map(|x| x.seq));
    assert_eq!(
        whole.assembled_from,
        by_seq.iter().map(|e| e.message_id).collect::<Vec<_>>()
    );
    for (i, e) in by_seq.iter().enumerate() {
        let part = e.part.unwrap();
        assert_eq!((part.total, part.seq), (3, i32::try_from(i).unwrap() + 1));
        assert_eq!(e.keyword, None, "a part is never a keyword");
    }
    // Read again later (nothing else arrives): still one whole message.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = inbound_from(&p, &handset, 4).await;
    assert_eq!(again.iter().filter(|e| e.part.is_none()).count(), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keyword_in_parts_is_read_from_the_whole_message() {
    let p = Platform::start(&Stack::from_env()).await;
    let handset = format!("+4477006{:05}", std::process::id() % 100_000);
    p.sim
        .inject_mo_parts("smsflow", &handset, SHORT_CODE, "STOP", 2)
        .await
        .expect("the dispatcher's receiver is bound");
    let events = inbound_from(&p, &handset, 3).await;
    let whole = events
        .iter()
        .find(|e| e.part.is_none())
        .expect("the whole message");
    assert_eq!(
        (whole.text.as_str(), whole.keyword.as_deref()),
        ("STOP", Some("STOP"))
    );
    // The whole message was read for keywords: the opt-out's confirmation reaches the handset.
    let reply = eventually(Duration::from_secs(30), || async {
        p.sim
            .ledger()
            .segments(&handset)
            .into_iter()
            .find(|s| s.text.contains("unsubscribed"))
    })
    .await;
    assert!(reply.is_some(), "no STOP confirmation reached the handset");
    p.stop().await;
}

#[tokio::test]
async fn a_carriers_second_copy_of_a_kept_part_is_ignored() {
    let stack = Stack::from_env();
    let store = smsflow_store::Store::connect(&stack.store_config(true).await)
        .await
        .expect("store");
    let parts = dlr_ingester::assemble::PartStore::new(store)
        .await
        .expect("prepare");
    let part = |seq| InboundMessageReceived {
        meta: EventMeta::new(dlr_ingester::PRODUCER, None),
        message_id: MessageId::new(),
        tenant_id: None,
        from: Msisdn::parse("+447700900123").unwrap(),
        to: SHORT_CODE.into(),
        text: format!("part {seq} "),
        carrier_id: CarrierId::parse("sim").unwrap(),
        encoding: Encoding::Gsm7,
        keyword: None,
        part: Some(InboundPart {
            reference: i32::try_from(std::process::id() % 65_536).unwrap(),
            total: 2,
            seq,
        }),
        assembled_from: vec![],
    };
    use dlr_ingester::assemble::Added;
    let first = part(1);
    let Added::Parts(kept) = parts.add(&first, first.part.unwrap()).await.unwrap() else {
        panic!("a new part is kept");
    };
    assert_eq!(kept.len(), 1);
    // The carrier sends part 1 again: a new event for a kept part.
    let copy = part(1);
    assert_eq!(
        parts.add(&copy, copy.part.unwrap()).await.unwrap(),
        Added::Duplicate
    );
    // The same event read again (a redelivery from Kafka) finds itself.
    let Added::Parts(kept) = parts.add(&first, first.part.unwrap()).await.unwrap() else {
        panic!("the same event is not a duplicate");
    };
    assert_eq!(kept[&1].event_id, first.meta.event_id);
    let second = part(2);
    let Added::Parts(kept) = parts.add(&second, second.part.unwrap()).await.unwrap() else {
        panic!("part 2 is kept");
    };
    let whole = dlr_ingester::assemble::whole(&second, &kept, &Default::default()).unwrap();
    assert_eq!(whole.text, "part 1 part 2 ");
    assert_eq!(
        whole.assembled_from,
        vec![first.message_id, second.message_id]
    );

    // Completed by its earliest part, read again later from the store alone: the same event,
    // its time included (the store keeps milliseconds; the record at hand has microseconds).
    let later = |seq, micros| {
        let mut e = part(seq);
        e.part = e.part.map(|p| InboundPart {
            reference: p.reference ^ 1,
            ..p
        });
        e.meta.occurred_at = Timestamp::from_micros(micros);
        e
    };
    let now = Timestamp::now().as_millis() * 1000;
    let (early, late) = (later(1, now + 123), later(2, now + 5_000_456));
    let _ = parts.add(&late, late.part.unwrap()).await.unwrap();
    let Added::Parts(kept) = parts.add(&early, early.part.unwrap()).await.unwrap() else {
        panic!("part 1 is kept");
    };
    let fresh = dlr_ingester::assemble::whole(&early, &kept, &Default::default()).unwrap();
    let Added::Parts(stored) = parts.add(&early, early.part.unwrap()).await.unwrap() else {
        panic!("the same event is not a duplicate");
    };
    let again = dlr_ingester::assemble::whole(&early, &stored, &Default::default()).unwrap();
    assert_eq!(fresh, again);
}
