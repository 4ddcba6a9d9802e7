//! `sms.dlr.raw` and `sms.dlr`: delivery receipts, raw and correlated.

use serde::{Deserialize, Serialize};

use super::common::{DeliveryState, EventMeta, TerminalStatus};
use crate::ids::{CarrierId, MessageId, Msisdn, TenantId, Timestamp};

/// A receipt as the carrier sent it, before correlation (`schemas/CarrierReceiptReceived.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierReceiptReceived {
    /// Envelope.
    pub meta: EventMeta,
    /// Carrier it came from.
    pub carrier_id: CarrierId,
    /// Id exactly as received.
    pub carrier_message_id: String,
    /// Id normalised with the carrier's rules; correlation key.
    pub normalized_id: String,
    /// Handset the receipt is about, when known.
    pub to: Option<String>,
    /// Reported state.
    pub state: DeliveryState,
    /// Carrier error code.
    pub error_code: Option<String>,
    /// Carrier's submit date.
    pub submitted_at: Option<Timestamp>,
    /// Carrier's done date.
    pub done_at: Option<Timestamp>,
    /// `smpp` or `http`.
    pub source: String,
}

/// A receipt correlated to a message (`schemas/DeliveryReported.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReported {
    /// Envelope.
    pub meta: EventMeta,
    /// Message id.
    pub message_id: MessageId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Destination.
    pub to: Msisdn,
    /// Attempt the receipt belongs to.
    pub attempt: i32,
    /// Carrier.
    pub carrier_id: CarrierId,
    /// Normalised carrier id of the segment.
    pub carrier_message_id: String,
    /// 1-based segment index.
    pub segment_index: i32,
    /// Segments of the message.
    pub segment_count: i32,
    /// Segment state.
    pub state: DeliveryState,
    /// Carrier error code.
    pub error_code: Option<String>,
    /// When the carrier says it happened.
    pub done_at: Option<Timestamp>,
    /// Set when this receipt settles the whole message.
    pub message_status: Option<TerminalStatus>,
}
