//! The consumer loop every service runs: decode, dedupe, handle, produce outputs, then commit.
//!
//! Guarantees:
//! - **At-least-once, commit after outputs.** A record's offset is stored only after its
//!   handler's outputs were acknowledged by Kafka (and its dedupe mark written); commits carry
//!   only stored offsets, and a partition's position never passes an unfinished record.
//! - **Concurrency with per-key order.** Up to `max_in_flight` records are processed at once;
//!   a record whose key is in flight waits in a queue of that key (the loop never blocks).
//!   At the limit the loop stops taking records (librdkafka's own queue bound then stops the
//!   fetching); if it stays full for [`PAUSE_AFTER`], the assignment is paused and the loop
//!   keeps polling, so a slow handler never gets the member evicted from its group. Pausing
//!   at once would make librdkafka drop its prefetched records and fetch them again at every
//!   resume: at a few thousand records/s that refetching cost more than the handlers.
//! - **Poison never stalls a partition.** Undecodable records and handler dead-letters go to
//!   `sms.dlq` with headers saying topic, partition, offset, error and service; a handler
//!   panic is a dead letter too. For a decoded record the handler may first publish the
//!   events that end its message ([`Handler::dead_lettered`]), so none ends silently there.
//! - **Transient failures are retried**, with capped, jittered exponential backoff, never
//!   dropped; when a record that had failed goes through, the others waiting to retry try
//!   again at once (`retry.rs`): a dependency back from an outage is used from then on.
//! - **Graceful shutdown**: stop taking records, let in-flight ones finish (retries give up at
//!   shutdown without storing their offset), commit synchronously.
//! - **Records due later wait without a slot.** A topic in [`ConsumerOptions::delays`] has its
//!   records handled no sooner than their timestamp plus the delay; one read early is held
//!   and its partition paused until then (`due.rs`), so no handler sleeps.
//! - **Rebalance**: before partitions are revoked, their running records are let finish
//!   (bounded wait, the worker thread handed over meanwhile; none when the assignment was
//!   lost) and stored offsets are committed, so the next owner never runs a record
//!   the old owner is still running; queued records of revoked partitions are dropped (their
//!   offsets were never stored, so the next owner gets them). A partition assigned is
//!   resumed at once: one paused before it was revoked would otherwise stay paused.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Message, OwnedHeaders, OwnedMessage};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use smsflow_events::{Event, EventKind, Lane};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

use crate::config::KafkaConfig;
use crate::dedupe::Dedupe;
use crate::dlq::{self, DeadLetter};
use crate::due::{Admit, Holds};
use crate::error::{HandlerError, KafkaError};
use crate::headers;
use crate::metrics;
use crate::offsets::Tracker;
use crate::producer::{ByPriority, EventProducer, Outgoing};
use crate::retry::{Retries, RetryState, Woken};

/// A decoded record handed to a [`Handler`].
#[derive(Debug)]
pub struct Incoming<'a> {
    /// Topic it was read from.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Which assignment of the partition the record was read under: it grows whenever this
    /// consumer gets the partition (again), so a handler can tell that another instance may
    /// have handled the partition in between.
    pub assignment: u64,
    /// Record key.
    pub key: Option<&'a [u8]>,
    /// Record headers (trace context among them).
    pub headers: Option<&'a OwnedHeaders>,
    /// The event.
    pub event: Event,
}

