//! The public HTTP API: `POST /v1/messages` (202 only once Kafka holds the request) and
//! `GET /v1/messages/{id}` (answered from the analytics service's views).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use smsflow_events::{EventMeta, MessageId, SendRequested, Timestamp};
use smsflow_kafka::Outgoing;
use tracing::{debug, warn};

use crate::error::ApiError;
use crate::validate::parse_and_validate;
use crate::{PRODUCER, Shared};

fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large(limit)
        }
        other => ApiError::malformed(other.body_text()),
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// `POST /v1/messages`.
pub async fn send(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let tenant = s.keys.authenticate(&headers)?;
    let body = body_or_error(body, s.config.max_body_bytes)?;
    if !is_json(&headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let (req, v) = parse_and_validate(&body, &s.config.rules())?;
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(k) = &idempotency_key {
        crate::validate::at_most(k, "Idempotency-Key")?;
    }
    let message_id = match &idempotency_key {
        Some(k) => MessageId::from_idempotency_key(&tenant, k),
        None => MessageId::new(),
    };
    let mut meta = EventMeta::new(PRODUCER, None);
    if idempotency_key.is_some() {
        // Same key, same event id: a retried request is dropped downstream as a duplicate.
        meta.event_id = smsflow_events::EventId::derived(message_id.as_uuid(), "requested");
    }
    let keyed = idempotency_key.is_some();
    let created_at = Timestamp::now();
    let event = SendRequested {
        meta,
        message_id,
        tenant_id: tenant.clone(),
        to: v.to.clone(),
        from: v.from.clone(),
        text: req.text,
        message_type: v.message_type,
        lane: v.lane,
        client_ref: req.client_ref.clone(),
        idempotency_key,
        callback_url: req.callback_url,
        send_at: None,
        expires_at: None,
        smart_encoding: req.smart_encoding,
        channel: "api".into(),
    };
    let started = Instant::now();
    let out = Outgoing::new(s.topics.requests_for(v.lane), v.to.as_str(), event);
    // The producer gives up after `accept_timeout_ms` (its delivery timeout, which also
    // bounds its queue wait: `Context::connect`), but not always by then: with the broker
    // gone it failed records up to 9 s late (ADR 12, decision 1). So the request stops
    // waiting at the deadline itself; the record may still be stored, which the 503 says.
    let deadline = s.config.accept_timeout();
    let confirmed = tokio::time::timeout(deadline, s.producers.for_lane(v.lane).send(&out)).await;
    let not_confirmed = match confirmed {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no acknowledgement by the deadline".to_owned()),
    };
    if let Some(error) = not_confirmed {
        warn!(%error, "request not confirmed by the log");
        return Err(ApiError::not_confirmed(deadline.as_secs_f64(), keyed));
    }
    crate::metrics::accepted(v.lane, started.elapsed().as_secs_f64());
    debug!(message_id = %message_id, tenant = %tenant, to = %v.to, lane = %v.lane, segments = v.preview.parts, "message accepted");
    let body = json!({
        "id": message_id.to_string(),
        "status": "queued",
        "to": v.to.as_str(),
        "from": v.from,
        "priority": v.lane.as_str().to_ascii_lowercase(),
        "type": v.message_type.as_str().to_ascii_lowercase(),
        "encoding": v.preview.encoding,
        "segments": v.preview.parts,
        "client_ref": req.client_ref,
        "created_at": created_at.to_string(),
    });
    let mut resp = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/messages/{message_id}")) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// `GET /v1/messages/{id}`: the message's status and timeline, for its own tenant only.
pub async fn get(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = s.keys.authenticate(&headers)?;
    let id: MessageId = id
        .parse()
        .map_err(|_| ApiError::invalid("invalid_id", "id", "message ids are UUIDs"))?;
    let body = analytics_get(&s, &format!("/v1/messages/{id}"), "message status")
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if body["tenant_id"] != tenant.as_str() {
        return Err(ApiError::not_found("message"));
    }
    Ok(Json(body).into_response())
}

/// GETs `path` from the analytics service: its JSON, or `None` for its 404. What fails is
/// logged and answered without the URL, which holds ids and numbers: 503 naming `what`.
pub(crate) async fn analytics_get(
    s: &Shared,
    path: &str,
    what: &str,
) -> Result<Option<serde_json::Value>, ApiError> {
    let unavailable = || ApiError::unavailable(format!("{what} is unavailable right now, retry"));
    let url = format!("{}{path}", s.config.analytics_url.trim_end_matches('/'));
    let resp = s.http.get(url).send().await.map_err(|e| {
        warn!(error = %e.without_url(), "analytics unreachable");
        unavailable()
    })?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let resp = resp.error_for_status().map_err(|e| {
        warn!(status = ?e.status(), "analytics answered an error");
        unavailable()
    })?;
    let body = resp.json().await.map_err(|e| {
        warn!(error = %e.without_url(), "analytics answered something else than JSON");
        unavailable()
    })?;
    Ok(Some(body))
}

/// Any other path.
pub async fn fallback() -> ApiError {
    ApiError::not_found("route")
}
