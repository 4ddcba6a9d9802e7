//! # analytics: views of the event log, and the query API
//!
//! Consumes every message topic (`sms.requests`, the lanes, `sms.attempts`, `sms.dlr`) and
//! materialises, in the CQL store, `message_view`: one row per message with its details and
//! every event (the timeline; the status is computed from it when read). Writes are upserts
//! with event-derived cell timestamps and entries keyed by event id, so the view is a function
//! of the log; events are grouped per message and flush (ADR 11). Also keeps every consent
//! change of `sms.consent` (`consent_history`, ADR 13). Serves `GET /v1/messages/{id}` and
//! `GET /v1/consent/{tenant}/{number}`.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`Config`] |
//! | [`status`] | status rule: rank, then time |
//! | [`views`] | the `message_view` row: writes and reads |
//! | [`writer`] | group commit: one batch per message per flush |
//! | [`consent`] | the `consent_history` rows and their query |
//! | [`handler`] | consumer handler |
//! | [`api`] | query API |
//! | [`metrics`] | metric names |

pub mod api;
pub mod config;
pub mod consent;
pub mod handler;
pub mod metrics;
pub mod status;
pub mod views;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use smsflow_kafka::{ConsumerOptions, Fetch};
use smsflow_runtime::service::ServiceContext;
use smsflow_runtime::wiring::group_id;
use smsflow_runtime::{CancellationToken, http};

pub use config::Config;
pub use smsflow_runtime::service::ServiceError as Error;

/// Analytics' links, views and listener.
#[derive(Debug)]
pub struct Context {
    svc: ServiceContext,
    views: Arc<views::Views>,
    consent: Arc<consent::ConsentHistory>,
}

impl Context {
    /// Opens the links, prepares the view statements, binds the listener.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let svc = ServiceContext::connect(&config.kafka, &config.store, &config.http, "analytics")
            .await?;
        let views = Arc::new(views::Views::new(svc.links.store.clone()).await?);
        let consent = Arc::new(consent::ConsentHistory::new(svc.links.store.clone()).await?);
        Ok(Self {
            svc,
            views,
            consent,
        })
    }

    /// Where the query API is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.svc.http_addr()
    }
}

/// Materialises views and serves queries until `shutdown`.
pub async fn run(config: Config, ctx: Context, shutdown: CancellationToken) -> Result<(), Error> {
    let t = config.kafka.topics();
    let mut topics: Vec<String> = t.request_topics().map(str::to_owned).to_vec();
    topics.extend([
        t.routing_otp.clone(),
        t.routing_transactional.clone(),
        t.routing_bulk.clone(),
        t.attempts.clone(),
        t.dlr.clone(),
        t.consent.clone(),
    ]);
    let mut opts =
        ConsumerOptions::new(group_id(&config.kafka, "analytics"), topics, t.dlq.clone());
    opts.max_in_flight = config.max_in_flight;
    // Views are read by people, not raced by the millisecond: fewer, fuller fetches.
    opts.fetch = Fetch::Batched;
    // The view is order-independent: records of one key need not wait for each other.
    opts.ordered_by_key = false;
    let api = Router::new()
        .route("/v1/messages/{id}", get(api::message))
        .with_state(ctx.views.clone())
        .merge(
            Router::new()
                .route("/v1/consent/{tenant}/{number}", get(consent::get))
                .with_state(ctx.consent.clone()),
        );
    let router = http::ops_router(ctx.svc.links.readiness(&config.kafka)).merge(api);
    let server = tokio::spawn(http::serve(
        ctx.svc.listener,
        router,
        config.http.clone(),
        shutdown.clone(),
    ));
    let parts = ctx.svc.links.consumer_parts();
    let flush = writer::FlushOptions {
        linger: std::time::Duration::from_millis(config.flush_linger_ms),
        max_events: config.flush_max_events,
        hold: std::time::Duration::from_millis(config.flush_hold_ms),
        per_request: config.flush_messages_per_request,
        request_bytes: config.flush_request_bytes,
        ..writer::FlushOptions::default()
    };
    let (writer, writer_task) = writer::ViewWriter::start(ctx.views.clone(), flush);
    let handler = Arc::new(handler::Materialise {
        writer,
        consent: ctx.consent.clone(),
    });
    tracing::info!("analytics started");
    smsflow_kafka::consumer::run(&config.kafka, opts, parts, handler, shutdown).await?;
    let _ = writer_task.await;
    let _ = server.await;
    tracing::info!("analytics stopped");
    Ok(())
}
