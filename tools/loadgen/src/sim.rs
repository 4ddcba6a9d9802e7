//! The carrier simulator's ledger, over its HTTP API: totals before and after a run, and
//! when each destination's first segment reached the carrier (`POST /ledger/submit-times`).

use std::collections::HashMap;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The totals a run needs from `GET /ledger/summary` (other fields are ignored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Summary {
    /// submit_sm received.
    pub submits_received: u64,
    /// Submits answered with success.
    pub accepted: u64,
    /// Distinct segments seen.
    pub unique_segments: u64,
    /// Segments accepted more than once.
    pub duplicate_segments: u64,
    /// Segments the ledger had no room for.
    pub segments_not_recorded: u64,
    /// Receipts sent.
    pub receipts_sent: u64,
    /// Receipts acknowledged by the platform.
    pub receipts_acked: u64,
}

impl Summary {
    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Summary) -> Summary {
        Summary {
            submits_received: self
                .submits_received
                .saturating_sub(before.submits_received),
            accepted: self.accepted.saturating_sub(before.accepted),
            unique_segments: self.unique_segments.saturating_sub(before.unique_segments),
            duplicate_segments: self
                .duplicate_segments
                .saturating_sub(before.duplicate_segments),
            segments_not_recorded: self
                .segments_not_recorded
                .saturating_sub(before.segments_not_recorded),
            receipts_sent: self.receipts_sent.saturating_sub(before.receipts_sent),
            receipts_acked: self.receipts_acked.saturating_sub(before.receipts_acked),
        }
    }
}

/// Submits of one destination (the simulator's `DestinationSubmits`).
#[derive(Debug, Clone, Deserialize)]
pub struct DestinationSubmits {
    /// As asked.
    pub destination: String,
    /// Submits received.
    pub submits: u64,
    /// Segments accepted more than once.
    pub duplicate_segments: u64,
    /// Earliest first submit over its segments, Unix µs.
    pub first_submit_us: u64,
}

/// Client for one simulator.
#[derive(Debug, Clone)]
pub struct Ledger {
    base: String,
    http: reqwest::Client,
}

/// Destinations per `submit-times` request (one ledger pass each).
const CHUNK: usize = 20_000;

impl Ledger {
    /// The simulator at `base` (`http://127.0.0.1:8090`).
    pub fn new(base: &str, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// `GET /ledger/summary`.
    pub async fn summary(&self) -> anyhow::Result<Summary> {
        let url = format!("{}/ledger/summary", self.base);
        self.http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .with_context(|| format!("GET {url}: not a ledger summary"))
    }

    /// First-submit times of `destinations`, keyed by destination as given; destinations
    /// not submitted yet are absent.
    pub async fn submit_times(
        &self,
        destinations: &[String],
    ) -> anyhow::Result<HashMap<String, DestinationSubmits>> {
        let url = format!("{}/ledger/submit-times", self.base);
        let mut out = HashMap::with_capacity(destinations.len());
        for chunk in destinations.chunks(CHUNK) {
            let list: Vec<DestinationSubmits> = self
                .http
                .post(&url)
                .json(&serde_json::json!({ "destinations": chunk }))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .with_context(|| {
                    format!("POST {url} (a simulator with the submit-times endpoint is needed)")
                })?
                .json()
                .await
                .with_context(|| format!("POST {url}: unexpected answer"))?;
            out.extend(list.into_iter().map(|d| (d.destination.clone(), d)));
        }
        Ok(out)
    }
}
