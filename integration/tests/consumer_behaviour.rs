//! The consumer loop's promises to every service, on the real broker, with a scripted
//! handler: records of one key are handled one after the other in offset order while others
//! run concurrently; never more than `max_in_flight` at once; a `Retry` runs the record again
//! (and holds back the records of its key); a `DeadLetter` (or a panic) parks it on the
//! dead-letter topic with its code, after the events that end its message, and the partition
//! moves on; records waiting out retry steps try again together once one of them goes through.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::Message;
use smsflow_events::arbitrary::sample_request;
use smsflow_events::*;
use smsflow_integration::{Stack, eventually, plain_parts, read_topic, spawn_consumer, unique};
use smsflow_kafka::headers as h;
use smsflow_kafka::*;
use tokio_util::sync::CancellationToken;

fn request(key: usize, n: usize) -> (String, SendRequested) {
    let to = format!("+4477009{key:05}");
    let mut e = sample_request(&to);
    e.client_ref = Some(n.to_string());
    (to, e)
}

/// What the scripted handler does with record `n` on its `call`-th try (from 1).
type Script = dyn Fn(usize, usize) -> Result<(), HandlerError> + Send + Sync;

/// Records, per key, the order records were handled in, and the most handled at once.
struct Scripted {
    script: Box<Script>,
    /// Handling time of record `n`, in ms.
    pause_ms: fn(usize) -> u64,
    calls: Mutex<HashMap<usize, usize>>,
    order: Mutex<BTreeMap<String, Vec<usize>>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    handled: AtomicUsize,
    /// How long each call of record `n` took, from its start to its end.
    took: Mutex<HashMap<usize, Vec<Duration>>>,
    /// Where the terminal status of a dead-lettered record goes (set by `run`).
    ends: std::sync::OnceLock<String>,
}

impl Scripted {
    fn new(script: Box<Script>, pause_ms: fn(usize) -> u64) -> Arc<Self> {
        Arc::new(Self {
            script,
            pause_ms,
            calls: Mutex::default(),
            order: Mutex::default(),
            running: AtomicUsize::new(0),
            most_at_once: AtomicUsize::new(0),
            handled: AtomicUsize::new(0),
            took: Mutex::default(),
            ends: std::sync::OnceLock::new(),
        })
    }
}

impl Handler for Scripted {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let Event::SendRequested(r) = &msg.event else {
            return Ok(vec![]);
        };
        let n: usize = r.client_ref.as_deref().unwrap().parse().unwrap();
        let began = std::time::Instant::now();
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(n).or_default();
            *c += 1;
            *c
        };
        tokio::time::sleep(Duration::from_millis((self.pause_ms)(n))).await;
        let result = (self.script)(n, call);
        self.took
            .lock()
            .unwrap()
            .entry(n)
            .or_default()
            .push(began.elapsed());
        if result.is_ok() {
            self.order
                .lock()
                .unwrap()
                .entry(r.to.as_str().to_owned())
                .or_default()
                .push(n);
            self.handled.fetch_add(1, Ordering::SeqCst);
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        result.map(|()| vec![])
    }

    fn dead_lettered(&self, event: &Event, code: &'static str, reason: &str) -> Vec<Outgoing> {
        let Event::SendRequested(r) = event else {
            return vec![];
        };
        let ended = MessageRejected {
            meta: EventMeta::derived(
                Producer {
                    name: "consumer-test",
                    version: "0",
                },
                &r.meta,
                "dead-lettered",
            ),
            message_id: r.message_id,
            tenant_id: r.tenant_id.clone(),
            to: r.to.clone(),
            lane: r.lane,
            reason_code: DEAD_LETTERED_CODE.into(),
            reason: format!("{code}: {reason}"),
        };
        let topic = self.ends.get().expect("set by run").clone();
        vec![Outgoing::new(topic, r.to.as_str(), ended)]
    }
}

