//! Carrier outages per account over real TCP and HTTP (`POST /outage`): the account's
//! sessions are closed and its binds refused while the other account keeps working; after
//! the outage it binds again and gets the receipts parked meanwhile; the ledger names the
//! account(s) that accepted each destination.

mod common;

use std::time::Duration;

use carrier_sim::{Account, DestinationSubmits, Latency, RunningSim, Scenario, SimConfig};
use common::{Bind, Esme, message_id, receipt_tlvs, submit};
use rusmpp::{CommandId, CommandStatus};
use serde_json::{Value, json};

const A: &str = "smsflow";
const B: &str = "smsflow-b";

/// Two carrier accounts, as in `scenarios/two-carriers.toml`, with receipts after 300 ms so
/// one can be parked by an outage before it is sent.
async fn two_carriers() -> RunningSim {
    let mut scenario = Scenario::default();
    scenario.receipts.delay = Latency::fixed_ms(300);
    carrier_sim::start(SimConfig {
        accounts: vec![Account::new(A, "secret"), Account::new(B, "secret")],
        ..SimConfig::with_scenario(scenario)
    })
    .await
    .expect("simulator starts")
}

async fn post_outage(sim: &RunningSim, body: Value) -> anyhow::Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(format!("{}/outage", sim.http_url()))
        .json(&body)
        .send()
        .await?)
}

/// Binds `system_id` on a new connection; returns the bind_resp status and the connection.
async fn try_bind(sim: &RunningSim, system_id: &str) -> anyhow::Result<(CommandStatus, Esme)> {
    let mut esme = Esme::connect(sim.smpp_addr()).await?;
    let resp = esme.bind(Bind::Trx, system_id, "secret", 0x34).await?;
    assert_eq!(
        resp.id(),
        CommandId::BindTransceiverResp,
        "a bind_resp, no generic_nack"
    );
    Ok((resp.status(), esme))
}

async fn assert_refused(sim: &RunningSim, system_id: &str) -> anyhow::Result<()> {
    let (status, mut esme) = try_bind(sim, system_id).await?;
    assert_eq!(
        status,
        CommandStatus::EsmeRbindfail,
        "{system_id} refused while down"
    );
    assert!(esme.closed().await, "the refused connection is closed");
    Ok(())
}

/// The receipted ids of the next `n` receipts, sorted.
async fn receipts(esme: &mut Esme, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            receipt_tlvs(&esme.deliver_sm().await?)
                .0
                .unwrap_or_default(),
        );
    }
    ids.sort();
    Ok(ids)
}

fn sorted<const N: usize>(mut ids: [String; N]) -> Vec<String> {
    ids.sort();
    ids.to_vec()
}

async fn metrics(sim: &RunningSim) -> anyhow::Result<String> {
    Ok(reqwest::get(format!("{}/metrics", sim.http_url()))
        .await?
        .text()
        .await?)
}

