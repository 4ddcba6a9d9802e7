//! The client handle the dispatcher uses: start the sessions of one carrier, submit
//! messages, receive inbound events, shut down.

use std::sync::Arc;
use std::time::Duration;

use rusmpp::{Command, CommandStatus};
use tokio::runtime::Handle;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ack::Inbound;
use crate::bind::Role;
use crate::config::{BindMode, CarrierConfig};
use crate::error::{ConfigError, NotSentReason, PartFailure, SubmitError, UnknownReason};
use crate::lane::Lane;
use crate::metrics::CarrierMetrics;
use crate::queue::SubmitQueue;
use crate::session::{PartDone, QueuedSubmit, Shared, run_session};
use crate::submit::{
    PartOutcome, PreparedMessage, PreparedPart, SubmitReport, SubmitRequest, prepare_parts,
};

/// SMPP client for one carrier: several sessions, one submit API, one inbound channel.
///
/// Cheap to clone; all clones drive the same sessions. Dropping the last clone without
/// [`SmppClient::shutdown`] stops the sessions abruptly (in-flight submits are reported as
/// outcome unknown).
#[derive(Debug, Clone)]
pub struct SmppClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl SmppClient {
    /// Validates the config and starts the sessions (each connects, binds and reconnects on
    /// its own). Returns the client and the channel of inbound events (receipts and MO).
    ///
    /// Each deliver_sm is answered with deliver_sm_resp only when the caller answers its
    /// [`Inbound::ack`](crate::Inbound) (accept once the event is kept, defer otherwise; a
    /// dropped ack defers). The channel is bounded: when it is full, sessions keep up to
    /// `inbound_backlog` events and refuse further deliver_sm with ESME_RX_T_APPN (the
    /// carrier redelivers later), never stopping to read. Must be called inside a tokio runtime; the
    /// sessions run on it (see [`SmppClient::start_on`]).
    pub fn start(config: CarrierConfig) -> Result<(Self, mpsc::Receiver<Inbound>), ConfigError> {
        Self::start_on(config, &Handle::current())
    }

