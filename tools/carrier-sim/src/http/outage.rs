//! `POST /outage`: the carrier goes down for one account (or all) for a while.
//!
//! Body `{"system_id"?: "<account>", "secs": <number>}`; `secs: 0` ends the outage early.
//! Answers 204, or a JSON `{"error": "..."}` whose status comes from [`OutageApiError`].
//! What an outage does to sessions and binds: [`crate::sim::Shared::start_outage`].

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{error::SimError, outage::OutageTarget, sim::Shared};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutageRequest {
    /// The account that goes down; absent = every account.
    system_id: Option<String>,
    /// How long, in seconds (fractions allowed); 0 ends the outage.
    secs: f64,
}

/// Why an outage request was refused; the variant decides the HTTP status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutageApiError {
    /// Not JSON, or not the expected fields (axum's rejection text).
    #[error("invalid body: {0}")]
    Body(String),
    /// `secs` negative, NaN or infinite.
    #[error("secs must be a finite number >= 0, got {0}")]
    Secs(f64),
    /// `system_id` is not a configured account.
    #[error("unknown system_id {0:?}")]
    UnknownAccount(String),
    /// Anything else the simulator reports (not expected).
    #[error(transparent)]
    Sim(SimError),
}

impl OutageApiError {
    fn status(&self) -> StatusCode {
        match self {
            OutageApiError::Body(_) | OutageApiError::Secs(_) => StatusCode::BAD_REQUEST,
            OutageApiError::UnknownAccount(_) => StatusCode::NOT_FOUND,
            OutageApiError::Sim(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for OutageApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        (self.status(), body).into_response()
    }
}

/// `secs` as a duration; values too large for a `Duration` mean "until ended".
fn duration(secs: f64) -> Result<Duration, OutageApiError> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(OutageApiError::Secs(secs));
    }
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

pub(crate) async fn outage(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<OutageRequest>, JsonRejection>,
) -> Result<StatusCode, OutageApiError> {
    let Json(req) = body.map_err(|e| OutageApiError::Body(e.body_text()))?;
    let duration = duration(req.secs)?;
    let target = req
        .system_id
        .as_deref()
        .map_or(OutageTarget::All, OutageTarget::Account);
    match shared.start_outage(target, duration) {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(SimError::UnknownAccount(id)) => Err(OutageApiError::UnknownAccount(id)),
        Err(e) => Err(OutageApiError::Sim(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_must_be_finite_and_not_negative() {
        assert_eq!(duration(0.0).unwrap(), Duration::ZERO);
        assert_eq!(duration(1.5).unwrap(), Duration::from_millis(1500));
        assert_eq!(duration(1e300).unwrap(), Duration::MAX);
        for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(
                matches!(duration(bad), Err(OutageApiError::Secs(_))),
                "{bad}"
            );
        }
    }
}
