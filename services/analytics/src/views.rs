//! Writes and reads of the views `messages_by_id` and `message_timeline`.
//!
//! Every write is an idempotent upsert `USING TIMESTAMP` taken from the event (see
//! [`crate::status`]), so replaying the log, or reading topics in another order, gives the
//! same rows.

use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use smsflow_events::{Event, MessageId, Timestamp};
use smsflow_kafka::HandlerError;
use smsflow_store::{Store, StoreError};

use crate::status::propose;

/// Prepared statements of the views.
#[derive(Debug, Clone)]
pub struct Views {
    store: Store,
    timeline: PreparedStatement,
    status: PreparedStatement,
    requested: PreparedStatement,
    routed: PreparedStatement,
    attempted: PreparedStatement,
    submitted: PreparedStatement,
    completed: PreparedStatement,
    rejected: PreparedStatement,
    get_message: PreparedStatement,
    get_timeline: PreparedStatement,
}

fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::retry(format!("views: {e}"))
}

fn at(t: Timestamp) -> CqlTimestamp {
    CqlTimestamp(t.as_millis())
}

impl Views {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let (m, t) = (
            store.table("messages_by_id"),
            store.table("message_timeline"),
        );
        let prep = |q: String| store.prepare("prepare views", q);
        let upd =
            |cols: &str| format!("UPDATE {m} USING TIMESTAMP ? SET {cols} WHERE message_id = ?");
        Ok(Self {
            timeline: prep(format!(
                "INSERT INTO {t} (message_id, occurred_at, event_id, event_type, step, producer, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            status: prep(upd("status = ?, status_reason = ?, updated_at = ?")).await?,
            requested: prep(upd("tenant_id = ?, destination = ?, sender = ?, lane = ?, message_type = ?, client_ref = ?, requested_at = ?")).await?,
            routed: prep(upd(
                "carrier_id = ?, route_id = ?, route_table_version = ?, encoding = ?, segments = ?, cost_micros = ?, currency = ?, attempts = ?, routed_at = ?",
            ))
            .await?,
            attempted: prep(upd("carrier_id = ?, attempts = ?")).await?,
            submitted: prep(upd("carrier_id = ?, attempts = ?, submitted_at = ?")).await?,
            completed: prep(upd("completed_at = ?")).await?,
            rejected: prep(upd("tenant_id = ?, destination = ?, lane = ?, completed_at = ?")).await?,
            get_message: prep(format!(
                "SELECT tenant_id, destination, sender, status, status_reason, lane, message_type, client_ref, carrier_id, route_id, \
                 route_table_version, encoding, segments, attempts, cost_micros, currency, requested_at, routed_at, submitted_at, \
                 completed_at, updated_at FROM {m} WHERE message_id = ?"
            ))
            .await?,
            get_timeline: prep(format!("SELECT occurred_at, event_id, event_type, step, producer, detail FROM {t} WHERE message_id = ?")).await?,
            store,
        })
    }

    /// Applies `event` to the views of its message (a no-op for events without one).
    pub async fn apply(&self, event: &Event) -> Result<(), HandlerError> {
        let Some(m) = message_id(event) else {
            return Ok(());
        };
        let meta = event.meta();
        let (ts, when) = (meta.occurred_at.as_micros(), at(meta.occurred_at));
        let s = self.store.session();
        let id = m.as_uuid();
        s.execute_unpaged(
            &self.timeline,
            (
                id,
                when,
                meta.event_id.as_uuid(),
                event.kind().name(),
                step(event),
                &meta.producer,
                detail(event),
            ),
        )
        .await
        .map_err(retry)?;
        if let Some(p) = propose(event) {
            s.execute_unpaged(
                &self.status,
                (
                    p.cell_timestamp(meta.occurred_at),
                    p.status,
                    p.reason.as_deref(),
                    when,
                    id,
                ),
            )
            .await
            .map_err(retry)?;
        }
        let r = match event {
            Event::SendRequested(e) => {
                let v = (
                    ts,
                    e.tenant_id.as_str(),
                    e.to.as_str(),
                    &e.from,
                    e.lane.as_str(),
                    e.message_type.as_str(),
                    &e.client_ref,
                    when,
                    id,
                );
                s.execute_unpaged(&self.requested, v).await
            }
            Event::RoutingDecided(e) => {
                let v = (
                    ts,
                    e.carrier_id.as_str(),
                    &e.route_id,
                    e.route_table_version,
                    e.encoding.as_str(),
                    e.segments,
                    e.cost_micros,
                    &e.currency,
                    e.attempt,
                    when,
                    id,
                );
                s.execute_unpaged(&self.routed, v).await
            }
            Event::AttemptStarted(e) => {
                s.execute_unpaged(&self.attempted, (ts, e.carrier_id.as_str(), e.attempt, id))
                    .await
            }
            Event::AttemptSubmitted(e) => {
                s.execute_unpaged(
                    &self.submitted,
                    (ts, e.carrier_id.as_str(), e.attempt, when, id),
                )
                .await
            }
            Event::AttemptFailed(e) if !e.will_retry => {
                s.execute_unpaged(&self.completed, (ts, when, id)).await
            }
            Event::DeliveryReported(e) if e.message_status.is_some() => {
                s.execute_unpaged(&self.completed, (ts, when, id)).await
            }
            Event::MessageRejected(e) => {
                s.execute_unpaged(
                    &self.rejected,
                    (
                        ts,
                        e.tenant_id.as_str(),
                        e.to.as_str(),
                        e.lane.as_str(),
                        when,
                        id,
                    ),
                )
                .await
            }
            _ => return Ok(()),
        };
        r.map_err(retry)?;
        Ok(())
    }

    /// The message view as JSON (`None` if unknown).
    pub async fn message(&self, m: MessageId) -> Result<Option<serde_json::Value>, StoreError> {
        let s = self.store.session();
        let rows = s
            .execute_unpaged(&self.get_message, (m.as_uuid(),))
            .await
            .map_err(read)?
            .into_rows_result()
            .map_err(read)?;
        let Some(r) = rows.maybe_first_row::<MessageRow>().map_err(read)? else {
            return Ok(None);
        };
        let rows = s
            .execute_unpaged(&self.get_timeline, (m.as_uuid(),))
            .await
            .map_err(read)?
            .into_rows_result()
            .map_err(read)?;
        let mut timeline = Vec::new();
        for row in rows
            .rows::<(
                CqlTimestamp,
                uuid::Uuid,
                String,
                Option<String>,
                String,
                Option<String>,
            )>()
            .map_err(read)?
        {
            let (t, ev, kind, step, producer, detail) = row.map_err(read)?;
            timeline.push(serde_json::json!({
                "at": ts_json(Some(t)), "event": kind, "step": step, "event_id": ev.to_string(), "producer": producer, "detail": detail,
            }));
        }
        let lower = |s: Option<String>| s.map(|s| s.to_ascii_lowercase());
        Ok(Some(serde_json::json!({
            "id": m.to_string(),
            "tenant_id": r.tenant_id, "to": r.destination, "from": r.sender,
            "status": r.status.unwrap_or_else(|| "queued".into()), "status_reason": r.status_reason,
            "priority": lower(r.lane), "type": lower(r.message_type), "client_ref": r.client_ref,
            "carrier_id": r.carrier_id, "route_id": r.route_id, "route_table_version": r.route_table_version,
            "encoding": lower(r.encoding), "segments": r.segments, "attempts": r.attempts,
            "cost": {"micros": r.cost_micros, "currency": r.currency},
            "requested_at": ts_json(r.requested_at), "routed_at": ts_json(r.routed_at), "submitted_at": ts_json(r.submitted_at),
            "completed_at": ts_json(r.completed_at), "updated_at": ts_json(r.updated_at),
            "timeline": timeline,
        })))
    }
}

/// A `messages_by_id` row (columns matched by name).
#[derive(Debug, scylla::DeserializeRow)]
struct MessageRow {
    tenant_id: Option<String>,
    destination: Option<String>,
    sender: Option<String>,
    status: Option<String>,
    status_reason: Option<String>,
    lane: Option<String>,
    message_type: Option<String>,
    client_ref: Option<String>,
    carrier_id: Option<String>,
    route_id: Option<String>,
    route_table_version: Option<i64>,
    encoding: Option<String>,
    segments: Option<i32>,
    attempts: Option<i32>,
    cost_micros: Option<i64>,
    currency: Option<String>,
    requested_at: Option<CqlTimestamp>,
    routed_at: Option<CqlTimestamp>,
    submitted_at: Option<CqlTimestamp>,
    completed_at: Option<CqlTimestamp>,
    updated_at: Option<CqlTimestamp>,
}

fn read(e: impl std::fmt::Display) -> StoreError {
    StoreError::query("read message", e)
}

fn ts_json(ms: Option<CqlTimestamp>) -> serde_json::Value {
    ms.and_then(|t| chrono::DateTime::from_timestamp_millis(t.0))
        .map_or(serde_json::Value::Null, |d| {
            serde_json::Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        })
}

/// The lifecycle step an event marks, for people reading a timeline; a receipt that settles
/// the message is named after the outcome (`delivered`, `undelivered`...).
pub fn step(e: &Event) -> &'static str {
    match e {
        Event::SendRequested(_) => "requested",
        Event::RoutingDecided(_) => "routed",
        Event::MessageRejected(_) => "rejected",
        Event::AttemptStarted(_) => "attempt_started",
        Event::AttemptSubmitted(_) => "submitted",
        Event::AttemptFailed(_) => "attempt_failed",
        Event::RetryScheduled(_) => "retry_scheduled",
        Event::DeliveryReported(d) => d
            .message_status
            .map_or("delivery_report", crate::status::terminal_name),
        _ => "other",
    }
}

