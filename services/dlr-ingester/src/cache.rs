//! The correlations this instance wrote recently, kept in memory so a receipt that follows its
//! submit (nearly all of them, within seconds) is correlated without a store read.
//!
//! Only what the store also has is cached (each entry is written to `dlr_correlation` first),
//! and an entry is trusted only when the receipt names its destination: a receipt without one
//! needs "the only message that had this id", which only the table can tell. A miss falls back
//! to the table, so the cache changes cost, never results.
//!
//! An entry also knows its segment's final state while no other instance can have set one:
//! until this consumer's assignment changes (an **epoch**: [`CorrelationCache::observe`] moves
//! it on when a record comes under a new assignment). Within an epoch every receipt of the
//! partitions it holds is handled here, so the entry is the truth and `dlr_segments` need not
//! be read; an entry of an older epoch reads it again.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::tables::{Correlation, SegmentState};

/// `carrier \0 carrier message id \0 destination`: one allocation per lookup (neither part
/// can hold a NUL: ids are printable, numbers E.164).
type Key = String;

fn key(carrier: &str, carrier_message_id: &str, destination: &str) -> Key {
    let mut k =
        String::with_capacity(carrier.len() + carrier_message_id.len() + destination.len() + 2);
    for (i, part) in [carrier, carrier_message_id, destination]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            k.push('\0');
        }
        k.push_str(part);
    }
    k
}

/// A cached correlation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cached {
    /// The correlation.
    pub correlation: Correlation,
    /// The segment's final state as recorded in `dlr_segments` (`Some(None)`: none yet), when
    /// this instance is sure of it; `None` when the table must be read.
    pub known: Option<Option<SegmentState>>,
}

#[derive(Debug)]
struct Entry {
    correlation: Correlation,
    epoch: u64,
    state: Option<SegmentState>,
}

/// A bounded map of recent correlations; the oldest entries go first.
#[derive(Debug)]
pub struct CorrelationCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    order: VecDeque<Key>,
    epoch: u64,
    /// topic → partition → the assignment its last record came under.
    assignments: HashMap<String, HashMap<i32, u64>>,
    /// Receipts waiting for the correlation of a key.
    waiters: HashMap<Key, Vec<oneshot::Sender<()>>>,
}

impl CorrelationCache {
    /// A cache of at most `capacity` correlations (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// Notes that a record of `topic`/`partition` came under `assignment`; a new assignment
    /// starts a new epoch (another instance may have handled the partition meanwhile).
    pub fn observe(&self, topic: &str, partition: i32, assignment: u64) {
        let mut g = self.inner.lock();
        let known = g.assignments.get(topic).and_then(|t| t.get(&partition));
        if known != Some(&assignment) {
            g.assignments
                .entry(topic.to_owned())
                .or_default()
                .insert(partition, assignment);
            g.epoch += 1;
        }
    }

    /// Remembers `c` for `carrier`'s id `carrier_message_id`, with no final state yet (an
    /// entry of the same message and segment keeps what it knows).
    pub fn put(&self, carrier: &str, carrier_message_id: &str, c: &Correlation) {
        if self.capacity == 0 {
            return;
        }
        let key = key(carrier, carrier_message_id, &c.destination);
        let mut g = self.inner.lock();
        let epoch = g.epoch;
        for w in g.waiters.remove(&key).unwrap_or_default() {
            let _ = w.send(());
        }
        if let Some(e) = g.map.get_mut(&key) {
            if e.correlation != *c {
                *e = Entry {
                    correlation: c.clone(),
                    epoch,
                    state: None,
                };
            }
            return;
        }
        let entry = Entry {
            correlation: c.clone(),
            epoch,
            state: None,
        };
        g.map.insert(key.clone(), entry);
        g.order.push_back(key);
        while g.map.len() > self.capacity {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            g.map.remove(&old);
        }
    }

    /// Records that the segment of this entry is final with `state`, as of now.
    pub fn settle(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: &str,
        state: SegmentState,
    ) {
        let key = key(carrier, carrier_message_id, destination);
        let mut g = self.inner.lock();
        let epoch = g.epoch;
        if let Some(e) = g.map.get_mut(&key) {
            e.state = Some(state);
            e.epoch = epoch;
        }
    }

    /// The correlation of `carrier_message_id` for `destination`, if this instance wrote it.
    pub fn get(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: &str,
    ) -> Option<Cached> {
        let key = key(carrier, carrier_message_id, destination);
        let g = self.inner.lock();
        g.map.get(&key).map(|e| Cached {
            correlation: e.correlation.clone(),
            known: (e.epoch == g.epoch).then_some(e.state),
        })
    }

    /// The correlation, or (when the cache is on) a receiver told when one is put.
    pub fn get_or_wait(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: &str,
    ) -> Result<Cached, Option<oneshot::Receiver<()>>> {
        let key = key(carrier, carrier_message_id, destination);
        let mut g = self.inner.lock();
        if let Some(e) = g.map.get(&key) {
            return Ok(Cached {
                correlation: e.correlation.clone(),
                known: (e.epoch == g.epoch).then_some(e.state),
            });
        }
        if self.capacity == 0 {
            return Err(None);
        }
        let (tx, rx) = oneshot::channel();
        g.waiters.entry(key).or_default().push(tx);
        Err(Some(rx))
    }

