//! Strict priority in the submit queue, against the scriptable mock SMSC.
//!
//! Every test holds the first submit's answer ([`Reply::Hold`]) with a window of 1, so
//! nothing else can be written; queues the backlog and the higher-lane parts, checks they are
//! all queued (the client's queue depths), then releases the answer. The order in which the
//! SMSC receives the following submits is then decided by the client alone: no sleeps for
//! ordering.

mod common;

use std::time::Duration;

use common::mock_smsc::{Body, MockSmsc, Reply, Submit};
use common::{WAIT, init_tracing, test_config};
use smsflow_smpp::{
    CarrierConfig, Inbound, Lane, NotSentReason, PartFailure, SmppClient, SubmitReport,
    SubmitRequest, UnknownReason,
};
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;

const OTP_TO: &str = "447700900999";
const TRANSACTIONAL_TO: &str = "447700900888";

fn bulk(n: usize) -> SubmitRequest {
    SubmitRequest::new("ACME", format!("4477001{n:05}"), "bulk offer", 1).with_lane(Lane::Bulk)
}

fn otp() -> SubmitRequest {
    SubmitRequest::new("ACME", OTP_TO, "code 123456", 2).with_lane(Lane::Otp)
}

/// The first submit's answer is held until [`MockSmsc::release_held`]; then `rest`.
async fn mock_holding_first(first: Reply) -> MockSmsc {
    MockSmsc::start(move |_, i| {
        if i == 0 {
            Reply::Hold(Box::new(first.clone()))
        } else {
            Reply::Ok(format!("id{i}"))
        }
    })
    .await
}

async fn started(config: CarrierConfig) -> (SmppClient, Receiver<Inbound>) {
    let (client, inbound) = SmppClient::start(config).expect("start");
    assert!(
        client.wait_until_bound(1, WAIT).await,
        "client did not bind"
    );
    (client, inbound)
}

fn spawn_submit(client: &SmppClient, request: SubmitRequest) -> JoinHandle<SubmitReport> {
    let client = client.clone();
    tokio::spawn(async move { client.submit(request).await.expect("submit") })
}

