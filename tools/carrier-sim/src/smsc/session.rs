//! One ESME connection: a reader that runs the bind state machine and answers PDUs, and a
//! writer task that batches everything queued for the socket.
//!
//! The reader never holds a lock across an await; with zero latency a response is queued
//! to the writer directly, otherwise a timer task queues it later, so any number of
//! requests may be outstanding (window pipelining).

use std::{collections::VecDeque, net::SocketAddr, sync::Arc};

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use rusmpp::{
    Command, CommandId, CommandStatus, Pdu,
    pdus::{BindReceiverResp, BindTransceiverResp, BindTransmitterResp, SubmitSm, SubmitSmResp},
    types::{AnyOctetString, COctetString},
    values::InterfaceVersion,
};
use tokio::{
    net::{TcpStream, tcp::OwnedWriteHalf},
    sync::mpsc,
};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::{
    config::AuthResult,
    engine::SubmitDecision,
    ledger::{Channel, SegmentKey, SubmitInfo, SubmitOutcome, inc},
    scenario::{DefaultAlphabet, ErrorBody},
    sim::Shared,
    smsc::{
        codec::{Frame, SmppCodec},
        receipts::{self, Addresses, ReceiptJob},
        router::{OutKind, Outbound, SessionHandle},
        submit,
    },
    text::mask_msisdn,
};

/// How long the writer may take to flush unbind_resp before the socket is closed anyway.
const UNBIND_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// ESME_RINVCMDLEN.
const RINVCMDLEN: u32 = 0x02;
/// ESME_RINVCMDID.
const RINVCMDID: u32 = 0x03;
/// ESME_RINVBNDSTS.
const RINVBNDSTS: u32 = 0x04;
/// ESME_RALYBND.
const RALYBND: u32 = 0x05;
/// ESME_RBINDFAIL.
const RBINDFAIL: u32 = 0x0D;
/// ESME_RINVPASWD.
const RINVPASWD: u32 = 0x0E;

/// How the ESME bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BindKind {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindKind {
    fn can_submit(self) -> bool {
        matches!(self, BindKind::Transmitter | BindKind::Transceiver)
    }

    fn can_receive(self) -> bool {
        matches!(self, BindKind::Receiver | BindKind::Transceiver)
    }

    fn resp_id(self) -> CommandId {
        match self {
            BindKind::Transmitter => CommandId::BindTransmitterResp,
            BindKind::Receiver => CommandId::BindReceiverResp,
            BindKind::Transceiver => CommandId::BindTransceiverResp,
        }
    }
}

/// Why the reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Peer closed or the stream failed.
    Eof,
    /// Unbind answered: let the writer flush, then close.
    Unbind,
    /// Scenario, `drop_connections` or an outage: close now, unanswered.
    Drop,
    /// Bind refused because the carrier is down for the account: flush the bind_resp, then
    /// close.
    Outage,
}

impl Stop {
    /// Whether the writer may flush what is queued before the socket closes.
    fn flushes(self) -> bool {
        matches!(self, Stop::Unbind | Stop::Outage)
    }
}

struct Session {
    shared: Arc<Shared>,
    handle: Arc<SessionHandle>,
    tx: mpsc::Sender<Outbound>,
    bound: Option<(BindKind, Arc<str>)>,
    submits: u64,
    gsm7: bool,
}

