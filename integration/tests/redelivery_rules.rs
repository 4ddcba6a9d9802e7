//! Guarantee 3 on a redelivery: what the dispatcher does with a decision whose attempt it
//! already recorded (a crash or a rebalance before the offset commit). Each case seeds
//! `dispatch_state` as a dispatcher that stopped at that point would have left it, hands the
//! decision to `Dispatcher::dispatch` with its history read, and checks the events it returns
//! and, in the simulator's ledger, what reached the carrier:
//!
//! - a finished attempt (SUBMITTED, FAILED) is re-emitted, never submitted again;
//! - an attempt left STARTED resumes: a type whose unknown outcomes are not resubmitted
//!   (marketing) is awaited for a while (its starter may still record the answer), then ends
//!   `OUTCOME_UNKNOWN` without a submit; one that is (OTP) sends only the segments without a
//!   recorded carrier id, flagged ambiguous;
//! - an attempt that wrote nothing (NOT_SENT) is sent as if new, not flagged ambiguous;
//! - a carrier that is not connected: the handler retries in place, and the attempt is
//!   recorded NOT_SENT (nothing written), run after run; once its breaker calls it down, the
//!   decision fails over to the next carrier of its route at once, or, with none, waits on a
//!   retry tier (it no longer holds the handler).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use dispatcher::attempt::{CARRIER_UNAVAILABLE, Dispatcher, Unwritten};
use dispatcher::breaker::{Breaker, BreakerOptions};
use dispatcher::config::UnknownOutcomePolicy;
use dispatcher::state::{AttemptState, DispatchState};
use smsflow_events::arbitrary::sample_decision;
use smsflow_events::*;
use smsflow_integration::Stack;
use smsflow_kafka::{EventProducer, HandlerError, LaneProducers, Outgoing};
use smsflow_smpp::{CarrierConfig, Secret, SmppClient};

/// Long enough for two segments in GSM-7 (161+ septets).
const LONG: &str = "Your parcel 0042 is out for delivery today between 10:00 and 12:00. \
                    Reply STOP to opt out of these updates; reply HELP for help; visit our \
                    site for more details and options.";

fn decision(to: &str, t: MessageType, text: &str) -> RoutingDecided {
    let mut d = sample_decision(to, t);
    d.text = text.into();
    d
}

/// How long a STARTED attempt of a type that never resubmits is awaited here.
const SETTLE: Duration = Duration::from_secs(3);

struct Bench {
    dispatcher: Dispatcher,
    sim: carrier_sim::RunningSim,
}

const SCENARIO: &str = r#"
[[accounts]]
system_id = "smsflow"
password = "secret"

[scenario.receipts]
outcomes = [{ state = "DELIVRD", weight = 1.0 }]
"#;

/// A dispatcher on the shared keyspace (fresh message ids), bound to a fresh simulator (`connected`), or to a
/// port nothing listens on.
async fn bench(connected: bool) -> Bench {
    let stack = Stack::from_env();
    stack.require().await;
    let kafka = stack.isolated_kafka(1).await;
    let store_cfg = stack.store_config(false).await;
    let store = smsflow_store::Store::connect(&store_cfg).await.unwrap();
    let mut sim_cfg = carrier_sim::SimConfig::from_toml_str(SCENARIO).unwrap();
    sim_cfg.smpp_listen = "127.0.0.1:0".parse().unwrap();
    sim_cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    let sim = carrier_sim::start(sim_cfg).await.unwrap();
    // Port 1: nothing listens there (a port bound and released could be taken meanwhile by
    // another test's simulator, with the same credentials).
    let port = if connected { sim.smpp_addr().port() } else { 1 };
    let carrier_cfg = CarrierConfig {
        name: "sim".into(),
        host: "127.0.0.1".into(),
        port,
        system_id: "smsflow".into(),
        password: Secret("secret".into()),
        sessions: 1,
        ..Default::default()
    };
    let (client, _inbound) = SmppClient::start(carrier_cfg.clone()).unwrap();
    if connected {
        assert!(client.wait_until_bound(1, Duration::from_secs(30)).await);
    }
    // A second carrier that never binds, with a breaker that calls it down at once.
    let (down, _down_inbound) = SmppClient::start(CarrierConfig {
        name: "down".into(),
        port: 1,
        ..carrier_cfg.clone()
    })
    .unwrap();
    let breaker = Breaker::new(BreakerOptions {
        down_after: Duration::ZERO,
        ..BreakerOptions::default()
    });
    let producer =
        EventProducer::new(&kafka, Arc::new(kafka.codec().unwrap()), "redelivery").unwrap();
    let dispatcher = Dispatcher {
        state: DispatchState::new(store).await.unwrap(),
        carriers: HashMap::from([
            (CarrierId::parse("sim").unwrap(), client),
            (CarrierId::parse("down").unwrap(), down),
        ]),
        breakers: HashMap::from([(CarrierId::parse("down").unwrap(), breaker)]),
        slots: HashMap::new(),
        producers: LaneProducers::beside(&kafka, producer, "redelivery").unwrap(),
        topics: kafka.topics(),
        max_attempts: 4,
        resubmit_unknown: UnknownOutcomePolicy::default(),
        shutdown: smsflow_runtime::CancellationToken::new(),
        settle: SETTLE,
        unwritten: Unwritten::default(),
    };
    Bench { dispatcher, sim }
}

