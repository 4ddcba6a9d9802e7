//! The event contract on the real stack: registry-encoded events, the consumer loop's
//! dead-lettering, and dedupe across a consumer that dies before committing.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{Headers, Message};
use smsflow_events::arbitrary::sample_request;
use smsflow_events::*;
use smsflow_integration::{Collect, Stack, eventually, plain_parts, read_topic, unique};
use smsflow_kafka::headers as h;
use smsflow_kafka::*;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn request(to: &str, n: usize) -> SendRequested {
    let mut r = sample_request(to);
    r.text = format!("hello {n} ✓");
    r.client_ref = Some(format!("ref-{n}"));
    r
}

async fn producer(k: &KafkaConfig) -> EventProducer {
    let codec = Arc::new(k.codec().unwrap());
    EventProducer::new(k, codec, "contract-test").unwrap()
}

/// Topics of their own (`partitions` each) on the real broker, and a producer through the real
/// registry.
async fn isolated(partitions: i32) -> (KafkaConfig, EventProducer) {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let k = stack.isolated_kafka(partitions).await;
    let p = producer(&k).await;
    (k, p)
}

fn consume(
    k: &KafkaConfig,
    group: &str,
    topics: Vec<String>,
    parts: ConsumerParts,
    handler: Arc<Collect>,
    commit_interval: Duration,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), KafkaError>>,
) {
    let mut opts = ConsumerOptions::new(group, topics, k.topics().dlq.clone());
    opts.commit_interval = commit_interval;
    smsflow_integration::spawn_consumer(k, opts, parts, handler)
}

async fn seen_count(c: &Collect, n: usize) -> Option<()> {
    (c.count() >= n).then_some(())
}

/// Events produced through the registry are consumed and decoded, equal to what was sent, by
/// two independent consumer groups.
#[tokio::test]
async fn two_consumer_groups_decode_registry_encoded_events() {
    let (k, p) = isolated(3).await;
    let t = k.topics();
    let sent: Vec<Event> = (0..30)
        .map(|n| request(&format!("+4477009{n:05}"), n).into())
        .collect();
    let outs: Vec<Outgoing> = sent
        .iter()
        .map(|e| {
            let Event::SendRequested(r) = e else {
                unreachable!()
            };
            Outgoing::new(t.requests.clone(), r.to.as_str(), e.clone())
        })
        .collect();
    p.send_all(&outs).await.expect("produce");

    let mut handles = Vec::new();
    let mut collectors = Vec::new();
    for g in ["group-a", "group-b"] {
        let c = Collect::new(None);
        let parts = plain_parts(&p);
        handles.push(consume(
            &k,
            &unique(g),
            vec![t.requests.clone()],
            parts,
            c.clone(),
            Duration::from_secs(1),
        ));
        collectors.push(c);
    }
    for c in &collectors {
        assert!(
            eventually(Duration::from_secs(30), || seen_count(c, sent.len()))
                .await
                .is_some(),
            "not all events consumed"
        );
        let mut got = c.seen.lock().unwrap().clone();
        got.sort_by_key(|e| e.meta().event_id);
        let mut want = sent.clone();
        want.sort_by_key(|e| e.meta().event_id);
        assert_eq!(got, want);
    }
    for (stop, h) in handles {
        stop.cancel();
        h.await.unwrap().unwrap();
    }
}

