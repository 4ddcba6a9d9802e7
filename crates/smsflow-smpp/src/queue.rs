//! The submit queue shared by the sessions of a carrier: one bounded FIFO per [`Lane`],
//! served by strict priority.
//!
//! - **Strict priority:** [`SubmitQueue::try_pop`] and [`SubmitQueue::pop`] take the oldest
//!   part of the highest non-empty lane, under one lock, so a session never takes a bulk part
//!   while an OTP part is queued.
//! - **Per-lane backpressure:** [`SubmitQueue::push`] waits while *its own* lane holds
//!   `capacity` parts; other lanes are unaffected, so a full bulk lane never holds up an OTP.
//! - **Requeue at the head:** parts a session took but could not write (link lost before the
//!   write, throttled parts left over) go back to the head of their lane in their original
//!   order, ahead of newer parts, without waiting for room: they held a slot before, and the
//!   overflow is bounded by what the sessions can hold (window + TPS wait + throttle retries).
//! - **Close:** at shutdown the queue refuses new parts, wakes blocked callers with their part
//!   back, and [`SubmitQueue::pop`] returns `None` once it is empty.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::lane::Lane;
use crate::metrics::CarrierMetrics;
use crate::session::QueuedSubmit;

/// One bounded FIFO per lane, served highest lane first.
pub(crate) struct SubmitQueue {
    state: Mutex<State>,
    /// Maximum parts waiting in each lane (`submit_queue`); requeued parts may exceed it.
    capacity: usize,
    /// Woken once per queued part, for the sessions waiting for work.
    items: Notify,
    /// Per lane, woken once per part taken, for callers waiting for room in that lane.
    space: [Notify; 3],
    /// Queue depth per lane, set under the lock so the gauge never lags behind.
    depth: [metrics::Gauge; 3],
}

struct State {
    lanes: [VecDeque<QueuedSubmit>; 3],
    closed: bool,
}

impl std::fmt::Debug for SubmitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SubmitQueue")
            .field("capacity", &self.capacity)
            .field("depth", &state.lanes.each_ref().map(VecDeque::len))
            .field("closed", &state.closed)
            .finish_non_exhaustive()
    }
}

impl SubmitQueue {
    pub(crate) fn new(capacity: usize, metrics: &CarrierMetrics) -> Self {
        let depth = Lane::ALL.map(|lane| metrics.queue_depth(lane));
        for gauge in &depth {
            gauge.set(0.0);
        }
        Self {
            state: Mutex::new(State {
                lanes: Default::default(),
                closed: false,
            }),
            capacity,
            items: Notify::new(),
            space: Default::default(),
            depth,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record_depth(&self, state: &State, lane: usize) {
        self.depth[lane].set(state.lanes[lane].len() as f64);
    }

    /// Queues a part at the tail of its lane, waiting while that lane is full. Gives the part
    /// back when the queue is closed (shutdown), also if it closes while waiting.
    /// Cancel-safe: dropping the future while it waits drops the part, never queues it.
    pub(crate) async fn push(&self, item: QueuedSubmit) -> Result<(), QueuedSubmit> {
        let lane = item.lane.index();
        loop {
            // Registered before looking, so a slot freed in between is not missed.
            let mut space = pin!(self.space[lane].notified());
            space.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return Err(item);
                }
                if state.lanes[lane].len() < self.capacity {
                    state.lanes[lane].push_back(item);
                    self.record_depth(&state, lane);
                    drop(state);
                    self.items.notify_one();
                    return Ok(());
                }
            }
            space.await;
        }
    }

    /// Puts parts that were taken but not written back at the head of their lanes, in the
    /// given (original) order and regardless of capacity. Gives them back when closed.
    pub(crate) fn requeue(&self, items: Vec<QueuedSubmit>) -> Result<(), Vec<QueuedSubmit>> {
        if items.is_empty() {
            return Ok(());
        }
        let count = items.len();
        {
            let mut state = self.lock();
            if state.closed {
                return Err(items);
            }
            for item in items.into_iter().rev() {
                state.lanes[item.lane.index()].push_front(item);
            }
            for lane in 0..Lane::ALL.len() {
                self.record_depth(&state, lane);
            }
        }
        for _ in 0..count {
            self.items.notify_one();
        }
        Ok(())
    }

