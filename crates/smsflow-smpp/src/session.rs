//! One session: connect, bind, run the link, and reconnect with capped exponential backoff
//! and jitter when the link is lost. Also the state every session of a carrier shares.
//!
//! All sessions of a carrier take parts from one shared [`SubmitQueue`] (one FIFO per
//! priority lane, highest lane first), each only while it is bound and has room in its
//! window, so submits spread over the binds by themselves and a session that is down or slow
//! takes nothing. While no session is bound, sessions waiting to reconnect answer queued
//! parts with "not sent" instead of letting them wait.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use rusmpp::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ack::Inbound;
use crate::backoff::Backoff;
use crate::bind::{Role, connect_and_bind};
use crate::config::CarrierConfig;
use crate::error::{NotSentReason, PartFailure, UnknownReason};
use crate::lane::Lane;
use crate::link::{Link, LinkEnd};
use crate::metrics::CarrierMetrics;
use crate::queue::SubmitQueue;
use crate::submit::Accepted;

/// A part waiting to be sent (or resent after throttling).
#[derive(Debug)]
pub(crate) struct QueuedSubmit {
    /// The submit_sm command; its sequence number is set when it is written.
    pub(crate) command: Command,
    /// Where the final result goes.
    pub(crate) reply: oneshot::Sender<PartDone>,
    /// Throttling responses received so far.
    pub(crate) throttled: u32,
    /// The queue it waits in, which decides when it is sent relative to other parts.
    pub(crate) lane: Lane,
    /// Not written (first time or again after throttling) at or after this instant.
    pub(crate) write_by: Option<tokio::time::Instant>,
}

/// The final result of one part, as sent back to the waiting caller.
#[derive(Debug)]
pub(crate) struct PartDone {
    pub(crate) throttled: u32,
    pub(crate) result: Result<Accepted, PartFailure>,
}

/// State shared by the sessions of one carrier and the client handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<CarrierConfig>,
    pub(crate) metrics: CarrierMetrics,
    /// Parts waiting for a window slot on any session, one bounded FIFO per lane.
    pub(crate) queue: SubmitQueue,
    pub(crate) inbound_tx: mpsc::Sender<Inbound>,
    /// Number of bound sessions that take submits.
    pub(crate) bound: watch::Sender<usize>,
    /// Cancelled when shutdown starts.
    pub(crate) shutdown: CancellationToken,
    /// Until when in-flight responses are awaited during shutdown.
    pub(crate) shutdown_deadline: StdMutex<Option<Instant>>,
}

impl Shared {
    /// Number of bound sessions that take submits.
    pub(crate) fn bound_count(&self) -> usize {
        *self.bound.borrow()
    }

    pub(crate) fn drain_deadline(&self) -> Instant {
        let guard = self
            .shutdown_deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.unwrap_or_else(Instant::now)
    }

    /// Answers a part with its final result.
    pub(crate) fn finish(&self, item: QueuedSubmit, result: Result<Accepted, PartFailure>) {
        match &result {
            Err(PartFailure::OutcomeUnknown { reason }) => {
                self.metrics.outcome_unknown(reason.label());
            }
            Err(PartFailure::NotSent { reason }) => self.metrics.not_sent(reason.label()),
            _ => {}
        }
        // The caller may have given up waiting; nothing else to do then.
        let _ = item.reply.send(PartDone {
            throttled: item.throttled,
            result,
        });
    }

    pub(crate) fn not_sent(&self, item: QueuedSubmit, reason: NotSentReason) {
        self.finish(item, Err(PartFailure::NotSent { reason }));
    }

    pub(crate) fn unknown(&self, item: QueuedSubmit, reason: UnknownReason) {
        self.finish(item, Err(PartFailure::OutcomeUnknown { reason }));
    }

