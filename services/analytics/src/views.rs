//! The `message_view` table: one row per message, its details and every event of it.
//!
//! - **Order and repetition do not matter.** Data cells are written `USING TIMESTAMP` = the
//!   event's time (last writer by event time wins, never a future timestamp, which ScyllaDB
//!   refuses); each event is an entry of the `events` map keyed by its event id, so an event
//!   handled twice overwrites itself. The status is computed when read, from the entries
//!   (see [`crate::status`]): no read before a write, no dedupe table.
//! - **One mutation per message per flush.** [`Views::write`] writes every event of a message
//!   that a flush holds, with those of up to nine other messages, as one unlogged batch: one
//!   store request, applied as a single mutation per message's partition; [`crate::writer`]
//!   does the grouping.

use std::collections::BTreeMap;

use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue};
use smsflow_events::{Event, MessageId, Timestamp};
use smsflow_kafka::HandlerError;
use smsflow_store::{Store, StoreError, handler_error};
use uuid::Uuid;

use crate::status::propose;

/// One bound value of a view statement (`None` writes a null).
type Value = Option<CqlValue>;

/// Which statement an event's write uses: the data cells each kind of event sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Requested,
    Routed,
    Attempted,
    Submitted,
    Completed,
    Rejected,
    /// Only the event entry (retries scheduled, non-final receipts...).
    EventOnly,
}

/// The data columns each shape sets, in bind order.
fn columns(shape: Shape) -> &'static [&'static str] {
    match shape {
        Shape::Requested => &[
            "tenant_id",
            "destination",
            "sender",
            "lane",
            "message_type",
            "client_ref",
            "requested_at",
        ],
        Shape::Routed => &[
            "carrier_id",
            "route_id",
            "route_table_version",
            "encoding",
            "segments",
            "cost_micros",
            "currency",
            "attempts",
            "routed_at",
        ],
        Shape::Attempted => &["carrier_id", "attempts"],
        Shape::Submitted => &["carrier_id", "attempts", "submitted_at"],
        Shape::Completed => &["completed_at"],
        Shape::Rejected => &["tenant_id", "destination", "lane", "completed_at"],
        Shape::EventOnly => &[],
    }
}

const SHAPES: [Shape; 7] = [
    Shape::Requested,
    Shape::Routed,
    Shape::Attempted,
    Shape::Submitted,
    Shape::Completed,
    Shape::Rejected,
    Shape::EventOnly,
];

/// One event of a message, ready to be written: its statement and bound values.
#[derive(Clone, Debug)]
pub struct ViewWrite {
    shape: Shape,
    values: Vec<Value>,
    bytes: usize,
}

/// Bytes a value adds to a batch, about as the CQL server counts a mutation's size (its data
/// plus a cell's overhead).
fn size(v: &Value) -> usize {
    const CELL: usize = 16;
    CELL + match v {
        None => 0,
        Some(CqlValue::Text(s)) => s.len(),
        Some(CqlValue::Tuple(fields)) => fields.iter().map(size).sum(),
        Some(CqlValue::Uuid(_)) => 16,
        Some(_) => 8,
    }
}

impl ViewWrite {
    /// About how many bytes this write adds to a batch (see [`crate::writer`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the event gives its message a terminal status (delivered, failed, rejected…):
    /// nothing usually follows it, so the writer need not hold its message for more.
    pub fn is_final(&self) -> bool {
        matches!(self.shape, Shape::Completed | Shape::Rejected)
    }
}

/// Prepared statements of the view.
#[derive(Debug, Clone)]
pub struct Views {
    store: Store,
    /// One `UPDATE` per [`Shape`], in [`SHAPES`] order.
    updates: Vec<PreparedStatement>,
    get: PreparedStatement,
}

fn text(s: &str) -> Value {
    Some(CqlValue::Text(s.to_owned()))
}

fn int(i: i32) -> Value {
    Some(CqlValue::Int(i))
}

fn at(t: Timestamp) -> Value {
    Some(CqlValue::Timestamp(CqlTimestamp(t.as_millis())))
}