    /// Takes the oldest part of the highest non-empty lane, if any.
    pub(crate) fn try_pop(&self) -> Option<QueuedSubmit> {
        self.take(Lane::ALL.len())
    }

    /// Takes the oldest part of the highest non-empty lane that outranks `lane`, if any.
    pub(crate) fn try_pop_above(&self, lane: Lane) -> Option<QueuedSubmit> {
        self.take(lane.index())
    }

    /// Waits for a part and takes it (highest lane first); `None` once closed and empty.
    /// Cancel-safe: a part is only taken when the future completes.
    pub(crate) async fn pop(&self) -> Option<QueuedSubmit> {
        loop {
            let mut queued = pin!(self.items.notified());
            queued.as_mut().enable();
            if let Some(item) = self.try_pop() {
                return Some(item);
            }
            if self.lock().closed {
                return None;
            }
            queued.await;
        }
    }

    /// Takes the head of the first non-empty lane among the `lanes` highest.
    fn take(&self, lanes: usize) -> Option<QueuedSubmit> {
        let mut state = self.lock();
        let lane = (0..lanes).find(|&l| !state.lanes[l].is_empty())?;
        let item = state.lanes[lane].pop_front();
        self.record_depth(&state, lane);
        drop(state);
        self.space[lane].notify_one();
        item
    }

    /// Parts waiting in `lane`.
    pub(crate) fn depth(&self, lane: Lane) -> usize {
        self.lock().lanes[lane.index()].len()
    }

    /// Refuses new parts from now on and wakes every waiting caller and session.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.items.notify_waiters();
        for space in &self.space {
            space.notify_waiters();
        }
    }

    /// Takes every queued part, highest lane first.
    pub(crate) fn take_all(&self) -> Vec<QueuedSubmit> {
        let mut state = self.lock();
        let mut all = Vec::new();
        for lane in 0..Lane::ALL.len() {
            all.extend(state.lanes[lane].drain(..));
            self.record_depth(&state, lane);
        }
        drop(state);
        for space in &self.space {
            space.notify_waiters();
        }
        all
    }
}

