//! Records read before they are due. A topic may ask that its records be handled no sooner
//! than their timestamp plus a delay ([`ConsumerOptions::delays`](crate::ConsumerOptions):
//! the dispatcher's retry tiers, the dlr-ingester's receipt timeout). The loop holds such a
//! record here instead of handing it to a handler; once due, it is taken. While a partition's
//! head waits longer than [`PAUSE_WAIT`] (or more than [`MAX_HELD`] records wait behind it),
//! the partition is paused, which also makes librdkafka drop what it prefetched after the
//! last record held (fetched again on resume); a steady stream whose records fall due one
//! after the other is held for moments without pausing, so it is not paused, purged and
//! fetched again for every record. A waiting record holds no handler slot, so a record due in ten minutes never
//! delays one due in five seconds, and a revoke finds nothing running. The record stays
//! unstarted in the offset tracker until taken, so its offset is never committed before it
//! is handled: after a crash or a rebalance it is read again.
//!
//! Records of one partition are appended in the order they are read and taken in that order:
//! later records are never taken before an earlier one, even if due sooner.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::message::{Message, OwnedMessage};
use tokio::time::Instant;

/// A partition whose head waits longer than this is paused.
pub(crate) const PAUSE_WAIT: Duration = Duration::from_millis(500);
/// A partition holding more records than this is paused.
pub(crate) const MAX_HELD: usize = 10_000;

/// Held records, by partition, in the order read.
#[derive(Debug, Default)]
pub(crate) struct Holds {
    delays: HashMap<String, Duration>,
    held: HashMap<(String, i32), VecDeque<(OwnedMessage, Instant)>>,
    /// Partitions paused because of what they hold.
    paused: HashSet<(String, i32)>,
}

impl Holds {
    pub(crate) fn new(delays: &[(String, Duration)]) -> Self {
        Self {
            delays: delays.iter().cloned().collect(),
            held: HashMap::new(),
            paused: HashSet::new(),
        }
    }

    /// When `msg` may be handled, if that is later than now: its timestamp plus its topic's
    /// delay (a record without a timestamp is due at once).
    pub(crate) fn due_at(&self, msg: &OwnedMessage, now: SystemTime) -> Option<Instant> {
        let delay = *self.delays.get(msg.topic())?;
        let written = u64::try_from(msg.timestamp().to_millis()?).ok()?;
        let due = UNIX_EPOCH + Duration::from_millis(written) + delay;
        let wait = due.duration_since(now).ok()?;
        (!wait.is_zero()).then(|| Instant::now() + wait)
    }

    /// Holds `msg` (due at `at`, or at once if `None`) if it is not due or its partition
    /// already holds records. Returns it back when it may be taken now; `Held { pause: true }`
    /// when the caller is to pause its partition now.
    pub(crate) fn admit(&mut self, msg: OwnedMessage, at: Option<Instant>) -> Admit {
        // Nothing held, nothing to wait for: no key built (the path of nearly every record).
        if at.is_none() && self.held.is_empty() {
            return Admit::Take(msg);
        }
        let key = (msg.topic().to_owned(), msg.partition());
        if at.is_none() && !self.held.contains_key(&key) {
            return Admit::Take(msg);
        }
        let queue = self.held.entry(key.clone()).or_default();
        queue.push_back((msg, at.unwrap_or_else(Instant::now)));
        let head_waits = queue
            .front()
            .is_some_and(|(_, at)| at.saturating_duration_since(Instant::now()) > PAUSE_WAIT);
        let pause = (head_waits || queue.len() > MAX_HELD) && !self.paused.contains(&key);
        if pause {
            self.paused.insert(key.clone());
        }
        Admit::Held {
            pause: pause.then_some(key),
        }
    }

    /// Whether this consumer has delay topics at all (if not, nothing is ever held).
    pub(crate) fn any_delays(&self) -> bool {
        !self.delays.is_empty()
    }

    /// The earliest time a held record becomes due.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.held
            .values()
            .filter_map(|q| q.front().map(|(_, at)| *at))
            .min()
    }

    /// Takes the records due by `now`, each partition's in order, stopping at its first record
    /// not yet due; returns them and the paused partitions left holding nothing (to resume).
    pub(crate) fn release(&mut self, now: Instant) -> (Vec<OwnedMessage>, Vec<(String, i32)>) {
        let mut due = Vec::new();
        let mut emptied = Vec::new();
        for (key, queue) in &mut self.held {
            while queue.front().is_some_and(|(_, at)| *at <= now) {
                if let Some((msg, _)) = queue.pop_front() {
                    due.push(msg);
                }
            }
            if queue.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in &emptied {
            self.held.remove(key);
        }
        let resume = emptied
            .into_iter()
            .filter(|key| self.paused.remove(key))
            .collect();
        (due, resume)
    }

    /// Whether the partition is paused for what it holds (so it stays paused).
    pub(crate) fn is_paused(&self, topic: &str, partition: i32) -> bool {
        self.paused.contains(&(topic.to_owned(), partition))
    }

    /// Forgets a revoked partition's records (their offsets were never stored: the next
    /// owner reads them).
    pub(crate) fn revoke(&mut self, topic: &str, partition: i32) {
        let key = (topic.to_owned(), partition);
        self.held.remove(&key);
        self.paused.remove(&key);
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.held.values().map(VecDeque::len).sum()
    }
}