fn message_id(e: &Event) -> Option<MessageId> {
    Some(match e {
        Event::SendRequested(x) => x.message_id,
        Event::RoutingDecided(x) => x.message_id,
        Event::MessageRejected(x) => x.message_id,
        Event::AttemptStarted(x) => x.message_id,
        Event::AttemptSubmitted(x) => x.message_id,
        Event::AttemptFailed(x) => x.message_id,
        Event::RetryScheduled(x) => x.message_id,
        Event::DeliveryReported(x) => x.message_id,
        _ => return None,
    })
}

/// A one-line description for the timeline: never the body, never the number.
fn detail(e: &Event) -> String {
    match e {
        Event::SendRequested(x) => format!(
            "lane={} type={} channel={}",
            x.lane, x.message_type, x.channel
        ),
        Event::RoutingDecided(x) => format!(
            "attempt={} carrier={} route={} table=v{} encoding={} segments={}",
            x.attempt, x.carrier_id, x.route_id, x.route_table_version, x.encoding, x.segments
        ),
        Event::MessageRejected(x) => format!("reason={}", x.reason_code),
        Event::AttemptStarted(x) => format!(
            "attempt={} carrier={} segments={}",
            x.attempt, x.carrier_id, x.segments
        ),
        Event::AttemptSubmitted(x) => format!(
            "attempt={} carrier={} carrier_ids={}{}",
            x.attempt,
            x.carrier_id,
            x.carrier_message_ids.join(","),
            if x.ambiguous { " ambiguous" } else { "" }
        ),
        Event::AttemptFailed(x) => format!(
            "attempt={} carrier={} class={} code={} will_retry={}",
            x.attempt, x.carrier_id, x.error_class, x.error_code, x.will_retry
        ),
        Event::RetryScheduled(x) => format!("attempt={} tier={}", x.attempt, x.delay_tier),
        Event::DeliveryReported(x) => format!(
            "segment={}/{} state={}{}",
            x.segment_index,
            x.segment_count,
            x.state,
            x.message_status
                .map(|s| format!(" message={s}"))
                .unwrap_or_default()
        ),
        _ => String::new(),
    }
}
