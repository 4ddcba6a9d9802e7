//! Routing of MC-originated deliver_sm (receipts and MOs) to the bound receiver or
//! transceiver sessions of a system_id, with a pending queue for when none is bound and
//! re-queueing of unacknowledged ones when a session ends (at-least-once, like a real SMSC).

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, OnceLock, RwLock,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
};

use dashmap::DashMap;
use rusmpp::{Command, pdus::DeliverSm};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{ledger::SegmentKey, scenario::ReceiptState};

/// What an outgoing deliver_sm carries, for the ledger.
#[derive(Debug, Clone)]
pub(crate) enum OutKind {
    /// A delivery receipt.
    Receipt {
        /// Ledger key of the segment.
        key: Arc<SegmentKey>,
        /// Id as written in the receipt.
        message_id: String,
        /// Reported state.
        state: ReceiptState,
        /// Scenario duplicate.
        duplicate: bool,
    },
    /// A mobile-originated message.
    Mo,
}

/// A deliver_sm waiting to be written or acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub pdu: DeliverSm,
    pub kind: OutKind,
}

/// Items of a session's write queue.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A response (or generic_nack) to write as is.
    Response(Command),
    /// An MC-originated request; the writer gives it a sequence number.
    Request(Outgoing),
    /// Flush and stop writing (after unbind_resp).
    Close,
}

/// A live session as seen from outside its tasks.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    pub id: u64,
    system_id: OnceLock<String>,
    pub tx: mpsc::Sender<Outbound>,
    /// deliver_sm written and not yet acknowledged, by sequence number.
    pub inflight: Mutex<HashMap<u32, Outgoing>>,
    pub cancel: CancellationToken,
    seq: AtomicU32,
}

impl SessionHandle {
    pub(crate) fn new(id: u64, tx: mpsc::Sender<Outbound>, cancel: CancellationToken) -> Self {
        Self {
            id,
            system_id: OnceLock::new(),
            tx,
            inflight: Mutex::new(HashMap::new()),
            cancel,
            seq: AtomicU32::new(1),
        }
    }

    /// system_id once bound ("" before).
    pub(crate) fn system_id(&self) -> &str {
        self.system_id.get().map_or("", String::as_str)
    }

    /// Sets the system_id at bind (first bind wins).
    pub(crate) fn set_system_id(&self, system_id: &str) {
        let _ = self.system_id.set(system_id.to_string());
    }

    /// Next MC-side sequence number (1..=0x7FFFFFFF).
    pub(crate) fn next_seq(&self) -> u32 {
        let s = self.seq.fetch_add(1, Ordering::Relaxed);
        (s.wrapping_sub(1) % 0x7FFF_FFFF) + 1
    }

    pub(crate) fn take_inflight(&self, seq: u32) -> Option<Outgoing> {
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq)
    }
}

/// Session registry and deliver_sm router.
#[derive(Debug)]
pub(crate) struct Router {
    /// Receiver/transceiver sessions by system_id.
    receivers: RwLock<HashMap<String, Vec<Arc<SessionHandle>>>>,
    /// Every connection, bound or not (for `drop_connections` and outages).
    all: DashMap<u64, Arc<SessionHandle>>,
    pending: Mutex<HashMap<String, VecDeque<Outgoing>>>,
    max_pending: usize,
    rr: AtomicUsize,
}

impl Router {
    pub(crate) fn new(max_pending: usize) -> Self {
        Self {
            receivers: RwLock::new(HashMap::new()),
            all: DashMap::new(),
            pending: Mutex::new(HashMap::new()),
            max_pending,
            rr: AtomicUsize::new(0),
        }
    }

    pub(crate) fn track(&self, handle: Arc<SessionHandle>) {
        self.all.insert(handle.id, handle);
    }

    pub(crate) fn untrack(&self, id: u64) {
        self.all.remove(&id);
    }

    /// Cancels every connection; returns their ids.
    pub(crate) fn cancel_all(&self) -> Vec<u64> {
        self.cancel_where(|_| true)
    }

    /// Cancels the bound sessions whose system_id satisfies `down`; returns their ids.
    pub(crate) fn cancel_bound(&self, down: impl Fn(&str) -> bool) -> Vec<u64> {
        self.cancel_where(|h| !h.system_id().is_empty() && down(h.system_id()))
    }

    fn cancel_where(&self, pick: impl Fn(&SessionHandle) -> bool) -> Vec<u64> {
        self.all
            .iter()
            .filter(|e| pick(e.value()))
            .map(|e| {
                e.value().cancel.cancel();
                *e.key()
            })
            .collect()
    }

    pub(crate) fn is_tracked(&self, id: u64) -> bool {
        self.all.contains_key(&id)
    }

