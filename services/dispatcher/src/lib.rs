//! # dispatcher: carrier submits
//!
//! Consumes the lane topics (`sms.routing.otp|transactional|bulk`, one consumer each so OTP is
//! never queued behind bulk) and the retry topics, submits over SMPP, and records every attempt
//! ahead of time on `sms.attempts` (`AttemptStarted` before the first byte, then
//! `AttemptSubmitted` or `AttemptFailed` + `RetryScheduled`). Receipts and MO messages from the
//! binds go to `sms.dlr.raw` and `sms.inbound`. The SMPP links, and the OTP and transactional
//! lanes, each run on a thread of their own, so nothing they do waits in the run queue behind
//! bulk handlers (ADR 11, decision 17).
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`Config`]: carriers, lane concurrency, retry and unknown-outcome policy |
//! | [`attempt`] | one attempt: write-ahead, segment bookkeeping, no duplicate submits |
//! | [`breaker`] | per-carrier circuit breaker: a down carrier's decisions fail over at once |
//! | [`followup`] | retry tier / failover / give up after a failure |
//! | [`state`] | the `dispatch_state` table: attempts and accepted segments per message |
//! | [`fresh`] | which decisions skip reading their history (`dispatch_progress`) |
//! | [`lease`] | one owner per partition: leases in `dispatch_leases`, submits only inside them |
//! | [`slots`] | a carrier's window slots, taken before the write-ahead (strict priority) |
//! | [`handler`] | consumer handler (retries arrive due: the retry consumer holds them until `not_before`) |
//! | [`inbound`] | receipts and MO from the binds to Kafka |
//! | [`metrics`] | metric names |

pub mod attempt;
pub mod breaker;
pub mod config;
pub mod followup;
pub mod fresh;
pub mod handler;
pub mod inbound;
pub mod lease;
pub mod metrics;
pub mod slots;
pub mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smsflow_events::{CarrierId, Lane, Producer};
use smsflow_kafka::{ByPriority, ConsumerOptions, ConsumerParts, Fetch};
use smsflow_runtime::service::ServiceContext;
use smsflow_runtime::wiring::group_id;
use smsflow_runtime::{CancellationToken, ThreadRuntime, http};
use smsflow_smpp::{Inbound, SmppClient};
use tokio::sync::mpsc;

pub use config::Config;

/// Producer identity of the dispatcher's events.
pub const PRODUCER: Producer = Producer {
    name: "dispatcher",
    version: env!("CARGO_PKG_VERSION"),
};

pub use smsflow_runtime::service::ServiceError as Error;

/// The dispatcher's links, carrier binds and listener.
#[derive(Debug)]
pub struct Context {
    svc: ServiceContext,
    carriers: HashMap<CarrierId, SmppClient>,
    inbound: Vec<(CarrierId, mpsc::Receiver<Inbound>)>,
    /// Where the carriers' links run: a thread of their own (ADR 11, decision 17).
    links_runtime: ThreadRuntime,
    /// Where the OTP and transactional lanes run: a thread of their own, so their records
    /// never wait in the run queue behind bulk handlers (ADR 11, decision 17).
    priority_runtime: ThreadRuntime,
}

impl Context {
    /// Opens Kafka, registry and store links, starts the SMPP binds, binds the ops listener.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let svc = ServiceContext::connect(&config.kafka, &config.store, &config.http, "dispatcher")
            .await?;
        if config.carriers.is_empty() {
            return Err(Error::Config(
                "no carriers configured: add a [carriers.<id>] section".into(),
            ));
        }
        let thread = |name: &str| {
            ThreadRuntime::new(name)
                .map_err(|e| Error::Config(format!("cannot start the {name} thread: {e}")))
        };
        let links_runtime = thread("smpp-links")?;
        let priority_runtime = thread("priority-lanes")?;
        let mut carriers = HashMap::new();
        let mut inbound = Vec::new();
        for (id, c) in &config.carriers {
            let cid =
                CarrierId::parse(id).map_err(|e| Error::Config(format!("carrier {id:?}: {e}")))?;
            let mut c = c.clone();
            c.name = id.clone();
            let (client, rx) = SmppClient::start_on(c, links_runtime.handle())
                .map_err(|e| Error::Config(format!("carrier {id}: {e}")))?;
            carriers.insert(cid.clone(), client);
            inbound.push((cid, rx));
        }
        Ok(Self {
            svc,
            carriers,
            inbound,
            links_runtime,
            priority_runtime,
        })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.svc.http_addr()
    }
}