/// A payload that is not valid Avro goes to `sms.dlq` with its reason and origin; the next
/// event on the same partition is still processed.
#[tokio::test]
async fn poison_goes_to_the_dead_letter_topic_and_the_partition_moves_on() {
    let (k, p) = isolated(1).await;
    let t = k.topics();
    let key = b"+447700900001".as_slice();
    p.send_raw(
        &t.requests,
        Some(key),
        b"this is not avro",
        rdkafka::message::OwnedHeaders::new(),
    )
    .await
    .unwrap();
    // Framed, but with a schema id the registry never gave.
    p.send_raw(
        &t.requests,
        Some(key),
        &[0, 0x7f, 0xff, 0xff, 0xf0, 2, 4],
        rdkafka::message::OwnedHeaders::new(),
    )
    .await
    .unwrap();
    let good = request("+447700900001", 1);
    p.send(&Outgoing::new(
        t.requests.clone(),
        "+447700900001",
        good.clone(),
    ))
    .await
    .unwrap();

    let c = Collect::new(None);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let parts = ConsumerParts {
        observer: Some(tx),
        ..plain_parts(&p)
    };
    let group = unique("poison");
    let (stop, handle) = consume(
        &k,
        &group,
        vec![t.requests.clone()],
        parts,
        c.clone(),
        Duration::from_millis(200),
    );
    let mut outcomes = Vec::new();
    while outcomes.len() < 3 {
        let f = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("records not finished")
            .unwrap();
        outcomes.push((f.offset, f.outcome));
    }
    outcomes.sort_by_key(|(o, _)| *o);
    assert_eq!(
        outcomes,
        vec![
            (0, Outcome::DeadLettered),
            (1, Outcome::DeadLettered),
            (2, Outcome::Handled)
        ]
    );
    assert_eq!(
        c.seen.lock().unwrap().clone(),
        vec![Event::SendRequested(good)]
    );

    let dead = read_topic(&k, &t.dlq, 2, Duration::from_secs(20));
    assert_eq!(dead.len(), 2);
    let header = |m: &rdkafka::message::OwnedMessage, name: &str| -> String {
        h::get_owned(m.headers(), name)
            .unwrap_or_else(|| panic!("dlq record lacks header {name}"))
            .to_owned()
    };
    assert_eq!(dead[0].payload(), Some(b"this is not avro".as_slice()));
    assert_eq!(dead[0].key(), Some(key));
    assert_eq!(header(&dead[0], h::DLQ_TOPIC), t.requests);
    assert_eq!(header(&dead[0], h::DLQ_PARTITION), "0");
    assert_eq!(header(&dead[0], h::DLQ_OFFSET), "0");
    assert_eq!(header(&dead[0], h::DLQ_ERROR_CODE), "NOT_WIRE_FORMAT");
    assert!(header(&dead[0], h::DLQ_ERROR).contains("magic byte"));
    assert_eq!(header(&dead[0], h::DLQ_SERVICE), group);
    assert_eq!(header(&dead[1], h::DLQ_ERROR_CODE), "UNKNOWN_SCHEMA_ID");
    assert_eq!(header(&dead[1], h::DLQ_OFFSET), "1");
    assert!(
        dead.iter()
            .all(|m| m.headers().is_some_and(|hs| hs.count() >= 6))
    );
    stop.cancel();
    handle.await.unwrap().unwrap();
}

/// Runs the kill scenario: a consumer process handles one event (its output acknowledged) and
/// is killed with SIGKILL before it commits; a second consumer of the same group takes over.
/// Returns how many copies of the output ended up downstream.
async fn kill_before_commit(dedupe_mode: &str, dedupe: Arc<dyn Dedupe>) -> usize {
    use tokio::io::AsyncBufReadExt;
    let (k, p) = isolated(1).await;
    let t = k.topics();
    let input = request("+447700900002", 7);
    p.send(&Outgoing::new(
        t.requests.clone(),
        "+447700900002",
        input.clone(),
    ))
    .await
    .unwrap();
    let group = unique("killed");

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kill-consumer"))
        .args([group.as_str(), dedupe_mode])
        .env("SMSFLOW_KAFKA__TOPIC_PREFIX", k.topic_prefix.as_str())
        .env("SMSFLOW_TELEMETRY__LOG_FILTER", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the consumer process");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the consumer process finished nothing")
        .unwrap()
        .unwrap_or_default();
    assert_eq!(line, "finished 0 Handled");
    child.kill().await.unwrap(); // SIGKILL: no drain, no rebalance callback, no commit

    // Second consumer of the same group: the uncommitted event comes back.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let parts = ConsumerParts {
        dedupe,
        observer: Some(tx),
        ..plain_parts(&p)
    };
    let c2 = Collect::new(Some(t.attempts.clone()));
    let mut k2 = k.clone();
    k2.properties
        .insert("session.timeout.ms".into(), "6000".into());
    let (stop2, h2) = consume(
        &k2,
        &group,
        vec![t.requests.clone()],
        parts,
        c2,
        Duration::from_millis(200),
    );
    let f = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("event not redelivered")
        .unwrap();
    assert_eq!(f.offset, 0, "the uncommitted event must be processed again");
    stop2.cancel();
    h2.await.unwrap().unwrap();
    read_topic(&k, &t.attempts, 3, Duration::from_secs(10)).len()
}

