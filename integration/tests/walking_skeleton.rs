//! A message flows through all five services and back, on the real stack: HTTP in, SMPP to
//! the carrier simulator, receipt back, views queried over HTTP.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use smsflow_integration::platform::{API_KEY, Platform, ingest_config, start_ingest_with};
use smsflow_integration::{Stack, read_topic};
use tokio::sync::Semaphore;

/// The steps a delivered message's timeline must show, in this order.
const STEPS: &[&str] = &[
    "requested",
    "routed",
    "attempt_started",
    "submitted",
    "delivered",
];

/// One test message: body, and what the API should say about it.
#[derive(Clone, Debug)]
struct Case {
    body: Value,
    to: String,
}

/// 500 messages mixing GSM-7, UCS-2, extension characters, multipart, OTP, transactional and
/// bulk, each to its own number (so the simulator's ledger can be checked per message).
fn cases(n: usize, base: u64) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let to = format!("+44{}", base + i as u64);
            let (text, priority) = match i % 6 {
                0 => (format!("Your code is {:06}", i * 7919 % 1_000_000), "otp"),
                1 => (format!("Ihr Paket {i} kommt morgen 🚚 — danke!"), "transactional"),
                2 => (format!("Sale {i}: {}", "everything must go, all week long! ".repeat(6)), "bulk"),
                3 => (format!("Заказ {i} отправлен. {}", "Спасибо за покупку! ".repeat(5)), "transactional"),
                4 => (format!("Balance {i} €{{20}} [ok] ~ ^{}", "ext chars at the boundary € ".repeat(7)), "bulk"),
                _ => (format!("Reminder {i}: appointment at 10:00"), "otp"),
            };
            Case { body: json!({"to": to, "from": "ITEST", "text": text, "priority": priority, "client_ref": format!("c{i}")}), to }
        })
        .collect()
}

