//! The handler: `AttemptSubmitted` teaches which carrier ids belong to which message;
//! `CarrierReceiptReceived` is correlated through them into `DeliveryReported`.
//!
//! - A receipt that arrives before its submit was recorded is parked, and replayed when the
//!   submit is (parked rows expire with their TTL, so a re-handled submit replays them again).
//! - A segment's final state is recorded with the receipt event that set it: handling that
//!   same receipt again (a consumer that died before committing) re-emits its report, with
//!   the same derived id; a different receipt for a final segment is a duplicate and dropped.
//! - The segments of a multipart message are read back after the write, so two receipts of
//!   one message handled at once cannot both miss the one that settles it.
//! - Store round trips per single-part message: the submit writes its correlation and looks
//!   for parked receipts (2); the receipt finds the correlation in [`CorrelationCache`] (0),
//!   reads the segment's state and writes it (2).

use smsflow_events::{
    AttemptSubmitted, CarrierReceiptReceived, DeliveryReported, Event, EventKind, EventMeta,
    Msisdn, TenantId, Topics,
};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use tracing::debug;

use crate::cache::CorrelationCache;
use crate::settle::settle;
use crate::tables::{Correlation, SegmentState, Tables};
use crate::{PRODUCER, metrics};

/// Correlates receipts.
#[derive(Debug)]
pub struct Correlator {
    /// Tables.
    pub tables: Tables,
    /// Topic names.
    pub topics: Topics,
    /// Correlations this instance wrote recently.
    pub cache: CorrelationCache,
}

impl Handler for Correlator {
    fn wants(&self, kind: EventKind) -> bool {
        matches!(
            kind,
            EventKind::AttemptSubmitted | EventKind::CarrierReceiptReceived
        )
    }

    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        match &msg.event {
            Event::AttemptSubmitted(s) => self.submitted(s).await,
            Event::CarrierReceiptReceived(r) => self.receipt(r).await,
            _ => Ok(vec![]),
        }
    }
}

impl Correlator {
    async fn submitted(&self, s: &AttemptSubmitted) -> Result<Vec<Outgoing>, HandlerError> {
        let count = i32::try_from(s.carrier_message_ids.len()).unwrap_or(i32::MAX);
        let carrier = s.carrier_id.as_str();
        // Segments concurrently; within one, the correlation is written before the parked
        // receipts are read (a receipt parks, then looks for the correlation again).
        let segments = s.carrier_message_ids.iter().enumerate().map(|(i, id)| {
            let c = Correlation {
                message_id: s.message_id,
                tenant_id: s.tenant_id.to_string(),
                destination: s.to.as_str().to_owned(),
                attempt: s.attempt,
                segment_index: i32::try_from(i + 1).unwrap_or(i32::MAX),
                segment_count: count,
            };
            async move {
                self.tables.correlate(carrier, id, &c).await?;
                self.cache.put(carrier, id, &c);
                Ok::<_, HandlerError>((c, self.tables.parked(carrier, id, s.to.as_str()).await?))
            }
        });
        let mut out = Vec::new();
        for (c, parked) in futures::future::try_join_all(segments).await? {
            for r in parked {
                metrics::receipt("replayed");
                out.extend(self.apply(&r, &c).await?);
            }
        }
        Ok(out)
    }

    async fn receipt(&self, r: &CarrierReceiptReceived) -> Result<Vec<Outgoing>, HandlerError> {
        let carrier = r.carrier_id.as_str();
        // A number the carrier wrote in national notation can't be compared with ours: correlate
        // as if it named no destination (only an unambiguous id then matches).
        let to = r.to.as_deref().filter(|t| Msisdn::parse(t).is_ok());
        if let Some(c) = to.and_then(|t| self.cache.get(carrier, &r.normalized_id, t)) {
            metrics::cache(true);
            return self.apply(r, &c).await;
        }
        metrics::cache(false);
        if let Some(c) = self
            .tables
            .correlation(carrier, &r.normalized_id, to)
            .await?
        {
            return self.apply(r, &c).await;
        }
        self.tables.park(r, to).await?;
        // The submit may have been recorded between the lookup and the park: look once more,
        // so the receipt can't be left parked (a replay later finds it already applied).
        match self
            .tables
            .correlation(carrier, &r.normalized_id, to)
            .await?
        {
            Some(c) => self.apply(r, &c).await,
            None => {
                metrics::receipt("parked");
                debug!(carrier, "receipt before its submit, parked");
                Ok(vec![])
            }
        }
    }

    /// Records the receipt's segment state; emits `DeliveryReported` unless it is a duplicate.
    async fn apply(
        &self,
        r: &CarrierReceiptReceived,
        c: &Correlation,
    ) -> Result<Vec<Outgoing>, HandlerError> {
        let mut segments = self.tables.segments(c.message_id).await?;
        let receipt_id = r.meta.event_id.as_uuid();
        let final_state = r.state.terminal().is_some();
        match segments.get(&c.segment_index) {
            Some(s) if s.receipt_event_id == Some(receipt_id) => metrics::receipt("reemitted"),
            Some(s) if s.state.terminal().is_some() => {
                metrics::receipt("duplicate");
                return Ok(vec![]);
            }
            _ if final_state => {
                self.tables
                    .set_segment(c.message_id, c.segment_index, r.state, receipt_id)
                    .await?;
                if c.segment_count > 1 {
                    segments = self.tables.segments(c.message_id).await?;
                } else {
                    let state = SegmentState {
                        state: r.state,
                        receipt_event_id: Some(receipt_id),
                    };
                    segments.insert(c.segment_index, state);
                }
                metrics::receipt("correlated");
            }
            _ => metrics::receipt("correlated"),
        }
        let states = segments.iter().map(|(i, s)| (*i, s.state)).collect();
        let message_status = if final_state {
            settle(&states, c.segment_count)
        } else {
            None
        };
        let bad = |what| {
            HandlerError::dead_letter("BAD_CORRELATION", format!("stored {what} is invalid"))
        };
        let ev = DeliveryReported {
            meta: EventMeta::derived(PRODUCER, &r.meta, "correlated"),
            message_id: c.message_id,
            tenant_id: TenantId::parse(&c.tenant_id).map_err(|_| bad("tenant"))?,
            to: Msisdn::parse(&c.destination).map_err(|_| bad("destination"))?,
            attempt: c.attempt,
            carrier_id: r.carrier_id.clone(),
            carrier_message_id: r.normalized_id.clone(),
            segment_index: c.segment_index,
            segment_count: c.segment_count,
            state: r.state,
            error_code: r.error_code.clone(),
            done_at: r.done_at,
            message_status,
        };
        if let Some(s) = message_status {
            debug!(message_id = %c.message_id, to = %ev.to, status = %s, "message settled");
        }
        Ok(vec![Outgoing::new(
            self.topics.dlr.clone(),
            c.destination.clone(),
            ev,
        )])
    }
}
