//! The ledger: every submit (SMPP and HTTP) per segment, so tests can prove "no duplicate"
//! and "nothing lost", plus the simulator's totals.
//!
//! A segment is identified by [`SegmentKey`]: `(destination, reference, total, seq)` when it
//! is part of a concatenated message (UDH or sar_* TLVs), else `(destination, payload bytes)`.
//! Sending the same unconcatenated text twice to one number is therefore one segment
//! submitted twice: tests that want to count duplicates use distinct texts.
//!
//! Each segment also keeps the wall-clock time (Unix µs) of its first and last submit, as
//! received, so a benchmark can measure accept → carrier submit latency per destination
//! ([`Ledger::submit_times`]). Each destination keeps the system_ids (accounts) that had a
//! submit accepted for it, so a test with two carrier accounts can tell which one took it.
//!
//! Updates are a sharded map entry plus relaxed atomics: cheap enough for every submit.

use std::{
    collections::HashSet,
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use dashmap::{DashMap, mapref::entry::Entry};
use serde::{Deserialize, Serialize};

use crate::{scenario::ReceiptState, text::Concat};

/// Identity of one SMS segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SegmentKey {
    /// Part of a concatenated message.
    Concatenated {
        /// Destination address as submitted.
        destination: String,
        /// Concatenation reference.
        reference: u16,
        /// Number of parts.
        total: u8,
        /// Part number, from 1.
        seq: u8,
    },
    /// A message in one segment (or one message_payload).
    Single {
        /// Destination address as submitted.
        destination: String,
        /// The short_message / message_payload octets.
        payload: Vec<u8>,
    },
}

impl SegmentKey {
    /// Builds the key of a submitted segment.
    pub fn new(destination: &str, concat: Option<Concat>, payload: &[u8]) -> Self {
        match concat {
            Some(c) => SegmentKey::Concatenated {
                destination: destination.to_string(),
                reference: c.reference,
                total: c.total,
                seq: c.seq,
            },
            None => SegmentKey::Single {
                destination: destination.to_string(),
                payload: payload.to_vec(),
            },
        }
    }

    /// Destination address.
    pub fn destination(&self) -> &str {
        match self {
            SegmentKey::Concatenated { destination, .. }
            | SegmentKey::Single { destination, .. } => destination,
        }
    }
}

/// Where a submit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// submit_sm over SMPP.
    Smpp,
    /// Kannel-style HTTP sendsms.
    Http,
}

/// What the simulator answered to one submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubmitOutcome {
    /// Success response with this carrier id (as written in the response).
    Accepted(String),
    /// ESME_RTHROTTLED / ESME_RMSGQFUL (or HTTP 503 throttled).
    Throttled,
    /// Another error status from the failure mix.
    Failed,
    /// Not answered: the scenario dropped the connection on this submit.
    Dropped,
}

/// Description of a submit, for the ledger.
#[derive(Debug, Clone)]
pub(crate) struct SubmitInfo {
    pub channel: Channel,
    pub system_id: Arc<str>,
    pub source: String,
    pub data_coding: u8,
    pub text: String,
}

/// Concatenation fields of a segment, as shown in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcatInfo {
    /// Concatenation reference.
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// Part number, from 1.
    pub seq: u8,
}

/// One receipt sent for a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// Carrier id as written in the receipt.
    pub message_id: String,
    /// Reported state.
    pub state: ReceiptState,
    /// Whether this was a scenario duplicate (the second copy).
    pub duplicate: bool,
}

