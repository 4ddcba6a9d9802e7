//! Ending: graceful drain at shutdown (stop taking submits, wait for the window, unbind)
//! and the final answer for everything the link still holds when it ends.

use rusmpp::{Command, CommandStatus, Pdu};
use tokio::time::Instant;

use super::{Link, LinkEnd, Pending};
use crate::error::{NotSentReason, UnknownReason};

impl Link {
    /// Starts shutdown: no new submits; parked parts are answered "not sent".
    pub(super) fn begin_drain(&mut self) {
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
    pub(super) fn check_drain_progress(&mut self) -> Option<LinkEnd> {
        self.draining?;
        if self.unbind_sent
            || self.submits_in_flight > 0
            || !self.inbound.is_empty()
            || self.unanswered > 0
        {
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

    /// Answers everything still held by the link when it ends. Parts never written go back
    /// to the head of their lanes (throttled ones, then the window's in sending order, then
    /// the one waiting for the TPS limiter), unless shutdown has started.
    pub(super) fn fail_everything(&mut self, end: LinkEnd) {
        let shutting_down = matches!(end, LinkEnd::Shutdown) || self.shared.shutdown.is_cancelled();
        let mut unwritten: Vec<_> = self.retry.drain(..).collect();
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
                } else {
                    unwritten.push(item);
                }
            }
        }
        self.submits_in_flight = 0;
        unwritten.extend(self.tps_wait.take().map(|(item, _)| item));
        if shutting_down {
            for item in unwritten {
                self.shared.not_sent(item, NotSentReason::ShuttingDown);
            }
        } else {
            self.shared
                .requeue_or_not_sent(unwritten, NotSentReason::LinkLostBeforeWrite);
        }
        let unacknowledged = self.inbound.len() + self.unanswered;
        if unacknowledged > 0 {
            // Not acknowledged: the carrier delivers them again on the next bind (an event
            // handed over may be kept by the caller all the same: a duplicate, never a loss).
            tracing::info!(
                carrier = self.carrier(),
                count = unacknowledged,
                "unacknowledged deliver_sm left for redelivery"
            );
            self.inbound.clear();
            self.unanswered = 0;
        }
    }
}
