//! Which dead letters a `dlq list` or `dlq redrive` selects: by service, error code, original
//! topic and time. Pure: tested without a broker.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::record::{DeadRecord, Origin};

/// What to select. Empty lists select everything; several values of one list select any of
/// them; the lists combine with "and".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Services that gave up (see [`service_matches`]).
    pub services: Vec<String>,
    /// Error codes (`smsflow.dlq.error.code`), case-insensitive.
    pub codes: Vec<String>,
    /// Original topics, with or without the deployment's topic prefix, or `smpp:<carrier>`.
    pub topics: Vec<String>,
    /// Only dead letters written at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    /// Whether `r` is selected, in the deployment whose topic prefix is `prefix`.
    pub fn matches(&self, r: &DeadRecord, prefix: &str) -> bool {
        let any = |wanted: &[String], f: &dyn Fn(&str) -> bool| {
            wanted.is_empty() || wanted.iter().any(|w| f(w))
        };
        let service = r.service();
        let code = r.code();
        let origin = r.origin();
        any(&self.services, &|w| {
            service.is_some_and(|s| service_matches(s, w, prefix))
        }) && any(&self.codes, &|w| {
            code.is_some_and(|c| c.eq_ignore_ascii_case(w))
        }) && any(&self.topics, &|w| topic_matches(&origin, w, prefix))
            && self
                .since
                .is_none_or(|since| r.timestamp.is_some_and(|t| t >= since))
    }
}

/// Whether the `smsflow.dlq.service` value `header` is the service `wanted`.
///
/// Services write their consumer group, `<prefix>smsflow-<name>` (`smsflow-router`,
/// `smsflow-dispatcher-otp`, `smsflow-dlr-ingester-submits`), and the dispatcher writes
/// `dispatcher` for raw SMPP data. So `wanted` matches the full value, or the name without
/// prefix and `smsflow-`, or a name it starts followed by `-`: `dispatcher` selects every
/// dispatcher consumer and its SMPP dead letters, `dispatcher-otp` only that consumer.
pub fn service_matches(header: &str, wanted: &str, prefix: &str) -> bool {
    if header == wanted {
        return true;
    }
    let name = header.strip_prefix(prefix).unwrap_or(header);
    let name = name.strip_prefix("smsflow-").unwrap_or(name);
    name == wanted
        || name
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// Whether a dead letter from `origin` is from topic `wanted` (`sms.requests` and
/// `<prefix>sms.requests` both name the deployment's request topic; `smpp:sim` names the raw
/// SMPP data of carrier `sim`).
pub fn topic_matches(origin: &Origin, wanted: &str, prefix: &str) -> bool {
    let name = match origin {
        Origin::Kafka { topic, .. } => topic.as_str(),
        Origin::NotATopic(t) => t.as_str(),
        Origin::Smpp { carrier } => return wanted.strip_prefix("smpp:") == Some(carrier),
        Origin::Unknown => return false,
    };
    name == wanted || name.strip_prefix(prefix) == Some(wanted)
}

/// Parses `--since`: an RFC 3339 instant (`2026-12-07T09:00:00Z`) or a duration before `now`
/// (`90s`, `15m`, `2h`, `7d`, `1w`, `1h30m`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = parse_duration(s).ok_or_else(|| {
        format!(
            "'{s}' is neither an RFC 3339 time (2026-12-07T09:00:00Z) nor a duration \
             (90s, 15m, 2h, 7d, 1h30m)"
        )
    })?;
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("'{s}' reaches back too far"))
}