impl Bench {
    /// Records attempt 1 of `d` as a dispatcher that stopped would have left it.
    async fn seed(&self, d: &RoutingDecided, state: AttemptState, ids: &[(i32, &str)]) {
        let ids: BTreeMap<i32, String> = ids.iter().map(|(i, s)| (*i, (*s).into())).collect();
        let code = matches!(state, AttemptState::Failed(_)).then_some("SMPP_0x0000000B");
        self.dispatcher
            .state
            .set(d.lane, d.message_id, 1, "sim", state, code, &ids)
            .await
            .unwrap();
    }

    /// Redelivers `d`: its history is read, as for any record at or below the claim.
    async fn redeliver(&self, d: &RoutingDecided) -> Result<Vec<Outgoing>, HandlerError> {
        self.dispatcher.dispatch(d, false, None).await
    }

    /// Segment numbers of `to` the carrier received (1 for a single part).
    fn at_carrier(&self, to: &str) -> Vec<u8> {
        let mut seqs: Vec<u8> = self
            .sim
            .ledger()
            .segments(to)
            .iter()
            .map(|s| s.concat.as_ref().map_or(1, |c| c.seq))
            .collect();
        seqs.sort_unstable();
        seqs
    }
}

fn only<T>(out: &[Outgoing], pick: impl Fn(&Event) -> Option<&T>) -> &T {
    let found: Vec<&T> = out.iter().filter_map(|o| pick(&o.event)).collect();
    assert_eq!(found.len(), 1, "{out:#?}");
    found[0]
}

fn submitted(out: &[Outgoing]) -> &AttemptSubmitted {
    only(out, |e| match e {
        Event::AttemptSubmitted(s) => Some(s),
        _ => None,
    })
}

fn failed(out: &[Outgoing]) -> &AttemptFailed {
    only(out, |e| match e {
        Event::AttemptFailed(f) => Some(f),
        _ => None,
    })
}

#[tokio::test]
async fn a_finished_attempt_is_re_emitted_and_never_submitted_again() {
    let b = bench(true).await;
    let sub = decision("+447700900301", MessageType::Marketing, "hello");
    b.seed(&sub, AttemptState::Submitted, &[(1, "c-301")]).await;
    let out = b.redeliver(&sub).await.unwrap();
    let s = submitted(&out);
    assert_eq!(s.carrier_message_ids, vec!["c-301".to_owned()]);
    assert_eq!(
        s.meta.event_id,
        EventId::derived(sub.meta.event_id.as_uuid(), "attempt-submitted"),
        "re-emitted with the id of the first emission"
    );

    let fail = decision("+447700900302", MessageType::Marketing, "hello");
    b.seed(&fail, AttemptState::Failed(ErrorClass::Permanent), &[])
        .await;
    let out = b.redeliver(&fail).await.unwrap();
    let f = failed(&out);
    assert_eq!(f.error_class, ErrorClass::Permanent);
    assert_eq!(f.error_code, "SMPP_0x0000000B");
    assert!(!f.will_retry);

    assert!(b.at_carrier("447700900301").is_empty());
    assert!(b.at_carrier("447700900302").is_empty());
    b.sim.shutdown().await;
}

