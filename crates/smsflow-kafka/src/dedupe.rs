//! Dedupe hooks: "has this consumer already handled event X?".
//!
//! The consumer loop asks [`Dedupe::seen`] before calling the handler and calls
//! [`Dedupe::record`] after the handler's outputs were acknowledged, before the offset is
//! stored. A consumer that dies between producing and committing therefore skips the event
//! when it sees it again instead of emitting its outputs twice. The durable implementation
//! lives in `smsflow-store` (a CQL table with a TTL); [`MemoryDedupe`] is for tests and tools.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

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

/// A (scope, event) pair.
type Key = (String, EventId);

/// In-memory dedupe of the last `capacity` events; lost on restart.
#[derive(Debug)]
pub struct MemoryDedupe {
    capacity: usize,
    /// The remembered keys, and their insertion order for eviction.
    inner: Mutex<(HashSet<Key>, VecDeque<Key>)>,
}

impl MemoryDedupe {
    /// Remembers up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }
}

impl Dedupe for MemoryDedupe {
    fn seen<'a>(
        &'a self,
        scope: &'a str,
        event: EventId,
    ) -> BoxFuture<'a, Result<bool, HandlerError>> {
        let hit = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .contains(&(scope.to_owned(), event));
        Box::pin(async move { Ok(hit) })
    }

    fn record<'a>(
        &'a self,
        scope: &'a str,
        event: EventId,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (scope.to_owned(), event);
        if g.0.insert(key.clone()) {
            g.1.push_back(key);
            if g.1.len() > self.capacity
                && let Some(old) = g.1.pop_front()
            {
                g.0.remove(&old);
            }
        }
        Box::pin(async { Ok(()) })
    }
}
