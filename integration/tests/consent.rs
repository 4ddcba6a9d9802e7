//! Issue 11, items 3 and 4, end to end on the real stack: a handset that replies STOP through
//! the carrier (the simulator's MO) is opted out of the tenant's messages, is told so, and the
//! router refuses the tenant's next marketing message to it (`RECIPIENT_OPTED_OUT`, nothing
//! at the carrier); START reverses it. The router reads consent from `sms.consent` alone: a
//! router started after the STOP refuses too (its table is rebuilt from the compacted topic
//! before it routes). `GET /v1/consent/{number}` shows every change with its provenance, and
//! `PUT` records the tenant's own, which the router obeys as well.

use std::time::Duration;

use serde_json::{Value, json};
use smsflow_integration::platform::{API_KEY, Platform};
use smsflow_integration::{Stack, eventually};

const SHORT_CODE: &str = "12345";

async fn send(p: &Platform, to: &str, text: &str, message_type: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/messages", p.api()))
        .bearer_auth(API_KEY)
        .json(&json!({"to": to, "from": SHORT_CODE, "text": text, "type": message_type}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// The message's view once its status is terminal.
async fn final_view(p: &Platform, id: &str) -> Value {
    eventually(Duration::from_secs(60), || async {
        let r = reqwest::Client::new()
            .get(format!("{}/v1/messages/{id}", p.api()))
            .bearer_auth(API_KEY)
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        ["delivered", "rejected", "failed", "expired"]
            .contains(&v["status"].as_str()?)
            .then_some(v)
    })
    .await
    .unwrap_or_else(|| panic!("{id} reached no terminal status"))
}

/// The texts the carrier has received for `to`, in the order it received them.
fn at_carrier(p: &Platform, to: &str) -> Vec<String> {
    let mut segments = p.sim.ledger().segments(to);
    segments.sort_by_key(|s| s.first_seen);
    segments.into_iter().map(|s| s.text).collect()
}

/// Waits until the carrier has received `n` messages for `to`.
async fn carrier_has(p: &Platform, to: &str, n: usize) -> Vec<String> {
    eventually(Duration::from_secs(30), || async {
        let texts = at_carrier(p, to);
        (texts.len() >= n).then_some(texts)
    })
    .await
    .unwrap_or_else(|| panic!("the carrier got {:?} for {to}, not {n}", at_carrier(p, to)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_opts_out_start_opts_in_and_the_router_obeys() {
    let mut p = Platform::start(&Stack::from_env()).await;
    let handset = format!("+4477009{:05}", std::process::id() % 100_000);
    let other = format!("+4477008{:05}", std::process::id() % 100_000);

    // Before: marketing goes.
    let id = send(&p, &handset, "Sale today", "marketing").await;
    assert_eq!(final_view(&p, &id).await["status"], "delivered");

    p.sim
        .inject_mo("smsflow", &handset, SHORT_CODE, "Stop")
        .await
        .expect("the dispatcher's receiver is bound");
    // The confirmation reaches the handset: the keyword was read and its consent published.
    let texts = carrier_has(&p, &handset, 2).await;
    assert!(texts[1].contains("unsubscribed"), "{texts:?}");

    let id = send(&p, &handset, "Another sale", "marketing").await;
    let v = final_view(&p, &id).await;
    assert_eq!(v["status"], "rejected", "{v}");
    assert_eq!(v["status_reason"], "RECIPIENT_OPTED_OUT", "{v}");
    // Transactional stops too (the default policy); OTP still goes.
    let id = send(&p, &handset, "Your parcel is late", "transactional").await;
    assert_eq!(
        final_view(&p, &id).await["status_reason"],
        "RECIPIENT_OPTED_OUT"
    );
    let otp = send(&p, &handset, "Code 123456", "otp").await;
    assert_eq!(final_view(&p, &otp).await["status"], "delivered");
    // Another handset is not affected.
    let id = send(&p, &other, "Sale today", "marketing").await;
    assert_eq!(final_view(&p, &id).await["status"], "delivered");

    // A router started now has only the topic to learn the STOP from.
    p.router.take().unwrap().stop().await;
    p.router = Some(p.start_router().await);
    let id = send(&p, &handset, "Last sale", "marketing").await;
    assert_eq!(
        final_view(&p, &id).await["status_reason"],
        "RECIPIENT_OPTED_OUT"
    );

    p.sim
        .inject_mo("smsflow", &handset, SHORT_CODE, "START")
        .await
        .unwrap();
    // The carrier has: the first sale, the STOP reply, the OTP, then the START reply.
    let texts = carrier_has(&p, &handset, 4).await;
    assert!(texts[3].contains("subscribed again"), "{texts:?}");
    let id = send(&p, &handset, "Welcome back", "marketing").await;
    assert_eq!(final_view(&p, &id).await["status"], "delivered");
    let texts = carrier_has(&p, &handset, 5).await;
    assert_eq!(
        texts,
        [
            "Sale today",
            &texts[1],
            "Code 123456",
            &texts[3],
            "Welcome back"
        ],
        "nothing refused reached the carrier"
    );

    // The history, newest first, with where each change came from.
    let v = eventually(Duration::from_secs(30), || async {
        let v = consent(&p, &handset).await;
        (v["history"].as_array()?.len() == 2).then_some(v)
    })
    .await
    .expect("both keyword changes in the history");
    assert_eq!(v["status"], "opted_in", "{v}");
    let h = &v["history"];
    assert_eq!(
        (&h[0]["status"], &h[0]["keyword"]),
        (&json!("opted_in"), &json!("START"))
    );
    assert_eq!(
        (&h[1]["status"], &h[1]["keyword"]),
        (&json!("opted_out"), &json!("STOP"))
    );
    for change in h.as_array().unwrap() {
        assert_eq!(change["source"], "keyword", "{v}");
        assert!(change["evidence_message_id"].is_string(), "{v}");
    }

    // The tenant opts the handset out itself; the router obeys that too.
    let r = put_consent(&p, &handset, json!({"status": "opted_out"})).await;
    assert_eq!(r.status(), 200);
    let put: Value = r.json().await.unwrap();
    // The router reads the change from the topic, within moments of the answer: a probe
    // right after it may still go, a later one must not.
    let refused = eventually(Duration::from_secs(30), || async {
        let id = send(&p, &handset, "One more sale", "marketing").await;
        let v = final_view(&p, &id).await;
        (v["status_reason"] == "RECIPIENT_OPTED_OUT").then_some(v)
    })
    .await;
    assert!(refused.is_some(), "the API's opt-out is obeyed");
    let v = eventually(Duration::from_secs(30), || async {
        let v = consent(&p, &handset).await;
        (v["history"].as_array()?.len() == 3).then_some(v)
    })
    .await
    .expect("the API's change in the history");
    assert_eq!(v["status"], "opted_out");
    assert_eq!(v["history"][0]["source"], "api");
    assert_eq!(v["history"][0]["event_id"], put["event_id"]);
    assert_eq!(consent(&p, &other).await["status"], "none");

    for (number, body, code) in [
        (
            handset.as_str(),
            json!({"status": "maybe"}),
            "invalid_status",
        ),
        ("12345", json!({"status": "opted_out"}), "invalid_number"),
    ] {
        let r = put_consent(&p, number, body).await;
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], code, "{e}");
    }
    p.stop().await;
}

async fn consent(p: &Platform, number: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{}/v1/consent/{number}", p.api()))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn put_consent(p: &Platform, number: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{}/v1/consent/{number}", p.api()))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}
