//! Errors of the event contract: invalid values, encoding and decoding failures.
//!
//! Every decode error knows whether it is worth retrying (the registry was unreachable) or the
//! bytes themselves are bad and belong in the dead-letter topic.

use thiserror::Error;

/// A value that does not satisfy its type's rule (e.g. a number that is not E.164).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {field}: {rule}")]
pub struct InvalidValue {
    /// Name of the field or type that was invalid.
    pub field: &'static str,
    /// The rule it broke, in words.
    pub rule: &'static str,
}

impl InvalidValue {
    /// Creates the error.
    pub fn new(field: &'static str, rule: &'static str) -> Self {
        Self { field, rule }
    }
}

/// Encoding an event failed.
#[derive(Debug, Error)]
pub enum EncodeError {
    /// The schema registry refused or could not be reached while registering the schema.
    #[error("schema registry: {message}")]
    Registry {
        /// Registry error text.
        message: String,
        /// Whether trying again later may succeed.
        retriable: bool,
    },
    /// The value did not fit its schema (a bug: the Rust type and the `.avsc` disagree).
    #[error("avro encoding of {event}: {source}")]
    Avro {
        /// Event type name.
        event: &'static str,
        /// Underlying error.
        #[source]
        source: Box<apache_avro::Error>,
    },
}

/// Decoding bytes into an event failed.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// The payload is not in the Confluent wire format (magic byte 0, 4-byte schema id).
    #[error("not Confluent wire format: {0}")]
    NotWireFormat(&'static str),
    /// The schema id is not known to the registry.
    #[error("schema id {0} unknown to the registry")]
    UnknownSchemaId(u32),
    /// The registry could not be reached; the bytes may be fine.
    #[error("schema registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// The writer schema is not one of smsflow's events.
    #[error("schema {0} is not an smsflow event")]
    UnknownEventType(String),
    /// The Avro body does not decode with its writer schema, or does not resolve to ours.
    #[error("avro body of {event}: {message}")]
    Avro {
        /// Writer schema name.
        event: String,
        /// Underlying error text.
        message: String,
    },
}

impl DecodeError {
    /// True when retrying later may succeed (the registry was down); false when the bytes are
    /// bad and belong in the dead-letter topic.
    pub fn is_retriable(&self) -> bool {
        matches!(self, DecodeError::RegistryUnavailable(_))
    }

    /// A short stable code for the dead-letter header `smsflow.dlq.error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::NotWireFormat(_) => "NOT_WIRE_FORMAT",
            DecodeError::UnknownSchemaId(_) => "UNKNOWN_SCHEMA_ID",
            DecodeError::RegistryUnavailable(_) => "REGISTRY_UNAVAILABLE",
            DecodeError::UnknownEventType(_) => "UNKNOWN_EVENT_TYPE",
            DecodeError::Avro { .. } => "AVRO_DECODE",
        }
    }
}
