//! The whole platform in the test process: the carrier simulator and the five services, each
//! started through its library's `Context::connect` + `run`, on a topic prefix of the test's
//! own, against the real Kafka, registry and CQL store. Each service can be stopped and
//! started again (its `run` returns after draining), to prove restarts lose nothing.

use std::net::SocketAddr;
use std::time::Duration;

use smsflow_kafka::KafkaConfig;
use smsflow_runtime::{CancellationToken, HttpConfig};
use smsflow_store::StoreConfig;
use tokio::task::JoinHandle;

use crate::Stack;

/// The local API key of the test tenant.
pub const API_KEY: &str = "sk_test_integration";
/// The test tenant.
pub const TENANT: &str = "itest";

/// A running service: its stop token and task.
#[derive(Debug)]
pub struct Running {
    stop: CancellationToken,
    task: JoinHandle<Result<(), String>>,
    /// Its HTTP address.
    pub addr: SocketAddr,
}

impl Running {
    /// Stops it gracefully (drain, commit) and waits; panics if `run` failed.
    pub async fn stop(self) {
        self.stop.cancel();
        match tokio::time::timeout(Duration::from_secs(60), self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("service failed: {e}"),
            Ok(Err(e)) => panic!("service task: {e}"),
            Err(_) => panic!("service did not stop within 60 s"),
        }
    }
}

/// Starts a service from its config, with the library's own `Context::connect` and `run`.
macro_rules! start {
    ($krate:ident, $cfg:expr) => {{
        let cfg = $cfg;
        let ctx = $krate::Context::connect(&cfg)
            .await
            .expect(concat!(stringify!($krate), " failed to start"));
        let addr = ctx.http_addr();
        let stop = CancellationToken::new();
        let s = stop.clone();
        let task =
            tokio::spawn(async move { $krate::run(cfg, ctx, s).await.map_err(|e| e.to_string()) });
        Running { stop, task, addr }
    }};
}

/// Starts dlr-ingester alone with `cfg` (a test's own topics, keyspace and timings).
pub async fn start_dlr_with(cfg: dlr_ingester::Config) -> Running {
    start!(dlr_ingester, cfg)
}

