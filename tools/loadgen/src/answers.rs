//! Answer times of the POSTs, whatever the answer: a 202, another status, a timeout, a
//! transport error. The chaos acceptance reads two things from here: every POST answered
//! within the SLO (`over_ms` is 0), and which refusals told the client that the outcome is
//! unknown (a 503 the platform may still send), as opposed to a plain refusal (a 503 that
//! must never be sent).
//!
//! An answer time runs from the moment the request is handed to the HTTP client (after the
//! wait for a free connection, which the run reports as `max_behind_schedule_ms`) to the
//! last byte of the answer's body, or to the error. A POST still pending at the POST timeout
//! (`--post-timeout-ms`) ends as `timeout` with the time it waited, so a stalled API shows
//! as answers over the SLO rather than disappearing.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize, Serializer};

use crate::stats::Percentiles;

/// The phrase of the API's 503 for a send the message log did not confirm in time. Such a
/// message may be sent after all, so the client was told the outcome is unknown.
pub const UNKNOWN_OUTCOME: &str = "may or may not have been accepted";

/// How one POST ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnswerKind {
    /// The API answered with this HTTP status.
    Status(u16),
    /// No complete answer before the POST timeout (or the connect timeout).
    Timeout,
    /// No connection to the API.
    Connect,
    /// Any other transport error: connection reset, malformed answer.
    Transport,
}

impl AnswerKind {
    /// The kind of a request that got no answer.
    pub fn of_error(e: &reqwest::Error) -> Self {
        // Timeout first: a connect timeout is both, and was always counted as a timeout.
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Connect
        } else {
            Self::Transport
        }
    }
}

/// `202`, `503`, `timeout`, `connect`, `transport`: the same words as the `failures` keys
/// of the result and the `status` column of the refused file.
impl fmt::Display for AnswerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "{code}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Connect => f.write_str("connect"),
            Self::Transport => f.write_str("transport"),
        }
    }
}

impl Serialize for AnswerKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether an answer told the client that the outcome is unknown: a 503 whose JSON error
/// message says the request may or may not have been accepted. Any other 503 (overload,
/// a plain refusal) and any body that is not the API's error document is a refusal.
pub fn told_unknown(status: u16, body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Document {
        error: Error,
    }
    #[derive(Deserialize)]
    struct Error {
        message: String,
    }
    status == 503
        && serde_json::from_slice::<Document>(body)
            .is_ok_and(|d| d.error.message.contains(UNKNOWN_OUTCOME))
}

/// One POST's answer, as the summary needs it (kept for every POST of a run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answered {
    /// How it ended.
    pub kind: AnswerKind,
    /// A 503 that said the outcome is unknown (see [`told_unknown`]).
    pub told_unknown: bool,
    /// Answer time, ms.
    pub ms: f64,
}

/// Answer times of a set of POSTs, ms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// POSTs.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest: what "every POST answered within the SLO" is judged on.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// POSTs whose answer took longer than each SLO threshold (strictly), keyed by the
    /// threshold in ms (`--answer-slo-ms`).
    pub over_ms: BTreeMap<u64, usize>,
}

impl Summary {
    /// Nearest-rank summary of `ms` (sorted in place); zeros when empty.
    pub fn of(ms: &mut [f64], slo_ms: &[u64]) -> Self {
        let over_ms = slo_ms
            .iter()
            .map(|&t| (t, ms.iter().filter(|&&m| m > t as f64).count()))
            .collect();
        let p = Percentiles::of(ms);
        Self {
            count: p.count,
            p50_ms: p.p50,
            p90_ms: p.p90,
            p99_ms: p.p99,
            max_ms: p.max,
            mean_ms: p.mean,
            over_ms,
        }
    }
}

/// The `answers` object of the run's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answers {
    /// Every POST of the run.
    #[serde(flatten)]
    pub all: Summary,
    /// The same per way of ending: `202`, `503` (or any other status), `timeout`, `connect`,
    /// `transport`. A 202 whose body had no id is under `202` here and a failure elsewhere.
    pub by_status: BTreeMap<AnswerKind, Summary>,
    /// 503s that said the outcome is unknown: the only refused messages the platform may
    /// still send.
    pub told_unknown: usize,
    /// The POST timeout, ms: no answer time is measured beyond it (those POSTs end as
    /// `timeout`, with about this time).
    pub timeout_ms: u64,
}

