//! `PUT /v1/consent/{number}` and `GET /v1/consent/{number}` (issue 11, item 3; ADR 13): a
//! tenant records a handset's opt-out or opt-in itself (a web form, a call centre: source
//! `api`), and reads its current status with every change and where it came from. A change
//! is a `ConsentChanged` on `sms.consent`, answered only once Kafka holds it, as a send is;
//! the router obeys it as soon as it reads it (it follows the topic: within moments, not
//! necessarily before a request sent right after the answer). The history is the analytics
//! service's.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use smsflow_events::{ConsentChanged, ConsentStatus, EventMeta, Lane};
use smsflow_kafka::Outgoing;
use tracing::warn;

use crate::api::analytics_get;
use crate::error::ApiError;
use crate::validate::phone_number;
use crate::{PRODUCER, Shared};

/// The body of a `PUT`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    /// `opted_out` or `opted_in`.
    status: String,
}

/// `PUT /v1/consent/{number}` with `{"status": "opted_out" | "opted_in"}`.
pub async fn put(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let tenant = s.keys.authenticate(&headers)?;
    let number = phone_number(&number, "number")?;
    let body = body.map_err(|e| ApiError::malformed(e.body_text()))?;
    let b: ConsentBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::malformed(format!("body is not a consent change: {e}")))?;
    let status = match b.status.as_str() {
        "opted_out" => ConsentStatus::OptedOut,
        "opted_in" => ConsentStatus::OptedIn,
        _ => {
            return Err(ApiError::invalid(
                "invalid_status",
                "status",
                "`status` must be `opted_out` or `opted_in`",
            ));
        }
    };
    let change = ConsentChanged {
        meta: EventMeta::new(PRODUCER, None),
        tenant_id: tenant.clone(),
        number: number.clone(),
        status,
        source: "api".into(),
        keyword: None,
        evidence_message_id: None,
    };
    let event_id = change.meta.event_id;
    let changed_at = change.meta.occurred_at;
    let key = ConsentChanged::key_of(&tenant, &number);
    let out = Outgoing::new(s.topics.consent.clone(), key, change);
    let deadline = s.config.accept_timeout();
    // Rare and small: the transactional lane's client, which does not linger.
    let sent = tokio::time::timeout(
        deadline,
        s.producers.for_lane(Lane::Transactional).send(&out),
    )
    .await;
    if let Some(error) = match sent {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no acknowledgement by the deadline".to_owned()),
    } {
        warn!(%error, "consent change not confirmed by the log");
        return Err(ApiError::unavailable(
            "the consent log did not confirm the change: it may or may not have been recorded; \
             retry (the same change twice is harmless)",
        ));
    }
    Ok((
        StatusCode::OK,
        Json(json!({
            "number": number.as_str(),
            "status": b.status,
            "source": "api",
            "event_id": event_id.to_string(),
            "changed_at": changed_at.to_string(),
        })),
    )
        .into_response())
}

/// `GET /v1/consent/{number}`: the status (`opted_out`, `opted_in`, or `none` before any
/// change) and every change, newest first.
pub async fn get(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = s.keys.authenticate(&headers)?;
    let number = phone_number(&number, "number")?;
    // The number's `+` travels encoded in the path.
    let path = format!(
        "/v1/consent/{}/%2B{}",
        tenant.as_str(),
        number.as_str().trim_start_matches('+'),
    );
    let mut body = analytics_get(&s, &path, "consent")
        .await?
        .ok_or_else(|| ApiError::unavailable("consent is unavailable right now, retry"))?;
    if let Some(o) = body.as_object_mut() {
        o.remove("tenant_id");
    }
    Ok(Json(body).into_response())
}
