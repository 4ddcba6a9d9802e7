//! Per-carrier circuit breaker (issue 9, item 5; ADR 12, decision 11).
//!
//! A carrier is *down* for new attempts when it has had no bound session for `down_after`,
//! or when its breaker is open: `failures_to_open` attempts in a row failed for reasons of
//! the carrier (never connected, link lost, no answer, a transient refusal). An open breaker
//! lets one attempt through after `open_for` (a probe); its success closes it, its failure
//! opens it again. An attempt on a down carrier is not made: the decision fails over to the
//! next carrier of its route at once, or, with none left, waits on a retry tier, so it
//! never holds a lane's slot while the carrier is away (before, it retried in place, and a
//! down carrier's records could fill a lane for every carrier).

use std::time::{Duration, Instant};

/// When a carrier counts as down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerOptions {
    /// No bound session for this long: down.
    pub down_after: Duration,
    /// Attempts failing in a row for reasons of the carrier that open the breaker.
    pub failures_to_open: u32,
    /// How long an open breaker stays open before a probe.
    pub open_for: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        Self {
            down_after: Duration::from_secs(5),
            failures_to_open: 20,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    unbound_since: Option<Instant>,
    failures: u32,
    open_until: Option<Instant>,
    /// A probe let through at this instant (another is allowed `open_for` later).
    probing: Option<Instant>,
}

/// One carrier's breaker.
#[derive(Debug, Default)]
pub struct Breaker {
    opts: BreakerOptions,
    st: parking_lot::Mutex<State>,
}

/// Whether an attempt may go to the carrier now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Yes.
    Up,
    /// No bound session for `down_after`.
    Unbound,
    /// The breaker is open.
    Open,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(opts: BreakerOptions) -> Self {
        Self {
            opts,
            st: parking_lot::Mutex::default(),
        }
    }

    /// Whether an attempt may go to the carrier at `now`, whose client has `bound` sessions.
    pub fn allow(&self, bound: usize, now: Instant) -> Verdict {
        let mut st = self.st.lock();
        if bound == 0 {
            let since = *st.unbound_since.get_or_insert(now);
            if now.duration_since(since) >= self.opts.down_after {
                return Verdict::Unbound;
            }
        } else {
            st.unbound_since = None;
        }
        match st.open_until {
            Some(until) if now < until => Verdict::Open,
            Some(_) => match st.probing {
                Some(at) if now.duration_since(at) < self.opts.open_for => Verdict::Open,
                _ => {
                    st.probing = Some(now);
                    Verdict::Up
                }
            },
            None => Verdict::Up,
        }
    }

    /// An attempt got an answer from the carrier (accepted, or refused for the message's
    /// own sake): closes the breaker.
    pub fn success(&self) {
        let mut st = self.st.lock();
        st.failures = 0;
        st.open_until = None;
        st.probing = None;
    }

    /// An attempt failed for a reason of the carrier at `now`; returns whether that opened
    /// the breaker.
    pub fn failure(&self, now: Instant) -> bool {
        let mut st = self.st.lock();
        st.failures = st.failures.saturating_add(1);
        let open = st.probing.take().is_some() || st.failures >= self.opts.failures_to_open;
        if open {
            st.open_until = Some(now + self.opts.open_for);
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerOptions {
            down_after: Duration::from_secs(5),
            failures_to_open: 3,
            open_for: Duration::from_secs(30),
        })
    }

    #[test]
    fn a_carrier_without_a_bind_is_down_only_after_the_grace() {
        let b = breaker();
        let t = Instant::now();
        assert_eq!(b.allow(0, t), Verdict::Up, "a reconnect may be under way");
        assert_eq!(b.allow(0, t + Duration::from_secs(4)), Verdict::Up);
        assert_eq!(b.allow(0, t + Duration::from_secs(5)), Verdict::Unbound);
        assert_eq!(b.allow(1, t + Duration::from_secs(6)), Verdict::Up);
        assert_eq!(
            b.allow(0, t + Duration::from_secs(7)),
            Verdict::Up,
            "the grace starts again"
        );
    }

    #[test]
    fn failures_in_a_row_open_it_a_probe_after_the_pause_closes_or_reopens_it() {
        let b = breaker();
        let t = Instant::now();
        assert!(!b.failure(t));
        b.success();
        assert!(!b.failure(t));
        assert!(!b.failure(t));
        assert_eq!(b.allow(1, t), Verdict::Up, "two in a row after a success");
        assert!(b.failure(t), "the third in a row opens it");
        assert_eq!(b.allow(1, t + Duration::from_secs(29)), Verdict::Open);
        let later = t + Duration::from_secs(30);
        assert_eq!(b.allow(1, later), Verdict::Up, "one probe");
        assert_eq!(b.allow(1, later), Verdict::Open, "only one");
        assert!(b.failure(later), "a failed probe opens it again");
        assert_eq!(b.allow(1, later + Duration::from_secs(1)), Verdict::Open);
        let again = later + Duration::from_secs(30);
        assert_eq!(b.allow(1, again), Verdict::Up);
        b.success();
        assert_eq!(b.allow(1, again), Verdict::Up);
        assert_eq!(b.allow(1, again), Verdict::Up, "closed: no probe limit");
    }

    #[test]
    fn a_lost_probe_does_not_keep_it_open_for_ever() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.failure(t);
        }
        let later = t + Duration::from_secs(30);
        assert_eq!(b.allow(1, later), Verdict::Up, "probe, never answered");
        assert_eq!(b.allow(1, later + Duration::from_secs(29)), Verdict::Open);
        assert_eq!(b.allow(1, later + Duration::from_secs(30)), Verdict::Up);
    }
}
