//! Group commit of view writes: the handler of each record hands its event to the
//! [`ViewWriter`] and waits; the writer collects what arrives for up to `linger` (or
//! `max_events`), groups it by message, writes the events of up to `per_request` messages as
//! one batch ([`Views::write`]; one partition, so one mutation, per message), then answers every
//! waiting handler. The consumer stores a
//! record's offset only after its handler returned, so nothing is committed before it is in
//! the store.
//!
//! This is where the view's cost per message comes from: the five to eight events of a message
//! usually meet in one flush, so a message costs a tenth of a store request instead of twenty
//! row writes. To get there, a message whose events so far are not final (no terminal status yet)
//! is held over to later flushes for up to `hold` after its first held event arrived: most
//! messages finish within it (the carrier's receipt is usually quick), and their whole life is
//! then one write. A final event, the hold running out, or the writer stopping writes it.

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
    /// Store requests in flight at once during a flush.
    pub concurrency: usize,
    /// Most messages in one store request.
    pub per_request: usize,
    /// Most bytes in one store request (about; a message is never split). Cassandra warns
    /// about a batch of several partitions above `batch_size_warn_threshold` (5 KiB by default)
    /// and refuses one above `batch_size_fail_threshold` (50 KiB); ScyllaDB's defaults are
    /// 128 KiB and 1 MiB.
    pub request_bytes: usize,
    /// How long a message with no final event yet may be held over to later flushes, so that
    /// the rest of its events join it (zero: every flush writes everything it has).
    pub hold: Duration,
}

impl Default for FlushOptions {
    fn default() -> Self {
        Self {
            linger: Duration::from_millis(500),
            max_events: 8192,
            concurrency: 64,
            per_request: 10,
            request_bytes: 32 * 1024,
            hold: Duration::from_millis(1000),
        }
    }
}

struct Job {
    message: MessageId,
    write: ViewWrite,
    arrived: Instant,
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
                arrived: Instant::now(),
                done,
            })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn run(views: Arc<Views>, mut rx: mpsc::Receiver<Job>, opts: FlushOptions) {
    // Messages held over from earlier flushes, with when their first held event arrived.
    let mut held: HashMap<MessageId, (Instant, Vec<Job>)> = HashMap::new();
    let mut open = true;
    loop {
        // Wait for an event, or (while messages are held) for the first hold to run out.
        let first = if held.is_empty() {
            match rx.recv().await {
                Some(j) => Some(j),
                None => return,
            }
        } else if open {
            let until = held.values().map(|(since, _)| *since + opts.hold).min();
            match tokio::time::timeout_at(until.unwrap_or_else(Instant::now), rx.recv()).await {
                Ok(Some(j)) => Some(j),
                Ok(None) => {
                    open = false;
                    None
                }
                Err(_) => None,
            }
        } else {
            None
        };
        let mut jobs: Vec<Job> = first.into_iter().collect();
        if !jobs.is_empty() {
            let deadline = Instant::now() + opts.linger;
            while jobs.len() < opts.max_events {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(j)) => jobs.push(j),
                    Ok(None) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        for j in jobs {
            let since = j.arrived;
            held.entry(j.message)
                .or_insert_with(|| (since, Vec::new()))
                .1
                .push(j);
        }
        // Write what is final, what waited long enough, and everything once the handles are gone.
        let now = Instant::now();
        let due: Vec<MessageId> = held
            .iter()
            .filter(|(_, (since, group))| {
                !open || *since + opts.hold <= now || group.iter().any(|j| j.write.is_final())
            })
            .map(|(m, _)| *m)
            .collect();
        let groups: Vec<Vec<Job>> = due
            .iter()
            .filter_map(|m| held.remove(m).map(|(_, g)| g))
            .collect();
        if !groups.is_empty() {
            flush(&views, groups, &opts).await;
        }
        if !open && held.is_empty() {
            return;
        }
    }
}

/// Writes the groups (each the events of one message), up to `per_request` messages and about
/// `request_bytes` to a store request, then answers each job with its request's result. A
/// request the store refuses as a whole is written again message by message, so one message
/// the store cannot take never takes others down with it.
async fn flush(views: &Views, groups: Vec<Vec<Job>>, opts: &FlushOptions) {
    let events = groups.iter().map(Vec::len).sum();
    metrics::flushed(events, groups.len());
    let (per_request, max_bytes) = (opts.per_request.max(1), opts.request_bytes);
    let mut requests: Vec<(usize, Vec<Vec<Job>>)> =
        Vec::with_capacity(groups.len() / per_request + 1);
    for group in groups {
        let bytes: usize = group.iter().map(|j| j.write.bytes()).sum();
        match requests.last_mut() {
            Some((b, r)) if r.len() < per_request && *b + bytes <= max_bytes => {
                *b += bytes;
                r.push(group);
            }
            _ => requests.push((bytes, vec![group])),
        }
    }
    futures::stream::iter(requests)
        .for_each_concurrent(opts.concurrency.max(1), |(_, request)| async move {
            let writes: Vec<&ViewWrite> = request.iter().flatten().map(|j| &j.write).collect();
            metrics::view_request();
            let r = views.write(&writes).await;
            if request.len() > 1 && matches!(r, Err(HandlerError::DeadLetter { .. })) {
                metrics::split_request();
                for group in request {
                    let writes: Vec<&ViewWrite> = group.iter().map(|j| &j.write).collect();
                    metrics::view_request();
                    let r = views.write(&writes).await;
                    answer(group, &r);
                }
                return;
            }
            answer(request.into_iter().flatten(), &r);
        })
        .await;
}

fn answer(jobs: impl IntoIterator<Item = Job>, r: &Result<(), HandlerError>) {
    for j in jobs {
        let _ = j.done.send(r.clone());
    }
}