    /// Parts that were certainly not accepted by the carrier (never written, or answered
    /// with a throttling error) go back to the head of their lanes, in the given order, for
    /// another session; or are answered "not sent" when no session is bound or shutdown has
    /// started.
    pub(crate) fn requeue_or_not_sent(&self, items: Vec<QueuedSubmit>, reason: NotSentReason) {
        if self.shutdown.is_cancelled() {
            return self.not_sent_all(items, NotSentReason::ShuttingDown);
        }
        if self.bound_count() == 0 {
            return self.not_sent_all(items, reason);
        }
        if let Err(items) = self.queue.requeue(items) {
            // Closed since the check above: shutdown has started.
            self.not_sent_all(items, NotSentReason::ShuttingDown);
        }
    }

    fn not_sent_all(&self, items: Vec<QueuedSubmit>, reason: NotSentReason) {
        for item in items {
            self.not_sent(item, reason);
        }
    }

    pub(crate) fn add_bound(&self, role: Role) {
        if role.transmits() {
            self.bound.send_modify(|n| *n += 1);
        }
        self.metrics.sessions_bound_add(1.0);
    }

    pub(crate) fn remove_bound(&self, role: Role) {
        if role.transmits() {
            self.bound.send_modify(|n| *n = n.saturating_sub(1));
        }
        self.metrics.sessions_bound_add(-1.0);
    }

    /// Answers every queued part "not sent" (at shutdown).
    pub(crate) fn drain_queue(&self, reason: NotSentReason) {
        self.not_sent_all(self.queue.take_all(), reason);
    }
}

/// Runs one session until shutdown.
pub(crate) async fn run_session(shared: Arc<Shared>, index: usize, role: Role) {
    let config = Arc::clone(&shared.config);
    let mut backoff = Backoff::new(
        Duration::from_millis(config.reconnect_min_backoff_ms),
        Duration::from_millis(config.reconnect_max_backoff_ms),
    );
    let stable_after = Duration::from_millis(config.reconnect_max_backoff_ms);
    let mut ever_bound = false;
    let carrier = config.name.as_str();
    loop {
        if shared.shutdown.is_cancelled() {
            break;
        }
        let attempt = tokio::select! {
            result = connect_and_bind(&config, role) => Some(result),
            () = shared.shutdown.cancelled() => None,
        };
        match attempt {
            None => break,
            Some(Ok(bound)) => {
                if ever_bound {
                    shared.metrics.reconnect();
                }
                ever_bound = true;
                tracing::info!(
                    carrier,
                    session = index,
                    role = role.label(),
                    "session bound"
                );
                let started = Instant::now();
                let end = Link::new(Arc::clone(&shared), index, role, bound)
                    .run()
                    .await;
                if started.elapsed() >= stable_after {
                    backoff.reset();
                }
                match end {
                    LinkEnd::Shutdown => break,
                    LinkEnd::Lost(reason) => {
                        tracing::warn!(carrier, session = index, reason, "session link lost");
                    }
                }
            }
            Some(Err(err)) => {
                tracing::warn!(carrier, session = index, role = role.label(), error = %err, "bind failed");
            }
        }
        let delay = backoff.next_delay();
        tracing::debug!(
            carrier,
            session = index,
            delay_ms = delay.as_millis() as u64,
            "reconnecting after backoff"
        );
        if !wait_backoff(&shared, delay, role).await {
            break;
        }
    }
    tracing::info!(carrier, session = index, "session stopped");
}

/// Sleeps for `delay`. Meanwhile, if no session is bound, answers queued parts "not sent"
/// so callers are not left waiting for a link that is down. Returns false on shutdown.
async fn wait_backoff(shared: &Shared, delay: Duration, role: Role) -> bool {
    let until = Instant::now() + delay;
    loop {
        let drain = role.transmits() && shared.bound_count() == 0;
        let mut bound_rx = shared.bound.subscribe();
        tokio::select! {
            () = tokio::time::sleep_until(until) => return true,
            () = shared.shutdown.cancelled() => return false,
            item = shared.queue.pop(), if drain => {
                // Closed: shutdown has started.
                let Some(item) = item else { return false };
                shared.requeue_or_not_sent(vec![item], NotSentReason::NotConnected);
            }
            // Re-evaluate `drain` when another session binds or drops.
            _ = bound_rx.changed() => {}
        }
    }
}
