//! [`Store`]: a connected CQL session bound to smsflow's keyspace.

use std::sync::Arc;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::deserialize::row::DeserializeRow;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::serialize::row::SerializeRow;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use smsflow_kafka::HandlerError;

use crate::config::StoreConfig;
use crate::error::StoreError;

/// Longest wait between a session's tries to reconnect to a node. The driver's default
/// doubles from 50 ms to 10 s: after an outage of half a minute a node back up went unused
/// for up to 10 s, every request failing "no connections in the pool" meanwhile (the chaos
/// suite's `cassandra` target; ADR 12, decision 20). A try a second costs a node that is
/// still down one refused TCP connect.
pub const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// Sets [`MAX_RECONNECT_WAIT`] on `b` where the driver lets us (built with
/// `--cfg scylla_unstable`, as `.cargo/config.toml` does); elsewhere the default stays.
fn reconnect_promptly(b: &mut SessionBuilder) {
    #[cfg(scylla_unstable)]
    {
        use scylla::policies::reconnect::ExponentialReconnectPolicy;
        b.config.reconnect_policy = Arc::new(
            ExponentialReconnectPolicy::new()
                .with_backoff_limits(Duration::from_millis(50), MAX_RECONNECT_WAIT),
        );
    }
    #[cfg(not(scylla_unstable))]
    let _ = b;
}

/// A CQL session plus the keyspace name. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    session: Arc<Session>,
    keyspace: String,
    bulk_grouping: crate::GroupOptions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("keyspace", &self.keyspace)
            .finish_non_exhaustive()
    }
}

fn consistency(s: &str) -> Result<Consistency, StoreError> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "QUORUM" => Consistency::Quorum,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        "ALL" => Consistency::All,
        other => return Err(StoreError::Config(format!("unknown consistency {other}"))),
    })
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Store {
    /// Connects to the contact points. Does not create or select the keyspace; see
    /// [`crate::migrate::migrate`] for that.
    pub async fn connect(cfg: &StoreConfig) -> Result<Self, StoreError> {
        if !is_identifier(&cfg.keyspace) {
            return Err(StoreError::Config(format!(
                "keyspace name {:?} is not a plain identifier",
                cfg.keyspace
            )));
        }
        // A datacenter preference over a SimpleStrategy keyspace makes the driver warn on every
        // query (~600 bytes of log each): prefer a datacenter only where replication names them.
        let mut policy = DefaultPolicy::builder().token_aware(true);
        if !cfg.is_simple_strategy() {
            policy = policy.prefer_datacenter(cfg.local_datacenter.clone());
        }
        let policy = policy.build();
        let profile = ExecutionProfile::builder()
            .consistency(consistency(&cfg.consistency)?)
            .load_balancing_policy(policy)
            .request_timeout(Some(Duration::from_secs(10)))
            .build();
        let mut b = SessionBuilder::new()
            .known_nodes(&cfg.contact_points)
            .connection_timeout(Duration::from_secs(cfg.connect_timeout_secs))
            .default_execution_profile_handle(profile.into_handle());
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            b = b.user(u, p);
        }
        reconnect_promptly(&mut b);
        let session = b.build().await.map_err(|e| StoreError::Connect {
            points: cfg.contact_points.join(","),
            message: e.to_string(),
        })?;
        Ok(Self {
            session: Arc::new(session),
            keyspace: cfg.keyspace.clone(),
            bulk_grouping: crate::GroupOptions {
                max_rows: cfg.bulk_write_max_rows.max(1),
                in_flight: cfg.bulk_write_in_flight.max(1),
                linger: Duration::from_millis(cfg.bulk_write_linger_ms),
            },
        })
    }

    /// How a [`crate::GroupCommit`] of writes nobody waits for by the millisecond groups
    /// (`bulk_write_max_rows`, `bulk_write_in_flight`, `bulk_write_linger_ms`).
    pub fn bulk_grouping(&self) -> crate::GroupOptions {
        self.bulk_grouping
    }

    /// The driver session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The keyspace name.
    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    /// `keyspace.table`, for statements.
    pub fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.keyspace)
    }

    /// Prepares `cql`; `what` names the statement in errors.
    pub async fn prepare(
        &self,
        what: &'static str,
        cql: String,
    ) -> Result<scylla::statement::prepared::PreparedStatement, StoreError> {
        self.session
            .prepare(cql)
            .await
            .map_err(|e| StoreError::query(what, e))
    }

    /// Runs a prepared write for a consumer handler; a failure is classified with
    /// [`crate::handler_error`] (retry, or dead-letter what can never succeed).
    pub async fn write(
        &self,
        what: &'static str,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<(), HandlerError> {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(|e| crate::handler_error(what, &e))?;
        Ok(())
    }

    /// Runs a prepared query for a consumer handler and reads every row as `R`; a row that
    /// does not read back as written is [`crate::unreadable`].
    pub async fn rows<R>(
        &self,
        what: &'static str,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Vec<R>, HandlerError>
    where
        R: for<'f> DeserializeRow<'f, 'f>,
    {
        let result = self
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(|e| crate::handler_error(what, &e))?
            .into_rows_result()
            .map_err(|e| crate::unreadable(what, e))?;
        result
            .rows::<R>()
            .map_err(|e| crate::unreadable(what, e))?
            .collect::<Result<Vec<R>, _>>()
            .map_err(|e| crate::unreadable(what, e))
    }

    /// Every keyspace's name on the server (`system_schema.keyspaces`): tools and tests
    /// that clean up the keyspaces they made.
    pub async fn keyspace_names(&self) -> Result<Vec<String>, StoreError> {
        let what = "list keyspaces";
        self.session
            .query_unpaged("SELECT keyspace_name FROM system_schema.keyspaces", &[])
            .await
            .map_err(|e| StoreError::query(what, e))?
            .into_rows_result()
            .map_err(|e| StoreError::query(what, e))?
            .rows::<(String,)>()
            .map_err(|e| StoreError::query(what, e))?
            .map(|r| r.map(|(n,)| n).map_err(|e| StoreError::query(what, e)))
            .collect()
    }

    /// Drops keyspace `name` if it exists (quoted: a name from [`Store::keyspace_names`]).
    pub async fn drop_keyspace(&self, name: &str) -> Result<(), StoreError> {
        self.session
            .query_unpaged(format!("DROP KEYSPACE IF EXISTS \"{name}\""), &[])
            .await
            .map(|_| ())
            .map_err(|e| StoreError::query("drop keyspace", e))
    }

    /// Checks the store answers (readiness probe); returns its release version.
    pub async fn ping(&self) -> Result<String, StoreError> {
        let res = self
            .session
            .query_unpaged("SELECT release_version FROM system.local", &[])
            .await
            .map_err(|e| StoreError::query("ping", e))?;
        let rows = res
            .into_rows_result()
            .map_err(|e| StoreError::query("ping", e))?;
        let (v,) = rows
            .single_row::<(String,)>()
            .map_err(|e| StoreError::query("ping", e))?;
        Ok(v)
    }
}
