//! Guarantee 1 when the message log cannot take a request: `POST /v1/messages` answers 503
//! within its accept timeout (not after the producer's minute), says the outcome is unknown
//! and how to retry safely. The log "cannot take it" here the
//! way a topic that is gone or a partition without a leader looks to a producer: ingest's
//! request topics do not exist on the real broker (which creates no topics by itself).

use std::time::Duration;

use serde_json::{Value, json};
use smsflow_integration::platform::{API_KEY, ingest_config, start_ingest_with};
use smsflow_integration::{Stack, unique};

#[tokio::test]
async fn a_request_the_log_cannot_confirm_gets_503_with_an_unknown_outcome() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let mut kafka = stack.kafka.clone();
    // A prefix nobody created topics under.
    kafka.topic_prefix = format!("{}.", unique("missing"));
    let ingest = start_ingest_with(ingest::Config {
        accept_timeout_ms: 1_500,
        ..ingest_config(kafka)
    })
    .await;
    let url = format!("http://{}/v1/messages", ingest.addr);

    let asked = tokio::time::Instant::now();
    let r = tokio::time::timeout(
        // The accept timeout, plus room for a slow machine;
        // far below the producer's default minute.
        Duration::from_secs(15),
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(API_KEY)
            .header("Idempotency-Key", "outage-1")
            .json(&json!({"to": "+447700900123", "from": "ITEST", "text": "hello", "priority": "otp"}))
            .send(),
    )
    .await
    .expect("ingest answers instead of hanging")
    .unwrap();
    let took = asked.elapsed();
    assert_eq!(r.status(), 503);
    // Bounded by the accept timeout, not the producer's minute
    // (generous: a loaded 2-core machine).
    assert!(took < Duration::from_secs(8), "answered after {took:?}");
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("may or may not have been accepted")
            && message.contains("Idempotency-Key"),
        "the outcome is unknown and the client is told how to retry: {message}"
    );
    assert!(
        !message.contains("nothing was accepted"),
        "never claims nothing was accepted: {message}"
    );
    ingest.stop().await;
}

/// The broker gone silent: a listener that takes connections and never answers (a hung or
/// half-dead broker). `POST` still answers by its accept timeout, whatever the producer does
/// with the record: in the chaos suite's broker outage the producer failed records up to
/// 9 s after their delivery timeout, and ingest now stops waiting at the deadline itself.
#[tokio::test]
async fn a_post_answers_by_its_deadline_when_the_broker_never_answers() {
    let stack = Stack::from_env();
    stack.require_registry().await;
    // The OS completes the handshakes; nothing ever reads or answers them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut kafka = stack.kafka.clone();
    kafka.bootstrap_servers = silent.local_addr().unwrap().to_string();
    kafka.topic_prefix = format!("{}.", unique("silent"));
    let ingest = start_ingest_with(ingest::Config {
        accept_timeout_ms: 1_000,
        ..ingest_config(kafka)
    })
    .await;
    let url = format!("http://{}/v1/messages", ingest.addr);
    let client = reqwest::Client::new();
    for i in 0..3 {
        let asked = tokio::time::Instant::now();
        let r = client
            .post(&url)
            .bearer_auth(API_KEY)
            .json(&json!({"to": "+447700900124", "from": "ITEST", "text": "hello", "priority": "otp"}))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("ingest answers");
        let took = asked.elapsed();
        assert_eq!(r.status(), 503, "request {i}");
        // The deadline plus the request's own work, on a loaded 2-core machine.
        assert!(
            took < Duration::from_millis(1_600),
            "request {i} answered after {took:?}"
        );
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("may or may not have been accepted"),
            "the outcome is unknown: {message}"
        );
    }
    ingest.stop().await;
}
