//! The record of a run: every accepted message in accept order, and the failures.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use parking_lot::Mutex;
use uuid::Uuid;

use crate::plan::Priority;

/// Wall-clock now, Unix µs: comparable with the simulator's submit times (same machine).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One message the API answered 202 for.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// Message id from the answer.
    pub id: Uuid,
    /// Sequence number in the run (gives the destination).
    pub index: u64,
    /// Its priority.
    pub priority: Priority,
    /// When the open-loop schedule wanted it sent (Unix µs); = `sent_us` at max rate.
    pub intended_us: u64,
    /// When the request was written.
    pub sent_us: u64,
    /// When the 202 came back: the accept time.
    pub accept_us: u64,
}

/// Shared by the senders (append) and the samplers (read).
#[derive(Debug, Default)]
pub struct Book {
    accepted: Mutex<Vec<Accepted>>,
    failures: Mutex<BTreeMap<String, u64>>,
    /// Requests written.
    pub sent: AtomicU64,
    /// Requests not answered 202.
    pub failed: AtomicU64,
}

impl Book {
    /// Records a 202.
    pub fn accept(&self, a: Accepted) {
        self.accepted.lock().push(a);
    }

    /// Records a failure, by kind (`503`, `timeout`, `connect`...).
    pub fn fail(&self, kind: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self.failures.lock().entry(kind).or_default() += 1;
    }

    /// Accepted so far.
    pub fn len(&self) -> usize {
        self.accepted.lock().len()
    }

    /// The `n`-th accepted message (0-based).
    pub fn get(&self, n: usize) -> Option<Accepted> {
        self.accepted.lock().get(n).copied()
    }

    /// Copies of the accepted messages with indexes in `picks`.
    pub fn pick(&self, picks: &[usize]) -> Vec<(usize, Accepted)> {
        let all = self.accepted.lock();
        picks
            .iter()
            .filter_map(|&i| all.get(i).map(|a| (i, *a)))
            .collect()
    }

    /// Everything accepted (a copy).
    pub fn snapshot(&self) -> Vec<Accepted> {
        self.accepted.lock().clone()
    }

    /// Failures by kind.
    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().clone()
    }
}
