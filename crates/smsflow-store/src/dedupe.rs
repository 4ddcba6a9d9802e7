//! [`CqlDedupe`]: the durable dedupe hook of the consumer loop, in `processed_events`.

use futures::future::BoxFuture;
use scylla::statement::prepared::PreparedStatement;
use smsflow_events::EventId;
use smsflow_kafka::{Dedupe, HandlerError};

use crate::error::StoreError;
use crate::session::Store;

/// Records handled events per consumer group in the CQL store (7-day TTL).
#[derive(Debug, Clone)]
pub struct CqlDedupe {
    store: Store,
    seen: PreparedStatement,
    record: PreparedStatement,
}

impl CqlDedupe {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let t = store.table("processed_events");
        let seen = store
            .prepare(
                "prepare dedupe",
                format!("SELECT event_id FROM {t} WHERE scope = ? AND event_id = ?"),
            )
            .await?;
        let record = store
            .prepare(
                "prepare dedupe",
                format!("INSERT INTO {t} (scope, event_id, handled_at) VALUES (?, ?, toTimestamp(now()))"),
            )
            .await?;
        Ok(Self {
            store,
            seen,
            record,
        })
    }
}

impl Dedupe for CqlDedupe {
    fn seen<'a>(
        &'a self,
        scope: &'a str,
        event: EventId,
    ) -> BoxFuture<'a, Result<bool, HandlerError>> {
        Box::pin(async move {
            let rows: Vec<(uuid::Uuid,)> = self
                .store
                .rows("dedupe lookup", &self.seen, (scope, event.as_uuid()))
                .await?;
            Ok(!rows.is_empty())
        })
    }

    fn record<'a>(
        &'a self,
        scope: &'a str,
        event: EventId,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.store
                .write("dedupe mark", &self.record, (scope, event.as_uuid()))
                .await
        })
    }
}
