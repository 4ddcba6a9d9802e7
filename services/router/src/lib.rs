//! # router: consent, encoding and route selection
//!
//! Consumes the request topics (`sms.requests.otp`, `.transactional`, and the public
//! `sms.requests`, one consumer each); for each `SendRequested` decides the carrier from the versioned
//! route table (longest prefix, tenant, lane, weight), computes encoding, segments and cost,
//! and publishes `RoutingDecided` (or `MessageRejected` with a reason code) on the lane topic
//! `sms.routing.<lane>`, so OTP never waits behind bulk.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`Config`], the route table as configured |
//! | [`routes`] | [`routes::RouteTable`] and the selection rule |
//! | [`consent`] | the consent book followed from `sms.consent`: who opted out |
//! | [`decide`] | one request → one decision |
//! | [`handler`] | the consumer handler |
//! | [`metrics`] | metric names |

pub mod config;
pub mod consent;
pub mod decide;
pub mod handler;
pub mod metrics;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use smsflow_events::{Lane, Producer};
use smsflow_kafka::{ConsumerOptions, ConsumerParts, Fetch, LaneProducers};
use smsflow_runtime::service::{ServiceContext, ServiceError};
use smsflow_runtime::wiring::group_id;
use smsflow_runtime::{CancellationToken, http};

pub use config::Config;
pub use smsflow_runtime::service::ServiceError as Error;

/// Producer identity of the router's events.
pub const PRODUCER: Producer = Producer {
    name: "router",
    version: env!("CARGO_PKG_VERSION"),
};

/// The router's links, listener and route table.
#[derive(Debug)]
pub struct Context {
    svc: ServiceContext,
    table: routes::RouteTable,
}

impl Context {
    /// Checks the route table, opens Kafka, registry and store links, binds the ops listener.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let table = routes::RouteTable::from_config(&config.route_table)
            .map_err(|e| ServiceError::Config(e.to_string()))?;
        let svc =
            ServiceContext::connect(&config.kafka, &config.store, &config.http, "router").await?;
        Ok(Self { svc, table })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.svc.http_addr()
    }
}

/// Routes requests until `shutdown`, then drains in-flight work and commits.
///
/// One consumer per request topic (`sms.requests.otp`, `sms.requests.transactional`,
/// `sms.requests`), each its own group: an OTP request never waits behind the records of
/// another lane, however deep the bulk backlog in `sms.requests` is.
pub async fn run(config: Config, ctx: Context, shutdown: CancellationToken) -> Result<(), Error> {
    let topics = config.kafka.topics();
    // Everything stops on `stop`: at shutdown, or when the consent follower fails, since
    // routing on a book nobody updates any more would miss every later opt-out.
    let stop = shutdown.child_token();
    // The consent book is whole before the first request is routed: a router that started
    // routing while still reading `sms.consent` would send to recipients who opted out.
    // `/readyz` says so meanwhile, and again if the follower ends.
    let consent = Arc::new(consent::ConsentBook::default());
    let mut readiness = ctx.svc.links.readiness(&config.kafka);
    let follower = if config.consent.enabled {
        let follower = smsflow_kafka::table::follow(
            &config.kafka,
            &topics.consent,
            ctx.svc.links.producer.codec().clone(),
            consent.clone(),
            stop.clone(),
        )?;
        let following = follower.following();
        readiness = readiness.with("consent", move || {
            let ok = following();
            async move {
                ok.then_some(())
                    .ok_or_else(|| "sms.consent not read to its end: nothing is routed".into())
            }
        });
        Some(follower)
    } else {
        tracing::warn!("consent not followed: requests to opted-out recipients are routed");
        None
    };
    let server = tokio::spawn(http::serve(
        ctx.svc.listener,
        http::ops_router(readiness),
        config.http.clone(),
        stop.clone(),
    ));
    if let Some(f) = &follower
        && !f.caught_up().await
    {
        stop.cancel();
        let _ = server.await;
        return if shutdown.is_cancelled() {
            Ok(())
        } else {
            Err(follower_failed())
        };
    }
    let handler = Arc::new(handler::Router {
        topics: topics.clone(),
        table: ctx.table,
        validity: config.validity,
        consent,
        consent_policy: config.consent.clone(),
    });
    tracing::info!(
        version = handler.table.version,
        routes = handler.table.routes.len(),
        "router started"
    );
    // Each request topic's decisions go through its lane's producer client; the public topic
    // (any lane, from external producers too) shares bulk's.
    let consumers = [
        ("router-otp", &topics.requests_otp, Lane::Otp),
        (
            "router-transactional",
            &topics.requests_transactional,
            Lane::Transactional,
        ),
        // The public topic keeps the group it always had.
        ("router", &topics.requests, Lane::Bulk),
    ];
    let parts = ctx.svc.links.consumer_parts();
    let producers = LaneProducers::beside(&config.kafka, parts.producer.clone(), "router")?;
    let consumers = consumers
        .into_iter()
        .map(|(group, topic, lane)| {
            let parts = ConsumerParts {
                producer: producers.for_lane(lane).clone(),
                ..parts.clone()
            };
            let group = group_id(&config.kafka, group);
            let mut opts = ConsumerOptions::new(group, vec![topic.clone()], topics.dlq.clone());
            if let Some(n) = config.max_in_flight {
                opts.max_in_flight = n;
            }
            opts.fetch = Fetch::for_lane(lane);
            (opts, parts)
        })
        .collect();
    // The follower ends at `stop`, or by failing: then routing stops too.
    let watch = async {
        let Some(mut f) = follower else {
            return Ok(());
        };
        f.ended().await;
        if stop.is_cancelled() {
            return Ok(());
        }
        tracing::error!("the consent follower ended: the router stops routing");
        stop.cancel();
        Err(follower_failed())
    };
    let routing = async {
        let r = smsflow_kafka::consumer::run_each(&config.kafka, consumers, handler, stop.clone())
            .await;
        // A consumer that failed ends the watch (and the listener) too.
        stop.cancel();
        r
    };
    let (result, watched) = tokio::join!(routing, watch);
    producers.flush(std::time::Duration::from_secs(10))?;
    let _ = server.await;
    tracing::info!("router stopped");
    result?;
    watched
}

fn follower_failed() -> Error {
    ServiceError::Kafka(smsflow_kafka::KafkaError::Aborted {
        group: "consent follower".into(),
        reason: "it stopped following sms.consent (see the log)".into(),
    })
}
