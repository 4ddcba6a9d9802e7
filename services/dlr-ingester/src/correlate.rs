//! The handler: `AttemptSubmitted` teaches which carrier ids belong to which message;
//! `CarrierReceiptReceived` is correlated through them into `DeliveryReported`.
//!
//! - A receipt that comes before its submit (another topic: they race) waits for it, up to
//!   `early_receipt_wait`, told by the cache (and looking at the table now and then, for a submit
//!   another instance handled). Receipts and submits have a consumer (and group) each, so
//!   waiting receipts never hold up the submits they wait for. One that waits longer is
//!   parked in `dlr_pending`, and the sweep ([`crate::sweep`]) applies it once its submit
//!   is recorded. So a submit never reads the parked receipts.
//! - A segment's final state is recorded with the receipt event that set it: handling that
//!   same receipt again (a consumer that died before committing) re-emits its report, with
//!   the same derived id; a different receipt for a final segment is a duplicate and dropped.
//! - The segments of a multipart message are read back after the write, so two receipts of
//!   one message handled at once cannot both miss the one that settles it.
//! - Store round trips per single-part message: the submit writes its correlation (1); the
//!   receipt finds the correlation and its segment's state in [`CorrelationCache`] (0) and
//!   writes the final state (1). After a restart or a rebalance, the table is read instead.

use std::time::{Duration, Instant};

use smsflow_events::{
    AttemptSubmitted, CarrierReceiptReceived, DeliveryReported, Event, EventKind, EventMeta,
    Msisdn, TenantId, Topics,
};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use smsflow_runtime::CancellationToken;
use tracing::debug;

use crate::cache::{Cached, CorrelationCache};
use crate::settle::settle;
use crate::tables::{Correlation, SegmentState, Tables};
use crate::{PRODUCER, metrics};

/// When a waiting receipt first looks at the table, if the cache can tell it of its submit.
/// Submits race their receipts by a few ms and this instance usually records the submit
/// itself (the cache then tells at once); the table only has what another instance (or this
/// one before a restart) recorded, so it is not worth a read per receipt while this instance's
/// own submit consumer is merely behind.
const WAIT_TABLE_FIRST: Duration = Duration::from_secs(1);
/// The longest pause between two looks at the table (they double from `WAIT_TABLE_FIRST`).
const WAIT_TABLE_MAX: Duration = Duration::from_secs(8);

/// Correlates receipts.
#[derive(Debug)]
pub struct Correlator {
    /// Tables.
    pub tables: Tables,
    /// Topic names.
    pub topics: Topics,
    /// Correlations this instance wrote recently.
    pub cache: CorrelationCache,
    /// How long a receipt waits for its submit before it is parked.
    pub early_receipt_wait: Duration,
    /// Ends waits at shutdown (the receipt is handled again after the restart).
    pub shutdown: CancellationToken,
}

