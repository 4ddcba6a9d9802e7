//! API errors: each has a stable machine-readable code and an HTTP status.
//!
//! Body: `{"error": {"code": "invalid_number", "message": "...", "field": "to"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `invalid_number`.
    pub code: &'static str,
    /// Human-readable explanation (never contains the body or the number).
    pub message: String,
    /// The request field at fault, if one.
    pub field: Option<&'static str>,
    /// Seconds the client should wait before retrying (`Retry-After`), if said.
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// 400 about one field.
    pub fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    /// 401: no or unknown API key.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown API key: send it as `Authorization: Bearer <key>` or `X-Api-Key`",
        )
    }

    /// 400: the body is not the JSON we expect.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    /// 413: body larger than allowed.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body over {limit} bytes"),
        )
    }

    /// 415: not JSON.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send `Content-Type: application/json`",
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 503: a downstream service did not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 503 for a send the message log did not confirm in about `secs` seconds: it may still
    /// have been stored (a produce in flight can land after its deadline), so the client is
    /// told the outcome is unknown and how to retry without sending twice: with the same
    /// `Idempotency-Key` if it sent one (`keyed`), and with one from now on if not.
    pub fn not_confirmed(secs: f64, keyed: bool) -> Self {
        let retry = if keyed {
            "Retry with the same Idempotency-Key header: it is sent at most once"
        } else {
            "A retry without an Idempotency-Key header may send it twice: send one to retry \
             safely"
        };
        Self {
            retry_after_secs: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "the message log did not confirm the request in about {secs} s: it may or \
                     may not have been accepted. {retry}"
                ),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::metrics::rejected(self.code);
        let body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"smsflow\""),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}
