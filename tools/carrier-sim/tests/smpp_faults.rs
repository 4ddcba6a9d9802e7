//! Faults and routing over real TCP: dropped connections, separate transmitter/receiver
//! sessions, receipts kept until a receiver binds and re-sent when refused or unacknowledged,
//! MO injection (library and HTTP), scripted MOs.

mod common;

use std::time::Duration;

use carrier_sim::{Latency, Scenario, SimError, scenario::ScriptedMo, text::decode_gsm7};
use common::{Bind, Esme, eventually, message_id, receipt_tlvs, sim, submit};
use rusmpp::{CommandId, CommandStatus};

fn fast_receipts() -> Scenario {
    let mut s = Scenario::default();
    s.receipts.delay = Latency::fixed_ms(10);
    s
}

#[tokio::test]
async fn connection_dropped_on_nth_submit_without_answer() -> anyhow::Result<()> {
    let mut scenario = fast_receipts();
    scenario.connection.drop_after_submits = 3;
    scenario.connection.max_drops = 1;
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    for i in 0..2 {
        let r = esme
            .request(submit("4915100000020", &format!("ok {i}")))
            .await?;
        assert_eq!(r.status(), CommandStatus::EsmeRok);
    }
    let seq = esme.send(submit("4915100000020", "dropped")).await?;
    assert!(esme.closed().await, "connection closed by the scenario");
    assert!(
        esme.response(seq).await.is_err(),
        "the 3rd submit was never answered"
    );
    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().current_sessions == 0).await);
    let s = ledger.summary();
    assert_eq!(
        (
            s.submits_received,
            s.accepted,
            s.dropped,
            s.connections_dropped
        ),
        (3, 2, 1, 1)
    );
    assert_eq!(
        ledger
            .segments("4915100000020")
            .iter()
            .map(|e| e.dropped)
            .sum::<u64>(),
        1
    );

    // reconnect: receipts of the two accepted submits are delivered to the new session,
    // and max_drops = 1 keeps this session alive past its 3rd submit
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    for i in 0..3 {
        let r = esme
            .request(submit("4915100000020", &format!("again {i}")))
            .await?;
        assert_eq!(r.status(), CommandStatus::EsmeRok);
    }
    for _ in 0..5 {
        esme.deliver_sm().await?;
    }
    assert!(eventually(|| ledger.summary().receipts_acked == 5).await);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn drop_connections_closes_everything() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let mut a = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let mut b = Esme::bound(sim.smpp_addr(), Bind::Tx).await?;
    assert_eq!(sim.ledger().summary().current_sessions, 2);
    sim.drop_connections().await;
    assert_eq!(sim.ledger().summary().current_sessions, 0);
    assert!(a.closed().await && b.closed().await);
    assert_eq!(sim.ledger().summary().connections_dropped, 2);
    // listener still accepts
    Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn transmitter_and_receiver_sessions_of_one_system_id() -> anyhow::Result<()> {
    let sim = sim(fast_receipts()).await;
    let mut tx = Esme::bound(sim.smpp_addr(), Bind::Tx).await?;
    let mut rx = Esme::bound(sim.smpp_addr(), Bind::Rx).await?;
    let id = message_id(&tx.request(submit("4915100000021", "split")).await?);
    let d = rx.deliver_sm().await?;
    assert_eq!(receipt_tlvs(&d).0, Some(id));
    assert!(
        tx.no_deliver_within(Duration::from_millis(100)).await,
        "never to a transmitter"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn receipts_wait_for_a_receiver_to_bind() -> anyhow::Result<()> {
    let sim = sim(fast_receipts()).await;
    let mut tx = Esme::bound(sim.smpp_addr(), Bind::Tx).await?;
    let id = message_id(&tx.request(submit("4915100000022", "later")).await?);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sim.ledger().summary().receipts_sent,
        0,
        "parked: nobody can receive"
    );
    let mut rx = Esme::bound(sim.smpp_addr(), Bind::Rx).await?;
    assert_eq!(receipt_tlvs(&rx.deliver_sm().await?).0, Some(id));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn refused_receipt_is_sent_again() -> anyhow::Result<()> {
    let mut scenario = fast_receipts();
    scenario.receipts.redelivery_delay_ms = 50;
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let id = message_id(&esme.request(submit("4915100000023", "refuse")).await?);
    // refuse the first copy with ESME_RTHROTTLED
    let first = loop {
        let c = esme.recv().await?;
        if c.id() == CommandId::DeliverSm {
            break c;
        }
    };
    esme.send_response(first.sequence_number(), 0x58).await?;
    let again = esme.deliver_sm().await?;
    assert_eq!(receipt_tlvs(&again).0, Some(id));
    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().receipts_acked == 1).await);
    assert_eq!(ledger.summary().receipts_sent, 2);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unacknowledged_receipt_is_redelivered_after_reconnect() -> anyhow::Result<()> {
    let sim = sim(fast_receipts()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let id = message_id(&esme.request(submit("4915100000024", "unacked")).await?);
    // read the receipt but never answer it, then vanish
    loop {
        if esme.recv().await?.id() == CommandId::DeliverSm {
            break;
        }
    }
    drop(esme);
    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().current_sessions == 0).await);
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    assert_eq!(receipt_tlvs(&esme.deliver_sm().await?).0, Some(id));
    assert!(eventually(|| ledger.summary().receipts_acked == 1).await);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn mo_injection_library_and_http() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    assert!(matches!(
        sim.inject_mo("smsflow", "491700000001", "12345", "nobody bound")
            .await,
        Err(SimError::NoReceiver(_))
    ));
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    sim.inject_mo("smsflow", "+491700000001", "12345", "STOP {now}")
        .await?;
    let d = esme.deliver_sm().await?;
    assert_eq!(u8::from(d.esm_class), 0);
    assert_eq!(d.source_addr.as_str(), "491700000001");
    assert_eq!(d.destination_addr.as_str(), "12345");
    assert_eq!(u8::from(d.data_coding), 0);
    assert_eq!(decode_gsm7(d.short_message().as_ref()), "STOP {now}");

    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/mo", sim.http_url()))
        .json(&serde_json::json!({"system_id": "smsflow", "from": "491700000002", "to": "777", "text": "привет"}))
        .send()
        .await?;
    assert_eq!(r.status(), 202);
    let d = esme.deliver_sm().await?;
    assert_eq!(u8::from(d.data_coding), 8);
    assert_eq!(
        carrier_sim::text::decode_ucs2(d.short_message().as_ref()),
        "привет"
    );
    let r = client
        .post(format!("{}/mo", sim.http_url()))
        .json(&serde_json::json!({"system_id": "other", "from": "1", "to": "2", "text": "x"}))
        .send()
        .await?;
    assert_eq!(r.status(), 409);
    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().mo_acked == 2).await);
    assert_eq!(ledger.summary().mo_sent, 2);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn scripted_mo_is_delivered_once_bound() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.mo.scripted = vec![ScriptedMo {
        after_ms: 0,
        system_id: "smsflow".into(),
        from: "491700000003".into(),
        to: "999".into(),
        text: "scripted".into(),
    }];
    let sim = sim(scenario).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Rx).await?;
    let d = esme.deliver_sm().await?;
    assert_eq!(decode_gsm7(d.short_message().as_ref()), "scripted");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_closes_sessions() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let ledger = sim.ledger();
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown()).await?;
    assert!(esme.closed().await);
    assert_eq!(ledger.summary().current_sessions, 0);
    Ok(())
}