    /// [`SmppClient::start`] with the sessions spawned on `runtime`, e.g. a runtime on a
    /// thread of its own so the links never wait behind the caller's tasks. The client's
    /// methods may be called from any runtime; keep `runtime` alive until shutdown.
    pub fn start_on(
        config: CarrierConfig,
        runtime: &Handle,
    ) -> Result<(Self, mpsc::Receiver<Inbound>), ConfigError> {
        config.validate()?;
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_channel);
        let (bound, _) = watch::channel(0usize);
        let metrics = CarrierMetrics::new(&config.name);
        let shared = Arc::new(Shared {
            queue: SubmitQueue::new(config.submit_queue, &metrics),
            metrics,
            config: Arc::new(config),
            inbound_tx,
            bound,
            shutdown: CancellationToken::new(),
            shutdown_deadline: std::sync::Mutex::new(None),
        });
        let mut roles = Vec::new();
        let cfg = &shared.config;
        match cfg.bind_mode {
            BindMode::Transceiver => roles.extend((0..cfg.sessions).map(|_| Role::Transceiver)),
            BindMode::TransmitterReceiver => {
                roles.extend((0..cfg.sessions).map(|_| Role::Transmitter));
                roles.extend((0..cfg.receiver_sessions).map(|_| Role::Receiver));
            }
        }
        let tasks = roles
            .into_iter()
            .enumerate()
            .map(|(index, role)| runtime.spawn(run_session(Arc::clone(&shared), index, role)))
            .collect();
        Ok((
            Self {
                inner: Arc::new(Inner {
                    shared,
                    tasks: Mutex::new(tasks),
                }),
            },
            inbound_rx,
        ))
    }

    /// The carrier settings in use.
    pub fn config(&self) -> &CarrierConfig {
        &self.inner.shared.config
    }

    /// Number of bound sessions that can take submits right now.
    pub fn bound_sessions(&self) -> usize {
        self.inner.shared.bound_count()
    }

    /// Parts waiting in `lane`'s queue for a window slot (not yet taken by a session).
    pub fn queue_depth(&self, lane: Lane) -> usize {
        self.inner.shared.queue.depth(lane)
    }

    /// Waits until at least `sessions` submit-capable sessions are bound, or `timeout`.
    /// Returns whether that happened.
    pub async fn wait_until_bound(&self, sessions: usize, timeout: Duration) -> bool {
        let mut rx = self.inner.shared.bound.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n >= sessions.max(1)))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Builds the submit_sm PDUs of a request without sending them (e.g. to count parts).
    /// Every part carries the request's lane ([`SubmitRequest::with_lane`]) and that lane's
    /// priority_flag, so [`SmppClient::submit_parts`] queues it in the right lane.
    pub fn prepare(&self, request: &SubmitRequest) -> Result<PreparedMessage, SubmitError> {
        prepare_parts(&self.inner.shared.config, request)
    }

    /// Segments and sends a message; returns one outcome per part. Throttling is handled
    /// inside (pause and resend); timeouts and link loss give "outcome unknown" and are
    /// never resent by the client; parts that were never written give "not sent".
    ///
    /// Cancellation: dropping the returned future (e.g. a caller-side timeout) discards the
    /// parts that were not written yet; parts already written stay in the window and their
    /// outcome is unknown to the caller, so treat a dropped submit as "outcome unknown".
    pub async fn submit(&self, request: SubmitRequest) -> Result<SubmitReport, SubmitError> {
        let prepared = self.prepare(&request)?;
        tracing::debug!(
            carrier = %self.inner.shared.config.name,
            destination = %crate::mask::mask_address(&request.destination),
            parts = prepared.parts.len(),
            "submitting message"
        );
        let parts = self.submit_parts(prepared.parts).await;
        Ok(SubmitReport {
            encoding: prepared.encoding,
            parts,
        })
    }

    /// Sends prepared parts (one submit_sm each) and returns their outcomes in order.
    ///
    /// Each part is queued in its lane ([`PreparedPart::lane`]) for whichever bound session
    /// has room in its window; sessions serve the highest non-empty lane first. When the
    /// part's lane already holds `submit_queue` parts this waits for space (backpressure on
    /// that lane only: a full bulk lane never delays an OTP). With no session bound every
    /// part is answered "not sent" at once rather than waiting for a reconnect.
    pub async fn submit_parts(&self, parts: Vec<PreparedPart>) -> Vec<PartOutcome> {
        self.submit_parts_before(parts, None).await
    }

    /// [`SmppClient::submit_parts`], writing no part (nor resending a throttled one) at or
    /// after `write_by`: such a part is answered "not sent" ([`NotSentReason::DeadlinePassed`]).
    /// A dispatcher passes the end of its lease on the message's partition, so nothing it
    /// submits reaches the carrier once another instance may own the message.
    pub async fn submit_parts_before(
        &self,
        parts: Vec<PreparedPart>,
        write_by: Option<std::time::Instant>,
    ) -> Vec<PartOutcome> {
        let shared = &self.inner.shared;
        let write_by = write_by.map(tokio::time::Instant::from_std);
        let mut waiting = Vec::with_capacity(parts.len());
        for part in parts {
            let (seq, total, lane) = (part.seq, part.total, part.lane());
            let (tx, rx) = oneshot::channel();
            let item = QueuedSubmit {
                command: Command::new(CommandStatus::EsmeRok, 0, part.into_pdu()),
                reply: tx,
                throttled: 0,
                lane,
                write_by,
            };
            if shared.shutdown.is_cancelled() {
                shared.not_sent(item, NotSentReason::ShuttingDown);
            } else if shared.bound_count() == 0 {
                shared.not_sent(item, NotSentReason::NotConnected);
            } else if let Err(item) = shared.queue.push(item).await {
                // The queue closes when shutdown starts, also under a caller waiting for room.
                shared.not_sent(item, NotSentReason::ShuttingDown);
            }
            waiting.push((seq, total, rx));
        }
        let mut outcomes = Vec::with_capacity(waiting.len());
        for (seq, total, rx) in waiting {
            let done = rx.await.unwrap_or(PartDone {
                throttled: 0,
                // Dropped without an answer (client torn down mid-flight): it may have been
                // written, so the only safe answer is "unknown".
                result: Err(PartFailure::OutcomeUnknown {
                    reason: UnknownReason::Shutdown,
                }),
            });
            outcomes.push(PartOutcome {
                seq,
                total,
                throttled: done.throttled,
                result: done.result,
            });
        }
        outcomes
    }

    /// Graceful shutdown: stops taking submits (new, queued and waiting-for-room ones get
    /// "not sent"), waits up to `grace` for responses to the submits in flight, unbinds, and
    /// reports whatever is still unanswered as outcome unknown. Returns when every session
    /// has stopped.
    ///
    /// The window is drained before the unbind (rather than unbinding first) because some
    /// SMSCs close the link right after unbind_resp and drop the pending responses.
    pub async fn shutdown(&self, grace: Duration) {
        let shared = &self.inner.shared;
        {
            let mut deadline = shared
                .shutdown_deadline
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            deadline.get_or_insert_with(|| Instant::now() + grace);
        }
        shared.shutdown.cancel();
        shared.queue.close();
        shared.drain_queue(NotSentReason::ShuttingDown);
        let tasks: Vec<JoinHandle<()>> = self.inner.tasks.lock().await.drain(..).collect();
        for task in tasks {
            if let Err(err) = task.await {
                tracing::error!(error = %err, "session task failed");
            }
        }
        // Nothing can be queued after the close; this only makes sure no caller is left waiting.
        shared.drain_queue(NotSentReason::ShuttingDown);
        tracing::info!(carrier = %shared.config.name, "smpp client stopped");
    }
}
