//! # smsflow-integration: tests against the real stack
//!
//! The tests in `integration/tests/` talk to a real Kafka broker, a real CQL server and a real
//! schema registry (started by `scripts/stack.sh`, which `make test` runs). Nothing is mocked.
//! They read the same `SMSFLOW_*` environment variables as the services, so they can point at
//! another cluster.
//!
//! Every test isolates itself: its own topic prefix (topics created from the catalog), its own
//! consumer groups, its own keyspace when it needs one. Tests therefore run in parallel.
//!
//! When a server is missing, [`Stack::require`] fails at once with a message naming it and how
//! to start it, instead of letting a client retry until a timeout.

#![allow(clippy::print_stdout)] // test helpers report progress

pub mod platform;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use serde::Deserialize;
use smsflow_kafka::{
    ConsumerOptions, ConsumerParts, EventProducer, Handler, KafkaConfig, KafkaError, NoDedupe,
};
use smsflow_store::{Store, StoreConfig};
use tokio_util::sync::CancellationToken;

/// Connection settings of the stack under test (defaults: the local stack).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Stack {
    /// Kafka and registry.
    pub kafka: KafkaConfig,
    /// CQL store.
    pub store: StoreConfig,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// What every test topic prefix starts with: `t-<pid>-<n>-<random>.`.
const TOPIC_PREFIX: &str = "t";

/// Deletes the topics of test processes that are gone (`t-<pid>-…` of a pid not running):
/// no test deletes its own, and a broker that has hosted ~20,000 test partitions runs out of
/// file descriptors. Run once per test process, before its first topics; on a thread of its
/// own (a `#[tokio::test]` runtime may be single-threaded). Best effort: a failure is printed.
fn delete_stale_test_topics(kafka: &KafkaConfig) {
    let cfg = kafka.client_config();
    let run = move || -> anyhow::Result<usize> {
        let md_client: BaseConsumer = cfg.create()?;
        let md = md_client.fetch_metadata(None, Duration::from_secs(10))?;
        let stale: Vec<String> = md
            .topics()
            .iter()
            .map(|t| t.name().to_owned())
            .filter(|n| stale_test_name(n, TOPIC_PREFIX, '-', process_alive))
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
            cfg.create()?;
        let names: Vec<&str> = stale.iter().map(String::as_str).collect();
        let opts =
            rdkafka::admin::AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(admin.delete_topics(&names, &opts))?;
        Ok(stale.len())
    };
    match std::thread::spawn(run).join() {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => println!("[integration] deleted {n} topics of earlier test runs"),
        Ok(Err(e)) => println!("[integration] could not delete earlier test topics: {e}"),
        Err(_) => println!("[integration] deleting earlier test topics panicked"),
    }
}

/// What every fresh test keyspace starts with: `ks_<pid>_<n>_<random>`.
const KEYSPACE_PREFIX: &str = "ks";