/// Summarizes the answers of a run against the SLO thresholds.
pub fn summarize(answers: &[Answered], slo_ms: &[u64], timeout_ms: u64) -> Answers {
    let mut by_kind: BTreeMap<AnswerKind, Vec<f64>> = BTreeMap::new();
    for a in answers {
        by_kind.entry(a.kind).or_default().push(a.ms);
    }
    let mut all: Vec<f64> = answers.iter().map(|a| a.ms).collect();
    Answers {
        all: Summary::of(&mut all, slo_ms),
        by_status: by_kind
            .into_iter()
            .map(|(k, mut ms)| (k, Summary::of(&mut ms, slo_ms)))
            .collect(),
        told_unknown: answers.iter().filter(|a| a.told_unknown).count(),
        timeout_ms,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const UNCONFIRMED: &str = r#"{"error": {"code": "unavailable", "message": "the message log did not confirm the request in about 5 s: it may or may not have been accepted. Retry with the same Idempotency-Key.", "field": null}}"#;

    #[test]
    fn an_unconfirmed_503_told_unknown() {
        assert!(told_unknown(503, UNCONFIRMED.as_bytes()));
    }

    #[test]
    fn other_answers_are_refusals() {
        // The same words under another status.
        assert!(!told_unknown(500, UNCONFIRMED.as_bytes()));
        assert!(!told_unknown(202, UNCONFIRMED.as_bytes()));
        // A 503 that refuses outright.
        let overloaded = r#"{"error": {"code": "unavailable", "message": "the message log is not reachable: nothing was accepted", "field": null}}"#;
        assert!(!told_unknown(503, overloaded.as_bytes()));
        // Not the API's document: a proxy's page, an empty body, the phrase in another field.
        assert!(!told_unknown(503, b"may or may not have been accepted"));
        assert!(!told_unknown(503, b""));
        let elsewhere =
            r#"{"error": {"code": "may or may not have been accepted", "message": "busy"}}"#;
        assert!(!told_unknown(503, elsewhere.as_bytes()));
        assert!(!told_unknown(503, br#"{"error": {"message": null}}"#));
    }

    #[test]
    fn kinds_read_as_the_failure_keys() {
        assert_eq!(AnswerKind::Status(503).to_string(), "503");
        assert_eq!(AnswerKind::Timeout.to_string(), "timeout");
        assert_eq!(AnswerKind::Connect.to_string(), "connect");
        assert_eq!(AnswerKind::Transport.to_string(), "transport");
    }

    fn answered(kind: AnswerKind, ms: f64) -> Answered {
        Answered {
            kind,
            told_unknown: false,
            ms,
        }
    }

    #[test]
    fn summary_counts_every_answer_and_those_over_each_threshold() {
        // 98 fast 202s, a 503 told unknown at just over 5 s, a timeout at 30 s.
        let mut v: Vec<Answered> = (1..=98)
            .map(|i| answered(AnswerKind::Status(202), f64::from(i)))
            .collect();
        v.push(Answered {
            kind: AnswerKind::Status(503),
            told_unknown: true,
            ms: 5000.5,
        });
        v.push(answered(AnswerKind::Timeout, 30_000.0));
        let s = summarize(&v, &[5000, 50], 30_000);
        assert_eq!(s.all.count, 100);
        assert_eq!(s.all.max_ms, 30_000.0);
        assert_eq!(s.all.p50_ms, 50.0);
        assert_eq!(s.all.p99_ms, 5000.5);
        // Strictly over: the answer at exactly 50 ms is within 50.
        assert_eq!(s.all.over_ms, BTreeMap::from([(50, 50), (5000, 2)]));
        assert_eq!(s.told_unknown, 1);
        let kinds: Vec<AnswerKind> = s.by_status.keys().copied().collect();
        assert_eq!(
            kinds,
            [
                AnswerKind::Status(202),
                AnswerKind::Status(503),
                AnswerKind::Timeout
            ]
        );
        let ok = &s.by_status[&AnswerKind::Status(202)];
        assert_eq!((ok.count, ok.max_ms), (98, 98.0));
        assert_eq!(ok.over_ms, BTreeMap::from([(50, 48), (5000, 0)]));
        assert_eq!(s.by_status[&AnswerKind::Timeout].over_ms[&5000], 1);
    }

    #[test]
    fn summary_json_shape() {
        let v = [
            answered(AnswerKind::Status(202), 2.0),
            answered(AnswerKind::Connect, 4.0),
        ];
        let got = serde_json::to_value(summarize(&v, &[5000], 30_000)).unwrap();
        let summary = |count: usize, p: f64, mean: f64| {
            json!({"count": count, "p50_ms": p, "p90_ms": p, "p99_ms": p, "max_ms": p,
                   "mean_ms": mean, "over_ms": {"5000": 0}})
        };
        let mut want = summary(2, 4.0, 3.0);
        want["p50_ms"] = json!(2.0);
        want["by_status"] = json!({"202": summary(1, 2.0, 2.0), "connect": summary(1, 4.0, 4.0)});
        want["told_unknown"] = json!(0);
        want["timeout_ms"] = json!(30_000);
        assert_eq!(got, want);
    }

    #[test]
    fn no_answers_summarize_to_zeros() {
        let s = summarize(&[], &[5000], 1000);
        assert_eq!(s.all.count, 0);
        assert_eq!(s.all.max_ms, 0.0);
        assert_eq!(s.all.over_ms, BTreeMap::from([(5000, 0)]));
        assert!(s.by_status.is_empty());
    }
}
