//! The scenario engine: turns the [`Scenario`] into per-submit decisions (drop, throttle,
//! fail, accept with a latency and a receipt plan).
//!
//! Decision `n` uses an RNG seeded from `(seed, n)`, so with one session the whole run is
//! reproducible; with many sessions only the interleaving varies.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;
use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::{
    config::SimConfig,
    ids::{CarrierId, IdGenerator},
    scenario::{Latency, ReceiptState, Scenario},
};

/// ESME_RTHROTTLED.
pub(crate) const STATUS_THROTTLED: u32 = 0x58;
/// ESME_RMSGQFUL.
pub(crate) const STATUS_MSG_Q_FULL: u32 = 0x14;

/// What to do with one submit.
#[derive(Debug)]
pub(crate) enum SubmitDecision {
    /// Close the connection without answering.
    Drop,
    /// Answer with an error status.
    Reject {
        /// command_status.
        status: u32,
        /// Whether it is a throttling answer (0x58 / 0x14).
        throttled: bool,
    },
    /// Accept.
    Accept {
        /// Carrier id.
        id: CarrierId,
        /// Delay before the response.
        latency: Duration,
        /// The receipt this message will get (if asked for).
        receipt: ReceiptPlan,
    },
}

/// Planned receipt of an accepted submit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReceiptPlan {
    /// Final state.
    pub state: ReceiptState,
    /// `err:` value.
    pub error_code: u16,
    /// Delay after acceptance.
    pub delay: Duration,
    /// Whether a second copy is sent.
    pub duplicate: bool,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per system_id.
#[derive(Debug, Default)]
struct Throttle {
    buckets: DashMap<String, Mutex<Bucket>>,
}

impl Throttle {
    /// Takes a token; false when the cap is exceeded.
    fn admit(&self, system_id: &str, tps: u32, burst: u32) -> bool {
        if tps == 0 {
            return true;
        }
        let burst = f64::from(if burst == 0 { tps } else { burst });
        let now = Instant::now();
        let take = |b: &mut Bucket| {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * f64::from(tps)).min(burst);
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                true
            } else {
                false
            }
        };
        if let Some(b) = self.buckets.get(system_id) {
            let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
            return take(&mut b);
        }
        let entry = self
            .buckets
            .entry(system_id.to_string())
            .or_insert_with(|| {
                Mutex::new(Bucket {
                    tokens: burst,
                    last: now,
                })
            });
        let mut b = entry.lock().unwrap_or_else(|e| e.into_inner());
        take(&mut b)
    }
}

/// Shared decision maker.
#[derive(Debug)]
pub(crate) struct Engine {
    scenario: Scenario,
    /// Per-system_id cap overrides from the accounts.
    tps_overrides: Vec<(String, u32)>,
    ids: IdGenerator,
    throttle: Throttle,
    decisions: AtomicU64,
    drops: AtomicU64,
}

impl Engine {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            scenario: config.scenario.clone(),
            tps_overrides: config
                .accounts
                .iter()
                .filter_map(|a| a.tps.map(|t| (a.system_id.clone(), t)))
                .collect(),
            ids: IdGenerator::new(&config.scenario.ids),
            throttle: Throttle::default(),
            decisions: AtomicU64::new(0),
            drops: AtomicU64::new(0),
        }
    }

    /// A fresh RNG for the next decision.
    fn next_rng(&self) -> SmallRng {
        let n = self.decisions.fetch_add(1, Ordering::Relaxed);
        SmallRng::seed_from_u64(self.scenario.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn tps_for(&self, system_id: &str) -> u32 {
        self.tps_overrides
            .iter()
            .find(|(s, _)| s == system_id)
            .map_or(self.scenario.throttle.tps, |(_, t)| *t)
    }

    fn take_drop(&self) -> bool {
        let max = self.scenario.connection.max_drops;
        if max == 0 {
            self.drops.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.drops
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                (d < max).then_some(d + 1)
            })
            .is_ok()
    }

    /// Decides the fate of a submit; `session_submits` counts the submits of the session
    /// including this one. `can_drop` is false for HTTP.
    pub(crate) fn decide_submit(
        &self,
        system_id: &str,
        session_submits: u64,
        can_drop: bool,
    ) -> SubmitDecision {
        let mut rng = self.next_rng();
        let conn = &self.scenario.connection;
        let drop_roll: f64 = rng.random();
        if can_drop
            && ((conn.drop_after_submits > 0 && session_submits == conn.drop_after_submits)
                || drop_roll < conn.drop_probability)
            && self.take_drop()
        {
            return SubmitDecision::Drop;
        }
        let t = &self.scenario.throttle;
        let q_roll: f64 = rng.random();
        if !self
            .throttle
            .admit(system_id, self.tps_for(system_id), t.burst)
        {
            let status = if q_roll < t.msg_q_full_share {
                STATUS_MSG_Q_FULL
            } else {
                STATUS_THROTTLED
            };
            return SubmitDecision::Reject {
                status,
                throttled: true,
            };
        }
        let mut roll: f64 = rng.random();
        for rule in &self.scenario.submit.errors {
            if roll < rule.probability {
                return SubmitDecision::Reject {
                    status: rule.status,
                    throttled: rule.status == STATUS_THROTTLED || rule.status == STATUS_MSG_Q_FULL,
                };
            }
            roll -= rule.probability;
        }
        let latency = sample(&self.scenario.submit.latency, &mut rng);
        let receipt = self.plan_receipt(&mut rng);
        SubmitDecision::Accept {
            id: self.ids.allocate(),
            latency,
            receipt,
        }
    }

    fn plan_receipt(&self, rng: &mut SmallRng) -> ReceiptPlan {
        let r = &self.scenario.receipts;
        let total: f64 = r.outcomes.iter().map(|o| o.weight).sum();
        let mut roll = rng.random::<f64>() * total;
        let mut chosen = &r.outcomes[r.outcomes.len() - 1];
        for o in &r.outcomes {
            if roll < o.weight {
                chosen = o;
                break;
            }
            roll -= o.weight;
        }
        let delay = sample(&r.delay, rng);
        let duplicate = rng.random::<f64>() < r.duplicate_probability;
        ReceiptPlan {
            state: chosen.state,
            error_code: chosen.error_code,
            delay,
            duplicate,
        }
    }
}

