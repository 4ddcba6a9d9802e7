//! A carrier's submit slots, taken before an attempt's write-ahead (ADR 12, decision 23).
//!
//! The write-ahead (`AttemptStarted` and the STARTED row) says "the carrier may have this":
//! a process that dies after it ends the message `unknown`. Written before a part waits for a
//! window slot on the link, it also covered the parts still queued behind the window, which
//! the carrier never saw: after a rebalance, with hundreds of decisions in flight against a
//! window of 100, a killed dispatcher left such messages `unknown`. So an attempt whose
//! unknown outcome is not resubmitted first takes as many slots as it has parts, of
//! `write_ahead_windows × sessions × window` (config; 2 by default: one window's worth held
//! through the write-ahead's latency cost throughput), and only then writes ahead and
//! submits: what waits for a slot has written nothing, and what holds one is written ahead,
//! on the link, or answered.
//!
//! Strict priority: a freed slot goes to the oldest waiter of the highest lane, and a lower
//! lane never jumps a higher lane's head (transactional before bulk, as on the link).

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use smsflow_events::{CarrierId, Lane};
use smsflow_smpp::SmppClient;
use tokio::sync::oneshot;

/// The slots of each carrier: `windows` times what its submit sessions' windows hold
/// together (none: no slots).
pub fn of(carriers: &HashMap<CarrierId, SmppClient>, windows: u32) -> HashMap<CarrierId, Slots> {
    if windows == 0 {
        return HashMap::new();
    }
    carriers
        .iter()
        .map(|(id, c)| {
            let slots =
                u64::from(windows) * u64::from(c.config().sessions) * u64::from(c.config().window);
            (
                id.clone(),
                Slots::new(usize::try_from(slots).unwrap_or(usize::MAX)),
            )
        })
        .collect()
}

/// The slots of one carrier.
#[derive(Debug)]
pub struct Slots {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    free: usize,
    /// Waiters by lane, highest first: (slots wanted, wake-up).
    waiting: [VecDeque<(usize, oneshot::Sender<()>)>; 3],
}

/// Slots held; given back when dropped.
#[derive(Debug)]
pub struct SlotPermit<'a> {
    slots: &'a Slots,
    n: usize,
}

impl Drop for SlotPermit<'_> {
    fn drop(&mut self) {
        self.slots.release(self.n);
    }
}

/// Index of a lane's queue: highest priority first.
fn rank(lane: Lane) -> usize {
    match lane {
        Lane::Otp => 0,
        Lane::Transactional => 1,
        Lane::Bulk => 2,
    }
}

impl Slots {
    /// `capacity` slots (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            inner: Mutex::new(Inner {
                free: capacity,
                waiting: Default::default(),
            }),
        }
    }

    /// Slots free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.inner.lock().free
    }

    /// Waits for `n` slots (at most the capacity) for `lane`. Cancel-safe: dropped while
    /// waiting, it takes nothing, and slots handed to it meanwhile go back.
    pub async fn acquire(&self, lane: Lane, n: usize) -> SlotPermit<'_> {
        let n = n.clamp(1, self.capacity);
        let at = rank(lane);
        let rx = {
            let mut inner = self.inner.lock();
            let ahead = inner.waiting[..=at].iter().any(|q| !q.is_empty());
            if !ahead && inner.free >= n {
                inner.free -= n;
                return self.permit(n);
            }
            let (tx, rx) = oneshot::channel();
            inner.waiting[at].push_back((n, tx));
            rx
        };
        // Dropped before it took them, the guard gives back slots handed over meanwhile.
        let mut wait = Wait {
            slots: self,
            rx: Some(rx),
            n,
        };
        if let Some(rx) = wait.rx.as_mut() {
            // The sender stays queued until it hands the slots over; `hand_on` drops it
            // unsent only once this receiver closed, which only `Wait::drop` does.
            let _ = rx.await;
        }
        wait.rx = None;
        self.permit(n)
    }

    fn permit(&self, n: usize) -> SlotPermit<'_> {
        SlotPermit { slots: self, n }
    }

    /// Gives `n` slots back and hands them on, highest lane first.
    fn release(&self, n: usize) {
        let mut inner = self.inner.lock();
        inner.free += n;
        Self::hand_on(&mut inner);
    }

    fn hand_on(inner: &mut Inner) {
        while let Some(at) = inner.waiting.iter().position(|q| !q.is_empty()) {
            let wanted = inner.waiting[at].front().map_or(0, |(n, _)| *n);
            if wanted > inner.free {
                // Strict priority: nothing below waits past this head.
                return;
            }
            let Some((n, tx)) = inner.waiting[at].pop_front() else {
                return;
            };
            inner.free -= n;
            if tx.send(()).is_err() {
                // Its waiter was dropped: the slots stay free.
                inner.free += n;
            }
        }
    }
}

