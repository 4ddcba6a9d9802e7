//! The topic catalog as code: names, keys, events, cleanup policy, retention, lanes.
//!
//! Every name can carry a prefix ([`Topics::with_prefix`]) so that several deployments, or
//! parallel test runs, share one Kafka cluster without seeing each other's events.

use std::time::Duration;

use crate::events::{EventKind, Lane};

/// What a topic's record key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The destination number, E.164 (so one destination's events stay in order).
    Destination,
    /// The handset number of an inbound message.
    Handset,
    /// `tenant_id/number`.
    TenantNumber,
    /// A configuration name (`route-table`, `carrier/<id>`).
    ConfigName,
    /// Whatever key the original record had.
    Original,
}

/// Kafka `cleanup.policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Delete old segments after the retention time.
    Delete,
    /// Keep the latest record per key.
    Compact,
}

/// One topic of the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// Full name, prefix included.
    pub name: String,
    /// What the key is.
    pub key: KeyKind,
    /// Events it carries (empty for dead-letter and replay topics: raw copies).
    pub events: &'static [EventKind],
    /// Cleanup policy.
    pub cleanup: Cleanup,
    /// Retention for `Delete` topics; `None` keeps forever.
    pub retention: Option<Duration>,
    /// Whether this is an audit topic (long retention, replayable).
    pub audit: bool,
}

/// Retry delay tiers: a failed attempt waits on `sms.retry.<tier>`.
pub const RETRY_TIERS: &[(&str, Duration)] = &[
    ("5s", Duration::from_secs(5)),
    ("1m", Duration::from_secs(60)),
    ("10m", Duration::from_secs(600)),
];

const DAY: u64 = 24 * 3600;
/// Default retention of audit topics.
pub const AUDIT_RETENTION: Duration = Duration::from_secs(90 * DAY);
/// Default retention of operational topics (retries, dead letters).
pub const SHORT_RETENTION: Duration = Duration::from_secs(7 * DAY);

const ROUTING_EVENTS: &[EventKind] = &[EventKind::RoutingDecided, EventKind::MessageRejected];
const ATTEMPT_EVENTS: &[EventKind] = &[
    EventKind::AttemptStarted,
    EventKind::AttemptSubmitted,
    EventKind::AttemptFailed,
    EventKind::RetryScheduled,
];

/// Topic names for one deployment (one prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    /// `sms.requests`: the public request topic (external producers, and ingest's bulk).
    pub requests: String,
    /// `sms.requests.otp`: ingest's OTP requests, read by a router consumer of their own so
    /// an OTP never queues behind a bulk backlog in `sms.requests`.
    pub requests_otp: String,
    /// `sms.requests.transactional`: ingest's transactional requests, likewise.
    pub requests_transactional: String,
    /// `sms.routing.otp`
    pub routing_otp: String,
    /// `sms.routing.transactional`
    pub routing_transactional: String,
    /// `sms.routing.bulk`
    pub routing_bulk: String,
    /// `sms.attempts`
    pub attempts: String,
    /// `sms.dlr.raw`
    pub dlr_raw: String,
    /// `sms.dlr`
    pub dlr: String,
    /// `sms.inbound`
    pub inbound: String,
    /// `sms.consent`
    pub consent: String,
    /// `sms.config`
    pub config: String,
    /// `sms.dlq`
    pub dlq: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

impl Topics {
    /// Names with `prefix` in front (`""` for the standard names).
    pub fn with_prefix(prefix: &str) -> Self {
        let n = |s: &str| format!("{prefix}{s}");
        Self {
            prefix: prefix.to_owned(),
            requests: n("sms.requests"),
            requests_otp: n("sms.requests.otp"),
            requests_transactional: n("sms.requests.transactional"),
            routing_otp: n("sms.routing.otp"),
            routing_transactional: n("sms.routing.transactional"),
            routing_bulk: n("sms.routing.bulk"),
            attempts: n("sms.attempts"),
            dlr_raw: n("sms.dlr.raw"),
            dlr: n("sms.dlr"),
            inbound: n("sms.inbound"),
            consent: n("sms.consent"),
            config: n("sms.config"),
            dlq: n("sms.dlq"),
        }
    }

    /// The prefix in use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The request topic ingest writes a request of `lane` to (bulk: the public one).
    pub fn requests_for(&self, lane: Lane) -> &str {
        match lane {
            Lane::Otp => &self.requests_otp,
            Lane::Transactional => &self.requests_transactional,
            Lane::Bulk => &self.requests,
        }
    }

