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

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use serde::Deserialize;
use smsflow_kafka::KafkaConfig;
use smsflow_store::{Store, StoreConfig};

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
        let mut k = self.kafka.clone();
        k.topic_prefix = format!("{}.", unique("t"));
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
