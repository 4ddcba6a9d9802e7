//! dlr-ingester's own CQL tables: `dlr_correlation`, `dlr_pending`, `dlr_segments`.

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
    del_pending: PreparedStatement,
    put_segment: PreparedStatement,
    get_segments: PreparedStatement,
}

fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::retry(format!("dlr tables: {e}"))
}

impl Tables {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let (c, p, s) = (
            store.table("dlr_correlation"),
            store.table("dlr_pending"),
            store.table("dlr_segments"),
        );
        let prep = |q: String| {
            let store = store.clone();
            async move {
                store
                    .session()
                    .prepare(q)
                    .await
                    .map_err(|e| StoreError::query("prepare dlr tables", e))
            }
        };
        Ok(Self {
            put_corr: prep(format!(
                "INSERT INTO {c} (carrier_id, carrier_message_id, message_id, tenant_id, destination, attempt, segment_index, segment_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            get_corr: prep(format!(
                "SELECT message_id, tenant_id, destination, attempt, segment_index, segment_count FROM {c} WHERE carrier_id = ? AND carrier_message_id = ?"
            ))
            .await?,
            put_pending: prep(format!("INSERT INTO {p} (carrier_id, carrier_message_id, event_id, receipt) VALUES (?, ?, ?, ?)")).await?,
            get_pending: prep(format!("SELECT receipt FROM {p} WHERE carrier_id = ? AND carrier_message_id = ?")).await?,
            del_pending: prep(format!("DELETE FROM {p} WHERE carrier_id = ? AND carrier_message_id = ?")).await?,
            put_segment: prep(format!("INSERT INTO {s} (message_id, segment_index, state) VALUES (?, ?, ?)")).await?,
            get_segments: prep(format!("SELECT segment_index, state FROM {s} WHERE message_id = ?")).await?,
            store,
        })
    }

    /// Records what `carrier_message_id` of `carrier` means.
    pub async fn correlate(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        c: &Correlation,
    ) -> Result<(), HandlerError> {
        let v = (
            carrier,
            carrier_message_id,
            c.message_id.as_uuid(),
            &c.tenant_id,
            &c.destination,
            c.attempt,
            c.segment_index,
            c.segment_count,
        );
        self.store
            .session()
            .execute_unpaged(&self.put_corr, v)
            .await
            .map_err(retry)?;
        Ok(())
    }

    /// What `carrier_message_id` of `carrier` means, if known yet.
    pub async fn correlation(
        &self,
        carrier: &str,
        carrier_message_id: &str,
    ) -> Result<Option<Correlation>, HandlerError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.get_corr, (carrier, carrier_message_id))
            .await
            .map_err(retry)?
            .into_rows_result()
            .map_err(retry)?;
        let row = rows
            .maybe_first_row::<(Uuid, String, String, i32, i32, i32)>()
            .map_err(retry)?;
        Ok(row.map(|(m, t, d, a, i, n)| Correlation {
            message_id: MessageId::from(m),
            tenant_id: t,
            destination: d,
            attempt: a,
            segment_index: i,
            segment_count: n,
        }))
    }

    /// Parks a receipt whose submit is not recorded yet.
    pub async fn park(&self, r: &CarrierReceiptReceived) -> Result<(), HandlerError> {
        let bytes = codec::encode_datum(&Event::CarrierReceiptReceived(r.clone()))
            .map_err(|e| HandlerError::dead_letter("UNSTORABLE_RECEIPT", e.to_string()))?;
        let v = (
            r.carrier_id.as_str(),
            &r.normalized_id,
            r.meta.event_id.as_uuid(),
            bytes,
        );
        self.store
            .session()
            .execute_unpaged(&self.put_pending, v)
            .await
            .map_err(retry)?;
        Ok(())
    }

    /// Receipts parked for `carrier_message_id`.
    pub async fn parked(
        &self,
        carrier: &str,
        carrier_message_id: &str,
    ) -> Result<Vec<CarrierReceiptReceived>, HandlerError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.get_pending, (carrier, carrier_message_id))
            .await
            .map_err(retry)?
            .into_rows_result()
            .map_err(retry)?;
        let mut out = Vec::new();
        for row in rows.rows::<(Vec<u8>,)>().map_err(retry)? {
            let (bytes,) = row.map_err(retry)?;
            if let Ok(Event::CarrierReceiptReceived(r)) =
                codec::decode_datum(EventKind::CarrierReceiptReceived, &bytes)
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Forgets the receipts parked for `carrier_message_id`.
    pub async fn unpark(
        &self,
        carrier: &str,
        carrier_message_id: &str,
    ) -> Result<(), HandlerError> {
        self.store
            .session()
            .execute_unpaged(&self.del_pending, (carrier, carrier_message_id))
            .await
            .map_err(retry)?;
        Ok(())
    }

    /// Final states of `m`'s segments so far.
    pub async fn segments(
        &self,
        m: MessageId,
    ) -> Result<BTreeMap<i32, DeliveryState>, HandlerError> {
        let rows = self
            .store
            .session()
            .execute_unpaged(&self.get_segments, (m.as_uuid(),))
            .await
            .map_err(retry)?
            .into_rows_result()
            .map_err(retry)?;
        let mut out = BTreeMap::new();
        for row in rows.rows::<(i32, String)>().map_err(retry)? {
            let (i, s) = row.map_err(retry)?;
            if let Some(state) = DeliveryState::parse(&s) {
                out.insert(i, state);
            }
        }
        Ok(out)
    }

    /// Records the final state of segment `i` of `m`.
    pub async fn set_segment(
        &self,
        m: MessageId,
        i: i32,
        state: DeliveryState,
    ) -> Result<(), HandlerError> {
        self.store
            .session()
            .execute_unpaged(&self.put_segment, (m.as_uuid(), i, state.as_str()))
            .await
            .map_err(retry)?;
        Ok(())
    }
}