/// Produces `count` records over `keys` keys (record `n` to key `n % keys`) on a topic of
/// its own with `partitions` partitions, and consumes them with `handler`.
async fn run(
    partitions: i32,
    count: usize,
    keys: usize,
    opts: impl FnOnce(&mut ConsumerOptions),
    handler: Arc<Scripted>,
) -> (
    KafkaConfig,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), KafkaError>>,
) {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let k = stack.isolated_kafka(partitions).await;
    let t = k.topics();
    handler.ends.set(t.routing_bulk.clone()).unwrap();
    let producer = EventProducer::new(&k, Arc::new(k.codec().unwrap()), "consumer-test").unwrap();
    for n in 0..count {
        let (to, e) = request(n % keys, n);
        producer
            .send(&Outgoing::new(t.requests.clone(), to, e))
            .await
            .unwrap();
    }
    let mut o = ConsumerOptions::new(unique("behaviour"), vec![t.requests.clone()], t.dlq.clone());
    o.max_backoff = Duration::from_millis(200);
    opts(&mut o);
    let (stop, task) = spawn_consumer(&k, o, plain_parts(&producer), handler);
    (k, stop, task)
}

async fn until_handled(handler: &Scripted, n: usize) {
    let done = eventually(Duration::from_secs(60), || async {
        (handler.handled.load(Ordering::SeqCst) >= n).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "{} of {n} records handled",
        handler.handled.load(Ordering::SeqCst)
    );
}

/// Handling time 0–3 ms, varying by record, so records overtake each other when allowed to.
fn jitter(n: usize) -> u64 {
    (n * 7 % 4) as u64
}

/// Handling time falling from 3 to 0 ms over each run of four records of one key (with 8
/// keys, record `n` is the `n / 8`-th of its key): run concurrently, a key's later records
/// would finish before its earlier ones.
fn later_records_faster(n: usize) -> u64 {
    3 - ((n / 8) % 4) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_one_key_are_handled_in_order_while_keys_run_concurrently() {
    let handler = Scripted::new(Box::new(|_, _| Ok(())), later_records_faster);
    let (count, keys) = (400, 8);
    let (_, stop, task) = run(2, count, keys, |_| {}, handler.clone()).await;
    until_handled(&handler, count).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    let order = handler.order.lock().unwrap();
    assert_eq!(order.len(), keys);
    for (key, ns) in order.iter() {
        assert_eq!(ns.len(), count / keys, "{key}");
        assert!(ns.is_sorted(), "{key} handled out of order: {ns:?}");
    }
    assert!(
        handler.most_at_once.load(Ordering::SeqCst) > 1,
        "keys never ran concurrently: the order proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_max_in_flight_records_at_once() {
    // Every record to its own key, unordered: only the limit holds them back.
    let handler = Scripted::new(Box::new(|_, _| Ok(())), |_| 20);
    let count = 60;
    let (_, stop, task) = run(
        1,
        count,
        count,
        |o| {
            o.max_in_flight = 4;
            o.ordered_by_key = false;
        },
        handler.clone(),
    )
    .await;
    until_handled(&handler, count).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(handler.most_at_once.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_runs_the_record_again_and_holds_back_its_key() {
    // Record 5 (key 1) fails twice before it is handled.
    let handler = Scripted::new(
        Box::new(|n, call| {
            if n == 5 && call <= 2 {
                Err(HandlerError::retry("not yet"))
            } else {
                Ok(())
            }
        }),
        jitter,
    );
    let (count, keys) = (40, 4);
    let (_, stop, task) = run(1, count, keys, |_| {}, handler.clone()).await;
    until_handled(&handler, count).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(handler.calls.lock().unwrap()[&5], 3);
    let order = handler.order.lock().unwrap();
    let key1 = &order["+447700900001"];
    assert_eq!(key1.len(), count / keys);
    assert!(
        key1.is_sorted(),
        "a later record of the key overtook the retried one: {key1:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_record_is_parked_with_its_code_after_its_terminal_status() {
    let handler = Scripted::new(
        Box::new(|n, _| match n {
            7 => Err(HandlerError::dead_letter(
                "SCRIPTED_POISON",
                "record 7 is poison",
            )),
            9 => panic!("record 9 makes the handler panic"),
            _ => Ok(()),
        }),
        jitter,
    );
    let count = 30;
    let (k, stop, task) = run(1, count, 3, |_| {}, handler.clone()).await;
    until_handled(&handler, count - 2).await;
    let dead = read_topic(&k, &k.topics().dlq, 2, Duration::from_secs(20));
    let ends = read_topic(&k, &k.topics().routing_bulk, 2, Duration::from_secs(20));
    stop.cancel();
    task.await.unwrap().unwrap();
    // Records 7 and 9 have different keys: they may end in either order.
    let mut codes: Vec<_> = dead
        .iter()
        .map(|d| {
            (
                h::get_owned(d.headers(), h::DLQ_OFFSET).map(str::to_owned),
                h::get_owned(d.headers(), h::DLQ_ERROR_CODE).map(str::to_owned),
            )
        })
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            (Some("7".into()), Some("SCRIPTED_POISON".into())),
            (Some("9".into()), Some("HANDLER_PANIC".into())),
        ]
    );
    // Each dead letter's message got its terminal status first.
    let codec = k.codec().unwrap();
    let mut ended = Vec::new();
    for m in &ends {
        let Event::MessageRejected(r) = codec.decode(m.payload().unwrap()).await.unwrap() else {
            panic!("not a rejection");
        };
        assert_eq!(r.reason_code, DEAD_LETTERED_CODE);
        ended.push(r.reason.split(':').next().unwrap().to_owned());
    }
    ended.sort();
    assert_eq!(ended, vec!["HANDLER_PANIC", "SCRIPTED_POISON"]);
    assert_eq!(handler.calls.lock().unwrap()[&7], 1, "not retried");
    assert_eq!(handler.calls.lock().unwrap()[&9], 1, "not retried");
    let handled: usize = handler.order.lock().unwrap().values().map(Vec::len).sum();
    assert_eq!(handled, count - 2, "every other record was handled");
}

/// Records the time each record (by `client_ref`) was handled.
#[derive(Default)]
struct Timed {
    handled: Mutex<Vec<(usize, std::time::Instant)>>,
}

impl Handler for Timed {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        if let Event::SendRequested(r) = &msg.event {
            let n = r.client_ref.as_deref().unwrap().parse().unwrap();
            self.handled
                .lock()
                .unwrap()
                .push((n, std::time::Instant::now()));
        }
        Ok(vec![])
    }
}

/// Issue 9, item 4: a delay topic's records are handled no sooner than their time plus the
/// topic's delay, and a record due later holds no handler slot. With a single slot, a record
/// due in 8 s is read first; the records due in 1 s on another topic, written after it, are
/// handled first and on time. (A handler sleeping until the record is due, as the dispatcher's
/// did, kept them behind it for the 8 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_due_later_wait_without_holding_a_handler_slot() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let k = stack.isolated_kafka(1).await;
    let t = k.topics();
    let (slow, fast) = (t.requests.clone(), t.requests_otp.clone());
    let (slow_delay, fast_delay) = (Duration::from_secs(8), Duration::from_secs(1));
    let producer = EventProducer::new(&k, Arc::new(k.codec().unwrap()), "due-test").unwrap();
    let mut o = ConsumerOptions::new(
        unique("due"),
        vec![slow.clone(), fast.clone()],
        t.dlq.clone(),
    );
    o.max_in_flight = 1;
    o.delays = vec![(slow.clone(), slow_delay), (fast.clone(), fast_delay)];
    let handler = Arc::new(Timed::default());
    let (stop, task) = spawn_consumer(&k, o, plain_parts(&producer), handler.clone());

    let send = |topic: &str, n: usize| {
        let (to, e) = request(n, n);
        let out = Outgoing::new(topic.to_owned(), to, e);
        let producer = producer.clone();
        async move {
            let before = std::time::Instant::now();
            producer.send(&out).await.unwrap();
            before
        }
    };
    let slow_sent = send(&slow, 0).await;
    // Let the consumer join and read it (it is held; a sleeping handler would hold the slot).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut fast_sent = Vec::new();
    for n in 1..=4 {
        fast_sent.push((n, send(&fast, n).await));
    }
    let all = eventually(Duration::from_secs(60), || async {
        let h = handler.handled.lock().unwrap().clone();
        (h.len() >= 5).then_some(h)
    })
    .await
    .expect("every record handled");
    stop.cancel();
    task.await.unwrap().unwrap();

    let at = |n: usize| all.iter().find(|(m, _)| *m == n).map(|(_, t)| *t).unwrap();
    assert!(at(0) >= slow_sent + slow_delay, "handled before it was due");
    for (n, sent) in fast_sent {
        assert!(
            at(n) >= sent + fast_delay,
            "record {n} handled before it was due"
        );
        assert!(
            at(n) < at(0),
            "record {n}, due in 1 s, waited behind the one due in 8 s"
        );
        assert!(
            at(n) < sent + Duration::from_secs(4),
            "record {n} handled {:?} after it was written",
            at(n) - sent
        );
    }
    assert_eq!(all.len(), 5, "each handled once: {all:?}");
}

/// A second member of `group`, consuming the requests topic of `k` with `handler`; and a
/// producer to that topic.
fn second_member(
    k: &KafkaConfig,
    group: String,
    handler: Arc<Scripted>,
) -> (
    EventProducer,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), KafkaError>>,
) {
    let t = k.topics();
    let producer = EventProducer::new(k, Arc::new(k.codec().unwrap()), "consumer-test").unwrap();
    let other = ConsumerOptions::new(group, vec![t.requests.clone()], t.dlq.clone());
    let (stop, task) = spawn_consumer(k, other, plain_parts(&producer), handler);
    (producer, stop, task)
}

/// A partition taken away while the loop had paused its whole assignment (full for
/// `PAUSE_AFTER`) is read again when a rebalance gives it back: librdkafka keeps a partition
/// paused across revoke and assign, and the loop, resumed meanwhile with what it still held,
/// never read it again. The chaos suite's broker kills found a dispatcher that way: alive,
/// bound, and reading nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_revoked_while_paused_is_read_again_when_it_comes_back() {
    // Record 0 holds the single slot for 8 s, past PAUSE_AFTER (5 s): the loop pauses its
    // assignment, and a second member joins while it is paused.
    let handler = Scripted::new(Box::new(|_, _| Ok(())), |n| if n == 0 { 8_000 } else { 0 });
    let (first, keys) = (16, 8);
    let mut group = String::new();
    let (k, stop, task) = run(
        2,
        first,
        keys,
        |o| {
            o.max_in_flight = 1;
            group = o.group_id.clone();
        },
        handler.clone(),
    )
    .await;
    let t = k.topics();
    let started = eventually(Duration::from_secs(30), || async {
        handler.calls.lock().unwrap().contains_key(&0).then_some(())
    })
    .await;
    assert!(started.is_some(), "record 0 never started");
    tokio::time::sleep(consumer::PAUSE_AFTER + Duration::from_secs(1)).await;

    // A second member takes a partition away, and leaves after record 0 is done.
    let (producer, other_stop, other_task) = second_member(&k, group, handler.clone());
    until_handled(&handler, first).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    other_stop.cancel();
    other_task.await.unwrap().unwrap();

    // Records written now, to both partitions, are all read by the one member left.
    let second: Vec<usize> = (first..2 * first).collect();
    for &n in &second {
        let (to, e) = request(n % keys, n);
        producer
            .send(&Outgoing::new(t.requests.clone(), to, e))
            .await
            .unwrap();
    }
    let seen = || -> Vec<usize> {
        let order = handler.order.lock().unwrap();
        let mut all: Vec<usize> = order
            .values()
            .flatten()
            .copied()
            .filter(|n| *n >= first)
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let done = eventually(Duration::from_secs(40), || async {
        (seen() == second).then_some(())
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();
    assert!(
        done.is_some(),
        "records written after the rebalance not read: handled {:?} of {second:?}",
        seen()
    );
}

/// A revoke waits for the revoked partitions' running records without holding the worker
/// thread they run on. On a runtime of one worker (the dispatcher's OTP and transactional
/// lanes share one) the wait held it, so the records could not finish, nor could anything
/// else on the runtime, until the wait gave up after 20 s. Here 8 records of 12 s run on such
/// a runtime when a second member joins and takes a partition: each must still take about
/// its 12 s, not 12 s plus the 20 s the wait froze it.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_revoke_waits_for_its_running_records_without_freezing_their_runtime() {
    let slow = Duration::from_secs(12);
    let handler = Scripted::new(Box::new(|_, _| Ok(())), |n| if n < 8 { 12_000 } else { 0 });
    let (count, keys) = (16, 8);
    let mut group = String::new();
    let (k, stop, task) = run(
        2,
        count,
        keys,
        |o| {
            o.max_in_flight = 8;
            group = o.group_id.clone();
        },
        handler.clone(),
    )
    .await;
    let started = eventually(Duration::from_secs(30), || async {
        (handler.calls.lock().unwrap().len() >= 8).then_some(())
    })
    .await;
    assert!(started.is_some(), "the 8 slow records never all started");

    // A second member joins at once: the partition it takes has slow records running.
    let (_, other_stop, other_task) = second_member(&k, group, handler.clone());
    until_handled(&handler, count).await;
    other_stop.cancel();
    other_task.await.unwrap().unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();

    let took = handler.took.lock().unwrap();
    for n in 0..8 {
        let first = took[&n][0];
        assert!(
            first < slow + Duration::from_secs(6),
            "record {n} took {first:?} for its {slow:?}: the revoke froze its runtime"
        );
    }
}

/// A dependency back from an outage is used at once: records waiting out long retry steps all
/// go through within moments of the first one that does, not each at the end of its own
/// jittered step (ADR 12, decision 20; `retry.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_waiting_out_long_retry_steps_go_through_together_once_one_does() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let through = Arc::new(Mutex::new(Vec::new()));
    let (d, t) = (down.clone(), through.clone());
    let handler = Scripted::new(
        Box::new(move |_, _| {
            if d.load(Ordering::SeqCst) {
                return Err(HandlerError::retry("the store is down"));
            }
            t.lock().unwrap().push(std::time::Instant::now());
            Ok(())
        }),
        |_| 0,
    );
    let count = 8;
    let (_, stop, task) = run(
        1,
        count,
        count,
        |o| {
            o.max_backoff = Duration::from_secs(30);
            o.ordered_by_key = false;
        },
        handler.clone(),
    )
    .await;
    // Eight failed tries each: every record now waits a step of 6.4 to 12.8 s.
    let failed_enough = eventually(Duration::from_secs(60), || async {
        let calls = handler.calls.lock().unwrap();
        (calls.len() == count && calls.values().all(|&c| c >= 8)).then_some(())
    })
    .await;
    assert!(
        failed_enough.is_some(),
        "{:?}",
        handler.calls.lock().unwrap()
    );
    down.store(false, Ordering::SeqCst);
    until_handled(&handler, count).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    let through = through.lock().unwrap();
    let spread = *through.iter().max().unwrap() - *through.iter().min().unwrap();
    // Each at the end of its own step, eight records would spread over seconds (all within
    // 2 s of each other about once in 500 runs).
    assert!(
        spread < Duration::from_secs(2),
        "went through {spread:?} apart: each waited out its own step"
    );
}