/// What a service does with each event. Outputs are produced by the loop, which commits the
/// input only once they are acknowledged.
pub trait Handler: Send + Sync + 'static {
    /// Whether records of `kind` concern this handler. A record whose `smsflow.event.type`
    /// header names a kind it does not want is passed over without being decoded (the
    /// dlr-ingester skips `AttemptStarted`, a third of what it reads). Records without the
    /// header, or naming no known kind, are always decoded and handled.
    fn wants(&self, kind: EventKind) -> bool {
        let _ = kind;
        true
    }

    /// Handles one event; returns the events to publish as a consequence.
    fn handle(
        &self,
        msg: &Incoming<'_>,
    ) -> impl Future<Output = Result<Vec<Outgoing>, HandlerError>> + Send;

    /// The events that end the message of a record this handler dead-letters, or panicked
    /// on: a terminal status, so that an accepted message never ends silently in the DLQ
    /// (issue 9, item 6). Published, acknowledged, before the dead letter; none by default.
    fn dead_lettered(&self, event: &Event, code: &'static str, reason: &str) -> Vec<Outgoing> {
        let _ = (event, code, reason);
        vec![]
    }

    /// Called by the loop when `partition` of `topic` was revoked, after the bounded wait for
    /// its running records (a record still running then sees the partition revoked: see
    /// [`HandlerError::Abandon`]). Every record of the partition read under an
    /// [`Incoming::assignment`] up to `through` belongs to a revoked assignment, including
    /// one that has not yet reached the handler; a later assignment numbers above it.
    /// `through` is the consumer's latest assignment number of any partition, not only of
    /// this one. Must not block: it runs on the loop.
    fn revoked(&self, topic: &str, partition: i32, through: u64) {
        let _ = (topic, partition, through);
    }
}

/// How a consumer runs.
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Consumer group id; also the dedupe scope and the `smsflow.dlq.service` header.
    pub group_id: String,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Records processed concurrently.
    pub max_in_flight: usize,
    /// How often stored offsets are committed.
    pub commit_interval: Duration,
    /// Upper bound of the retry backoff.
    pub max_backoff: Duration,
    /// Dead-letter topic.
    pub dlq_topic: String,
    /// Where to start without a committed offset: `earliest` or `latest`.
    pub auto_offset_reset: String,
    /// Whether records of one key run one after the other (default). A handler whose effects
    /// do not depend on order (the analytics views) turns it off, so records of one key
    /// don't wait for each other.
    pub ordered_by_key: bool,
    /// How the consumer fetches: at once, or in fuller, fewer requests.
    pub fetch: Fetch,
    /// Where the loop and its handlers run under [`run_each`]: the caller's runtime (`None`)
    /// or another one, e.g. a thread of its own for a lane someone waits for, so its records
    /// never wait in the run queue behind another lane's handlers.
    pub runtime: Option<tokio::runtime::Handle>,
    /// Topics whose records are handled no sooner than their timestamp plus the delay (delay
    /// topics, e.g. the retry tiers): a record read early waits, its partition paused, holding
    /// no handler slot (`due.rs`).
    pub delays: Vec<(String, Duration)>,
}

/// How a consumer fetches. The broker's cost is per fetch request more than per record, so a
/// consumer whose records no person waits for lets them gather.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fetch {
    /// A fetch returns as soon as any record is there (waits up to 20 ms when none is).
    #[default]
    Prompt,
    /// A fetch waits for 64 KiB of records or 50 ms, whichever comes first.
    Batched,
}

impl Fetch {
    /// Batched for the bulk lane, prompt for the lanes someone waits for.
    pub fn for_lane(lane: Lane) -> Self {
        *ByPriority {
            bulk: Fetch::Batched,
            priority: Fetch::Prompt,
        }
        .for_lane(lane)
    }
}

impl ConsumerOptions {
    /// Options with defaults: 1024 in flight, commit every second, backoff up to 10 s.
    pub fn new(
        group_id: impl Into<String>,
        topics: Vec<String>,
        dlq_topic: impl Into<String>,
    ) -> Self {
        Self {
            group_id: group_id.into(),
            topics,
            max_in_flight: 1024,
            commit_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            dlq_topic: dlq_topic.into(),
            auto_offset_reset: "earliest".into(),
            ordered_by_key: true,
            fetch: Fetch::Prompt,
            runtime: None,
            delays: Vec::new(),
        }
    }
}

/// How a record ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Handled and its outputs acknowledged.
    Handled,
    /// Already handled before (dedupe hit); skipped.
    Duplicate,
    /// Sent to the dead-letter topic.
    DeadLettered,
    /// Given up at shutdown; its offset is not stored, so it will be seen again.
    Abandoned,
}

