//! Events produced by smsflow decode in an independent Confluent client: Python's
//! `confluent-kafka` with its `AvroDeserializer`, fetching the schema from the registry by the
//! id in the Confluent header (`tools/python/confluent_decode.py`). One request with chosen
//! values, then one event of every kind with every field drawn at random.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as AvroValue;
use serde_json::{Value, json};

use smsflow_events::*;
use smsflow_integration::Stack;
use smsflow_kafka::{EventProducer, Outgoing};

fn python() -> PathBuf {
    let venv = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("../tools/python/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `make tools` (creates the venv from tools/python/requirements.txt)",
        venv.display()
    );
    venv
}

/// Runs the Python client on `topic` until it decoded `count` records; one JSON object each.
async fn python_decode(k: &smsflow_kafka::KafkaConfig, topic: &str, count: usize) -> Vec<Value> {
    let out = tokio::process::Command::new(python())
        .arg(
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
                .join("../tools/python/confluent_decode.py"),
        )
        .args([
            k.bootstrap_servers.as_str(),
            k.schema_registry_url.as_str(),
            topic,
            &count.to_string(),
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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// An Avro value as the Python client prints it: uuids as text, timestamps as the micros
/// since the epoch (the client's ISO text is converted by [`python_as_ours`]).
fn avro_json(v: &AvroValue) -> Value {
    match v {
        AvroValue::Null => Value::Null,
        AvroValue::Boolean(b) => json!(b),
        AvroValue::Int(i) => json!(i),
        AvroValue::Long(i) | AvroValue::TimestampMicros(i) => json!(i),
        AvroValue::String(s) => json!(s),
        AvroValue::Uuid(u) => json!(u.to_string()),
        AvroValue::Enum(_, symbol) => json!(symbol),
        AvroValue::Union(_, inner) => avro_json(inner),
        AvroValue::Array(items) => Value::Array(items.iter().map(avro_json).collect()),
        AvroValue::Map(m) => m.iter().map(|(k, v)| (k.clone(), avro_json(v))).collect(),
        AvroValue::Record(fields) => fields
            .iter()
            .map(|(k, v)| (k.clone(), avro_json(v)))
            .collect(),
        other => panic!("no event schema uses {other:?}"),
    }
}

/// The Python client's JSON with its ISO timestamps (where ours has micros) read as micros.
fn python_as_ours(py: &Value, ours: &Value) -> Value {
    match (py, ours) {
        (Value::String(s), Value::Number(_)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| json!(t.timestamp_micros()))
            .unwrap_or_else(|_| py.clone()),
        (Value::Object(p), Value::Object(o)) => p
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    o.get(k).map_or(v.clone(), |ov| python_as_ours(v, ov)),
                )
            })
            .collect(),
        (Value::Array(p), Value::Array(o)) if p.len() == o.len() => {
            Value::Array(p.iter().zip(o).map(|(a, b)| python_as_ours(a, b)).collect())
        }
        _ => py.clone(),
    }
}

#[tokio::test]
async fn every_event_type_decodes_with_confluents_python_avro_deserializer() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let k = stack.isolated_kafka(1).await;
    let topic = k.topics().requests.clone();
    let codec = Arc::new(k.codec().unwrap());
    let producer = EventProducer::new(&k, codec, "python-check").unwrap();
    let events = smsflow_events::arbitrary::one_of_each_kind();
    assert_eq!(events.len(), EventKind::ALL.len());
    let mut expected = HashMap::new();
    for e in &events {
        let key = e.meta().event_id.to_string();
        // Our own decode, generic (not the typed path the services use): the reference.
        let body = smsflow_events::codec::encode_datum(e).unwrap();
        let schema = &smsflow_events::schema::schema(e.kind()).schema;
        let value = GenericDatumReader::builder(schema)
            .build()
            .unwrap()
            .read_value(&mut body.as_slice())
            .unwrap();
        expected.insert(key.clone(), (e.kind(), avro_json(&value)));
        producer
            .send(&Outgoing::new(topic.clone(), key, e.clone()))
            .await
            .unwrap();
    }
    let decoded = python_decode(&k, topic.as_str(), events.len()).await;
    assert_eq!(decoded.len(), events.len());
    for line in decoded {
        let key = line["key"].as_str().expect("a key").to_owned();
        let (kind, ours) = expected.remove(&key).expect("a record we produced, once");
        let theirs = python_as_ours(&line["record"], &ours);
        assert_eq!(theirs, ours, "{kind}: the Python client read other values");
    }
    assert!(expected.is_empty(), "not decoded: {expected:?}");
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

    let lines = python_decode(&k, t.requests.as_str(), 1).await;
    let line = &lines[0];
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