/// `<n><unit>` repeated, units `s`, `m`, `h`, `d`, `w`; `None` if anything else.
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    digits.is_empty().then_some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::dead;
    use super::*;
    use smsflow_kafka::headers as h;

    fn from(service: &str, code: &str, topic: &str) -> DeadRecord {
        dead(
            0,
            0,
            &[
                (h::DLQ_SERVICE, service),
                (h::DLQ_ERROR_CODE, code),
                (h::DLQ_TOPIC, topic),
            ],
        )
    }

    #[test]
    fn services_by_name_without_prefix_and_group_decoration() {
        let p = "staging.";
        assert!(service_matches("staging.smsflow-router", "router", p));
        assert!(service_matches(
            "staging.smsflow-router",
            "staging.smsflow-router",
            p
        ));
        assert!(service_matches(
            "staging.smsflow-dispatcher-otp",
            "dispatcher",
            p
        ));
        assert!(service_matches(
            "staging.smsflow-dispatcher-otp",
            "dispatcher-otp",
            p
        ));
        assert!(service_matches("dispatcher", "dispatcher", p), "smpp data");
        assert!(service_matches(
            "staging.smsflow-dlr-ingester-submits",
            "dlr-ingester",
            p
        ));
        assert!(!service_matches("staging.smsflow-router", "rout", p));
        assert!(!service_matches(
            "staging.smsflow-dispatcher-otp",
            "dispatcher-bulk",
            p
        ));
        assert!(!service_matches("staging.smsflow-analytics", "router", p));
    }

    #[test]
    fn topics_with_or_without_the_prefix_and_smpp_carriers() {
        let p = "staging.";
        let o = |t: &str| super::super::record::Origin::of(Some(t), None, None);
        assert!(topic_matches(&o("staging.sms.requests"), "sms.requests", p));
        assert!(topic_matches(
            &o("staging.sms.requests"),
            "staging.sms.requests",
            p
        ));
        assert!(!topic_matches(
            &o("staging.sms.requests.otp"),
            "sms.requests",
            p
        ));
        assert!(topic_matches(&o("smpp:sim"), "smpp:sim", p));
        assert!(!topic_matches(&o("smpp:sim"), "smpp:other", p));
        assert!(!topic_matches(&o("smpp:sim"), "sim", p));
        assert!(!topic_matches(&Origin::Unknown, "sms.requests", p));
    }

    #[test]
    fn filters_combine_with_and_values_with_or() {
        let p = "x.";
        let a = from("x.smsflow-router", "NOT_WIRE_FORMAT", "x.sms.requests");
        let b = from("x.smsflow-analytics", "STORE_REJECTED", "x.sms.dlr");
        let none = Filter::default();
        assert!(none.matches(&a, p) && none.matches(&b, p));

        let f = Filter {
            codes: vec!["not_wire_format".into(), "STORE_REJECTED".into()],
            ..Filter::default()
        };
        assert!(f.matches(&a, p) && f.matches(&b, p));

        let f = Filter {
            services: vec!["router".into()],
            codes: vec!["STORE_REJECTED".into()],
            ..Filter::default()
        };
        assert!(!f.matches(&a, p) && !f.matches(&b, p));

        let f = Filter {
            topics: vec!["sms.dlr".into()],
            ..Filter::default()
        };
        assert!(!f.matches(&a, p) && f.matches(&b, p));

        // A record without the header a filter asks about is not selected by it.
        let bare = dead(0, 0, &[]);
        let f = Filter {
            services: vec!["router".into()],
            ..Filter::default()
        };
        assert!(!f.matches(&bare, p));
    }

    #[test]
    fn since_selects_by_the_dead_letter_time() {
        let r = from("s", "C", "t"); // written at 1_765_000_000_000 ms
        let at = |ms| DateTime::from_timestamp_millis(ms);
        let f = |since| Filter {
            since,
            ..Filter::default()
        };
        assert!(f(at(1_765_000_000_000)).matches(&r, ""));
        assert!(!f(at(1_765_000_000_001)).matches(&r, ""));
        let undated = DeadRecord {
            timestamp: None,
            ..r
        };
        assert!(!f(at(0)).matches(&undated, ""));
    }

    #[test]
    fn since_takes_a_time_or_a_duration_back_from_now() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_since("2026-12-07T09:30:00+01:00", now),
            Ok(at("2026-12-07T08:30:00Z"))
        );
        assert_eq!(parse_since("90s", now), Ok(at("2026-12-07T11:58:30Z")));
        assert_eq!(parse_since("15m", now), Ok(at("2026-12-07T11:45:00Z")));
        assert_eq!(parse_since("1h30m", now), Ok(at("2026-12-07T10:30:00Z")));
        assert_eq!(parse_since("2d", now), Ok(at("2026-12-05T12:00:00Z")));
        assert_eq!(parse_since("1w", now), Ok(at("2026-11-30T12:00:00Z")));
        for bad in ["", "15", "m", "15x", "yesterday", "-5m", "2026-12-07"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