/// A queued part tagged with `tag` (as its sequence number) in `lane`, for tests of the
/// queue and of the link's retry order.
#[cfg(test)]
pub(crate) fn test_part(lane: Lane, tag: u32) -> QueuedSubmit {
    use rusmpp::{Command, CommandStatus, Pdu};
    let (reply, _) = tokio::sync::oneshot::channel();
    QueuedSubmit {
        command: Command::new(CommandStatus::EsmeRok, tag, Pdu::EnquireLink),
        reply,
        throttled: 0,
        write_by: None,
        lane,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::FutureExt;

    use super::*;

    fn queue(capacity: usize) -> SubmitQueue {
        SubmitQueue::new(capacity, &CarrierMetrics::new("test"))
    }

    use super::test_part as part;

    fn tag(item: &QueuedSubmit) -> u32 {
        item.command.sequence_number
    }

    fn push_now(q: &SubmitQueue, item: QueuedSubmit) {
        assert!(
            matches!(q.push(item).now_or_never(), Some(Ok(()))),
            "push did not complete at once"
        );
    }

    fn drain_tags(q: &SubmitQueue) -> Vec<u32> {
        std::iter::from_fn(|| q.try_pop())
            .map(|i| tag(&i))
            .collect()
    }

    #[test]
    fn highest_lane_first_fifo_within_a_lane() {
        let q = queue(10);
        push_now(&q, part(Lane::Bulk, 1));
        push_now(&q, part(Lane::Bulk, 2));
        push_now(&q, part(Lane::Transactional, 3));
        push_now(&q, part(Lane::Otp, 4));
        push_now(&q, part(Lane::Transactional, 5));
        push_now(&q, part(Lane::Otp, 6));
        assert_eq!(q.depth(Lane::Bulk), 2);
        assert_eq!(drain_tags(&q), vec![4, 6, 3, 5, 1, 2]);
        assert_eq!(q.depth(Lane::Otp), 0);
    }

    #[test]
    fn pop_above_only_takes_higher_lanes() {
        let q = queue(10);
        push_now(&q, part(Lane::Bulk, 1));
        push_now(&q, part(Lane::Transactional, 2));
        assert!(q.try_pop_above(Lane::Transactional).is_none());
        assert!(q.try_pop_above(Lane::Otp).is_none());
        assert_eq!(q.try_pop_above(Lane::Bulk).map(|i| tag(&i)), Some(2));
        assert!(q.try_pop_above(Lane::Bulk).is_none());
        assert_eq!(q.try_pop().map(|i| tag(&i)), Some(1));
    }

    #[test]
    fn a_full_lane_blocks_only_itself() {
        let q = queue(2);
        push_now(&q, part(Lane::Bulk, 1));
        push_now(&q, part(Lane::Bulk, 2));
        let mut blocked = Box::pin(q.push(part(Lane::Bulk, 3)));
        assert!((&mut blocked).now_or_never().is_none(), "bulk lane is full");
        // Other lanes still take parts at once.
        push_now(&q, part(Lane::Otp, 4));
        push_now(&q, part(Lane::Transactional, 5));
        // The OTP and the transactional part leave first; no bulk slot is freed by them.
        assert_eq!(q.try_pop().map(|i| tag(&i)), Some(4));
        assert_eq!(q.try_pop().map(|i| tag(&i)), Some(5));
        assert!(
            (&mut blocked).now_or_never().is_none(),
            "still no bulk room"
        );
        assert_eq!(q.try_pop().map(|i| tag(&i)), Some(1));
        assert!(matches!((&mut blocked).now_or_never(), Some(Ok(()))));
        assert_eq!(drain_tags(&q), vec![2, 3]);
    }

    #[test]
    fn requeued_parts_go_to_the_head_in_order_beyond_capacity() {
        let q = queue(2);
        push_now(&q, part(Lane::Bulk, 3));
        push_now(&q, part(Lane::Bulk, 4));
        q.requeue(vec![
            part(Lane::Bulk, 1),
            part(Lane::Otp, 10),
            part(Lane::Bulk, 2),
        ])
        .map_err(|_| "closed")
        .expect("requeue");
        assert_eq!(q.depth(Lane::Bulk), 4);
        assert_eq!(drain_tags(&q), vec![10, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn pop_waits_for_a_part_and_close_ends_it() {
        let q = Arc::new(queue(4));
        let waiting = {
            let q = Arc::clone(&q);
            tokio::spawn(async move { q.pop().await.map(|i| tag(&i)) })
        };
        tokio::task::yield_now().await;
        q.push(part(Lane::Bulk, 7))
            .await
            .map_err(|_| "closed")
            .expect("push");
        assert_eq!(waiting.await.expect("join"), Some(7));

        let waiting = {
            let q = Arc::clone(&q);
            tokio::spawn(async move { q.pop().await.map(|i| tag(&i)) })
        };
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(waiting.await.expect("join"), None);
    }

    #[tokio::test]
    async fn close_gives_blocked_and_later_parts_back() {
        let q = Arc::new(queue(1));
        q.push(part(Lane::Bulk, 1))
            .await
            .map_err(|_| "closed")
            .expect("push");
        let blocked = {
            let q = Arc::clone(&q);
            tokio::spawn(async move { q.push(part(Lane::Bulk, 2)).await.err().map(|i| tag(&i)) })
        };
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(blocked.await.expect("join"), Some(2));
        assert!(q.push(part(Lane::Otp, 3)).await.is_err());
        assert!(q.requeue(vec![part(Lane::Otp, 4)]).is_err());
        // What was queued before the close can still be taken (and answered).
        assert_eq!(q.take_all().iter().map(tag).collect::<Vec<_>>(), vec![1]);
        assert!(q.pop().await.is_none());
    }
}
