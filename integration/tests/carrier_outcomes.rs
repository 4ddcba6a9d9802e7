//! Guarantee 2 (no silent end) with a carrier that fails: every message ends with the
//! terminal status its carrier's answers call for, whatever they were. The simulator rejects
//! some submits (0x08 transient, 0x0B permanent) and reports the rest delivered, undeliverable,
//! expired or rejected; the dispatcher gives up after 2 attempts. For each message the status
//! view must agree with the simulator's ledger of what it answered for that number:
//!
//! | the carrier                                   | the view                          |
//! |---|---|
//! | accepted it, receipt DELIVRD                  | `delivered`                       |
//! | accepted it, receipt UNDELIV or REJECTD       | `undelivered`                     |
//! | accepted it, receipt EXPIRED                  | `expired`                         |
//! | refused every submit (permanent, or twice)    | `failed`, with the SMPP status    |
//! | refused a submit, accepted the retry          | a `retry_scheduled` step, then the receipt's status |

use std::time::Duration;

use carrier_sim::scenario::ReceiptState;
use serde_json::{Value, json};
use smsflow_integration::Stack;
use smsflow_integration::platform::{API_KEY, Options, Platform};

const SCENARIO: &str = r#"
[[accounts]]
system_id = "smsflow"
password = "secret"

[scenario]
seed = 11

[scenario.submit]
errors = [
  { status = 0x08, probability = 0.10 },
  { status = 0x0B, probability = 0.08 },
]

[scenario.receipts]
delay = { distribution = "uniform", min_ms = 20, max_ms = 60 }
outcomes = [
  { state = "DELIVRD", weight = 0.4 },
  { state = "UNDELIV", weight = 0.2, error_code = 1 },
  { state = "EXPIRED", weight = 0.2 },
  { state = "REJECTD", weight = 0.2, error_code = 2 },
]
form = "text_and_tlv"
"#;

const TERMINAL: [&str; 4] = ["delivered", "undelivered", "expired", "failed"];

/// The status the view must show for what the carrier answered for one message.
fn expected(entry: &carrier_sim::ledger::SegmentEntry) -> &'static str {
    if entry.accepted == 0 {
        return "failed";
    }
    match entry.receipts.first().map(|r| r.state) {
        Some(ReceiptState::Delivrd) => "delivered",
        Some(ReceiptState::Expired) => "expired",
        Some(_) => "undelivered",
        None => "no receipt",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_ends_with_the_status_its_carrier_answers_call_for() {
    let p = Platform::start_with(
        &Stack::from_env(),
        Options {
            scenario: SCENARIO,
            max_attempts: Some(2),
            ..Default::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let base =
        7_100_000_000 + u64::try_from(uuid::Uuid::new_v4().as_u128() % 1_000_000).unwrap() * 1000;
    let mut sent = Vec::new();
    for i in 0..120u64 {
        let to = format!("+44{}", base + i);
        let r = http
            .post(format!("{}/v1/messages", p.api()))
            .bearer_auth(API_KEY)
            .json(&json!({"to": to, "from": "ITEST", "text": format!("Alert {i}"), "priority": "transactional"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        sent.push((v["id"].as_str().unwrap().to_owned(), to));
    }

    // Every message reaches a terminal status (a retry comes 5 s after its failure).
    let mut views = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while views.len() < sent.len() {
        for (id, _) in &sent {
            if views.contains_key(id) {
                continue;
            }
            let r = http
                .get(format!("{}/v1/messages/{id}", p.api()))
                .bearer_auth(API_KEY)
                .send()
                .await
                .unwrap();
            if r.status() != 200 {
                continue;
            }
            let v: Value = r.json().await.unwrap();
            if v["status"].as_str().is_some_and(|s| TERMINAL.contains(&s)) {
                views.insert(id.clone(), v);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} messages have no terminal status",
            sent.len() - views.len(),
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let mut retried_then_accepted = 0;
    for (id, to) in &sent {
        let v = &views[id];
        let at_carrier = p.sim.ledger().segments(to);
        assert_eq!(at_carrier.len(), 1, "{to}: one segment");
        let entry = &at_carrier[0];
        let want = expected(entry);
        assert_eq!(
            v["status"], want,
            "{id}: the carrier answered {entry:?}; view {v}"
        );
        *seen.entry(want).or_default() += 1;
        let steps: Vec<&str> = v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["step"].as_str())
            .collect();
        if want == "failed" {
            assert!(
                v["status_reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("SMPP_0x")),
                "{id}: a failure names the carrier's status: {v}"
            );
        }
        if entry.failed > 0 && entry.accepted > 0 {
            retried_then_accepted += 1;
            assert!(
                steps.contains(&"retry_scheduled"),
                "{id}: refused once, accepted later: {steps:?}"
            );
        }
        assert!(
            entry.submits <= 2,
            "{to}: at most max_attempts submits: {entry:?}"
        );
    }
    for status in TERMINAL {
        assert!(
            seen.contains_key(status),
            "no message ended {status}: {seen:?}"
        );
    }
    assert!(
        retried_then_accepted > 0,
        "no message was retried and then accepted"
    );
    p.stop().await;
}
