//! `sms.routing.<lane>` and `sms.retry.<tier>`: the router's decisions.

use serde::{Deserialize, Serialize};

use super::common::{Encoding, EventMeta, Lane, MessageType};
use crate::ids::{CarrierId, MessageId, Msisdn, TenantId, Timestamp};

/// The router chose a carrier, or a retry re-dispatches (`schemas/RoutingDecided.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecided {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Sender id.
    pub from: String,
    /// Body. Never logged.
    pub text: String,
    /// What the message is for.
    pub message_type: MessageType,
    /// Priority lane.
    pub lane: Lane,
    /// Attempt number this decision is for (1 = first).
    pub attempt: i32,
    /// Carrier to submit to.
    pub carrier_id: CarrierId,
    /// Matching route table entry.
    pub route_id: String,
    /// Route table version that decided.
    pub route_table_version: i64,
    /// Carriers to fail over to, in order.
    pub failover: Vec<CarrierId>,
    /// Encoding of the text.
    pub encoding: Encoding,
    /// Number of segments.
    pub segments: i32,
    /// Expected cost in micro-units.
    pub cost_micros: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Earliest submit time.
    pub not_before: Option<Timestamp>,
    /// Validity end.
    pub expires_at: Option<Timestamp>,
}

/// The router refused a message (`schemas/MessageRejected.avsc`). Terminal: REJECTED.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRejected {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Lane the message was in.
    pub lane: Lane,
    /// Stable code (`NO_ROUTE`, `OPTED_OUT`...).
    pub reason_code: String,
    /// Explanation, without the body.
    pub reason: String,
}