/// Everything known about one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Order of first appearance (global submit counter).
    pub first_seen: u64,
    /// SMPP or HTTP.
    pub channel: Channel,
    /// system_id (SMPP) or username (HTTP) of the first submit.
    pub system_id: String,
    /// Source address.
    pub source: String,
    /// Destination address.
    pub destination: String,
    /// Concatenation reference / total / seq, if concatenated.
    pub concat: Option<ConcatInfo>,
    /// Hex of the payload for unconcatenated segments (part of the key).
    pub payload_hex: Option<String>,
    /// data_coding of the first submit.
    pub data_coding: u8,
    /// Decoded text of this part.
    pub text: String,
    /// Submits received for this segment.
    pub submits: u64,
    /// When the first submit of this segment was received (Unix µs): the carrier-side end
    /// of an accept → submit latency.
    #[serde(default)]
    pub first_submit_us: u64,
    /// When the latest submit of this segment was received (Unix µs); equals
    /// `first_submit_us` unless the segment was submitted again.
    #[serde(default)]
    pub last_submit_us: u64,
    /// Submits answered with success.
    pub accepted: u64,
    /// Submits answered with an error (throttled + failed).
    pub rejected: u64,
    /// Of which throttled (0x58 / 0x14).
    pub throttled: u64,
    /// Of which failed with another status.
    pub failed: u64,
    /// Submits left unanswered because the scenario dropped the connection.
    pub dropped: u64,
    /// Carrier ids given in success responses, in order.
    pub message_ids: Vec<String>,
    /// Receipts written to an ESME (or DLR callbacks made), including re-sends.
    pub receipts: Vec<ReceiptRecord>,
    /// Receipts acknowledged with deliver_sm_resp status 0 (or callback 2xx).
    pub receipts_acked: u64,
}

/// Most carrier ids / receipts kept per segment (counts stay exact beyond it).
const MAX_LIST: usize = 32;

/// Compact in-memory form of a [`SegmentEntry`] (the ledger may hold millions).
#[derive(Debug)]
struct Record {
    first_seen: u64,
    channel: Channel,
    data_coding: u8,
    system_id: Arc<str>,
    source: Box<str>,
    text: Box<str>,
    submits: u64,
    first_submit_us: u64,
    last_submit_us: u64,
    accepted: u64,
    throttled: u64,
    failed: u64,
    dropped: u64,
    receipts_acked: u64,
    message_ids: Vec<Box<str>>,
    receipts: Vec<(Box<str>, ReceiptState, bool)>,
}

impl Record {
    fn snapshot(&self, key: &SegmentKey) -> SegmentEntry {
        let (concat, payload_hex) = match key {
            SegmentKey::Concatenated {
                reference,
                total,
                seq,
                ..
            } => (
                Some(ConcatInfo {
                    reference: *reference,
                    total: *total,
                    seq: *seq,
                }),
                None,
            ),
            SegmentKey::Single { payload, .. } => (None, Some(hex(payload))),
        };
        SegmentEntry {
            first_seen: self.first_seen,
            channel: self.channel,
            system_id: self.system_id.to_string(),
            source: self.source.to_string(),
            destination: key.destination().to_string(),
            concat,
            payload_hex,
            data_coding: self.data_coding,
            text: self.text.to_string(),
            submits: self.submits,
            first_submit_us: self.first_submit_us,
            last_submit_us: self.last_submit_us,
            accepted: self.accepted,
            rejected: self.throttled + self.failed,
            throttled: self.throttled,
            failed: self.failed,
            dropped: self.dropped,
            message_ids: self.message_ids.iter().map(|m| m.to_string()).collect(),
            receipts: self
                .receipts
                .iter()
                .map(|(id, state, duplicate)| ReceiptRecord {
                    message_id: id.to_string(),
                    state: *state,
                    duplicate: *duplicate,
                })
                .collect(),
            receipts_acked: self.receipts_acked,
        }
    }
}

