//! How a consumer's records wait between tries of a transient failure (internal).
//!
//! Each record backs off on its own, exponentially from 100 ms to the consumer's cap, with
//! jitter (a random point in the upper half of the step), so records that failed together do
//! not retry together. What that alone costs: when a dependency every record needs (the CQL
//! store, the broker) comes back after an outage of half a minute, the records are waiting
//! out steps of up to the cap, so the consumer would stay idle up to the cap after the
//! dependency returned (ADR 12, decision 20).
//!
//! So the waits share one [`Retries`] per consumer: when a record that had failed goes through
//! (its dependency works again), every record waiting out a step tries again at once, and so
//! does one whose try was under way when that happened. Bounds:
//! - only a success *after* a failure wakes anyone, and each record wakes the others once: a
//!   record that waits for a reason of its own is not woken by the ordinary traffic around it;
//! - a record woken early that fails again waits its whole next step, so a record failing for
//!   a reason of its own is tried early at most every other step, however many others recover.

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
    /// How many times that happened.
    recoveries: AtomicU64,
}

/// One record's retries.
#[derive(Debug)]
pub(crate) struct RetryState {
    /// Tries failed so far.
    attempt: u32,
    /// [`Retries::recoveries`] when this record's current try began.
    seen: u64,
    /// The last wait ended early ([`Woken::Recovered`]).
    woken_early: bool,
    /// This record already told the others its dependency works.
    signalled: bool,
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
    /// The retry state of a record about to be tried for the first time.
    pub(crate) fn start(&self) -> RetryState {
        RetryState {
            attempt: 0,
            seen: self.recoveries.load(Ordering::Acquire),
            woken_early: false,
            signalled: false,
        }
    }

    /// Waits out the backoff step of a record whose try just failed (and counts it), or less
    /// if another record recovered since this try began or recovers meanwhile.
    pub(crate) async fn wait(
        &self,
        st: &mut RetryState,
        max: Duration,
        shutdown: &CancellationToken,
    ) -> Woken {
        let d = step(st.attempt, max);
        st.attempt += 1;
        // Woken early last time and failed again: its own reason, not the dependency's.
        let listen = !st.woken_early;
        // Subscribed before the counter is read: a recovery between the two is not missed.
        let notified = self.recovered.notified();
        let woken = if listen && self.recoveries.load(Ordering::Acquire) != st.seen {
            Woken::Recovered
        } else {
            tokio::select! {
                () = tokio::time::sleep(d) => Woken::Elapsed,
                () = notified, if listen => Woken::Recovered,
                () = shutdown.cancelled() => Woken::Shutdown,
            }
        };
        st.seen = self.recoveries.load(Ordering::Acquire);
        st.woken_early = woken == Woken::Recovered;
        woken
    }

    /// A step of the record went through: if it had failed before, its dependency works
    /// again, so every waiting record tries again now (once per record).
    pub(crate) fn succeeded(&self, st: &mut RetryState) {
        if st.attempt > 0 && !st.signalled {
            st.signalled = true;
            self.recoveries.fetch_add(1, Ordering::AcqRel);
            self.recovered.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::task::JoinHandle;
    use tokio::time::Instant;

    use super::*;

    const CAP: Duration = Duration::from_secs(10);

    /// A record that has failed often enough to wait at the cap.
    fn long_failing(retries: &Retries) -> RetryState {
        let mut st = retries.start();
        st.attempt = 20;
        st
    }

    /// A record at the cap that fails `waits` tries in a row: how each wait ended and took,
    /// and its failed tries at the end.
    fn waiting(retries: &Arc<Retries>, waits: usize) -> JoinHandle<(Vec<(Woken, Duration)>, u32)> {
        let r = retries.clone();
        tokio::spawn(async move {
            let mut st = long_failing(&r);
            let mut ends = Vec::new();
            for _ in 0..waits {
                let t = Instant::now();
                let woken = r.wait(&mut st, CAP, &CancellationToken::new()).await;
                ends.push((woken, t.elapsed()));
            }
            (ends, st.attempt)
        })
    }

    /// Another record, which had failed, goes through.
    fn another_recovers(retries: &Retries) {
        let mut other = retries.start();
        other.attempt = 1;
        retries.succeeded(&mut other);
    }

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
        let waiters: Vec<_> = (0..3).map(|_| waiting(&retries, 1)).collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut recovering = retries.start();
        recovering.attempt = 3;
        retries.succeeded(&mut recovering);
        retries.succeeded(&mut recovering); // a later step of the same record: no second wave
        for w in waiters {
            let (ends, attempt) = w.await.unwrap();
            let (woken, waited) = ends[0];
            assert_eq!(woken, Woken::Recovered);
            assert!(waited < Duration::from_secs(1), "waited {waited:?}");
            assert_eq!(attempt, 21, "the failed try is counted");
        }
        assert_eq!(retries.recoveries.load(Ordering::Relaxed), 1);
    }

    /// A recovery while a record's try was still under way (its request timing out against
    /// the node that just came back) sends it round again at once.
    #[tokio::test(start_paused = true)]
    async fn a_recovery_during_a_try_is_not_missed() {
        let retries = Retries::default();
        let mut st = long_failing(&retries);
        another_recovers(&retries); // while `st`'s try runs
        let t = Instant::now();
        let woken = retries.wait(&mut st, CAP, &CancellationToken::new()).await;
        assert_eq!(woken, Woken::Recovered);
        assert!(t.elapsed() < Duration::from_millis(1));
    }

    /// A record that went through at its first try says nothing about anyone's failure: a
    /// record waiting for a reason of its own keeps waiting out its step.
    #[tokio::test(start_paused = true)]
    async fn ordinary_successes_wake_nobody() {
        let retries = Arc::new(Retries::default());
        let waiter = waiting(&retries, 1);
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            retries.succeeded(&mut retries.start());
        }
        let (woken, waited) = waiter.await.unwrap().0[0];
        assert_eq!(woken, Woken::Elapsed);
        assert!(waited >= CAP / 2, "waited only {waited:?}");
        assert_eq!(retries.recoveries.load(Ordering::Relaxed), 0);
    }

    /// Woken early and failing again, a record waits its whole next step, whatever else
    /// recovers meanwhile: it is not tried once per other record's recovery.
    #[tokio::test(start_paused = true)]
    async fn a_record_woken_early_that_fails_again_waits_its_whole_step() {
        let retries = Arc::new(Retries::default());
        let waiter = waiting(&retries, 2);
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            another_recovers(&retries);
        }
        let ends = waiter.await.unwrap().0;
        assert_eq!(ends[0].0, Woken::Recovered);
        assert_eq!(ends[1].0, Woken::Elapsed);
        assert!(ends[1].1 >= CAP / 2, "waited only {:?}", ends[1].1);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_a_wait() {
        let retries = Retries::default();
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut st = long_failing(&retries);
        assert_eq!(retries.wait(&mut st, CAP, &shutdown).await, Woken::Shutdown);
    }
}
