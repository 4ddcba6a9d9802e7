//! `smsflow dlq list|show|redrive` on the real stack. The dead letters are written the way the
//! services write them: by the real consumer loop (a handler giving up on some requests, and a
//! record that is no event at all), and raw SMPP data as the dispatcher parks it. Then the
//! CLI's library lists them with filters, shows them decoded and masked, and redrives them:
//! each original topic gets exactly the redriven records, with their keys, bytes, event
//! headers and `smsflow.redrive.from`; the SMPP data is skipped. A record still poison after
//! its redrive is dead-lettered again.

#![allow(clippy::print_stdout)] // prints what an operator would see (`--nocapture`)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedHeaders, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use smsflow_cli::dlq::{self, Decoded, DlqError, Filter, Position, Skip};
use smsflow_events::arbitrary::sample_request;
use smsflow_events::*;
use smsflow_integration::{Stack, eventually, plain_parts, spawn_consumer};
use smsflow_kafka::headers as h;
use smsflow_kafka::*;
use tokio_util::sync::CancellationToken;

/// Error code of the test handler's dead letters.
const POISON: &str = "TEST_POISON";

/// Dead-letters every request whose `client_ref` starts with `poison`, quoting its number in
/// the reason (as a serde or validation error may); handles the others.
struct RefusePoison;

impl Handler for RefusePoison {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        match &msg.event {
            Event::SendRequested(r)
                if r.client_ref
                    .as_deref()
                    .is_some_and(|c| c.starts_with("poison")) =>
            {
                Err(HandlerError::dead_letter(
                    POISON,
                    format!("refused {}", r.to.as_str()),
                ))
            }
            _ => Ok(vec![]),
        }
    }
}

fn request(n: usize, poison: bool) -> SendRequested {
    let mut r = sample_request(&format!("+4477009000{n:02}"));
    r.text = format!("Your code is 9{n:05}");
    r.client_ref = Some(format!("{}-{n}", if poison { "poison" } else { "fine" }));
    r
}

/// The consumer loop of service `name` (group `<prefix>smsflow-<name>`, as the services name
/// theirs) on `topic`.
fn start(
    k: &KafkaConfig,
    p: &EventProducer,
    name: &str,
    topic: &str,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), KafkaError>>,
) {
    let group = smsflow_runtime::wiring::group_id(k, name);
    let mut opts = ConsumerOptions::new(group, vec![topic.to_owned()], k.topics().dlq.clone());
    opts.max_backoff = Duration::from_millis(200);
    spawn_consumer(k, opts, plain_parts(p), Arc::new(RefusePoison))
}

async fn stop(
    consumers: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<Result<(), KafkaError>>,
    )>,
) {
    for (s, t) in consumers {
        s.cancel();
        t.await.unwrap().unwrap();
    }
}

/// Every dead letter `filter` selects, read as `dlq list` reads them.
async fn select(k: &KafkaConfig, filter: Filter) -> Vec<dlq::DeadRecord> {
    let mut scan = dlq::Scanner::open(k, filter, None, false)
        .await
        .expect("open the dlq");
    let mut out = Vec::new();
    while let Some(r) = scan.next().await.expect("scan the dlq") {
        out.push(r);
    }
    out.sort_by_key(|r| r.position);
    out
}

/// Waits until the dead-letter topic holds `n` records.
async fn until_dead(k: &KafkaConfig, n: usize) -> Vec<dlq::DeadRecord> {
    let got = eventually(Duration::from_secs(60), || async {
        let all = select(k, Filter::default()).await;
        (all.len() >= n).then_some(all)
    })
    .await;
    let all = got.unwrap_or_else(|| panic!("{n} dead letters did not arrive"));
    assert_eq!(all.len(), n, "more dead letters than expected");
    all
}

/// Topics of their own (`partitions` each), once the broker's metadata has the dead-letter
/// topic (a topic just created may be missing from it for a moment).
async fn isolated(stack: &Stack, partitions: i32) -> KafkaConfig {
    let k = stack.isolated_kafka(partitions).await;
    let dlq = k.topics().dlq;
    eventually(Duration::from_secs(20), || async {
        admin::describe_topic(&k, &dlq, Duration::from_secs(5))
            .ok()
            .flatten()
            .filter(|t| t.partitions == usize::try_from(partitions).unwrap())
    })
    .await
    .unwrap_or_else(|| panic!("{dlq} not in the metadata"));
    k
}

fn filter(f: impl FnOnce(&mut Filter)) -> Filter {
    let mut x = Filter::default();
    f(&mut x);
    x
}

