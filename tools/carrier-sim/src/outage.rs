//! Carrier outages per account: while one runs, the SMSC refuses binds of that system_id
//! (its open sessions are closed when the outage starts, see [`crate::sim::Shared::start_outage`]).
//!
//! This module is the bookkeeping only: which system_ids are down until when. Time is passed
//! in (`now`), so the rules are plain functions of their inputs; nothing expires by itself,
//! an outage is simply over once `now` reaches its end.
//!
//! Two kinds of outage overlap: one of a named system_id, and one of every account (a
//! request without a system_id). A system_id is down while either runs. Ending the outage
//! of a named system_id (duration 0) leaves an all-accounts outage running; ending the
//! all-accounts outage ends every outage.

use std::{collections::HashMap, time::Duration};

use tokio::time::Instant;

/// Stand-in for "never ends" when `now + duration` overflows `Instant` (about 30 years).
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// Which accounts an outage applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutageTarget<'a> {
    /// Every account, configured or not.
    All,
    /// One system_id.
    Account(&'a str),
}

/// The outages that were started, with their ends.
#[derive(Debug, Default)]
pub(crate) struct Outages {
    /// End of the all-accounts outage, if one was started.
    all_until: Option<Instant>,
    /// End of each named system_id's own outage.
    by_account: HashMap<String, Instant>,
}

impl Outages {
    /// Starts (or replaces) the outage of `target` for `duration` from `now`; a zero duration
    /// ends it instead. Replacing means a shorter second request shortens the outage.
    pub(crate) fn set(&mut self, target: OutageTarget<'_>, now: Instant, duration: Duration) {
        self.by_account.retain(|_, until| *until > now);
        let until =
            (!duration.is_zero()).then(|| now.checked_add(duration).unwrap_or(now + FOREVER));
        match (target, until) {
            (OutageTarget::All, Some(until)) => self.all_until = Some(until),
            (OutageTarget::All, None) => {
                self.all_until = None;
                self.by_account.clear();
            }
            (OutageTarget::Account(id), Some(until)) => {
                self.by_account.insert(id.to_string(), until);
            }
            (OutageTarget::Account(id), None) => {
                self.by_account.remove(id);
            }
        }
    }

    /// Whether `system_id` is down at `now`.
    pub(crate) fn is_down(&self, system_id: &str, now: Instant) -> bool {
        self.all_until.is_some_and(|until| now < until)
            || self
                .by_account
                .get(system_id)
                .is_some_and(|until| now < *until)
    }

    /// Whether an all-accounts outage runs at `now`.
    pub(crate) fn all_down(&self, now: Instant) -> bool {
        self.all_until.is_some_and(|until| now < until)
    }

    /// The system_ids named in an outage request (running or over but not yet pruned).
    pub(crate) fn named(&self) -> impl Iterator<Item = &str> {
        self.by_account.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn named_outage_affects_only_its_account_and_expires() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.set(OutageTarget::Account("a"), t0, 10 * SEC);
        assert!(o.is_down("a", t0));
        assert!(o.is_down("a", t0 + 9 * SEC));
        assert!(!o.is_down("b", t0), "other accounts are unaffected");
        assert!(!o.is_down("a", t0 + 10 * SEC), "over at its end");
    }

    #[test]
    fn zero_duration_ends_early_and_replacing_shortens() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.set(OutageTarget::Account("a"), t0, 10 * SEC);
        o.set(OutageTarget::Account("a"), t0, SEC);
        assert!(
            !o.is_down("a", t0 + 2 * SEC),
            "the second request replaced the first"
        );
        o.set(OutageTarget::Account("a"), t0, 10 * SEC);
        o.set(OutageTarget::Account("a"), t0 + SEC, Duration::ZERO);
        assert!(!o.is_down("a", t0 + SEC));
    }

    #[test]
    fn all_accounts_outage_overlaps_named_ones() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.set(OutageTarget::Account("a"), t0, 10 * SEC);
        o.set(OutageTarget::All, t0, 5 * SEC);
        assert!(o.is_down("anyone", t0) && o.all_down(t0));
        o.set(OutageTarget::Account("b"), t0, Duration::ZERO);
        assert!(
            o.is_down("b", t0),
            "ending b's own outage leaves the all-accounts one"
        );
        assert!(
            o.is_down("a", t0 + 7 * SEC),
            "a's own outage outlasts the all-accounts one"
        );
        assert!(!o.is_down("b", t0 + 7 * SEC));
        o.set(OutageTarget::All, t0 + 8 * SEC, Duration::ZERO);
        assert!(
            !o.is_down("a", t0 + 8 * SEC),
            "ending all ends every outage"
        );
        assert_eq!(o.named().count(), 0);
    }

    #[test]
    fn huge_duration_does_not_overflow() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.set(OutageTarget::Account("a"), t0, Duration::MAX);
        assert!(o.is_down("a", t0 + 1000 * SEC));
    }
}
