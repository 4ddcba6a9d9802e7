//! # smsflow-events: the event contract
//!
//! Every send request, routing decision, carrier attempt and delivery report in smsflow is an
//! Avro event on Kafka. This crate is that contract on the Rust side: the typed events, the
//! domain ids, the Confluent wire-format codec and the topic catalog. Services depend on it and
//! on nothing of each other.
//!
//! | module | role |
//! |---|---|
//! | [`ids`] | `MessageId` (UUIDv7), `EventId`, `TenantId`, `CarrierId`, `Msisdn` (E.164, masked in logs), `Timestamp` |
//! | [`events`] | one struct per `schemas/<Name>.avsc`, the closed [`Event`] enum, shared enums |
//! | [`schema`] | embedded `.avsc` files, shared types inlined into self-contained schemas |
//! | [`wire`] | Confluent framing: magic byte, 4-byte schema id, Avro body |
//! | [`codec`] | [`EventCodec`]: registry-backed encode/decode, TopicRecordNameStrategy subjects |
//! | [`topics`] | the topic catalog: names, keys, cleanup, retention, lanes, retry tiers |
//! | [`error`] | typed errors; decode errors say whether to retry or dead-letter |
//! | `arbitrary` | (feature `arbitrary`) proptest strategies for every event, one of each kind |
//!
//! See `docs/events.md` for the catalog with every field, and the evolution rules.

#[cfg(feature = "arbitrary")]
pub mod arbitrary;
pub mod codec;
pub mod error;
pub mod events;
pub mod ids;
pub mod schema;
pub mod topics;
pub mod wire;

pub use codec::EventCodec;
pub use error::{DecodeError, EncodeError, InvalidValue};
pub use events::*;
pub use ids::{CarrierId, EventId, MessageId, Msisdn, TenantId, Timestamp, mask_number};
pub use topics::{TopicSpec, Topics};
