//! The correlations this instance wrote recently, kept in memory so a receipt that follows its
//! submit (nearly all of them, within seconds) is correlated without a store read.
//!
//! Only what the store also has is cached (each entry is written to `dlr_correlation` first),
//! and an entry is trusted only when the receipt names its destination: a receipt without one
//! needs "the only message that had this id", which only the table can tell. A miss falls back
//! to the table, so the cache changes cost, never results.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use crate::tables::Correlation;

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

/// A bounded map of recent correlations; the oldest entries go first.
#[derive(Debug)]
pub struct CorrelationCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, Correlation>,
    order: VecDeque<Key>,
}

impl CorrelationCache {
    /// A cache of at most `capacity` correlations (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// Remembers `c` for `carrier`'s id `carrier_message_id`.
    pub fn put(&self, carrier: &str, carrier_message_id: &str, c: &Correlation) {
        if self.capacity == 0 {
            return;
        }
        let key = key(carrier, carrier_message_id, &c.destination);
        let mut g = self.inner.lock();
        if g.map.insert(key.clone(), c.clone()).is_none() {
            g.order.push_back(key);
        }
        while g.map.len() > self.capacity {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            g.map.remove(&old);
        }
    }

    /// The correlation of `carrier_message_id` for `destination`, if this instance wrote it.
    pub fn get(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: &str,
    ) -> Option<Correlation> {
        let key = key(carrier, carrier_message_id, destination);
        self.inner.lock().map.get(&key).cloned()
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
        assert_eq!(c.get("sim", "100", "+447700900001"), Some(a));
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
        assert_eq!(c.get("sim", "100", "+447700900001"), Some(new));
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
}
