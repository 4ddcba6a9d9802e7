//! The receipt timeout: a message whose carrier never reports on every segment does not stay
//! `submitted` forever. A consumer of its own (group `dlr-ingester-deadlines`) reads
//! `sms.attempts` with the receipt timeout as its delay (`ConsumerOptions::delays`: each
//! `AttemptSubmitted` is read once it is that old, waiting meanwhile with no handler slot),
//! and for a message not every segment of which has a final state by then, it publishes a
//! `DeliveryReported` with the message's status `EXPIRED`, error `RECEIPT_TIMEOUT`, on the
//! first segment still open (its state `UNKNOWN`: no receipt said anything).
//!
//! Whether the segments are final: from the correlation cache when it knows a final state
//! (a final state never changes), else one read of `dlr_segments`: a store read per message,
//! a receipt timeout after its submit. The timeout is not recorded as a segment state, so a
//! receipt that still comes is correlated as usual and its report, being later, sets the
//! message's status in the view (ADR 6: among terminal statuses the later event wins).

use smsflow_events::{
    AttemptSubmitted, DeliveryReported, DeliveryState, Event, EventKind, EventMeta, TerminalStatus,
};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use std::sync::Arc;

use crate::correlate::Correlator;
use crate::{PRODUCER, metrics};

/// The error code of a report the timeout made.
pub const RECEIPT_TIMEOUT: &str = "RECEIPT_TIMEOUT";

/// Ends the messages whose receipts did not all come within the timeout.
#[derive(Debug)]
pub struct Deadlines {
    /// The correlator's cache and tables.
    pub correlator: Arc<Correlator>,
}

impl Handler for Deadlines {
    fn wants(&self, kind: EventKind) -> bool {
        kind == EventKind::AttemptSubmitted
    }

    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let Event::AttemptSubmitted(s) = &msg.event else {
            return Ok(vec![]);
        };
        let Some(open) = self.first_open_segment(s).await? else {
            metrics::deadline("settled");
            return Ok(vec![]);
        };
        metrics::deadline("timed_out");
        let count = i32::try_from(s.carrier_message_ids.len()).unwrap_or(i32::MAX);
        let ev = DeliveryReported {
            meta: EventMeta::derived(PRODUCER, &s.meta, "receipt-timeout"),
            message_id: s.message_id,
            tenant_id: s.tenant_id.clone(),
            to: s.to.clone(),
            attempt: s.attempt,
            carrier_id: s.carrier_id.clone(),
            carrier_message_id: s.carrier_message_ids[open].clone(),
            segment_index: i32::try_from(open + 1).unwrap_or(i32::MAX),
            segment_count: count,
            state: DeliveryState::Unknown,
            error_code: Some(RECEIPT_TIMEOUT.into()),
            done_at: None,
            message_status: Some(TerminalStatus::Expired),
        };
        let key = s.to.as_str().to_owned();
        Ok(vec![Outgoing::new(
            self.correlator.topics.dlr.clone(),
            key,
            ev,
        )])
    }
}

impl Deadlines {
    /// The index (from 0) of the first segment without a final state, if any.
    async fn first_open_segment(
        &self,
        s: &AttemptSubmitted,
    ) -> Result<Option<usize>, HandlerError> {
        let c = &self.correlator;
        let carrier = s.carrier_id.as_str();
        let cached_final = |id: &String| {
            c.cache
                .get(carrier, id, s.to.as_str())
                .and_then(|hit| hit.known.flatten())
                .is_some_and(|state| state.state.terminal().is_some())
        };
        if s.carrier_message_ids.iter().all(cached_final) {
            return Ok(None);
        }
        let stored = c.tables.segments(s.message_id).await?;
        Ok((0..s.carrier_message_ids.len()).find(|i| {
            let index = i32::try_from(i + 1).unwrap_or(i32::MAX);
            stored
                .get(&index)
                .is_none_or(|state| state.state.terminal().is_none())
        }))
    }
}
