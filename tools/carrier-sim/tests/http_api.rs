//! The Kannel-style HTTP API and the ledger / health / metrics endpoints, with dlr-url
//! callbacks received by a tiny axum server inside the test.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::RawQuery, routing::get};
use carrier_sim::{
    DestinationSubmits, Latency, LedgerSummary, ReceiptState, Scenario, SegmentEntry,
    scenario::OutcomeRule,
};
use common::{eventually, sim};

/// Starts a callback receiver; returns its base URL and the received query strings.
async fn callback_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_handler = Arc::clone(&seen);
    let app = Router::new().route(
        "/dlr",
        get(move |RawQuery(q): RawQuery| {
            let seen = Arc::clone(&seen_handler);
            async move {
                seen.lock().unwrap().push(q.unwrap_or_default());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn query_param(q: &str, key: &str) -> Option<String> {
    q.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

#[tokio::test]
async fn sendsms_accepts_and_calls_dlr_url() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.receipts.delay = Latency::fixed_ms(20);
    let sim = sim(scenario).await;
    let (cb, seen) = callback_server().await;
    let client = reqwest::Client::new();
    let dlr_url = format!("{cb}/dlr?status=%d&id=%F&to=%P&answer=%A&ours=abc");
    let r = client
        .get(format!("{}/cgi-bin/sendsms", sim.http_url()))
        .query(&[
            ("username", "smsflow"),
            ("password", "secret"),
            ("from", "SMSFLOW"),
            ("to", "+4915100000030"),
            ("text", "Hello über HTTP"),
            ("dlr-mask", "9"),
            ("dlr-url", dlr_url.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 202);
    let id = r.headers()["x-carrier-message-id"].to_str()?.to_string();
    assert_eq!(r.text().await?, "0: Accepted for delivery");
    assert!(eventually(|| seen.lock().unwrap().len() == 2).await);
    let calls = seen.lock().unwrap().clone();
    assert_eq!(
        query_param(&calls[0], "status").as_deref(),
        Some("8"),
        "SMSC ack first"
    );
    assert_eq!(query_param(&calls[1], "status").as_deref(), Some("1"));
    assert_eq!(query_param(&calls[1], "id"), Some(id.clone()));
    assert_eq!(
        query_param(&calls[1], "to").as_deref(),
        Some("%2B4915100000030")
    );
    assert!(
        query_param(&calls[1], "answer")
            .unwrap()
            .contains("stat%3ADELIVRD")
    );
    assert_eq!(query_param(&calls[1], "ours").as_deref(), Some("abc"));

    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().receipts_acked == 1).await);
    let seg = &ledger.segments("4915100000030")[0];
    assert_eq!(seg.text, "Hello über HTTP");
    assert_eq!(seg.channel, carrier_sim::ledger::Channel::Http);
    assert_eq!(seg.message_ids, vec![id]);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sendsms_post_form_failed_receipt_and_ucs2_charset() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.receipts.delay = Latency::fixed_ms(0);
    scenario.receipts.outcomes = vec![OutcomeRule {
        state: ReceiptState::Undeliv,
        weight: 1.0,
        error_code: 1,
    }];
    let sim = sim(scenario).await;
    let (cb, seen) = callback_server().await;
    let text: String = carrier_sim::text::encode_ucs2("😀 hi")
        .iter()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let body = format!(
        "username=smsflow&password=secret&to=4915100000031&coding=2&charset=UTF-16BE&text={text}&dlr-mask=3&dlr-url={}",
        urlencode(&format!("{cb}/dlr?s=%d"))
    );
    let r = reqwest::Client::new()
        .post(format!("{}/cgi-bin/sendsms", sim.http_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    assert_eq!(r.status(), 202);
    assert!(eventually(|| seen.lock().unwrap().len() == 1).await);
    assert_eq!(seen.lock().unwrap()[0], "s=2");
    let seg = &sim.ledger().segments("+4915100000031")[0];
    assert_eq!(seg.text, "😀 hi");
    assert_eq!(seg.data_coding, 8);
    assert_eq!(seg.receipts[0].state, ReceiptState::Undeliv);
    sim.shutdown().await;
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn sendsms_errors() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.throttle.tps = 1;
    let sim = sim(scenario).await;
    let client = reqwest::Client::new();
    let url = format!("{}/cgi-bin/sendsms", sim.http_url());
    let r = client
        .get(&url)
        .query(&[
            ("username", "smsflow"),
            ("password", "bad"),
            ("to", "1"),
            ("text", "x"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await?, "Authorization failed for sendsms");
    let r = client
        .get(&url)
        .query(&[
            ("username", "smsflow"),
            ("password", "secret"),
            ("text", "x"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await?, "Missing receiver number");
    let send = |t: &'static str| {
        client
            .get(&url)
            .query(&[
                ("username", "smsflow"),
                ("password", "secret"),
                ("to", "4915100000032"),
                ("text", t),
            ])
            .send()
    };
    assert_eq!(send("one").await?.status(), 202);
    let r = send("two").await?;
    assert_eq!(r.status(), 503);
    assert_eq!(r.text().await?, "Throttled, try again later");
    let s = sim.ledger().summary();
    assert_eq!((s.submits_received, s.accepted, s.throttled), (2, 1, 1));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn ledger_health_and_metrics_endpoints() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let client = reqwest::Client::new();
    let base = sim.http_url();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await?
            .text()
            .await?,
        "ok"
    );
    for text in ["a", "b", "a"] {
        client
            .get(format!("{base}/cgi-bin/sendsms"))
            .query(&[
                ("username", "smsflow"),
                ("password", "secret"),
                ("to", "+4915100000033"),
                ("text", text),
            ])
            .send()
            .await?;
    }
    let summary: LedgerSummary = client
        .get(format!("{base}/ledger/summary"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(summary, sim.ledger().summary());
    assert_eq!(
        (
            summary.submits_received,
            summary.unique_segments,
            summary.duplicate_segments
        ),
        (3, 2, 1)
    );
    let segs: Vec<SegmentEntry> = client
        .get(format!(
            "{base}/ledger/segments?destination=%2B4915100000033"
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].accepted, 2);
    assert!(segs[0].first_submit_us > 0 && segs[0].last_submit_us > segs[0].first_submit_us);
    let times: Vec<DestinationSubmits> = client
        .post(format!("{base}/ledger/submit-times"))
        .json(&serde_json::json!({"destinations": ["+4915100000033", "+4915100000099"]}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(times.len(), 1, "only destinations with submits");
    assert_eq!(
        (
            times[0].segments,
            times[0].submits,
            times[0].duplicate_segments
        ),
        (2, 3, 1)
    );
    assert_eq!(times[0].system_ids, vec!["smsflow"], "the HTTP username");
    assert_eq!(times[0].first_submit_us, segs[0].first_submit_us);
    assert_eq!(times[0].last_first_submit_us, segs[1].first_submit_us);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("smsflow_carrier_sim_submits_received_total 3"),
        "{metrics}"
    );
    let r = client.post(format!("{base}/ledger/reset")).send().await?;
    assert_eq!(r.status(), 204);
    assert_eq!(sim.ledger().summary().submits_received, 0);
    assert!(sim.ledger().all_segments().is_empty());
    tokio::time::sleep(Duration::from_millis(10)).await;
    sim.shutdown().await;
    Ok(())
}
