//! How a consumer's records wait between tries of a transient failure (internal).
//!
//! Each record backs off on its own, exponentially from 100 ms to the consumer's cap, with
//! jitter (a random point in the upper half of the step), so records that failed together do
//! not retry together. What that alone costs: when a dependency every record needs (the CQL
//! store, the broker) comes back after an outage of half a minute, the records are waiting
//! out steps of up to the cap, so the consumer would stay idle up to the cap after the
//! dependency returned. With the store killed again every minute (the chaos suite's
//! `cassandra` target) most of the time it is up was spent waiting (ADR 12, decision 20).
//!
//! So the waits share one [`Retries`] per consumer: when a record that had failed goes through
//! (its dependency works again), every record waiting out a backoff tries again at once. Only
//! a success *after* a failure wakes them: a record that waits for a reason of its own (say,
//! another instance's attempt to settle) is not woken by the ordinary traffic around it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// First step of the backoff; it doubles up to the consumer's cap.
const FIRST_STEP: Duration = Duration::from_millis(100);

/// The retry waits of one consumer's records.
#[derive(Debug, Default)]
pub(crate) struct Retries {
    /// Woken when a record that had failed succeeds.
    recovered: Notify,
    /// How many times that happened (for tests and metrics).
    recoveries: AtomicU64,
}

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The backoff step elapsed.
    Elapsed,
    /// Another record's dependency came back.
    Recovered,
    /// The consumer is shutting down: give up.
    Shutdown,
}

/// The backoff step before try `attempt + 1` (`attempt` tries failed so far, from 0), capped
/// at `max`, and jittered into its upper half.
pub(crate) fn step(attempt: u32, max: Duration) -> Duration {
    let full = FIRST_STEP.saturating_mul(1 << attempt.min(16)).min(max);
    full.mul_f64(rand::random_range(0.5..=1.0))
}

impl Retries {
    /// Waits out the backoff step of a record whose try number `*attempt + 1` just failed
    /// (and counts it), or less if another record recovers meanwhile.
    pub(crate) async fn wait(
        &self,
        attempt: &mut u32,
        max: Duration,
        shutdown: &CancellationToken,
    ) -> Woken {
        let d = step(*attempt, max);
        *attempt += 1;
        tokio::select! {
            () = tokio::time::sleep(d) => Woken::Elapsed,
            () = self.recovered.notified() => Woken::Recovered,
            () = shutdown.cancelled() => Woken::Shutdown,
        }
    }

    /// A record that had failed `attempt` times (from 0) went through: if it had failed, its
    /// dependency works again, so every waiting record tries again now.
    pub(crate) fn succeeded(&self, attempt: u32) {
        if attempt > 0 {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
            self.recovered.notify_waiters();
        }
    }

    #[cfg(test)]
    fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const CAP: Duration = Duration::from_secs(10);

    #[test]
    fn steps_double_from_100_ms_to_the_cap_jittered_into_their_upper_half() {
        for attempt in 0..40 {
            let full = Duration::from_millis(100u64 << attempt.min(16)).min(CAP);
            for _ in 0..50 {
                let d = step(attempt, CAP);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} of {full:?}"
                );
            }
        }
    }

    /// Records waiting at the cap try again as soon as one that had failed goes through.
    #[tokio::test(start_paused = true)]
    async fn a_recovery_wakes_every_record_waiting_out_a_long_step() {
        let retries = Arc::new(Retries::default());
        let shutdown = CancellationToken::new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (r, s) = (retries.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let mut attempt = 20; // long past the cap
                    let t = tokio::time::Instant::now();
                    (r.wait(&mut attempt, CAP, &s).await, t.elapsed(), attempt)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        retries.succeeded(3);
        for w in waiters {
            let (woken, waited, attempt) = w.await.unwrap();
            assert_eq!(woken, Woken::Recovered);
            assert!(waited < Duration::from_secs(1), "waited {waited:?}");
            assert_eq!(attempt, 21, "the failed try is counted");
        }
        assert_eq!(retries.recoveries(), 1);
    }

    /// A record that went through at its first try says nothing about anyone's failure: a
    /// record waiting for a reason of its own keeps waiting out its step.
    #[tokio::test(start_paused = true)]
    async fn ordinary_successes_wake_nobody() {
        let retries = Arc::new(Retries::default());
        let shutdown = CancellationToken::new();
        let (r, s) = (retries.clone(), shutdown.clone());
        let waiter = tokio::spawn(async move {
            let mut attempt = 20;
            let t = tokio::time::Instant::now();
            (r.wait(&mut attempt, CAP, &s).await, t.elapsed())
        });
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            retries.succeeded(0);
        }
        let (woken, waited) = waiter.await.unwrap();
        assert_eq!(woken, Woken::Elapsed);
        assert!(waited >= CAP / 2, "waited only {waited:?}");
        assert_eq!(retries.recoveries(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_a_wait() {
        let retries = Retries::default();
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut attempt = 20;
        assert_eq!(
            retries.wait(&mut attempt, CAP, &shutdown).await,
            Woken::Shutdown
        );
    }
}