impl Outcome {
    /// Index of its label in [`metrics::OUTCOMES`].
    fn metric(self) -> usize {
        match self {
            Outcome::Handled => 0,
            Outcome::Duplicate => 1,
            Outcome::DeadLettered => 2,
            Outcome::Abandoned => 3,
        }
    }
}

/// A finished record, reported to an optional observer (used by tests and tools).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// How it ended.
    pub outcome: Outcome,
}

/// Everything a running consumer needs besides its handler.
#[derive(Clone)]
pub struct ConsumerParts {
    /// Producer for outputs and dead letters.
    pub producer: EventProducer,
    /// Dedupe hook.
    pub dedupe: Arc<dyn Dedupe>,
    /// Optional observer of finished records.
    pub observer: Option<tokio::sync::mpsc::UnboundedSender<Finished>>,
}

impl std::fmt::Debug for ConsumerParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerParts").finish_non_exhaustive()
    }
}

/// Records running per partition, shared by the loop, the record tasks and the rebalance
/// callback (which waits for a revoked partition's records before letting it go).
#[derive(Default)]
struct Running {
    /// Topic → partition → running records (looked up by `&str`, without allocating).
    counts: Mutex<HashMap<String, HashMap<i32, usize>>>,
    changed: Condvar,
}

impl Running {
    fn add(&self, topic: &str, partition: i32) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let parts = match c.get_mut(topic) {
            Some(p) => p,
            None => c.entry(topic.to_owned()).or_default(),
        };
        *parts.entry(partition).or_default() += 1;
    }

    fn done(&self, topic: &str, partition: i32) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = c.get_mut(topic).and_then(|p| p.get_mut(&partition)) {
            *n = n.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// Waits until none of `parts` has a running record, or `limit` has passed.
    fn wait_idle(&self, parts: &[(String, i32)], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let running =
                |(t, p): &(String, i32)| c.get(t).and_then(|m| m.get(p)).copied().unwrap_or(0);
            if parts.iter().all(|k| running(k) == 0) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            c = self
                .changed
                .wait_timeout(c, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// How long the loop may sit at its in-flight limit without polling before it pauses the
/// assignment and polls again (well inside `max.poll.interval.ms`).
pub const PAUSE_AFTER: Duration = Duration::from_secs(5);

/// How long a revoke waits for the revoked partitions' running records.
const REVOKE_DRAIN: Duration = Duration::from_secs(20);

/// Runs `f`, which blocks, without holding up the runtime's other tasks. The rebalance
/// callback runs inside the loop's poll, on a worker thread, and the records it waits for may
/// need that very thread: on a runtime of one worker (the dispatcher's priority lanes) the
/// wait froze them, and every other consumer of the runtime, until it gave up after
/// [`REVOKE_DRAIN`].
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Rebalance hook: before partitions go, let their running records finish and commit what
/// is stored, so the next owner neither runs a record twice at once nor redoes finished work
/// it can't recognise; then tell the loop.
struct LoopContext {
    running: Arc<Running>,
    revoked: Mutex<Vec<(String, i32)>>,
}

impl ClientContext for LoopContext {}

impl ConsumerContext for LoopContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition()))
                .collect();
            if consumer.assignment_lost() {
                // The session ended (the broker was away): the group has already given the
                // partitions to whoever rejoined, and the coordinator refuses our commits.
                // Waiting would only keep this loop from rejoining.
                warn!(
                    partitions = parts.len(),
                    "assignment lost; records still running are given up"
                );
            } else {
                if !off_the_runtime(|| self.running.wait_idle(&parts, REVOKE_DRAIN)) {
                    warn!(
                        partitions = parts.len(),
                        "revoking partitions with records still running"
                    );
                }
                if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                    debug!(error = %e, "nothing to commit before revoke");
                }
            }
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(parts);
        }
    }

    /// A partition assigned is read, whatever it was before: librdkafka keeps a partition
    /// paused across revoke and assign, so one the loop paused (full, or holding a record not
    /// yet due) and lost in a rebalance would come back paused, and never be read again. A
    /// loop still full pauses it again on its next turn.
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance
            && let Err(e) = consumer.resume(tpl)
        {
            warn!(error = %e, "assigned partitions not resumed");
        }
    }
}

