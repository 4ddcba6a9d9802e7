//! A message's status from its events, as an order-independent rule: every event proposes a
//! status with a rank; the highest rank wins, and among equals the later event. Written as the
//! CQL cell timestamp `rank × 10^16 + event time (µs)`, so the store applies the rule itself,
//! whatever order the events arrive in.

use smsflow_events::{Event, TerminalStatus, Timestamp};

/// Rank step: larger than any microsecond timestamp until the year 2286.
const RANK_STEP: i64 = 10_000_000_000_000_000;

/// A status an event proposes for its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// API status, lowercase (`queued` ... `delivered`).
    pub status: &'static str,
    /// Why (reason code or error code), when there is one.
    pub reason: Option<String>,
    /// 1 queued, 2 routed, 3 sending/retrying, 4 submitted, 9 terminal.
    pub rank: i64,
}

impl Proposal {
    /// The CQL write timestamp that makes the store keep the winning proposal.
    pub fn cell_timestamp(&self, at: Timestamp) -> i64 {
        self.rank * RANK_STEP + at.as_micros().clamp(0, RANK_STEP - 1)
    }
}

/// The lowercase API name of a terminal status.
pub fn terminal_name(s: TerminalStatus) -> &'static str {
    match s {
        TerminalStatus::Delivered => "delivered",
        TerminalStatus::Undelivered => "undelivered",
        TerminalStatus::Expired => "expired",
        TerminalStatus::Rejected => "rejected",
        TerminalStatus::Failed => "failed",
    }
}

/// The status `event` proposes, if it changes the status at all.
pub fn propose(event: &Event) -> Option<Proposal> {
    let p = |status, rank, reason: Option<String>| {
        Some(Proposal {
            status,
            reason,
            rank,
        })
    };
    match event {
        Event::SendRequested(_) => p("queued", 1, None),
        Event::RoutingDecided(_) => p("routed", 2, None),
        Event::AttemptStarted(_) => p("sending", 3, None),
        Event::AttemptSubmitted(_) => p("submitted", 4, None),
        Event::AttemptFailed(f) if f.will_retry => p("retrying", 3, Some(f.error_code.clone())),
        Event::AttemptFailed(f) if f.error_code == "EXPIRED" => {
            p("expired", 9, Some(f.error_code.clone()))
        }
        Event::AttemptFailed(f) => p("failed", 9, Some(f.error_code.clone())),
        Event::MessageRejected(r) if r.reason_code == "EXPIRED" => {
            p("expired", 9, Some(r.reason_code.clone()))
        }
        Event::MessageRejected(r) => p("rejected", 9, Some(r.reason_code.clone())),
        Event::DeliveryReported(d) => d.message_status.and_then(|s| {
            let reason = (s != TerminalStatus::Delivered)
                .then(|| d.error_code.clone())
                .flatten();
            p(terminal_name(s), 9, reason)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A higher rank always wins over a lower one, whatever the times.
        #[test]
        fn rank_dominates_time(r1 in 1i64..10, r2 in 1i64..10, t1 in 0i64..4_102_444_800_000_000, t2 in 0i64..4_102_444_800_000_000) {
            let a = Proposal { status: "a", reason: None, rank: r1 }.cell_timestamp(Timestamp::from_micros(t1));
            let b = Proposal { status: "b", reason: None, rank: r2 }.cell_timestamp(Timestamp::from_micros(t2));
            if r1 > r2 { prop_assert!(a > b); }
            if r1 == r2 { prop_assert_eq!(a > b, t1 > t2); }
        }
    }
}
