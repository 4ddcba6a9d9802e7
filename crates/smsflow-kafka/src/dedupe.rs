//! Dedupe hooks: "has this consumer already handled event X?".
//!
//! The consumer loop asks [`Dedupe::seen`] before calling the handler and calls
//! [`Dedupe::record`] after the handler's outputs were acknowledged, before the offset is
//! stored. A consumer that dies between producing and committing therefore skips the event
//! when it sees it again instead of emitting its outputs twice. The durable implementation
//! lives in `smsflow-store` (a CQL table with a TTL).

use futures::future::BoxFuture;
use smsflow_events::EventId;

use crate::error::HandlerError;

/// Remembers which events a consumer group has handled.
pub trait Dedupe: Send + Sync + 'static {
    /// Whether `event` was already recorded for `scope` (the consumer group).
    fn seen<'a>(
        &'a self,
        scope: &'a str,
        event: EventId,
    ) -> BoxFuture<'a, Result<bool, HandlerError>>;
    /// Records that `scope` handled `event`.
    fn record<'a>(
        &'a self,
        scope: &'a str,
        event: EventId,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// No deduplication: every event is handled (for handlers whose effects are idempotent).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDedupe;

impl Dedupe for NoDedupe {
    fn seen<'a>(&'a self, _: &'a str, _: EventId) -> BoxFuture<'a, Result<bool, HandlerError>> {
        Box::pin(async { Ok(false) })
    }
    fn record<'a>(&'a self, _: &'a str, _: EventId) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }
}
