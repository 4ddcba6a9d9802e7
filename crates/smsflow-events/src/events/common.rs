//! Parts shared by every event: the envelope ([`EventMeta`]) and the enums of
//! `schemas/common/`.

use serde::{Deserialize, Serialize};

use crate::ids::{EventId, Timestamp};

/// Reason / error code (`MessageRejected.reason_code`, `AttemptFailed.error_code`) of a
/// message whose validity ended before it could be sent: its terminal status is EXPIRED.
pub const EXPIRED_CODE: &str = "EXPIRED";

/// Reason / error code of a message whose event a service dead-lettered (it could never be
/// handled): its terminal status is REJECTED (router) or FAILED (dispatcher); the reason
/// names the dead letter's own code.
pub const DEAD_LETTERED_CODE: &str = "DEAD_LETTERED";

/// Reason code of a message the router refused because its recipient opted out of the
/// tenant's messages (`ConsentChanged`, ADR 13); the reason names the consent event.
pub const OPTED_OUT_CODE: &str = "RECIPIENT_OPTED_OUT";

/// `SendRequested.channel` of the confirmation a STOP, START or HELP keyword gets
/// (dlr-ingester): the router sends it whatever the recipient's consent, since the recipient
/// must learn that the STOP worked, and a START's reply may be routed before the router has
/// read the START. The public API never sets it (its channel is `api`).
pub const CONSENT_REPLY_CHANNEL: &str = "consent-reply";

/// Who produced an event: a service name and its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Producer {
    /// Service or client name, e.g. `"router"`.
    pub name: &'static str,
    /// Software version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
}

/// Envelope identity carried by every event (`schemas/common/EventMeta.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// Unique id of this event; consumers deduplicate on it.
    pub event_id: EventId,
    /// When the fact happened.
    pub occurred_at: Timestamp,
    /// Producing service or client.
    pub producer: String,
    /// Version of the producing software.
    pub producer_version: String,
    /// Event that caused this one, if any.
    pub causation_id: Option<EventId>,
}

impl EventMeta {
    /// A fresh envelope stamped now, caused by `cause` when given.
    pub fn new(producer: Producer, cause: Option<EventId>) -> Self {
        Self {
            event_id: EventId::new(),
            occurred_at: Timestamp::now(),
            producer: producer.name.to_owned(),
            producer_version: producer.version.to_owned(),
            causation_id: cause,
        }
    }

    /// An envelope for the output `what` of the event `cause`: its id is derived from the
    /// cause's ([`EventId::derived`]), so handling the same input twice gives the same id.
    pub fn derived(producer: Producer, cause: &EventMeta, what: &str) -> Self {
        Self {
            event_id: EventId::derived(cause.event_id.as_uuid(), what),
            occurred_at: Timestamp::now(),
            producer: producer.name.to_owned(),
            producer_version: producer.version.to_owned(),
            causation_id: Some(cause.event_id),
        }
    }
}

/// Declares a unit enum mirroring an Avro enum, with its symbols in schema order.
macro_rules! avro_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $symbol:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $symbol)] $variant),+
        }

        impl $name {
            /// Every value, in schema symbol order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The Avro symbol, e.g. `"OTP"`.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $symbol),+ }
            }

            /// Parses an Avro symbol, case-insensitively.
            pub fn parse(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($symbol) { return Some($name::$variant); })+
                None
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use avro_enum;

avro_enum!(
    /// Priority lane; each lane has its own topic so OTP is never queued behind bulk.
    Lane { /** One-time passwords. */ Otp = "OTP", /** Alerts and notifications. */ Transactional = "TRANSACTIONAL", /** Campaigns. */ Bulk = "BULK" }
);
avro_enum!(
    /// What a message is for; drives consent and resubmit policy.
    MessageType { /** One-time password. */ Otp = "OTP", /** Transactional alert. */ Transactional = "TRANSACTIONAL", /** Marketing. */ Marketing = "MARKETING" }
);
avro_enum!(
    /// The final status every accepted message reaches.
    TerminalStatus {
        /** The handset got it. */ Delivered = "DELIVERED",
        /** The carrier could not deliver it. */ Undelivered = "UNDELIVERED",
        /** Validity ran out. */ Expired = "EXPIRED",
        /** smsflow refused it (routing, consent). */ Rejected = "REJECTED",
        /** No carrier accepted it. */ Failed = "FAILED",
    }
);
avro_enum!(
    /// How a failure should be treated.
    ErrorClass { /** Retry later. */ Transient = "TRANSIENT", /** Don't retry this carrier. */ Permanent = "PERMANENT", /** The carrier may have it. */ OutcomeUnknown = "OUTCOME_UNKNOWN" }
);
avro_enum!(
    /// Character encoding on the air interface.
    Encoding { /** GSM 03.38 7-bit. */ Gsm7 = "GSM7", /** UCS-2 / UTF-16BE. */ Ucs2 = "UCS2" }
);
avro_enum!(
    /// State in a carrier receipt (SMPP `message_state` / `stat:`).
    DeliveryState {
        /** In transit. */ Enroute = "ENROUTE",
        /** Delivered to the handset. */ Delivered = "DELIVERED",
        /** Validity expired. */ Expired = "EXPIRED",
        /** Deleted by the carrier. */ Deleted = "DELETED",
        /** Could not be delivered. */ Undeliverable = "UNDELIVERABLE",
        /** Accepted on behalf of the handset. */ Accepted = "ACCEPTED",
        /** Unknown state. */ Unknown = "UNKNOWN",
        /** Rejected by the carrier. */ Rejected = "REJECTED",
    }
);

impl DeliveryState {
    /// The terminal status this state settles a segment into, or `None` while it may change.
    pub fn terminal(&self) -> Option<TerminalStatus> {
        match self {
            DeliveryState::Delivered => Some(TerminalStatus::Delivered),
            DeliveryState::Expired => Some(TerminalStatus::Expired),
            DeliveryState::Deleted | DeliveryState::Undeliverable | DeliveryState::Rejected => {
                Some(TerminalStatus::Undelivered)
            }
            DeliveryState::Enroute | DeliveryState::Accepted | DeliveryState::Unknown => None,
        }
    }
}

impl Lane {
    /// The lane a message type travels in by default.
    pub fn for_type(t: MessageType) -> Lane {
        match t {
            MessageType::Otp => Lane::Otp,
            MessageType::Transactional => Lane::Transactional,
            MessageType::Marketing => Lane::Bulk,
        }
    }
}
