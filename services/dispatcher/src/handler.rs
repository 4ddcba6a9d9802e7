//! The consumer handler of the lane and retry topics: waits for `not_before`, then runs the
//! attempt. Rejections on the lane topics are for analytics; they are skipped here.

use std::sync::Arc;
use std::time::Duration;

use smsflow_events::{Event, EventKind, Timestamp};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use smsflow_runtime::CancellationToken;

use crate::attempt::Dispatcher;
use crate::fresh::Freshness;

/// Dispatches `RoutingDecided` events.
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// The attempt logic.
    pub dispatcher: Arc<Dispatcher>,
    /// Which decisions need their history read.
    pub freshness: Arc<Freshness>,
    /// Cancels waits for `not_before` at shutdown.
    pub shutdown: CancellationToken,
}

impl Handler for Dispatch {
    fn wants(&self, kind: EventKind) -> bool {
        kind == EventKind::RoutingDecided
    }

    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let Event::RoutingDecided(d) = &msg.event else {
            return Ok(vec![]);
        };
        if let Some(nb) = d.not_before {
            let wait = nb.as_micros() - Timestamp::now().as_micros();
            if wait > 0 {
                let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.shutdown.cancelled() => return Err(HandlerError::retry("shutting down before not_before")),
                }
            }
        }
        let may_have_history = self
            .freshness
            .may_have_history(msg, d.message_id, d.attempt)
            .await?;
        self.dispatcher.dispatch(d, !may_have_history).await
    }
}