/// A waiter in the queue; gives back what it was handed if dropped before taking it.
struct Wait<'a> {
    slots: &'a Slots,
    rx: Option<oneshot::Receiver<()>>,
    n: usize,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        // Under the lock, so no hand-over can slip in between the close and the check.
        let mut inner = self.slots.inner.lock();
        rx.close();
        if rx.try_recv().is_ok() {
            inner.free += self.n;
            Slots::hand_on(&mut inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use super::*;

    /// `slots.acquire(lane, n)`, polled once: it must wait (it is queued, in order).
    async fn queued(
        slots: &Slots,
        lane: Lane,
        n: usize,
    ) -> Pin<Box<impl Future<Output = SlotPermit<'_>>>> {
        let mut f = Box::pin(slots.acquire(lane, n));
        assert!(futures::poll!(&mut f).is_pending(), "{lane:?} waits");
        f
    }

    fn ready<F: Future>(f: F) -> Option<F::Output> {
        futures::FutureExt::now_or_never(f)
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_highest_lane_first() {
        let slots = Slots::new(1);
        let held = slots.acquire(Lane::Bulk, 1).await;
        let mut bulk = queued(&slots, Lane::Bulk, 1).await;
        let tx = queued(&slots, Lane::Transactional, 1).await;
        drop(held);
        let tx = ready(tx).expect("the transactional waiter gets the slot");
        assert!(
            futures::poll!(&mut bulk).is_pending(),
            "bulk waited first but ranks lower"
        );
        drop(tx);
        drop(ready(bulk).expect("then bulk gets it"));
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn a_lower_lane_does_not_jump_a_waiting_higher_one() {
        let slots = Slots::new(2);
        let one = slots.acquire(Lane::Bulk, 1).await;
        // Transactional wants two: it waits, and bulk may not take the free one past it.
        let tx = queued(&slots, Lane::Transactional, 2).await;
        assert!(ready(slots.acquire(Lane::Bulk, 1)).is_none());
        drop(one);
        let both = ready(tx).expect("transactional gets both");
        assert_eq!(slots.free(), 0);
        drop(both);
        assert_eq!(slots.free(), 2);
    }

    #[tokio::test]
    async fn a_dropped_waiter_takes_nothing_and_blocks_no_one() {
        let slots = Slots::new(1);
        let held = slots.acquire(Lane::Bulk, 1).await;
        // Given up while waiting, before any slot was handed to it.
        drop(queued(&slots, Lane::Transactional, 1).await);
        let next = queued(&slots, Lane::Bulk, 1).await;
        drop(held);
        drop(ready(next).expect("the next waiter is served"));
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn slots_handed_to_a_waiter_that_gave_up_before_waking_go_back() {
        let slots = Slots::new(1);
        let held = slots.acquire(Lane::Bulk, 1).await;
        let wait = queued(&slots, Lane::Transactional, 1).await;
        // Handed over, then dropped before it ran again.
        drop(held);
        drop(wait);
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn more_parts_than_slots_take_them_all() {
        let slots = Slots::new(3);
        let all = ready(slots.acquire(Lane::Bulk, 7)).expect("clamped to the capacity");
        assert_eq!(slots.free(), 0);
        drop(all);
        assert_eq!(slots.free(), 3);
    }
}
