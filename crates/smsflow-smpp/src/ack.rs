//! The carrier's answer to a deliver_sm, given by whoever takes responsibility for it.
//!
//! A deliver_sm (a receipt or an MO message) reaches the caller as an [`Inbound`]: the event
//! and a [`DeliverAck`]. The link answers the carrier only when the caller says so:
//! [`DeliverAck::accept`] once the event is stored durably (the dispatcher: once Kafka
//! acknowledged it), [`DeliverAck::defer`] when it could not be stored (the carrier delivers
//! it again later, ESME_RX_T_APPN). An answer nobody gave (the ack dropped) is a deferral: a
//! receipt is never acknowledged to the carrier before someone has kept it. If the link ends
//! before the answer, none is written: the carrier delivers the deliver_sm again on the next
//! bind, which is what the spec asks of it.

use rusmpp::CommandStatus;
use tokio::sync::mpsc;

use crate::inbound::InboundEvent;
use crate::status::CommandStatusCode;

/// One deliver_sm handed to the caller, and the answer the carrier waits for.
#[derive(Debug)]
pub struct Inbound {
    /// What the deliver_sm said.
    pub event: InboundEvent,
    /// Answer it once the event is kept (or could not be).
    pub ack: DeliverAck,
}

impl Inbound {
    /// Acknowledges it to the carrier at once and returns the event: for a caller that keeps
    /// nothing durable (tests, tools), or has kept it already by other means.
    pub fn acknowledge(self) -> InboundEvent {
        self.ack.accept();
        self.event
    }
}

/// The pending deliver_sm_resp of one deliver_sm (see the module docs).
#[derive(Debug)]
pub struct DeliverAck {
    seq: u32,
    /// To the link that read the deliver_sm; `None` once answered.
    link: Option<mpsc::UnboundedSender<Answer>>,
}

/// An answer for the link to write: (sequence number, command_status).
pub(crate) type Answer = (u32, CommandStatus);

impl DeliverAck {
    pub(crate) fn new(seq: u32, link: mpsc::UnboundedSender<Answer>) -> Self {
        Self {
            seq,
            link: Some(link),
        }
    }

    /// Answers ESME_ROK: the carrier may forget the deliver_sm.
    pub fn accept(mut self) {
        self.answer(CommandStatus::EsmeRok);
    }

    /// Answers ESME_RX_T_APPN: the carrier delivers it again later.
    pub fn defer(mut self) {
        self.answer(deferred());
    }

    fn answer(&mut self, status: CommandStatus) {
        if let Some(link) = self.link.take() {
            // The link is gone: no answer can be written, the carrier redelivers.
            let _ = link.send((self.seq, status));
        }
    }
}

impl Drop for DeliverAck {
    fn drop(&mut self) {
        self.answer(deferred());
    }
}

fn deferred() -> CommandStatus {
    CommandStatus::from(CommandStatusCode::RX_TEMPORARY_APP_ERROR.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack() -> (DeliverAck, mpsc::UnboundedReceiver<Answer>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (DeliverAck::new(7, tx), rx)
    }

    #[test]
    fn accept_answers_ok_once() {
        let (a, mut rx) = ack();
        a.accept();
        assert_eq!(rx.try_recv().unwrap(), (7, CommandStatus::EsmeRok));
        assert!(rx.try_recv().is_err(), "one answer per deliver_sm");
    }

    #[test]
    fn defer_and_drop_ask_the_carrier_to_redeliver() {
        let (a, mut rx) = ack();
        a.defer();
        assert_eq!(rx.try_recv().unwrap(), (7, deferred()));
        assert!(rx.try_recv().is_err());
        let (a, mut rx) = ack();
        drop(a);
        assert_eq!(rx.try_recv().unwrap(), (7, deferred()));
    }

    #[test]
    fn an_answer_after_the_link_ended_is_dropped() {
        let (a, rx) = ack();
        drop(rx);
        a.accept();
    }
}