/// Draws a delay from a distribution.
pub(crate) fn sample(latency: &Latency, rng: &mut impl Rng) -> Duration {
    let ms = match *latency {
        Latency::Fixed { ms } => ms as f64,
        Latency::Uniform { min_ms, max_ms } => rng.random_range(min_ms..=max_ms) as f64,
        Latency::Normal {
            mean_ms,
            stddev_ms,
            min_ms,
            max_ms,
        } => {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (mean_ms + z * stddev_ms).clamp(min_ms as f64, max_ms as f64)
        }
    };
    Duration::from_micros((ms * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ErrorRule, OutcomeRule};

    fn engine(f: impl FnOnce(&mut Scenario)) -> Engine {
        let mut c = SimConfig::default();
        f(&mut c.scenario);
        Engine::new(&c)
    }

    #[test]
    fn happy_by_default() {
        let e = engine(|_| {});
        for i in 1..100 {
            match e.decide_submit("a", i, true) {
                SubmitDecision::Accept {
                    latency, receipt, ..
                } => {
                    assert_eq!(latency, Duration::ZERO);
                    assert_eq!(receipt.state, ReceiptState::Delivrd);
                    assert_eq!(receipt.delay, Duration::from_millis(100));
                    assert!(!receipt.duplicate);
                }
                d => panic!("unexpected {d:?}"),
            }
        }
    }

    #[test]
    fn throttles_above_cap() {
        let e = engine(|s| s.throttle.tps = 10);
        let accepted = (1..=50)
            .filter(|&i| matches!(e.decide_submit("a", i, true), SubmitDecision::Accept { .. }))
            .count();
        assert!((10..=11).contains(&accepted), "accepted {accepted}");
        // another system_id has its own bucket
        assert!(matches!(
            e.decide_submit("b", 1, true),
            SubmitDecision::Accept { .. }
        ));
    }

    #[test]
    fn drops_on_nth_submit_with_limit() {
        let e = engine(|s| {
            s.connection.drop_after_submits = 3;
            s.connection.max_drops = 1;
        });
        assert!(matches!(
            e.decide_submit("a", 3, true),
            SubmitDecision::Drop
        ));
        assert!(matches!(
            e.decide_submit("a", 3, true),
            SubmitDecision::Accept { .. }
        ));
        assert!(!matches!(
            e.decide_submit("a", 3, false),
            SubmitDecision::Drop
        ));
    }

    #[test]
    fn error_mix_and_outcomes_follow_probabilities() {
        let e = engine(|s| {
            s.submit.errors = vec![ErrorRule {
                status: 0x08,
                probability: 0.3,
            }];
            s.receipts.outcomes = vec![
                OutcomeRule {
                    state: ReceiptState::Delivrd,
                    weight: 1.0,
                    error_code: 0,
                },
                OutcomeRule {
                    state: ReceiptState::Undeliv,
                    weight: 1.0,
                    error_code: 1,
                },
            ];
        });
        let (mut failed, mut undeliv, n) = (0, 0, 10_000);
        for i in 0..n {
            match e.decide_submit("a", i, true) {
                SubmitDecision::Reject { status: 8, .. } => failed += 1,
                SubmitDecision::Accept { receipt, .. }
                    if receipt.state == ReceiptState::Undeliv =>
                {
                    undeliv += 1
                }
                _ => {}
            }
        }
        assert!((2700..3300).contains(&failed), "failed {failed}");
        assert!((3100..3900).contains(&undeliv), "undeliv {undeliv}");
    }

    #[test]
    fn reproducible_with_same_seed() {
        let run = || {
            let e = engine(|s| {
                s.seed = 99;
                s.submit.latency = Latency::Uniform {
                    min_ms: 0,
                    max_ms: 1000,
                };
            });
            (0..20)
                .map(|i| match e.decide_submit("a", i, true) {
                    SubmitDecision::Accept { latency, .. } => latency,
                    _ => Duration::MAX,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn normal_is_clamped() {
        let mut rng = SmallRng::seed_from_u64(1);
        let l = Latency::Normal {
            mean_ms: 50.0,
            stddev_ms: 100.0,
            min_ms: 10,
            max_ms: 60,
        };
        for _ in 0..1000 {
            let d = sample(&l, &mut rng);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(60));
        }
    }
}
