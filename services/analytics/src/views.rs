//! Writes and reads of the views `messages_by_id`, `message_status` and `message_timeline`.
//!
//! Every write is an idempotent upsert keyed by the event, and `messages_by_id` cells are
//! written `USING TIMESTAMP` = the event's time, so replaying the log, or reading the topics
//! in another order, gives the same rows. The current status is the first `message_status`
//! row (see [`crate::status`]); no timestamp is ever set in the future, which ScyllaDB
//! refuses.

use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use smsflow_events::{Event, MessageId, Timestamp};
use smsflow_kafka::HandlerError;
use smsflow_store::{Store, StoreError, handler_error};

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
    get_status: PreparedStatement,
    get_timeline: PreparedStatement,
}

fn at(t: Timestamp) -> CqlTimestamp {
    CqlTimestamp(t.as_millis())
}

impl Views {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let m = store.table("messages_by_id");
        let st = store.table("message_status");
        let t = store.table("message_timeline");
        let prep = |q: String| store.prepare("prepare views", q);
        let upd =
            |cols: &str| format!("UPDATE {m} USING TIMESTAMP ? SET {cols} WHERE message_id = ?");
        Ok(Self {
            timeline: prep(format!(
                "INSERT INTO {t} (message_id, occurred_at, event_id, event_type, step, producer, detail) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            status: prep(format!(
                "INSERT INTO {st} (message_id, rank, occurred_at, event_id, status, reason) VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            requested: prep(upd(
                "tenant_id = ?, destination = ?, sender = ?, lane = ?, message_type = ?, client_ref = ?, requested_at = ?",
            ))
            .await?,
            routed: prep(upd(
                "carrier_id = ?, route_id = ?, route_table_version = ?, encoding = ?, segments = ?, cost_micros = ?, \
                 currency = ?, attempts = ?, routed_at = ?",
            ))
            .await?,
            attempted: prep(upd("carrier_id = ?, attempts = ?")).await?,
            submitted: prep(upd("carrier_id = ?, attempts = ?, submitted_at = ?")).await?,
            completed: prep(upd("completed_at = ?")).await?,
            rejected: prep(upd("tenant_id = ?, destination = ?, lane = ?, completed_at = ?")).await?,
            get_message: prep(format!(
                "SELECT tenant_id, destination, sender, lane, message_type, client_ref, carrier_id, route_id, \
                 route_table_version, encoding, segments, attempts, cost_micros, currency, requested_at, routed_at, \
                 submitted_at, completed_at FROM {m} WHERE message_id = ?"
            ))
            .await?,
            get_status: prep(format!("SELECT status, reason, occurred_at FROM {st} WHERE message_id = ? LIMIT 1")).await?,
            get_timeline: prep(format!(
                "SELECT occurred_at, event_id, event_type, step, producer, detail FROM {t} WHERE message_id = ?"
            ))
            .await?,
            store,
        })
    }

    /// Applies `event` to the views of its message (a no-op for events without one). The
    /// timeline row, the status row and the data cells are written concurrently.
    pub async fn apply(&self, event: &Event) -> Result<(), HandlerError> {
        let Some(m) = message_id(event) else {
            return Ok(());
        };
        let meta = event.meta();
        let (ts, when, id, eid) = (
            meta.occurred_at.as_micros(),
            at(meta.occurred_at),
            m.as_uuid(),
            meta.event_id.as_uuid(),
        );
        let s = self.store.session();
        let timeline = async {
            let v = (
                id,
                when,
                eid,
                event.kind().name(),
                step(event),
                &meta.producer,
                detail(event),
            );
            s.execute_unpaged(&self.timeline, v).await.map(|_| ())
        };
        let status = async {
            match propose(event) {
                Some(p) => s
                    .execute_unpaged(
                        &self.status,
                        (id, p.rank, when, eid, p.status, p.reason.as_deref()),
                    )
                    .await
                    .map(|_| ()),
                None => Ok(()),
            }
        };
        let data = async {
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
                    let v = (
                        ts,
                        e.tenant_id.as_str(),
                        e.to.as_str(),
                        e.lane.as_str(),
                        when,
                        id,
                    );
                    s.execute_unpaged(&self.rejected, v).await
                }
                _ => return Ok(()),
            };
            r.map(|_| ())
        };
        let (a, b, c) = tokio::join!(timeline, status, data);
        for r in [a, b, c] {
            r.map_err(|e| handler_error("views write", &e))?;
        }
        Ok(())
    }

    /// The message view as JSON (`None` if unknown).
    pub async fn message(&self, m: MessageId) -> Result<Option<serde_json::Value>, StoreError> {
        let s = self.store.session();
        let key = (m.as_uuid(),);
        let (row, status, tl) = tokio::join!(
            s.execute_unpaged(&self.get_message, key),
            s.execute_unpaged(&self.get_status, key),
            s.execute_unpaged(&self.get_timeline, key),
        );
        let rows = row.map_err(read)?.into_rows_result().map_err(read)?;
        let Some(r) = rows.maybe_first_row::<MessageRow>().map_err(read)? else {
            return Ok(None);
        };
        let status = status.map_err(read)?.into_rows_result().map_err(read)?;
        let (status, reason, updated) = status
            .maybe_first_row::<(String, Option<String>, CqlTimestamp)>()
            .map_err(read)?
            .map_or(("queued".to_owned(), None, None), |(s, r, t)| {
                (s, r, Some(t))
            });
        let rows = tl.map_err(read)?.into_rows_result().map_err(read)?;
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
            "status": status, "status_reason": reason,
            "priority": lower(r.lane), "type": lower(r.message_type), "client_ref": r.client_ref,
            "carrier_id": r.carrier_id, "route_id": r.route_id, "route_table_version": r.route_table_version,
            "encoding": lower(r.encoding), "segments": r.segments, "attempts": r.attempts,
            "cost": {"micros": r.cost_micros, "currency": r.currency},
            "requested_at": ts_json(r.requested_at), "routed_at": ts_json(r.routed_at), "submitted_at": ts_json(r.submitted_at),
            "completed_at": ts_json(r.completed_at), "updated_at": ts_json(updated),
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