/// Shared by the loop and the per-record tasks.
struct Shared<H> {
    opts: ConsumerOptions,
    parts: ConsumerParts,
    handler: Arc<H>,
    shutdown: CancellationToken,
    running: Arc<Running>,
    metrics: metrics::ConsumerMetrics,
    /// The retry waits of this consumer's records (`retry.rs`).
    retries: Retries,
}

/// Result of one record's task.
struct Done {
    /// The record, handed back to the loop.
    msg: OwnedMessage,
    generation: u64,
    outcome: Outcome,
}

/// Runs the consumer until `shutdown` is cancelled, then drains and commits.
pub async fn run<H: Handler>(
    cfg: &KafkaConfig,
    opts: ConsumerOptions,
    parts: ConsumerParts,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    let mut cc = cfg.client_config();
    cc.set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "2000")
        .set("fetch.wait.max.ms", "20")
        .set("partition.assignment.strategy", "cooperative-sticky");
    if opts.fetch == Fetch::Batched {
        cc.set("fetch.min.bytes", "65536")
            .set("fetch.wait.max.ms", "50");
    }
    // Configured properties may tune the above, never the delivery guarantees below.
    for (k, v) in &cfg.properties {
        cc.set(k, v);
    }
    cc.set("group.id", &opts.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", &opts.auto_offset_reset)
        .set("isolation.level", "read_committed");
    let running = Arc::new(Running::default());
    let consumer: StreamConsumer<LoopContext> = cc.create_with_context(LoopContext {
        running: running.clone(),
        revoked: Mutex::default(),
    })?;
    let topics: Vec<&str> = opts.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    info!(group = %opts.group_id, topics = ?opts.topics, "consumer started");

    let metrics = metrics::ConsumerMetrics::new(&opts.group_id, &opts.topics);
    let shared = Arc::new(Shared {
        opts,
        parts,
        handler,
        shutdown: shutdown.clone(),
        running,
        metrics,
        retries: Retries::default(),
    });
    let mut state = LoopState {
        holds: Holds::new(&shared.opts.delays),
        ..LoopState::default()
    };
    let mut in_flight: FuturesUnordered<JoinHandle<Done>> = FuturesUnordered::new();
    let mut commit_tick = tokio::time::interval(shared.opts.commit_interval);
    commit_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let group = shared.opts.group_id.clone();
    let max = shared.opts.max_in_flight.max(1);

    loop {
        state.apply_revocations(&consumer, &*shared.handler);
        // At the limit, stop taking records; stuck there, pause and keep polling (heartbeats,
        // rebalances, no eviction).
        let full = in_flight.len() + state.queued >= max;
        state.throttle(&consumer, full);
        let take = !full || state.paused;
        shared.metrics.in_flight(in_flight.len() + state.queued);
        shared.metrics.held(state.holds.len());
        let due_at = state.holds.next_at();
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                if let Some(next) = state.finish(&consumer, &shared, done, true) {
                    in_flight.push(next);
                }
            }
            _ = commit_tick.tick() => state.commit(&consumer, CommitMode::Async),
            () = sleep_until(due_at), if due_at.is_some() => {
                state.apply_revocations(&consumer, &*shared.handler);
                in_flight.extend(state.release(&consumer, &shared));
            }
            r = consumer.recv(), if take => match r {
                Err(e) => {
                    warn!(error = %e, "kafka consumer error");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(m) => {
                    let msg = m.detach();
                    shared.metrics.consumed(msg.topic());
                    state.apply_revocations(&consumer, &*shared.handler);
                    if let Some(task) = state.admit(&consumer, &shared, msg) {
                        in_flight.push(task);
                    }
                }
            }
        }
    }

    info!(group = %group, in_flight = in_flight.len(), queued = state.queued, "consumer draining");
    while let Some(done) = in_flight.next().await {
        // Queued records are not started now: their offsets stay unstored, they come back.
        let _ = state.finish(&consumer, &shared, done, false);
    }
    state.apply_revocations(&consumer, &*shared.handler);
    state.commit(&consumer, CommitMode::Sync);
    info!(group = %group, "consumer stopped");
    Ok(())
}

