//! Which decisions can skip reading their attempt history (ADR 11).
//!
//! A first attempt can only have history if some dispatcher handled the same decision before:
//! a redelivery (a crash or a rebalance before the offset commit) or a duplicate record
//! (a router that produced the decision twice). Both are caught without a read per decision:
//!
//! - **Claimed offsets.** Per lane-topic partition, `dispatch_progress.claimed_below` is an
//!   offset no attempt has started beyond. Before an attempt starts at offset `o`, the claim is
//!   raised to `o + window` whenever `o + window / 2` passes it (one write per `window / 2`
//!   records). When a partition is assigned, the claim is read once; a record above it has
//!   never been handled by anyone, and a duplicate of a record handled before is at least
//!   `window / 2` records behind it.
//! - **Recent messages.** Within one assignment, the ids of the messages whose first attempt
//!   ran here are remembered (two generations of `recent` each): a duplicate or a retry in
//!   place finds its id there and reads its history.
//!
//! Everything else (a record at or below the claim, a later attempt, an id seen recently)
//! reads the history as before, so the rule changes cost, never results.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use scylla::statement::prepared::PreparedStatement;
use smsflow_events::MessageId;
use smsflow_kafka::{HandlerError, Incoming};
use smsflow_store::{Store, StoreError};

/// Offsets claimed per raise, when the config does not say.
pub const DEFAULT_WINDOW: i64 = 200_000;
/// Message ids remembered per generation, when the config does not say.
pub const DEFAULT_RECENT: usize = 262_144;

/// What the store errors of this module are about.
const WHAT: &str = "dispatch progress";

/// Claims of one partition under one assignment.
#[derive(Debug, Default)]
struct Claim {
    assignment: u64,
    /// The claim as read when the partition was assigned: records above it are fresh.
    fresh_above: i64,
    /// The claim as written now.
    claimed_below: i64,
}

/// The ids of recently started first attempts, in two generations.
#[derive(Debug, Default)]
struct Recent {
    current: HashSet<u128>,
    previous: HashSet<u128>,
}

impl Recent {
    /// Remembers `id`; true if it was not remembered yet.
    fn insert(&mut self, id: u128, per_generation: usize) -> bool {
        if self.current.contains(&id) || self.previous.contains(&id) {
            return false;
        }
        if self.current.len() >= per_generation {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(id)
    }
}

/// Claims by topic, then partition.
type Claims = HashMap<String, HashMap<i32, Arc<tokio::sync::Mutex<Claim>>>>;

/// Decides, per decision, whether its history must be read.
#[derive(Debug)]
pub struct Freshness {
    store: Store,
    get: PreparedStatement,
    set: PreparedStatement,
    window: i64,
    recent_per_generation: usize,
    claims: parking_lot::Mutex<Claims>,
    recent: parking_lot::Mutex<Recent>,
}

impl Freshness {
    /// Prepares the statements; `window` offsets per raise, `recent` ids per generation
    /// (`window` 0 turns the rule off: every decision reads its history).
    pub async fn new(store: Store, window: i64, recent: usize) -> Result<Self, StoreError> {
        let t = store.table("dispatch_progress");
        let prep = |q: String| store.prepare("prepare dispatch progress", q);
        Ok(Self {
            get: prep(format!(
                "SELECT claimed_below FROM {t} WHERE topic = ? AND partition = ?"
            ))
            .await?,
            set: prep(format!(
                "UPDATE {t} SET claimed_below = ?, updated_at = toTimestamp(now()) \
                 WHERE topic = ? AND partition = ?"
            ))
            .await?,
            store,
            window: window.max(0),
            recent_per_generation: recent.max(1),
            claims: parking_lot::Mutex::default(),
            recent: parking_lot::Mutex::default(),
        })
    }

    /// Whether attempt `attempt` of `m`, read as `msg`, may have recorded history. Claims the
    /// record's offset first, so it must be called before the attempt starts.
    pub async fn may_have_history(
        &self,
        msg: &Incoming<'_>,
        m: MessageId,
        attempt: i32,
    ) -> Result<bool, HandlerError> {
        if self.window == 0 {
            return Ok(true);
        }
        let claim = {
            let mut claims = self.claims.lock();
            // Looked up by `&str`: no allocation per record once the topic is known.
            let topic = match claims.get_mut(msg.topic) {
                Some(t) => t,
                None => claims.entry(msg.topic.to_owned()).or_default(),
            };
            topic.entry(msg.partition).or_default().clone()
        };
        let fresh_above = {
            let mut c = claim.lock().await;
            if c.assignment != msg.assignment {
                let claimed = self.read(msg.topic, msg.partition).await?;
                *c = Claim {
                    assignment: msg.assignment,
                    fresh_above: claimed,
                    claimed_below: claimed,
                };
            }
            if let Some(raise) = raise_to(msg.offset, c.claimed_below, self.window) {
                let v = (raise, msg.topic, msg.partition);
                self.store.write(WHAT, &self.set, v).await?;
                c.claimed_below = raise;
            }
            c.fresh_above
        };
        if attempt != 1 {
            return Ok(true);
        }
        // Every first attempt run here is remembered, also those that read their history: a
        // duplicate of one may come above the claim.
        let first_time = self
            .recent
            .lock()
            .insert(m.as_uuid().as_u128(), self.recent_per_generation);
        Ok(!first_time || msg.offset <= fresh_above)
    }

    async fn read(&self, topic: &str, partition: i32) -> Result<i64, HandlerError> {
        let rows: Vec<(Option<i64>,)> =
            self.store.rows(WHAT, &self.get, (topic, partition)).await?;
        Ok(rows.first().and_then(|(v,)| *v).unwrap_or(-1))
    }
}

/// The new claim before offset `offset` may start, if the current one is too close.
fn raise_to(offset: i64, claimed_below: i64, window: i64) -> Option<i64> {
    (offset.saturating_add(window / 2) > claimed_below).then(|| offset.saturating_add(window))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_claim_is_raised_by_a_window_once_half_of_it_is_used() {
        assert_eq!(raise_to(0, -1, 100), Some(100));
        assert_eq!(raise_to(49, 100, 100), None);
        assert_eq!(raise_to(50, 100, 100), None);
        assert_eq!(raise_to(51, 100, 100), Some(151));
    }

    #[test]
    fn recent_ids_survive_one_generation_change() {
        let mut r = Recent::default();
        assert!(r.insert(1, 2));
        assert!(r.insert(2, 2));
        assert!(!r.insert(1, 2));
        assert!(r.insert(3, 2)); // 1, 2 become the previous generation
        assert!(!r.insert(1, 2));
        assert!(!r.insert(3, 2));
        assert!(r.insert(4, 2));
        assert!(r.insert(5, 2)); // 3, 4 previous; 1, 2 forgotten
        assert!(r.insert(1, 2));
    }

    proptest! {
        /// Following the raise rule, every started offset stays at least half a window below
        /// the claim: a duplicate within half a window of its original is at or below it.
        #[test]
        fn started_offsets_stay_half_a_window_below_the_claim(
            steps in proptest::collection::vec(0i64..5_000, 1..200),
            window in 2i64..10_000,
        ) {
            let (mut claim, mut offset) = (-1i64, 0i64);
            for s in steps {
                offset += s;
                if let Some(r) = raise_to(offset, claim, window) {
                    prop_assert!(r > claim);
                    claim = r;
                }
                prop_assert!(offset + window / 2 <= claim);
            }
        }
    }
}