/// The submits seen for one destination, summed over its segments: what a benchmark needs
/// to time a message from its accept to the carrier without the texts or carrier ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationSubmits {
    /// Destination address as asked (a leading `+` kept if it was given).
    pub destination: String,
    /// Distinct segments stored for it.
    pub segments: u64,
    /// Submits received, all segments together.
    pub submits: u64,
    /// Submits answered with success.
    pub accepted: u64,
    /// Segments accepted more than once.
    pub duplicate_segments: u64,
    /// Earliest first submit over its segments (Unix µs).
    pub first_submit_us: u64,
    /// Latest first submit over its segments (Unix µs): when the whole message had reached
    /// the carrier once.
    pub last_first_submit_us: u64,
    /// The distinct system_ids (SMPP) or usernames (HTTP) that had a submit accepted for this
    /// destination, in first-accepted order: which carrier account took the message, and
    /// whether a failover sent it through a second one too.
    #[serde(default)]
    pub system_ids: Vec<String>,
}

/// Simulator totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSummary {
    /// submit_sm PDUs and HTTP sendsms requests received (after bind/auth checks).
    pub submits_received: u64,
    /// Answered with success.
    pub accepted: u64,
    /// Answered with ESME_RTHROTTLED / ESME_RMSGQFUL (HTTP: 503).
    pub throttled: u64,
    /// Answered with another error from the failure mix.
    pub failed: u64,
    /// Left unanswered because the scenario closed the connection on them.
    pub dropped: u64,
    /// Responses decided but never written because the connection was closed first.
    pub responses_unsent: u64,
    /// Distinct segments seen.
    pub unique_segments: u64,
    /// Segments accepted more than once.
    pub duplicate_segments: u64,
    /// Segments not stored because `ledger.max_segments` was reached.
    pub segments_not_recorded: u64,
    /// Receipts written to ESMEs plus DLR callbacks made (including duplicates and re-sends).
    pub receipts_sent: u64,
    /// Receipts acknowledged (deliver_sm_resp 0 / callback 2xx).
    pub receipts_acked: u64,
    /// MO deliver_sm written.
    pub mo_sent: u64,
    /// MO deliver_sm acknowledged with status 0.
    pub mo_acked: u64,
    /// Successful binds.
    pub binds: u64,
    /// Refused binds (bad credentials, already bound).
    pub bind_failures: u64,
    /// Currently bound SMPP sessions.
    pub current_sessions: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections closed by the scenario or `drop_connections`.
    pub connections_dropped: u64,
    /// generic_nack PDUs sent (unknown command id, malformed PDU).
    pub generic_nacks: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub submits_received: AtomicU64,
    pub accepted: AtomicU64,
    pub throttled: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub responses_unsent: AtomicU64,
    pub unique_segments: AtomicU64,
    pub duplicate_segments: AtomicU64,
    pub segments_not_recorded: AtomicU64,
    pub receipts_sent: AtomicU64,
    pub receipts_acked: AtomicU64,
    pub mo_sent: AtomicU64,
    pub mo_acked: AtomicU64,
    pub binds: AtomicU64,
    pub bind_failures: AtomicU64,
    pub current_sessions: AtomicU64,
    pub connections: AtomicU64,
    pub connections_dropped: AtomicU64,
    pub generic_nacks: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the ledger keeps per destination besides its segments.
#[derive(Debug, Default)]
struct DestinationIndex {
    /// The keys of its segments in `Inner::segments`.
    keys: Vec<Arc<SegmentKey>>,
    /// Distinct system_ids with an accepted submit, in first-accepted order (usually one).
    accepted_by: Vec<Arc<str>>,
}

impl DestinationIndex {
    fn note_acceptor(&mut self, system_id: &Arc<str>) {
        if !self.accepted_by.contains(system_id) {
            self.accepted_by.push(Arc::clone(system_id));
        }
    }
}

#[derive(Debug)]
struct Inner {
    segments: DashMap<Arc<SegmentKey>, Record>,
    /// Segment keys and accepting system_ids by destination (without a leading `+`), so a
    /// lookup by destination never walks the whole ledger: a walk holds each shard's lock in
    /// turn and would stall the sessions recording submits (the benchmark asks every second).
    by_destination: DashMap<Box<str>, DestinationIndex>,
    counters: Counters,
    max_segments: usize,
    order: AtomicU64,
}

