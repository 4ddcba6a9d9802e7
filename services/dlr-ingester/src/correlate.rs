//! The handler: `AttemptSubmitted` teaches which carrier ids belong to which message;
//! `CarrierReceiptReceived` is correlated through them into `DeliveryReported`. A receipt that
//! arrives before its submit was recorded is parked and replayed when it is; a duplicate
//! receipt for a segment already final is dropped.

use smsflow_events::{
    AttemptSubmitted, CarrierReceiptReceived, DeliveryReported, Event, EventMeta, Msisdn, TenantId,
    Topics,
};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use tracing::{debug, info};

use crate::settle::settle;
use crate::tables::{Correlation, Tables};
use crate::{PRODUCER, metrics};

/// Correlates receipts.
#[derive(Debug)]
pub struct Correlator {
    /// Tables.
    pub tables: Tables,
    /// Topic names.
    pub topics: Topics,
}

impl Handler for Correlator {
    async fn handle(&self, msg: &Incoming) -> Result<Vec<Outgoing>, HandlerError> {
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
        let mut out = Vec::new();
        for (i, id) in s.carrier_message_ids.iter().enumerate() {
            let c = Correlation {
                message_id: s.message_id,
                tenant_id: s.tenant_id.to_string(),
                destination: s.to.as_str().to_owned(),
                attempt: s.attempt,
                segment_index: i32::try_from(i + 1).unwrap_or(i32::MAX),
                segment_count: count,
            };
            self.tables.correlate(s.carrier_id.as_str(), id, &c).await?;
            for parked in self
                .tables
                .parked(s.carrier_id.as_str(), id, s.to.as_str())
                .await?
            {
                metrics::receipt("replayed");
                out.extend(self.apply(&parked, &c).await?);
            }
            self.tables
                .unpark(s.carrier_id.as_str(), id, s.to.as_str())
                .await?;
        }
        Ok(out)
    }

    async fn receipt(&self, r: &CarrierReceiptReceived) -> Result<Vec<Outgoing>, HandlerError> {
        let carrier = r.carrier_id.as_str();
        let to = r.to.as_deref();
        if let Some(c) = self
            .tables
            .correlation(carrier, &r.normalized_id, to)
            .await?
        {
            return self.apply(r, &c).await;
        }
        self.tables.park(r).await?;
        // The submit may have been recorded between the lookup and the park: look once more,
        // so the receipt can't be left parked forever.
        match self
            .tables
            .correlation(carrier, &r.normalized_id, to)
            .await?
        {
            Some(c) => {
                self.tables
                    .unpark(carrier, &r.normalized_id, &c.destination)
                    .await?;
                self.apply(r, &c).await
            }
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
        if segments
            .get(&c.segment_index)
            .is_some_and(|s| s.terminal().is_some())
        {
            metrics::receipt("duplicate");
            return Ok(vec![]);
        }
        let final_state = r.state.terminal().is_some();
        if final_state {
            self.tables
                .set_segment(c.message_id, c.segment_index, r.state)
                .await?;
            segments.insert(c.segment_index, r.state);
        }
        let message_status = if final_state {
            settle(&segments, c.segment_count)
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
        metrics::receipt("correlated");
        if let Some(s) = message_status {
            info!(message_id = %c.message_id, to = %ev.to, status = %s, "message settled");
        }
        Ok(vec![Outgoing::new(
            self.topics.dlr.clone(),
            c.destination.clone(),
            ev,
        )])
    }
}
