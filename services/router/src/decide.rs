//! The routing decision for one `SendRequested`: reject (expired, too long, no route) or
//! route (carrier, failover, encoding, segments, cost, table version).

use smsflow_events::{
    EXPIRED_CODE, Encoding, EventId, EventMeta, MessageRejected, OPTED_OUT_CODE, RoutingDecided,
    SendRequested, Timestamp,
};
use smsflow_sms::{Options, encode, preview};

use crate::PRODUCER;
use crate::config::ValidityConfig;
use crate::routes::RouteTable;

/// Most segments a message may need (the concatenation header counts to 255).
pub const MAX_SEGMENTS: usize = 255;

/// What the router decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Route it.
    Routed(Box<RoutingDecided>),
    /// Refuse it.
    Rejected(Box<MessageRejected>),
}

/// The rejection of `req`, with this code and reason (also the end of a request the router
/// dead-letters).
pub(crate) fn rejection(req: &SendRequested, code: &str, reason: String) -> MessageRejected {
    MessageRejected {
        meta: EventMeta::derived(PRODUCER, &req.meta, "rejected"),
        message_id: req.message_id,
        tenant_id: req.tenant_id.clone(),
        to: req.to.clone(),
        lane: req.lane,
        reason_code: code.to_owned(),
        reason,
    }
}

fn reject(req: &SendRequested, code: &str, reason: String) -> Decision {
    Decision::Rejected(Box::new(rejection(req, code, reason)))
}

