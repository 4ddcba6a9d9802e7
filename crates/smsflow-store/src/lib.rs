//! # smsflow-store: the CQL store (ScyllaDB in production, Cassandra 5 locally)
//!
//! | module | role |
//! |---|---|
//! | [`config`] | [`StoreConfig`]: contact points, datacenter, keyspace, replication, auth, consistency |
//! | [`session`] | [`Store`]: connected session, keyspace, ping |
//! | [`migrate`] | versioned idempotent migrations from `migrations/*.cql`, schema version check |
//! | [`dedupe`] | [`CqlDedupe`]: durable dedupe hook for the consumer loop |
//! | [`group`] | [`GroupCommit`]: one-row writes of many tasks sent as few batches |
//! | [`error`] | [`StoreError`] |
//!
//! Services own their tables (see each migration's `Owner:` line) and write their own
//! statements; this crate only connects, migrates and provides the shared dedupe table.

pub mod config;
pub mod dedupe;
pub mod error;
pub mod group;
pub mod migrate;
pub mod session;

pub use config::StoreConfig;
pub use dedupe::CqlDedupe;
pub use error::{StoreError, handler_error, unreadable};
pub use group::{GroupCommit, GroupOptions};
pub use session::Store;
