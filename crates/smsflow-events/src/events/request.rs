//! `sms.requests`: what clients ask for.

use serde::{Deserialize, Serialize};

use super::common::{EventMeta, Lane, MessageType};
use crate::ids::{MessageId, Msisdn, TenantId, Timestamp};

/// A client asked smsflow to send one SMS (`schemas/SendRequested.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequested {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id assigned at ingest.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination, E.164; also the Kafka key.
    pub to: Msisdn,
    /// Sender id: number, short code or alphanumeric.
    pub from: String,
    /// Body. Never logged.
    pub text: String,
    /// What the message is for.
    pub message_type: MessageType,
    /// Priority lane.
    pub lane: Lane,
    /// Client's own reference.
    pub client_ref: Option<String>,
    /// Client's Idempotency-Key.
    pub idempotency_key: Option<String>,
    /// Status webhook URL.
    pub callback_url: Option<String>,
    /// Scheduled send time.
    pub send_at: Option<Timestamp>,
    /// Validity end.
    pub expires_at: Option<Timestamp>,
    /// Replace look-alike characters to stay in GSM-7.
    pub smart_encoding: bool,
    /// How the request arrived (`api`, `kannel`, `jasmin`, `kafka`...).
    pub channel: String,
}
