//! Events for tests (feature `arbitrary`): proptest strategies for every event, which the
//! round-trip property tests use and from which tests elsewhere draw one event of each kind
//! (e.g. to hand every event type to an outside decoder), and plain samples of a request and
//! a routing decision for tests to adjust.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::*;

fn uuid() -> impl Strategy<Value = uuid::Uuid> {
    any::<u128>().prop_map(uuid::Uuid::from_u128)
}
fn ts() -> impl Strategy<Value = Timestamp> {
    (0i64..4_102_444_800_000_000).prop_map(Timestamp::from_micros)
}
fn msisdn() -> impl Strategy<Value = Msisdn> {
    "\\+[1-9][0-9]{7,14}".prop_map(|s| Msisdn::parse(&s).unwrap())
}
fn slug() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,20}"
}
fn tenant() -> impl Strategy<Value = TenantId> {
    slug().prop_map(|s| TenantId::parse(s).unwrap())
}
fn carrier() -> impl Strategy<Value = CarrierId> {
    slug().prop_map(|s| CarrierId::parse(s).unwrap())
}
fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including emoji, NUL and astral planes.
    any::<String>()
}
fn meta() -> impl Strategy<Value = EventMeta> {
    (uuid(), ts(), slug(), "[0-9.]{1,8}", option::of(uuid())).prop_map(|(id, at, p, v, c)| {
        EventMeta {
            event_id: id.into(),
            occurred_at: at,
            producer: p,
            producer_version: v,
            causation_id: c.map(Into::into),
        }
    })
}
/// One of `all`.
pub fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn send_requested() -> impl Strategy<Value = Event> {
    (
        (
            meta(),
            uuid(),
            tenant(),
            msisdn(),
            text(),
            text(),
            pick(MessageType::ALL),
            pick(Lane::ALL),
        ),
        (
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(ts()),
            option::of(ts()),
            any::<bool>(),
            slug(),
        ),
    )
        .prop_map(
            |((meta, id, t, to, from, body, mt, lane), (cr, ik, cb, sa, ea, smart, ch))| {
                SendRequested {
                    meta,
                    message_id: id.into(),
                    tenant_id: t,
                    to,
                    from,
                    text: body,
                    message_type: mt,
                    lane,
                    client_ref: cr,
                    idempotency_key: ik,
                    callback_url: cb,
                    send_at: sa,
                    expires_at: ea,
                    smart_encoding: smart,
                    channel: ch,
                }
                .into()
            },
        )
}

fn routing_decided() -> impl Strategy<Value = Event> {
    (
        (
            meta(),
            uuid(),
            tenant(),
            msisdn(),
            text(),
            text(),
            pick(MessageType::ALL),
            pick(Lane::ALL),
        ),
        (
            any::<i32>(),
            carrier(),
            slug(),
            any::<i64>(),
            vec(carrier(), 0..4),
            pick(Encoding::ALL),
            any::<i32>(),
        ),
        (any::<i64>(), "[A-Z]{3}", option::of(ts()), option::of(ts())),
    )
        .prop_map(
            |(
                (meta, id, t, to, from, body, mt, lane),
                (att, c, r, v, fo, enc, seg),
                (cost, cur, nb, ea),
            )| {
                RoutingDecided {
                    meta,
                    message_id: id.into(),
                    tenant_id: t,
                    to,
                    from,
                    text: body,
                    message_type: mt,
                    lane,
                    attempt: att,
                    carrier_id: c,
                    route_id: r,
                    route_table_version: v,
                    failover: fo,
                    encoding: enc,
                    segments: seg,
                    cost_micros: cost,
                    currency: cur,
                    not_before: nb,
                    expires_at: ea,
                }
                .into()
            },
        )
}

fn message_rejected() -> impl Strategy<Value = Event> {
    (
        meta(),
        uuid(),
        tenant(),
        msisdn(),
        pick(Lane::ALL),
        "[A-Z_]{1,20}",
        text(),
    )
        .prop_map(|(meta, id, t, to, lane, code, reason)| {
            MessageRejected {
                meta,
                message_id: id.into(),
                tenant_id: t,
                to,
                lane,
                reason_code: code,
                reason,
            }
            .into()
        })
}