/// Runs one consumer per entry of `consumers` with the same handler and parts (a service
/// that reads several topics in separate groups, so that one never waits behind another:
/// the router's request topics, the dispatcher's lanes). If one fails, the others are
/// stopped and drained too (a service does not run with a lane missing); returns the first
/// error once every consumer has stopped.
pub async fn run_all<H: Handler>(
    cfg: &KafkaConfig,
    consumers: Vec<ConsumerOptions>,
    parts: ConsumerParts,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    let consumers = consumers
        .into_iter()
        .map(|opts| (opts, parts.clone()))
        .collect();
    run_each(cfg, consumers, handler, shutdown).await
}

/// [`run_all`] with parts of their own per consumer (e.g. a producer of its own for the
/// OTP lane's outputs, so they never queue behind bulk records in the client).
pub async fn run_each<H: Handler>(
    cfg: &KafkaConfig,
    consumers: Vec<(ConsumerOptions, ConsumerParts)>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    let stop = shutdown.child_token();
    let runs = consumers.into_iter().map(|(opts, parts)| {
        let (handler, stop, cfg) = (handler.clone(), stop.clone(), cfg.clone());
        let group = opts.group_id.clone();
        let runtime = opts.runtime.clone();
        let consume = {
            let stop = stop.clone();
            async move { run(&cfg, opts, parts, handler, stop).await }
        };
        async move {
            let r = match runtime {
                None => consume.await,
                Some(rt) => rt.spawn(consume).await.unwrap_or_else(|e| {
                    Err(KafkaError::Aborted {
                        group: group.clone(),
                        reason: e.to_string(),
                    })
                }),
            };
            if let Err(e) = &r {
                tracing::error!(group = %group, error = %e, "consumer failed; stopping the others");
                stop.cancel();
            }
            r
        }
    });
    futures::future::join_all(runs).await.into_iter().collect()
}

/// Loop-local bookkeeping.
#[derive(Default)]
struct LoopState {
    tracker: Tracker,
    /// Keys with a record running, and the records of that key waiting their turn.
    keys: HashMap<Vec<u8>, VecDeque<(OwnedMessage, u64)>>,
    /// Records waiting in `keys` queues.
    queued: usize,
    /// Whether the assignment is paused.
    paused: bool,
    /// Since when the loop has been at its in-flight limit.
    full_since: Option<Instant>,
    /// Something was stored since the last commit.
    dirty: bool,
    /// Records read before they were due, their partitions paused.
    holds: Holds,
}

impl LoopState {
    /// Takes a record, or holds it (pausing its partition) while it is not due.
    fn admit<H: Handler>(
        &mut self,
        consumer: &StreamConsumer<LoopContext>,
        shared: &Arc<Shared<H>>,
        msg: OwnedMessage,
    ) -> Option<JoinHandle<Done>> {
        // A consumer without delay topics pays nothing per record here.
        if !self.holds.any_delays() {
            return self.take(shared, msg);
        }
        let at = self.holds.due_at(&msg, std::time::SystemTime::now());
        match self.holds.admit(msg, at) {
            Admit::Take(msg) => self.take(shared, msg),
            Admit::Held { pause } => {
                if let Some((topic, partition)) = pause {
                    pause_one(consumer, &topic, partition, true);
                }
                None
            }
        }
    }

    /// Takes the held records that are due, and resumes the paused partitions that hold no
    /// more.
    fn release<H: Handler>(
        &mut self,
        consumer: &StreamConsumer<LoopContext>,
        shared: &Arc<Shared<H>>,
    ) -> Vec<JoinHandle<Done>> {
        let (due, emptied) = self.holds.release(tokio::time::Instant::now());
        let tasks = due
            .into_iter()
            .filter_map(|msg| self.take(shared, msg))
            .collect();
        // A partition the whole loop paused (full) stays paused until `throttle` resumes it.
        if !self.paused {
            for (topic, partition) in emptied {
                pause_one(consumer, &topic, partition, false);
            }
        }
        tasks
    }

