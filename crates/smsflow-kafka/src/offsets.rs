//! Per-partition offset tracking for a consumer that processes records concurrently.
//!
//! The committable position of a partition is the lowest offset still being processed, or one
//! past the last record taken when none is. A record that was abandoned (shutdown during a
//! retry) stays "in flight", so the position never moves past it.

use std::collections::{BTreeSet, HashMap};

/// Tracking state of one assigned partition.
#[derive(Debug)]
struct PartitionState {
    /// Distinguishes this assignment from an earlier one of the same partition.
    generation: u64,
    /// Offsets taken and not yet finished.
    in_flight: BTreeSet<i64>,
    /// One past the last offset taken.
    next: i64,
    /// Last position handed out for storing.
    stored: i64,
}

/// Offsets of every partition this consumer has taken records from.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Topic → partition → state (looked up by `&str`, without allocating).
    parts: HashMap<String, HashMap<i32, PartitionState>>,
    generations: u64,
}

impl Tracker {
    /// Records that `offset` was taken; returns the partition's generation.
    pub(crate) fn start(&mut self, topic: &str, partition: i32, offset: i64) -> u64 {
        let generations = &mut self.generations;
        let topic_parts = match self.parts.get_mut(topic) {
            Some(t) => t,
            None => self.parts.entry(topic.to_owned()).or_default(),
        };
        let st = topic_parts.entry(partition).or_insert_with(|| {
            *generations += 1;
            PartitionState {
                generation: *generations,
                in_flight: BTreeSet::new(),
                next: offset,
                stored: offset,
            }
        });
        st.in_flight.insert(offset);
        st.next = st.next.max(offset + 1);
        st.generation
    }

    /// Records that `offset` is done. Returns the new committable position if it advanced.
    pub(crate) fn finish(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        generation: u64,
    ) -> Option<i64> {
        let st = self.parts.get_mut(topic)?.get_mut(&partition)?;
        if st.generation != generation {
            return None;
        }
        st.in_flight.remove(&offset);
        let pos = st.in_flight.first().copied().unwrap_or(st.next);
        (pos > st.stored).then(|| {
            st.stored = pos;
            pos
        })
    }

    /// The latest generation handed out: a partition taken again after a revoke gets a
    /// greater one.
    pub(crate) fn latest_generation(&self) -> u64 {
        self.generations
    }

    /// Forgets a partition (revoked).
    pub(crate) fn revoke(&mut self, topic: &str, partition: i32) {
        if let Some(t) = self.parts.get_mut(topic) {
            t.remove(&partition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn position_waits_for_the_lowest_unfinished_offset() {
        let mut t = Tracker::default();
        let g = t.start("a", 0, 10);
        t.start("a", 0, 11);
        t.start("a", 0, 12);
        assert_eq!(t.finish("a", 0, 11, g), None);
        assert_eq!(t.finish("a", 0, 12, g), None);
        assert_eq!(t.finish("a", 0, 10, g), Some(13));
    }

    #[test]
    fn stale_generation_is_ignored() {
        let mut t = Tracker::default();
        let g1 = t.start("a", 0, 5);
        t.revoke("a", 0);
        let g2 = t.start("a", 0, 5);
        assert_ne!(g1, g2);
        assert_eq!(t.finish("a", 0, 5, g1), None);
        assert_eq!(t.finish("a", 0, 5, g2), Some(6));
    }

    proptest! {
        /// Whatever order records finish in, the position handed out never passes an
        /// unfinished offset and ends one past the last when all are done.
        #[test]
        fn never_passes_an_unfinished_offset(order in Just((0..40i64).collect::<Vec<_>>()).prop_shuffle()) {
            let mut t = Tracker::default();
            let mut g = 0;
            for o in 0..40 { g = t.start("x", 1, o); }
            let mut done = BTreeSet::new();
            let mut last = 0;
            for o in order {
                done.insert(o);
                if let Some(pos) = t.finish("x", 1, o, g) {
                    prop_assert!((0..pos).all(|x| done.contains(&x)));
                    prop_assert!(pos > last);
                    last = pos;
                }
            }
            prop_assert_eq!(last, 40);
        }
    }
}
