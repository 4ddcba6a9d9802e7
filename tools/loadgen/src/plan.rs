//! What to send: destination numbers, the priority mix and the open-loop schedule. Pure
//! functions, so the numbering and the schedule are tested without a network.

use std::{fmt, str::FromStr, time::Duration};

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// First UK mobile number (national digits after `+44`) of the space the generator uses.
const SPACE_START: u64 = 7_000_000_000;
/// Size of that space: `+447000000000` to `+447999999999`, all valid UK mobiles.
const SPACE_SIZE: u64 = 1_000_000_000;

/// Unique destinations: message `i` goes to `+44` + `7000000000 + (base + i) mod 10⁹`, so two
/// runs with bases far apart never share a number (the simulator hands out the same carrier
/// ids after a restart, and the store correlates receipts by carrier id and destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destinations {
    base: u64,
}

impl Destinations {
    /// Numbering from `base` (an offset into the space, taken modulo its size).
    pub fn new(base: u64) -> Self {
        Self {
            base: base % SPACE_SIZE,
        }
    }

    /// A base drawn at random, in steps of 10 million numbers (100 slots): what a run uses
    /// unless told otherwise.
    pub fn random() -> Self {
        Self::new(rand::rng().random_range(0..100u64) * 10_000_000)
    }

    /// The offset this numbering starts at.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The destination of message `i`, E.164.
    pub fn number(&self, i: u64) -> String {
        format!(
            "+44{}",
            SPACE_START + (self.base + i % SPACE_SIZE) % SPACE_SIZE
        )
    }
}

/// The three priorities of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// `otp`.
    Otp,
    /// `transactional`.
    Transactional,
    /// `bulk`.
    Bulk,
}

impl Priority {
    /// All of them, highest first.
    pub const ALL: [Priority; 3] = [Priority::Otp, Priority::Transactional, Priority::Bulk];

    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Otp => "otp",
            Priority::Transactional => "transactional",
            Priority::Bulk => "bulk",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority `{s}` (otp, transactional, bulk)"))
    }
}

/// Share of each priority, e.g. `otp=1,transactional=2,bulk=7` (weights, not percentages).
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    weights: Vec<(Priority, f64)>,
    total: f64,
}

impl Mix {
    /// Draws the priority of one message.
    pub fn pick(&self, rng: &mut impl Rng) -> Priority {
        let mut x = rng.random_range(0.0..self.total);
        for &(p, w) in &self.weights {
            if x < w {
                return p;
            }
            x -= w;
        }
        self.weights[self.weights.len() - 1].0
    }

    /// A seeded generator for [`Mix::pick`], so a run's mix is reproducible.
    pub fn rng(seed: u64) -> SmallRng {
        SmallRng::seed_from_u64(seed)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .weights
            .iter()
            .map(|(p, w)| format!("{p}={w}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, w) = part.split_once('=').unwrap_or((part, "1"));
            let p: Priority = name.trim().parse()?;
            let w: f64 = w
                .trim()
                .parse()
                .map_err(|_| format!("weight of `{name}` is not a number: `{w}`"))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("weight of `{name}` must be ≥ 0"));
            }
            if w > 0.0 {
                weights.push((p, w));
            }
        }
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        if weights.is_empty() || total <= 0.0 {
            return Err("the mix needs at least one priority with a weight > 0".into());
        }
        Ok(Self { weights, total })
    }
}

/// Open loop: message `i` is due at `i / rate` seconds after the start, whatever happened to
/// the ones before it. `None` is the max-rate mode (due as soon as a connection is free).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: Option<f64>,
}

impl Schedule {
    /// `rate` messages per second; 0 means as fast as the connections allow.
    pub fn new(rate: f64) -> Self {
        Self {
            rate: (rate > 0.0).then_some(rate),
        }
    }

    /// The target rate, if any.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// When message `i` is due, from the start.
    pub fn due(&self, i: u64) -> Duration {
        match self.rate {
            Some(r) => Duration::from_secs_f64(i as f64 / r),
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_unique_uk_mobiles_and_wrap_in_their_space() {
        let d = Destinations::new(0);
        assert_eq!(d.number(0), "+447000000000");
        assert_eq!(d.number(42), "+447000000042");
        let top = Destinations::new(SPACE_SIZE - 1);
        assert_eq!(top.number(0), "+447999999999");
        assert_eq!(top.number(1), "+447000000000", "wraps, stays a 7… mobile");
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let n = Destinations::new(123_456_789).number(i);
            assert_eq!(n.len(), 13);
            assert!(seen.insert(n));
        }
        assert!(Destinations::random().base().is_multiple_of(10_000_000));
    }

    #[test]
    fn mix_parses_and_draws_in_proportion() {
        let m: Mix = "otp=1, transactional=0,bulk=3".parse().unwrap();
        assert_eq!(m.to_string(), "otp=1,bulk=3");
        let mut rng = Mix::rng(7);
        let n = 40_000;
        let otp = (0..n).filter(|_| m.pick(&mut rng) == Priority::Otp).count();
        let share = otp as f64 / n as f64;
        assert!((share - 0.25).abs() < 0.01, "{share}");
        let only: Mix = "bulk".parse().unwrap();
        assert!((0..100).all(|_| only.pick(&mut rng) == Priority::Bulk));
        assert!("otp=0".parse::<Mix>().is_err());
        assert!("sms=1".parse::<Mix>().is_err());
        assert!("otp=x".parse::<Mix>().is_err());
        assert!("otp=-1".parse::<Mix>().is_err());
    }

    #[test]
    fn schedule_is_open_loop() {
        let s = Schedule::new(1000.0);
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(1500), Duration::from_millis(1500));
        let max = Schedule::new(0.0);
        assert_eq!(max.rate(), None);
        assert_eq!(max.due(99), Duration::ZERO);
    }
}
