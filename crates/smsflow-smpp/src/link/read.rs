//! Reading: PDUs from the carrier — responses matched to the window (accepted, rejected,
//! throttled and parked for resend), requests answered (enquire_link, deliver_sm, unbind,
//! unknown commands), and response timeouts.

use rusmpp::pdus::SubmitSmResp;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::time::Instant;

use super::{Link, LinkEnd, Pending, deliver_sm_resp};
use crate::codec::{Frame, is_response};
use crate::deliver::DeliverFields;
use crate::error::{PartFailure, UnknownReason};
use crate::idnorm::IdSource;
use crate::inbound::to_event;
use crate::session::QueuedSubmit;
use crate::status::CommandStatusCode;
use crate::submit::Accepted;

/// How late a response deadline may be noticed before the session counts as having not run.
const OVERDUE: std::time::Duration = std::time::Duration::from_millis(500);
/// How long such requests get to have their answers read before they time out.
const OVERDUE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

impl Link {
    pub(super) fn on_frame(&mut self, frame: Frame) -> Result<(), LinkEnd> {
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

    pub(super) fn on_request(&mut self, command: &Command) -> Result<(), LinkEnd> {
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

    /// Queues a deliver_sm for the caller, or, when the backlog is full, refuses it with a
    /// temporary error (ESME_RX_T_APPN) so the carrier delivers it again later. The session
    /// keeps reading either way: submit responses must never wait behind receipts.
    pub(super) fn on_deliver(&mut self, fields: &DeliverFields, seq: u32) {
        if self.inbound.len() >= self.shared.config.inbound_backlog {
            self.shared.metrics.inbound("deferred");
            self.respond(
                seq,
                CommandStatus::from(CommandStatusCode::RX_TEMPORARY_APP_ERROR.0),
                deliver_sm_resp(),
            );
            return;
        }
        let event = to_event(&self.shared.config, fields);
        self.inbound.push_back((event, seq));
    }

    pub(super) fn on_response(
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

    pub(super) fn on_submit_response(
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
            self.push_retry(item);
            return;
        }
        self.throttle_backoff.reset();
        self.shared
            .metrics
            .submit_latency(item.lane, sent_at.elapsed());
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

    pub(super) fn on_timeouts(&mut self) -> Result<(), LinkEnd> {
        let now = Instant::now();
        let timeout = self.shared.config.response_timeout();
        // Woken long after a deadline (the process was stopped or starved), read first: the
        // answers may have arrived meanwhile, and the timer may just have been seen first.
        let postponed = self.window.postpone_overdue(now, OVERDUE, OVERDUE_GRACE);
        if postponed > 0 {
            tracing::info!(
                carrier = self.carrier(),
                session = self.session,
                postponed,
                "woken late: answers read before any timeout counts"
            );
        }
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
}

fn submit_resp_id(resp: &SubmitSmResp) -> String {
    resp.message_id().as_str().to_owned()
}

/// A C string from the start of a body, without requiring the terminator.
fn lenient_cstring(body: &[u8]) -> String {
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end]).into_owned()
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
