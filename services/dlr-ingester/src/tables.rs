//! dlr-ingester's own CQL tables: `dlr_correlation`, `dlr_pending`, `dlr_segments`.
//!
//! Carriers reuse message ids (counters wrap, platforms restart), so correlation and parked
//! receipts are keyed by carrier, carrier id **and destination**.

use std::collections::BTreeMap;

use scylla::statement::prepared::PreparedStatement;
use smsflow_events::{CarrierReceiptReceived, DeliveryState, Event, EventKind, MessageId, codec};
use smsflow_kafka::HandlerError;
use smsflow_store::{GroupCommit, Store, StoreError};
use uuid::Uuid;

/// What a carrier message id maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correlation {
    /// smsflow message id.
    pub message_id: MessageId,
    /// Tenant.
    pub tenant_id: String,
    /// Destination.
    pub destination: String,
    /// Attempt that got the id.
    pub attempt: i32,
    /// 1-based segment index.
    pub segment_index: i32,
    /// Segments of the message.
    pub segment_count: i32,
}

/// The values of one correlation row: carrier, carrier message id, destination, message,
/// tenant, attempt, segment index, segment count.
type CorrelationValues = (String, String, String, Uuid, String, i32, i32, i32);

/// Prepared statements of the three tables.
#[derive(Debug, Clone)]
pub struct Tables {
    store: Store,
    /// Correlation rows, group-committed with other submits' (ADR 11, decisions 16 and 18).
    /// Nothing waits for them by the millisecond, an OTP's receipt included: the cache has the
    /// correlation before the row is written, so they linger (`store.bulk_write_linger_ms`).
    put_corr: GroupCommit<CorrelationValues>,
    get_corr: PreparedStatement,
    put_pending: PreparedStatement,
    all_pending: PreparedStatement,
    del_pending: PreparedStatement,
    /// Final segment states, group-committed the same way: a receipt's `DeliveryReported`
    /// waits up to the linger longer.
    put_segment: GroupCommit<(Uuid, i32, &'static str, Uuid)>,
    get_segments: PreparedStatement,
}

/// What the store errors of this module are about.
const WHAT: &str = "dlr tables";

/// The recorded final state of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentState {
    /// Final delivery state.
    pub state: DeliveryState,
    /// The receipt event that set it.
    pub receipt_event_id: Option<Uuid>,
}

type CorrelationRow = (String, Uuid, String, i32, i32, i32);