    /// Forgets the waiters of this key that gave up (their receivers are gone).
    pub fn abandon(&self, carrier: &str, carrier_message_id: &str, destination: &str) {
        let key = key(carrier, carrier_message_id, destination);
        let mut g = self.inner.lock();
        if let Some(ws) = g.waiters.get_mut(&key) {
            ws.retain(|w| !w.is_closed());
            if ws.is_empty() {
                g.waiters.remove(&key);
            }
        }
    }

    /// Receipts waiting.
    pub fn waiting(&self) -> usize {
        self.inner.lock().waiters.values().map(Vec::len).sum()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsflow_events::MessageId;

    fn corr(dest: &str, segment: i32) -> Correlation {
        Correlation {
            message_id: MessageId::new(),
            tenant_id: "acme".into(),
            destination: dest.into(),
            attempt: 1,
            segment_index: segment,
            segment_count: 2,
        }
    }

    #[test]
    fn finds_by_carrier_id_and_destination_only() {
        let c = CorrelationCache::new(10);
        let a = corr("+447700900001", 1);
        c.put("sim", "100", &a);
        assert_eq!(
            c.get("sim", "100", "+447700900001").map(|x| x.correlation),
            Some(a)
        );
        assert_eq!(c.get("sim", "100", "+447700900002"), None);
        assert_eq!(c.get("other", "100", "+447700900001"), None);
        assert_eq!(c.get("sim", "101", "+447700900001"), None);
    }

    #[test]
    fn a_reused_id_for_the_same_destination_is_the_latest() {
        let c = CorrelationCache::new(10);
        let (old, new) = (corr("+447700900001", 1), corr("+447700900001", 2));
        c.put("sim", "100", &old);
        c.put("sim", "100", &new);
        assert_eq!(
            c.get("sim", "100", "+447700900001").map(|x| x.correlation),
            Some(new)
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn the_oldest_entries_go_first_and_zero_keeps_nothing() {
        let c = CorrelationCache::new(2);
        for i in 0..3 {
            c.put("sim", &i.to_string(), &corr("+447700900001", 1));
        }
        assert_eq!(c.len(), 2);
        assert!(c.get("sim", "0", "+447700900001").is_none());
        assert!(c.get("sim", "2", "+447700900001").is_some());
        let off = CorrelationCache::new(0);
        off.put("sim", "1", &corr("+447700900001", 1));
        assert!(off.is_empty());
    }

    #[test]
    fn a_final_state_is_known_only_within_the_epoch_that_saw_it() {
        let c = CorrelationCache::new(10);
        c.observe("sms.dlr.raw", 0, 1);
        let a = corr("+447700900001", 1);
        c.put("sim", "100", &a);
        assert_eq!(
            c.get("sim", "100", "+447700900001").unwrap().known,
            Some(None)
        );
        let s = SegmentState {
            state: smsflow_events::DeliveryState::Delivered,
            receipt_event_id: Some(uuid::Uuid::nil()),
        };
        c.settle("sim", "100", "+447700900001", s);
        // A redelivered submit of the same segment keeps the state.
        c.put("sim", "100", &a);
        assert_eq!(
            c.get("sim", "100", "+447700900001").unwrap().known,
            Some(Some(s))
        );
        // The same assignment again changes nothing; a new one (the partition came back,
        // maybe after another instance held it) makes the table the truth again.
        c.observe("sms.dlr.raw", 0, 1);
        assert_eq!(
            c.get("sim", "100", "+447700900001").unwrap().known,
            Some(Some(s))
        );
        c.observe("sms.dlr.raw", 0, 7);
        let stale = c.get("sim", "100", "+447700900001").unwrap();
        assert_eq!(stale.known, None);
        assert_eq!(stale.correlation, a);
        // Settled again in the new epoch (after reading the table), it is known again.
        c.settle("sim", "100", "+447700900001", s);
        assert_eq!(
            c.get("sim", "100", "+447700900001").unwrap().known,
            Some(Some(s))
        );
    }

    #[tokio::test]
    async fn a_waiting_receipt_is_told_when_its_correlation_is_put() {
        let c = CorrelationCache::new(10);
        let a = corr("+447700900001", 1);
        let Err(Some(rx)) = c.get_or_wait("sim", "100", "+447700900001") else {
            panic!("nothing was put yet");
        };
        let Err(Some(gave_up)) = c.get_or_wait("sim", "200", "+447700900001") else {
            panic!("nothing was put yet");
        };
        assert_eq!(c.waiting(), 2);
        c.put("sim", "100", &a);
        rx.await.expect("told");
        assert_eq!(
            c.get("sim", "100", "+447700900001").map(|x| x.correlation),
            Some(a)
        );
        drop(gave_up);
        c.abandon("sim", "200", "+447700900001");
        assert_eq!(c.waiting(), 0);
        assert!(matches!(
            CorrelationCache::new(0).get_or_wait("sim", "1", "+447700900001"),
            Err(None)
        ));
    }
}
