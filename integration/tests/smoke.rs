//! Smoke tests: the Rust side talks to each real server of the stack.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use smsflow_integration::{Stack, payload, read_topic, unique};

/// An Avro record produced through the registry with `schema_registry_converter` is consumed
/// and decoded back, with the schema id the registry gave.
#[tokio::test]
async fn avro_record_round_trips_through_kafka_and_the_registry() {
    let stack = Stack::from_env();
    stack.require_kafka();
    stack.require_registry().await;
    let topic = unique("smoke-avro");
    let admin: AdminClient<DefaultClientContext> = stack.kafka.client_config().create().unwrap();
    admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();

    let sr = || SrSettings::new(stack.kafka.schema_registry_url.clone());
    let schema = r#"{"type":"record","name":"Ping","namespace":"io.smsflow.smoke","fields":[{"name":"n","type":"long"},{"name":"who","type":"string"}]}"#;
    let strategy = SubjectNameStrategy::TopicNameStrategyWithSchema(
        topic.clone(),
        false,
        SuppliedSchema::new(
            Some("io.smsflow.smoke.Ping".into()),
            SchemaType::Avro,
            schema.into(),
        ),
    );
    let encoder = AvroEncoder::new(sr());
    let bytes = encoder
        .encode(
            vec![
                ("n", apache_avro::types::Value::Long(42)),
                ("who", apache_avro::types::Value::String("smoke".into())),
            ],
            strategy,
        )
        .await
        .expect("encode through the registry");
    assert_eq!(bytes[0], 0, "Confluent magic byte");

    let producer: rdkafka::producer::FutureProducer = stack.kafka.client_config().create().unwrap();
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&topic)
                .key("k")
                .payload(&bytes),
            Duration::from_secs(10),
        )
        .await
        .expect("produce acknowledged");

    let got = read_topic(&stack.kafka, &topic, 1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "record not consumed back");
    let decoded = AvroDecoder::new(sr())
        .decode(Some(payload(&got[0])))
        .await
        .expect("decode");
    assert_eq!(
        decoded.name.map(|n| n.fullname(None)),
        Some("io.smsflow.smoke.Ping".to_owned())
    );
    assert_eq!(
        decoded.value,
        apache_avro::types::Value::Record(vec![
            ("n".into(), apache_avro::types::Value::Long(42)),
            (
                "who".into(),
                apache_avro::types::Value::String("smoke".into())
            ),
        ])
    );
}

/// A row written with the `scylla` driver is read back, in a keyspace of the test's own.
#[tokio::test]
async fn cql_row_round_trips() {
    let stack = Stack::from_env();
    let store = stack.require_store().await;
    let ks = unique("smoke").replace('-', "_");
    let s = store.session();
    s.query_unpaged(
        format!("CREATE KEYSPACE {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': '1'}}"),
        &[],
    )
    .await
    .expect("create keyspace");
    s.query_unpaged(
        format!("CREATE TABLE {ks}.kv (k text PRIMARY KEY, v bigint)"),
        &[],
    )
    .await
    .expect("create table");
    s.query_unpaged(
        format!("INSERT INTO {ks}.kv (k, v) VALUES (?, ?)"),
        ("answer", 42_i64),
    )
    .await
    .expect("insert");
    let rows = s
        .query_unpaged(format!("SELECT v FROM {ks}.kv WHERE k = ?"), ("answer",))
        .await
        .expect("select")
        .into_rows_result()
        .unwrap();
    assert_eq!(rows.single_row::<(i64,)>().unwrap(), (42,));
    s.query_unpaged(format!("DROP KEYSPACE {ks}"), &[])
        .await
        .expect("drop keyspace");
}

/// A topic created with the admin API is described with the requested partition count, and
/// the catalog setup is idempotent.
#[tokio::test]
async fn topics_are_created_and_described() {
    let stack = Stack::from_env();
    stack.require_kafka();
    let k = stack.isolated_kafka(3).await;
    let t = k.topics();
    let info = smsflow_kafka::admin::describe_topic(&k, &t.requests, Duration::from_secs(10))
        .unwrap()
        .expect("sms.requests exists");
    assert_eq!(info.partitions, 3);
    let again = smsflow_kafka::admin::ensure_topics(&k, &t.catalog())
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|(_, a)| *a == smsflow_kafka::admin::TopicAction::Existed)
    );
    let missing =
        smsflow_kafka::admin::describe_topic(&k, &unique("absent"), Duration::from_secs(10))
            .unwrap();
    assert!(missing.is_none());
}