#[tokio::test]
async fn outage_of_one_account_drops_and_refuses_it_while_the_other_works() -> anyhow::Result<()> {
    let sim = two_carriers().await;
    let mut a = Esme::bound_as(sim.smpp_addr(), Bind::Trx, A).await?;
    let mut b = Esme::bound_as(sim.smpp_addr(), Bind::Trx, B).await?;
    let id_a = message_id(&a.request(submit("4915100000060", "via a")).await?);
    let id_a2 = message_id(&a.request(submit("4915100000062", "via a first")).await?);

    let r = post_outage(&sim, json!({"system_id": A, "secs": 30})).await?;
    assert_eq!(r.status(), 204);
    assert!(a.closed().await, "A's bound session is closed at once");
    assert_refused(&sim, A).await?;
    let m = metrics(&sim).await?;
    assert!(
        m.contains(r#"smsflow_carrier_sim_outage_active{system_id="smsflow"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"smsflow_carrier_sim_outage_active{system_id="smsflow-b"} 0"#),
        "{m}"
    );

    // B is unaffected: its session submits and gets its own receipt, and it can bind again
    let id_b = message_id(&b.request(submit("4915100000061", "via b")).await?);
    let id_b2 = message_id(
        &b.request(submit("4915100000062", "via b after failover"))
            .await?,
    );
    assert_eq!(receipts(&mut b, 2).await?, sorted([id_b, id_b2]));
    let (status, _b2) = try_bind(&sim, B).await?;
    assert_eq!(status, CommandStatus::EsmeRok);
    assert_eq!(sim.ledger().summary().current_sessions, 2, "b and b2");

    // A's receipt came due during the outage: parked, never sent to B
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        b.no_deliver_within(Duration::from_millis(100)).await,
        "not B's"
    );

    let r = post_outage(&sim, json!({"system_id": A, "secs": 0})).await?;
    assert_eq!(r.status(), 204, "secs 0 ends the outage early");
    let mut a = Esme::bound_as(sim.smpp_addr(), Bind::Trx, A).await?;
    assert_eq!(
        receipts(&mut a, 2).await?,
        sorted([id_a, id_a2]),
        "kept for A"
    );
    let r = a.request(submit("4915100000060", "via a again")).await?;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    assert!(
        metrics(&sim)
            .await?
            .contains(r#"outage_active{system_id="smsflow"} 0"#)
    );

    // the ledger was kept through the outage and names the accepting accounts
    let times: Vec<DestinationSubmits> = reqwest::Client::new()
        .post(format!("{}/ledger/submit-times", sim.http_url()))
        .json(&json!({"destinations": ["+4915100000060", "+4915100000061", "+4915100000062"]}))
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<(&str, Vec<&str>)> = times
        .iter()
        .map(|d| {
            (
                d.destination.as_str(),
                d.system_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("+4915100000060", vec![A]),
            ("+4915100000061", vec![B]),
            ("+4915100000062", vec![A, B]),
        ]
    );
    assert_eq!(
        times[0].accepted, 2,
        "the submit before the outage is still there"
    );
    let s = sim.ledger().summary();
    assert_eq!((s.connections_dropped, s.bind_failures), (1, 1));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn outage_ends_by_itself_after_secs() -> anyhow::Result<()> {
    let sim = two_carriers().await;
    // the outage starts between these two instants
    let before = tokio::time::Instant::now();
    assert_eq!(
        post_outage(&sim, json!({"system_id": A, "secs": 1.0}))
            .await?
            .status(),
        204
    );
    let after = tokio::time::Instant::now();
    assert_refused(&sim, A).await?;
    assert!(
        before.elapsed() < Duration::from_secs(1),
        "refused during the outage"
    );
    let wait = Duration::from_secs(1).saturating_sub(after.elapsed());
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    let (status, _a) = try_bind(&sim, A).await?;
    assert_eq!(status, CommandStatus::EsmeRok, "over after 1 s");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn outage_without_system_id_takes_every_account_down() -> anyhow::Result<()> {
    let sim = two_carriers().await;
    let mut a = Esme::bound_as(sim.smpp_addr(), Bind::Tx, A).await?;
    let mut b = Esme::bound_as(sim.smpp_addr(), Bind::Rx, B).await?;
    let mut unbound = Esme::connect(sim.smpp_addr()).await?;
    assert_eq!(post_outage(&sim, json!({"secs": 30})).await?.status(), 204);
    assert!(a.closed().await && b.closed().await);
    assert_refused(&sim, A).await?;
    assert_refused(&sim, B).await?;
    // a connection that has not bound yet is left open, and refused when it binds
    let resp = unbound.bind(Bind::Trx, B, "secret", 0x34).await?;
    assert_eq!(resp.status(), CommandStatus::EsmeRbindfail);

    assert_eq!(post_outage(&sim, json!({"secs": 0})).await?.status(), 204);
    for id in [A, B] {
        let (status, _e) = try_bind(&sim, id).await?;
        assert_eq!(
            status,
            CommandStatus::EsmeRok,
            "{id} binds after the outage"
        );
    }
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn outage_library_call_matches_http() -> anyhow::Result<()> {
    let sim = two_carriers().await;
    let mut a = Esme::bound_as(sim.smpp_addr(), Bind::Trx, A).await?;
    sim.outage(Some(A), Duration::from_secs(30)).await?;
    assert_eq!(
        sim.ledger().summary().current_sessions,
        0,
        "waited for the close"
    );
    assert!(a.closed().await);
    assert_refused(&sim, A).await?;
    assert!(
        sim.outage(Some("nobody"), Duration::from_secs(1))
            .await
            .is_err()
    );
    sim.outage(None, Duration::ZERO).await?;
    Esme::bound_as(sim.smpp_addr(), Bind::Trx, A).await?;
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn outage_rejects_bad_input() -> anyhow::Result<()> {
    let sim = two_carriers().await;
    let client = reqwest::Client::new();
    let url = format!("{}/outage", sim.http_url());
    for (body, status) in [
        (json!({"secs": -1}), 400),
        (json!({"secs": "10"}), 400),
        (json!({"system_id": A}), 400),
        (json!({"system_id": A, "secs": 1, "extra": true}), 400),
        (json!({"system_id": "nobody", "secs": 1}), 404),
    ] {
        let r = client.post(&url).json(&body).send().await?;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let err: Value = r.json().await?;
        assert!(err["error"].is_string(), "{body}: {err}");
    }
    let r = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"secs\": 1e999}")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 400, "not a finite number");
    let r = client.post(&url).body("not json").send().await?;
    assert_eq!(r.status().as_u16(), 400);
    // nothing was started by the refused requests
    let (status, _a) = try_bind(&sim, A).await?;
    assert_eq!(status, CommandStatus::EsmeRok);
    sim.shutdown().await;
    Ok(())
}