/// Decides what happens to `req` with `table`, at `now`. A request without an expiry gets
/// the default `validity` of its type, counted from when it was requested. `opted_out`: the
/// consent event that stops it, if any (`consent::ConsentBook::blocks`).
pub fn decide(
    req: &SendRequested,
    table: &RouteTable,
    validity: &ValidityConfig,
    opted_out: Option<EventId>,
    now: Timestamp,
) -> Decision {
    let expires_at = req.expires_at.unwrap_or_else(|| {
        req.meta
            .occurred_at
            .plus(validity.for_type(req.message_type))
    });
    if expires_at <= now {
        return reject(req, EXPIRED_CODE, "validity ended before routing".into());
    }
    if let Some(consent) = opted_out {
        return reject(
            req,
            OPTED_OUT_CODE,
            format!("the recipient opted out (consent event {consent})"),
        );
    }
    let opts = Options::default().with_smart_replacement(req.smart_encoding);
    let p = preview(&req.text, &opts);
    if p.parts > MAX_SEGMENTS {
        return reject(
            req,
            "TOO_LONG",
            format!("needs {} segments, at most {MAX_SEGMENTS}", p.parts),
        );
    }
    let Some(route) = table.select(&req.to, &req.tenant_id, req.lane) else {
        return reject(
            req,
            "NO_ROUTE",
            format!("no route for this destination in table v{}", table.version),
        );
    };
    let segments = i32::try_from(p.parts).unwrap_or(i32::MAX);
    Decision::Routed(Box::new(RoutingDecided {
        meta: EventMeta::derived(PRODUCER, &req.meta, "routed"),
        message_id: req.message_id,
        tenant_id: req.tenant_id.clone(),
        to: req.to.clone(),
        from: req.from.clone(),
        // The text as it will be sent (look-alikes replaced when the client asked), so the
        // dispatcher submits exactly the encoding and segments decided and charged here.
        text: if req.smart_encoding {
            encode(&req.text, &opts).text
        } else {
            req.text.clone()
        },
        message_type: req.message_type,
        lane: req.lane,
        attempt: 1,
        carrier_id: route.carrier_id.clone(),
        route_id: route.route_id.clone(),
        route_table_version: table.version,
        failover: route.failover.clone(),
        encoding: match p.encoding {
            smsflow_sms::Encoding::Gsm7 => Encoding::Gsm7,
            smsflow_sms::Encoding::Ucs2 => Encoding::Ucs2,
        },
        segments,
        cost_micros: route.cost_micros.saturating_mul(i64::from(segments)),
        currency: route.currency.clone(),
        not_before: req.send_at,
        expires_at: Some(expires_at),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteTableConfig;
    use smsflow_events::*;
    use std::time::Duration;

    /// The defaults: OTP 10 minutes, marketing 2 days.
    const V: &ValidityConfig = &ValidityConfig::DEFAULT;

    fn req(text: &str) -> SendRequested {
        let mut r = smsflow_events::arbitrary::sample_request("+447700900123");
        r.text = text.into();
        r.message_type = MessageType::Otp;
        r.lane = Lane::Otp;
        r
    }

    fn table() -> RouteTable {
        RouteTable::from_config(&RouteTableConfig::default()).unwrap()
    }

    #[test]
    fn routes_with_encoding_segments_and_cost() {
        let Decision::Routed(d) =
            decide(&req(&"é🙂".repeat(40)), &table(), V, None, Timestamp::now())
        else {
            panic!()
        };
        assert_eq!(d.encoding, Encoding::Ucs2);
        // 40 × (é: 1 unit + 🙂: 2 units) = 120 UTF-16 units: two parts of at most 67.
        assert_eq!(d.segments, 2);
        assert_eq!(d.cost_micros, 5_000 * 2);
        assert_eq!(d.carrier_id.as_str(), "sim");
        assert_eq!(d.route_table_version, 1);
    }

    #[test]
    fn smart_encoding_sends_the_replaced_text() {
        let mut r = req("It\u{2019}s \u{201c}fine\u{201d} \u{2014} ok");
        r.smart_encoding = true;
        let Decision::Routed(d) = decide(&r, &table(), V, None, Timestamp::now()) else {
            panic!()
        };
        assert_eq!(d.encoding, Encoding::Gsm7);
        assert_eq!(d.text, "It's \"fine\" - ok");
    }

    #[test]
    fn the_same_request_gets_the_same_decision_id() {
        let r = req("hi");
        let (Decision::Routed(a), Decision::Routed(b)) = (
            decide(&r, &table(), V, None, Timestamp::now()),
            decide(&r, &table(), V, None, Timestamp::now()),
        ) else {
            panic!()
        };
        assert_eq!(a.meta.event_id, b.meta.event_id);
        assert_eq!(a.meta.causation_id, Some(r.meta.event_id));
    }

    #[test]
    fn expired_and_unroutable_are_rejected_with_codes() {
        let mut r = req("hi");
        r.expires_at = Some(Timestamp::from_micros(1));
        let Decision::Rejected(x) = decide(&r, &table(), V, None, Timestamp::now()) else {
            panic!()
        };
        assert_eq!(x.reason_code, EXPIRED_CODE);
        let empty = RouteTable {
            version: 2,
            routes: vec![],
        };
        let Decision::Rejected(x) = decide(&req("hi"), &empty, V, None, Timestamp::now()) else {
            panic!()
        };
        assert_eq!(x.reason_code, "NO_ROUTE");
        let consent = EventId::new();
        let Decision::Rejected(x) =
            decide(&req("hi"), &table(), V, Some(consent), Timestamp::now())
        else {
            panic!("an opted-out recipient's request is routed")
        };
        assert_eq!(x.reason_code, OPTED_OUT_CODE);
        assert!(x.reason.contains(&consent.to_string()), "{}", x.reason);
    }

    #[test]
    fn a_request_without_expiry_gets_its_types_validity_and_is_rejected_after_it() {
        let r = req("code 1234"); // an OTP requested now
        let Decision::Routed(d) = decide(&r, &table(), V, None, Timestamp::now()) else {
            panic!("a fresh OTP is routed");
        };
        assert_eq!(
            d.expires_at,
            Some(r.meta.occurred_at.plus(Duration::from_secs(600))),
            "the decision carries the expiry the dispatcher enforces"
        );
        // The same request read again 11 minutes later (offsets lost, a replay): not sent.
        let later = r.meta.occurred_at.plus(Duration::from_secs(660));
        let Decision::Rejected(x) = decide(&r, &table(), V, None, later) else {
            panic!("an OTP past its validity is rejected");
        };
        assert_eq!(x.reason_code, EXPIRED_CODE);
        // A bulk message of the same age is still good for two days.
        let mut bulk = r.clone();
        bulk.message_type = MessageType::Marketing;
        bulk.lane = Lane::Bulk;
        assert!(matches!(
            decide(&bulk, &table(), V, None, later),
            Decision::Routed(_)
        ));
    }

    #[test]
    fn an_expiry_the_client_gave_wins_over_the_default() {
        let mut r = req("code 1234");
        let asked = r.meta.occurred_at.plus(Duration::from_secs(3600));
        r.expires_at = Some(asked);
        let at = r.meta.occurred_at.plus(Duration::from_secs(1800));
        let Decision::Routed(d) = decide(&r, &table(), V, None, at) else {
            panic!("within the client's validity");
        };
        assert_eq!(d.expires_at, Some(asked));
    }
}
