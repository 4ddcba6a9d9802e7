//! Versioned, idempotent schema migrations (ScyllaDB-compatible CQL only: no SAI indexes,
//! no Cassandra-only options).
//!
//! Migrations are the `migrations/NNNN_name.cql` files, embedded at build time and applied in
//! order by `smsflow admin setup` (also run by `make up`, the tests and the Kubernetes setup
//! job). Applied versions are recorded in `schema_migrations` with a checksum; an edited applied
//! migration is an error. Every statement is `IF NOT EXISTS`, so a run interrupted half-way is
//! simply run again. Services only check the version ([`require_schema`]).

use sha2::{Digest, Sha256};

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::session::Store;

/// One migration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Version number (the file's `NNNN`).
    pub version: i32,
    /// Name (the rest of the file name).
    pub name: &'static str,
    /// CQL statements separated by `;`, `--` comments allowed.
    pub cql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "dedupe",
        cql: include_str!("../migrations/0001_dedupe.cql"),
    },
    Migration {
        version: 2,
        name: "dispatcher",
        cql: include_str!("../migrations/0002_dispatcher.cql"),
    },
    Migration {
        version: 3,
        name: "dlr",
        cql: include_str!("../migrations/0003_dlr.cql"),
    },
    Migration {
        version: 4,
        name: "analytics",
        cql: include_str!("../migrations/0004_analytics.cql"),
    },
    Migration {
        version: 5,
        name: "message_view",
        cql: include_str!("../migrations/0005_message_view.cql"),
    },
    Migration {
        version: 6,
        name: "hot_path_progress",
        cql: include_str!("../migrations/0006_hot_path_progress.cql"),
    },
    Migration {
        version: 7,
        name: "dispatch_leases",
        cql: include_str!("../migrations/0007_dispatch_leases.cql"),
    },
    Migration {
        version: 8,
        name: "consent_history",
        cql: include_str!("../migrations/0008_consent_history.cql"),
    },
    Migration {
        version: 9,
        name: "inbound_parts",
        cql: include_str!("../migrations/0009_inbound_parts.cql"),
    },
];

/// The schema version this build needs.
pub fn required_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

impl Migration {
    /// SHA-256 of the file, hex.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.cql.as_bytes()))
    }

    /// The statements, comments removed.
    pub fn statements(&self) -> Vec<String> {
        let without_comments: String = self
            .cql
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        without_comments
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// What `migrate` did to one migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Version.
    pub version: i32,
    /// Name.
    pub name: &'static str,
    /// Applied now (true) or found already applied (false).
    pub applied_now: bool,
}

fn replication_literal(cfg: &StoreConfig) -> Result<String, StoreError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    let mut parts = Vec::new();
    for (k, v) in &cfg.replication {
        if !ok(k) || !ok(v) {
            return Err(StoreError::Config(format!(
                "replication entry {k:?}: {v:?} is not a plain word"
            )));
        }
        parts.push(format!("'{k}': '{v}'"));
    }
    if !cfg.replication.contains_key("class") {
        return Err(StoreError::Config("replication needs a 'class'".into()));
    }
    Ok(format!("{{{}}}", parts.join(", ")))
}

async fn exec(store: &Store, what: &'static str, cql: &str) -> Result<(), StoreError> {
    store
        .session()
        .query_unpaged(cql, &[])
        .await
        .map_err(|e| StoreError::query(what, e))?;
    Ok(())
}

