//! Issue 9, item 2: a carrier's receipt is acknowledged to the carrier only once Kafka has its
//! event. The dispatcher's inbound pump (`dispatcher::inbound::pump`, the code the service
//! runs) publishes each deliver_sm to `sms.dlr.raw` and answers the carrier by Kafka's answer.
//! Here `sms.dlr.raw` is missing on the real broker at first (as a topic without a leader
//! looks to a producer): the simulated carrier must see its receipt refused and deliver it
//! again, never acknowledged; once the topic is back, the receipt is published and then
//! acknowledged. Answering at hand-over (the old behaviour) acknowledged a receipt that a
//! crash at that moment would have lost.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use smsflow_events::{CarrierId, Event};
use smsflow_integration::{Stack, eventually, payload, read_topic};
use smsflow_kafka::EventProducer;
use smsflow_runtime::CancellationToken;
use smsflow_smpp::{CarrierConfig, Secret, SmppClient, SubmitRequest};

/// One account; a receipt for every submit, refused receipts sent again after 300 ms.
const SCENARIO: &str = r#"
[[accounts]]
system_id = "smsflow"
password = "secret"

[scenario]
seed = 11

[scenario.receipts]
delay = { distribution = "uniform", min_ms = 10, max_ms = 20 }
outcomes = [{ state = "DELIVRD", weight = 1.0 }]
form = "text_and_tlv"
redelivery_delay_ms = 300
"#;

#[tokio::test]
async fn a_receipt_is_acknowledged_to_the_carrier_only_once_kafka_has_it() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let mut kafka = stack.isolated_kafka(1).await;
    let topics = kafka.topics();
    // The receipts' topic goes away before anything is published to it.
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create().unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let deleted = admin
        .delete_topics(&[topics.dlr_raw.as_str()], &opts)
        .await
        .unwrap();
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    // Kafka's answer within 1.5 s (the service's is its `delivery.timeout.ms` too).
    kafka
        .properties
        .insert("delivery.timeout.ms".into(), "1500".into());
    let producer =
        EventProducer::new(&kafka, Arc::new(kafka.codec().unwrap()), "handover-test").unwrap();

    let mut sim_cfg = carrier_sim::SimConfig::from_toml_str(SCENARIO).unwrap();
    sim_cfg.smpp_listen = "127.0.0.1:0".parse().unwrap();
    sim_cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    let sim = carrier_sim::start(sim_cfg).await.unwrap();
    let (client, inbound) = SmppClient::start(CarrierConfig {
        host: sim.smpp_addr().ip().to_string(),
        port: sim.smpp_addr().port(),
        system_id: "smsflow".into(),
        password: Secret("secret".into()),
        sessions: 1,
        registered_delivery: 1,
        ..Default::default()
    })
    .unwrap();
    let binds_closed = CancellationToken::new();
    let pump = tokio::spawn(dispatcher::inbound::pump(
        CarrierId::parse("sim").unwrap(),
        inbound,
        producer.clone(),
        topics.clone(),
        binds_closed.clone(),
    ));
    assert!(client.wait_until_bound(1, Duration::from_secs(10)).await);
    let report = client
        .submit(SubmitRequest::new("ITEST", "447700900123", "hello", 1))
        .await
        .unwrap();
    let carrier_id = report.parts[0].result.clone().unwrap().message_id;

    // Kafka cannot take the receipt: the carrier is asked to deliver it again, more than
    // once, and never told it was taken.
    let ledger = sim.ledger();
    let refused = eventually(Duration::from_secs(60), || {
        let s = ledger.summary();
        async move { (s.receipts_sent >= 3).then_some(s) }
    })
    .await
    .expect("the carrier delivered its refused receipt again");
    assert_eq!(
        refused.receipts_acked, 0,
        "a receipt was acknowledged that Kafka never had"
    );

    // The topic is back: the next delivery is published, then acknowledged.
    smsflow_kafka::admin::ensure_topics(&kafka, &topics.catalog())
        .await
        .unwrap();
    let acked = eventually(Duration::from_secs(90), || {
        let s = ledger.summary();
        async move { (s.receipts_acked >= 1).then_some(s) }
    })
    .await
    .expect("the receipt was acknowledged once Kafka had it");
    assert_eq!(acked.receipts_acked, 1);
    let codec = kafka.codec().unwrap();
    let records = read_topic(&kafka, &topics.dlr_raw, 1, Duration::from_secs(30));
    assert!(!records.is_empty(), "the acknowledged receipt is on Kafka");
    for r in &records {
        let Ok(Event::CarrierReceiptReceived(e)) = codec.decode(payload(r)).await else {
            panic!("a receipt event");
        };
        assert_eq!(e.normalized_id, carrier_id.as_str());
    }

    client.shutdown(Duration::from_secs(2)).await;
    binds_closed.cancel();
    tokio::time::timeout(Duration::from_secs(30), pump)
        .await
        .expect("the pump ends once the binds are closed")
        .unwrap();
    sim.shutdown().await;
}
