//! The loop of one bound link: reads PDUs, writes queued submits within the window, answers
//! the peer's requests, sends enquire_link, times out requests, and ends the link.
//!
//! One task owns both halves of the socket; a `select!` multiplexes reading, writing (only
//! when bytes wait), taking a part from the shared queue (only when there is room in the
//! window, the TPS limiter allows it and no throttling pause is running), handing received
//! events to the caller's channel, and the timers. Nothing in the loop blocks on one
//! direction while the other is starved.
//!
//! Strict priority: whenever the window has room, the next part is the oldest of the highest
//! lane among the queue and this link's throttled parts waiting for a resend; a throttled
//! part goes before queued parts of its own lane or lower, never before a higher lane.
//!
//! Write accounting: each submit_sm's last byte offset in the write buffer is remembered;
//! once the socket accepted bytes up to it, the submit counts as written. On link loss a
//! written submit is "outcome unknown", an unwritten one was never seen whole by the
//! carrier and is requeued (or answered "not sent").

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rusmpp::pdus::DeliverSmResp;
use rusmpp::types::COctetString;
use rusmpp::{CommandStatus, Pdu};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;

use crate::ack::{Answer, DeliverAck, Inbound};
use crate::backoff::Backoff;
use crate::bind::{BoundLink, Role};
use crate::codec::{Frame, PduCodec};
use crate::inbound::InboundEvent;
use crate::session::{QueuedSubmit, Shared};
use crate::status::CommandStatusCode;
use crate::window::Window;

mod end;
mod read;
mod write;

/// Stop taking new submits while this many bytes wait to be written.
const WRITE_BUFFER_HIGH: usize = 64 * 1024;

/// How a link ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkEnd {
    /// Shutdown finished (unbound or deadline reached).
    Shutdown,
    /// The link failed; the session reconnects.
    Lost(&'static str),
}

/// A request in the window.
#[derive(Debug)]
// Nearly every entry is a submit: boxing it would add an allocation per submit for nothing.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Submit { item: QueuedSubmit, written: bool },
    EnquireLink,
    Unbind,
}

/// What woke the loop (short-lived, one per loop turn).
#[allow(clippy::large_enum_variant)]
enum Wake<'a> {
    Shutdown,
    Frame(Option<Result<Frame, crate::codec::CodecError>>),
    Wrote(std::io::Result<usize>),
    Queued(Option<QueuedSubmit>),
    InboundPermit(Result<mpsc::Permit<'a, Inbound>, mpsc::error::SendError<()>>),
    Answered(Option<Answer>),
    TpsReady,
    PauseOver,
    Timeout,
    EnquireLink,
    DrainDeadline,
}