impl Views {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let v = store.table("message_view");
        let mut updates = Vec::with_capacity(SHAPES.len());
        for shape in SHAPES {
            let sets: Vec<String> = columns(shape)
                .iter()
                .map(|c| format!("{c} = ?"))
                .chain(std::iter::once("events[?] = ?".to_owned()))
                .collect();
            let q = format!(
                "UPDATE {v} USING TIMESTAMP ? SET {} WHERE message_id = ?",
                sets.join(", ")
            );
            let mut p = store.prepare("prepare views", q).await?;
            p.set_is_idempotent(true);
            updates.push(p);
        }
        let get = store
            .prepare(
                "prepare views",
                format!(
                    "SELECT tenant_id, destination, sender, lane, message_type, client_ref, carrier_id, route_id, \
                     route_table_version, encoding, segments, attempts, cost_micros, currency, requested_at, routed_at, \
                     submitted_at, completed_at, events FROM {v} WHERE message_id = ?"
                ),
            )
            .await?;
        Ok(Self {
            store,
            updates,
            get,
        })
    }

    /// The write `event` makes to its message's view (`None` for events about no message).
    pub fn write_of(event: &Event) -> Option<(MessageId, ViewWrite)> {
        let m = message_id(event)?;
        let meta = event.meta();
        let when = at(meta.occurred_at);
        let (shape, mut values): (Shape, Vec<Value>) = match event {
            Event::SendRequested(e) => (
                Shape::Requested,
                vec![
                    text(e.tenant_id.as_str()),
                    text(e.to.as_str()),
                    text(&e.from),
                    text(e.lane.as_str()),
                    text(e.message_type.as_str()),
                    e.client_ref.as_deref().and_then(text),
                    when.clone(),
                ],
            ),
            Event::RoutingDecided(e) => (
                Shape::Routed,
                vec![
                    text(e.carrier_id.as_str()),
                    text(&e.route_id),
                    Some(CqlValue::BigInt(e.route_table_version)),
                    text(e.encoding.as_str()),
                    int(e.segments),
                    Some(CqlValue::BigInt(e.cost_micros)),
                    text(&e.currency),
                    int(e.attempt),
                    when.clone(),
                ],
            ),
            Event::AttemptStarted(e) => (
                Shape::Attempted,
                vec![text(e.carrier_id.as_str()), int(e.attempt)],
            ),
            Event::AttemptSubmitted(e) => (
                Shape::Submitted,
                vec![text(e.carrier_id.as_str()), int(e.attempt), when.clone()],
            ),
            Event::AttemptFailed(e) if !e.will_retry => (Shape::Completed, vec![when.clone()]),
            Event::DeliveryReported(e) if e.message_status.is_some() => {
                (Shape::Completed, vec![when.clone()])
            }
            Event::MessageRejected(e) => (
                Shape::Rejected,
                vec![
                    text(e.tenant_id.as_str()),
                    text(e.to.as_str()),
                    text(e.lane.as_str()),
                    when.clone(),
                ],
            ),
            _ => (Shape::EventOnly, Vec::new()),
        };
        let p = propose(event);
        let entry = CqlValue::Tuple(vec![
            when,
            text(event.kind().name()),
            text(step(event)),
            text(&meta.producer),
            text(&detail(event)),
            p.as_ref().and_then(|p| int(p.rank)),
            p.as_ref().and_then(|p| text(p.status)),
            p.and_then(|p| p.reason.as_deref().and_then(text)),
        ]);
        let mut all = Vec::with_capacity(values.len() + 4);
        all.push(Some(CqlValue::BigInt(meta.occurred_at.as_micros())));
        all.append(&mut values);
        all.push(Some(CqlValue::Uuid(meta.event_id.as_uuid())));
        all.push(Some(entry));
        all.push(Some(CqlValue::Uuid(m.as_uuid())));
        let bytes = all.iter().map(size).sum();
        Some((
            m,
            ViewWrite {
                shape,
                values: all,
                bytes,
            },
        ))
    }

    /// Writes events (of one message or several) as one unlogged batch: the store applies the
    /// writes to each message's row as one mutation.
    pub async fn write(&self, writes: &[&ViewWrite]) -> Result<(), HandlerError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new(BatchType::Unlogged);
        batch.set_is_idempotent(true);
        for w in writes {
            batch.append_statement(self.updates[w.shape as usize].clone());
        }
        let values: Vec<&Vec<Value>> = writes.iter().map(|w| &w.values).collect();
        self.store
            .session()
            .batch(&batch, values)
            .await
            .map_err(|e| handler_error("views write", &e))?;
        Ok(())
    }

    /// Applies one event right away (tools and tests; the service goes through
    /// [`crate::writer::ViewWriter`], which groups events by message).
    pub async fn apply(&self, event: &Event) -> Result<(), HandlerError> {
        match Self::write_of(event) {
            Some((_, w)) => self.write(&[&w]).await,
            None => Ok(()),
        }
    }

    /// The message view as JSON (`None` if unknown).
    pub async fn message(&self, m: MessageId) -> Result<Option<serde_json::Value>, StoreError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.get, (m.as_uuid(),))
            .await
            .map_err(read)?
            .into_rows_result()
            .map_err(read)?;
        let Some(r) = rows.maybe_first_row::<MessageRow>().map_err(read)? else {
            return Ok(None);
        };
        let mut entries: Vec<(Uuid, Entry)> = r.events.unwrap_or_default().into_iter().collect();
        // The status rule: highest rank, then the latest, then the highest event id.
        let current = entries
            .iter()
            .filter_map(|(id, e)| Some((e.5?, e.0.0, *id, e)))
            .max_by_key(|(rank, t, id, _)| (*rank, *t, *id))
            .map(|(_, _, _, e)| e);
        let (status, reason, updated) = current.map_or(("queued".to_owned(), None, None), |e| {
            (e.6.clone().unwrap_or_default(), e.7.clone(), Some(e.0))
        });
        entries.sort_by_key(|(id, e)| (e.0.0, *id));
        let timeline: Vec<serde_json::Value> = entries
            .into_iter()
            .map(|(id, (t, kind, step, producer, detail, ..))| {
                serde_json::json!({
                    "at": ts_json(Some(t)), "event": kind, "step": step, "event_id": id.to_string(),
                    "producer": producer, "detail": detail,
                })
            })
            .collect();
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

/// One `events` entry: (occurred_at, event type, step, producer, detail, rank, status, reason).
type Entry = (
    CqlTimestamp,
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
);

/// A `message_view` row (columns matched by name).
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
    events: Option<BTreeMap<Uuid, Entry>>,
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