/// Dispatches until `shutdown`: consumers drain first (submits in flight get their answers),
/// then the binds close, then receipts already received are published.
pub async fn run(config: Config, ctx: Context, shutdown: CancellationToken) -> Result<(), Error> {
    let topics = config.kafka.topics();
    let Context {
        svc,
        carriers,
        inbound,
        links_runtime,
        priority_runtime,
    } = ctx;
    let ServiceContext { links, listener } = svc;
    let binds_closed = CancellationToken::new();
    let pumps: Vec<_> = inbound
        .into_iter()
        .map(|(id, rx)| {
            tokio::spawn(inbound::pump(
                id,
                rx,
                links.producer.clone(),
                topics.clone(),
                binds_closed.clone(),
            ))
        })
        .collect();
    let clients: Vec<(CarrierId, SmppClient)> = carriers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let binds = clients.clone();
    let ready = links
        .readiness(&config.kafka)
        .with("carrier_binds", move || {
            let unbound: Vec<String> = binds
                .iter()
                .filter(|(_, c)| c.bound_sessions() == 0)
                .map(|(id, _)| id.to_string())
                .collect();
            // Ready while at least one carrier is bound: failover routes cover the others.
            let all_down = unbound.len() == binds.len();
            async move {
                if all_down {
                    Err(format!("no carrier bound (down: {})", unbound.join(", ")))
                } else {
                    Ok(())
                }
            }
        });
    let server = tokio::spawn(http::serve(
        listener,
        http::ops_router(ready),
        config.http.clone(),
        shutdown.clone(),
    ));

    let producers =
        smsflow_kafka::LaneProducers::beside(&config.kafka, links.producer.clone(), "dispatcher")?;
    let breakers = carriers
        .keys()
        .map(|id| (id.clone(), breaker::Breaker::new(config.breaker.options())))
        .collect();
    let slots = slots::of(&carriers, config.write_ahead_windows);
    let dispatcher = Arc::new(attempt::Dispatcher {
        state: state::DispatchState::new(links.store.clone()).await?,
        carriers,
        breakers,
        slots,
        producers: producers.clone(),
        topics: topics.clone(),
        max_attempts: config.max_attempts,
        resubmit_unknown: config.resubmit_unknown.clone(),
        shutdown: shutdown.clone(),
        settle: config.unknown_settle(),
        unwritten: attempt::Unwritten::default(),
    });
    let freshness = fresh::Freshness::new(
        links.store.clone(),
        config.fresh_window,
        config.fresh_recent,
    )
    .await?;
    // Renewed until the consumers are done (they may still be submitting), then released.
    let leases_stop = CancellationToken::new();
    let leases = lease::Leases::start(
        links.store.clone(),
        Duration::from_secs(config.lease_secs),
        leases_stop.clone(),
    )
    .await?;
    tracing::info!(instance = leases.instance(), "partition leases ready");
    let handler = Arc::new(handler::Dispatch {
        dispatcher,
        freshness: Arc::new(freshness),
        leases: leases.clone(),
        shutdown: shutdown.clone(),
    });
    // A retry is read from its tier's topic once due (its record's time plus the tier's
    // delay), held meanwhile with its partition paused: no handler sleeps (ADR 12).
    let retry_delays: Vec<(String, Duration)> = smsflow_events::topics::RETRY_TIERS
        .iter()
        .map(|(t, d)| (topics.retry(t), *d))
        .collect();
    let retry_topics: Vec<String> = retry_delays.iter().map(|(t, _)| t.clone()).collect();
    let consumers = [
        (
            "otp",
            vec![topics.routing_otp.clone()],
            config.lanes.otp,
            Lane::Otp,
        ),
        (
            "transactional",
            vec![topics.routing_transactional.clone()],
            config.lanes.transactional,
            Lane::Transactional,
        ),
        (
            "bulk",
            vec![topics.routing_bulk.clone()],
            config.lanes.bulk,
            Lane::Bulk,
        ),
        ("retry", retry_topics, config.lanes.retry, Lane::Bulk),
    ];
    let parts = links.consumer_parts();
    // Bulk on the caller's runtime, the lanes someone waits for on a thread of their own.
    let runtimes = ByPriority {
        bulk: None,
        priority: Some(priority_runtime.handle().clone()),
    };
    let consumers = consumers
        .into_iter()
        .map(|(name, t, n, lane)| {
            let group = group_id(&config.kafka, &format!("dispatcher-{name}"));
            let mut opts = ConsumerOptions::new(group, t, topics.dlq.clone());
            opts.max_in_flight = n;
            opts.fetch = Fetch::for_lane(lane);
            opts.runtime = runtimes.for_lane(lane).clone();
            if name == "retry" {
                opts.delays = retry_delays.clone();
            }
            // Outcomes go through the lane's producer client (retries share bulk's).
            let parts = ConsumerParts {
                producer: producers.for_lane(lane).clone(),
                ..parts.clone()
            };
            (opts, parts)
        })
        .collect();
    tracing::info!(carriers = clients.len(), "dispatcher started");
    // One lane down takes the service down (drained), rather than running without it.
    let result =
        smsflow_kafka::consumer::run_each(&config.kafka, consumers, handler, shutdown.clone())
            .await;

    let grace = Duration::from_secs(config.shutdown_grace_secs);
    for (_, c) in &clients {
        c.shutdown(grace).await;
    }
    // Nothing is submitted any more: the next owners need not wait for the leases to lapse.
    leases_stop.cancel();
    leases.release_all().await;
    binds_closed.cancel();
    for p in pumps {
        let _ = p.await;
    }
    producers.flush(Duration::from_secs(10))?;
    let _ = server.await;
    drop(priority_runtime);
    drop(links_runtime);
    tracing::info!("dispatcher stopped");
    result?;
    Ok(())
}
