//! dlr-ingester's own CQL tables: `dlr_correlation`, `dlr_pending`, `dlr_segments`.
//!
//! Carriers reuse message ids (counters wrap, platforms restart), so correlation and parked
//! receipts are keyed by carrier, carrier id **and destination**.

use std::collections::BTreeMap;

use scylla::statement::prepared::PreparedStatement;
use smsflow_events::{CarrierReceiptReceived, DeliveryState, Event, EventKind, MessageId, codec};
use smsflow_kafka::HandlerError;
use smsflow_store::{Store, StoreError};
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

/// Prepared statements of the three tables.
#[derive(Debug, Clone)]
pub struct Tables {
    store: Store,
    put_corr: PreparedStatement,
    get_corr: PreparedStatement,
    put_pending: PreparedStatement,
    get_pending: PreparedStatement,
    put_segment: PreparedStatement,
    get_segments: PreparedStatement,
}

fn exec(e: scylla::errors::ExecutionError) -> HandlerError {
    smsflow_store::handler_error("dlr tables", &e)
}

fn read(e: impl std::fmt::Display) -> HandlerError {
    smsflow_store::unreadable("dlr tables", e)
}

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
        Ok(Self {
            put_corr: prep(format!(
                "INSERT INTO {c} (carrier_id, carrier_message_id, destination, message_id, tenant_id, attempt, \
                 segment_index, segment_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            get_corr: prep(format!(
                "SELECT destination, message_id, tenant_id, attempt, segment_index, segment_count FROM {c} WHERE {key}"
            ))
            .await?,
            put_pending: prep(format!(
                "INSERT INTO {p} (carrier_id, carrier_message_id, destination, event_id, receipt) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            get_pending: prep(format!("SELECT receipt FROM {p} WHERE {key} AND destination IN (?, '')")).await?,
            put_segment: prep(format!(
                "INSERT INTO {s} (message_id, segment_index, state, receipt_event_id) VALUES (?, ?, ?, ?)"
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
            carrier,
            carrier_message_id,
            &c.destination,
            c.message_id.as_uuid(),
            &c.tenant_id,
            c.attempt,
            c.segment_index,
            c.segment_count,
        );
        self.store
            .session()
            .execute_unpaged(&self.put_corr, v)
            .await
            .map_err(exec)?;
        Ok(())
    }

    /// What `carrier_message_id` of `carrier` means for `destination` (when the receipt names
    /// no destination: the only message that had the id, if it is only one).
    pub async fn correlation(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: Option<&str>,
    ) -> Result<Option<Correlation>, HandlerError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.get_corr, (carrier, carrier_message_id))
            .await
            .map_err(exec)?
            .into_rows_result()
            .map_err(read)?;
        let mut all = Vec::new();
        for row in rows.rows::<CorrelationRow>().map_err(read)? {
            let (d, m, t, a, i, n) = row.map_err(read)?;
            all.push(Correlation {
                message_id: MessageId::from(m),
                tenant_id: t,
                destination: d,
                attempt: a,
                segment_index: i,
                segment_count: n,
            });
        }
        // The destination decides between messages that got the same id.
        let mut matching: Vec<&Correlation> = all
            .iter()
            .filter(|c| destination.is_none_or(|d| d == c.destination))
            .collect();
        Ok(if matching.len() == 1 {
            matching.pop().cloned()
        } else {
            None
        })
    }

    /// Parks a receipt whose submit is not recorded yet.
    pub async fn park(&self, r: &CarrierReceiptReceived) -> Result<(), HandlerError> {
        let bytes = codec::encode_datum(&Event::CarrierReceiptReceived(r.clone()))
            .map_err(|e| HandlerError::dead_letter("UNSTORABLE_RECEIPT", e.to_string()))?;
        let v = (
            r.carrier_id.as_str(),
            &r.normalized_id,
            r.to.as_deref()
                .filter(|t| smsflow_events::Msisdn::parse(t).is_ok())
                .unwrap_or(""),
            r.meta.event_id.as_uuid(),
            bytes,
        );
        self.store
            .session()
            .execute_unpaged(&self.put_pending, v)
            .await
            .map_err(exec)?;
        Ok(())
    }

    /// Receipts parked for `carrier_message_id` that are about `destination` (or say none).
    pub async fn parked(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        destination: &str,
    ) -> Result<Vec<CarrierReceiptReceived>, HandlerError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(
                &self.get_pending,
                (carrier, carrier_message_id, destination),
            )
            .await
            .map_err(exec)?
            .into_rows_result()
            .map_err(read)?;
        let mut out = Vec::new();
        for row in rows.rows::<(Vec<u8>,)>().map_err(read)? {
            let (bytes,) = row.map_err(read)?;
            match codec::decode_datum(EventKind::CarrierReceiptReceived, &bytes) {
                Ok(Event::CarrierReceiptReceived(r)) => out.push(r),
                // Written by this service with this schema: unreadable means corrupt storage.
                other => return Err(read(format!("parked receipt: {other:?}"))),
            }
        }
        Ok(out)
    }

    /// Final states of `m`'s segments so far, with the receipt event that set each.
    pub async fn segments(
        &self,
        m: MessageId,
    ) -> Result<BTreeMap<i32, SegmentState>, HandlerError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.get_segments, (m.as_uuid(),))
            .await
            .map_err(exec)?
            .into_rows_result()
            .map_err(read)?;
        let mut out = BTreeMap::new();
        for row in rows.rows::<(i32, String, Option<Uuid>)>().map_err(read)? {
            let (i, s, receipt) = row.map_err(read)?;
            if let Some(state) = DeliveryState::parse(&s) {
                out.insert(
                    i,
                    SegmentState {
                        state,
                        receipt_event_id: receipt,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Records the final state of segment `i` of `m`, set by the receipt event `receipt`.
    pub async fn set_segment(
        &self,
        m: MessageId,
        i: i32,
        state: DeliveryState,
        receipt: Uuid,
    ) -> Result<(), HandlerError> {
        self.store
            .session()
            .execute_unpaged(&self.put_segment, (m.as_uuid(), i, state.as_str(), receipt))
            .await
            .map_err(exec)?;
        Ok(())
    }
}
