//! `sms.attempts`: the write-ahead record of every carrier attempt.

use serde::{Deserialize, Serialize};

use super::common::{ErrorClass, EventMeta, Lane};
use crate::ids::{CarrierId, MessageId, Msisdn, TenantId, Timestamp};

/// The dispatcher is about to submit (`schemas/AttemptStarted.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptStarted {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Lane.
    pub lane: Lane,
    /// Attempt number.
    pub attempt: i32,
    /// Carrier.
    pub carrier_id: CarrierId,
    /// Segments to submit.
    pub segments: i32,
}

/// Every segment of an attempt was accepted (`schemas/AttemptSubmitted.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptSubmitted {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Attempt number.
    pub attempt: i32,
    /// Carrier.
    pub carrier_id: CarrierId,
    /// Carrier id per segment, normalised.
    pub carrier_message_ids: Vec<String>,
    /// Resubmit after an unknown outcome.
    pub ambiguous: bool,
}

/// An attempt failed (`schemas/AttemptFailed.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFailed {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Attempt number.
    pub attempt: i32,
    /// Carrier.
    pub carrier_id: CarrierId,
    /// How to treat it.
    pub error_class: ErrorClass,
    /// Stable code.
    pub error_code: String,
    /// Detail.
    pub reason: String,
    /// Segments accepted before the failure.
    pub carrier_message_ids: Vec<String>,
    /// Whether a retry or failover follows.
    pub will_retry: bool,
}

/// A retry will happen after a delay (`schemas/RetryScheduled.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryScheduled {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Attempt that will be made.
    pub attempt: i32,
    /// Carrier of the retry.
    pub carrier_id: CarrierId,
    /// Retry topic tier.
    pub delay_tier: String,
    /// Earliest retry time.
    pub not_before: Timestamp,
    /// Why the previous attempt failed.
    pub reason: String,
}
