//! The typed events: one struct per `schemas/<Name>.avsc`, and the closed [`Event`] enum.
//!
//! | file | topic | events |
//! |---|---|---|
//! | `request.rs` | `sms.requests` | [`SendRequested`] |
//! | `routing.rs` | `sms.routing.<lane>`, `sms.retry.<tier>` | [`RoutingDecided`], [`MessageRejected`] |
//! | `attempt.rs` | `sms.attempts` | [`AttemptStarted`], [`AttemptSubmitted`], [`AttemptFailed`], [`RetryScheduled`] |
//! | `receipt.rs` | `sms.dlr.raw`, `sms.dlr` | [`CarrierReceiptReceived`], [`DeliveryReported`] |
//! | `inbound.rs` | `sms.inbound`, `sms.consent` | [`InboundMessageReceived`], [`ConsentChanged`] |
//! | `config.rs` | `sms.config` | [`RouteTablePublished`], [`CarrierConfigured`] |

mod attempt;
mod common;
mod config;
mod inbound;
mod receipt;
mod request;
mod routing;

pub use attempt::{AttemptFailed, AttemptStarted, AttemptSubmitted, RetryScheduled};
pub use common::{
    CONSENT_REPLY_CHANNEL, DEAD_LETTERED_CODE, DeliveryState, EXPIRED_CODE, Encoding, ErrorClass,
    EventMeta, Lane, MessageType, OPTED_OUT_CODE, Producer, TerminalStatus,
};
pub use config::{CarrierConfigured, CarrierKind, Route, RouteTablePublished};
pub use inbound::{ConsentChanged, ConsentStatus, InboundMessageReceived, InboundPart};
pub use receipt::{CarrierReceiptReceived, DeliveryReported};
pub use request::SendRequested;
pub use routing::{MessageRejected, RoutingDecided};

/// Avro namespace of every smsflow schema.
pub const NAMESPACE: &str = "io.smsflow.events";

/// Declares [`EventKind`], [`Event`] and the per-type glue from one list.
macro_rules! events {
    ($($name:ident),+ $(,)?) => {
        /// Which event a payload is; one per schema file.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind { $(
            #[doc = concat!("`", stringify!($name), "`")]
            $name
        ),+ }

        impl EventKind {
            /// Every kind.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$name),+];

            /// Short name, e.g. `"SendRequested"` (also the `.avsc` file stem).
            pub fn name(&self) -> &'static str {
                match self { $(EventKind::$name => stringify!($name)),+ }
            }

            /// Fully qualified Avro name, e.g. `"io.smsflow.events.SendRequested"`.
            pub fn full_name(&self) -> &'static str {
                match self { $(EventKind::$name => concat!("io.smsflow.events.", stringify!($name))),+ }
            }

            /// The `.avsc` text of this event as written in `schemas/` (shared types by name).
            pub fn avsc(&self) -> &'static str {
                match self { $(EventKind::$name => include_str!(concat!("../../../../schemas/", stringify!($name), ".avsc"))),+ }
            }

            /// The kind whose fully qualified Avro name is `name`.
            pub fn from_full_name(name: &str) -> Option<EventKind> {
                Self::ALL.iter().copied().find(|k| k.full_name() == name)
            }

            /// The kind whose short name ([`EventKind::name`], the `smsflow.event.type`
            /// header) is `name`.
            pub fn from_name(name: &str) -> Option<EventKind> {
                Self::ALL.iter().copied().find(|k| k.name() == name)
            }
        }

        /// Any smsflow event.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Event { $(
            #[doc = concat!("`", stringify!($name), "`")]
            $name($name)
        ),+ }

        impl Event {
            /// Which event this is.
            pub fn kind(&self) -> EventKind {
                match self { $(Event::$name(_) => EventKind::$name),+ }
            }

            /// The envelope.
            pub fn meta(&self) -> &EventMeta {
                match self { $(Event::$name(e) => &e.meta),+ }
            }

            /// Appends the Avro body (no wire header) written with our schema.
            pub(crate) fn write_datum(&self, out: &mut Vec<u8>) -> Result<(), apache_avro::Error> {
                match self {
                    $(Event::$name(e) => crate::schema::writer(EventKind::$name).write_ser(out, e).map(|_| ())),+
                }
            }

            /// Reads an Avro body written with exactly our schema of `kind` (the fast path).
            /// The whole of `body` must be consumed.
            pub(crate) fn read_datum(kind: EventKind, body: &[u8]) -> Result<Event, apache_avro::Error> {
                let mut rest = body;
                let event = match kind {
                    $(EventKind::$name => crate::schema::reader(kind).read_deser::<$name>(&mut rest).map(Event::$name)),+
                }?;
                if rest.is_empty() {
                    Ok(event)
                } else {
                    Err(apache_avro::error::Details::ReadBytes(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} trailing bytes after the record", rest.len()),
                    )).into())
                }
            }

            /// Converts a generic value already resolved to our schema of `kind`.
            pub(crate) fn from_resolved(kind: EventKind, value: &apache_avro::types::Value) -> Result<Event, apache_avro::Error> {
                match kind { $(EventKind::$name => apache_avro::from_value::<$name>(value).map(Event::$name)),+ }
            }
        }

        $(
            impl From<$name> for Event {
                fn from(e: $name) -> Event { Event::$name(e) }
            }

            impl TryFrom<Event> for $name {
                type Error = Event;
                fn try_from(e: Event) -> Result<$name, Event> {
                    match e { Event::$name(x) => Ok(x), other => Err(other) }
                }
            }
        )+
    };
}

events!(
    SendRequested,
    RoutingDecided,
    MessageRejected,
    AttemptStarted,
    AttemptSubmitted,
    AttemptFailed,
    RetryScheduled,
    CarrierReceiptReceived,
    DeliveryReported,
    InboundMessageReceived,
    ConsentChanged,
    RouteTablePublished,
    CarrierConfigured,
);

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