impl Tables {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let c = store.table("dlr_correlation");
        let p = store.table("dlr_pending");
        let s = store.table("dlr_segments");
        let prep = |q: String| store.prepare("prepare dlr tables", q);
        let key = "carrier_id = ? AND carrier_message_id = ?";
        let mut put_corr = prep(format!(
            "INSERT INTO {c} (carrier_id, carrier_message_id, destination, message_id, tenant_id, attempt, \
             segment_index, segment_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .await?;
        put_corr.set_is_idempotent(true);
        let mut put_segment = prep(format!(
            "INSERT INTO {s} (message_id, segment_index, state, receipt_event_id) VALUES (?, ?, ?, ?)"
        ))
        .await?;
        // The same receipt's state again changes nothing.
        put_segment.set_is_idempotent(true);
        Ok(Self {
            put_corr: GroupCommit::start(
                store.clone(),
                "dlr correlations",
                put_corr,
                store.bulk_grouping(),
            ),
            put_segment: GroupCommit::start(
                store.clone(),
                "dlr segments",
                put_segment,
                store.bulk_grouping(),
            ),
            get_corr: prep(format!(
                "SELECT destination, message_id, tenant_id, attempt, segment_index, segment_count FROM {c} WHERE {key}"
            ))
            .await?,
            put_pending: prep(format!(
                "INSERT INTO {p} (carrier_id, carrier_message_id, destination, event_id, receipt) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            all_pending: prep(format!("SELECT destination, receipt FROM {p}")).await?,
            del_pending: prep(format!(
                "DELETE FROM {p} WHERE {key} AND destination = ? AND event_id = ?"
            ))
            .await?,
            get_segments: prep(format!(
                "SELECT segment_index, state, receipt_event_id FROM {s} WHERE message_id = ?"
            )).await?,
            store,
        })
    }

    /// Records what `carrier_message_id` of `carrier` means for `c.destination`.
    pub async fn correlate(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        c: &Correlation,
    ) -> Result<(), HandlerError> {
        let v = (
            carrier.to_owned(),
            carrier_message_id.to_owned(),
            c.destination.clone(),
            c.message_id.as_uuid(),
            c.tenant_id.clone(),
            c.attempt,
            c.segment_index,
            c.segment_count,
        );
        self.put_corr.write(v).await
    }

    /// What `carrier_message_id` of `carrier` means for `destination` (when the receipt names
    /// no destination: the only message that had the id, if it is only one).
    pub async fn correlation(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: Option<&str>,
    ) -> Result<Option<Correlation>, HandlerError> {
        let rows: Vec<CorrelationRow> = self
            .store
            .rows(WHAT, &self.get_corr, (carrier, carrier_message_id))
            .await?;
        // The destination decides between messages that got the same id.
        let mut matching: Vec<Correlation> = rows
            .into_iter()
            .filter(|(d, ..)| destination.is_none_or(|want| want == d))
            .map(|(d, m, t, a, i, n)| Correlation {
                message_id: MessageId::from(m),
                tenant_id: t,
                destination: d,
                attempt: a,
                segment_index: i,
                segment_count: n,
            })
            .collect();
        Ok(if matching.len() == 1 {
            matching.pop()
        } else {
            None
        })
    }

    /// Parks a receipt whose submit is not recorded yet, under `destination` (`None`: the
    /// receipt names none we can compare).
    pub async fn park(
        &self,
        r: &CarrierReceiptReceived,
        destination: Option<&str>,
    ) -> Result<(), HandlerError> {
        let bytes = codec::encode_datum(&Event::CarrierReceiptReceived(r.clone()))
            .map_err(|e| HandlerError::dead_letter("UNSTORABLE_RECEIPT", e.to_string()))?;
        let destination = destination.unwrap_or("");
        let v = (
            r.carrier_id.as_str(),
            &r.normalized_id,
            destination,
            r.meta.event_id.as_uuid(),
            bytes,
        );
        self.store.write(WHAT, &self.put_pending, v).await
    }

    /// Every parked receipt with the destination it was parked under (`""`: none), read page
    /// by page as a stream (the sweep's scan: parked receipts are few, see `sweep`).
    pub async fn all_parked(
        &self,
    ) -> Result<
        impl futures::Stream<Item = Result<(CarrierReceiptReceived, String), HandlerError>>,
        HandlerError,
    > {
        use futures::StreamExt;
        let pager = self
            .store
            .session()
            .execute_iter(self.all_pending.clone(), ())
            .await
            .map_err(|e| HandlerError::retry(format!("{WHAT}: {e}")))?;
        let rows = pager
            .rows_stream::<(String, Vec<u8>)>()
            .map_err(|e| smsflow_store::unreadable(WHAT, e))?;
        Ok(rows.map(|row| {
            let (destination, bytes) =
                row.map_err(|e| HandlerError::retry(format!("{WHAT}: {e}")))?;
            Ok((decode_parked(&bytes)?, destination))
        }))
    }

    /// Removes a parked receipt once it has been applied.
    pub async fn unpark(
        &self,
        r: &CarrierReceiptReceived,
        destination: Option<&str>,
    ) -> Result<(), HandlerError> {
        let v = (
            r.carrier_id.as_str(),
            &r.normalized_id,
            destination.unwrap_or(""),
            r.meta.event_id.as_uuid(),
        );
        self.store.write(WHAT, &self.del_pending, v).await
    }

    /// Final states of `m`'s segments so far, with the receipt event that set each.
    pub async fn segments(
        &self,
        m: MessageId,
    ) -> Result<BTreeMap<i32, SegmentState>, HandlerError> {
        let rows: Vec<(i32, String, Option<Uuid>)> = self
            .store
            .rows(WHAT, &self.get_segments, (m.as_uuid(),))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(i, s, receipt)| {
                Some((
                    i,
                    SegmentState {
                        state: DeliveryState::parse(&s)?,
                        receipt_event_id: receipt,
                    },
                ))
            })
            .collect())
    }

    /// Records the final state of segment `i` of `m`, set by the receipt event `receipt`.
    pub async fn set_segment(
        &self,
        m: MessageId,
        i: i32,
        state: DeliveryState,
        receipt: Uuid,
    ) -> Result<(), HandlerError> {
        self.put_segment
            .write((m.as_uuid(), i, state.as_str(), receipt))
            .await
    }
}

/// A parked receipt as written by [`Tables::park`].
fn decode_parked(bytes: &[u8]) -> Result<CarrierReceiptReceived, HandlerError> {
    match codec::decode_datum(EventKind::CarrierReceiptReceived, bytes) {
        Ok(Event::CarrierReceiptReceived(r)) => Ok(r),
        // Written by this service with this schema: unreadable means corrupt storage.
        other => Err(smsflow_store::unreadable(
            WHAT,
            format!("parked receipt: {other:?}"),
        )),
    }
}