/// Serves one TCP connection until it ends.
pub(crate) async fn run(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let id = shared.next_session_id();
    let cancel = shared.shutdown.child_token();
    inc(&shared.ledger.counters().connections);
    let _ = stream.set_nodelay(true);
    tracing::debug!(session = id, %peer, "connection accepted");
    let smsc = &shared.config.scenario.smsc;
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(smsc.outbound_queue.max(16));
    let handle = Arc::new(SessionHandle::new(id, tx.clone(), cancel.clone()));
    shared.router.track(Arc::clone(&handle));
    let writer = tokio::spawn(write_loop(
        Arc::clone(&shared),
        Arc::clone(&handle),
        FramedWrite::new(wr, SmppCodec::new(smsc.max_pdu_len)),
        rx,
    ));
    let mut reader = FramedRead::new(rd, SmppCodec::new(smsc.max_pdu_len));
    let mut session = Session {
        gsm7: smsc.default_alphabet == DefaultAlphabet::Gsm7,
        shared: Arc::clone(&shared),
        handle: Arc::clone(&handle),
        tx,
        bound: None,
        submits: 0,
    };
    let stop = loop {
        let frame = tokio::select! {
            biased;
            _ = cancel.cancelled() => break Stop::Drop,
            frame = reader.next() => frame,
        };
        match frame {
            Some(Ok(frame)) => {
                if let Some(stop) = session.on_frame(frame).await {
                    break stop;
                }
            }
            Some(Err(e)) => {
                tracing::debug!(session = id, error = %e, "read error, closing");
                break Stop::Eof;
            }
            None => break Stop::Eof,
        }
    };
    if !stop.flushes() {
        cancel.cancel();
    }
    drop(reader);
    session.finish(stop, writer).await;
}

impl Session {
    async fn respond(&self, command: Command) {
        self.enqueue(Outbound::Response(command)).await;
    }

    /// Queues for the writer; gives up when the session is cancelled (the writer is then
    /// gone and a full queue would never drain).
    async fn enqueue(&self, item: Outbound) {
        tokio::select! {
            _ = self.handle.cancel.cancelled() => {}
            _ = self.tx.send(item) => {}
        }
    }

    fn error_resp(&self, id: CommandId, status: u32, seq: u32) -> Command {
        let status = CommandStatus::from(status);
        let pdu = match (self.shared.config.scenario.smsc.error_body, id) {
            (ErrorBody::Nul, CommandId::SubmitSmResp) => Pdu::SubmitSmResp(SubmitSmResp::default()),
            (ErrorBody::Nul, CommandId::BindTransmitterResp) => {
                Pdu::BindTransmitterResp(BindTransmitterResp::default())
            }
            (ErrorBody::Nul, CommandId::BindReceiverResp) => {
                Pdu::BindReceiverResp(BindReceiverResp::default())
            }
            (ErrorBody::Nul, CommandId::BindTransceiverResp) => {
                Pdu::BindTransceiverResp(BindTransceiverResp::default())
            }
            (_, CommandId::GenericNack) => Pdu::GenericNack,
            (_, command_id) => Pdu::Other {
                command_id,
                body: AnyOctetString::empty(),
            },
        };
        Command::new(status, seq, pdu)
    }

    async fn nack(&self, status: u32, seq: u32) {
        inc(&self.shared.ledger.counters().generic_nacks);
        self.respond(self.error_resp(CommandId::GenericNack, status, seq))
            .await;
    }

    async fn on_frame(&mut self, frame: Frame) -> Option<Stop> {
        let command = match frame {
            Frame::Command(c) => *c,
            Frame::Invalid {
                command_id,
                sequence_number,
            } => {
                tracing::debug!(session = self.handle.id, command_id, "undecodable pdu");
                self.nack(RINVCMDLEN, sequence_number).await;
                return None;
            }
        };
        let seq = command.sequence_number();
        let id = command.id();
        match (id, command.pdu()) {
            (CommandId::SubmitSm, Some(Pdu::SubmitSm(sm))) => return self.on_submit(seq, sm).await,
            (CommandId::BindTransmitter, Some(Pdu::BindTransmitter(b))) => {
                return self
                    .on_bind(
                        BindKind::Transmitter,
                        seq,
                        &b.system_id,
                        &b.password,
                        b.interface_version,
                    )
                    .await;
            }
            (CommandId::BindReceiver, Some(Pdu::BindReceiver(b))) => {
                return self
                    .on_bind(
                        BindKind::Receiver,
                        seq,
                        &b.system_id,
                        &b.password,
                        b.interface_version,
                    )
                    .await;
            }
            (CommandId::BindTransceiver, Some(Pdu::BindTransceiver(b))) => {
                return self
                    .on_bind(
                        BindKind::Transceiver,
                        seq,
                        &b.system_id,
                        &b.password,
                        b.interface_version,
                    )
                    .await;
            }
            (CommandId::DeliverSmResp, _) => self.on_deliver_resp(seq, command.status()),
            (CommandId::EnquireLink, _) => {
                self.respond(Command::new(
                    CommandStatus::EsmeRok,
                    seq,
                    Pdu::EnquireLinkResp,
                ))
                .await;
            }
            (CommandId::Unbind, _) => {
                self.respond(Command::new(CommandStatus::EsmeRok, seq, Pdu::UnbindResp))
                    .await;
                self.enqueue(Outbound::Close).await;
                tracing::debug!(session = self.handle.id, "unbind");
                return Some(Stop::Unbind);
            }
            (CommandId::EnquireLinkResp | CommandId::UnbindResp | CommandId::GenericNack, _) => {
                tracing::debug!(session = self.handle.id, ?id, "response ignored");
            }
            _ => {
                tracing::debug!(
                    session = self.handle.id,
                    ?id,
                    "unsupported command, generic_nack"
                );
                self.nack(RINVCMDID, seq).await;
            }
        }
        None
    }

