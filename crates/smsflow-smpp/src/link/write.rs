//! Writing: submits within the window and the TPS limit, responses, enquire_link, and the
//! accounting of which submit_sm have been fully handed to the socket.

use bytes::Buf;
use governor::clock::Clock;
use rusmpp::{Command, CommandStatus, Pdu};
use tokio::time::Instant;
use tokio_util::codec::Encoder;

use super::{Link, Pending};
use crate::error::NotSentReason;
use crate::session::QueuedSubmit;
use crate::status::CommandStatusCode;

impl Link {
    /// Sends a part now, or parks it until the TPS limiter allows it. A part whose caller
    /// stopped waiting (dropped the `submit` future) is discarded instead: nothing was
    /// written yet, and nobody would learn the outcome.
    pub(super) fn dispatch(&mut self, item: QueuedSubmit) {
        if item.reply.is_closed() {
            tracing::debug!(
                carrier = self.carrier(),
                "caller gone, part discarded before writing"
            );
            self.shared.metrics.not_sent("caller_gone");
            return;
        }
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(self.clock.now());
            self.tps_wait = Some((item, Instant::now() + wait));
            return;
        }
        self.write_submit(item);
    }

    pub(super) fn write_submit(&mut self, item: QueuedSubmit) {
        let now = Instant::now();
        if item.write_by.is_some_and(|by| now >= by) {
            self.shared.not_sent(item, NotSentReason::DeadlinePassed);
            return;
        }
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

    pub(super) fn on_written(&mut self, n: usize) {
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
    pub(super) fn write_command(&mut self, command: &Command) {
        let before = self.wbuf.len();
        match self.codec.encode(command, &mut self.wbuf) {
            Ok(()) => self.buffered += (self.wbuf.len() - before) as u64,
            Err(err) => {
                self.wbuf.truncate(before);
                tracing::error!(carrier = self.carrier(), error = %err, "cannot encode pdu");
            }
        }
    }

    pub(super) fn respond(&mut self, seq: u32, status: CommandStatus, pdu: Pdu) {
        self.write_command(&Command::new(status, seq, pdu));
    }

    pub(super) fn generic_nack(&mut self, seq: u32, status: CommandStatusCode) {
        self.respond(seq, CommandStatus::from(status.0), Pdu::GenericNack);
    }

    pub(super) fn send_enquire_link(&mut self) {
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
}
