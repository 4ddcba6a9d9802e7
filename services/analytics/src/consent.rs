//! The consent history (`consent_history`, ADR 13): every `ConsentChanged` of a tenant's
//! handset, newest first, with its provenance, and the query API's
//! `GET /v1/consent/{tenant}/{number}` (ingest checks the tenant and calls it).
//!
//! A change is written at once, one row per event (a handful per handset in its life, not
//! per message: no group commit). The status shown is the newest change's by event time.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use serde_json::{Value, json};
use smsflow_events::{ConsentChanged, Timestamp};
use smsflow_kafka::HandlerError;
use smsflow_store::{Store, StoreError, handler_error};
use uuid::Uuid;

/// The table's statements.
#[derive(Debug)]
pub struct ConsentHistory {
    store: Store,
    insert: PreparedStatement,
    select: PreparedStatement,
}

type Row = (
    CqlTimestamp,
    Uuid,
    String,
    String,
    Option<String>,
    Option<Uuid>,
);

impl ConsentHistory {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let t = store.table("consent_history");
        let mut insert = store
            .prepare(
                "prepare consent",
                format!(
                    "INSERT INTO {t} (tenant_id, number, occurred_at, event_id, status, source, \
                     keyword, evidence_message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
            )
            .await?;
        insert.set_is_idempotent(true);
        let select = store
            .prepare(
                "prepare consent",
                format!(
                    "SELECT occurred_at, event_id, status, source, keyword, evidence_message_id \
                     FROM {t} WHERE tenant_id = ? AND number = ? LIMIT 1000"
                ),
            )
            .await?;
        Ok(Self {
            store,
            insert,
            select,
        })
    }

    /// Records one change (again: the same row).
    pub async fn record(&self, c: &ConsentChanged) -> Result<(), HandlerError> {
        let values = (
            c.tenant_id.as_str(),
            c.number.as_str(),
            CqlTimestamp(c.meta.occurred_at.as_millis()),
            c.meta.event_id.as_uuid(),
            c.status.as_str(),
            c.source.as_str(),
            c.keyword.as_deref(),
            c.evidence_message_id.map(|e| e.as_uuid()),
        );
        self.store
            .session()
            .execute_unpaged(&self.insert, values)
            .await
            .map(|_| ())
            .map_err(|e| handler_error("record consent", &e))
    }

    /// The handset's status with the tenant (`none` before any change) and its changes,
    /// newest first.
    pub async fn read(&self, tenant: &str, number: &str) -> Result<Value, StoreError> {
        let read = |e: &dyn std::fmt::Display| StoreError::query("read consent", e);
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.select, (tenant, number))
            .await
            .map_err(|e| read(&e))?
            .into_rows_result()
            .map_err(|e| read(&e))?;
        let history: Vec<Value> = rows
            .rows::<Row>()
            .map_err(|e| read(&e))?
            .map(|r| {
                r.map(|(at, id, status, source, keyword, evidence)| {
                    json!({
                        "status": status.to_ascii_lowercase(),
                        "source": source,
                        "keyword": keyword,
                        "evidence_message_id": evidence.map(|u| u.to_string()),
                        "event_id": id.to_string(),
                        "changed_at": Timestamp::from_micros(at.0.saturating_mul(1000)).to_string(),
                    })
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| read(&e))?;
        let status = history
            .first()
            .map_or(json!("none"), |h| h["status"].clone());
        Ok(json!({
            "tenant_id": tenant,
            "number": number,
            "status": status,
            "history": history,
        }))
    }
}

/// `GET /v1/consent/{tenant}/{number}`.
pub async fn get(
    State(history): State<Arc<ConsentHistory>>,
    Path((tenant, number)): Path<(String, String)>,
) -> Response {
    match history.read(&tenant, &number).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "consent read failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": {"code": "unavailable", "message": "the store did not answer"}})),
            )
                .into_response()
        }
    }
}