    /// Takes a record: runs it now, or queues it behind a running record of the same key.
    fn take<H: Handler>(
        &mut self,
        shared: &Arc<Shared<H>>,
        msg: OwnedMessage,
    ) -> Option<JoinHandle<Done>> {
        let generation = self
            .tracker
            .start(msg.topic(), msg.partition(), msg.offset());
        let key = match msg.key() {
            Some(k) if shared.opts.ordered_by_key => k,
            _ => return Some(spawn(shared, msg, generation)),
        };
        if let Some(waiting) = self.keys.get_mut(key) {
            waiting.push_back((msg, generation));
            self.queued += 1;
            return None;
        }
        self.keys.insert(key.to_vec(), VecDeque::new());
        Some(spawn(shared, msg, generation))
    }

    /// Records a finished record; returns the next record of its key to run, if any (and if
    /// `start_next`).
    fn finish<H: Handler>(
        &mut self,
        consumer: &StreamConsumer<LoopContext>,
        shared: &Arc<Shared<H>>,
        done: Result<Done, tokio::task::JoinError>,
        start_next: bool,
    ) -> Option<JoinHandle<Done>> {
        // A task cancelled by runtime shutdown: its offset stays unstored.
        let Done {
            msg,
            generation,
            outcome,
        } = done.ok()?;
        let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
        if let Some(obs) = &shared.parts.observer {
            let _ = obs.send(Finished {
                topic: topic.to_owned(),
                partition,
                offset,
                outcome,
            });
        }
        if outcome != Outcome::Abandoned
            && let Some(pos) = self.tracker.finish(topic, partition, offset, generation)
        {
            let mut tpl = TopicPartitionList::new();
            if tpl
                .add_partition_offset(topic, partition, Offset::Offset(pos))
                .is_ok()
            {
                match consumer.store_offsets(&tpl) {
                    Ok(()) => self.dirty = true,
                    Err(e) => debug!(error = %e, "offset not stored (partition revoked?)"),
                }
            }
        }
        let key = msg.key()?;
        let waiting = self.keys.get_mut(key)?;
        match waiting.pop_front() {
            Some((next, generation)) if start_next => {
                self.queued -= 1;
                Some(spawn(shared, next, generation))
            }
            _ => {
                // Nothing waits, or we are draining: the key is free (queued records come back).
                self.queued -= waiting.len();
                self.keys.remove(key);
                None
            }
        }
    }

    /// Pauses the assignment once the loop has been full for [`PAUSE_AFTER`]; resumes it when
    /// there is room again.
    fn throttle(&mut self, consumer: &StreamConsumer<LoopContext>, full: bool) {
        let since = match (full, self.full_since) {
            (false, _) => {
                self.full_since = None;
                None
            }
            (true, Some(t)) => Some(t),
            (true, None) => {
                let now = Instant::now();
                self.full_since = Some(now);
                Some(now)
            }
        };
        let pause = since.is_some_and(|t| t.elapsed() >= PAUSE_AFTER);
        if pause == self.paused && !pause {
            return;
        }
        let Ok(assignment) = consumer.assignment() else {
            return;
        };
        // Re-pausing while full also covers partitions a rebalance just assigned.
        let r = if pause {
            consumer.pause(&assignment)
        } else {
            // Partitions holding records not yet due stay paused.
            let mut resume = TopicPartitionList::new();
            for e in assignment.elements() {
                if !self.holds.is_paused(e.topic(), e.partition()) {
                    resume.add_partition(e.topic(), e.partition());
                }
            }
            consumer.resume(&resume)
        };
        match r {
            Ok(()) => self.paused = pause,
            Err(e) => debug!(error = %e, "pause/resume failed"),
        }
    }