    pub(crate) fn has_receiver(&self, system_id: &str) -> bool {
        self.receivers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(system_id)
            .is_some_and(|v| !v.is_empty())
    }

    /// Makes a bound receiver/transceiver reachable and hands it the pending deliver_sm.
    pub(crate) fn register_receiver(self: &Arc<Self>, handle: Arc<SessionHandle>) {
        self.receivers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(handle.system_id().to_string())
            .or_default()
            .push(Arc::clone(&handle));
        let backlog = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(handle.system_id());
        if let Some(backlog) = backlog {
            tracing::debug!(
                session = handle.id,
                count = backlog.len(),
                "flushing pending deliver_sm"
            );
            let router = Arc::clone(self);
            tokio::spawn(async move {
                let mut items = backlog.into_iter();
                while let Some(out) = items.next() {
                    if let Err(mpsc::error::SendError(Outbound::Request(back))) =
                        handle.tx.send(Outbound::Request(out)).await
                    {
                        // the session died meanwhile: route the rest elsewhere (or park it)
                        let system_id = handle.system_id();
                        router.unregister_receiver(system_id, handle.id);
                        router.deliver(system_id, back).await;
                        for rest in items {
                            router.deliver(system_id, rest).await;
                        }
                        break;
                    }
                }
            });
        }
    }

    pub(crate) fn unregister_receiver(&self, system_id: &str, id: u64) {
        let mut map = self.receivers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.get_mut(system_id) {
            v.retain(|h| h.id != id);
            if v.is_empty() {
                map.remove(system_id);
            }
        }
    }

    fn pick(&self, system_id: &str) -> Option<Arc<SessionHandle>> {
        let map = self.receivers.read().unwrap_or_else(|e| e.into_inner());
        let v = map.get(system_id)?;
        if v.is_empty() {
            return None;
        }
        let i = self.rr.fetch_add(1, Ordering::Relaxed) % v.len();
        Some(Arc::clone(&v[i]))
    }

    /// Sends `out` to a receiver of `system_id`, or keeps it until one binds.
    pub(crate) async fn deliver(&self, system_id: &str, mut out: Outgoing) {
        loop {
            let handle = {
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                match self.pick(system_id) {
                    Some(h) => h,
                    None => {
                        let q = pending.entry(system_id.to_string()).or_default();
                        if q.len() >= self.max_pending {
                            q.pop_front();
                            tracing::warn!(
                                system_id,
                                "pending deliver_sm queue full, dropping oldest"
                            );
                        }
                        q.push_back(out);
                        return;
                    }
                }
            };
            match handle.tx.send(Outbound::Request(out)).await {
                Ok(()) => return,
                Err(mpsc::error::SendError(Outbound::Request(back))) => {
                    // a dead session: forget it and try the next one (or park)
                    self.unregister_receiver(system_id, handle.id);
                    out = back;
                }
                Err(_) => return,
            }
        }
    }

    /// Pending deliver_sm count for `system_id`.
    #[cfg(test)]
    pub(crate) fn pending_len(&self, system_id: &str) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(system_id)
            .map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out() -> Outgoing {
        Outgoing {
            pdu: DeliverSm::default(),
            kind: OutKind::Mo,
        }
    }

    #[tokio::test]
    async fn pending_until_receiver_binds() {
        let r = Arc::new(Router::new(2));
        r.deliver("a", out()).await;
        r.deliver("a", out()).await;
        r.deliver("a", out()).await;
        assert_eq!(r.pending_len("a"), 2, "capped");
        let (tx, mut rx) = mpsc::channel(8);
        let h = Arc::new(SessionHandle::new(1, tx, CancellationToken::new()));
        h.set_system_id("a");
        r.register_receiver(Arc::clone(&h));
        assert!(matches!(rx.recv().await, Some(Outbound::Request(_))));
        assert!(matches!(rx.recv().await, Some(Outbound::Request(_))));
        assert_eq!(r.pending_len("a"), 0);
        r.deliver("a", out()).await;
        assert!(matches!(rx.recv().await, Some(Outbound::Request(_))));
        drop(rx);
        r.deliver("a", out()).await;
        assert!(!r.has_receiver("a"), "dead session unregistered");
        assert_eq!(r.pending_len("a"), 1);
    }

    #[test]
    fn seq_wraps_in_range() {
        let (tx, _rx) = mpsc::channel(1);
        let h = SessionHandle::new(1, tx, CancellationToken::new());
        h.seq.store(0x7FFF_FFFF, Ordering::Relaxed);
        assert_eq!(h.next_seq(), 0x7FFF_FFFF);
        assert_eq!(h.next_seq(), 1);
    }
}
