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