fn reader(k: &KafkaConfig) -> BaseConsumer {
    let mut c = k.client_config();
    c.set("enable.auto.commit", "false")
        .set("group.id", smsflow_integration::unique("dlq-cli-reader"));
    c.create().expect("reader")
}

/// The end offset of each partition of `topic`.
fn ends(k: &KafkaConfig, topic: &str) -> BTreeMap<i32, i64> {
    let c = reader(k);
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    md.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            let (_, high) = c
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .expect("watermarks");
            (p.id(), high)
        })
        .collect()
}

/// The records of `topic` written after `before` (its ends then), up to its ends now.
fn written_since(k: &KafkaConfig, topic: &str, before: &BTreeMap<i32, i64>) -> Vec<OwnedMessage> {
    let now = ends(k, topic);
    let c = reader(k);
    let mut tpl = TopicPartitionList::new();
    let mut want = 0;
    for (&p, &end) in &now {
        let from = before[&p];
        if end > from {
            tpl.add_partition_offset(topic, p, Offset::Offset(from))
                .unwrap();
            want += usize::try_from(end - from).unwrap();
        }
    }
    if want == 0 {
        return vec![];
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.len() < want && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            out.push(m.detach());
        }
    }
    assert_eq!(out.len(), want, "records of {topic} not read back");
    out
}

/// The offsets `group` has committed on `topic`, per partition (`-1001`: none).
fn committed(k: &KafkaConfig, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let mut c = k.client_config();
    c.set("group.id", group).set("enable.auto.commit", "false");
    let c: BaseConsumer = c.create().expect("offsets reader");
    let mut tpl = TopicPartitionList::new();
    for &p in ends(k, topic).keys() {
        tpl.add_partition(topic, p);
    }
    c.committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets")
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(-1)))
        .collect()
}

fn header<'a>(m: &'a OwnedMessage, name: &str) -> Option<&'a str> {
    h::get_owned(m.headers(), name)
}