/// Handle on the ledger; cheap to clone, shared with the running simulator.
#[derive(Debug, Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

fn strip_plus(s: &str) -> &str {
    s.strip_prefix('+').unwrap_or(s)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl Ledger {
    /// An empty ledger keeping at most `max_segments` segments.
    pub fn new(max_segments: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                segments: DashMap::new(),
                by_destination: DashMap::new(),
                counters: Counters::default(),
                max_segments,
                order: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Current totals.
    pub fn summary(&self) -> LedgerSummary {
        let c = &self.inner.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LedgerSummary {
            submits_received: g(&c.submits_received),
            accepted: g(&c.accepted),
            throttled: g(&c.throttled),
            failed: g(&c.failed),
            dropped: g(&c.dropped),
            responses_unsent: g(&c.responses_unsent),
            unique_segments: g(&c.unique_segments),
            duplicate_segments: g(&c.duplicate_segments),
            segments_not_recorded: g(&c.segments_not_recorded),
            receipts_sent: g(&c.receipts_sent),
            receipts_acked: g(&c.receipts_acked),
            mo_sent: g(&c.mo_sent),
            mo_acked: g(&c.mo_acked),
            binds: g(&c.binds),
            bind_failures: g(&c.bind_failures),
            current_sessions: g(&c.current_sessions),
            connections: g(&c.connections),
            connections_dropped: g(&c.connections_dropped),
            generic_nacks: g(&c.generic_nacks),
        }
    }

    /// Segments sent to `destination` (a leading `+` is ignored on both sides), in order of
    /// first appearance.
    pub fn segments(&self, destination: &str) -> Vec<SegmentEntry> {
        let (keys, _) = self.index_of(strip_plus(destination));
        let mut out: Vec<SegmentEntry> = keys
            .iter()
            .filter_map(|k| self.inner.segments.get(k).map(|r| r.snapshot(k)))
            .collect();
        out.sort_by_key(|e| e.first_seen);
        out
    }

    /// Submit counts and times per destination, for the destinations asked (a leading `+` is
    /// ignored on both sides). Destinations never submitted are left out. One pass over the
    /// ledger, however many destinations are asked.
    pub fn submit_times(&self, destinations: &[String]) -> Vec<DestinationSubmits> {
        let mut out: Vec<DestinationSubmits> = Vec::new();
        let mut seen = HashSet::new();
        for asked in destinations {
            let bare = strip_plus(asked);
            if !seen.insert(bare) {
                continue;
            }
            let (keys, accepted_by) = self.index_of(bare);
            let mut d = DestinationSubmits {
                destination: asked.clone(),
                first_submit_us: u64::MAX,
                system_ids: accepted_by.iter().map(|s| s.to_string()).collect(),
                ..DestinationSubmits::default()
            };
            for key in keys {
                let Some(r) = self.inner.segments.get(&key) else {
                    continue;
                };
                d.segments += 1;
                d.submits += r.submits;
                d.accepted += r.accepted;
                d.duplicate_segments += u64::from(r.accepted > 1);
                if r.submits > 0 {
                    d.first_submit_us = d.first_submit_us.min(r.first_submit_us);
                    d.last_first_submit_us = d.last_first_submit_us.max(r.first_submit_us);
                }
            }
            if d.segments == 0 {
                continue;
            }
            if d.first_submit_us == u64::MAX {
                d.first_submit_us = 0;
            }
            out.push(d);
        }
        out.sort_by(|a, b| a.destination.cmp(&b.destination));
        out
    }

    /// The segment keys and accepting system_ids recorded for `bare` (a destination without
    /// its `+`), copied out of the index.
    fn index_of(&self, bare: &str) -> (Vec<Arc<SegmentKey>>, Vec<Arc<str>>) {
        self.inner
            .by_destination
            .get(bare)
            .map(|i| (i.keys.clone(), i.accepted_by.clone()))
            .unwrap_or_default()
    }

    /// Adds `system_id` to the accepting system_ids of `key`'s destination; a read lock
    /// only when it is there already (the usual case: every part through one account).
    fn note_acceptor(&self, key: &SegmentKey, system_id: &Arc<str>) {
        let bare = strip_plus(key.destination());
        let new_acceptor = self
            .inner
            .by_destination
            .get(bare)
            .is_some_and(|i| !i.accepted_by.contains(system_id));
        if new_acceptor && let Some(mut i) = self.inner.by_destination.get_mut(bare) {
            i.note_acceptor(system_id);
        }
    }

    /// Every stored segment, in order of first appearance.
    pub fn all_segments(&self) -> Vec<SegmentEntry> {
        let mut out: Vec<SegmentEntry> = self
            .inner
            .segments
            .iter()
            .map(|e| e.value().snapshot(e.key()))
            .collect();
        out.sort_by_key(|e| e.first_seen);
        out
    }

    /// Forgets all segments and zeroes the totals (except `current_sessions`).
    pub fn reset(&self) {
        self.inner.segments.clear();
        self.inner.by_destination.clear();
        let c = &self.inner.counters;
        for a in [
            &c.submits_received,
            &c.accepted,
            &c.throttled,
            &c.failed,
            &c.dropped,
            &c.responses_unsent,
            &c.unique_segments,
            &c.duplicate_segments,
            &c.segments_not_recorded,
            &c.receipts_sent,
            &c.receipts_acked,
            &c.mo_sent,
            &c.mo_acked,
            &c.binds,
            &c.bind_failures,
            &c.connections,
            &c.connections_dropped,
            &c.generic_nacks,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }

    /// Records one submit and what it was answered.
    pub(crate) fn record_submit(
        &self,
        key: &Arc<SegmentKey>,
        info: &SubmitInfo,
        outcome: &SubmitOutcome,
    ) {
        let c = &self.inner.counters;
        let accepted = matches!(outcome, SubmitOutcome::Accepted(_));
        inc(&c.submits_received);
        match outcome {
            SubmitOutcome::Accepted(_) => inc(&c.accepted),
            SubmitOutcome::Throttled => inc(&c.throttled),
            SubmitOutcome::Failed => inc(&c.failed),
            SubmitOutcome::Dropped => inc(&c.dropped),
        }
        let at = now_us();
        let apply = |e: &mut Record| {
            if e.submits == 0 {
                e.first_submit_us = at;
            }
            e.last_submit_us = at;
            e.submits += 1;
            match outcome {
                SubmitOutcome::Accepted(id) => {
                    e.accepted += 1;
                    if e.message_ids.len() < MAX_LIST {
                        e.message_ids.push(id.as_str().into());
                    }
                    if e.accepted == 2 {
                        inc(&c.duplicate_segments);
                    }
                }
                SubmitOutcome::Throttled => e.throttled += 1,
                SubmitOutcome::Failed => e.failed += 1,
                SubmitOutcome::Dropped => e.dropped += 1,
            }
        };
        if let Some(mut e) = self.inner.segments.get_mut(key.as_ref()) {
            apply(&mut e);
            drop(e);
            if accepted {
                self.note_acceptor(key, &info.system_id);
            }
            return;
        }
        if c.unique_segments.load(Ordering::Relaxed) >= self.inner.max_segments as u64 {
            inc(&c.segments_not_recorded);
            return;
        }
        match self.inner.segments.entry(Arc::clone(key)) {
            Entry::Occupied(mut e) => {
                apply(e.get_mut());
                drop(e);
                if accepted {
                    self.note_acceptor(key, &info.system_id);
                }
            }
            Entry::Vacant(v) => {
                inc(&c.unique_segments);
                let mut record = Record {
                    first_seen: self.inner.order.fetch_add(1, Ordering::Relaxed),
                    channel: info.channel,
                    data_coding: info.data_coding,
                    system_id: Arc::clone(&info.system_id),
                    source: info.source.as_str().into(),
                    text: info.text.as_str().into(),
                    submits: 0,
                    first_submit_us: 0,
                    last_submit_us: 0,
                    accepted: 0,
                    throttled: 0,
                    failed: 0,
                    dropped: 0,
                    receipts_acked: 0,
                    message_ids: Vec::with_capacity(1),
                    receipts: Vec::new(),
                };
                apply(&mut record);
                v.insert(record);
                let mut index = self
                    .inner
                    .by_destination
                    .entry(strip_plus(key.destination()).into())
                    .or_default();
                index.keys.push(Arc::clone(key));
                if accepted {
                    index.note_acceptor(&info.system_id);
                }
            }
        }
    }

    /// Records a receipt written to an ESME / a DLR callback made.
    pub(crate) fn record_receipt_sent(
        &self,
        key: &SegmentKey,
        message_id: &str,
        state: ReceiptState,
        duplicate: bool,
    ) {
        inc(&self.inner.counters.receipts_sent);
        if let Some(mut e) = self.inner.segments.get_mut(key)
            && e.receipts.len() < MAX_LIST
        {
            if e.receipts.capacity() == 0 {
                e.receipts.reserve_exact(1);
            }
            e.receipts.push((message_id.into(), state, duplicate));
        }
    }

    /// Records an acknowledged receipt.
    pub(crate) fn record_receipt_acked(&self, key: &SegmentKey) {
        inc(&self.inner.counters.receipts_acked);
        if let Some(mut e) = self.inner.segments.get_mut(key) {
            e.receipts_acked += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> SubmitInfo {
        SubmitInfo {
            channel: Channel::Smpp,
            system_id: "s".into(),
            source: "src".into(),
            data_coding: 0,
            text: "t".into(),
        }
    }

    #[test]
    fn keys_distinguish_concat_and_payload() {
        let c = Concat {
            reference: 1,
            total: 2,
            seq: 1,
        };
        let a = SegmentKey::new("49", Some(c), b"x");
        let b = SegmentKey::new("49", Some(c), b"y");
        assert_eq!(a, b, "concatenated key ignores payload");
        let c2 = Concat { seq: 2, ..c };
        assert_ne!(a, SegmentKey::new("49", Some(c2), b"x"));
        assert_ne!(
            SegmentKey::new("49", None, b"x"),
            SegmentKey::new("49", None, b"y")
        );
        assert_ne!(
            SegmentKey::new("49", None, b"x"),
            SegmentKey::new("48", None, b"x")
        );
    }

    #[test]
    fn counts_duplicates_and_rejections() {
        let l = Ledger::new(100);
        let k = Arc::new(SegmentKey::new("+4912", None, b"hello"));
        let i = info();
        l.record_submit(&k, &i, &SubmitOutcome::Throttled);
        l.record_submit(&k, &i, &SubmitOutcome::Accepted("1".into()));
        l.record_submit(&k, &i, &SubmitOutcome::Accepted("2".into()));
        l.record_submit(&k, &i, &SubmitOutcome::Accepted("3".into()));
        l.record_receipt_sent(&k, "1", ReceiptState::Delivrd, false);
        l.record_receipt_acked(&k);
        let s = l.summary();
        assert_eq!(s.submits_received, 4);
        assert_eq!(s.accepted, 3);
        assert_eq!(s.throttled, 1);
        assert_eq!(s.unique_segments, 1);
        assert_eq!(s.duplicate_segments, 1);
        assert_eq!(s.receipts_sent, 1);
        let segs = l.segments("4912");
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].message_ids, vec!["1", "2", "3"]);
        assert_eq!(segs[0].rejected, 1);
        assert_eq!(segs[0].receipts_acked, 1);
        assert_eq!(segs[0].payload_hex.as_deref(), Some("68656C6C6F"));
        assert!(l.segments("4913").is_empty());
        l.reset();
        assert_eq!(l.summary(), LedgerSummary::default());
        assert!(l.all_segments().is_empty());
    }

    #[test]
    fn submit_times_per_destination() {
        let l = Ledger::new(100);
        let a1 = Arc::new(SegmentKey::new(
            "447000000001",
            Some(Concat {
                reference: 7,
                total: 2,
                seq: 1,
            }),
            b"x",
        ));
        let a2 = Arc::new(SegmentKey::new(
            "447000000001",
            Some(Concat {
                reference: 7,
                total: 2,
                seq: 2,
            }),
            b"y",
        ));
        let b = Arc::new(SegmentKey::new("447000000002", None, b"z"));
        let before = now_us();
        l.record_submit(&a1, &info(), &SubmitOutcome::Throttled);
        l.record_submit(&a1, &info(), &SubmitOutcome::Accepted("1".into()));
        l.record_submit(&a2, &info(), &SubmitOutcome::Accepted("2".into()));
        l.record_submit(&b, &info(), &SubmitOutcome::Accepted("3".into()));
        l.record_submit(&b, &info(), &SubmitOutcome::Accepted("4".into()));
        let after = now_us();

        let got = l.submit_times(&[
            "+447000000001".to_string(),
            "447000000002".to_string(),
            "+447000000003".to_string(),
        ]);
        assert_eq!(got.len(), 2, "a destination never submitted is left out");
        let a = &got[0];
        assert_eq!(a.destination, "+447000000001", "named as asked");
        assert_eq!((a.segments, a.submits, a.accepted), (2, 3, 2));
        assert_eq!(
            a.duplicate_segments, 0,
            "a throttled submit is no duplicate"
        );
        assert!(before <= a.first_submit_us && a.first_submit_us <= a.last_first_submit_us);
        assert!(a.last_first_submit_us <= after);
        let b = &got[1];
        assert_eq!((b.segments, b.submits, b.duplicate_segments), (1, 2, 1));

        let seg = &l.segments("447000000001")[0];
        assert_eq!(seg.first_submit_us, a.first_submit_us);
        assert!(seg.last_submit_us >= seg.first_submit_us);
    }

    #[test]
    fn accepting_system_ids_per_destination_in_first_accepted_order() {
        let l = Ledger::new(100);
        let by = |system_id: &str| SubmitInfo {
            system_id: system_id.into(),
            ..info()
        };
        let part = |seq| {
            Arc::new(SegmentKey::new(
                "447000000001",
                Some(Concat {
                    reference: 1,
                    total: 2,
                    seq,
                }),
                b"x",
            ))
        };
        let other = Arc::new(SegmentKey::new("447000000002", None, b"z"));
        l.record_submit(&part(1), &by("c"), &SubmitOutcome::Throttled);
        l.record_submit(&part(1), &by("b"), &SubmitOutcome::Accepted("1".into()));
        l.record_submit(&part(2), &by("a"), &SubmitOutcome::Accepted("2".into()));
        l.record_submit(&part(1), &by("b"), &SubmitOutcome::Accepted("3".into()));
        l.record_submit(&part(2), &by("c"), &SubmitOutcome::Failed);
        l.record_submit(&other, &by("c"), &SubmitOutcome::Dropped);

        let got = l.submit_times(&["447000000001".into(), "447000000002".into()]);
        assert_eq!(
            got[0].system_ids,
            vec!["b", "a"],
            "rejected submits do not count"
        );
        assert!(got[1].system_ids.is_empty(), "submitted, never accepted");
        assert_eq!(
            l.segments("447000000001")[0].system_id,
            "c",
            "segment keeps its first submitter"
        );
    }

    #[test]
    fn respects_max_segments() {
        let l = Ledger::new(1);
        for p in [b"a", b"b"] {
            let k = Arc::new(SegmentKey::new("1", None, p));
            l.record_submit(&k, &info(), &SubmitOutcome::Failed);
        }
        let s = l.summary();
        assert_eq!(s.unique_segments, 1);
        assert_eq!(s.segments_not_recorded, 1);
        assert_eq!(s.failed, 2);
    }
}