fn attempts() -> impl Strategy<Value = Event> {
    let head = || (meta(), uuid(), tenant(), msisdn(), any::<i32>(), carrier());
    let ids = || vec("[0-9A-Fa-f]{1,20}", 0..5);
    prop_oneof![
        (head(), pick(Lane::ALL), any::<i32>()).prop_map(|((meta, id, t, to, a, c), lane, s)| {
            AttemptStarted {
                meta,
                message_id: id.into(),
                tenant_id: t,
                to,
                lane,
                attempt: a,
                carrier_id: c,
                segments: s,
            }
            .into()
        }),
        (head(), ids(), any::<bool>()).prop_map(|((meta, id, t, to, a, c), ids, amb)| {
            AttemptSubmitted {
                meta,
                message_id: id.into(),
                tenant_id: t,
                to,
                attempt: a,
                carrier_id: c,
                carrier_message_ids: ids,
                ambiguous: amb,
            }
            .into()
        }),
        (
            head(),
            pick(ErrorClass::ALL),
            "[A-Z_0-9x]{1,20}",
            text(),
            ids(),
            any::<bool>()
        )
            .prop_map(
                |((meta, id, t, to, a, c), class, code, reason, ids, retry)| {
                    AttemptFailed {
                        meta,
                        message_id: id.into(),
                        tenant_id: t,
                        to,
                        attempt: a,
                        carrier_id: c,
                        error_class: class,
                        error_code: code,
                        reason,
                        carrier_message_ids: ids,
                        will_retry: retry,
                    }
                    .into()
                }
            ),
        (head(), "[0-9]{1,3}[sm]", ts(), text()).prop_map(
            |((meta, id, t, to, a, c), tier, nb, reason)| {
                RetryScheduled {
                    meta,
                    message_id: id.into(),
                    tenant_id: t,
                    to,
                    attempt: a,
                    carrier_id: c,
                    delay_tier: tier,
                    not_before: nb,
                    reason,
                }
                .into()
            }
        ),
    ]
}

fn receipts() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            meta(),
            carrier(),
            text(),
            text(),
            option::of(text()),
            pick(DeliveryState::ALL),
            option::of(text()),
            option::of(ts()),
            option::of(ts()),
            "smpp|http",
        )
            .prop_map(|(meta, c, raw, norm, to, state, err, sa, da, src)| {
                CarrierReceiptReceived {
                    meta,
                    carrier_id: c,
                    carrier_message_id: raw,
                    normalized_id: norm,
                    to,
                    state,
                    error_code: err,
                    submitted_at: sa,
                    done_at: da,
                    source: src,
                }
                .into()
            }),
        (
            (
                meta(),
                uuid(),
                tenant(),
                msisdn(),
                any::<i32>(),
                carrier(),
                text()
            ),
            (
                any::<i32>(),
                any::<i32>(),
                pick(DeliveryState::ALL),
                option::of(text()),
                option::of(ts()),
                option::of(pick(TerminalStatus::ALL))
            ),
        )
            .prop_map(
                |((meta, id, t, to, a, c, cid), (si, sc, state, err, done, status))| {
                    DeliveryReported {
                        meta,
                        message_id: id.into(),
                        tenant_id: t,
                        to,
                        attempt: a,
                        carrier_id: c,
                        carrier_message_id: cid,
                        segment_index: si,
                        segment_count: sc,
                        state,
                        error_code: err,
                        done_at: done,
                        message_status: status,
                    }
                    .into()
                }
            ),
    ]
}

fn inbound_and_consent() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            meta(),
            uuid(),
            option::of(tenant()),
            msisdn(),
            text(),
            text(),
            carrier(),
            pick(Encoding::ALL),
            option::of(text()),
            option::of((0..=65_535i32, 1..=255i32, 1..=255i32)),
            vec(uuid(), 0..4)
        )
            .prop_map(|(meta, id, t, from, to, body, c, enc, kw, part, parts)| {
                InboundMessageReceived {
                    meta,
                    message_id: id.into(),
                    tenant_id: t,
                    from,
                    to,
                    text: body,
                    carrier_id: c,
                    encoding: enc,
                    keyword: kw,
                    part: part.map(|(reference, total, seq)| InboundPart {
                        reference,
                        total,
                        seq,
                    }),
                    assembled_from: parts.into_iter().map(Into::into).collect(),
                }
                .into()
            }),
        (
            meta(),
            tenant(),
            msisdn(),
            pick(ConsentStatus::ALL),
            slug(),
            option::of(text()),
            option::of(uuid())
        )
            .prop_map(|(meta, t, n, st, src, kw, ev)| {
                ConsentChanged {
                    meta,
                    tenant_id: t,
                    number: n,
                    status: st,
                    source: src,
                    keyword: kw,
                    evidence_message_id: ev.map(Into::into),
                }
                .into()
            }),
    ]
}

