//! Group commit of one-row writes (ADR 11, decision 16).
//!
//! The CQL server's cost of a small write is mostly the request (framing, dispatch, the
//! response), not the row. A [`GroupCommit`] takes writes of one prepared statement from many
//! tasks and sends what has queued up as one unlogged batch of at most
//! [`GroupOptions::max_rows`] rows (each usually its own partition: Cassandra warns above 10
//! partitions per batch, ScyllaDB takes them as they are). With no [`GroupOptions::linger`] it
//! never waits for company: a write that finds the writer idle goes out alone at once, and
//! batches only form while earlier ones are in flight (at most [`GroupOptions::in_flight`]), so
//! the latency of a quiet moment is that of a plain write. With a linger (writes nobody waits
//! for by the millisecond: bulk), the first write of a batch waits up to that long for the
//! rest, so a steady stream goes out in full batches.
//!
//! `smsflow_store_group_requests_total{what}` and `smsflow_store_group_rows_total{what}`
//! count the requests and the rows they carried: their ratio is the batch size.
//!
//! Each caller gets the result of its batch; a failed batch fails every write in it (they are
//! upserts, so the callers' retries are safe).

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use smsflow_kafka::HandlerError;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::{Store, handler_error};

/// How a [`GroupCommit`] groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupOptions {
    /// Most rows in one batch.
    pub max_rows: usize,
    /// Requests (batches or single writes) in flight at once.
    pub in_flight: usize,
    /// How long the first write of a batch waits for company (zero: not at all).
    pub linger: Duration,
}

impl Default for GroupOptions {
    fn default() -> Self {
        Self {
            max_rows: 10,
            in_flight: 64,
            linger: Duration::ZERO,
        }
    }
}

impl GroupOptions {
    /// The defaults, with the first write of a batch waiting up to `linger` for company.
    pub fn lingering(linger: Duration) -> Self {
        Self {
            linger,
            ..Self::default()
        }
    }
}

struct Job<V> {
    values: V,
    done: oneshot::Sender<Result<(), HandlerError>>,
}

/// Writes of one statement, grouped; cheap to clone. Its task ends when every handle is gone,
/// after writing what it holds.
pub struct GroupCommit<V> {
    tx: mpsc::Sender<Job<V>>,
    what: &'static str,
    _values: PhantomData<fn(V)>,
}

impl<V> Clone for GroupCommit<V> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            what: self.what,
            _values: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for GroupCommit<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<V: SerializeRow + Send + Sync + 'static> GroupCommit<V> {
    /// Starts the task writing `statement` (idempotent: the batches are retried by the driver)
    /// through `store`; `what` names the writes in errors.
    pub fn start(
        store: Store,
        what: &'static str,
        statement: PreparedStatement,
        opts: GroupOptions,
    ) -> Self {
        let (tx, rx) = mpsc::channel(opts.max_rows.max(1) * opts.in_flight.max(1) * 4);
        tokio::spawn(run(store, what, statement, rx, opts));
        Self {
            tx,
            what,
            _values: PhantomData,
        }
    }

    /// Writes one row; returns once the store has it (or its batch failed).
    pub async fn write(&self, values: V) -> Result<(), HandlerError> {
        let (done, rx) = oneshot::channel();
        let stopped = || HandlerError::retry(format!("{}: the group writer stopped", self.what));
        self.tx
            .send(Job { values, done })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn run<V: SerializeRow + Send + Sync + 'static>(
    store: Store,
    what: &'static str,
    statement: PreparedStatement,
    mut rx: mpsc::Receiver<Job<V>>,
    opts: GroupOptions,
) {
    let room = Arc::new(Semaphore::new(opts.in_flight.max(1)));
    let max_rows = opts.max_rows.max(1);
    // Looked up once: a request may carry a single row.
    let requests = metrics::counter!("smsflow_store_group_requests_total", "what" => what);
    let rows = metrics::counter!("smsflow_store_group_rows_total", "what" => what);
    while let Some(first) = rx.recv().await {
        // While every request is in flight, writes queue up in the channel: the next batch
        // takes them.
        let Ok(permit) = room.clone().acquire_owned().await else {
            return;
        };
        let deadline = (!opts.linger.is_zero()).then(|| Instant::now() + opts.linger);
        let mut jobs = vec![first];
        while jobs.len() < max_rows {
            match (rx.try_recv(), deadline) {
                (Ok(j), _) => jobs.push(j),
                (Err(TryRecvError::Empty), Some(d)) => {
                    match tokio::time::timeout_at(d, rx.recv()).await {
                        Ok(Some(j)) => jobs.push(j),
                        Ok(None) | Err(_) => break,
                    }
                }
                (Err(_), _) => break,
            }
        }
        requests.increment(1);
        rows.increment(jobs.len() as u64);
        let (store, statement) = (store.clone(), statement.clone());
        tokio::spawn(async move {
            let r = write(&store, what, &statement, &jobs).await;
            for j in jobs {
                let _ = j.done.send(r.clone());
            }
            drop(permit);
        });
    }
    // Every handle is gone: wait for the requests in flight.
    let _ = room.acquire_many(opts.in_flight.max(1) as u32).await;
}

async fn write<V: SerializeRow>(
    store: &Store,
    what: &'static str,
    statement: &PreparedStatement,
    jobs: &[Job<V>],
) -> Result<(), HandlerError> {
    if let [one] = jobs {
        return store.write(what, statement, &one.values).await;
    }
    let mut batch = Batch::new(BatchType::Unlogged);
    batch.set_is_idempotent(statement.get_is_idempotent());
    for _ in jobs {
        batch.append_statement(statement.clone());
    }
    let values: Vec<&V> = jobs.iter().map(|j| &j.values).collect();
    store
        .session()
        .batch(&batch, values)
        .await
        .map_err(|e| handler_error(what, &e))?;
    Ok(())
}