/// Creates the keyspace if needed and applies every migration not applied yet.
pub async fn migrate(store: &Store, cfg: &StoreConfig) -> Result<Vec<MigrationStatus>, StoreError> {
    let ks = store.keyspace();
    exec(
        store,
        "create keyspace",
        &format!(
            "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {}",
            replication_literal(cfg)?
        ),
    )
    .await?;
    exec(
        store,
        "create schema_migrations",
        &format!(
            "CREATE TABLE IF NOT EXISTS {ks}.schema_migrations \
             (version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
        ),
    )
    .await?;
    store
        .session()
        .use_keyspace(ks, false)
        .await
        .map_err(|e| StoreError::query("use keyspace", e))?;
    let applied = applied(store).await?;
    let mut out = Vec::new();
    for m in MIGRATIONS {
        if let Some((_, sum)) = applied.iter().find(|(v, _)| *v == m.version) {
            if *sum != m.checksum() {
                return Err(StoreError::MigrationChanged {
                    version: m.version,
                    applied: sum.clone(),
                    current: m.checksum(),
                });
            }
            out.push(MigrationStatus {
                version: m.version,
                name: m.name,
                applied_now: false,
            });
            continue;
        }
        for stmt in m.statements() {
            exec(store, "migration statement", &stmt).await?;
        }
        store
            .session()
            .await_schema_agreement()
            .await
            .map_err(|e| StoreError::query("schema agreement", e))?;
        store
            .session()
            .query_unpaged(
                format!("INSERT INTO {ks}.schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, toTimestamp(now()))"),
                (m.version, m.name, m.checksum()),
            )
            .await
            .map_err(|e| StoreError::query("record migration", e))?;
        out.push(MigrationStatus {
            version: m.version,
            name: m.name,
            applied_now: true,
        });
    }
    Ok(out)
}

async fn applied(store: &Store) -> Result<Vec<(i32, String)>, StoreError> {
    let res = store
        .session()
        .query_unpaged(
            format!(
                "SELECT version, checksum FROM {}.schema_migrations",
                store.keyspace()
            ),
            &[],
        )
        .await
        .map_err(|e| StoreError::query("read schema_migrations", e))?;
    let rows = res
        .into_rows_result()
        .map_err(|e| StoreError::query("read schema_migrations", e))?;
    rows.rows::<(i32, String)>()
        .map_err(|e| StoreError::query("read schema_migrations", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::query("read schema_migrations", e))
}

/// The highest applied migration version (0 when none, or no keyspace yet).
pub async fn schema_version(store: &Store) -> Result<i32, StoreError> {
    match applied(store).await {
        Ok(v) => Ok(v.iter().map(|(v, _)| *v).max().unwrap_or(0)),
        Err(StoreError::Query { message, .. })
            if message.contains("does not exist")
                || message.contains("unconfigured table")
                || message.contains("Keyspace") =>
        {
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// Fails unless the schema is at least at the version this build needs.
pub async fn require_schema(store: &Store) -> Result<(), StoreError> {
    let found = schema_version(store).await?;
    let needed = required_version();
    if found < needed {
        return Err(StoreError::SchemaTooOld { found, needed });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
    }

    #[test]
    fn statements_split_and_drop_comments() {
        for m in MIGRATIONS {
            let stmts = m.statements();
            assert!(!stmts.is_empty(), "{}", m.name);
            for s in stmts {
                assert!(!s.contains("--"), "{s}");
                assert!(
                    s.contains("IF NOT EXISTS"),
                    "migration {} has a statement that is not idempotent: {s}",
                    m.name
                );
            }
        }
    }

    #[test]
    fn no_cassandra_only_cql() {
        // ScyllaDB does not support SAI/SASI indexes or these Cassandra-only options.
        for m in MIGRATIONS {
            let cql = m.cql.to_ascii_uppercase();
            for banned in [
                "USING 'SAI'",
                "STORAGEATTACHEDINDEX",
                "SASI",
                "CUSTOM INDEX",
                "VECTOR<",
            ] {
                assert!(!cql.contains(banned), "migration {} uses {banned}", m.name);
            }
        }
    }

    #[test]
    fn replication_literal_rejects_injection() {
        let mut cfg = StoreConfig::default();
        assert_eq!(
            replication_literal(&cfg).unwrap(),
            "{'class': 'SimpleStrategy', 'replication_factor': '1'}"
        );
        cfg.replication.insert("x".into(), "1'}; DROP".into());
        assert!(replication_literal(&cfg).is_err());
    }
}
