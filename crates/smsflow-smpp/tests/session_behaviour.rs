//! Session behaviour against a scriptable mock SMSC: exact control over single PDUs.

mod common;

use std::time::Duration;

use common::mock_smsc::{Body, MockSmsc, Reply, deliver_body, pdu};
use common::{WAIT, init_tracing, test_config};
use smsflow_smpp::{
    BindMode, CarrierConfig, ErrorClass, IdFormat, IdSource, Inbound, InboundEvent, NotSentReason,
    PartFailure, ReceiptState, SmppClient, StatusClass, SubmitRequest, UnknownReason,
};

fn request(n: usize) -> SubmitRequest {
    SubmitRequest::new("ACME", format!("4477009{n:05}"), "hello", 1)
}

async fn started(config: CarrierConfig) -> (SmppClient, tokio::sync::mpsc::Receiver<Inbound>) {
    let (client, inbound) = SmppClient::start(config).expect("start");
    assert!(
        client.wait_until_bound(1, WAIT).await,
        "client did not bind"
    );
    (client, inbound)
}

#[tokio::test]
async fn submit_accepted_with_normalised_hex_id() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("00FF".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.message_id.submit_response = IdFormat::Hex;
    let (client, _inbound) = started(cfg).await;
    let report = client.submit(request(1)).await.expect("submit");
    assert_eq!(report.parts.len(), 1);
    let accepted = report.parts[0].result.as_ref().expect("accepted");
    assert_eq!(accepted.raw_message_id, "00FF");
    assert_eq!(accepted.message_id.as_str(), "255");
    assert_eq!(mock.log.lock().unwrap().binds[0].0, 0x9, "bind_transceiver");
    client.shutdown(Duration::from_secs(1)).await;
    assert!(
        mock.wait_for(|l| l.unbinds == 1).await,
        "unbind sent at shutdown"
    );
}

