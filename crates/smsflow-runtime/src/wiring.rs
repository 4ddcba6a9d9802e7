//! The links every consuming service opens: the event producer (with its registry codec), the
//! CQL store, and the readiness probes for all of them.

use std::sync::Arc;
use std::time::Duration;

use smsflow_kafka::{ConsumerParts, EventProducer, KafkaConfig, KafkaError, NoDedupe};
use smsflow_store::{Store, StoreConfig, StoreError};

use crate::http::Readiness;

/// A link could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// Kafka or the registry client.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The CQL store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Producer and store of a service.
#[derive(Clone, Debug)]
pub struct Links {
    /// Idempotent producer with the registry codec.
    pub producer: EventProducer,
    /// CQL store, keyspace selected, schema version checked.
    pub store: Store,
}

impl Links {
    /// Opens the producer and the store; fails if the store's schema is older than this build.
    pub async fn connect(
        kafka: &KafkaConfig,
        store: &StoreConfig,
        service: &str,
    ) -> Result<Self, WiringError> {
        let codec = Arc::new(kafka.codec().map_err(KafkaError::from)?);
        codec
            .register_catalog(&kafka.topics().catalog())
            .await
            .map_err(KafkaError::from)?;
        // The service's own client carries bulk and everything no one waits for; the lanes
        // someone waits for get a prompt client beside it (`LaneProducers::beside`).
        let producer =
            EventProducer::with_linger(kafka, codec, service, smsflow_kafka::BATCH_LINGER)?;
        let store = Store::connect(store).await?;
        smsflow_store::migrate::require_schema(&store).await?;
        Ok(Self { producer, store })
    }

    /// Consumer parts for the hot path: no per-record dedupe round trip. Every service's
    /// effects are idempotent by construction (derived event ids, upserts keyed by event, the
    /// dispatcher's attempt state), so a record handled twice changes nothing (ADR 11).
    pub fn consumer_parts(&self) -> ConsumerParts {
        ConsumerParts {
            producer: self.producer.clone(),
            dedupe: Arc::new(NoDedupe),
            observer: None,
        }
    }

    /// `/readyz` checks: Kafka, the schema registry and the CQL store answer.
    pub fn readiness(&self, kafka: &KafkaConfig) -> Readiness {
        let store = self.store.clone();
        kafka_readiness(kafka).with("cql_store", move || {
            let s = store.clone();
            async move { s.ping().await.map(|_| ()).map_err(|e| e.to_string()) }
        })
    }
}

/// `/readyz` checks for Kafka and the schema registry.
pub fn kafka_readiness(kafka: &KafkaConfig) -> Readiness {
    let k = kafka.clone();
    let registry = format!("{}/subjects", kafka.schema_registry_url);
    let http = reqwest::Client::new();
    Readiness::default()
        .with("kafka", move || {
            let k = k.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    smsflow_kafka::admin::ping(&k, Duration::from_secs(2))
                })
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
        })
        .with("schema_registry", move || {
            let (c, u) = (http.clone(), registry.clone());
            async move {
                c.get(&u)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
}

/// Consumer group of `service` in this deployment: `<topic prefix>smsflow-<service>`.
pub fn group_id(kafka: &KafkaConfig, service: &str) -> String {
    format!("{}smsflow-{service}", kafka.topic_prefix)
}
