//! The window of one session: sequence numbers and the requests waiting for a response.
//!
//! Sequence numbers run 1..=0x7FFFFFFF and wrap back to 1, skipping any number still in the
//! window. Every entry has a deadline (sent time + response timeout); since the timeout is
//! the same for all entries, deadlines are ordered like insertions and a queue of
//! `(deadline, seq)` gives the next expiry without scanning.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// Highest valid sequence number.
pub(crate) const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// Allocates sequence numbers in 1..=0x7FFFFFFF.
#[derive(Debug, Clone)]
pub(crate) struct SequenceGen {
    next: u32,
}

impl SequenceGen {
    /// Starts at `first` (clamped into the valid range).
    pub(crate) fn starting_at(first: u32) -> Self {
        Self {
            next: first.clamp(1, MAX_SEQUENCE),
        }
    }

    /// The next number, wrapping from 0x7FFFFFFF to 1.
    pub(crate) fn next_seq(&mut self) -> u32 {
        let seq = self.next;
        self.next = if seq >= MAX_SEQUENCE { 1 } else { seq + 1 };
        seq
    }
}

/// Requests in flight on one session, keyed by sequence number.
#[derive(Debug)]
pub(crate) struct Window<T> {
    seq: SequenceGen,
    entries: HashMap<u32, Entry<T>>,
    deadlines: VecDeque<(Instant, u32)>,
}

/// One request waiting for its response.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    /// What the session needs to finish the request.
    pub(crate) item: T,
    /// When it was put in the window.
    pub(crate) sent_at: Instant,
    /// When it times out.
    pub(crate) deadline: Instant,
}

impl<T> Window<T> {
    /// An empty window whose first sequence number is `first`.
    pub(crate) fn new(first: u32) -> Self {
        Self {
            seq: SequenceGen::starting_at(first),
            entries: HashMap::new(),
            deadlines: VecDeque::new(),
        }
    }

    /// Number of requests waiting.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Puts a request in the window and returns its sequence number. The window size is
    /// enforced by the caller (enquire_link and unbind do not count against it).
    pub(crate) fn insert(&mut self, item: T, now: Instant, deadline: Instant) -> u32 {
        let mut seq = self.seq.next_seq();
        while self.entries.contains_key(&seq) {
            seq = self.seq.next_seq();
        }
        self.entries.insert(
            seq,
            Entry {
                item,
                sent_at: now,
                deadline,
            },
        );
        self.deadlines.push_back((deadline, seq));
        seq
    }

    /// Takes the request answered by `seq`, if it is still waiting.
    pub(crate) fn remove(&mut self, seq: u32) -> Option<Entry<T>> {
        self.entries.remove(&seq)
    }

    /// Mutable access to a waiting request.
    pub(crate) fn get_mut(&mut self, seq: u32) -> Option<&mut Entry<T>> {
        self.entries.get_mut(&seq)
    }