/// ADR 12, decision 10: an attempt found STARTED may belong to an instance that is alive and
/// about to record the carrier's answer (it lost the partition after writing), so it is
/// awaited; only once that could no longer happen does it count as unknown.
#[tokio::test]
async fn a_started_attempt_that_may_not_duplicate_is_awaited_then_ends_outcome_unknown() {
    let b = bench(true).await;
    // Its starter records the carrier's answer while it is awaited: re-emitted, not failed.
    let live = decision("+447700900312", MessageType::Marketing, "hello");
    b.seed(&live, AttemptState::Started, &[]).await;
    assert!(
        matches!(b.redeliver(&live).await, Err(HandlerError::Retry(_))),
        "a fresh STARTED attempt is awaited, not concluded"
    );
    b.seed(&live, AttemptState::Submitted, &[(1, "c-312")])
        .await;
    let out = b.redeliver(&live).await.unwrap();
    assert_eq!(
        submitted(&out).carrier_message_ids,
        vec!["c-312".to_owned()]
    );
    // Its starter never comes back: unknown, once the wait is over, and never sent again.
    let d = decision("+447700900311", MessageType::Marketing, "hello");
    b.seed(&d, AttemptState::Started, &[]).await;
    tokio::time::sleep(SETTLE + Duration::from_secs(1)).await;
    let out = b.redeliver(&d).await.unwrap();
    let f = failed(&out);
    assert_eq!(f.error_class, ErrorClass::OutcomeUnknown);
    assert_eq!(f.error_code, "OUTCOME_UNKNOWN");
    assert!(!f.will_retry, "marketing never risks a duplicate");
    assert!(b.at_carrier("447700900311").is_empty());
    assert!(b.at_carrier("447700900312").is_empty());
    b.sim.shutdown().await;
}

