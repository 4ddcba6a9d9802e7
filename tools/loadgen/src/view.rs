//! Reading the status view (analytics `GET /v1/messages/{id}`): a sampler that estimates
//! how many accepted messages the view shows `delivered` while a run goes on, and a check
//! of every id at the end.
//!
//! Sampling: each tick, the messages accepted since the previous tick form a bucket. A
//! bucket's delivered count is estimated from a few random ids of it (`probes` per bucket,
//! within a budget of GETs per tick; buckets take turns when there are more than the budget
//! covers). A bucket whose probes all read `delivered` in two rounds in a row is done and
//! no longer probed. Statuses only move forward, so an estimate never goes down.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::{StreamExt, stream};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use uuid::Uuid;

use crate::book::{Book, now_us};

/// Final statuses (docs/adr/0009-api-conventions.md; `unknown`: the carrier may have it).
const TERMINAL: [&str; 6] = [
    "delivered",
    "undelivered",
    "expired",
    "rejected",
    "failed",
    "unknown",
];

/// Status of one message in the view: its `status`, `not_found` (not in the view yet) or
/// `error` (the view did not answer).
pub async fn status(client: &reqwest::Client, base: &str, id: Uuid) -> String {
    #[derive(Deserialize)]
    struct View {
        status: String,
    }
    match client.get(format!("{base}/v1/messages/{id}")).send().await {
        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => "not_found".into(),
        Ok(r) if r.status().is_success() => match r.json::<View>().await {
            Ok(v) => v.status,
            Err(_) => "error".into(),
        },
        _ => "error".into(),
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    start: usize,
    end: usize,
    estimate: f64,
    clean_rounds: u8,
    done: bool,
}

/// The delivered-in-view estimator.
#[derive(Debug)]
pub struct Sampler {
    client: reqwest::Client,
    base: String,
    probes: usize,
    budget: usize,
    concurrency: usize,
    buckets: Vec<Bucket>,
    cursor: usize,
    /// GETs made so far.
    pub gets: u64,
}

impl Sampler {
    /// A sampler of the view at `base`, `probes` ids per bucket, at most `budget` GETs a tick.
    pub fn new(client: reqwest::Client, base: &str, probes: usize, budget: usize) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            probes: probes.max(1),
            budget: budget.max(1),
            concurrency: 32,
            buckets: Vec::new(),
            cursor: 0,
            gets: 0,
        }
    }

    /// Whether every bucket so far is done.
    pub fn all_done(&self) -> bool {
        self.buckets.iter().all(|b| b.done)
    }

    /// One round: takes the new accepts as a bucket, probes, returns the estimated number of
    /// accepted messages the view shows delivered.
    pub async fn tick(&mut self, book: &Arc<Book>) -> f64 {
        let len = book.len();
        let last = self.buckets.last().map_or(0, |b| b.end);
        if len > last {
            self.buckets.push(Bucket {
                start: last,
                end: len,
                estimate: 0.0,
                clean_rounds: 0,
                done: false,
            });
        }
        let open: Vec<usize> = (0..self.buckets.len())
            .filter(|&i| !self.buckets[i].done)
            .collect();
        if !open.is_empty() {
            // Round robin over the open buckets, from where the last tick stopped.
            let first = open.iter().position(|&i| i >= self.cursor).unwrap_or(0);
            let mut chosen = Vec::new();
            let mut used = 0;
            for k in 0..open.len() {
                let b = &self.buckets[open[(first + k) % open.len()]];
                let n = self.probes.min(b.end - b.start);
                if used + n > self.budget && !chosen.is_empty() {
                    break;
                }
                used += n;
                chosen.push(open[(first + k) % open.len()]);
            }
            self.cursor = chosen.last().map_or(0, |&i| i + 1);
            let mut picks: Vec<(usize, usize)> = Vec::new();
            {
                let mut rng = rand::rng();
                for &bi in &chosen {
                    let b = &self.buckets[bi];
                    let n = self.probes.min(b.end - b.start);
                    let mut idx: Vec<usize> = if n == b.end - b.start {
                        (b.start..b.end).collect()
                    } else {
                        (0..n).map(|_| rng.random_range(b.start..b.end)).collect()
                    };
                    idx.sort_unstable();
                    picks.extend(idx.into_iter().map(|i| (bi, i)));
                }
            }
            let ids = book.pick(&picks.iter().map(|&(_, i)| i).collect::<Vec<_>>());
            let client = &self.client;
            let base = self.base.as_str();
            let results: Vec<(usize, bool)> = stream::iter(picks.iter().zip(ids))
                .map(|(&(bi, _), (_, a))| async move {
                    (bi, status(client, base, a.id).await == "delivered")
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            self.gets += results.len() as u64;
            let mut tally: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
            for (bi, delivered) in results {
                let t = tally.entry(bi).or_default();
                t.0 += usize::from(delivered);
                t.1 += 1;
            }
            for (bi, (delivered, probed)) in tally {
                let b = &mut self.buckets[bi];
                let size = (b.end - b.start) as f64;
                let whole = probed == b.end - b.start;
                if delivered == probed {
                    b.clean_rounds += 1;
                    // A bucket probed whole is known exactly in one round.
                    if b.clean_rounds >= 2 || whole {
                        b.done = true;
                    }
                } else {
                    b.clean_rounds = 0;
                }
                let est = if b.done {
                    size
                } else {
                    size * delivered as f64 / probed as f64
                };
                b.estimate = b.estimate.max(est);
            }
        }
        self.buckets.iter().map(|b| b.estimate).sum()
    }
}

/// The end-of-run check of every accepted id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verified {
    /// Ids checked.
    pub checked: u64,
    /// Ids that read `delivered`.
    pub delivered: u64,
    /// Ids that did not, by their last status (`not_found`: absent from the view).
    pub not_delivered: BTreeMap<String, u64>,
    /// When the last id turned `delivered`, Unix µs, to the resolution of the check rounds;
    /// 0 when every id already read `delivered` in the first round.
    pub last_delivered_us: u64,
    /// GETs made.
    pub gets: u64,
    /// Seconds the check took.
    pub secs: f64,
}

