//! How to reach the CQL store (ScyllaDB in production, Cassandra locally).

use std::collections::BTreeMap;

use serde::Deserialize;

/// CQL store settings. Defaults run against the local stack.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Contact points, `host:port`.
    pub contact_points: Vec<String>,
    /// Datacenter whose nodes are preferred (ScyllaDB/Cassandra `dc`).
    pub local_datacenter: String,
    /// Keyspace holding smsflow's tables.
    pub keyspace: String,
    /// Keyspace replication, as in `CREATE KEYSPACE ... WITH replication = {...}`. Locally
    /// `{class: SimpleStrategy, replication_factor: "1"}`; in production
    /// `{class: NetworkTopologyStrategy, <dc>: "3"}`.
    pub replication: BTreeMap<String, String>,
    /// Username, when authentication is on.
    pub username: Option<String>,
    /// Password. Prefer the `SMSFLOW_STORE__PASSWORD` environment variable.
    pub password: Option<String>,
    /// Consistency of reads and writes: `LOCAL_QUORUM` (default), `QUORUM`, `ONE`...
    pub consistency: String,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
    /// Milliseconds a grouped write that nobody waits for by the millisecond (bulk attempt
    /// state, receipt correlations and segment states) waits for others to share its request
    /// (ADR 11, decision 18): fewer, fuller batches for the store. 0 (the default) sends each
    /// as soon as a request is free: with 5 ms, the OTP's tail under a bulk drain on the
    /// 2-core benchmark machine grew from ~50 to 110–240 ms.
    pub bulk_write_linger_ms: u64,
    /// Requests of such writes in flight at once, per writer (64 by default): while all are
    /// out, the writes that come in queue up for the next request, so under load the batches
    /// fill by themselves, without a timer. With 4, at 3,000 messages/s on the 2-core
    /// benchmark machine, the store requests per message fell from ~1.05 to ~0.3 and the CPU
    /// per message by ~5 %, but the OTP's p99 under a bulk drain was 97 ms in its one run
    /// (46–71 ms with 64), so it is not the default (ADR 11, decision 19).
    pub bulk_write_in_flight: usize,
    /// Most rows in one request of such writes.
    pub bulk_write_max_rows: usize,
}

impl StoreConfig {
    /// Whether the keyspace replication is `SimpleStrategy` (no datacenters, local stacks).
    pub fn is_simple_strategy(&self) -> bool {
        self.replication
            .get("class")
            .is_some_and(|c| c.rsplit('.').next() == Some("SimpleStrategy"))
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            contact_points: vec!["127.0.0.1:9042".into()],
            local_datacenter: "datacenter1".into(),
            keyspace: "smsflow".into(),
            replication: BTreeMap::from([
                ("class".into(), "SimpleStrategy".into()),
                ("replication_factor".into(), "1".into()),
            ]),
            username: None,
            password: None,
            consistency: "LOCAL_QUORUM".into(),
            connect_timeout_secs: 5,
            bulk_write_linger_ms: 0,
            bulk_write_in_flight: 64,
            bulk_write_max_rows: 10,
        }
    }
}
