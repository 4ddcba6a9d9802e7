//! HTTP side: the Kannel-style carrier API, the ledger, MO injection, health and metrics.
//!
//! | route | role |
//! | --- | --- |
//! | `GET\|POST /cgi-bin/sendsms` | Kannel sendsms (see `sendsms`) |
//! | `GET /ledger/summary` | [`crate::LedgerSummary`] as JSON |
//! | `GET /ledger/segments?destination=E164` | [`crate::SegmentEntry`] list (all without `destination`) |
//! | `POST /ledger/submit-times` | `{"destinations": [E164...]}` → [`crate::DestinationSubmits`] list (first submit time per destination, for benchmarks) |
//! | `POST /ledger/reset` | clear the ledger (204) |
//! | `POST /mo` | `{"system_id"?, "from", "to", "text"}` → deliver_sm to a bound receiver (202, 409 if none) |
//! | `POST /connections/drop` | close every SMPP connection at once (204) |
//! | `POST /outage` | `{"system_id"?, "secs"}` → carrier down for that account (every account without `system_id`) for `secs`: its sessions closed, its binds refused (0x0D); `secs: 0` ends it (204; 400 bad body or secs; 404 unknown system_id; see `outage`) |
//! | `GET /healthz` | `ok` |
//! | `GET /metrics` | ledger totals and outage state in Prometheus text format |

pub(crate) mod dlr;
pub(crate) mod outage;
pub(crate) mod params;
pub(crate) mod sendsms;

use std::{fmt::Write as _, sync::Arc};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::{
    error::SimError,
    ledger::{DestinationSubmits, LedgerSummary},
    mo,
    sim::Shared,
};

/// Builds the HTTP router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/cgi-bin/sendsms",
            get(sendsms::sendsms).post(sendsms::sendsms),
        )
        .route("/ledger/summary", get(summary))
        .route("/ledger/segments", get(segments))
        .route("/ledger/submit-times", post(submit_times))
        .route("/ledger/reset", post(reset))
        .route("/mo", post(inject_mo))
        .route("/connections/drop", post(drop_connections))
        .route("/outage", post(outage::outage))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

/// Serves until shutdown.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let stop = shared.shutdown.clone();
    let app = router(shared);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    {
        tracing::warn!(error = %e, "http server failed");
    }
    tracing::debug!("http listener stopped");
}

async fn summary(State(shared): State<Arc<Shared>>) -> Json<LedgerSummary> {
    Json(shared.ledger.summary())
}

#[derive(Debug, Deserialize)]
struct SegmentsQuery {
    destination: Option<String>,
}

async fn segments(State(shared): State<Arc<Shared>>, Query(q): Query<SegmentsQuery>) -> Response {
    let list = match q.destination {
        Some(d) => shared.ledger.segments(&d),
        None => shared.ledger.all_segments(),
    };
    Json(list).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitTimesRequest {
    destinations: Vec<String>,
}

async fn submit_times(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<SubmitTimesRequest>,
) -> Json<Vec<DestinationSubmits>> {
    Json(shared.ledger.submit_times(&req.destinations))
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.ledger.reset();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoRequest {
    system_id: Option<String>,
    from: String,
    to: String,
    text: String,
    /// Sent as this many parts with a concatenation UDH (default 1: one deliver_sm).
    parts: Option<u8>,
}

async fn inject_mo(State(shared): State<Arc<Shared>>, Json(req): Json<MoRequest>) -> Response {
    let system_id = req
        .system_id
        .or_else(|| shared.config.accounts.first().map(|a| a.system_id.clone()))
        .unwrap_or_default();
    match mo::inject(
        &shared,
        &system_id,
        &req.from,
        &req.to,
        &req.text,
        req.parts.unwrap_or(1),
    )
    .await
    {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "status": "sent", "system_id": system_id })),
        )
            .into_response(),
        Err(e @ SimError::NoReceiver(_)) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn drop_connections(State(shared): State<Arc<Shared>>) -> StatusCode {
    let n = shared.drop_connections().len();
    tracing::info!(connections = n, "dropping all connections on request");
    StatusCode::NO_CONTENT
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.ledger.summary();
    let mut out = String::new();
    let mut put = |name: &str, kind: &str, help: &str, v: u64| {
        let _ = writeln!(out, "# HELP smsflow_carrier_sim_{name} {help}");
        let _ = writeln!(out, "# TYPE smsflow_carrier_sim_{name} {kind}");
        let _ = writeln!(out, "smsflow_carrier_sim_{name} {v}");
    };
    put(
        "submits_received_total",
        "counter",
        "Submits received.",
        s.submits_received,
    );
    put(
        "submits_accepted_total",
        "counter",
        "Submits accepted.",
        s.accepted,
    );
    put(
        "submits_throttled_total",
        "counter",
        "Submits throttled.",
        s.throttled,
    );
    put(
        "submits_failed_total",
        "counter",
        "Submits failed by the scenario.",
        s.failed,
    );
    put(
        "submits_dropped_total",
        "counter",
        "Submits left unanswered by a drop.",
        s.dropped,
    );
    put(
        "segments_unique",
        "gauge",
        "Distinct segments in the ledger.",
        s.unique_segments,
    );
    put(
        "segments_duplicate",
        "gauge",
        "Segments accepted more than once.",
        s.duplicate_segments,
    );
    put(
        "receipts_sent_total",
        "counter",
        "Receipts sent.",
        s.receipts_sent,
    );
    put(
        "receipts_acked_total",
        "counter",
        "Receipts acknowledged.",
        s.receipts_acked,
    );
    put("mo_sent_total", "counter", "MO deliver_sm sent.", s.mo_sent);
    put("binds_total", "counter", "Successful binds.", s.binds);
    put(
        "bind_failures_total",
        "counter",
        "Refused binds.",
        s.bind_failures,
    );
    put(
        "sessions",
        "gauge",
        "Bound SMPP sessions.",
        s.current_sessions,
    );
    put(
        "connections_total",
        "counter",
        "TCP connections accepted.",
        s.connections,
    );
    put(
        "generic_nacks_total",
        "counter",
        "generic_nack sent.",
        s.generic_nacks,
    );
    let _ = writeln!(
        out,
        "# HELP smsflow_carrier_sim_outage_active 1 while the carrier is down for the account."
    );
    let _ = writeln!(out, "# TYPE smsflow_carrier_sim_outage_active gauge");
    for (system_id, down) in shared.outage_states() {
        let _ = writeln!(
            out,
            "smsflow_carrier_sim_outage_active{{system_id=\"{}\"}} {}",
            label_value(&system_id),
            u8::from(down)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Escapes a Prometheus label value (backslash, quote, newline).
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