/// Sends every case (16 at a time); returns (id, segments) per case.
async fn send_all(api: &str, cases: &[Case]) -> Vec<(String, u64)> {
    let http = reqwest::Client::new();
    let gate = Arc::new(Semaphore::new(16));
    let tasks: Vec<_> = cases
        .iter()
        .map(|c| {
            let (http, gate, url, body) = (
                http.clone(),
                gate.clone(),
                format!("{api}/v1/messages"),
                c.body.clone(),
            );
            tokio::spawn(async move {
                let _p = gate.acquire().await.unwrap();
                let r = http
                    .post(url)
                    .bearer_auth(API_KEY)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST");
                assert_eq!(
                    r.status(),
                    202,
                    "request refused: {}",
                    r.text().await.unwrap_or_default()
                );
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["status"], "queued");
                (
                    v["id"].as_str().unwrap().to_owned(),
                    v["segments"].as_u64().unwrap(),
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Polls `GET /v1/messages/{id}` until every message is delivered (or fails the test after
/// `timeout`, naming the ones that are not).
async fn wait_delivered(api: &str, ids: &[String], timeout: Duration) -> HashMap<String, Value> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut views = HashMap::new();
    loop {
        let pending: Vec<&String> = ids.iter().filter(|id| !views.contains_key(*id)).collect();
        for id in pending {
            let r = http
                .get(format!("{api}/v1/messages/{id}"))
                .bearer_auth(API_KEY)
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                let v: Value = r.json().await.unwrap();
                if v["status"] == "delivered"
                    && v["timeline"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|e| e["step"] == "delivered"))
                {
                    views.insert(id.clone(), v);
                } else if ["failed", "rejected", "undelivered", "expired"]
                    .contains(&v["status"].as_str().unwrap_or(""))
                {
                    panic!("message {id} ended {}: {v}", v["status"]);
                }
            }
        }
        if views.len() == ids.len() {
            return views;
        }
        if tokio::time::Instant::now() > deadline {
            let mut report = Vec::new();
            for id in ids.iter().filter(|id| !views.contains_key(*id)).take(5) {
                let r = http
                    .get(format!("{api}/v1/messages/{id}"))
                    .bearer_auth(API_KEY)
                    .send()
                    .await
                    .unwrap();
                let v: Value = r.json().await.unwrap_or_default();
                let steps: Vec<String> = v["timeline"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .map(|e| format!("{}({})", e["step"], e["detail"]))
                            .collect()
                    })
                    .unwrap_or_default();
                report.push(format!("{id}: status={} steps={steps:?}", v["status"]));
            }
            panic!(
                "{} of {} messages not delivered within {timeout:?}:\n{}",
                ids.len() - views.len(),
                ids.len(),
                report.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every timeline (the store returns it in event-time order) has the five steps in
/// lifecycle order.
fn assert_timeline(id: &str, v: &Value) {
    let tl = v["timeline"].as_array().unwrap();
    let steps: Vec<&str> = tl.iter().map(|e| e["step"].as_str().unwrap()).collect();
    let mut pos = 0;
    for want in STEPS {
        match steps[pos..].iter().position(|s| s == want) {
            Some(p) => pos += p + 1,
            None => panic!("{id}: timeline lacks {want} after position {pos}: {steps:?}"),
        }
    }
}

/// Each message's segments reached the carrier exactly once.
fn assert_one_submit_per_segment(p: &Platform, cases: &[Case], sent: &[(String, u64)]) {
    let ledger = p.sim.ledger();
    for (c, (id, segments)) in cases.iter().zip(sent) {
        let entries = ledger.segments(&c.to);
        assert_eq!(
            entries.len() as u64,
            *segments,
            "{id}: carrier saw {} segments, API said {segments}",
            entries.len()
        );
        for e in &entries {
            assert_eq!(
                (e.submits, e.accepted),
                (1, 1),
                "{id}: a segment was submitted {} times",
                e.submits
            );
        }
    }
    assert_eq!(ledger.summary().duplicate_segments, 0);
}

/// The first of a block of 1000 UK mobile numbers (+44 7xxx xxx xxx) of this test's own:
/// one of a million blocks, drawn at random. Tests running at the same time against the
/// same CQL store must not share destinations, since their simulators hand out the same
/// carrier message ids.
fn base() -> u64 {
    let block = uuid::Uuid::new_v4().as_u128() % 1_000_000;
    7_000_000_000 + u64::try_from(block).unwrap() * 1000
}

fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_messages_are_delivered_once_each_with_complete_timelines() {
    logs();
    let p = Platform::start(&Stack::from_env()).await;
    let b = base();
    let cases = cases(500, b);
    let sent = send_all(&p.api(), &cases).await;
    let mut ids: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();

    // A request retried with the same Idempotency-Key is the same message, sent once.
    let retried_to = format!("+44{}", b + 999);
    let body = json!({"to": retried_to, "from": "ITEST", "text": "retried once"});
    let http = reqwest::Client::new();
    // The key is unique to this run: the id it derives is the same in every run otherwise.
    let key = format!("retry-{}", uuid::Uuid::new_v4());
    let mut retried = Vec::new();
    for _ in 0..2 {
        let r = http
            .post(format!("{}/v1/messages", p.api()))
            .bearer_auth(API_KEY)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        retried.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        retried[0], retried[1],
        "the same Idempotency-Key must give the same id"
    );
    ids.push(retried[0].clone());

    let views = wait_delivered(&p.api(), &ids, Duration::from_secs(180)).await;
    let steps: Vec<&str> = views[&retried[0]]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps.iter().filter(|s| **s == "requested").count(),
        1,
        "{steps:?}"
    );
    let at_carrier = p.sim.ledger().segments(&retried_to);
    assert_eq!(at_carrier.len(), 1);
    assert_eq!(
        at_carrier[0].submits, 1,
        "an idempotent retry reached the carrier twice"
    );
    for (c, (id, segments)) in cases.iter().zip(&sent) {
        let v = &views[id];
        assert_timeline(id, v);
        assert_eq!(v["segments"].as_u64(), Some(*segments));
        assert_eq!(v["to"], c.to.as_str());
        assert_eq!(v["client_ref"], c.body["client_ref"]);
    }
    assert!(
        sent.iter().any(|(_, s)| *s > 1),
        "the mix must include multipart messages"
    );
    assert_one_submit_per_segment(&p, &cases, &sent);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_the_dispatcher_and_the_router_loses_and_duplicates_nothing() {
    logs();
    let mut p = Platform::start(&Stack::from_env()).await;
    let cases = cases(500, base());
    let api = p.api();
    let sender = {
        let (api, cases) = (api.clone(), cases.clone());
        tokio::spawn(async move { send_all(&api, &cases).await })
    };
    // Let traffic reach the carrier, then stop both while messages are in flight, and start
    // them again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while p.sim.ledger().summary().accepted < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no traffic reached the carrier"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (d, r) = (p.dispatcher.take().unwrap(), p.router.take().unwrap());
    tokio::join!(d.stop(), r.stop());
    let accepted_at_stop = p.sim.ledger().summary().accepted;
    p.router = Some(p.start_router().await);
    p.dispatcher = Some(p.start_dispatcher().await);

    let sent = sender.await.unwrap();
    // The restart must have happened with work in flight, or it proves nothing: some
    // segments (not all) had reached the carrier when both stopped.
    let segments: u64 = sent.iter().map(|(_, s)| *s).sum();
    assert!(
        0 < accepted_at_stop && accepted_at_stop < segments,
        "{accepted_at_stop} of {segments} segments were submitted before the stop"
    );
    let ids: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();
    let views = wait_delivered(&api, &ids, Duration::from_secs(240)).await;
    for (id, _) in &sent {
        assert_timeline(id, &views[id]);
    }
    assert_one_submit_per_segment(&p, &cases, &sent);
    p.stop().await;
}

/// Invalid requests get a 4xx with a stable code, and nothing reaches `sms.requests`.
#[tokio::test]
async fn invalid_requests_get_stable_errors_and_publish_nothing() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let kafka = stack.isolated_kafka(1).await;
    let ingest = start_ingest_with(ingest::Config {
        max_body_bytes: 4096,
        ..ingest_config(kafka.clone())
    })
    .await;
    let api = format!("http://{}/v1/messages", ingest.addr);
    let http = reqwest::Client::new();
    let ok = json!({"to": "+447700900123", "from": "ITEST", "text": "hello"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b.to_string()
    };
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        (
            "bad number",
            Some(API_KEY),
            with("to", json!("12345")),
            400,
            "invalid_number",
        ),
        (
            "unknown country",
            Some(API_KEY),
            with("to", json!("+999123456789")),
            400,
            "invalid_number",
        ),
        (
            "empty text",
            Some(API_KEY),
            with("text", json!("")),
            400,
            "empty_text",
        ),
        (
            "bad sender",
            Some(API_KEY),
            with("from", json!("THIS-IS-TOO-LONG")),
            400,
            "invalid_sender",
        ),
        (
            "unknown key",
            Some("sk_wrong"),
            ok.to_string(),
            401,
            "unauthorized",
        ),
        ("no key", None, ok.to_string(), 401, "unauthorized"),
        (
            "oversize body",
            Some(API_KEY),
            with("text", json!("x".repeat(10_000))),
            413,
            "payload_too_large",
        ),
        (
            "malformed json",
            Some(API_KEY),
            "{\"to\": \"+4477".to_owned(),
            400,
            "malformed_json",
        ),
        (
            "unknown field",
            Some(API_KEY),
            with("prio", json!("otp")),
            400,
            "malformed_json",
        ),
        (
            "bad priority",
            Some(API_KEY),
            with("priority", json!("urgent")),
            400,
            "invalid_value",
        ),
        (
            "callback to a private address",
            Some(API_KEY),
            with("callback_url", json!("http://10.0.0.7:8080/hook")),
            400,
            "callback_url_not_allowed",
        ),
        (
            "callback to the metadata endpoint",
            Some(API_KEY),
            with(
                "callback_url",
                json!("http://169.254.169.254/latest/meta-data/"),
            ),
            400,
            "callback_url_not_allowed",
        ),
        (
            "callback not http",
            Some(API_KEY),
            with("callback_url", json!("file:///etc/passwd")),
            400,
            "invalid_value",
        ),
        (
            "NUL text",
            Some(API_KEY),
            with("text", json!("\u{0}\u{0}")),
            400,
            "invalid_text",
        ),
        (
            "zero-width text",
            Some(API_KEY),
            with("text", json!("\u{200B}\u{200D}\u{FEFF}")),
            400,
            "empty_text",
        ),
        (
            "marketing on the OTP lane",
            Some(API_KEY),
            {
                let mut b = ok.clone();
                b["priority"] = json!("otp");
                b["type"] = json!("marketing");
                b.to_string()
            },
            400,
            "invalid_value",
        ),
        (
            "long client_ref",
            Some(API_KEY),
            with("client_ref", json!("r".repeat(256))),
            400,
            "value_too_long",
        ),
    ];
    for (what, key, body, status, code) in cases {
        let mut req = http
            .post(&api)
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{what}");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{what}"
        );
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{what}"
        );
        if status == 401 {
            assert!(
                header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")),
                "{what}: 401 without WWW-Authenticate"
            );
        }
        let v: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: error body is not JSON: {e}"));
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: no message"
        );
    }
    let r = http
        .post(&api)
        .bearer_auth(API_KEY)
        .header("content-type", "text/plain")
        .body(ok.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // An Idempotency-Key longer than 255 characters is refused, not stored.
    let r = http
        .post(&api)
        .bearer_auth(API_KEY)
        .header("idempotency-key", "k".repeat(256))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "value_too_long", "{v}");
    // Ingest writes each lane's requests to its own topic (OTP and transactional skip bulk).
    let topics = kafka.topics();
    let published = |wait| {
        topics
            .request_topics()
            .into_iter()
            .map(|t| read_topic(&kafka, t, 1, wait).len())
            .sum::<usize>()
    };
    assert_eq!(
        published(Duration::from_secs(2)),
        0,
        "an invalid request was published"
    );

    // The control: a valid request is published.
    let r = http
        .post(&api)
        .bearer_auth(API_KEY)
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(published(Duration::from_secs(4)), 1);
    ingest.stop().await;
}
