//! The consumer handler of the lane and retry topics: runs the attempt. Rejections on the
//! lane topics are for analytics; they are skipped here. A retry reaches it once due: the
//! retry consumer holds each record until its time plus its tier's delay
//! (`ConsumerOptions::delays`), which is its `not_before` as the dispatcher that wrote it
//! computed it. A decision due later than that (a scheduled send, `send_at`, on a lane topic)
//! is parked on the delay tier that fits ([`park_on`]), round after round, until it is due
//! within the shortest tier; only that remainder (at most 5 s) is waited out here.

use std::sync::Arc;
use std::time::Duration;

use smsflow_events::topics::RETRY_TIERS;
use smsflow_events::{Event, EventKind, Timestamp};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use smsflow_runtime::CancellationToken;

use crate::attempt::Dispatcher;
use crate::fresh::Freshness;
use crate::lease::Leases;

/// Dispatches `RoutingDecided` events.
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// The attempt logic.
    pub dispatcher: Arc<Dispatcher>,
    /// Which decisions need their history read.
    pub freshness: Arc<Freshness>,
    /// The partition leases (one owner per partition, ADR 12 decision 9).
    pub leases: Leases,
    /// Cancels what is left of a wait for `not_before` at shutdown.
    pub shutdown: CancellationToken,
}

/// The delay tier a decision due in `wait` waits on: the longest tier not longer than the
/// wait, so it comes out no later than due (and, if still early, goes round again); `None`
/// when the wait is within the shortest tier, which is waited out here (at most 5 s, e.g. a
/// scheduled send a moment ahead, or the clock of the dispatcher that wrote a retry ahead
/// of this one's).
pub fn park_on(wait: Duration) -> Option<&'static str> {
    let (_, shortest) = RETRY_TIERS.first()?;
    if wait <= *shortest {
        return None;
    }
    RETRY_TIERS
        .iter()
        .rev()
        .find(|(_, d)| *d <= wait)
        .map(|(t, _)| *t)
}

impl Handler for Dispatch {
    fn wants(&self, kind: EventKind) -> bool {
        kind == EventKind::RoutingDecided
    }

    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let Event::RoutingDecided(d) = &msg.event else {
            return Ok(vec![]);
        };
        // Before anything is read or parked: another instance may still hold the partition.
        let lease = self
            .leases
            .hold(msg.topic, msg.partition, msg.assignment, &self.shutdown)
            .await?;
        if let Some(nb) = d.not_before {
            let wait = nb.as_micros() - Timestamp::now().as_micros();
            let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
            if let Some(tier) = park_on(wait) {
                return Ok(vec![self.dispatcher.parked(d, tier)]);
            }
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.shutdown.cancelled() => return Err(HandlerError::retry("shutting down before not_before")),
                }
            }
        }
        let may_have_history = self
            .freshness
            .may_have_history(msg, d.message_id, d.attempt)
            .await?;
        self.dispatcher
            .dispatch(d, !may_have_history, Some(&lease))
            .await
    }

    /// A decision the dispatcher failed on for good (its store refused it, or a panic) ends
    /// its attempt failed, without a retry, so the message's status ends `failed`. Whether
    /// the carrier got it is not known; a receipt that still comes reports it, and wins.
    fn dead_lettered(&self, event: &Event, code: &'static str, reason: &str) -> Vec<Outgoing> {
        let Event::RoutingDecided(d) = event else {
            return vec![];
        };
        self.dispatcher.dead_lettered(d, code, reason)
    }

    fn revoked(&self, topic: &str, partition: i32, through: u64) {
        self.leases.revoked(topic, partition, through);
        self.dispatcher.unwritten.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_parks_on_the_longest_tier_within_its_wait() {
        let s = Duration::from_secs;
        assert_eq!(park_on(Duration::ZERO), None);
        assert_eq!(park_on(s(5)), None, "within the shortest tier: waited out");
        assert_eq!(park_on(s(6)), Some("5s"));
        assert_eq!(park_on(s(59)), Some("5s"));
        assert_eq!(park_on(s(60)), Some("1m"));
        assert_eq!(park_on(s(599)), Some("1m"));
        assert_eq!(park_on(s(600)), Some("10m"));
        assert_eq!(park_on(s(7 * 24 * 3600)), Some("10m"));
    }
}
