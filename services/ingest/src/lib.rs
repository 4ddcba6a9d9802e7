//! # ingest: the public HTTP API
//!
//! Accepts send requests, validates them (E.164, sender, length, encoding), and publishes a
//! `SendRequested` event on `sms.requests`, keyed by destination. A client gets `202` with the
//! message id only after Kafka acknowledged the event (`acks=all`, idempotent producer), so
//! *accepted means durable*.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`Config`] |
//! | [`api`] | `POST /v1/messages`, `GET /v1/messages/{id}` |
//! | [`consent`] | `PUT` / `GET /v1/consent/{number}`: opt-outs and opt-ins by API, and their history |
//! | [`validate`] | request body and validation rules |
//! | [`auth`] | API keys |
//! | [`error`] | [`ApiError`]: stable codes, HTTP statuses, JSON bodies |
//! | [`metrics`] | metric names |

pub mod api;
pub mod auth;
pub mod config;
pub mod consent;
pub mod error;
pub mod metrics;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use smsflow_events::{Producer, Topics};
use smsflow_kafka::{EventProducer, LaneProducers};
use smsflow_runtime::{CancellationToken, http};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use error::ApiError;

/// Producer identity of ingest's events.
pub const PRODUCER: Producer = Producer {
    name: "ingest",
    version: env!("CARGO_PKG_VERSION"),
};

pub use smsflow_runtime::service::ServiceError as Error;

/// State shared by the request handlers.
#[derive(Debug)]
pub struct Shared {
    config: Config,
    keys: auth::Keys,
    /// OTP and transactional requests have a client of their own.
    producers: LaneProducers,
    topics: Topics,
    http: reqwest::Client,
}

/// Everything ingest runs with: the bound listener, the producer, the key table.
#[derive(Debug)]
pub struct Context {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Context {
    /// Binds the listener and creates the Kafka producer.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        validate::warm_up();
        let keys =
            auth::Keys::from_config(&config.api_keys).map_err(|e| Error::Config(e.to_string()))?;
        let codec = Arc::new(
            config
                .kafka
                .codec()
                .map_err(smsflow_kafka::KafkaError::from)?,
        );
        codec
            .register_catalog(&config.kafka.topics().catalog())
            .await
            .map_err(smsflow_kafka::KafkaError::from)?;
        // A request the log cannot confirm in time fails then, instead of after a minute (the
        // producer also waits no longer than that for room in its queue).
        let mut kafka = config.kafka.clone();
        kafka.properties.insert(
            "delivery.timeout.ms".into(),
            config.accept_timeout().as_millis().to_string(),
        );
        let producers = LaneProducers::beside(
            &kafka,
            EventProducer::new(&kafka, codec, "ingest")?,
            "ingest",
        )?;
        let listener = http::bind(&config.http).await?;
        let shared = Arc::new(Shared {
            topics: config.kafka.topics(),
            keys,
            producers,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| Error::Config(e.to_string()))?,
            config: config.clone(),
        });
        Ok(Self { listener, shared })
    }

    /// The address the API listens on.
    pub fn http_addr(&self) -> SocketAddr {
        smsflow_runtime::service::local_addr(&self.listener)
    }
}

/// The API router (also used by tests).
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.max_body_bytes;
    let api = Router::new()
        .route("/v1/messages", post(api::send))
        .route("/v1/messages/{id}", get(api::get))
        .route(
            "/v1/consent/{number}",
            axum::routing::put(consent::put).get(consent::get),
        )
        .fallback(api::fallback)
        .layer(DefaultBodyLimit::max(limit))
        // Answers hold message details: no cache keeps them, no browser sniffs them.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // The span names the route (`/v1/consent/{number}`), never the path: paths hold
        // phone numbers, which are not logged.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", axum::extract::MatchedPath::as_str);
                    tracing::debug_span!("request", method = %req.method(), route)
                },
            ),
        )
        .with_state(shared.clone());
    http::ops_router(smsflow_runtime::wiring::kafka_readiness(
        &shared.config.kafka,
    ))
    .merge(api)
}

/// Serves the API until `shutdown`; in-flight requests finish, queued events are flushed.
pub async fn run(config: Config, ctx: Context, shutdown: CancellationToken) -> Result<(), Error> {
    tracing::info!(addr = %ctx.http_addr(), "ingest listening");
    let shared = ctx.shared.clone();
    http::serve(ctx.listener, router(shared.clone()), config.http, shutdown).await?;
    shared.producers.flush(Duration::from_secs(10))?;
    tracing::info!("ingest stopped");
    Ok(())
}
