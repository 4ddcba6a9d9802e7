//! The consumer handler: every event of a message goes to the group-commit writer, which
//! writes it with the other events of its message; the record's offset is stored once the
//! store has it. Writes are idempotent, so no dedupe hook runs before.

use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};

use crate::writer::ViewWriter;

/// Materialises the views.
#[derive(Debug)]
pub struct Materialise {
    /// The group-commit writer of the views.
    pub writer: ViewWriter,
}

impl Handler for Materialise {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        self.writer.apply(&msg.event).await?;
        crate::metrics::applied(msg.event.kind().name());
        Ok(vec![])
    }
}
