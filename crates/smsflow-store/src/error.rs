//! Store errors. Every one is transient from a consumer's point of view (the store may come
//! back), except a schema that is older than the code needs.

use thiserror::Error;

/// A CQL store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Could not connect to any contact point.
    #[error("cannot connect to the CQL store at {points}: {message}")]
    Connect {
        /// Contact points tried.
        points: String,
        /// Driver error.
        message: String,
    },
    /// A statement failed.
    #[error("cql {what}: {message}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// Driver error.
        message: String,
    },
    /// The keyspace's schema is not at the version this code needs.
    #[error(
        "store schema is at version {found}, this build needs {needed}: run `smsflow admin setup`"
    )]
    SchemaTooOld {
        /// Applied version.
        found: i32,
        /// Needed version.
        needed: i32,
    },
    /// An applied migration was edited afterwards.
    #[error(
        "migration {version} was changed after it was applied (checksum {applied} != {current})"
    )]
    MigrationChanged {
        /// Version.
        version: i32,
        /// Checksum recorded when applied.
        applied: String,
        /// Checksum of the file now.
        current: String,
    },
    /// A configuration value is not valid.
    #[error("invalid store configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Wraps a driver error.
    pub fn query(what: &'static str, e: impl std::fmt::Display) -> Self {
        StoreError::Query {
            what,
            message: e.to_string(),
        }
    }
}

/// How a consumer should treat a failed statement: dead-letter what can never succeed for
/// this record (a statement the store refuses as invalid or badly bound: retrying it forever
/// would stall the partition), retry everything else (timeouts, unavailable, overloaded,
/// connections), and a store that lacks our keyspace or table or refuses our credentials:
/// that is the deployment's state, not the record's (a keyspace not migrated yet, or lost
/// with a node), and dead-lettering every record until someone fixes it would lose them all.
pub fn handler_error(
    what: &'static str,
    e: &scylla::errors::ExecutionError,
) -> smsflow_kafka::HandlerError {
    use scylla::errors::{ExecutionError, RequestAttemptError};
    let permanent = match e {
        ExecutionError::BadQuery(_) => true,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, message)) => {
            refused_for_the_record(db, message)
        }
        _ => false,
    };
    if permanent {
        smsflow_kafka::HandlerError::dead_letter("STORE_REJECTED", format!("{what}: {e}"))
    } else {
        smsflow_kafka::HandlerError::retry(format!("{what}: {e}"))
    }
}

/// Whether the store's refusal `db` (with its `message`) is about the statement and its values,
/// so that no retry can help. Cassandra and ScyllaDB say "keyspace ... does not exist" or
/// "unconfigured table ..." with the same error code as an invalid value (`Invalid`,
/// 0x2200): only the message tells them apart.
fn refused_for_the_record(db: &scylla::errors::DbError, message: &str) -> bool {
    use scylla::errors::DbError;
    let schema_missing =
        message.contains("does not exist") || message.contains("unconfigured table");
    match db {
        DbError::Invalid => !schema_missing,
        DbError::SyntaxError
        | DbError::ConfigError
        | DbError::AlreadyExists { .. }
        | DbError::FunctionFailure { .. } => true,
        _ => false,
    }
}

/// A row of our own table that does not read back as written: a schema mismatch, which no
/// retry fixes.
pub fn unreadable(what: &'static str, e: impl std::fmt::Display) -> smsflow_kafka::HandlerError {
    smsflow_kafka::HandlerError::dead_letter("STORE_ROW_UNREADABLE", format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use scylla::errors::DbError;

    use super::refused_for_the_record;

    #[test]
    fn a_missing_keyspace_or_table_or_refused_credentials_are_retried_not_dead_lettered() {
        for message in [
            "keyspace bench_x does not exist",
            "Keyspace smsflow does not exist",
            "unconfigured table dispatch_state",
        ] {
            assert!(
                !refused_for_the_record(&DbError::Invalid, message),
                "{message}"
            );
        }
        assert!(!refused_for_the_record(
            &DbError::Unauthorized,
            "no SELECT permission"
        ));
        assert!(!refused_for_the_record(&DbError::Overloaded, "busy"));
    }

    #[test]
    fn an_invalid_value_or_statement_is_dead_lettered() {
        assert!(refused_for_the_record(
            &DbError::Invalid,
            "Key length of 70000 is longer than maximum of 65535"
        ));
        assert!(refused_for_the_record(&DbError::Invalid, "Batch too large"));
        assert!(refused_for_the_record(
            &DbError::SyntaxError,
            "line 1:7 no viable alternative"
        ));
    }
}