/// dlr-ingester's settings for a test on `kafka` and `store`: a local listener, and inbound
/// keywords applied to [`TENANT`] (numbers are not assigned to tenants).
pub fn dlr_config(kafka: &KafkaConfig, store: &StoreConfig) -> dlr_ingester::Config {
    dlr_ingester::Config {
        http: local(),
        kafka: kafka.clone(),
        store: store.clone(),
        keywords: dlr_ingester::keywords::KeywordConfig {
            default_tenant: Some(TENANT.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Ingest's settings for a test on `kafka`: a local listener, [`API_KEY`] for [`TENANT`].
pub fn ingest_config(kafka: KafkaConfig) -> ingest::Config {
    ingest::Config {
        http: local(),
        kafka,
        api_keys: vec![ingest::config::ApiKeyConfig {
            tenant: TENANT.into(),
            sha256: None,
            key: Some(API_KEY.into()),
        }],
        ..Default::default()
    }
}

/// Starts ingest alone with `cfg` (see [`ingest_config`]).
pub async fn start_ingest_with(cfg: ingest::Config) -> Running {
    start!(ingest, cfg)
}

/// The simulator and the five services.
#[derive(Debug)]
pub struct Platform {
    /// Kafka settings with this platform's topic prefix.
    pub kafka: KafkaConfig,
    /// CQL store settings.
    pub store: StoreConfig,
    /// The carrier simulator.
    pub sim: carrier_sim::RunningSim,
    /// ingest.
    pub ingest: Option<Running>,
    /// router.
    pub router: Option<Running>,
    /// dispatcher.
    pub dispatcher: Option<Running>,
    /// dlr-ingester.
    pub dlr: Option<Running>,
    /// analytics.
    pub analytics: Option<Running>,
    /// How it was started.
    options: Options,
}

/// What a test may change in the platform.
#[derive(Clone, Debug)]
pub struct Options {
    /// The carrier simulator's configuration (TOML): accounts and scenario.
    pub scenario: &'static str,
    /// The dispatcher's attempts per message before it gives up (`None`: its default).
    pub max_attempts: Option<i32>,
    /// The dispatcher's records in flight per lane (`None`: its defaults).
    pub dispatcher_lanes: Option<dispatcher::config::LaneConcurrency>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scenario: SCENARIO,
            max_attempts: None,
            dispatcher_lanes: None,
        }
    }
}

/// Simulator scenario for tests: happy carrier, receipts 20–60 ms after the submit.
const SCENARIO: &str = r#"
[[accounts]]
system_id = "smsflow"
password = "secret"

[scenario]
seed = 7

[scenario.receipts]
delay = { distribution = "uniform", min_ms = 20, max_ms = 60 }
outcomes = [{ state = "DELIVRD", weight = 1.0 }]
form = "text_and_tlv"
"#;

fn local() -> HttpConfig {
    HttpConfig::on("127.0.0.1:0")
}

impl Platform {
    /// Starts everything on a fresh topic prefix (6 partitions per topic).
    pub async fn start(stack: &Stack) -> Self {
        Self::start_with(stack, Options::default()).await
    }

    /// Starts everything on a fresh topic prefix, with `options`.
    pub async fn start_with(stack: &Stack, options: Options) -> Self {
        stack.require().await;
        let kafka = stack.isolated_kafka(6).await;
        let store = stack.store_config(false).await;
        let mut sim_cfg =
            carrier_sim::SimConfig::from_toml_str(options.scenario).expect("test scenario");
        // Every test simulator numbers message ids from the same start, so platforms running in
        // parallel hand out the same carrier ids to different handsets: correlation must cope,
        // as it must when a real carrier's counter wraps.
        sim_cfg.smpp_listen = "127.0.0.1:0".parse().unwrap();
        sim_cfg.http_listen = "127.0.0.1:0".parse().unwrap();
        let sim = carrier_sim::start(sim_cfg)
            .await
            .expect("carrier simulator");
        let mut p = Self {
            kafka,
            store,
            sim,
            ingest: None,
            router: None,
            dispatcher: None,
            dlr: None,
            analytics: None,
            options,
        };
        p.analytics = Some(p.start_analytics().await);
        p.dlr = Some(p.start_dlr().await);
        p.dispatcher = Some(p.start_dispatcher().await);
        p.router = Some(p.start_router().await);
        p.ingest = Some(p.start_ingest().await);
        p
    }

    /// The public API's base URL.
    pub fn api(&self) -> String {
        format!(
            "http://{}",
            self.ingest.as_ref().expect("ingest running").addr
        )
    }

    /// Starts analytics.
    pub async fn start_analytics(&self) -> Running {
        start!(
            analytics,
            analytics::Config {
                http: local(),
                kafka: self.kafka.clone(),
                store: self.store.clone(),
                ..Default::default()
            }
        )
    }

    /// Starts dlr-ingester.
    pub async fn start_dlr(&self) -> Running {
        start_dlr_with(dlr_config(&self.kafka, &self.store)).await
    }

    /// Starts the dispatcher, bound to the simulator.
    pub async fn start_dispatcher(&self) -> Running {
        let carrier = smsflow_smpp::CarrierConfig {
            host: self.sim.smpp_addr().ip().to_string(),
            port: self.sim.smpp_addr().port(),
            system_id: "smsflow".into(),
            password: smsflow_smpp::Secret("secret".into()),
            sessions: 2,
            window: 50,
            ..Default::default()
        };
        let mut cfg = dispatcher::Config {
            http: local(),
            kafka: self.kafka.clone(),
            store: self.store.clone(),
            carriers: [("sim".to_owned(), carrier)].into(),
            ..Default::default()
        };
        if let Some(n) = self.options.max_attempts {
            cfg.max_attempts = n;
        }
        if let Some(lanes) = &self.options.dispatcher_lanes {
            cfg.lanes = lanes.clone();
        }
        start!(dispatcher, cfg)
    }

    /// Starts the router with the default table (everything to `sim`).
    /// Returns once it routes: its consent book read (its `/readyz`), so requests sent
    /// right after reach it as they come, not in a burst once it is ready.
    pub async fn start_router(&self) -> Running {
        let running = start!(
            router,
            router::Config {
                http: local(),
                kafka: self.kafka.clone(),
                store: self.store.clone(),
                ..Default::default()
            }
        );
        let url = format!("http://{}/readyz", running.addr);
        let ready = crate::eventually(std::time::Duration::from_secs(30), || async {
            let r = reqwest::get(&url).await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        assert!(ready.is_some(), "the router was not ready within 30 s");
        running
    }

    /// Starts ingest with the test key.
    pub async fn start_ingest(&self) -> Running {
        let analytics = self.analytics.as_ref().expect("analytics running").addr;
        start_ingest_with(ingest::Config {
            analytics_url: format!("http://{analytics}"),
            // A broker stall on a loaded test machine is not what these tests are about.
            accept_timeout_ms: 30_000,
            ..ingest_config(self.kafka.clone())
        })
        .await
    }

    /// Stops every service (gracefully) and the simulator.
    pub async fn stop(mut self) {
        for s in [
            self.ingest.take(),
            self.router.take(),
            self.dispatcher.take(),
            self.dlr.take(),
            self.analytics.take(),
        ]
        .into_iter()
        .flatten()
        {
            s.stop().await;
        }
        self.sim.shutdown().await;
    }
}