    /// Every request topic, OTP first.
    pub fn request_topics(&self) -> [&str; 3] {
        [
            &self.requests_otp,
            &self.requests_transactional,
            &self.requests,
        ]
    }

    /// The routing topic of `lane`.
    pub fn lane(&self, lane: Lane) -> &str {
        match lane {
            Lane::Otp => &self.routing_otp,
            Lane::Transactional => &self.routing_transactional,
            Lane::Bulk => &self.routing_bulk,
        }
    }

    /// Lane topics in strict priority order (OTP first).
    pub fn lanes(&self) -> [(Lane, &str); 3] {
        [
            (Lane::Otp, &self.routing_otp),
            (Lane::Transactional, &self.routing_transactional),
            (Lane::Bulk, &self.routing_bulk),
        ]
    }

    /// The retry topic of a delay tier, e.g. `sms.retry.5s`.
    pub fn retry(&self, tier: &str) -> String {
        format!("{}sms.retry.{tier}", self.prefix)
    }

    /// The replay topic named `name`, e.g. `sms.replay.audit-42`.
    pub fn replay(&self, name: &str) -> String {
        format!("{}sms.replay.{name}", self.prefix)
    }

    /// The whole catalog (replay topics are created on demand by the replay tool).
    pub fn catalog(&self) -> Vec<TopicSpec> {
        let spec = |name: &str, key, events, cleanup, retention, audit| TopicSpec {
            name: name.to_owned(),
            key,
            events,
            cleanup,
            retention,
            audit,
        };
        use Cleanup::{Compact, Delete};
        use KeyKind::*;
        let audit = Some(AUDIT_RETENTION);
        let short = Some(SHORT_RETENTION);
        let mut v: Vec<TopicSpec> = self
            .request_topics()
            .into_iter()
            .map(|t| {
                spec(
                    t,
                    Destination,
                    &[EventKind::SendRequested][..],
                    Delete,
                    audit,
                    true,
                )
            })
            .collect();
        v.extend([
            spec(
                &self.routing_otp,
                Destination,
                ROUTING_EVENTS,
                Delete,
                audit,
                true,
            ),
            spec(
                &self.routing_transactional,
                Destination,
                ROUTING_EVENTS,
                Delete,
                audit,
                true,
            ),
            spec(
                &self.routing_bulk,
                Destination,
                ROUTING_EVENTS,
                Delete,
                audit,
                true,
            ),
            spec(
                &self.attempts,
                Destination,
                ATTEMPT_EVENTS,
                Delete,
                audit,
                true,
            ),
            spec(
                &self.dlr_raw,
                Destination,
                &[EventKind::CarrierReceiptReceived],
                Delete,
                audit,
                true,
            ),
            spec(
                &self.dlr,
                Destination,
                &[EventKind::DeliveryReported],
                Delete,
                audit,
                true,
            ),
            spec(
                &self.inbound,
                Handset,
                &[EventKind::InboundMessageReceived],
                Delete,
                audit,
                true,
            ),
            spec(
                &self.consent,
                TenantNumber,
                &[EventKind::ConsentChanged],
                Compact,
                None,
                true,
            ),
            spec(
                &self.config,
                ConfigName,
                &[EventKind::RouteTablePublished, EventKind::CarrierConfigured],
                Compact,
                None,
                true,
            ),
            spec(&self.dlq, Original, &[], Delete, short, false),
        ]);
        for (tier, _) in RETRY_TIERS {
            v.push(spec(
                &self.retry(tier),
                Destination,
                &[EventKind::RoutingDecided],
                Delete,
                short,
                false,
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_home_topic() {
        let cat = Topics::default().catalog();
        for k in EventKind::ALL {
            assert!(cat.iter().any(|t| t.events.contains(k)), "{k} has no topic");
        }
    }

    #[test]
    fn prefix_applies_to_every_name() {
        let t = Topics::with_prefix("t1.");
        assert!(t.catalog().iter().all(|s| s.name.starts_with("t1.sms.")));
        assert_eq!(t.retry("5s"), "t1.sms.retry.5s");
    }

    #[test]
    fn consent_and_config_are_compacted() {
        let t = Topics::default();
        for s in t.catalog() {
            let compact = s.name == t.consent || s.name == t.config;
            assert_eq!(s.cleanup == Cleanup::Compact, compact, "{}", s.name);
        }
    }
}
