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

/// How a consumer should treat a failed statement: dead-letter what can never succeed (a
/// statement the store refuses as invalid, unauthorised or badly bound: retrying it forever
/// would stall the partition), retry everything else (timeouts, unavailable, overloaded,
/// connections).
pub fn handler_error(
    what: &'static str,
    e: &scylla::errors::ExecutionError,
) -> smsflow_kafka::HandlerError {
    use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
    let permanent = match e {
        ExecutionError::BadQuery(_) => true,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => matches!(
            db,
            DbError::SyntaxError
                | DbError::Invalid
                | DbError::Unauthorized
                | DbError::ConfigError
                | DbError::AlreadyExists { .. }
                | DbError::FunctionFailure { .. }
        ),
        _ => false,
    };
    if permanent {
        smsflow_kafka::HandlerError::dead_letter("STORE_REJECTED", format!("{what}: {e}"))
    } else {
        smsflow_kafka::HandlerError::retry(format!("{what}: {e}"))
    }
}

/// A row of our own table that does not read back as written: a schema mismatch, which no
/// retry fixes.
pub fn unreadable(what: &'static str, e: impl std::fmt::Display) -> smsflow_kafka::HandlerError {
    smsflow_kafka::HandlerError::dead_letter("STORE_ROW_UNREADABLE", format!("{what}: {e}"))
}
