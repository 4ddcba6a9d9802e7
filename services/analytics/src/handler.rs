//! The consumer handler: every event of a message goes to the group-commit writer, which
//! writes it with the other events of its message; the record's offset is stored once the
//! store has it. A consent change goes to the consent history at once. Writes are
//! idempotent, so no dedupe hook runs before.

use std::sync::Arc;

use smsflow_events::Event;
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};

use crate::consent::ConsentHistory;
use crate::writer::ViewWriter;

/// Materialises the views.
#[derive(Debug)]
pub struct Materialise {
    /// The group-commit writer of the views.
    pub writer: ViewWriter,
    /// The consent history (written at once: a change is not a message's event).
    pub consent: Arc<ConsentHistory>,
}

impl Handler for Materialise {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        match &msg.event {
            Event::ConsentChanged(c) => self.consent.record(c).await?,
            e => self.writer.apply(e).await?,
        }
        crate::metrics::applied(msg.event.kind().name());
        Ok(vec![])
    }
}