/// One bound link and its window.
pub(crate) struct Link {
    shared: Arc<Shared>,
    session: usize,
    role: Role,
    reader: FramedRead<OwnedReadHalf, PduCodec>,
    writer: OwnedWriteHalf,
    codec: PduCodec,
    wbuf: BytesMut,
    /// Bytes handed to the socket since the link opened.
    written: u64,
    /// Bytes put in `wbuf` since the link opened.
    buffered: u64,
    /// (end offset, sequence) of each submit_sm in the write buffer, in order.
    marks: VecDeque<(u64, u32)>,
    window: Window<Pending>,
    /// Submits in the window (enquire_link and unbind do not use window slots).
    submits_in_flight: usize,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Clock the limiter's answers are measured against.
    clock: DefaultClock,
    /// A part waiting for the TPS limiter, and when it may go.
    tps_wait: Option<(QueuedSubmit, Instant)>,
    /// Parts answered with a throttling error, resent once the pause is over: highest lane
    /// first, oldest first within a lane (see `push_retry`).
    retry: VecDeque<QueuedSubmit>,
    paused_until: Option<Instant>,
    throttle_backoff: Backoff,
    /// Events received but not yet handed to the caller's channel, with the sequence number
    /// of their deliver_sm.
    inbound: VecDeque<(InboundEvent, u32)>,
    /// The caller's answers to deliver_sm handed over ([`DeliverAck`]), and how many are
    /// still to come. A deliver_sm is answered only when the caller answers it.
    answers: mpsc::UnboundedReceiver<Answer>,
    answers_tx: mpsc::UnboundedSender<Answer>,
    unanswered: usize,
    next_enquire: Instant,
    enquire_outstanding: bool,
    /// Set once shutdown started: until when to wait for responses.
    draining: Option<Instant>,
    unbind_sent: bool,
    /// Set when the link must end after the write buffer is flushed.
    closing: Option<LinkEnd>,
    /// Latest time to end a closing link even if the buffer did not flush.
    close_by: Option<Instant>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("session", &self.session)
            .field("role", &self.role)
            .field("in_flight", &self.window.len())
            .finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn new(shared: Arc<Shared>, session: usize, role: Role, bound: BoundLink) -> Self {
        let config = Arc::clone(&shared.config);
        let limiter = config.tps_per_session.and_then(NonZeroU32::new).map(|tps| {
            // Allow a burst of about 50 ms worth of traffic so timer granularity does not
            // lower the rate, but never a burst of a whole second.
            let burst = NonZeroU32::new((tps.get() / 20).max(1)).unwrap_or(NonZeroU32::MIN);
            let period = Duration::from_secs(1) / tps.get();
            let quota = Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(tps))
                .allow_burst(burst);
            RateLimiter::direct(quota)
        });
        let (answers_tx, answers) = mpsc::unbounded_channel();
        Self {
            session,
            role,
            reader: bound.reader,
            writer: bound.writer,
            codec: PduCodec::default(),
            wbuf: BytesMut::with_capacity(8 * 1024),
            written: 0,
            buffered: 0,
            marks: VecDeque::new(),
            window: Window::new(bound.next_sequence),
            submits_in_flight: 0,
            limiter,
            clock: DefaultClock::default(),
            tps_wait: None,
            retry: VecDeque::new(),
            paused_until: None,
            throttle_backoff: Backoff::new(
                Duration::from_millis(config.throttle_min_backoff_ms),
                Duration::from_millis(config.throttle_max_backoff_ms),
            ),
            inbound: VecDeque::new(),
            answers,
            answers_tx,
            unanswered: 0,
            next_enquire: Instant::now() + config.enquire_link_interval(),
            enquire_outstanding: false,
            draining: None,
            unbind_sent: false,
            closing: None,
            close_by: None,
            shared,
        }
    }

    fn carrier(&self) -> &str {
        &self.shared.config.name
    }

    fn window_capacity(&self) -> usize {
        usize::try_from(self.shared.config.window).unwrap_or(usize::MAX)
    }

    /// Runs the link until it is lost or shutdown completes.
    pub(crate) async fn run(mut self) -> LinkEnd {
        self.shared.add_bound(self.role);
        let end = self.run_loop().await;
        self.shared.remove_bound(self.role);
        self.fail_everything(end);
        end
    }

    async fn run_loop(&mut self) -> LinkEnd {
        let shared = Arc::clone(&self.shared);
        if shared.shutdown.is_cancelled() {
            self.begin_drain();
        }
        loop {
            if let Some(end) = self.closing
                && self.wbuf.is_empty()
            {
                return end;
            }
            if let Some(end) = self.check_drain_progress() {
                return end;
            }
            // Fill the window, highest lane first; wait on the queue only if it stays open.
            while self.may_send() {
                let Some(item) = self.next_part() else { break };
                self.dispatch(item);
            }
            let take_queue = self.may_send() && self.retry.is_empty();
            let read = self.closing.is_none();
            let timeout_at = self.window.next_deadline();
            let tps_at = self.tps_wait.as_ref().map(|(_, at)| *at);
            let pause_at = self.paused_until;
            let drain_at = match (self.draining, self.close_by) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wake = tokio::select! {
                biased;
                () = shared.shutdown.cancelled(), if self.draining.is_none() => Wake::Shutdown,
                frame = self.reader.next(), if read => Wake::Frame(frame),
                res = self.writer.write(&self.wbuf), if !self.wbuf.is_empty() => Wake::Wrote(res),
                permit = shared.inbound_tx.reserve(), if !self.inbound.is_empty() => Wake::InboundPermit(permit),
                answer = self.answers.recv(), if self.unanswered > 0 => Wake::Answered(answer),
                () = sleep_until_opt(timeout_at), if timeout_at.is_some() => Wake::Timeout,
                () = sleep_until_opt(tps_at), if tps_at.is_some() => Wake::TpsReady,
                () = sleep_until_opt(pause_at), if pause_at.is_some() => Wake::PauseOver,
                () = tokio::time::sleep_until(self.next_enquire), if self.closing.is_none() => Wake::EnquireLink,
                () = sleep_until_opt(drain_at), if drain_at.is_some() => Wake::DrainDeadline,
                item = shared.queue.pop(), if take_queue => Wake::Queued(item),
            };
            let result = match wake {
                Wake::Shutdown => {
                    self.begin_drain();
                    Ok(())
                }
                Wake::Frame(Some(Ok(frame))) => self.on_frame(frame),
                Wake::Frame(Some(Err(err))) => {
                    tracing::warn!(carrier = self.carrier(), session = self.session, error = %err, "read failed");
                    Err(LinkEnd::Lost("read error"))
                }
                Wake::Frame(None) => Err(LinkEnd::Lost("closed by peer")),
                Wake::Wrote(Ok(0)) => Err(LinkEnd::Lost("write returned zero")),
                Wake::Wrote(Ok(n)) => {
                    self.on_written(n);
                    Ok(())
                }
                Wake::Wrote(Err(err)) => {
                    tracing::warn!(carrier = self.carrier(), session = self.session, error = %err, "write failed");
                    Err(LinkEnd::Lost("write error"))
                }
                Wake::InboundPermit(Ok(permit)) => {
                    if let Some((event, seq)) = self.inbound.pop_front() {
                        self.shared.metrics.inbound(event.kind());
                        let ack = DeliverAck::new(seq, self.answers_tx.clone());
                        permit.send(Inbound { event, ack });
                        self.unanswered += 1;
                    }
                    Ok(())
                }
                Wake::Answered(answer) => {
                    // `None` cannot happen: the link holds a sender itself.
                    if let Some((seq, status)) = answer {
                        self.unanswered = self.unanswered.saturating_sub(1);
                        if status != CommandStatus::EsmeRok {
                            self.shared.metrics.inbound("deferred");
                        }
                        self.respond(seq, status, deliver_sm_resp());
                    }
                    Ok(())
                }
                Wake::InboundPermit(Err(_)) => {
                    // The caller dropped the receiver: ask the carrier to redeliver later.
                    while let Some((_, seq)) = self.inbound.pop_front() {
                        self.respond(
                            seq,
                            CommandStatus::from(CommandStatusCode::RX_TEMPORARY_APP_ERROR.0),
                            deliver_sm_resp(),
                        );
                    }
                    Ok(())
                }
                Wake::Queued(Some(item)) => {
                    self.dispatch(item);
                    Ok(())
                }
                // The queue only closes once shutdown has started.
                Wake::Queued(None) => {
                    self.begin_drain();
                    Ok(())
                }
                Wake::TpsReady => {
                    if let Some((item, _)) = self.tps_wait.take() {
                        self.dispatch(item);
                    }
                    Ok(())
                }
                Wake::PauseOver => {
                    self.paused_until = None;
                    Ok(())
                }
                Wake::Timeout => self.on_timeouts(),
                Wake::EnquireLink => {
                    self.send_enquire_link();
                    Ok(())
                }
                Wake::DrainDeadline => return self.closing.unwrap_or(LinkEnd::Shutdown),
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    /// Whether a new submit may be written now.
    fn may_send(&self) -> bool {
        self.role.transmits()
            && self.draining.is_none()
            && self.closing.is_none()
            && self.tps_wait.is_none()
            && self.paused_until.is_none()
            && self.submits_in_flight < self.window_capacity()
            && self.wbuf.len() < WRITE_BUFFER_HIGH
    }

    /// The part to send next, without waiting: the head of the retry list unless the queue
    /// holds a part of a higher lane, else the head of the highest non-empty queue lane.
    fn next_part(&mut self) -> Option<QueuedSubmit> {
        match self.retry.front().map(|item| item.lane) {
            Some(lane) => self
                .shared
                .queue
                .try_pop_above(lane)
                .or_else(|| self.retry.pop_front()),
            None => self.shared.queue.try_pop(),
        }
    }

    /// Keeps a throttled part for a resend (see [`insert_by_lane`]).
    fn push_retry(&mut self, item: QueuedSubmit) {
        insert_by_lane(&mut self.retry, item);
    }
}

/// Inserts `item` after the parts of its own or a higher lane (so oldest first within a
/// lane) and before those of lower lanes: the list stays ordered by lane, then by age.
fn insert_by_lane(parts: &mut VecDeque<QueuedSubmit>, item: QueuedSubmit) {
    let at = parts
        .iter()
        .position(|waiting| item.lane.outranks(waiting.lane))
        .unwrap_or(parts.len());
    parts.insert(at, item);
}

fn deliver_sm_resp() -> Pdu {
    Pdu::DeliverSmResp(DeliverSmResp::new(COctetString::empty(), Vec::new()))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lane::Lane;
    use crate::queue::test_part as part;

    #[test]
    fn throttled_parts_are_kept_by_lane_then_age() {
        let mut retry = VecDeque::new();
        for (lane, tag) in [
            (Lane::Bulk, 1),
            (Lane::Transactional, 2),
            (Lane::Bulk, 3),
            (Lane::Otp, 4),
            (Lane::Transactional, 5),
            (Lane::Otp, 6),
        ] {
            insert_by_lane(&mut retry, part(lane, tag));
        }
        let order: Vec<u32> = retry.iter().map(|p| p.command.sequence_number).collect();
        assert_eq!(order, vec![4, 6, 2, 5, 1, 3]);
    }
}
