//! # dlr-ingester: delivery receipts
//!
//! Consumes `sms.attempts` (to learn carrier message ids) and `sms.dlr.raw` (receipts as the
//! carriers sent them, ids normalised per carrier), correlates each receipt to its message and
//! segment, and publishes `DeliveryReported` on `sms.dlr`, with the message's terminal status
//! once every segment is final. A receipt may be handled before its submit (different topics,
//! possibly different instances): it waits for the submit, and one that waits too long is
//! parked and applied by a periodic sweep once the submit is recorded. It also reads
//! `sms.inbound` for STOP, START and HELP ([`keywords`]): consent changes and their replies.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`Config`] |
//! | [`correlate`] | the handler: correlate, park early receipts, drop duplicates |
//! | [`cache`] | recent correlations in memory: no store read for a receipt that follows its submit |
//! | [`settle`] | a message's terminal status from its segments |
//! | [`sweep`] | applies parked receipts whose submit is recorded by now |
//! | [`keywords`] | STOP / START / HELP: `ConsentChanged` on `sms.consent`, and the reply |
//! | [`deadline`] | the receipt timeout: a message without every receipt ends `expired` |
//! | [`tables`] | `dlr_correlation`, `dlr_pending`, `dlr_segments` |
//! | [`metrics`] | metric names |

pub mod assemble;
pub mod cache;
pub mod config;
pub mod correlate;
pub mod deadline;
pub mod keywords;
pub mod metrics;
pub mod settle;
pub mod sweep;
pub mod tables;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smsflow_events::Producer;
use smsflow_kafka::{ConsumerOptions, Fetch};
use smsflow_runtime::service::ServiceContext;
use smsflow_runtime::wiring::group_id;
use smsflow_runtime::{CancellationToken, http};

pub use config::Config;
pub use smsflow_runtime::service::ServiceError as Error;

/// Producer identity of dlr-ingester's events.
pub const PRODUCER: Producer = Producer {
    name: "dlr-ingester",
    version: env!("CARGO_PKG_VERSION"),
};

/// dlr-ingester's links and listener, and its keyword handler (checked before anything is
/// opened: a configuration error is one).
#[derive(Debug)]
pub struct Context {
    svc: ServiceContext,
    keywords: Option<keywords::KeywordHandler>,
}

impl Context {
    /// Opens Kafka, registry and store links and binds the ops listener.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let keywords = config
            .keywords
            .enabled
            .then(|| keywords::KeywordHandler::new(config.kafka.topics(), config.keywords.clone()))
            .transpose()
            .map_err(smsflow_runtime::service::ServiceError::Config)?;
        let svc =
            ServiceContext::connect(&config.kafka, &config.store, &config.http, "dlr-ingester")
                .await?;
        Ok(Self { svc, keywords })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.svc.http_addr()
    }
}

/// Correlates receipts until `shutdown`, then drains and commits.
pub async fn run(config: Config, ctx: Context, shutdown: CancellationToken) -> Result<(), Error> {
    let Context { svc: ctx, keywords } = ctx;
    let topics = config.kafka.topics();
    // Submits and receipts have a consumer (and group) each: a receipt waiting for its submit
    // holds a slot of the receipts' consumer only.
    let topics_attempts = topics.attempts.clone();
    let consumers = [
        ("dlr-ingester-submits", topics.attempts.clone()),
        ("dlr-ingester", topics.dlr_raw.clone()),
    ]
    .into_iter()
    .map(|(name, topic)| {
        let mut opts = ConsumerOptions::new(
            group_id(&config.kafka, name),
            vec![topic],
            topics.dlq.clone(),
        );
        if let Some(n) = config.max_in_flight {
            opts.max_in_flight = n;
        }
        // Nobody waits on a receipt's report by the millisecond: fewer, fuller fetches.
        opts.fetch = Fetch::Batched;
        opts
    })
    .collect();
    let server = tokio::spawn(http::serve(
        ctx.listener,
        http::ops_router(ctx.links.readiness(&config.kafka)),
        config.http.clone(),
        shutdown.clone(),
    ));
    let handler = Arc::new(correlate::Correlator {
        tables: tables::Tables::new(ctx.links.store.clone()).await?,
        topics,
        cache: cache::CorrelationCache::new(
            config
                .correlation_cache
                .unwrap_or(config::DEFAULT_CORRELATION_CACHE),
        ),
        early_receipt_wait: Duration::from_millis(config.early_receipt_wait_ms),
        shutdown: shutdown.clone(),
    });
    let sweeper = tokio::spawn(sweep::run(
        handler.clone(),
        ctx.links.producer.clone(),
        Duration::from_secs(config.park_sweep_secs.max(1)),
        shutdown.clone(),
    ));
    // The receipt timeout: `sms.attempts` once more, each submit read when it is that old.
    let deadlines = (config.receipt_timeout_secs > 0).then(|| {
        let mut opts = ConsumerOptions::new(
            group_id(&config.kafka, "dlr-ingester-deadlines"),
            vec![topics_attempts.clone()],
            handler.topics.dlq.clone(),
        );
        opts.delays = vec![(
            topics_attempts,
            Duration::from_secs(config.receipt_timeout_secs),
        )];
        opts.fetch = Fetch::Batched;
        opts
    });
    // Inbound messages, read for keywords: a group of its own, so a burst of replies never
    // waits behind receipts.
    let keywords = match keywords {
        None => None,
        Some(keywords) => {
            let opts = ConsumerOptions::new(
                group_id(&config.kafka, "dlr-ingester-keywords"),
                vec![keywords.topics.inbound.clone()],
                keywords.topics.dlq.clone(),
            );
            let parts = assemble::PartStore::new(ctx.links.store.clone()).await?;
            let handler = keywords::InboundHandler { keywords, parts };
            Some((opts, Arc::new(handler)))
        }
    };
    tracing::info!("dlr-ingester started");
    // One consumer failing stops the others (drained), as `run_all` does among its own.
    let stop = shutdown.child_token();
    let stopping = |r: Result<(), smsflow_kafka::KafkaError>| {
        if r.is_err() {
            stop.cancel();
        }
        r
    };
    let correlating = async {
        stopping(
            smsflow_kafka::consumer::run_all(
                &config.kafka,
                consumers,
                ctx.links.consumer_parts(),
                handler.clone(),
                stop.clone(),
            )
            .await,
        )
    };
    let timing_out = async {
        match deadlines {
            None => Ok(()),
            Some(opts) => stopping(
                smsflow_kafka::consumer::run(
                    &config.kafka,
                    opts,
                    ctx.links.consumer_parts(),
                    Arc::new(deadline::Deadlines {
                        correlator: handler.clone(),
                    }),
                    stop.clone(),
                )
                .await,
            ),
        }
    };
    let reading_keywords = async {
        match keywords {
            None => Ok(()),
            Some((opts, handler)) => stopping(
                smsflow_kafka::consumer::run(
                    &config.kafka,
                    opts,
                    ctx.links.consumer_parts(),
                    handler,
                    stop.clone(),
                )
                .await,
            ),
        }
    };
    let (correlated, timed_out, read) = tokio::join!(correlating, timing_out, reading_keywords);
    correlated?;
    timed_out?;
    read?;
    let _ = sweeper.await;
    ctx.links.producer.flush(Duration::from_secs(10))?;
    let _ = server.await;
    tracing::info!("dlr-ingester stopped");
    Ok(())
}
