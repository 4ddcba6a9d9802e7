//! The sweep of parked receipts: every `park_sweep_secs`, each receipt in `dlr_pending` whose
//! submit is recorded by now is applied, its report published, and then it is unparked.
//!
//! Receipts park only after waiting `early_receipt_wait` for their submit (a lagging consumer
//! of `sms.attempts`, a carrier that reports an id it never gave), so the table stays small and
//! a full scan of it is cheap. What stays parked is exported as a gauge: receipts for ids
//! nobody gave stay until their TTL (48 h) and every sweep reads them again, so a carrier
//! that sends many of them shows there first. Every instance sweeps the whole table: two applying one receipt
//! publish the same report (same derived id), which downstream deduplicates.

use std::sync::Arc;
use std::time::Duration;

use smsflow_kafka::{EventProducer, HandlerError};
use smsflow_runtime::CancellationToken;
use tracing::{debug, warn};

use crate::correlate::Correlator;
use crate::metrics;

/// Sweeps every `every` until `shutdown`.
pub async fn run(
    correlator: Arc<Correlator>,
    producer: EventProducer,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        match sweep(&correlator, &producer).await {
            Ok(0) => {}
            Ok(n) => debug!(applied = n, "parked receipts applied"),
            Err(e) => warn!(error = %e, "sweeping parked receipts failed; next sweep retries"),
        }
    }
}

/// One sweep; returns how many parked receipts were applied.
pub async fn sweep(c: &Correlator, producer: &EventProducer) -> Result<usize, HandlerError> {
    use futures::TryStreamExt;
    let (mut seen, mut applied) = (0usize, 0usize);
    let rows = c.tables.all_parked().await?;
    futures::pin_mut!(rows);
    while let Some((r, destination)) = rows.try_next().await? {
        seen += 1;
        let to = (!destination.is_empty()).then_some(destination.as_str());
        let Some(found) = c.lookup(&r, to).await? else {
            continue;
        };
        let outs = c.apply(&r, &found).await?;
        producer
            .send_all(&outs)
            .await
            .map_err(|e| HandlerError::retry(format!("publishing a replayed receipt: {e}")))?;
        c.tables.unpark(&r, to).await?;
        metrics::receipt("replayed");
        applied += 1;
    }
    metrics::parked(seen - applied);
    Ok(applied)
}