/// Drops the keyspaces of test processes that are gone (`ks_<pid>_…` of a pid not running):
/// no test drops its own, and every keyspace left is opened again at each start of the CQL
/// server (~1,300 tables took it 12 s more per start, which the chaos suite's `cassandra`
/// target pays at every kill). Run once per test process, before its first fresh keyspace.
/// Best effort: a failure is printed.
async fn drop_stale_test_keyspaces(store: &Store) {
    let run = async {
        let names: Vec<String> = store
            .keyspace_names()
            .await?
            .into_iter()
            .filter(|n| stale_test_name(n, KEYSPACE_PREFIX, '_', process_alive))
            .collect();
        for ks in &names {
            store.drop_keyspace(ks).await?;
        }
        Ok::<_, smsflow_store::StoreError>(names.len())
    };
    match run.await {
        Ok(0) => {}
        Ok(n) => println!("[integration] dropped {n} keyspaces of earlier test runs"),
        Err(e) => println!("[integration] could not drop earlier test keyspaces: {e}"),
    }
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether `name` is a test topic (`t-<pid>-<n>-<random>.<name>`, `sep` `-`) or keyspace
/// (`ks_<pid>_<n>_<random>`, `sep` `_`) of a process `alive` says is gone.
fn stale_test_name(name: &str, prefix: &str, sep: char, alive: impl Fn(u32) -> bool) -> bool {
    let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix(sep)) else {
        return false;
    };
    let mut parts = rest.split(sep);
    match (
        parts.next().map(str::parse::<u32>),
        parts.next(),
        parts.next(),
    ) {
        (Some(Ok(pid)), Some(_n), Some(_rand_and_name)) => !alive(pid),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale_test_topic(topic: &str, alive: impl Fn(u32) -> bool) -> bool {
        stale_test_name(topic, TOPIC_PREFIX, '-', alive)
    }

    #[test]
    fn only_test_topics_of_processes_that_are_gone_are_stale() {
        let alive = |pid| pid == 42;
        assert!(stale_test_topic("t-7-3-ab12cd.sms.requests", alive));
        assert!(
            !stale_test_topic("t-42-3-ab12cd.sms.requests", alive),
            "a running test's"
        );
        assert!(!stale_test_topic("sms.requests", alive));
        assert!(!stale_test_topic("bench-20261206-rate.sms.requests", alive));
        assert!(!stale_test_topic("tenant-7-3-x", alive), "not our prefix");
        assert!(!stale_test_topic("t-x-3-ab12cd.sms.requests", alive));
    }

    #[test]
    fn only_test_keyspaces_of_processes_that_are_gone_are_stale() {
        let alive = |pid| pid == 42;
        let stale = |ks| stale_test_name(ks, KEYSPACE_PREFIX, '_', alive);
        assert!(stale("ks_7_3_ab12cd"));
        assert!(!stale("ks_42_3_ab12cd"), "a running test's");
        assert!(!stale("smsflow"));
        assert!(!stale("bench_20261206_rate_2000"));
        assert!(!stale("ksx_7_3_ab12cd"), "not our prefix");
        assert!(!stale("ks_7"), "not a test keyspace's shape");
    }
}

/// A name unique to this test run: `<what>-<pid>-<n>-<random>`, lowercase.
pub fn unique(what: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("{what}-{}-{n}-{}", std::process::id(), &r[..6])
}

impl Stack {
    /// Settings from `SMSFLOW_*` environment variables over the local defaults.
    pub fn from_env() -> Self {
        smsflow_runtime::config::load(None)
            .expect("SMSFLOW_* environment is not a valid configuration")
    }

    /// Fails the test at once, with a clear message, unless Kafka, the registry and the CQL
    /// store all answer.
    pub async fn require(&self) -> &Self {
        self.require_kafka();
        self.require_registry().await;
        self.require_store().await;
        self
    }

    /// Panics unless Kafka answers a metadata request.
    pub fn require_kafka(&self) {
        if let Err(e) = smsflow_kafka::admin::ping(&self.kafka, Duration::from_secs(5)) {
            panic!(
                "Kafka is not reachable at {} ({e}). Start the local stack with `make up` \
                 or `scripts/stack.sh start`, or set SMSFLOW_KAFKA__BOOTSTRAP_SERVERS.",
                self.kafka.bootstrap_servers
            );
        }
    }

    /// Panics unless the schema registry answers.
    pub async fn require_registry(&self) {
        let url = format!("{}/subjects", self.kafka.schema_registry_url);
        let r = reqwest::Client::new()
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Err(e) = r.and_then(|r| r.error_for_status()) {
            panic!(
                "The schema registry is not reachable at {} ({e}). Start the local stack with \
                 `make up`, or set SMSFLOW_KAFKA__SCHEMA_REGISTRY_URL.",
                self.kafka.schema_registry_url
            );
        }
    }

    /// Panics unless the CQL store answers; returns a connected store.
    pub async fn require_store(&self) -> Store {
        let attempt = async {
            let s = Store::connect(&self.store).await?;
            s.ping().await?;
            Ok::<_, smsflow_store::StoreError>(s)
        };
        match tokio::time::timeout(Duration::from_secs(15), attempt).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => panic!(
                "The CQL store is not reachable at {:?} ({e}). Start the local stack with `make up`, \
                 or set SMSFLOW_STORE__CONTACT_POINTS.",
                self.store.contact_points
            ),
            Err(_) => panic!(
                "The CQL store at {:?} did not answer within 15 s.",
                self.store.contact_points
            ),
        }
    }

    /// Kafka settings with a fresh topic prefix, and every catalog topic created under it
    /// (with `partitions` partitions) and its schemas registered.
    pub async fn isolated_kafka(&self, partitions: i32) -> KafkaConfig {
        static CLEANED: std::sync::Once = std::sync::Once::new();
        CLEANED.call_once(|| delete_stale_test_topics(&self.kafka));
        let mut k = self.kafka.clone();
        k.topic_prefix = format!("{}.", unique(TOPIC_PREFIX));
        k.partitions = partitions;
        let catalog = k.topics().catalog();
        smsflow_kafka::admin::ensure_topics(&k, &catalog)
            .await
            .expect("creating test topics");
        k
    }

    /// A CQL store config on the shared keyspace `smsflow` (migrated by `admin setup`), or on a
    /// fresh keyspace when `fresh` is true (migrated here).
    pub async fn store_config(&self, fresh: bool) -> StoreConfig {
        let mut s = self.store.clone();
        if fresh {
            s.keyspace = unique("ks").replace('-', "_");
        }
        let store = self.require_store().await;
        let store = if fresh {
            static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
            CLEANED
                .get_or_init(|| drop_stale_test_keyspaces(&store))
                .await;
            Store::connect(&s).await.expect("connect")
        } else {
            store
        };
        smsflow_store::migrate::migrate(&store, &s)
            .await
            .expect("migrating the test keyspace");
        s
    }
}

