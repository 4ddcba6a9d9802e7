//! The consumer handler: every event of a message updates its views. Idempotent, so no
//! dedupe hook is needed.

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
    async fn handle(&self, msg: &Incoming) -> Result<Vec<Outgoing>, HandlerError> {
        self.views.apply(&msg.event).await?;
        crate::metrics::applied(msg.event.kind().name());
        Ok(vec![])
    }
}