/// With the durable dedupe hook, the reprocessed event emits nothing the second time.
#[tokio::test]
async fn a_consumer_killed_before_committing_does_not_emit_twice() {
    let stack = Stack::from_env();
    let store_cfg = stack.store_config(false).await;
    let store = smsflow_store::Store::connect(&store_cfg).await.unwrap();
    let dedupe = Arc::new(smsflow_store::CqlDedupe::new(store).await.unwrap());
    assert_eq!(
        kill_before_commit("cql", dedupe).await,
        1,
        "the output was emitted twice"
    );
}

/// Control: without dedupe the same scenario does emit twice, so the test above proves
/// something.
#[tokio::test]
async fn without_dedupe_the_killed_consumer_emits_twice() {
    assert_eq!(kill_before_commit("none", Arc::new(NoDedupe)).await, 2);
}

/// Records which thread handled each topic's records.
#[derive(Default)]
struct ThreadOf {
    seen: std::sync::Mutex<Vec<(String, Option<String>)>>,
}

impl Handler for ThreadOf {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let thread = std::thread::current().name().map(str::to_owned);
        self.seen
            .lock()
            .unwrap()
            .push((msg.topic.to_owned(), thread));
        Ok(Vec::new())
    }
}

/// A lane given a runtime of its own (`ConsumerOptions::runtime`, how the dispatcher keeps
/// its OTP lane off the thread bulk handlers crowd) handles its records on that runtime's
/// thread, while the other lanes stay on the caller's runtime; stopping stops both.
#[tokio::test]
async fn a_consumer_with_a_runtime_of_its_own_handles_its_records_there() {
    let (k, p) = isolated(1).await;
    let t = k.topics();
    let lane = smsflow_runtime::ThreadRuntime::new("otp-lane-test").unwrap();
    let outs: Vec<Outgoing> = [&t.routing_otp, &t.routing_bulk]
        .into_iter()
        .enumerate()
        .map(|(n, topic)| {
            let r = request(&format!("+4477008{n:05}"), n);
            let key = r.to.as_str().to_owned();
            Outgoing::new(topic.clone(), &key, r)
        })
        .collect();
    p.send_all(&outs).await.expect("produce");
    let parts = plain_parts(&p);
    let mut otp = ConsumerOptions::new(unique("otp"), vec![t.routing_otp.clone()], t.dlq.clone());
    otp.runtime = Some(lane.handle().clone());
    let bulk = ConsumerOptions::new(unique("bulk"), vec![t.routing_bulk.clone()], t.dlq.clone());
    let handler = Arc::new(ThreadOf::default());
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (k, handler, stop) = (k.clone(), handler.clone(), stop.clone());
        async move {
            let consumers = vec![(otp, parts.clone()), (bulk, parts)];
            smsflow_kafka::consumer::run_each(&k, consumers, handler, stop).await
        }
    });
    let both = eventually(Duration::from_secs(30), || {
        let n = handler.seen.lock().unwrap().len();
        async move { (n >= 2).then_some(()) }
    })
    .await;
    stop.cancel();
    run.await.unwrap().expect("both consumers stop cleanly");
    assert!(both.is_some(), "not every record was handled");
    let seen = handler.seen.lock().unwrap().clone();
    let thread_of = |topic: &str| {
        seen.iter()
            .find(|(t, _)| t == topic)
            .and_then(|(_, thread)| thread.clone())
    };
    assert_eq!(
        thread_of(&t.routing_otp).as_deref(),
        Some("otp-lane-test"),
        "{seen:?}"
    );
    assert_ne!(
        thread_of(&t.routing_bulk).as_deref(),
        Some("otp-lane-test"),
        "{seen:?}"
    );
}