fn config() -> impl Strategy<Value = Event> {
    let route = (
        slug(),
        "[0-9]{0,6}",
        option::of(tenant()),
        vec(pick(Lane::ALL), 0..3),
        carrier(),
        vec(carrier(), 0..3),
        any::<i64>(),
        "[A-Z]{3}",
        any::<i32>(),
    )
        .prop_map(|(id, p, t, lanes, c, fo, cost, cur, w)| Route {
            route_id: id,
            prefix: p,
            tenant_id: t,
            lanes,
            carrier_id: c,
            failover: fo,
            cost_micros: cost,
            currency: cur,
            weight: w,
        });
    prop_oneof![
        (meta(), any::<i64>(), vec(route, 0..4)).prop_map(|(meta, v, routes)| {
            RouteTablePublished {
                meta,
                version: v,
                routes,
            }
            .into()
        }),
        (
            meta(),
            carrier(),
            any::<i64>(),
            pick(CarrierKind::ALL),
            any::<bool>(),
            any::<i32>(),
            proptest::collection::btree_map(slug(), text(), 0..4)
        )
            .prop_map(
                |(meta, c, v, kind, en, tps, settings): (
                    _,
                    _,
                    _,
                    _,
                    _,
                    _,
                    BTreeMap<String, String>
                )| {
                    CarrierConfigured {
                        meta,
                        carrier_id: c,
                        version: v,
                        kind,
                        enabled: en,
                        tps_limit: tps,
                        settings,
                    }
                    .into()
                }
            ),
    ]
}

/// Any event of any kind, every field drawn at random.
pub fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        send_requested(),
        routing_decided(),
        message_rejected(),
        attempts(),
        receipts(),
        inbound_and_consent(),
        config(),
    ]
}

/// One event of each kind, drawn deterministically (the same events on every run).
pub fn one_of_each_kind() -> Vec<Event> {
    let mut runner = TestRunner::deterministic();
    let strategy = any_event();
    let mut found: BTreeMap<&'static str, Event> = BTreeMap::new();
    for _ in 0..100_000 {
        if found.len() == EventKind::ALL.len() {
            break;
        }
        let e = strategy
            .new_tree(&mut runner)
            .expect("the strategies always generate")
            .current();
        found.entry(e.kind().name()).or_insert(e);
    }
    assert_eq!(
        found.len(),
        EventKind::ALL.len(),
        "the strategies do not reach every event kind"
    );
    let mut out: Vec<Event> = found.into_values().collect();
    out.sort_by_key(|e| EventKind::ALL.iter().position(|k| *k == e.kind()));
    out
}

/// Who the samples say produced them.
const SAMPLE_PRODUCER: Producer = Producer {
    name: "sample",
    version: "0",
};

/// A plain transactional request of tenant `acme` from `ACME` to `to` (a fresh message id and
/// event id): tests set the fields they are about.
pub fn sample_request(to: &str) -> SendRequested {
    SendRequested {
        meta: EventMeta::new(SAMPLE_PRODUCER, None),
        message_id: MessageId::new(),
        tenant_id: TenantId::parse("acme").expect("a valid tenant"),
        to: Msisdn::parse(to).expect("an E.164 number"),
        from: "ACME".into(),
        text: "hello".into(),
        message_type: MessageType::Transactional,
        lane: Lane::Transactional,
        client_ref: None,
        idempotency_key: None,
        callback_url: None,
        send_at: None,
        expires_at: None,
        smart_encoding: false,
        channel: "test".into(),
    }
}

/// A first attempt of a fresh message to `to` of type `t` (on its lane) through carrier `sim`,
/// one GSM-7 segment, no failover: tests set the fields they are about.
pub fn sample_decision(to: &str, t: MessageType) -> RoutingDecided {
    RoutingDecided {
        meta: EventMeta::new(SAMPLE_PRODUCER, None),
        message_id: MessageId::new(),
        tenant_id: TenantId::parse("acme").expect("a valid tenant"),
        to: Msisdn::parse(to).expect("an E.164 number"),
        from: "ACME".into(),
        text: "hello".into(),
        message_type: t,
        lane: Lane::for_type(t),
        attempt: 1,
        carrier_id: CarrierId::parse("sim").expect("a valid carrier id"),
        route_id: "default".into(),
        route_table_version: 1,
        failover: vec![],
        encoding: Encoding::Gsm7,
        segments: 1,
        cost_micros: 0,
        currency: "EUR".into(),
        not_before: None,
        expires_at: None,
    }
}