    /// The earliest deadline among waiting requests.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.prune();
        self.deadlines.front().map(|(deadline, _)| *deadline)
    }

    /// Gives the requests whose deadline passed more than `late` before `now` a new deadline,
    /// `now + grace`, instead of letting them expire; returns how many. Woken that late, the
    /// session did not run for a while (the process was stopped, or starved): their answers
    /// may be in the socket unread, and a timer can fire before the read is seen, which would
    /// call an accepted submit "outcome unknown".
    pub(crate) fn postpone_overdue(
        &mut self,
        now: Instant,
        late: Duration,
        grace: Duration,
    ) -> usize {
        let Some(cutoff) = now.checked_sub(late) else {
            return 0;
        };
        let until = now + grace;
        let mut moved = Vec::new();
        while let Some(&(deadline, seq)) = self.deadlines.front() {
            if deadline > cutoff {
                break;
            }
            self.deadlines.pop_front();
            if let Some(entry) = self.entries.get_mut(&seq)
                && entry.deadline == deadline
            {
                entry.deadline = until;
                moved.push(seq);
            }
        }
        // Kept in deadline order: after every deadline at or before `until`.
        let at = self.deadlines.partition_point(|(d, _)| *d <= until);
        for (i, seq) in moved.iter().enumerate() {
            self.deadlines.insert(at + i, (until, *seq));
        }
        moved.len()
    }

    /// Removes and returns every request whose deadline is at or before `now`.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<(u32, Entry<T>)> {
        let mut out = Vec::new();
        while let Some(&(deadline, seq)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(entry) = self.entries.get(&seq)
                && entry.deadline == deadline
                && let Some(entry) = self.entries.remove(&seq)
            {
                out.push((seq, entry));
            }
        }
        out
    }

    /// Removes every waiting request (link lost).
    pub(crate) fn drain(&mut self) -> Vec<(u32, Entry<T>)> {
        self.deadlines.clear();
        let mut all: Vec<(u32, Entry<T>)> = self.entries.drain().collect();
        all.sort_by_key(|(_, entry)| entry.sent_at);
        all
    }

    /// Drops deadline records of requests already answered.
    fn prune(&mut self) {
        while let Some(&(deadline, seq)) = self.deadlines.front() {
            match self.entries.get(&seq) {
                Some(entry) if entry.deadline == deadline => break,
                _ => {
                    self.deadlines.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_overdue_after_a_stall_get_a_grace_others_expire() {
        let mut w: Window<&str> = Window::new(1);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let stalled = w.insert("sent before the stall", t0, t0 + s(10));
        let fresh = w.insert("sent just now", t0 + s(14), t0 + s(24));
        // Woken 5 s after the first deadline: it may have its answer unread.
        let now = t0 + s(15);
        assert_eq!(w.postpone_overdue(now, Duration::from_millis(500), s(1)), 1);
        assert!(
            w.take_expired(now).is_empty(),
            "not expired on the late wake-up"
        );
        assert_eq!(
            w.next_deadline(),
            Some(now + s(1)),
            "deadlines stay in order"
        );
        let expired: Vec<u32> = w
            .take_expired(now + s(1))
            .into_iter()
            .map(|(q, _)| q)
            .collect();
        assert_eq!(
            expired,
            vec![stalled],
            "still unanswered after the grace: expired"
        );
        // Woken on time (late by less than `late`): expires at once, as before.
        assert_eq!(
            w.postpone_overdue(
                t0 + s(24) + Duration::from_millis(100),
                Duration::from_millis(500),
                s(1)
            ),
            0
        );
        let expired: Vec<u32> = w
            .take_expired(t0 + s(25))
            .into_iter()
            .map(|(q, _)| q)
            .collect();
        assert_eq!(expired, vec![fresh]);
    }

    #[test]
    fn sequence_wraps_to_one() {
        let mut seqs = SequenceGen::starting_at(MAX_SEQUENCE - 1);
        assert_eq!(seqs.next_seq(), MAX_SEQUENCE - 1);
        assert_eq!(seqs.next_seq(), MAX_SEQUENCE);
        assert_eq!(seqs.next_seq(), 1);
        assert_eq!(SequenceGen::starting_at(0).next_seq(), 1);
    }

    #[test]
    fn wrap_skips_numbers_in_flight() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let mut w: Window<&str> = Window::new(1);
        assert_eq!(w.insert("a", now, later), 1);
        let mut w2: Window<&str> = Window::new(MAX_SEQUENCE);
        assert_eq!(w2.insert("x", now, later), MAX_SEQUENCE);
        assert_eq!(w2.insert("y", now, later), 1);
        // Force a collision: restart the generator at 1 while 1 is in flight.
        w2.seq = SequenceGen::starting_at(1);
        assert_eq!(w2.insert("z", now, later), 2);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn removal() {
        let now = Instant::now();
        let mut w: Window<u8> = Window::new(1);
        let a = w.insert(1, now, now + Duration::from_secs(5));
        let _b = w.insert(2, now, now + Duration::from_secs(5));
        assert_eq!(w.len(), 2);
        assert_eq!(w.remove(a).map(|e| e.item), Some(1));
        assert!(w.remove(a).is_none());
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn expiry_in_order_and_answered_entries_skipped() {
        let t0 = Instant::now();
        let mut w: Window<u8> = Window::new(1);
        let a = w.insert(1, t0, t0 + Duration::from_millis(10));
        let b = w.insert(2, t0, t0 + Duration::from_millis(20));
        let _c = w.insert(3, t0, t0 + Duration::from_millis(30));
        w.remove(a);
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_millis(20)));
        let expired = w.take_expired(t0 + Duration::from_millis(25));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, b);
        assert_eq!(w.len(), 1);
        let rest = w.drain();
        assert_eq!(rest.len(), 1);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_deadline(), None);
    }
}