    /// Answers a bind; during an outage of the account the bind is refused with
    /// ESME_RBINDFAIL and the connection closed after the response, as an SMSC that cannot
    /// serve the account does (a bind_resp with an error status, not a generic_nack: the PDU
    /// itself was fine).
    async fn on_bind(
        &mut self,
        kind: BindKind,
        seq: u32,
        system_id: &COctetString<1, 16>,
        password: &COctetString<1, 9>,
        version: InterfaceVersion,
    ) -> Option<Stop> {
        let counters = self.shared.ledger.counters();
        let mut stop = None;
        let status = if self.bound.is_some() {
            RALYBND
        } else {
            match self
                .shared
                .config
                .authenticate(system_id.as_str(), password.as_str())
            {
                AuthResult::Ok if self.shared.admit_bind(&self.handle, system_id.as_str()) => 0,
                AuthResult::Ok => {
                    stop = Some(Stop::Outage);
                    RBINDFAIL
                }
                AuthResult::UnknownSystemId => RBINDFAIL,
                AuthResult::BadPassword => RINVPASWD,
            }
        };
        if status != 0 {
            inc(&counters.bind_failures);
            tracing::info!(
                session = self.handle.id,
                system_id = system_id.as_str(),
                status,
                outage = stop.is_some(),
                "bind refused"
            );
            self.respond(self.error_resp(kind.resp_id(), status, seq))
                .await;
            if stop.is_some() {
                self.enqueue(Outbound::Close).await;
            }
            return stop;
        }
        let version_byte = u8::from(version);
        let sc_version = match version_byte {
            v if v >= 0x50 => Some(InterfaceVersion::Smpp5_0),
            v if v >= 0x34 => Some(InterfaceVersion::Smpp3_4),
            _ => None,
        };
        let our_id = COctetString::from_string(self.shared.config.scenario.smsc.system_id.clone())
            .unwrap_or_default();
        let pdu = match kind {
            BindKind::Transmitter => {
                Pdu::BindTransmitterResp(BindTransmitterResp::new(our_id, sc_version))
            }
            BindKind::Receiver => Pdu::BindReceiverResp(BindReceiverResp::new(our_id, sc_version)),
            BindKind::Transceiver => {
                Pdu::BindTransceiverResp(BindTransceiverResp::new(our_id, sc_version))
            }
        };
        self.bound = Some((kind, Arc::from(system_id.as_str())));
        inc(&counters.binds);
        inc(&counters.current_sessions);
        self.respond(Command::new(CommandStatus::EsmeRok, seq, pdu))
            .await;
        if kind.can_receive() {
            self.shared
                .router
                .register_receiver(Arc::clone(&self.handle));
        }
        tracing::info!(
            session = self.handle.id,
            system_id = system_id.as_str(),
            ?kind,
            interface_version = version_byte,
            "bound"
        );
        None
    }

