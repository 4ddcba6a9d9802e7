//! The record of a run: every accepted message in accept order, the failures, the answer
//! time of every POST and the details of every POST that did not end in an accepted message.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use parking_lot::Mutex;
use uuid::Uuid;

use crate::{
    answers::{AnswerKind, Answered},
    plan::Priority,
};

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

/// One POST that did not end in an accepted message: anything but a 202 with an id.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Sequence number in the run (gives the destination).
    pub index: u64,
    /// Its priority.
    pub priority: Priority,
    /// How it ended (a 202 here had no id in its body).
    pub kind: AnswerKind,
    /// A 503 that said the outcome is unknown: the platform may still send it.
    pub told_unknown: bool,
    /// The `Retry-After` header of the answer, as sent.
    pub retry_after: Option<String>,
    /// When the request was written (Unix µs): places it against an outage.
    pub sent_us: u64,
    /// Answer time, ms.
    pub answer_ms: f64,
}

impl Refused {
    /// Its key in the result's `failures`.
    pub fn failure(&self) -> String {
        match self.kind {
            AnswerKind::Status(202) => "202 without an id".into(),
            k => k.to_string(),
        }
    }
}

/// Shared by the senders (append) and the samplers (read).
#[derive(Debug, Default)]
pub struct Book {
    accepted: Mutex<Vec<Accepted>>,
    failures: Mutex<BTreeMap<String, u64>>,
    answers: Mutex<Vec<Answered>>,
    refused: Mutex<Vec<Refused>>,
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

    /// Records the answer of a POST, whatever it was.
    pub fn answered(&self, a: Answered) {
        self.answers.lock().push(a);
    }

    /// Records a failure: counted by kind (`503`, `timeout`, `connect`...), kept in full.
    pub fn refuse(&self, r: Refused) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self.failures.lock().entry(r.failure()).or_default() += 1;
        self.refused.lock().push(r);
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

    /// Every answer so far (a copy).
    pub fn answers(&self) -> Vec<Answered> {
        self.answers.lock().clone()
    }

    /// Every failure so far, in index order (a copy).
    pub fn refused(&self) -> Vec<Refused> {
        let mut r = self.refused.lock().clone();
        r.sort_by_key(|r| r.index);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(index: u64, kind: AnswerKind) -> Refused {
        Refused {
            index,
            priority: Priority::Otp,
            kind,
            told_unknown: false,
            retry_after: None,
            sent_us: 0,
            answer_ms: 1.0,
        }
    }

    #[test]
    fn failures_keep_their_keys_and_refused_come_back_in_index_order() {
        let book = Book::default();
        book.refuse(refused(7, AnswerKind::Status(503)));
        book.refuse(refused(2, AnswerKind::Timeout));
        book.refuse(refused(5, AnswerKind::Status(202)));
        book.refuse(refused(1, AnswerKind::Status(503)));
        assert_eq!(book.failed.load(Ordering::Relaxed), 4);
        assert_eq!(
            book.failures(),
            BTreeMap::from([
                ("202 without an id".to_string(), 1),
                ("503".to_string(), 2),
                ("timeout".to_string(), 1),
            ])
        );
        let order: Vec<u64> = book.refused().iter().map(|r| r.index).collect();
        assert_eq!(order, [1, 2, 5, 7]);
    }
}
