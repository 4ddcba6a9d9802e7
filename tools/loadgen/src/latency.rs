//! Accept → carrier submit latency, from the ids of a run and the simulator's first-submit
//! time per destination (every message has its own destination).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::{ids::Line, plan::Priority, sim::DestinationSubmits, stats::Percentiles};

/// Latency of one priority.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubmitLatency {
    /// Accepted messages of this priority.
    pub accepted: u64,
    /// Of which the carrier received at least once.
    pub submitted: u64,
    /// Of which the carrier had not received when the run ended.
    pub not_submitted: u64,
    /// Segments of these messages accepted more than once by the carrier.
    pub duplicate_segments: u64,
    /// From the 202 to the carrier's first submit, ms (negative when the submit beat the
    /// 202 back to the client).
    pub accept_to_submit_ms: Percentiles,
    /// From the request being written to the carrier's first submit, ms.
    pub request_to_submit_ms: Percentiles,
}

/// Latencies per priority for the messages in `lines` whose priority is in `which`.
pub fn compute(
    lines: &[Line],
    which: &[Priority],
    ledger: &HashMap<String, DestinationSubmits>,
) -> BTreeMap<String, SubmitLatency> {
    let mut out = BTreeMap::new();
    for &p in which {
        let mut l = SubmitLatency::default();
        let mut from_accept = Vec::new();
        let mut from_request = Vec::new();
        for line in lines.iter().filter(|l| l.priority == p) {
            l.accepted += 1;
            match ledger.get(&line.to) {
                Some(d) if d.submits > 0 => {
                    l.submitted += 1;
                    l.duplicate_segments += d.duplicate_segments;
                    let ms = |from: u64| (d.first_submit_us as f64 - from as f64) / 1000.0;
                    from_accept.push(ms(line.accept_us));
                    from_request.push(ms(line.sent_us));
                }
                _ => l.not_submitted += 1,
            }
        }
        l.accept_to_submit_ms = Percentiles::of(&mut from_accept);
        l.request_to_submit_ms = Percentiles::of(&mut from_request);
        if l.accepted > 0 {
            out.insert(p.as_str().to_string(), l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn line(i: u64, p: Priority, accept_us: u64) -> Line {
        Line {
            index: i,
            id: Uuid::now_v7(),
            priority: p,
            to: format!("+4470000000{i:02}"),
            intended_us: accept_us - 2000,
            sent_us: accept_us - 1000,
            accept_us,
        }
    }

    #[test]
    fn per_priority_from_first_submit() {
        let lines = vec![
            line(1, Priority::Otp, 1_000_000),
            line(2, Priority::Otp, 2_000_000),
            line(3, Priority::Bulk, 3_000_000),
        ];
        let mut ledger = HashMap::new();
        ledger.insert(
            "+447000000001".to_string(),
            DestinationSubmits {
                destination: "+447000000001".into(),
                submits: 2,
                duplicate_segments: 1,
                first_submit_us: 1_030_000,
            },
        );
        let got = compute(&lines, &[Priority::Otp, Priority::Transactional], &ledger);
        assert_eq!(got.len(), 1, "only asked priorities with messages");
        let otp = &got["otp"];
        assert_eq!((otp.accepted, otp.submitted, otp.not_submitted), (2, 1, 1));
        assert_eq!(otp.duplicate_segments, 1);
        assert_eq!(otp.accept_to_submit_ms.max, 30.0);
        assert_eq!(otp.request_to_submit_ms.max, 31.0);
    }
}