    async fn on_submit(&mut self, seq: u32, sm: &SubmitSm) -> Option<Stop> {
        let Some((kind, system_id)) = self.bound.as_ref() else {
            self.respond(self.error_resp(CommandId::SubmitSmResp, RINVBNDSTS, seq))
                .await;
            return None;
        };
        if !kind.can_submit() {
            self.respond(self.error_resp(CommandId::SubmitSmResp, RINVBNDSTS, seq))
                .await;
            return None;
        }
        let system_id = Arc::clone(system_id);
        self.submits += 1;
        let shared = &self.shared;
        let parsed = submit::parse(sm, self.gsm7);
        let destination = sm.destination_addr.as_str();
        let key = Arc::new(SegmentKey::new(destination, parsed.concat, &parsed.payload));
        let info = SubmitInfo {
            channel: Channel::Smpp,
            system_id: Arc::clone(&system_id),
            source: sm.source_addr.as_str().to_string(),
            data_coding: parsed.data_coding,
            text: parsed.text,
        };
        match shared.engine.decide_submit(&system_id, self.submits, true) {
            SubmitDecision::Drop => {
                shared
                    .ledger
                    .record_submit(&key, &info, &SubmitOutcome::Dropped);
                inc(&shared.ledger.counters().connections_dropped);
                tracing::info!(
                    session = self.handle.id,
                    submits = self.submits,
                    "scenario drops the connection"
                );
                Some(Stop::Drop)
            }
            SubmitDecision::Reject { status, throttled } => {
                let outcome = if throttled {
                    SubmitOutcome::Throttled
                } else {
                    SubmitOutcome::Failed
                };
                shared.ledger.record_submit(&key, &info, &outcome);
                tracing::debug!(session = self.handle.id, status, "submit rejected");
                self.respond(self.error_resp(CommandId::SubmitSmResp, status, seq))
                    .await;
                None
            }
            SubmitDecision::Accept {
                id,
                latency,
                receipt,
            } => {
                shared.ledger.record_submit(
                    &key,
                    &info,
                    &SubmitOutcome::Accepted(id.in_response.clone()),
                );
                tracing::debug!(
                    session = self.handle.id,
                    destination = %mask_msisdn(destination),
                    message_id = %id.in_response,
                    "submit accepted"
                );
                let resp = Command::new(
                    CommandStatus::EsmeRok,
                    seq,
                    SubmitSmResp::builder()
                        .message_id(COctetString::from_string(id.in_response).unwrap_or_default())
                        .build(),
                );
                let rcfg = &shared.config.scenario.receipts;
                if receipts::wanted(
                    parsed.registered_delivery,
                    receipt.state,
                    parsed.concat,
                    rcfg.segments,
                ) {
                    receipts::schedule(
                        shared,
                        ReceiptJob {
                            system_id,
                            key,
                            message_id: id.in_receipt,
                            plan: receipt,
                            addresses: Addresses {
                                source: sm.source_addr.clone(),
                                source_ton: sm.source_addr_ton,
                                source_npi: sm.source_addr_npi,
                                destination: sm.destination_addr.clone(),
                                dest_ton: sm.dest_addr_ton,
                                dest_npi: sm.dest_addr_npi,
                            },
                            text: info.text,
                            submitted_at: Utc::now(),
                        },
                    );
                }
                if latency.is_zero() {
                    self.respond(resp).await;
                } else {
                    let tx = self.tx.clone();
                    let ledger = shared.ledger.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(latency).await;
                        if tx.send(Outbound::Response(resp)).await.is_err() {
                            inc(&ledger.counters().responses_unsent);
                        }
                    });
                }
                None
            }
        }
    }

    fn on_deliver_resp(&self, seq: u32, status: CommandStatus) {
        let Some(out) = self.handle.take_inflight(seq) else {
            tracing::debug!(
                session = self.handle.id,
                seq,
                "deliver_sm_resp for unknown sequence"
            );
            return;
        };
        let shared = &self.shared;
        if status == CommandStatus::EsmeRok {
            match &out.kind {
                OutKind::Receipt { key, .. } => shared.ledger.record_receipt_acked(key),
                OutKind::Mo => inc(&shared.ledger.counters().mo_acked),
            }
            return;
        }
        tracing::debug!(
            session = self.handle.id,
            status = u32::from(status),
            "deliver_sm refused, will resend"
        );
        let delay =
            std::time::Duration::from_millis(shared.config.scenario.receipts.redelivery_delay_ms);
        let router = Arc::clone(&shared.router);
        let system_id = self.handle.system_id().to_string();
        let stop = shared.shutdown.clone();
        shared.tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(delay) => router.deliver(&system_id, out).await,
            }
        });
    }

    /// Unregisters, waits for the writer, and re-routes every deliver_sm that was queued or
    /// unacknowledged.
    async fn finish(
        self,
        stop: Stop,
        mut writer: tokio::task::JoinHandle<mpsc::Receiver<Outbound>>,
    ) {
        let shared = self.shared;
        let handle = self.handle;
        if let Some((kind, system_id)) = &self.bound {
            if kind.can_receive() {
                shared.router.unregister_receiver(system_id, handle.id);
            }
            shared
                .ledger
                .counters()
                .current_sessions
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        drop(self.tx);
        let mut requeue = Vec::new();
        // after unbind the writer flushes unbind_resp; a peer that stops reading gets 5 s
        let finished = tokio::select! {
            r = &mut writer => r,
            _ = tokio::time::sleep(UNBIND_FLUSH_TIMEOUT) => {
                handle.cancel.cancel();
                writer.await
            }
        };
        if let Ok(mut rx) = finished {
            rx.close();
            while let Ok(item) = rx.try_recv() {
                match item {
                    Outbound::Response(_) => inc(&shared.ledger.counters().responses_unsent),
                    Outbound::Request(out) => requeue.push(out),
                    Outbound::Close => {}
                }
            }
        }
        requeue.extend(
            handle
                .inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .map(|(_, out)| out),
        );
        let system_id = handle.system_id().to_string();
        if !requeue.is_empty() && !shared.shutdown.is_cancelled() {
            tracing::debug!(
                session = handle.id,
                count = requeue.len(),
                "re-routing unacknowledged deliver_sm"
            );
            let router = Arc::clone(&shared.router);
            shared.tracker.spawn(async move {
                for out in requeue {
                    router.deliver(&system_id, out).await;
                }
            });
        }
        shared.router.untrack(handle.id);
        tracing::debug!(session = handle.id, ?stop, "session closed");
    }
}

