//! `smsflow dlq list`: one line per dead letter, or one JSON object per line with `--json`.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use smsflow_kafka::KafkaConfig;
use tokio_util::sync::CancellationToken;

use super::filter::Filter;
use super::mask;
use super::read::Scanner;
use super::record::{DeadRecord, Origin};

/// Longest reason shown on a line (the full one is in `--json` and `dlq show`).
const REASON_CHARS: usize = 80;

/// How `dlq list` prints and when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Keep reading new dead letters after the end, until interrupted.
    pub follow: bool,
}

/// What a scan went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The dead-letter topic.
    pub topic: String,
    /// Records read.
    pub read: usize,
    /// Records selected and printed.
    pub matched: usize,
}

/// The column titles of the text output.
pub fn header() -> String {
    columns(
        "POSITION", "TIME", "SERVICE", "ORIGIN", "CODE", "EVENT", "REASON",
    )
}

fn columns(
    position: &str,
    time: &str,
    service: &str,
    origin: &str,
    code: &str,
    event: &str,
    reason: &str,
) -> String {
    format!("{position:<9} {time:<25} {service:<26} {origin:<36} {code:<24} {event:<50} {reason}")
        .trim_end()
        .to_owned()
}

/// `2026-12-07T10:42:01.123Z`, or `-`.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// `SendRequested/<event id>`, the type or id alone, or `-`.
fn event(r: &DeadRecord) -> String {
    match (r.event_type(), r.event_id()) {
        (Some(t), Some(id)) => format!("{t}/{id}"),
        (Some(t), None) => t.to_owned(),
        (None, Some(id)) => id.to_owned(),
        (None, None) => "-".to_owned(),
    }
}

/// `s` cut to `n` characters, with `…` when cut; line breaks become spaces.
pub fn truncate(s: &str, n: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= n {
        flat
    } else {
        let mut cut: String = flat.chars().take(n.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// One dead letter as a line of text; numbers in the reason masked.
pub fn line(r: &DeadRecord) -> String {
    columns(
        &r.position.to_string(),
        &time(r.timestamp),
        r.service().unwrap_or("-"),
        &r.origin().to_string(),
        r.code().unwrap_or("-"),
        &event(r),
        &truncate(&mask::numbers_in(r.reason().unwrap_or("-")), REASON_CHARS),
    )
}

/// One dead letter as JSON (the whole reason, numbers masked).
pub fn to_json(r: &DeadRecord) -> Value {
    let (topic, partition, offset) = match r.origin() {
        Origin::Kafka {
            topic,
            partition,
            offset,
        } => (Some(topic), partition, offset),
        Origin::Smpp { carrier } => (Some(format!("smpp:{carrier}")), None, None),
        Origin::NotATopic(t) => (Some(t), None, None),
        Origin::Unknown => (None, None, None),
    };
    json!({
        "position": r.position.to_string(),
        "partition": r.position.partition,
        "offset": r.position.offset,
        "time": r.timestamp.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        "service": r.service(),
        "origin": {"topic": topic, "partition": partition, "offset": offset},
        "code": r.code(),
        "reason": r.reason().map(mask::numbers_in),
        "event_type": r.event_type(),
        "event_id": r.event_id(),
    })
}

/// Prints the dead letters `filter` selects (at most `limit`), from the start of the topic or
/// `filter.since` to its end, or on until `stop` with `follow`.
pub async fn list(
    cfg: &KafkaConfig,
    filter: Filter,
    limit: Option<usize>,
    opts: ListOptions,
    stop: &CancellationToken,
    out: &mut dyn Write,
) -> anyhow::Result<Listed> {
    let mut scan = Scanner::open(cfg, filter, limit, opts.follow).await?;
    if !opts.json {
        writeln!(out, "{}", header())?;
    }
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => break,
            next = scan.next() => next?,
        };
        let Some(r) = next else { break };
        if opts.json {
            writeln!(out, "{}", to_json(&r))?;
        } else {
            writeln!(out, "{}", line(&r))?;
        }
        if opts.follow {
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(Listed {
        topic: scan.topic().to_owned(),
        read: scan.read(),
        matched: scan.matched(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::dead;
    use super::*;
    use smsflow_kafka::headers as h;

    fn poison() -> DeadRecord {
        dead(
            2,
            17,
            &[
                (h::EVENT_ID, "01a21584-991c-70a2-a09e-7d27d57eff28"),
                (h::EVENT_TYPE, "SendRequested"),
                (h::DLQ_TOPIC, "sms.requests"),
                (h::DLQ_PARTITION, "3"),
                (h::DLQ_OFFSET, "1042"),
                (h::DLQ_ERROR_CODE, "BAD_THING"),
                (h::DLQ_ERROR, "number +447700900123 is not\nserved"),
                (h::DLQ_SERVICE, "smsflow-router"),
            ],
        )
    }

    #[test]
    fn a_line_says_where_when_who_what_and_why_without_numbers() {
        let l = line(&poison());
        for part in [
            "2:17 ",
            "2025-12-06T05:46:40.000Z",
            "smsflow-router",
            "sms.requests-3@1042",
            "BAD_THING",
            "SendRequested/01a21584-991c-70a2-a09e-7d27d57eff28",
            "number +44********23 is not served",
        ] {
            assert!(l.contains(part), "{part} missing in {l}");
        }
        assert!(!l.contains("7700900123"), "{l}");
        assert!(l.starts_with("2:17"));
    }

    #[test]
    fn a_line_without_headers_has_dashes() {
        let l = line(&dead(0, 5, &[]));
        assert!(l.starts_with("0:5 "), "{l}");
        assert_eq!(l.split_whitespace().filter(|w| *w == "-").count(), 5, "{l}");
    }

    #[test]
    fn reasons_are_cut_on_a_line() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("a\nb\tc", 10), "a b c");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn json_has_every_field_and_no_number() {
        let v = to_json(&poison());
        assert_eq!(v["position"], "2:17");
        assert_eq!(v["partition"], 2);
        assert_eq!(v["offset"], 17);
        assert_eq!(v["origin"]["topic"], "sms.requests");
        assert_eq!(v["origin"]["partition"], 3);
        assert_eq!(v["origin"]["offset"], 1042);
        assert_eq!(v["code"], "BAD_THING");
        assert_eq!(v["service"], "smsflow-router");
        assert_eq!(v["event_type"], "SendRequested");
        assert_eq!(v["reason"], "number +44********23 is not\nserved");
        let smpp = to_json(&dead(0, 0, &[(h::DLQ_TOPIC, "smpp:sim")]));
        assert_eq!(smpp["origin"]["topic"], "smpp:sim");
        assert_eq!(smpp["origin"]["partition"], Value::Null);
    }
}