/// ADR 12, decision 16: a STARTED row whose write this instance could not confirm (the
/// store timed out, yet the row landed) stands for nothing at the carrier: the retry sends
/// it, once, instead of awaiting it and ending it unknown. Another instance's STARTED row
/// (no mark) is still awaited.
#[tokio::test]
async fn a_started_attempt_this_instance_never_wrote_is_sent_on_its_retry() {
    let b = bench(true).await;
    let d = decision("+447700900315", MessageType::Marketing, "hello");
    b.seed(&d, AttemptState::Started, &[]).await;
    // What a failed write-ahead leaves in this instance (and nothing at the carrier).
    b.dispatcher.unwritten.mark(d.message_id, 1);
    let out = b.redeliver(&d).await.unwrap();
    let s = submitted(&out);
    assert!(!s.ambiguous, "nothing of it had been written");
    assert_eq!(b.at_carrier("447700900315"), vec![1], "sent once");
    // A revoke forgets the marks: another owner may have sent it since.
    let other = decision("+447700900316", MessageType::Marketing, "hello");
    b.seed(&other, AttemptState::Started, &[]).await;
    b.dispatcher.unwritten.mark(other.message_id, 1);
    b.dispatcher.unwritten.forget_all();
    assert!(
        matches!(b.redeliver(&other).await, Err(HandlerError::Retry(_))),
        "without the mark, a STARTED attempt is awaited"
    );
    assert!(b.at_carrier("447700900316").is_empty());
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_started_otp_resends_only_its_unrecorded_segments_flagged_ambiguous() {
    let b = bench(true).await;
    let d = decision("+447700900321", MessageType::Otp, LONG);
    b.seed(&d, AttemptState::Started, &[(1, "c-321-1")]).await;
    let out = b.redeliver(&d).await.unwrap();
    let s = submitted(&out);
    assert!(
        s.ambiguous,
        "a resume after a stop mid-submit may duplicate"
    );
    assert_eq!(s.carrier_message_ids.len(), 2);
    assert_eq!(
        s.carrier_message_ids[0], "c-321-1",
        "the recorded id is kept"
    );
    assert_eq!(
        b.at_carrier("447700900321"),
        vec![2],
        "only the segment without a carrier id is sent"
    );
    b.sim.shutdown().await;
}

#[tokio::test]
async fn an_attempt_that_wrote_nothing_is_sent_as_new() {
    let b = bench(true).await;
    let d = decision("+447700900331", MessageType::Marketing, LONG);
    b.seed(&d, AttemptState::NotSent, &[]).await;
    let out = b.redeliver(&d).await.unwrap();
    let s = submitted(&out);
    assert!(!s.ambiguous, "nothing had reached the carrier");
    assert_eq!(s.carrier_message_ids.len(), 2);
    assert_eq!(b.at_carrier("447700900331"), vec![1, 2]);
    let h = b.dispatcher.state.history(d.message_id).await.unwrap();
    assert_eq!(h.attempt(1).map(|r| r.state), Some(AttemptState::Submitted));
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_carrier_not_connected_sends_nothing_and_the_handler_retries_in_place() {
    let b = bench(false).await;
    let d = decision("+447700900341", MessageType::Transactional, "hello");
    match b.redeliver(&d).await {
        Err(HandlerError::Retry(_)) => {}
        other => panic!("expected a retry in place, got {other:?}"),
    }
    let h = b.dispatcher.state.history(d.message_id).await.unwrap();
    assert_eq!(h.attempt(1).map(|r| r.state), Some(AttemptState::NotSent));
    // Run again with the history it left: still nothing sent, still a retry (not a failure).
    assert!(matches!(b.redeliver(&d).await, Err(HandlerError::Retry(_))));
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_decision_past_its_validity_is_never_sent() {
    let b = bench(true).await;
    let mut d = decision("+447700900351", MessageType::Otp, "code 1234");
    d.expires_at = Some(Timestamp::from_micros(
        Timestamp::now().as_micros() - 1_000_000,
    ));
    // Whether it comes fresh or redelivered.
    for fresh in [true, false] {
        let out = b.dispatcher.dispatch(&d, fresh, None).await.unwrap();
        let f = failed(&out);
        assert_eq!(f.error_code, EXPIRED_CODE);
        assert!(!f.will_retry);
    }
    assert!(b.at_carrier("447700900351").is_empty());
    b.sim.shutdown().await;
}

/// Issue 9, item 5: a decision for a down carrier (no bind past the grace, or its breaker
/// open) is not attempted there: it fails over to the next carrier at once, which gets it;
/// with no carrier left it is parked on a retry tier instead of retrying in place.
#[tokio::test]
async fn a_down_carriers_decision_fails_over_at_once_or_waits_for_it_unspent() {
    let b = bench(true).await;
    let mut d = decision("+447700900361", MessageType::Otp, "code 1234");
    d.carrier_id = CarrierId::parse("down").unwrap();
    d.failover = vec![CarrierId::parse("sim").unwrap()];
    let out = b.dispatcher.dispatch(&d, true, None).await.unwrap();
    let f = failed(&out);
    assert_eq!(f.error_code, CARRIER_UNAVAILABLE);
    assert!(f.will_retry);
    let next = only(&out, |e| match e {
        Event::RoutingDecided(n) => Some(n),
        _ => None,
    });
    assert_eq!(next.carrier_id.as_str(), "sim");
    assert_eq!(next.attempt, 2);
    assert!(next.failover.is_empty());
    assert!(b.at_carrier("447700900361").is_empty(), "nothing sent yet");
    let out = b.dispatcher.dispatch(next, true, None).await.unwrap();
    assert_eq!(submitted(&out).carrier_message_ids.len(), 1);
    assert_eq!(
        b.at_carrier("447700900361"),
        vec![1],
        "sent once, by the next carrier"
    );

    // Nowhere to fail over: the decision waits on a tier for its carrier, its attempt
    // unspent and nothing recorded (OTP and transactional look again in 5 s, bulk in 1 min).
    for (to, t, tier) in [
        ("+447700900362", MessageType::Marketing, "1m"),
        ("+447700900363", MessageType::Otp, "5s"),
    ] {
        let mut alone = decision(to, t, "hello");
        alone.carrier_id = CarrierId::parse("down").unwrap();
        alone.failover = vec![];
        let out = b.dispatcher.dispatch(&alone, true, None).await.unwrap();
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].topic, b.dispatcher.topics.retry(tier));
        let Event::RoutingDecided(again) = &out[0].event else {
            panic!("not the decision again: {out:#?}");
        };
        assert_eq!(
            (again.message_id, again.attempt),
            (alone.message_id, alone.attempt),
            "the same attempt waits"
        );
        assert_ne!(again.meta.event_id, alone.meta.event_id);
        let history = b.dispatcher.state.history(alone.message_id).await.unwrap();
        assert!(history.attempt(alone.attempt).is_none(), "no attempt spent");
        assert!(b.at_carrier(&to[1..]).is_empty());
    }
    b.sim.shutdown().await;
}
