//! The query API: `GET /v1/messages/{id}`, the message's current status and its timeline.
//! Internal: the public API (ingest) calls it and checks the tenant.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use smsflow_events::MessageId;

use crate::views::Views;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// `GET /v1/messages/{id}`.
pub async fn message(State(views): State<Arc<Views>>, Path(id): Path<String>) -> Response {
    let Ok(m) = id.parse::<MessageId>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "message ids are UUIDs",
        );
    };
    match views.message(m).await {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "message not found"),
        Err(e) => {
            tracing::warn!(error = %e, "view read failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the store did not answer",
            )
        }
    }
}
