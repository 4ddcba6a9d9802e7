//! Settling a message from its segments' receipt states: a pure rule, property-tested.

use std::collections::BTreeMap;

use smsflow_events::{DeliveryState, TerminalStatus};

/// The message's terminal status once every segment `1..=count` has a final state; `None`
/// while one is missing or not final. Every segment delivered → DELIVERED; otherwise any
/// undeliverable segment → UNDELIVERED; otherwise (only expiries left) → EXPIRED.
pub fn settle(segments: &BTreeMap<i32, DeliveryState>, count: i32) -> Option<TerminalStatus> {
    let finals: Option<Vec<TerminalStatus>> =
        (1..=count).map(|i| segments.get(&i)?.terminal()).collect();
    let finals = finals?;
    if finals.is_empty() {
        return None;
    }
    Some(if finals.iter().all(|s| *s == TerminalStatus::Delivered) {
        TerminalStatus::Delivered
    } else if finals.contains(&TerminalStatus::Undelivered) {
        TerminalStatus::Undelivered
    } else {
        TerminalStatus::Expired
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segs(states: &[DeliveryState]) -> BTreeMap<i32, DeliveryState> {
        states
            .iter()
            .enumerate()
            .map(|(i, s)| (i as i32 + 1, *s))
            .collect()
    }

    #[test]
    fn all_delivered_is_delivered() {
        assert_eq!(
            settle(&segs(&[DeliveryState::Delivered; 3]), 3),
            Some(TerminalStatus::Delivered)
        );
    }

    #[test]
    fn a_missing_or_pending_segment_keeps_it_open() {
        assert_eq!(settle(&segs(&[DeliveryState::Delivered]), 2), None);
        assert_eq!(
            settle(
                &segs(&[DeliveryState::Delivered, DeliveryState::Enroute]),
                2
            ),
            None
        );
    }

    #[test]
    fn one_undelivered_part_makes_it_undelivered() {
        let s = segs(&[
            DeliveryState::Delivered,
            DeliveryState::Rejected,
            DeliveryState::Expired,
        ]);
        assert_eq!(settle(&s, 3), Some(TerminalStatus::Undelivered));
    }

    proptest! {
        /// Settled only when every segment is final, and DELIVERED only when all are delivered.
        #[test]
        fn settles_exactly_when_complete(states in proptest::collection::vec(proptest::sample::select(DeliveryState::ALL), 0..6), count in 1i32..6) {
            let s = segs(&states);
            let complete = (1..=count).all(|i| s.get(&i).is_some_and(|x| x.terminal().is_some()));
            let r = settle(&s, count);
            prop_assert_eq!(r.is_some(), complete);
            if r == Some(TerminalStatus::Delivered) {
                prop_assert!((1..=count).all(|i| s[&i] == DeliveryState::Delivered));
            }
        }
    }
}