    fn commit(&mut self, consumer: &StreamConsumer<LoopContext>, mode: CommitMode) {
        if !self.dirty {
            return;
        }
        match consumer.commit_consumer_state(mode) {
            Ok(()) => self.dirty = false,
            Err(e) => debug!(error = %e, "commit failed; retried at the next tick"),
        }
    }

    /// Forgets revoked partitions, and drops their records that were queued but not started.
    fn apply_revocations<H: Handler>(
        &mut self,
        consumer: &StreamConsumer<LoopContext>,
        handler: &H,
    ) {
        let revoked = std::mem::take(
            &mut *consumer
                .context()
                .revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if revoked.is_empty() {
            return;
        }
        // Revokes are recorded inside the poll, and applied here before any record polled
        // after them is taken (`Tracker::start`): a later assignment numbers above `through`.
        let through = self.tracker.latest_generation();
        for (t, p) in &revoked {
            self.tracker.revoke(t, *p);
            self.holds.revoke(t, *p);
            handler.revoked(t, *p, through);
        }
        for waiting in self.keys.values_mut() {
            let before = waiting.len();
            waiting.retain(|(m, _)| {
                !revoked
                    .iter()
                    .any(|(t, p)| m.topic() == t && m.partition() == *p)
            });
            self.queued -= before - waiting.len();
        }
    }
}

/// Pauses (or resumes) one partition.
fn pause_one(consumer: &StreamConsumer<LoopContext>, topic: &str, partition: i32, pause: bool) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let r = if pause {
        consumer.pause(&tpl)
    } else {
        consumer.resume(&tpl)
    };
    if let Err(e) = r {
        debug!(error = %e, topic, partition, pause, "pause/resume of a partition failed (revoked?)");
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Spawns the task of one record.
fn spawn<H: Handler>(
    shared: &Arc<Shared<H>>,
    msg: OwnedMessage,
    generation: u64,
) -> JoinHandle<Done> {
    shared.running.add(msg.topic(), msg.partition());
    let shared = shared.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let outcome = match AssertUnwindSafe(process(&shared, &msg, generation))
            .catch_unwind()
            .await
        {
            Ok(o) => o,
            Err(_) => dead_letter(&shared, &msg, "HANDLER_PANIC", "the handler panicked").await,
        };
        shared
            .metrics
            .processed(outcome.metric(), started.elapsed().as_secs_f64());
        shared.running.done(msg.topic(), msg.partition());
        Done {
            msg,
            generation,
            outcome,
        }
    })
}

/// Waits out the retry step of a record whose try failed; false if shutdown came first.
async fn backoff<H>(shared: &Shared<H>, st: &mut RetryState) -> bool {
    shared.metrics.retried();
    let woken = shared
        .retries
        .wait(st, shared.opts.max_backoff, &shared.shutdown)
        .await;
    woken != Woken::Shutdown
}