impl Verified {
    /// Ids not delivered.
    pub fn lost(&self) -> u64 {
        self.not_delivered.values().sum()
    }
}

/// How long the check waits for ids that are not final yet.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// For every id.
    pub all: Instant,
    /// For ids still `retrying` at `all`: a retry parked on a delay tier (up to 10 minutes)
    /// is scheduled, not stuck, and is waited for until here (no earlier than `all`).
    pub retrying: Instant,
}

impl Deadlines {
    /// `all` from now, and `retrying` (when longer) for ids still retrying.
    pub fn after(all: Duration, retrying: Duration) -> Self {
        let now = Instant::now();
        Deadlines {
            all: now + all,
            retrying: now + all.max(retrying),
        }
    }

    /// Whether an id whose last status is `status` is checked again at `now`.
    fn again(&self, status: &str, now: Instant) -> bool {
        !TERMINAL.contains(&status)
            && (now < self.all || (status == RETRYING && now < self.retrying))
    }
}

/// A failed attempt waiting on a delay tier for its next one.
const RETRYING: &str = "retrying";

/// Checks every id (bounded concurrency); ids not yet final are checked again every second
/// until their deadline.
pub async fn verify(
    client: &reqwest::Client,
    base: &str,
    ids: Vec<Uuid>,
    concurrency: usize,
    deadline: Deadlines,
) -> Verified {
    let base = base.trim_end_matches('/');
    let started = Instant::now();
    let mut v = Verified {
        checked: ids.len() as u64,
        ..Verified::default()
    };
    let mut pending = ids;
    let mut last: BTreeMap<Uuid, String> = BTreeMap::new();
    let mut rounds = 0u32;
    loop {
        rounds += 1;
        let round: Vec<(Uuid, String)> = stream::iter(pending.iter().copied())
            .map(|id| async move { (id, status(client, base, id).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        v.gets += round.len() as u64;
        let now = now_us();
        let at = Instant::now();
        pending.clear();
        for (id, s) in round {
            if s == "delivered" {
                v.delivered += 1;
                if rounds > 1 {
                    v.last_delivered_us = now;
                }
                last.remove(&id);
            } else {
                if deadline.again(&s, at) {
                    pending.push(id);
                }
                last.insert(id, s);
            }
        }
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for s in last.into_values() {
        *v.not_delivered.entry(s).or_default() += 1;
    }
    v.secs = started.elapsed().as_secs_f64();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retrying_id_is_waited_for_past_the_deadline_of_the_others_and_no_longer() {
        let d = Deadlines::after(Duration::from_secs(60), Duration::from_secs(660));
        let before = d.all - Duration::from_secs(1);
        let between = d.all + Duration::from_secs(1);
        for s in ["submitted", "not_found", "error", RETRYING] {
            assert!(d.again(s, before), "{s} before the deadline");
        }
        assert!(d.again(RETRYING, between));
        assert!(!d.again("submitted", between), "stuck, not scheduled");
        assert!(!d.again(RETRYING, d.retrying));
        for s in TERMINAL {
            assert!(!d.again(s, before), "{s} is final");
        }
    }

    #[test]
    fn a_retrying_deadline_shorter_than_the_others_changes_nothing() {
        let d = Deadlines::after(Duration::from_secs(60), Duration::ZERO);
        assert_eq!(d.all, d.retrying);
        assert!(!d.again(RETRYING, d.all));
    }
}