/// Reads `topic` from the beginning with a throwaway group until `n` records arrived or
/// `timeout` passed; returns what arrived.
pub fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    n: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let mut cc = kafka.client_config();
    cc.set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = cc.create().expect("reader consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.detach());
        }
    }
    out
}

/// The payload of a record, or an empty slice.
pub fn payload(m: &OwnedMessage) -> &[u8] {
    m.payload().unwrap_or_default()
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A handler for tests: collects every event it sees and, when `output_topic` is set, emits one
/// output per `SendRequested` (a copy caused by the input) to that topic.
#[derive(Debug, Default)]
pub struct Collect {
    /// Events seen, in order.
    pub seen: std::sync::Mutex<Vec<smsflow_events::Event>>,
    /// Where to emit outputs, if anywhere.
    pub output_topic: Option<String>,
}

impl Collect {
    /// A collector emitting to `output_topic` (or nothing).
    pub fn new(output_topic: Option<String>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            seen: Default::default(),
            output_topic,
        })
    }

    /// How many events were seen.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl smsflow_kafka::Handler for Collect {
    async fn handle(
        &self,
        msg: &smsflow_kafka::Incoming<'_>,
    ) -> Result<Vec<smsflow_kafka::Outgoing>, smsflow_kafka::HandlerError> {
        use smsflow_events::{Event, EventMeta, Producer};
        const P: Producer = Producer {
            name: "integration",
            version: "0",
        };
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(msg.event.clone());
        Ok(match (&self.output_topic, &msg.event) {
            (Some(t), Event::SendRequested(r)) => {
                let mut out = r.clone();
                out.meta = EventMeta::new(P, Some(r.meta.event_id));
                vec![smsflow_kafka::Outgoing::new(t.clone(), r.to.as_str(), out)]
            }
            _ => vec![],
        })
    }
}

/// Consumer parts publishing through `p`, without dedupe or observer.
pub fn plain_parts(p: &EventProducer) -> ConsumerParts {
    ConsumerParts {
        producer: p.clone(),
        dedupe: Arc::new(NoDedupe),
        observer: None,
    }
}

/// Runs the consumer loop every service runs, with `handler`, on a task; cancel the token to
/// stop it, then await the task for its end.
pub fn spawn_consumer<H: Handler>(
    k: &KafkaConfig,
    opts: ConsumerOptions,
    parts: ConsumerParts,
    handler: Arc<H>,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), KafkaError>>,
) {
    let stop = CancellationToken::new();
    let (k, s) = (k.clone(), stop.clone());
    let task =
        tokio::spawn(
            async move { smsflow_kafka::consumer::run(&k, opts, parts, handler, s).await },
        );
    (stop, task)
}
