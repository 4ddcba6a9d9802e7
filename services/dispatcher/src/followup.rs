//! What follows a failed attempt: retry the same carrier after a delay tier, fail over to the
//! next carrier, or give up (the message is then FAILED). A pure rule, property-tested.

use std::time::Duration;

use smsflow_events::topics::RETRY_TIERS;
use smsflow_events::{CarrierId, ErrorClass, RoutingDecided};

/// The next attempt, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Same carrier, after `delay`, via `sms.retry.<tier>`.
    Retry {
        /// Retry tier name.
        tier: &'static str,
        /// Delay.
        delay: Duration,
    },
    /// Next carrier of the failover list, at once, via the lane topic.
    Failover {
        /// The carrier to try.
        carrier: CarrierId,
        /// Carriers after it.
        rest: Vec<CarrierId>,
    },
}

/// How a failure is classed for planning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureKind {
    /// Class of the failure.
    pub class: ErrorClass,
    /// For `OutcomeUnknown`: whether this message type may be resubmitted.
    pub resubmit_unknown: bool,
    /// The carrier was down (no bind, or its breaker open) and nothing was sent: fail over
    /// at once rather than wait for it, else wait on a retry tier.
    pub carrier_down: bool,
}

/// Plans what follows `failed` (attempt `failed.attempt`) given `max_attempts`; `valid_for`
/// is how long the message stays valid (`None`: no end).
pub fn plan(
    failed: &RoutingDecided,
    kind: FailureKind,
    max_attempts: i32,
    valid_for: Option<Duration>,
) -> Option<Next> {
    let failover = || {
        failed
            .failover
            .split_first()
            .map(|(c, rest)| Next::Failover {
                carrier: c.clone(),
                rest: rest.to_vec(),
            })
    };
    let retry = || {
        let mut idx = usize::try_from(failed.attempt - 1)
            .unwrap_or(0)
            .min(RETRY_TIERS.len() - 1);
        // A tier ending past the validity only ends the message `expired` unsent (an OTP,
        // valid 10 minutes, on the 10-minute tier after three refusals): the longest tier
        // ending before it goes instead, the first if none does.
        while idx > 0 && valid_for.is_some_and(|v| RETRY_TIERS[idx].1 >= v) {
            idx -= 1;
        }
        let (tier, delay) = RETRY_TIERS[idx];
        Next::Retry { tier, delay }
    };
    if kind.carrier_down && kind.class == ErrorClass::Transient {
        return failover().or_else(|| (failed.attempt < max_attempts).then(retry));
    }
    match kind.class {
        ErrorClass::Permanent => failover(),
        ErrorClass::OutcomeUnknown if !kind.resubmit_unknown => None,
        ErrorClass::Transient | ErrorClass::OutcomeUnknown => {
            if failed.attempt < max_attempts {
                Some(retry())
            } else {
                failover()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use smsflow_events::*;

    /// A transient failure, of a type that does not resubmit unknown outcomes.
    const TRANSIENT: FailureKind = FailureKind {
        class: ErrorClass::Transient,
        resubmit_unknown: false,
        carrier_down: false,
    };

    fn decision(attempt: i32, failover: Vec<CarrierId>) -> RoutingDecided {
        let mut d =
            smsflow_events::arbitrary::sample_decision("+447700900123", MessageType::Transactional);
        d.attempt = attempt;
        d.failover = failover;
        d
    }

    fn carriers(n: usize) -> Vec<CarrierId> {
        (0..n)
            .map(|i| CarrierId::parse(format!("c{i}")).unwrap())
            .collect()
    }

    #[test]
    fn transient_failures_back_off_through_the_tiers() {
        let k = TRANSIENT;
        assert_eq!(
            plan(&decision(1, vec![]), k, 4, None),
            Some(Next::Retry {
                tier: "5s",
                delay: Duration::from_secs(5)
            })
        );
        assert_eq!(
            plan(&decision(2, vec![]), k, 4, None),
            Some(Next::Retry {
                tier: "1m",
                delay: Duration::from_secs(60)
            })
        );
        assert_eq!(
            plan(&decision(3, vec![]), k, 4, None),
            Some(Next::Retry {
                tier: "10m",
                delay: Duration::from_secs(600)
            })
        );
        assert_eq!(plan(&decision(4, vec![]), k, 4, None), None);
    }

    /// A retry waits on the longest tier that ends before the message's validity does: an
    /// OTP refused three times goes again after a minute, not after its 10 minutes ended.
    #[test]
    fn a_retry_tier_ends_before_the_validity() {
        let k = TRANSIENT;
        let tier = |attempt, valid_secs| match plan(
            &decision(attempt, vec![]),
            k,
            9,
            Some(Duration::from_secs(valid_secs)),
        ) {
            Some(Next::Retry { tier, .. }) => tier,
            other => panic!("{other:?}"),
        };
        assert_eq!(tier(3, 540), "1m", "an OTP with 9 minutes left");
        assert_eq!(tier(3, 601), "10m");
        assert_eq!(tier(3, 50), "5s");
        assert_eq!(tier(2, 50), "5s");
        assert_eq!(tier(3, 3), "5s", "none ends before it: the first");
        assert_eq!(
            tier(1, 3600),
            "5s",
            "never longer than the attempt's own tier"
        );
    }

    #[test]
    fn permanent_failures_fail_over_or_give_up() {
        let k = FailureKind {
            class: ErrorClass::Permanent,
            resubmit_unknown: true,
            carrier_down: false,
        };
        let fo = carriers(2);
        assert_eq!(
            plan(&decision(1, fo.clone()), k, 4, None),
            Some(Next::Failover {
                carrier: fo[0].clone(),
                rest: vec![fo[1].clone()]
            })
        );
        assert_eq!(plan(&decision(1, vec![]), k, 4, None), None);
    }

    #[test]
    fn a_down_carrier_fails_over_at_once_else_waits_on_a_tier() {
        let k = FailureKind {
            carrier_down: true,
            ..TRANSIENT
        };
        let fo = carriers(2);
        assert_eq!(
            plan(&decision(1, fo.clone()), k, 4, None),
            Some(Next::Failover {
                carrier: fo[0].clone(),
                rest: vec![fo[1].clone()]
            }),
            "not after the retries: at once"
        );
        assert_eq!(
            plan(&decision(2, vec![]), k, 4, None),
            Some(Next::Retry {
                tier: "1m",
                delay: Duration::from_secs(60)
            })
        );
        assert_eq!(plan(&decision(4, vec![]), k, 4, None), None);
    }

    proptest! {
        /// An unknown outcome is never followed by another submit unless the policy allows it.
        #[test]
        fn unknown_outcomes_follow_the_policy(attempt in 1i32..10, n in 0usize..3, max in 1i32..6, resubmit: bool) {
            let k = FailureKind { class: ErrorClass::OutcomeUnknown, resubmit_unknown: resubmit, carrier_down: false };
            let d = decision(attempt, carriers(n));
            let p = plan(&d, k, max, None);
            if resubmit {
                // Allowed: planned like a transient failure (retry, then failover).
                let transient = FailureKind { class: ErrorClass::Transient, resubmit_unknown: true, carrier_down: false };
                prop_assert_eq!(p, plan(&d, transient, max, None));
            } else {
                prop_assert_eq!(p, None);
            }
        }

        /// Retries stop at `max_attempts`; failover always consumes the head of the list.
        #[test]
        fn retries_are_bounded(attempt in 1i32..10, n in 0usize..3, max in 1i32..6, class in proptest::sample::select(ErrorClass::ALL), carrier_down: bool) {
            let fo = carriers(n);
            let k = FailureKind { class, resubmit_unknown: true, carrier_down };
            match plan(&decision(attempt, fo.clone()), k, max, None) {
                Some(Next::Retry { .. }) => prop_assert!(attempt < max && class != ErrorClass::Permanent),
                Some(Next::Failover { carrier, rest }) => {
                    prop_assert_eq!(&carrier, &fo[0]);
                    prop_assert_eq!(rest, fo[1..].to_vec());
                }
                None => prop_assert!(fo.is_empty() && (class == ErrorClass::Permanent || attempt >= max)),
            }
        }
    }
}