impl Handler for Correlator {
    fn wants(&self, kind: EventKind) -> bool {
        matches!(
            kind,
            EventKind::AttemptSubmitted | EventKind::CarrierReceiptReceived
        )
    }

    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        self.cache.observe(msg.topic, msg.partition, msg.assignment);
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
                // Cached first, so a receipt racing its submit finds it at once. Safe before
                // the row is written: this record is not committed until it is, and a receipt
                // applied meanwhile is recorded in `dlr_segments` on its own.
                self.cache.put(carrier, id, &c);
                self.tables.correlate(carrier, id, &c).await
            }
        });
        futures::future::try_join_all(segments).await?;
        Ok(vec![])
    }

    /// The correlation of `r` for `to`: from the cache, else from the table.
    pub(crate) async fn lookup(
        &self,
        r: &CarrierReceiptReceived,
        to: Option<&str>,
    ) -> Result<Option<Cached>, HandlerError> {
        let carrier = r.carrier_id.as_str();
        if let Some(c) = to.and_then(|t| self.cache.get(carrier, &r.normalized_id, t)) {
            metrics::cache(true);
            return Ok(Some(c));
        }
        self.table_lookup(r, to).await
    }

    async fn table_lookup(
        &self,
        r: &CarrierReceiptReceived,
        to: Option<&str>,
    ) -> Result<Option<Cached>, HandlerError> {
        metrics::cache(false);
        let found = self
            .tables
            .correlation(r.carrier_id.as_str(), &r.normalized_id, to)
            .await?;
        Ok(found.map(|correlation| Cached {
            correlation,
            known: None,
        }))
    }

    async fn receipt(&self, r: &CarrierReceiptReceived) -> Result<Vec<Outgoing>, HandlerError> {
        // A number the carrier wrote in national notation can't be compared with ours: correlate
        // as if it named no destination (only an unambiguous id then matches).
        let to = r.to.as_deref().filter(|t| Msisdn::parse(t).is_ok());
        let carrier = r.carrier_id.as_str();
        let mut told = None;
        if let Some(t) = to {
            match self.cache.get_or_wait(carrier, &r.normalized_id, t) {
                Ok(c) => {
                    metrics::cache(true);
                    return self.apply(r, &c).await;
                }
                Err(rx) => told = rx,
            }
        }
        let found = self.wait_for_submit(r, to, told).await;
        if let Some(t) = to {
            self.cache.abandon(carrier, &r.normalized_id, t);
        }
        if let Some(c) = found? {
            return self.apply(r, &c).await;
        }
        self.tables.park(r, to).await?;
        // The submit may have been recorded between the lookup and the park: look once more,
        // so the receipt can't be left parked (the sweep would apply it too: same report id).
        match self.lookup(r, to).await? {
            Some(c) => {
                let out = self.apply(r, &c).await?;
                self.tables.unpark(r, to).await?;
                Ok(out)
            }
            None => {
                metrics::receipt("parked");
                debug!(carrier, "receipt before its submit, parked");
                Ok(vec![])
            }
        }
    }

    /// Waits up to `early_receipt_wait` for the submit of `r`: told by the cache when this
    /// instance records it, looking at the table now and then (at 1, 2, 4 and 8 s, then every 8 s)
    /// for one another instance did.
    async fn wait_for_submit(
        &self,
        r: &CarrierReceiptReceived,
        to: Option<&str>,
        mut told: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<Option<Cached>, HandlerError> {
        let deadline = Instant::now() + self.early_receipt_wait;
        // When the cache can tell, the table only after WAIT_TABLE_FIRST (the submit is then
        // another instance's, or one handled before a restart); at once when it can't.
        let mut table_at = Instant::now()
            + if told.is_some() {
                WAIT_TABLE_FIRST
            } else {
                Duration::ZERO
            };
        let mut pause = WAIT_TABLE_FIRST / 2;
        loop {
            let now = Instant::now();
            if now >= table_at {
                if let Some(c) = self.table_lookup(r, to).await? {
                    return Ok(Some(c));
                }
                pause = (pause * 2).min(WAIT_TABLE_MAX);
                table_at = now + pause;
            }
            if now >= deadline {
                return Ok(None);
            }
            let tick = tokio::time::sleep_until(table_at.min(deadline).into());
            tokio::select! {
                fired = async { told.as_mut().expect("guarded").await }, if told.is_some() => {
                    told = None;
                    if fired.is_ok()
                        && let Some(c) = self.lookup(r, to).await?
                    {
                        metrics::receipt("waited");
                        return Ok(Some(c));
                    }
                }
                _ = tick => {}
                _ = self.shutdown.cancelled() => {
                    return Err(HandlerError::retry("shutting down while a receipt waited for its submit"));
                }
            }
        }
    }

    /// Records the receipt's segment state; emits `DeliveryReported` unless it is a duplicate.
    pub(crate) async fn apply(
        &self,
        r: &CarrierReceiptReceived,
        cached: &Cached,
    ) -> Result<Vec<Outgoing>, HandlerError> {
        let c = &cached.correlation;
        let mut segments = match cached.known {
            // A single-part message whose state this instance is sure of: no read.
            Some(known) if c.segment_count == 1 => {
                known.map(|s| (c.segment_index, s)).into_iter().collect()
            }
            _ => self.tables.segments(c.message_id).await?,
        };
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
                let state = SegmentState {
                    state: r.state,
                    receipt_event_id: Some(receipt_id),
                };
                self.cache.settle(
                    r.carrier_id.as_str(),
                    &r.normalized_id,
                    &c.destination,
                    state,
                );
                if c.segment_count > 1 {
                    segments = self.tables.segments(c.message_id).await?;
                } else {
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