/// What [`Holds::admit`] did with a record.
#[derive(Debug)]
pub(crate) enum Admit {
    /// Not held: take it now.
    Take(OwnedMessage),
    /// Held; `pause` names its partition when it is to be paused now.
    Held { pause: Option<(String, i32)> },
}

#[cfg(test)]
mod tests {
    use rdkafka::Timestamp;

    use super::*;

    fn record(topic: &str, partition: i32, offset: i64, written_ms: i64) -> OwnedMessage {
        OwnedMessage::new(
            Some(vec![1]),
            None,
            topic.to_owned(),
            Timestamp::CreateTime(written_ms),
            partition,
            offset,
            None,
        )
    }

    fn holds() -> Holds {
        Holds::new(&[("retry.5s".into(), Duration::from_secs(5))])
    }

    const T0: u64 = 1_800_000_000_000;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(T0 + ms)
    }

    #[test]
    fn a_record_is_due_its_delay_after_it_was_written() {
        let h = holds();
        let r = record("retry.5s", 0, 1, T0 as i64);
        let before = Instant::now();
        let due = h.due_at(&r, at(1_000)).expect("not due after 1 s");
        let after = Instant::now();
        let (earliest, latest) = (
            before + Duration::from_secs(4),
            after + Duration::from_secs(4),
        );
        assert!(earliest <= due && due <= latest, "4 s left");
        assert!(h.due_at(&r, at(5_000)).is_none(), "due after 5 s");
        assert!(h.due_at(&r, at(60_000)).is_none());
        let other = record("lane.bulk", 0, 1, T0 as i64);
        assert!(h.due_at(&other, at(0)).is_none(), "topics without a delay");
    }

    #[test]
    fn records_of_a_held_partition_wait_in_order_and_others_go_on() {
        let mut h = holds();
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let first = record("retry.5s", 0, 10, 0);
        assert!(matches!(
            h.admit(first, Some(later)),
            Admit::Held { pause: Some(_) }
        ));
        assert!(h.is_paused("retry.5s", 0));
        // Due at once, but behind a held record of its partition (paused already).
        let second = record("retry.5s", 0, 11, 0);
        assert!(matches!(h.admit(second, None), Admit::Held { pause: None }));
        // Another partition is not held back.
        let other = record("retry.5s", 1, 3, 0);
        assert!(matches!(h.admit(other, None), Admit::Take(_)));
        assert_eq!(h.len(), 2);
        assert_eq!(h.next_at(), Some(later));

        let (due, emptied) = h.release(now);
        assert!(due.is_empty() && emptied.is_empty(), "nothing due yet");
        let (due, emptied) = h.release(later);
        let offsets: Vec<i64> = due.iter().map(Message::offset).collect();
        assert_eq!(offsets, vec![10, 11], "in the order read");
        assert_eq!(emptied, vec![("retry.5s".to_owned(), 0)], "to resume");
        assert!(!h.is_paused("retry.5s", 0));
        assert_eq!(h.next_at(), None);
    }

    #[test]
    fn a_revoked_partition_forgets_its_records() {
        let mut h = holds();
        let later = Instant::now() + Duration::from_secs(5);
        let _ = h.admit(record("retry.5s", 2, 1, 0), Some(later));
        h.revoke("retry.5s", 2);
        assert_eq!(h.len(), 0);
        assert!(!h.is_paused("retry.5s", 2));
    }

    #[test]
    fn a_stream_falling_due_moment_by_moment_is_held_without_pausing() {
        let mut h = holds();
        let soon = Instant::now() + PAUSE_WAIT / 5;
        for offset in 0..3 {
            let r = record("retry.5s", 0, offset, 0);
            assert!(matches!(
                h.admit(r, Some(soon)),
                Admit::Held { pause: None }
            ));
        }
        let (due, resume) = h.release(soon);
        assert_eq!(due.len(), 3);
        assert!(resume.is_empty(), "never paused, nothing to resume");
        // Too many waiting: paused after all.
        for offset in 0..=MAX_HELD as i64 {
            let r = record("retry.5s", 1, offset, 0);
            let pause = matches!(h.admit(r, Some(soon)), Admit::Held { pause: Some(_) });
            assert_eq!(pause, offset == MAX_HELD as i64, "offset {offset}");
        }
    }
}