fn render(shown: &dlq::Shown, reveal: bool) -> String {
    let mut out = Vec::new();
    dlq::render(
        shown,
        dlq::ShowOptions {
            json: false,
            reveal,
        },
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_masked_and_redriven_to_their_topics() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let k = isolated(&stack, 2).await;
    let t = k.topics();
    let p = EventProducer::new(&k, Arc::new(k.codec().unwrap()), "dlq-cli-test").unwrap();

    // Six requests, three of them poison to the "alpha" service; on the OTP request topic one
    // record that is no event (the loop dead-letters it as NOT_WIRE_FORMAT for "beta").
    let sent: Vec<SendRequested> = (0..6).map(|n| request(n, n % 2 == 1)).collect();
    for r in &sent {
        p.send(&Outgoing::new(t.requests.clone(), r.to.as_str(), r.clone()))
            .await
            .unwrap();
    }
    let garbage_key = b"+447700900077".as_slice();
    p.send_raw(
        &t.requests_otp,
        Some(garbage_key),
        b"not an event",
        OwnedHeaders::new(),
    )
    .await
    .unwrap();
    let consumers = vec![
        start(&k, &p, "alpha", &t.requests),
        start(&k, &p, "beta", &t.requests_otp),
    ];
    until_dead(&k, 4).await;
    stop(consumers).await;
    let alpha = smsflow_runtime::wiring::group_id(&k, "alpha");
    let alpha_committed = committed(&k, &alpha, &t.requests);
    assert!(
        alpha_committed.values().any(|&o| o > 0),
        "{alpha_committed:?}"
    );
    // An MO whose sender is no number, as the dispatcher parks it: no key, no origin offset.
    let smpp = headers::with(
        OwnedHeaders::new(),
        h::DLQ_ERROR_CODE,
        "MO_SENDER_NOT_A_NUMBER",
    );
    let smpp = headers::with(smpp, h::DLQ_SERVICE, "dispatcher");
    let smpp = headers::with(smpp, h::DLQ_TOPIC, "smpp:sim");
    p.send_raw(&t.dlq, None, b"STOP 447700900555", smpp)
        .await
        .unwrap();
    let all = until_dead(&k, 5).await;

    // list: filters select what they say.
    let poison = select(&k, filter(|f| f.codes = vec![POISON.to_lowercase()])).await;
    assert_eq!(poison.len(), 3);
    let mut poison_ids: Vec<String> = poison
        .iter()
        .map(|r| r.event_id().unwrap().to_owned())
        .collect();
    poison_ids.sort();
    let mut want_ids: Vec<String> = sent
        .iter()
        .filter(|r| r.client_ref.as_deref().unwrap().starts_with("poison"))
        .map(|r| r.meta.event_id.to_string())
        .collect();
    want_ids.sort();
    assert_eq!(poison_ids, want_ids);
    for r in &poison {
        assert_eq!(r.event_type(), Some("SendRequested"));
        assert!(matches!(
            r.origin(),
            dlq::Origin::Kafka { ref topic, partition: Some(_), offset: Some(_) } if *topic == t.requests
        ));
    }
    let count = |f| async { select(&k, f).await.len() };
    assert_eq!(
        count(filter(|f| f.services = vec!["alpha".into()])).await,
        3
    );
    assert_eq!(count(filter(|f| f.services = vec!["beta".into()])).await, 1);
    assert_eq!(
        count(filter(|f| f.services = vec!["dispatcher".into()])).await,
        1
    );
    assert_eq!(
        count(filter(|f| f.topics = vec!["sms.requests.otp".into()])).await,
        1
    );
    assert_eq!(
        count(filter(|f| f.topics = vec!["smpp:sim".into()])).await,
        1
    );
    assert_eq!(
        count(filter(|f| f.codes = vec!["NOT_WIRE_FORMAT".into()])).await,
        1
    );
    let now = chrono::Utc::now();
    assert_eq!(
        count(filter(
            |f| f.since = Some(now + chrono::Duration::minutes(1))
        ))
        .await,
        0
    );
    assert_eq!(
        count(filter(
            |f| f.since = Some(dlq::parse_since("1h", now).unwrap())
        ))
        .await,
        5
    );
    let mut limited = dlq::Scanner::open(&k, Filter::default(), Some(2), false)
        .await
        .unwrap();
    let (mut n, never) = (0, CancellationToken::new());
    while limited.next().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 2, "--limit 2");

    // The printed list: a header and one line per dead letter, numbers masked.
    let mut out = Vec::new();
    let listed = dlq::list(
        &k,
        Filter::default(),
        None,
        dlq::ListOptions::default(),
        &never,
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    assert_eq!((listed.read, listed.matched), (5, 5));
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.contains("refused +44********0"), "{text}");
    assert!(!text.contains("+4477009000"), "a number in clear:\n{text}");
    let mut out = Vec::new();
    let opts = dlq::ListOptions {
        json: true,
        follow: false,
    };
    dlq::list(&k, Filter::default(), None, opts, &never, &mut out)
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);

    // show: the event decoded through the registry, masked unless revealed.
    let first = &poison[0];
    let shown = dlq::inspect(&k, first.position).await.unwrap();
    let Decoded::Event { event, .. } = &shown.decoded else {
        panic!("not decoded: {:?}", shown.decoded)
    };
    let original = sent
        .iter()
        .find(|r| r.meta.event_id.to_string() == first.event_id().unwrap())
        .unwrap();
    assert_eq!(**event, Event::SendRequested(original.clone()));
    let masked = render(&shown, false);
    println!("{masked}");
    assert!(!masked.contains(original.to.as_str()), "{masked}");
    assert!(!masked.contains(&original.text), "{masked}");
    assert!(masked.contains(&original.to.masked()), "{masked}");
    let clear = render(&shown, true);
    assert!(clear.contains(original.to.as_str()) && clear.contains(&original.text));

    let smpp_pos = all
        .iter()
        .find(|r| r.code() == Some("MO_SENDER_NOT_A_NUMBER"))
        .unwrap()
        .position;
    let raw = dlq::inspect(&k, smpp_pos).await.unwrap();
    assert!(matches!(raw.decoded, Decoded::NotFramed(_)));
    assert!(!render(&raw, false).contains("STOP"));
    assert!(render(&raw, true).contains("STOP 447700900555"));

    // redrive --dry-run sends nothing.
    let before_requests = ends(&k, &t.requests);
    let before_otp = ends(&k, &t.requests_otp);
    let mut out = Vec::new();
    let dry = dlq::RedriveOptions {
        dry_run: true,
        to_topic: None,
    };
    let report = dlq::redrive(&k, Filter::default(), None, &dry, &mut out)
        .await
        .unwrap();
    assert_eq!(
        (report.redriven.len(), report.skipped.len()),
        (4, 1),
        "{report}"
    );
    assert_eq!(ends(&k, &t.requests), before_requests);
    assert_eq!(ends(&k, &t.requests_otp), before_otp);

    // redrive --code TEST_POISON: exactly those three go back to sms.requests.
    let mut out = Vec::new();
    let report = dlq::redrive(
        &k,
        filter(|f| f.codes = vec![POISON.into()]),
        None,
        &dlq::RedriveOptions::default(),
        &mut out,
    )
    .await
    .unwrap();
    println!("{}", String::from_utf8_lossy(&out));
    assert_eq!(report.redriven.len(), 3, "{report}");
    assert!(
        report.skipped.is_empty() && report.failed.is_empty(),
        "{report}"
    );
    assert!(written_since(&k, &t.requests_otp, &before_otp).is_empty());
    let back = written_since(&k, &t.requests, &before_requests);
    assert_eq!(back.len(), 3);
    for m in &back {
        let from: Position = header(m, h::REDRIVE_FROM)
            .expect("no redrive header")
            .parse()
            .unwrap();
        let dead = poison.iter().find(|r| r.position == from).unwrap();
        assert_eq!(m.key(), dead.key.as_deref());
        assert_eq!(m.payload(), dead.payload.as_deref());
        assert_eq!(header(m, h::EVENT_ID), dead.event_id());
        assert_eq!(header(m, h::EVENT_TYPE), Some("SendRequested"));
        for gone in [
            h::DLQ_TOPIC,
            h::DLQ_ERROR_CODE,
            h::DLQ_ERROR,
            h::DLQ_SERVICE,
        ] {
            assert_eq!(header(m, gone), None, "{gone} kept");
        }
        let Some(original) = sent
            .iter()
            .find(|r| Some(r.to.as_str().as_bytes()) == m.key())
        else {
            panic!("redriven key is no request's")
        };
        assert!(
            original
                .client_ref
                .as_deref()
                .unwrap()
                .starts_with("poison")
        );
    }

    // The SMPP data is skipped with its reason; the record that is no event goes back to the
    // OTP request topic.
    let mut out = Vec::new();
    let report = dlq::redrive(
        &k,
        filter(|f| f.services = vec!["dispatcher".into(), "beta".into()]),
        None,
        &dlq::RedriveOptions::default(),
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(
        report.skipped,
        vec![(
            smpp_pos,
            Skip::Smpp {
                carrier: "sim".into()
            }
        )]
    );
    assert_eq!(report.redriven.len(), 1);
    let otp_back = written_since(&k, &t.requests_otp, &before_otp);
    assert_eq!(otp_back.len(), 1);
    assert_eq!(otp_back[0].key(), Some(garbage_key));
    assert_eq!(otp_back[0].payload(), Some(b"not an event".as_slice()));
    assert!(header(&otp_back[0], h::REDRIVE_FROM).is_some());

    // Reading and redriving moved no group's offsets, and committed none of their own.
    assert_eq!(committed(&k, &alpha, &t.requests), alpha_committed);
    let own = format!("smsflow-cli-dlq-{}", std::process::id());
    assert!(
        committed(&k, &own, &t.dlq).values().all(|&o| o < 0),
        "the CLI committed offsets"
    );

    // Still poison: "alpha", resumed at its committed offsets, dead-letters the three again;
    // each new dead letter says which dead letter it was redriven from.
    let consumers = vec![start(&k, &p, "alpha", &t.requests)];
    let again = until_dead(&k, 8).await;
    stop(consumers).await;
    let new: Vec<_> = again.iter().filter(|r| !all.contains(r)).collect();
    assert_eq!(new.len(), 3);
    let mut froms: Vec<Position> = new
        .iter()
        .map(|r| {
            assert_eq!(r.code(), Some(POISON));
            r.header(h::REDRIVE_FROM)
                .expect("no redrive header")
                .parse()
                .unwrap()
        })
        .collect();
    froms.sort();
    let mut want: Vec<Position> = poison.iter().map(|r| r.position).collect();
    want.sort();
    assert_eq!(froms, want);
}

#[tokio::test]
async fn show_names_a_missing_offset_or_partition() {
    let stack = Stack::from_env();
    stack.require_kafka();
    let k = isolated(&stack, 2).await;
    let err = |e: anyhow::Error| e.downcast::<DlqError>().expect("a DlqError");
    let missing = Position {
        partition: 1,
        offset: 0,
    };
    match err(dlq::inspect(&k, missing).await.unwrap_err()) {
        DlqError::OffsetNotFound {
            position,
            low,
            high,
            ..
        } => assert_eq!((position, low, high), (missing, 0, 0)),
        e => panic!("{e}"),
    }
    let beyond = Position {
        partition: 2,
        offset: 0,
    };
    match err(dlq::inspect(&k, beyond).await.unwrap_err()) {
        DlqError::NoSuchPartition {
            partition, count, ..
        } => assert_eq!((partition, count), (2, 2)),
        e => panic!("{e}"),
    }
    let mut elsewhere = k.clone();
    elsewhere.topic_prefix = smsflow_integration::unique("none") + ".";
    let e = dlq::Scanner::open(&elsewhere, Filter::default(), None, false)
        .await
        .unwrap_err();
    assert!(matches!(e, DlqError::NoSuchTopic(_)), "{e}");
}
