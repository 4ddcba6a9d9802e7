//! An event produced by smsflow decodes in an independent Confluent client: Python's
//! `confluent-kafka` with its `AvroDeserializer`, fetching the schema from the registry by the
//! id in the Confluent header (`tools/python/confluent_decode.py`).

use std::path::PathBuf;
use std::sync::Arc;

use smsflow_events::*;
use smsflow_integration::Stack;
use smsflow_kafka::{EventProducer, Outgoing};

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/python/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `make tools` (creates the venv from tools/python/requirements.txt)",
        venv.display()
    );
    venv
}

#[tokio::test]
async fn events_decode_with_confluents_python_avro_deserializer() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let k = stack.isolated_kafka(1).await;
    let t = k.topics();
    let codec = Arc::new(k.codec().unwrap());
    let producer = EventProducer::new(&k, codec, "python-check").unwrap();
    let send_at = Timestamp::from_micros(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
    let req = SendRequested {
        meta: EventMeta::new(
            Producer {
                name: "ingest",
                version: "0.1.0",
            },
            None,
        ),
        message_id: MessageId::new(),
        tenant_id: TenantId::parse("acme").unwrap(),
        to: Msisdn::parse("+447700900123").unwrap(),
        from: "ACME".into(),
        text: "Your code is 123456 — ünïcödé ✓ 🎉".into(),
        message_type: MessageType::Otp,
        lane: Lane::Otp,
        client_ref: Some("order-42".into()),
        idempotency_key: None,
        callback_url: None,
        send_at: Some(send_at),
        expires_at: None,
        smart_encoding: true,
        channel: "api".into(),
    };
    producer
        .send(&Outgoing::new(
            t.requests.clone(),
            req.to.as_str(),
            req.clone(),
        ))
        .await
        .unwrap();

    let out = tokio::process::Command::new(python())
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/python/confluent_decode.py"))
        .args([
            k.bootstrap_servers.as_str(),
            k.schema_registry_url.as_str(),
            t.requests.as_str(),
            "1",
            "60",
        ])
        .output()
        .await
        .expect("running the Python client");
    assert!(
        out.status.success(),
        "the Python Confluent client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(line["key"], "+447700900123");
    let r = &line["record"];
    assert_eq!(r["message_id"], req.message_id.to_string());
    assert_eq!(r["meta"]["event_id"], req.meta.event_id.to_string());
    assert_eq!(r["meta"]["producer"], "ingest");
    assert_eq!(r["tenant_id"], "acme");
    assert_eq!(r["to"], "+447700900123");
    assert_eq!(r["text"], req.text);
    assert_eq!(r["message_type"], "OTP");
    assert_eq!(r["lane"], "OTP");
    assert_eq!(r["client_ref"], "order-42");
    assert_eq!(r["smart_encoding"], true);
    assert!(
        r["send_at"]
            .as_str()
            .is_some_and(|s| s.starts_with("2026-01-01T00:00:00")),
        "timestamp-micros read as {}",
        r["send_at"]
    );
    assert!(r["expires_at"].is_null());
}
