//! Property tests: every event survives encode → decode unchanged, and hostile bytes give a
//! typed error, never a panic. No registry involved: the datum layer and the wire framing.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use smsflow_events::codec::{decode_datum, encode_with_id};
use smsflow_events::*;

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
fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
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
            option::of(text())
        )
            .prop_map(|(meta, id, t, from, to, body, c, enc, kw)| {
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

fn any_event() -> impl Strategy<Value = Event> {
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_event_round_trips(event in any_event(), id: u32) {
        let framed = encode_with_id(id, &event).unwrap();
        let (got_id, body) = wire::split(&framed).unwrap();
        prop_assert_eq!(got_id, id);
        let back = decode_datum(event.kind(), body).unwrap();
        prop_assert_eq!(back, event);
    }

    #[test]
    fn truncated_payloads_give_a_typed_error(event in any_event(), cut in any::<prop::sample::Index>()) {
        let framed = encode_with_id(7, &event).unwrap();
        let (_, body) = wire::split(&framed).unwrap();
        let n = cut.index(body.len().max(1));
        if n < body.len() {
            let r = decode_datum(event.kind(), &body[..n]);
            prop_assert!(matches!(r, Err(DecodeError::Avro { .. })), "truncated to {} of {} decoded: {:?}", n, body.len(), r);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), kind in pick(EventKind::ALL)) {
        let _ = wire::split(&bytes);
        let _ = decode_datum(kind, &bytes);
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let event = any_event().new_tree(&mut runner).unwrap().current();
    let mut framed = encode_with_id(1, &event).unwrap();
    framed.push(0x42);
    let (_, body) = wire::split(&framed).unwrap();
    assert!(matches!(
        decode_datum(event.kind(), body),
        Err(DecodeError::Avro { .. })
    ));
}
