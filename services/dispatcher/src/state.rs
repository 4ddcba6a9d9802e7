//! The dispatcher's own CQL tables: the write-ahead state of every attempt
//! (`dispatch_attempts`) and the carrier id of every accepted segment (`dispatch_segments`).

use std::collections::BTreeMap;

use scylla::statement::prepared::PreparedStatement;
use smsflow_events::{ErrorClass, MessageId};
use smsflow_kafka::HandlerError;
use smsflow_store::{Store, StoreError};

/// Where an attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptState {
    /// Written ahead: submits may have gone out.
    Started,
    /// Nothing was written to the carrier; safe to run again.
    NotSent,
    /// Every segment accepted.
    Submitted,
    /// Failed with this class; its outcome events were emitted.
    Failed(ErrorClass),
}

impl AttemptState {
    fn as_str(self) -> &'static str {
        match self {
            AttemptState::Started => "STARTED",
            AttemptState::NotSent => "NOT_SENT",
            AttemptState::Submitted => "SUBMITTED",
            AttemptState::Failed(ErrorClass::Transient) => "FAILED_TRANSIENT",
            AttemptState::Failed(ErrorClass::Permanent) => "FAILED_PERMANENT",
            AttemptState::Failed(ErrorClass::OutcomeUnknown) => "FAILED_UNKNOWN",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "STARTED" => AttemptState::Started,
            "NOT_SENT" => AttemptState::NotSent,
            "SUBMITTED" => AttemptState::Submitted,
            "FAILED_TRANSIENT" => AttemptState::Failed(ErrorClass::Transient),
            "FAILED_PERMANENT" => AttemptState::Failed(ErrorClass::Permanent),
            "FAILED_UNKNOWN" => AttemptState::Failed(ErrorClass::OutcomeUnknown),
            _ => return None,
        })
    }
}

/// A recorded attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    /// State.
    pub state: AttemptState,
    /// Error code of a failed attempt.
    pub error_code: Option<String>,
}

/// Prepared statements over the two tables.
#[derive(Debug, Clone)]
pub struct DispatchState {
    store: Store,
    get_attempt: PreparedStatement,
    set_attempt: PreparedStatement,
    get_segments: PreparedStatement,
    put_segment: PreparedStatement,
}

/// What the store errors of this module are about.
const WHAT: &str = "dispatch state";

impl DispatchState {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let a = store.table("dispatch_attempts");
        let s = store.table("dispatch_segments");
        let prep = |q: String| store.prepare("prepare dispatch state", q);
        Ok(Self {
            get_attempt: prep(format!("SELECT state, error_code FROM {a} WHERE message_id = ? AND attempt = ?")).await?,
            set_attempt: prep(format!(
                "INSERT INTO {a} (message_id, attempt, carrier_id, state, error_code, updated_at) VALUES (?, ?, ?, ?, ?, toTimestamp(now()))"
            ))
            .await?,
            get_segments: prep(format!("SELECT segment_index, carrier_message_id, carrier_id FROM {s} WHERE message_id = ?")).await?,
            put_segment: prep(format!(
                "INSERT INTO {s} (message_id, segment_index, attempt, carrier_id, carrier_message_id) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            store,
        })
    }

    /// The recorded state of attempt `attempt` of `m`.
    pub async fn attempt(
        &self,
        m: MessageId,
        attempt: i32,
    ) -> Result<Option<AttemptRow>, HandlerError> {
        let rows: Vec<(Option<String>, Option<String>)> = self
            .store
            .rows(WHAT, &self.get_attempt, (m.as_uuid(), attempt))
            .await?;
        Ok(rows.into_iter().next().and_then(|(state, error_code)| {
            Some(AttemptRow {
                state: AttemptState::parse(state.as_deref()?)?,
                error_code,
            })
        }))
    }

    /// Records the state of an attempt.
    pub async fn set(
        &self,
        m: MessageId,
        attempt: i32,
        carrier: &str,
        state: AttemptState,
        error_code: Option<&str>,
    ) -> Result<(), HandlerError> {
        let v = (m.as_uuid(), attempt, carrier, state.as_str(), error_code);
        self.store.write(WHAT, &self.set_attempt, v).await
    }

    /// Accepted segments of `m`: segment index (1-based) → (carrier message id, carrier).
    pub async fn segments(
        &self,
        m: MessageId,
    ) -> Result<BTreeMap<i32, (String, String)>, HandlerError> {
        let rows: Vec<(i32, String, String)> = self
            .store
            .rows(WHAT, &self.get_segments, (m.as_uuid(),))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(i, id, carrier)| (i, (id, carrier)))
            .collect())
    }

    /// Records that segment `seq` was accepted as `carrier_message_id` by `attempt`.
    pub async fn put_segment(
        &self,
        m: MessageId,
        seq: i32,
        attempt: i32,
        carrier: &str,
        carrier_message_id: &str,
    ) -> Result<(), HandlerError> {
        let v = (m.as_uuid(), seq, attempt, carrier, carrier_message_id);
        self.store.write(WHAT, &self.put_segment, v).await
    }
}