/// Decode → dedupe → handle → produce outputs → mark handled.
async fn process<H: Handler>(shared: &Shared<H>, msg: &OwnedMessage, assignment: u64) -> Outcome {
    let Some(payload) = msg.payload() else {
        return dead_letter(shared, msg, "EMPTY_PAYLOAD", "record has no value").await;
    };
    let kind =
        headers::get_owned(msg.headers(), headers::EVENT_TYPE).and_then(EventKind::from_name);
    if kind.is_some_and(|k| !shared.handler.wants(k)) {
        return Outcome::Handled;
    }
    let codec = shared.parts.producer.codec();
    let mut retry = shared.retries.start();
    let event = loop {
        match codec.decode(payload).await {
            Ok(e) => break e,
            Err(e) if e.is_retriable() => {
                warn!(error = %e, "cannot decode yet, retrying");
                if !backoff(shared, &mut retry).await {
                    return Outcome::Abandoned;
                }
            }
            Err(e) => return dead_letter(shared, msg, e.code(), &e.to_string()).await,
        }
    };
    let scope = shared.opts.group_id.as_str();
    let event_id = event.meta().event_id;
    loop {
        match shared.parts.dedupe.seen(scope, event_id).await {
            Ok(true) => {
                shared.retries.succeeded(&mut retry);
                return Outcome::Duplicate;
            }
            Ok(false) => break,
            Err(e) => {
                warn!(%event_id, error = %e, "dedupe lookup failed, retrying");
                if !backoff(shared, &mut retry).await {
                    return Outcome::Abandoned;
                }
            }
        }
    }
    // At debug: created only when a trace exporter (or a debug log filter) wants it, so the
    // lines below name the event themselves (ADR 11).
    let span = tracing::debug_span!("handle", group = scope, event_type = event.kind().name(), event_id = %event_id);
    headers::set_parent_from(&span, msg.headers());
    let incoming = Incoming {
        topic: msg.topic(),
        partition: msg.partition(),
        offset: msg.offset(),
        assignment,
        key: msg.key(),
        headers: msg.headers(),
        event,
    };
    let outputs = loop {
        // A panic is the handler's verdict on this record: dead-lettered, its message ended.
        let handled = AssertUnwindSafe(shared.handler.handle(&incoming).instrument(span.clone()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::dead_letter(
                    "HANDLER_PANIC",
                    "the handler panicked",
                ))
            });
        match handled {
            Ok(outs) => {
                shared.retries.succeeded(&mut retry);
                break outs;
            }
            Err(HandlerError::Retry(reason)) => {
                warn!(parent: &span, %event_id, reason = %reason, "handler failed transiently, retrying");
                if !backoff(shared, &mut retry).await {
                    return Outcome::Abandoned;
                }
            }
            Err(HandlerError::DeadLetter { code, reason }) => {
                let ends = shared.handler.dead_lettered(&incoming.event, code, &reason);
                while let Err(e) = shared.parts.producer.send_all(&ends).await {
                    warn!(parent: &span, %event_id, error = %e, "terminal status of a dead letter not acknowledged, retrying");
                    if !backoff(shared, &mut retry).await {
                        return Outcome::Abandoned;
                    }
                }
                return dead_letter(shared, msg, code, &reason).await;
            }
            Err(HandlerError::Abandon(reason)) => {
                debug!(parent: &span, %event_id, reason = %reason, "record given up (partition revoked)");
                return Outcome::Abandoned;
            }
        }
    };
    // Retrying a send is safe: the producer is idempotent and output ids are derived from
    // the input's, so a repeated output is recognisable downstream.
    while let Err(e) = shared
        .parts
        .producer
        .send_all(&outputs)
        .instrument(span.clone())
        .await
    {
        warn!(parent: &span, %event_id, error = %e, "outputs not acknowledged, retrying");
        if !backoff(shared, &mut retry).await {
            return Outcome::Abandoned;
        }
    }
    shared.retries.succeeded(&mut retry);
    while let Err(e) = shared.parts.dedupe.record(scope, event_id).await {
        warn!(parent: &span, %event_id, error = %e, "dedupe mark failed, retrying");
        if !backoff(shared, &mut retry).await {
            return Outcome::Abandoned;
        }
    }
    Outcome::Handled
}

async fn dead_letter<H>(
    shared: &Shared<H>,
    msg: &OwnedMessage,
    code: &'static str,
    reason: &str,
) -> Outcome {
    let dead = DeadLetter {
        topic: msg.topic(),
        partition: msg.partition(),
        offset: msg.offset(),
        code,
        reason,
        service: &shared.opts.group_id,
    };
    warn!(
        topic = dead.topic,
        partition = dead.partition,
        offset = dead.offset,
        code,
        reason,
        "dead-lettering record"
    );
    let mut retry = shared.retries.start();
    loop {
        let sent = dlq::send(
            &shared.parts.producer,
            &shared.opts.dlq_topic,
            msg.key(),
            msg.payload(),
            msg.headers(),
            &dead,
        )
        .await;
        match sent {
            Ok(_) => {
                metrics::dead_lettered(&shared.opts.group_id, code);
                return Outcome::DeadLettered;
            }
            Err(e) => {
                warn!(error = %e, "dead-letter not acknowledged, retrying");
                if !backoff(shared, &mut retry).await {
                    return Outcome::Abandoned;
                }
            }
        }
    }
}
