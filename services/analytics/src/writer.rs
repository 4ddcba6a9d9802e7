//! Group commit of view writes: the handler of each record hands its event to the
//! [`ViewWriter`] and waits; the writer collects what arrives for up to `linger` (or
//! `max_events`), groups it by message, writes each message's events as one batch
//! ([`Views::write_message`]), then answers every waiting handler. The consumer stores a
//! record's offset only after its handler returned, so nothing is committed before it is in
//! the store.
//!
//! This is where the view's cost per message comes from: the five to eight events of a message
//! usually meet in one or two flushes, so a message costs one or two store requests instead of
//! twenty row writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use smsflow_events::{Event, MessageId};
use smsflow_kafka::HandlerError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics;
use crate::views::{ViewWrite, Views};

/// How the writer groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushOptions {
    /// How long the first event of a flush waits for company.
    pub linger: Duration,
    /// Most events in one flush.
    pub max_events: usize,
    /// Store requests (one per message) in flight at once during a flush.
    pub concurrency: usize,
}

impl Default for FlushOptions {
    fn default() -> Self {
        Self {
            linger: Duration::from_millis(500),
            max_events: 8192,
            concurrency: 256,
        }
    }
}

struct Job {
    message: MessageId,
    write: ViewWrite,
    done: oneshot::Sender<Result<(), HandlerError>>,
}

/// Handle to the group-commit task; cheap to clone. The task ends when every handle is gone,
/// after writing what it holds.
#[derive(Clone, Debug)]
pub struct ViewWriter {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("message", &self.message)
            .finish()
    }
}

impl ViewWriter {
    /// Starts the task writing to `views`.
    pub fn start(views: Arc<Views>, opts: FlushOptions) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(opts.max_events.max(1) * 2);
        let task = tokio::spawn(run(views, rx, opts));
        (Self { tx }, task)
    }

    /// Writes `event` to its message's view; returns once the store has it.
    pub async fn apply(&self, event: &Event) -> Result<(), HandlerError> {
        let Some((message, write)) = Views::write_of(event) else {
            return Ok(());
        };
        let (done, rx) = oneshot::channel();
        let stopped = || HandlerError::retry("the view writer stopped");
        self.tx
            .send(Job {
                message,
                write,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn run(views: Arc<Views>, mut rx: mpsc::Receiver<Job>, opts: FlushOptions) {
    while let Some(first) = rx.recv().await {
        let deadline = Instant::now() + opts.linger;
        let mut jobs = vec![first];
        while jobs.len() < opts.max_events {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(j)) => jobs.push(j),
                Ok(None) | Err(_) => break,
            }
        }
        flush(&views, jobs, opts.concurrency).await;
    }
}

/// Writes `jobs` grouped by message, then answers each job with its message's result.
async fn flush(views: &Views, jobs: Vec<Job>, concurrency: usize) {
    let events = jobs.len();
    let mut by_message: HashMap<MessageId, Vec<Job>> = HashMap::with_capacity(jobs.len());
    for j in jobs {
        by_message.entry(j.message).or_default().push(j);
    }
    metrics::flushed(events, by_message.len());
    futures::stream::iter(by_message.into_values())
        .for_each_concurrent(concurrency.max(1), |group| async move {
            let writes: Vec<&ViewWrite> = group.iter().map(|j| &j.write).collect();
            let r = views.write_message(&writes).await;
            for j in group {
                let _ = j.done.send(r.clone());
            }
        })
        .await;
}
