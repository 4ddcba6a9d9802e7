//! The consumer handler: every event of a message updates its views. Writes are idempotent;
//! the consumer's dedupe hook also keeps a repeated event (same id) off the timeline.

use std::sync::Arc;

use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};

use crate::views::Views;

/// Materialises the views.
#[derive(Debug)]
pub struct Materialise {
    /// The views.
    pub views: Arc<Views>,
}

impl Handler for Materialise {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        self.views.apply(&msg.event).await?;
        crate::metrics::applied(msg.event.kind().name());
        Ok(vec![])
    }
}