/// Waits until `client` has exactly `depth` parts queued in `lane`.
async fn queued(client: &SmppClient, lane: Lane, depth: usize) {
    let reached = tokio::time::timeout(WAIT, async {
        while client.queue_depth(lane) != depth {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "{lane:?} queue depth {} instead of {depth}",
        client.queue_depth(lane)
    );
}

/// The UDH sequence number of a multipart submit (8-bit reference UDH).
fn udh_seq(submit: &Submit) -> u8 {
    assert_eq!(submit.esm_class & 0x40, 0x40, "UDH expected");
    submit.short_message[5]
}

#[tokio::test]
async fn an_otp_overtakes_a_bulk_backlog_larger_than_the_window() {
    init_tracing();
    let mock = mock_holding_first(Reply::Ok("held".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    let (client, _inbound) = started(cfg).await;

    // 500 bulk messages: one is written and holds the only window slot, 499 wait.
    let bulk: Vec<_> = (0..500).map(|n| spawn_submit(&client, bulk(n))).collect();
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    queued(&client, Lane::Bulk, 499).await;
    let otp = spawn_submit(&client, otp());
    queued(&client, Lane::Otp, 1).await;
    assert_eq!(mock.submits().len(), 1, "the window of 1 is full");

    mock.release_held();
    assert!(otp.await.expect("join").all_accepted());
    for handle in bulk {
        assert!(handle.await.expect("join").all_accepted());
    }

    let submits = mock.submits();
    assert_eq!(submits.len(), 501);
    assert_eq!(
        submits[1].destination, OTP_TO,
        "the OTP is the first submit written once the window has room"
    );
    assert_eq!(submits[1].priority_flag, 3, "OTP priority_flag");
    for (i, submit) in submits.iter().enumerate().filter(|(i, _)| *i != 1) {
        assert_ne!(submit.destination, OTP_TO, "submit {i}");
        assert_eq!(submit.priority_flag, 0, "bulk priority_flag of submit {i}");
    }
    assert_eq!(client.queue_depth(Lane::Bulk), 0);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_bulk_queue_never_blocks_higher_lanes() {
    init_tracing();
    let mock = mock_holding_first(Reply::Ok("held".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    cfg.submit_queue = 4;
    let (client, _inbound) = started(cfg).await;

    // 1 written, 4 queued (the bulk lane is full), 5 callers waiting for room.
    let bulk: Vec<_> = (0..10).map(|n| spawn_submit(&client, bulk(n))).collect();
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    queued(&client, Lane::Bulk, 4).await;
    let transactional = spawn_submit(
        &client,
        SubmitRequest::new("ACME", TRANSACTIONAL_TO, "your parcel", 3),
    );
    let otp = spawn_submit(&client, otp());
    // With one shared bounded queue these would wait behind the blocked bulk callers.
    queued(&client, Lane::Transactional, 1).await;
    queued(&client, Lane::Otp, 1).await;

    mock.release_held();
    assert!(otp.await.expect("join").all_accepted());
    assert!(transactional.await.expect("join").all_accepted());
    for handle in bulk {
        assert!(handle.await.expect("join").all_accepted());
    }
    let submits = mock.submits();
    assert_eq!(submits.len(), 12);
    let order: Vec<(&str, u8)> = submits[1..3]
        .iter()
        .map(|s| (s.destination.as_str(), s.priority_flag))
        .collect();
    assert_eq!(order, vec![(OTP_TO, 3), (TRANSACTIONAL_TO, 1)]);
    assert!(submits[3..].iter().all(|s| s.priority_flag == 0));
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn multipart_messages_keep_their_part_order_across_lanes() {
    init_tracing();
    let mock = mock_holding_first(Reply::Ok("held".into())).await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    let (client, _inbound) = started(cfg).await;

    let long_bulk =
        SubmitRequest::new("ACME", "447700100001", "b".repeat(400), 7).with_lane(Lane::Bulk);
    let long_otp = SubmitRequest::new("ACME", OTP_TO, "o".repeat(200), 8).with_lane(Lane::Otp);
    let bulk = spawn_submit(&client, long_bulk);
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    queued(&client, Lane::Bulk, 2).await;
    let otp = spawn_submit(&client, long_otp);
    queued(&client, Lane::Otp, 2).await;

    mock.release_held();
    let otp = otp.await.expect("join");
    let bulk = bulk.await.expect("join");
    assert!(otp.all_accepted() && bulk.all_accepted());
    let seqs: Vec<u8> = otp.parts.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, vec![1, 2], "outcomes in part order");

    let order: Vec<(String, u8)> = mock
        .submits()
        .iter()
        .map(|s| (s.destination.clone(), udh_seq(s)))
        .collect();
    let bulk_to = "447700100001".to_owned();
    assert_eq!(
        order,
        vec![
            (bulk_to.clone(), 1),
            (OTP_TO.to_owned(), 1),
            (OTP_TO.to_owned(), 2),
            (bulk_to.clone(), 2),
            (bulk_to, 3),
        ]
    );
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_throttled_bulk_part_is_not_resent_before_a_queued_otp() {
    init_tracing();
    // The first bulk part is answered ESME_RTHROTTLED once the OTP is queued.
    let mock = mock_holding_first(Reply::Status(0x58, Body::Empty)).await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    let (client, _inbound) = started(cfg).await;

    let first = spawn_submit(&client, bulk(1));
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    let second = spawn_submit(&client, bulk(2));
    queued(&client, Lane::Bulk, 1).await;
    let otp = spawn_submit(&client, otp());
    queued(&client, Lane::Otp, 1).await;

    mock.release_held();
    assert!(otp.await.expect("join").all_accepted());
    let first = first.await.expect("join");
    assert!(first.all_accepted());
    assert_eq!(first.parts[0].throttled, 1);
    assert!(second.await.expect("join").all_accepted());

    let order: Vec<String> = mock
        .submits()
        .iter()
        .map(|s| s.destination.clone())
        .collect();
    let (b1, b2) = (bulk(1).destination, bulk(2).destination);
    // The throttled part goes before newer parts of its lane, after the higher lane.
    assert_eq!(order, vec![b1.clone(), OTP_TO.to_owned(), b1, b2]);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_answers_queued_and_waiting_parts_of_every_lane_not_sent() {
    init_tracing();
    let mock = MockSmsc::start(|_, _| Reply::Silent).await;
    let mut cfg = test_config(mock.port);
    cfg.window = 1;
    cfg.submit_queue = 1;
    cfg.response_timeout_ms = 30_000;
    let (client, _inbound) = started(cfg).await;

    let written = spawn_submit(&client, bulk(1));
    assert!(mock.wait_for(|l| l.submits.len() == 1).await);
    let bulk_queued = spawn_submit(&client, bulk(2));
    queued(&client, Lane::Bulk, 1).await;
    // The bulk lane is full: this caller waits for room.
    let bulk_waiting = spawn_submit(&client, bulk(3));
    let otp_queued = spawn_submit(&client, otp());
    queued(&client, Lane::Otp, 1).await;

    client.shutdown(Duration::from_millis(200)).await;
    assert_eq!(
        written.await.expect("join").parts[0].result,
        Err(PartFailure::OutcomeUnknown {
            reason: UnknownReason::Shutdown
        })
    );
    for handle in [bulk_queued, bulk_waiting, otp_queued] {
        assert_eq!(
            handle.await.expect("join").parts[0].result,
            Err(PartFailure::NotSent {
                reason: NotSentReason::ShuttingDown
            }),
            "never written, so safe to retry"
        );
    }
    assert_eq!(mock.submits().len(), 1);
    for lane in Lane::ALL {
        assert_eq!(client.queue_depth(lane), 0);
    }
}