/// Writes queued items in batches until cancelled or told to close; returns the queue so
/// the session can re-route what was left.
async fn write_loop(
    shared: Arc<Shared>,
    handle: Arc<SessionHandle>,
    mut sink: FramedWrite<OwnedWriteHalf, SmppCodec>,
    mut rx: mpsc::Receiver<Outbound>,
) -> mpsc::Receiver<Outbound> {
    let cancel = handle.cancel.clone();
    let mut batch = Vec::with_capacity(256);
    let mut current: VecDeque<Outbound> = VecDeque::new();
    let work = async {
        loop {
            if rx.recv_many(&mut batch, 256).await == 0 {
                return;
            }
            current.extend(batch.drain(..));
            let mut close = false;
            while let Some(item) = current.pop_front() {
                let command = match item {
                    Outbound::Response(c) => c,
                    Outbound::Request(out) => {
                        let seq = handle.next_seq();
                        let command = Command::new(CommandStatus::EsmeRok, seq, out.pdu.clone());
                        match &out.kind {
                            OutKind::Receipt {
                                key,
                                message_id,
                                state,
                                duplicate,
                            } => shared
                                .ledger
                                .record_receipt_sent(key, message_id, *state, *duplicate),
                            OutKind::Mo => inc(&shared.ledger.counters().mo_sent),
                        }
                        handle
                            .inflight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(seq, out);
                        command
                    }
                    Outbound::Close => {
                        close = true;
                        break;
                    }
                };
                if sink.feed(command).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() || close {
                return;
            }
        }
    };
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = work => {}
    }
    // whatever was taken off the queue but not written goes back for re-routing
    for item in current {
        if let Outbound::Request(out) = item {
            handle
                .inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(handle.next_seq(), out);
        }
    }
    rx
}
