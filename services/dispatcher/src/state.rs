//! The dispatcher's own CQL table, `dispatch_state`: the write-ahead state of every attempt
//! with the carrier id of every segment it got accepted. One read per decision that may have
//! history (all attempts of the message), two writes per attempt (STARTED before the first
//! byte, the outcome with the segment ids after), group-committed with other messages' writes
//! (ADR 11, decision 16), OTP and transactional lanes apart from bulk.

use std::collections::BTreeMap;

use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use smsflow_events::{ErrorClass, Lane, MessageId, Timestamp};
use smsflow_kafka::{ByPriority, HandlerError};
use smsflow_store::{GroupCommit, GroupOptions, Store, StoreError};

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
    /// Attempt number.
    pub attempt: i32,
    /// Carrier of the attempt.
    pub carrier_id: String,
    /// State.
    pub state: AttemptState,
    /// Error code of a failed attempt.
    pub error_code: Option<String>,
    /// Segment index (1-based) → carrier message id, for the segments the carrier accepted.
    pub segment_ids: BTreeMap<i32, String>,
    /// When the row was last written (the store's clock).
    pub updated_at: Option<Timestamp>,
}

/// Every recorded attempt of one message, in attempt order: what a redelivered decision
/// needs to know, from one read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    rows: Vec<AttemptRow>,
}

impl History {
    /// A history of these rows (sorted by attempt).
    pub fn new(mut rows: Vec<AttemptRow>) -> Self {
        rows.sort_by_key(|r| r.attempt);
        Self { rows }
    }

    /// The row of attempt `a`.
    pub fn attempt(&self, a: i32) -> Option<&AttemptRow> {
        self.rows.iter().find(|r| r.attempt == a)
    }

    /// Segments `carrier` accepted over every attempt (a later attempt's id wins): a failover
    /// to another carrier resubmits the whole message.
    pub fn accepted_by(&self, carrier: &str) -> BTreeMap<i32, String> {
        self.rows
            .iter()
            .filter(|r| r.carrier_id == carrier)
            .flat_map(|r| r.segment_ids.iter().map(|(i, id)| (*i, id.clone())))
            .collect()
    }

    /// Whether the attempt before `a` ended with an unknown outcome (so `a` may duplicate).
    pub fn previous_unknown(&self, a: i32) -> bool {
        a > 1
            && self
                .attempt(a - 1)
                .is_some_and(|r| r.state == AttemptState::Failed(ErrorClass::OutcomeUnknown))
    }
}

/// The values of one state write: carrier, state, error code, segment ids, message, attempt.
type SetRow = (
    String,
    &'static str,
    Option<String>,
    BTreeMap<i32, String>,
    uuid::Uuid,
    i32,
);

/// Prepared statements over `dispatch_state`.
#[derive(Debug, Clone)]
pub struct DispatchState {
    store: Store,
    get: PreparedStatement,
    /// State writes; those of the OTP and transactional lanes never queue behind bulk's.
    writes: ByPriority<GroupCommit<SetRow>>,
}

/// What the store errors of this module are about.
const WHAT: &str = "dispatch state";

type Row = (
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<BTreeMap<i32, String>>,
    Option<CqlTimestamp>,
);

impl DispatchState {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let t = store.table("dispatch_state");
        let prep = |q: String| store.prepare("prepare dispatch state", q);
        let mut set = prep(format!(
            "UPDATE {t} SET carrier_id = ?, state = ?, error_code = ?, segment_ids = segment_ids + ?, \
             updated_at = toTimestamp(now()) WHERE message_id = ? AND attempt = ?"
        ))
        .await?;
        // Setting the same state and adding the same map entries again changes nothing.
        set.set_is_idempotent(true);
        let group = |s: PreparedStatement, what: &'static str, opts: GroupOptions| {
            GroupCommit::start(store.clone(), what, s, opts)
        };
        Ok(Self {
            get: prep(format!(
                "SELECT attempt, carrier_id, state, error_code, segment_ids, updated_at FROM {t} \
                 WHERE message_id = ?"
            ))
            .await?,
            writes: ByPriority {
                bulk: group(set.clone(), "dispatch state (bulk)", store.bulk_grouping()),
                priority: group(set, "dispatch state (priority)", GroupOptions::default()),
            },
            store,
        })
    }

    /// Every recorded attempt of `m` (one read).
    pub async fn history(&self, m: MessageId) -> Result<History, HandlerError> {
        let rows: Vec<Row> = self.store.rows(WHAT, &self.get, (m.as_uuid(),)).await?;
        Ok(History::new(
            rows.into_iter()
                .filter_map(|(attempt, carrier, state, error_code, ids, at)| {
                    Some(AttemptRow {
                        attempt,
                        carrier_id: carrier.unwrap_or_default(),
                        state: AttemptState::parse(state.as_deref()?)?,
                        error_code,
                        segment_ids: ids.unwrap_or_default(),
                        updated_at: at.map(|CqlTimestamp(ms)| Timestamp::from_micros(ms * 1000)),
                    })
                })
                .collect(),
        ))
    }

    /// Records the state of an attempt of a message of `lane`, adding `segment_ids` (segments
    /// the carrier accepted) to those already recorded for it: one row write.
    #[allow(clippy::too_many_arguments)]
    pub async fn set(
        &self,
        lane: Lane,
        m: MessageId,
        attempt: i32,
        carrier: &str,
        state: AttemptState,
        error_code: Option<&str>,
        segment_ids: &BTreeMap<i32, String>,
    ) -> Result<(), HandlerError> {
        let v = (
            carrier.to_owned(),
            state.as_str(),
            error_code.map(str::to_owned),
            segment_ids.clone(),
            m.as_uuid(),
            attempt,
        );
        self.writes.for_lane(lane).write(v).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempt: i32, carrier: &str, state: AttemptState, ids: &[(i32, &str)]) -> AttemptRow {
        AttemptRow {
            attempt,
            carrier_id: carrier.into(),
            state,
            error_code: None,
            segment_ids: ids.iter().map(|(i, s)| (*i, (*s).to_owned())).collect(),
            updated_at: None,
        }
    }

    #[test]
    fn only_the_same_carriers_segments_count_and_later_attempts_win() {
        let h = History::new(vec![
            row(3, "a", AttemptState::Started, &[(2, "a-2b")]),
            row(
                1,
                "a",
                AttemptState::Failed(ErrorClass::Transient),
                &[(1, "a-1"), (2, "a-2")],
            ),
            row(
                2,
                "b",
                AttemptState::Submitted,
                &[(1, "b-1"), (2, "b-2"), (3, "b-3")],
            ),
        ]);
        let a = h.accepted_by("a");
        assert_eq!(a.len(), 2);
        assert_eq!(a[&1], "a-1");
        assert_eq!(a[&2], "a-2b");
        assert_eq!(h.accepted_by("b").len(), 3);
        assert!(h.accepted_by("c").is_empty());
    }

    #[test]
    fn previous_unknown_looks_at_the_attempt_before() {
        let h = History::new(vec![
            row(
                1,
                "a",
                AttemptState::Failed(ErrorClass::OutcomeUnknown),
                &[],
            ),
            row(2, "a", AttemptState::Failed(ErrorClass::Transient), &[]),
        ]);
        assert!(!h.previous_unknown(1));
        assert!(h.previous_unknown(2));
        assert!(!h.previous_unknown(3));
        assert_eq!(
            h.attempt(2).map(|r| r.state),
            Some(AttemptState::Failed(ErrorClass::Transient))
        );
        assert!(h.attempt(4).is_none());
    }
}