#[tokio::test]
async fn throttling_with_empty_and_nul_bodies_is_resent_not_failed() {
    init_tracing();
    // First two answers throttle (no body, then a single NUL), then accept.
    let mock = MockSmsc::start(|_, i| match i {
        0 => Reply::Status(0x58, Body::Empty),
        1 => Reply::Status(0x14, Body::Nul),
        _ => Reply::Ok(format!("id{i}")),
    })
    .await;
    let (client, _inbound) = started(test_config(mock.port)).await;
    let report = client.submit(request(1)).await.expect("submit");
    let part = &report.parts[0];
    assert!(part.result.is_ok(), "{part:?}");
    assert_eq!(part.throttled, 2);
    assert_eq!(mock.submits().len(), 3);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn error_response_with_nul_body_is_a_classified_rejection() {
    init_tracing();
    let mock = MockSmsc::start(|_, i| match i {
        0 => Reply::Status(0x0B, Body::Nul),
        _ => Reply::Status(0x08, Body::Empty),
    })
    .await;
    let (client, _inbound) = started(test_config(mock.port)).await;
    let first = client.submit(request(1)).await.expect("submit");
    match &first.parts[0].result {
        Err(PartFailure::Rejected { status, class }) => {
            assert_eq!(status.0, 0x0B);
            assert_eq!(*class, StatusClass::Permanent);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(first.parts[0].class(), Some(ErrorClass::Permanent));
    let second = client.submit(request(2)).await.expect("submit");
    assert_eq!(second.parts[0].class(), Some(ErrorClass::Retry));
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn timeout_is_outcome_unknown_never_resent_and_link_survives() {
    init_tracing();
    let mock = MockSmsc::start(|_, i| {
        if i == 0 {
            Reply::Silent
        } else {
            Reply::Ok("2".into())
        }
    })
    .await;
    let mut cfg = test_config(mock.port);
    cfg.response_timeout_ms = 300;
    let (client, _inbound) = started(cfg).await;
    let first = client.submit(request(1)).await.expect("submit");
    assert_eq!(
        first.parts[0].result,
        Err(PartFailure::OutcomeUnknown {
            reason: UnknownReason::Timeout(Duration::from_millis(300))
        })
    );
    assert_eq!(first.parts[0].class(), Some(ErrorClass::OutcomeUnknown));
    let second = client.submit(request(2)).await.expect("submit");
    assert!(second.parts[0].result.is_ok());
    // Exactly two submits reached the carrier: the unknown one was not resent.
    assert_eq!(mock.submits().len(), 2);
    assert_eq!(
        mock.log.lock().unwrap().connections,
        1,
        "no reconnect on a timeout"
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn link_drop_mid_window_reports_unknown_then_reconnects() {
    init_tracing();
    // The first 4 submits are held without an answer; the 5th makes the mock drop the link.
    let mock = MockSmsc::start(|_, i| match i {
        0..=3 => Reply::Silent,
        4 => Reply::Drop,
        _ => Reply::Ok(format!("after{i}")),
    })
    .await;
    let mut cfg = test_config(mock.port);
    cfg.window = 10;
    let (client, _inbound) = started(cfg).await;
    let mut handles = Vec::new();
    for n in 0..5 {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(request(n)).await }));
        // Keep the order deterministic: each submit is at the SMSC before the next is made,
        // so the 5th (the drop) goes last.
        if n < 4 {
            assert!(mock.wait_for(|l| l.submits.len() > n).await, "submit {n}");
        }
    }
    let mut unknown = 0;
    for h in handles {
        let report = h.await.expect("join").expect("submit");
        match &report.parts[0].result {
            Err(PartFailure::OutcomeUnknown {
                reason: UnknownReason::LinkLost,
            }) => unknown += 1,
            other => panic!("expected outcome unknown, got {other:?}"),
        }
    }
    assert_eq!(unknown, 5);
    assert!(client.wait_until_bound(1, WAIT).await, "reconnected");
    let after = client.submit(request(9)).await.expect("submit");
    assert!(after.parts[0].result.is_ok(), "{after:?}");
    assert_eq!(mock.log.lock().unwrap().connections, 2);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn not_connected_is_not_sent() {
    init_tracing();
    // Nothing listens on this port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let (client, _inbound) = SmppClient::start(test_config(port)).expect("start");
    let report = client.submit(request(1)).await.expect("submit");
    assert_eq!(
        report.parts[0].result,
        Err(PartFailure::NotSent {
            reason: NotSentReason::NotConnected
        })
    );
    assert_eq!(report.parts[0].class(), Some(ErrorClass::Retry));
    client.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn window_limits_outstanding_requests() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Silent).await;
    let mut cfg = test_config(mock.port);
    cfg.window = 3;
    cfg.response_timeout_ms = 800;
    let (client, _inbound) = started(cfg).await;
    let mut handles = Vec::new();
    for n in 0..5 {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(request(n)).await }));
    }
    assert!(mock.wait_for(|l| l.submits.len() >= 3).await);
    for h in handles {
        let report = h.await.expect("join").expect("submit");
        assert_eq!(report.parts[0].class(), Some(ErrorClass::OutcomeUnknown));
    }
    let submits = mock.submits();
    assert_eq!(submits.len(), 5);
    // Only a window's worth is written at once: the 4th and 5th go out once slots are freed
    // by the first three timing out, never sooner than the response timeout after them.
    for later in &submits[3..] {
        let after_first = later.at.duration_since(submits[0].at);
        assert!(
            after_first >= Duration::from_millis(800),
            "a submit beyond the window went out {after_first:?} after the first"
        );
    }
    client.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn tps_limit_paces_submits() {
    init_tracing();
    let mock = MockSmsc::start(|_, i| Reply::Ok(i.to_string())).await;
    let mut cfg = test_config(mock.port);
    cfg.tps_per_session = Some(20);
    let (client, _inbound) = started(cfg).await;
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for n in 0..21 {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(request(n)).await }));
    }
    for h in handles {
        assert!(h.await.expect("join").expect("submit").all_accepted());
    }
    // 21 submits at 20/s with a burst of 1 cannot finish in under a second if the limiter
    // works. A lower bound on pacing (the limiter's correctness), not a speed measurement:
    // a slow machine only makes it pass more easily.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn answers_peer_enquire_link_and_unknown_commands_and_sends_its_own() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("1".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.enquire_link_interval_secs = 1;
    let (client, _inbound) = started(cfg).await;
    mock.send_raw(pdu(0x15, 0, 77, &[]));
    mock.send_raw(pdu(0x0000_0111, 0, 78, &[]));
    assert!(
        mock.wait_for(|l| l.responses.contains(&(0x8000_0015, 0, 77)))
            .await,
        "enquire_link_resp"
    );
    assert!(
        mock.wait_for(|l| l.responses.contains(&(0x8000_0000, 0x03, 78)))
            .await,
        "generic_nack with ESME_RINVCMDID"
    );
    assert!(
        mock.wait_for(|l| l.enquire_links >= 1).await,
        "own enquire_link"
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn receipt_with_unterminated_tlv_id_is_delivered_then_acknowledged() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("1A2B".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.message_id.submit_response = IdFormat::Hex;
    cfg.message_id.receipt_tlv = IdFormat::Hex;
    cfg.message_id.receipt_text = IdFormat::Decimal;
    let (client, mut inbound) = started(cfg).await;
    let report = client.submit(request(1)).await.expect("submit");
    let accepted = report.parts[0].result.clone().expect("accepted");

    // receipted_message_id without its NUL: a strict decoder refuses the whole PDU.
    let body = deliver_body(
        "447700900001",
        "ACME",
        0x04,
        0,
        b"id:6699 sub:001 dlvrd:001 submit date:2611252240 done date:2611252241 stat:DELIVRD err:000",
        &[(0x001E, b"1a2b"), (0x0427, &[2])],
    );
    mock.send_raw(pdu(0x5, 0, 500, &body));
    // A text-only receipt with the decimal id.
    let body = deliver_body(
        "447700900001",
        "ACME",
        0x04,
        0,
        b"id:6699 stat:UNDELIV err:001 Text:hi",
        &[],
    );
    mock.send_raw(pdu(0x5, 0, 501, &body));

    for (expected_source, expected_state) in [
        (IdSource::ReceiptTlv, ReceiptState::Delivered),
        (IdSource::ReceiptText, ReceiptState::Undeliverable),
    ] {
        let event = tokio::time::timeout(WAIT, inbound.recv())
            .await
            .expect("event")
            .expect("open")
            .acknowledge();
        let InboundEvent::Receipt(receipt) = event else {
            panic!("receipt expected, got {event:?}");
        };
        assert_eq!(receipt.message_id, accepted.message_id);
        assert_eq!(receipt.id_source, expected_source);
        assert_eq!(receipt.state, Some(expected_state));
    }
    assert!(
        mock.wait_for(|l| l.responses.contains(&(0x8000_0005, 0, 500))
            && l.responses.contains(&(0x8000_0005, 0, 501)))
            .await,
        "deliver_sm_resp for both"
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn mo_message_is_decoded() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("1".into())).await;
    let (client, mut inbound) = started(test_config(mock.port)).await;
    let mut sm = vec![0x05, 0x00, 0x03, 0x07, 0x02, 0x02];
    sm.extend(smsflow_sms::gsm7::encode("STOP {now}").expect("gsm7"));
    let body = deliver_body("447700900001", "12345", 0x40, 0, &sm, &[]);
    mock.send_raw(pdu(0x5, 0, 9, &body));
    let event = tokio::time::timeout(WAIT, inbound.recv())
        .await
        .expect("event")
        .expect("open")
        .acknowledge();
    let InboundEvent::Mo(mo) = event else {
        panic!("mo expected, got {event:?}");
    };
    assert_eq!(mo.text, "STOP {now}");
    assert_eq!(mo.source_addr, "447700900001");
    assert_eq!(
        mo.concat.map(|c| (c.reference, c.total, c.seq)),
        Some((7, 2, 2))
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_reports_unanswered_submits_as_unknown() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Silent).await;
    let mut cfg = test_config(mock.port);
    cfg.response_timeout_ms = 30_000;
    let (client, _inbound) = started(cfg).await;
    let c = client.clone();
    let pending = tokio::spawn(async move { c.submit(request(1)).await });
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    client.shutdown(Duration::from_millis(300)).await;
    let report = pending.await.expect("join").expect("submit");
    assert_eq!(
        report.parts[0].result,
        Err(PartFailure::OutcomeUnknown {
            reason: UnknownReason::Shutdown
        })
    );
    let after = client.submit(request(2)).await.expect("submit");
    assert_eq!(
        after.parts[0].result,
        Err(PartFailure::NotSent {
            reason: NotSentReason::ShuttingDown
        })
    );
}

#[tokio::test]
async fn transmitter_and_receiver_binds() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("1".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.bind_mode = BindMode::TransmitterReceiver;
    cfg.sessions = 2;
    cfg.receiver_sessions = 1;
    let (client, _inbound) = SmppClient::start(cfg).expect("start");
    assert!(client.wait_until_bound(2, WAIT).await);
    assert!(mock.wait_for(|l| l.binds.len() == 3).await);
    let mut kinds: Vec<u32> = mock.log.lock().unwrap().binds.iter().map(|b| b.0).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec![0x1, 0x2, 0x2]);
    let mut handles = Vec::new();
    for n in 0..20 {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(request(n)).await }));
    }
    for h in handles {
        assert!(h.await.expect("join").expect("submit").all_accepted());
    }
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn submits_spread_over_sessions() {
    init_tracing();
    // Slow answers so that one session's window fills and the other takes work.
    let mock = MockSmsc::start(|_, i| Reply::Ok(i.to_string())).await;
    let mut cfg = test_config(mock.port);
    cfg.sessions = 3;
    cfg.window = 2;
    let (client, _inbound) = SmppClient::start(cfg).expect("start");
    assert!(client.wait_until_bound(3, WAIT).await);
    let mut handles = Vec::new();
    for n in 0..60 {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(request(n)).await }));
    }
    for h in handles {
        assert!(h.await.expect("join").expect("submit").all_accepted());
    }
    let mut per_conn = [0usize; 3];
    for s in mock.submits() {
        per_conn[s.connection] += 1;
    }
    assert!(
        per_conn.iter().filter(|n| **n > 0).count() >= 2,
        "{per_conn:?}"
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn generic_nack_to_a_submit_is_a_rejection() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Nack(0x03)).await;
    let (client, _inbound) = started(test_config(mock.port)).await;
    let report = client.submit(request(1)).await.expect("submit");
    match &report.parts[0].result {
        Err(PartFailure::Rejected { status, class }) => {
            assert_eq!(status.0, 0x03);
            assert_eq!(*class, StatusClass::Permanent);
        }
        other => panic!("unexpected {other:?}"),
    }
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn peer_unbind_is_answered_and_the_session_rebinds() {
    init_tracing();
    let mock = MockSmsc::start(|_, i| Reply::Ok(i.to_string())).await;
    let (client, _inbound) = started(test_config(mock.port)).await;
    mock.send_raw(pdu(0x6, 0, 42, &[]));
    assert!(
        mock.wait_for(|l| l.responses.contains(&(0x8000_0006, 0, 42)))
            .await,
        "unbind_resp"
    );
    assert!(mock.wait_for(|l| l.binds.len() == 2).await, "rebound");
    assert!(client.wait_until_bound(1, WAIT).await);
    assert!(
        client
            .submit(request(1))
            .await
            .expect("submit")
            .all_accepted()
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_inbound_backlog_defers_receipts_but_keeps_reading() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("1".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.inbound_channel = 1;
    cfg.inbound_backlog = 1;
    let (client, mut inbound) = started(cfg).await;
    assert!(client.wait_until_bound(1, WAIT).await);
    for seq in 1..=4u32 {
        let text = format!("id:{seq} stat:DELIVRD");
        let body = deliver_body("447700900001", "ACME", 0x04, 0, text.as_bytes(), &[]);
        mock.send_raw(pdu(0x5, 0, 100 + seq, &body));
    }
    let answered = |l: &common::mock_smsc::Log, status: u32| {
        l.responses
            .iter()
            .filter(|r| r.0 == 0x8000_0005 && r.1 == status)
            .count()
    };
    // Every receipt is answered: at most channel + backlog (2) are kept, the rest are refused
    // with ESME_RX_T_APPN (0x64) for the carrier to redeliver. None is left unanswered.
    let deferred = mock.wait_for(|l| answered(l, 0x64) >= 2).await;
    assert!(
        deferred,
        "overflow not deferred: {:?}",
        mock.log.lock().unwrap().responses
    );
    let kept = 4 - answered(&mock.log.lock().unwrap(), 0x64);
    assert!((1..=2).contains(&kept), "kept {kept} receipts");
    // The session still reads: a submit is answered while the caller has not read a receipt.
    let report = client.submit(request(9)).await.expect("submit");
    assert!(
        report.all_accepted(),
        "a submit response waited behind receipts"
    );
    for _ in 0..kept {
        let event = tokio::time::timeout(WAIT, inbound.recv())
            .await
            .expect("event")
            .expect("open")
            .acknowledge();
        assert!(matches!(event, InboundEvent::Receipt(_)));
    }
    assert!(
        mock.wait_for(|l| answered(l, 0) == kept).await,
        "the kept receipts are acknowledged once consumed"
    );
    client.shutdown(Duration::from_secs(1)).await;
}

/// Issue 9, item 2: the carrier learns a receipt was taken only when the caller says it kept
/// it: deliver_sm_resp follows the caller's answer (accepted: ESME_ROK; deferred or dropped:
/// ESME_RX_T_APPN, so the carrier delivers it again), never the hand-over.
#[tokio::test]
async fn a_deliver_sm_is_answered_only_when_the_caller_answers_it() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Ok("1".into())).await;
    let (client, mut inbound) = started(test_config(mock.port)).await;
    assert!(client.wait_until_bound(1, WAIT).await);
    for seq in 1..=3u32 {
        let text = format!("id:{seq} stat:DELIVRD");
        let body = deliver_body("447700900001", "ACME", 0x04, 0, text.as_bytes(), &[]);
        mock.send_raw(pdu(0x5, 0, 200 + seq, &body));
    }
    let mut received = Vec::new();
    for _ in 0..3 {
        let r = tokio::time::timeout(WAIT, inbound.recv())
            .await
            .expect("event")
            .expect("open");
        received.push(r);
    }
    // A submit written after the hand-over: once it is answered, anything the link wrote
    // before it (a deliver_sm_resp at hand-over) has reached the carrier too.
    assert!(
        client
            .submit(request(1))
            .await
            .expect("submit")
            .all_accepted()
    );
    let deliver_resps = |l: &common::mock_smsc::Log| {
        l.responses
            .iter()
            .filter(|r| r.0 == 0x8000_0005)
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        deliver_resps(&mock.log.lock().unwrap()),
        vec![],
        "answered before the caller kept them"
    );
    let mut received = received.into_iter();
    received.next().unwrap().ack.accept();
    received.next().unwrap().ack.defer();
    drop(received.next().unwrap());
    assert!(
        mock.wait_for(|l| deliver_resps(l).len() == 3).await,
        "every deliver_sm answered once the caller answered"
    );
    let mut answers = deliver_resps(&mock.log.lock().unwrap());
    answers.sort_by_key(|r| r.2);
    assert_eq!(
        answers,
        vec![
            (0x8000_0005, 0, 201),
            (0x8000_0005, 0x64, 202),
            (0x8000_0005, 0x64, 203)
        ]
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_dropped_submit_is_never_written_later() {
    init_tracing();
    let mock = MockSmsc::start(|_, i| {
        if i == 0 {
            Reply::Silent
        } else {
            Reply::Ok(i.to_string())
        }
    })
    .await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    cfg.response_timeout_ms = 500;
    let (client, _inbound) = started(cfg).await;
    // A holds the only window slot (no answer) ...
    let c = client.clone();
    let a = tokio::spawn(async move { c.submit(request(1)).await });
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    // ... so B waits in the queue; its caller gives up.
    let b = tokio::time::timeout(Duration::from_millis(100), client.submit(request(2))).await;
    assert!(b.is_err(), "B could not have been answered yet");
    // A times out and frees the slot: B must not be written now that nobody waits for it.
    let a = a.await.expect("join").expect("submit");
    assert_eq!(a.parts[0].class(), Some(ErrorClass::OutcomeUnknown));
    let c = client.submit(request(3)).await.expect("submit");
    assert!(c.all_accepted());
    let destinations: Vec<String> = mock
        .submits()
        .iter()
        .map(|s| s.destination.clone())
        .collect();
    assert_eq!(
        destinations,
        vec![request(1).destination, request(3).destination]
    );
    client.shutdown(Duration::from_secs(1)).await;
}

/// A part still waiting for a window slot at its write deadline is never written: the caller's
/// right to send (a dispatcher's partition lease) may have passed to another instance.
#[tokio::test]
async fn a_part_is_not_written_after_its_write_deadline() {
    init_tracing();
    let mock = MockSmsc::start(|_, i| {
        if i == 0 {
            Reply::Silent
        } else {
            Reply::Ok(i.to_string())
        }
    })
    .await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    cfg.response_timeout_ms = 600;
    let (client, _inbound) = started(cfg).await;
    // A holds the only window slot (no answer) until it times out ...
    let c = client.clone();
    let a = tokio::spawn(async move { c.submit(request(1)).await });
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    // ... while B waits for it with a deadline that passes first.
    let prepared = client.prepare(&request(2)).expect("prepare");
    let by = std::time::Instant::now() + Duration::from_millis(200);
    let b = client.submit_parts_before(prepared.parts, Some(by)).await;
    assert_eq!(
        b[0].result.as_ref().err(),
        Some(&PartFailure::NotSent {
            reason: NotSentReason::DeadlinePassed
        })
    );
    assert_eq!(
        a.await.expect("join").expect("submit").parts[0].class(),
        Some(ErrorClass::OutcomeUnknown)
    );
    // Within its deadline a part goes out as usual.
    let prepared = client.prepare(&request(3)).expect("prepare");
    let by = std::time::Instant::now() + Duration::from_secs(30);
    let c = client.submit_parts_before(prepared.parts, Some(by)).await;
    assert!(c[0].result.is_ok(), "{:?}", c[0].result);
    let destinations: Vec<String> = mock
        .submits()
        .iter()
        .map(|s| s.destination.clone())
        .collect();
    assert_eq!(
        destinations,
        vec![request(1).destination, request(3).destination]
    );
    client.shutdown(Duration::from_secs(1)).await;
}
