//! `sms.inbound` and `sms.consent`: what handsets send us, and consent.

use serde::{Deserialize, Serialize};

use super::common::{Encoding, EventMeta, avro_enum};
use crate::ids::{CarrierId, EventId, MessageId, Msisdn, TenantId};

/// A mobile-originated message (`schemas/InboundMessageReceived.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessageReceived {
    /// Envelope.
    pub meta: EventMeta,
    /// Id given to the inbound message.
    pub message_id: MessageId,
    /// Tenant owning the number, when known.
    pub tenant_id: Option<TenantId>,
    /// Handset number.
    pub from: Msisdn,
    /// Our number or short code.
    pub to: String,
    /// Body. Never logged.
    pub text: String,
    /// Carrier it came through.
    pub carrier_id: CarrierId,
    /// Encoding it arrived in.
    pub encoding: Encoding,
    /// Recognised compliance keyword.
    pub keyword: Option<String>,
    /// Set on one part of a concatenated message; whole-message consumers skip it.
    #[serde(default)]
    pub part: Option<InboundPart>,
    /// The part events' message ids, in part order, when assembled from parts.
    #[serde(default)]
    pub assembled_from: Vec<MessageId>,
}

/// Where a part sits in a concatenated inbound message (`InboundPart` in
/// `schemas/InboundMessageReceived.avsc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InboundPart {
    /// Reference shared by the parts.
    pub reference: i32,
    /// Number of parts.
    pub total: i32,
    /// This part, 1-based.
    pub seq: i32,
}

impl InboundMessageReceived {
    /// True for a whole message (arrived whole, or assembled), false for one part of one.
    pub fn is_whole(&self) -> bool {
        self.part.is_none()
    }
}

avro_enum!(
    /// Whether a handset accepts messages from a tenant.
    ConsentStatus { /** Accepts. */ OptedIn = "OPTED_IN", /** Refuses. */ OptedOut = "OPTED_OUT" }
);

/// Consent changed (`schemas/ConsentChanged.avsc`); key `tenant_id/number`, compacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChanged {
    /// Envelope.
    pub meta: EventMeta,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Handset number.
    pub number: Msisdn,
    /// New status.
    pub status: ConsentStatus,
    /// `keyword` or `api`.
    pub source: String,
    /// Keyword that changed it.
    pub keyword: Option<String>,
    /// Inbound message proving it.
    pub evidence_message_id: Option<EventId>,
}

impl ConsentChanged {
    /// The Kafka key of `tenant`'s consent for `number` on `sms.consent`: `tenant/number`.
    pub fn key_of(tenant: &TenantId, number: &Msisdn) -> String {
        format!("{}/{}", tenant.as_str(), number.as_str())
    }

    /// The tenant and number of a key [`ConsentChanged::key_of`] made.
    pub fn parse_key(key: &str) -> Option<(&str, &str)> {
        key.rsplit_once('/')
    }
}
