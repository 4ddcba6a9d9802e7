//! The loop of one bound link: reads PDUs, writes queued submits within the window, answers
//! the peer's requests, sends enquire_link, times out requests, and ends the link.
//!
//! One task owns both halves of the socket; a `select!` multiplexes reading, writing (only
//! when bytes wait), taking a part from the shared queue (only when there is room in the
//! window, the TPS limiter allows it and no throttling pause is running), handing received
//! events to the caller's channel, and the timers. Nothing in the loop blocks on one
//! direction while the other is starved.
//!
//! Write accounting: each submit_sm's last byte offset in the write buffer is remembered;
//! once the socket accepted bytes up to it, the submit counts as written. On link loss a
//! written submit is "outcome unknown", an unwritten one was never seen whole by the
//! carrier and is requeued (or answered "not sent").

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::StreamExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rusmpp::pdus::{DeliverSmResp, SubmitSmResp};
use rusmpp::types::COctetString;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Encoder, FramedRead};

use crate::backoff::Backoff;
use crate::bind::{BoundLink, Role};
use crate::codec::{Frame, PduCodec, is_response};
use crate::deliver::DeliverFields;
use crate::error::{NotSentReason, PartFailure, UnknownReason};
use crate::idnorm::IdSource;
use crate::inbound::{InboundEvent, to_event};
use crate::session::{QueuedSubmit, Shared};
use crate::status::CommandStatusCode;
use crate::submit::Accepted;
use crate::window::Window;

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
    InboundPermit(Result<mpsc::Permit<'a, InboundEvent>, mpsc::error::SendError<()>>),
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
    /// Parts answered with a throttling error, resent first once the pause is over.
    retry: VecDeque<QueuedSubmit>,
    paused_until: Option<Instant>,
    throttle_backoff: Backoff,
    /// Events received but not yet handed to the caller's channel, with the sequence number
    /// of their deliver_sm (answered once handed over).
    inbound: VecDeque<(InboundEvent, u32)>,
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
            // Throttled parts go first once the pause is over.
            while self.may_send() && !self.retry.is_empty() {
                if let Some(item) = self.retry.pop_front() {
                    self.dispatch(item);
                }
            }
            let take_queue = self.may_send() && self.retry.is_empty();
            let read = self.inbound.len() < shared.config.inbound_backlog && self.closing.is_none();
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
                () = sleep_until_opt(timeout_at), if timeout_at.is_some() => Wake::Timeout,
                () = sleep_until_opt(tps_at), if tps_at.is_some() => Wake::TpsReady,
                () = sleep_until_opt(pause_at), if pause_at.is_some() => Wake::PauseOver,
                () = tokio::time::sleep_until(self.next_enquire), if self.closing.is_none() => Wake::EnquireLink,
                () = sleep_until_opt(drain_at), if drain_at.is_some() => Wake::DrainDeadline,
                item = async { shared.queue_rx.lock().await.recv().await }, if take_queue => Wake::Queued(item),
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
                        permit.send(event);
                        self.respond(seq, CommandStatus::EsmeRok, deliver_sm_resp());
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
                    self.take_more_from_queue();
                    Ok(())
                }
                // The queue only closes once the client has shut down.
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

    /// Takes more queued parts without waiting, while the window has room.
    fn take_more_from_queue(&mut self) {
        let shared = Arc::clone(&self.shared);
        let Ok(mut rx) = shared.queue_rx.try_lock() else {
            return;
        };
        while self.may_send() {
            match rx.try_recv() {
                Ok(item) => self.dispatch(item),
                Err(_) => break,
            }
        }
    }

    /// Sends a part now, or parks it until the TPS limiter allows it.
    fn dispatch(&mut self, item: QueuedSubmit) {
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(self.clock.now());
            self.tps_wait = Some((item, Instant::now() + wait));
            return;
        }
        self.write_submit(item);
    }

    fn write_submit(&mut self, item: QueuedSubmit) {
        let now = Instant::now();
        let deadline = now + self.shared.config.response_timeout();
        let seq = self.window.insert(
            Pending::Submit {
                item,
                written: false,
            },
            now,
            deadline,
        );
        self.submits_in_flight += 1;
        self.shared.metrics.window_add(1.0);
        let before = self.wbuf.len();
        let encoded = match self.window.get_mut(seq) {
            Some(entry) => match &mut entry.item {
                Pending::Submit { item, .. } => {
                    item.command.sequence_number = seq;
                    self.codec.encode(&item.command, &mut self.wbuf)
                }
                _ => Ok(()),
            },
            None => Ok(()),
        };
        if let Err(err) = encoded {
            tracing::error!(carrier = self.carrier(), error = %err, "cannot encode submit_sm");
            self.wbuf.truncate(before);
            if let Some(entry) = self.window.remove(seq)
                && let Pending::Submit { item, .. } = entry.item
            {
                self.submits_in_flight -= 1;
                self.shared.metrics.window_add(-1.0);
                self.shared
                    .not_sent(item, NotSentReason::LinkLostBeforeWrite);
            }
            return;
        }
        self.buffered += (self.wbuf.len() - before) as u64;
        self.marks.push_back((self.buffered, seq));
    }

    fn on_written(&mut self, n: usize) {
        self.wbuf.advance(n);
        self.written += n as u64;
        while let Some(&(end, seq)) = self.marks.front() {
            if end > self.written {
                break;
            }
            self.marks.pop_front();
            if let Some(entry) = self.window.get_mut(seq)
                && let Pending::Submit { written, .. } = &mut entry.item
            {
                *written = true;
            }
        }
    }

    /// Encodes a PDU that needs no accounting (responses, enquire_link, unbind).
    fn write_command(&mut self, command: &Command) {
        let before = self.wbuf.len();
        match self.codec.encode(command, &mut self.wbuf) {
            Ok(()) => self.buffered += (self.wbuf.len() - before) as u64,
            Err(err) => {
                self.wbuf.truncate(before);
                tracing::error!(carrier = self.carrier(), error = %err, "cannot encode pdu");
            }
        }
    }

    fn respond(&mut self, seq: u32, status: CommandStatus, pdu: Pdu) {
        self.write_command(&Command::new(status, seq, pdu));
    }

    fn generic_nack(&mut self, seq: u32, status: CommandStatusCode) {
        self.respond(seq, CommandStatus::from(status.0), Pdu::GenericNack);
    }

    fn send_enquire_link(&mut self) {
        self.next_enquire = Instant::now() + self.shared.config.enquire_link_interval();
        if self.enquire_outstanding || self.unbind_sent {
            return;
        }
        let now = Instant::now();
        let seq = self.window.insert(
            Pending::EnquireLink,
            now,
            now + self.shared.config.response_timeout(),
        );
        self.enquire_outstanding = true;
        self.write_command(&Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLink));
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), LinkEnd> {
        match frame {
            Frame::Command(command) => {
                let id = u32::from(command.id());
                let status = u32::from(command.status());
                let seq = command.sequence_number();
                if is_response(id) {
                    let message_id = match command.pdu() {
                        Some(Pdu::SubmitSmResp(resp)) => Some(submit_resp_id(resp)),
                        _ => None,
                    };
                    self.on_response(id, CommandStatusCode(status), seq, message_id)
                } else {
                    self.on_request(&command)
                }
            }
            Frame::Undecodable {
                command_id,
                status,
                sequence,
                body,
            } => {
                if is_response(command_id) {
                    let message_id = (command_id == u32::from(CommandId::SubmitSmResp))
                        .then(|| lenient_cstring(&body));
                    self.on_response(command_id, CommandStatusCode(status), sequence, message_id)
                } else if command_id == u32::from(CommandId::DeliverSm) {
                    match DeliverFields::parse_lenient(&body) {
                        Some(fields) => {
                            tracing::debug!(carrier = self.carrier(), "deliver_sm read leniently");
                            self.on_deliver(&fields, sequence);
                        }
                        None => {
                            self.shared.metrics.inbound("invalid");
                            tracing::warn!(
                                carrier = self.carrier(),
                                "undecodable deliver_sm refused"
                            );
                            self.respond(
                                sequence,
                                CommandStatus::from(CommandStatusCode::RX_PERMANENT_APP_ERROR.0),
                                deliver_sm_resp(),
                            );
                        }
                    }
                    Ok(())
                } else {
                    tracing::warn!(
                        carrier = self.carrier(),
                        command_id,
                        "undecodable request answered with generic_nack"
                    );
                    self.generic_nack(sequence, CommandStatusCode::INVALID_COMMAND_LENGTH);
                    Ok(())
                }
            }
        }
    }

    fn on_request(&mut self, command: &Command) -> Result<(), LinkEnd> {
        let seq = command.sequence_number();
        match command.pdu() {
            Some(Pdu::EnquireLink) => {
                self.respond(seq, CommandStatus::EsmeRok, Pdu::EnquireLinkResp);
                Ok(())
            }
            Some(Pdu::DeliverSm(deliver)) => {
                let fields = DeliverFields::from_pdu(deliver);
                self.on_deliver(&fields, seq);
                Ok(())
            }
            Some(Pdu::Unbind) => {
                tracing::info!(
                    carrier = self.carrier(),
                    session = self.session,
                    "peer unbound"
                );
                self.respond(seq, CommandStatus::EsmeRok, Pdu::UnbindResp);
                // Flush the unbind_resp, then end (bounded by `close_by`).
                self.closing = Some(LinkEnd::Lost("unbound by peer"));
                self.close_by = Some(Instant::now() + self.shared.config.response_timeout());
                Ok(())
            }
            Some(Pdu::AlertNotification(_) | Pdu::Outbind(_)) => Ok(()),
            _ => {
                let id = u32::from(command.id());
                tracing::debug!(
                    carrier = self.carrier(),
                    command_id = id,
                    "unsupported request"
                );
                self.generic_nack(seq, CommandStatusCode::INVALID_COMMAND_ID);
                Ok(())
            }
        }
    }

    fn on_deliver(&mut self, fields: &DeliverFields, seq: u32) {
        let event = to_event(&self.shared.config, fields);
        self.inbound.push_back((event, seq));
    }

    fn on_response(
        &mut self,
        id: u32,
        status: CommandStatusCode,
        seq: u32,
        message_id: Option<String>,
    ) -> Result<(), LinkEnd> {
        self.shared.metrics.response(command_label(id), status);
        let Some(entry) = self.window.remove(seq) else {
            tracing::debug!(
                carrier = self.carrier(),
                command_id = id,
                "response for no waiting request"
            );
            return Ok(());
        };
        match entry.item {
            Pending::EnquireLink => {
                self.enquire_outstanding = false;
                Ok(())
            }
            Pending::Unbind => Err(LinkEnd::Shutdown),
            Pending::Submit { item, .. } => {
                self.submits_in_flight -= 1;
                self.shared.metrics.window_add(-1.0);
                self.on_submit_response(item, id, status, message_id, entry.sent_at);
                Ok(())
            }
        }
    }

    fn on_submit_response(
        &mut self,
        mut item: QueuedSubmit,
        id: u32,
        status: CommandStatusCode,
        message_id: Option<String>,
        sent_at: Instant,
    ) {
        let is_submit_resp = id == u32::from(CommandId::SubmitSmResp);
        let is_nack = id == u32::from(CommandId::GenericNack);
        if !(is_submit_resp || is_nack) || (is_nack && status.is_ok()) {
            tracing::warn!(
                carrier = self.carrier(),
                command_id = id,
                "unexpected response to submit_sm"
            );
            self.shared.unknown(item, UnknownReason::UnexpectedResponse);
            return;
        }
        if status.is_throttling() {
            item.throttled += 1;
            self.shared.metrics.throttled();
            let pause = self.throttle_backoff.next_delay();
            let until = Instant::now() + pause;
            self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
            tracing::debug!(
                carrier = self.carrier(),
                session = self.session,
                pause_ms = pause.as_millis() as u64,
                "throttled, pausing"
            );
            self.retry.push_back(item);
            return;
        }
        self.throttle_backoff.reset();
        self.shared.metrics.submit_latency(sent_at.elapsed());
        if status.is_ok() {
            let raw = message_id.unwrap_or_default();
            if raw.is_empty() {
                tracing::warn!(
                    carrier = self.carrier(),
                    "submit_sm_resp without message_id"
                );
            }
            let accepted = Accepted {
                message_id: self
                    .shared
                    .config
                    .message_id
                    .normalise(&raw, IdSource::SubmitResponse),
                raw_message_id: raw,
            };
            self.shared.finish(item, Ok(accepted));
        } else {
            self.shared.finish(
                item,
                Err(PartFailure::Rejected {
                    status,
                    class: status.class(),
                }),
            );
        }
    }

    fn on_timeouts(&mut self) -> Result<(), LinkEnd> {
        let now = Instant::now();
        let timeout = self.shared.config.response_timeout();
        let mut end = Ok(());
        for (_, entry) in self.window.take_expired(now) {
            match entry.item {
                Pending::Submit { item, .. } => {
                    self.submits_in_flight -= 1;
                    self.shared.metrics.window_add(-1.0);
                    tracing::warn!(
                        carrier = self.carrier(),
                        session = self.session,
                        "submit_sm timed out, outcome unknown"
                    );
                    self.shared.unknown(item, UnknownReason::Timeout(timeout));
                }
                Pending::EnquireLink => {
                    self.enquire_outstanding = false;
                    end = Err(LinkEnd::Lost("enquire_link timed out"));
                }
                Pending::Unbind => end = Err(LinkEnd::Shutdown),
            }
        }
        end
    }

    /// Starts shutdown: no new submits; parked parts are answered "not sent".
    fn begin_drain(&mut self) {
        self.draining = Some(self.shared.drain_deadline());
        if let Some((item, _)) = self.tps_wait.take() {
            self.shared.not_sent(item, NotSentReason::ShuttingDown);
        }
        while let Some(item) = self.retry.pop_front() {
            self.shared.not_sent(item, NotSentReason::ShuttingDown);
        }
        self.paused_until = None;
    }

    /// During shutdown: once no submit waits any more, unbind; the link ends with the
    /// unbind_resp (or its timeout, or the drain deadline).
    fn check_drain_progress(&mut self) -> Option<LinkEnd> {
        self.draining?;
        if self.unbind_sent || self.submits_in_flight > 0 || !self.inbound.is_empty() {
            return None;
        }
        let now = Instant::now();
        let deadline =
            (now + self.shared.config.response_timeout()).min(self.draining.unwrap_or(now));
        let seq = self.window.insert(Pending::Unbind, now, deadline.max(now));
        self.unbind_sent = true;
        self.write_command(&Command::new(CommandStatus::EsmeRok, seq, Pdu::Unbind));
        None
    }

    /// Answers everything still held by the link when it ends.
    fn fail_everything(&mut self, end: LinkEnd) {
        let shutting_down = matches!(end, LinkEnd::Shutdown) || self.shared.shutdown.is_cancelled();
        for (_, entry) in self.window.drain() {
            if let Pending::Submit { item, written } = entry.item {
                self.shared.metrics.window_add(-1.0);
                if written {
                    let reason = if shutting_down {
                        UnknownReason::Shutdown
                    } else {
                        UnknownReason::LinkLost
                    };
                    self.shared.unknown(item, reason);
                } else if shutting_down {
                    self.shared.not_sent(item, NotSentReason::ShuttingDown);
                } else {
                    self.shared
                        .requeue_or_not_sent(item, NotSentReason::LinkLostBeforeWrite);
                }
            }
        }
        self.submits_in_flight = 0;
        if let Some((item, _)) = self.tps_wait.take() {
            self.shared
                .requeue_or_not_sent(item, NotSentReason::LinkLostBeforeWrite);
        }
        while let Some(item) = self.retry.pop_front() {
            self.shared
                .requeue_or_not_sent(item, NotSentReason::LinkLostBeforeWrite);
        }
        if !self.inbound.is_empty() {
            // Not acknowledged: the carrier delivers them again on the next bind.
            tracing::info!(
                carrier = self.carrier(),
                count = self.inbound.len(),
                "unacknowledged deliver_sm left for redelivery"
            );
            self.inbound.clear();
        }
    }
}

fn deliver_sm_resp() -> Pdu {
    Pdu::DeliverSmResp(DeliverSmResp::new(COctetString::empty(), Vec::new()))
}

fn submit_resp_id(resp: &SubmitSmResp) -> String {
    resp.message_id().as_str().to_owned()
}

/// A C string from the start of a body, without requiring the terminator.
fn lenient_cstring(body: &[u8]) -> String {
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end]).into_owned()
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Fixed label of a response command for metrics.
fn command_label(id: u32) -> &'static str {
    match id {
        0x8000_0004 => "submit_sm_resp",
        0x8000_0015 => "enquire_link_resp",
        0x8000_0006 => "unbind_resp",
        0x8000_0000 => "generic_nack",
        0x8000_0005 => "deliver_sm_resp",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_cstring_handles_missing_nul() {
        assert_eq!(lenient_cstring(b"abc\0def"), "abc");
        assert_eq!(lenient_cstring(b"abc"), "abc");
        assert_eq!(lenient_cstring(b""), "");
    }

    #[test]
    fn labels() {
        assert_eq!(command_label(0x8000_0004), "submit_sm_resp");
        assert_eq!(command_label(0x8000_0099), "other");
    }
}
