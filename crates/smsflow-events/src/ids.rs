//! Domain ids and values as types, so a tenant id can't be passed where a number is expected.
//!
//! All of them serialise as plain strings (UUIDs in their hyphenated form), which is what the
//! Avro schemas in `schemas/` declare.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InvalidValue;

/// Id of one message, assigned at ingest. UUIDv7 (time-ordered) for fresh messages; UUIDv5 of
/// tenant + Idempotency-Key when the client gave one, so a retried request maps to the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The deterministic id of a request carrying `Idempotency-Key: key` for `tenant`.
    pub fn from_idempotency_key(tenant: &TenantId, key: &str) -> Self {
        let name = format!("{}\u{0}{}", tenant.as_str(), key);
        Self(Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, name.as_bytes()))
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// Namespace for idempotency-derived message ids (a fixed random UUID).
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_4e0a_9b7c_4c55_8f2e_5a3d_1c9b_7e41);

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for MessageId {
    fn from(u: Uuid) -> Self {
        Self(u)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for MessageId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| InvalidValue::new("message_id", "not a UUID"))
    }
}

/// Id of one event (UUIDv7). Consumers deduplicate on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The id of the event that `cause` leads to, named `what` (UUIDv5). A handler that runs
    /// twice for the same input emits outputs with the same ids, so a repeated output is
    /// recognisable downstream.
    pub fn derived(cause: Uuid, what: &str) -> Self {
        Self(Uuid::new_v5(&cause, what.as_bytes()))
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for EventId {
    fn from(u: Uuid) -> Self {
        Self(u)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Declares a string id type with a validation rule.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $valid:expr, $rule:literal) => {
        $(#[$doc])*
        ///
        /// Validated when deserialised too: an event carrying an invalid one does not decode.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl $name {
            /// Validates and wraps `s`.
            pub fn parse(s: impl Into<String>) -> Result<Self, InvalidValue> {
                let s = s.into();
                let valid: fn(&str) -> bool = $valid;
                if valid(&s) { Ok(Self(s)) } else { Err(InvalidValue::new($field, $rule)) }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

string_id!(
    /// Tenant (customer account) id: 1–64 of `a-z 0-9 - _`.
    TenantId, "tenant_id", is_slug, "1-64 characters of a-z, 0-9, '-', '_'"
);
string_id!(
    /// Carrier (connection) id from the carrier configuration: 1–64 of `a-z 0-9 - _`.
    CarrierId, "carrier_id", is_slug, "1-64 characters of a-z, 0-9, '-', '_'"
);

/// A phone number in E.164: `+`, then 8 to 15 digits, the first not 0.
///
/// `Display` and `Debug` print it masked (`+44*******89`) so it can't leak into logs by
/// accident; [`Msisdn::as_str`] gives the full number for the places that need it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    /// Validates `s` as E.164. Spaces, dashes, dots and parentheses are removed first, and a
    /// leading `00` is read as `+`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let cleaned: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = cleaned
            .strip_prefix('+')
            .or_else(|| cleaned.strip_prefix("00"))
            .ok_or_else(|| InvalidValue::new("number", "must start with '+' (E.164)"))?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(format!("+{digits}")))
        } else {
            Err(InvalidValue::new(
                "number",
                "must be '+' and 8 to 15 digits, not starting with 0 (E.164)",
            ))
        }
    }

    /// The full number, `+` included. Never log this.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The number with all but the country-code-ish prefix and the last two digits hidden.
    pub fn masked(&self) -> String {
        mask_number(&self.0)
    }
}

/// Masks a phone-number-like string for logs: keeps the first 3 characters and the last 2.
pub fn mask_number(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 5))
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({})", self.masked())
    }
}

impl TryFrom<String> for Msisdn {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Msisdn> for String {
    fn from(m: Msisdn) -> Self {
        m.0
    }
}

impl FromStr for Msisdn {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An instant in UTC microseconds since the Unix epoch (Avro `timestamp-micros`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Now, from the system clock.
    pub fn now() -> Self {
        Self(chrono::Utc::now().timestamp_micros())
    }

    /// From microseconds since the epoch.
    pub fn from_micros(us: i64) -> Self {
        Self(us)
    }

    /// Microseconds since the epoch.
    pub fn as_micros(&self) -> i64 {
        self.0
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(&self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// As a chrono date-time (saturating at chrono's range).
    pub fn to_datetime(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    /// This instant plus `d` (saturating).
    pub fn plus(&self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        )
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    fn from(d: chrono::DateTime<chrono::Utc>) -> Self {
        Self(d.timestamp_micros())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_datetime().to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn msisdn_accepts_e164_and_cleans_separators() {
        assert_eq!(
            Msisdn::parse("+44 7700-900.123").unwrap().as_str(),
            "+447700900123"
        );
        assert_eq!(
            Msisdn::parse("00447700900123").unwrap().as_str(),
            "+447700900123"
        );
    }

    #[test]
    fn msisdn_rejects_what_is_not_e164() {
        for bad in [
            "447700900123",
            "+0447700900",
            "+12",
            "+1234567890123456",
            "+44abc12345",
            "",
        ] {
            assert!(Msisdn::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn msisdn_display_and_debug_are_masked() {
        let m = Msisdn::parse("+447700900123").unwrap();
        assert_eq!(m.to_string(), "+44********23");
        assert!(!format!("{m:?}").contains("7700900"));
    }

    #[test]
    fn idempotency_ids_are_deterministic_per_tenant() {
        let a = TenantId::parse("acme").unwrap();
        let b = TenantId::parse("other").unwrap();
        assert_eq!(
            MessageId::from_idempotency_key(&a, "k1"),
            MessageId::from_idempotency_key(&a, "k1")
        );
        assert_ne!(
            MessageId::from_idempotency_key(&a, "k1"),
            MessageId::from_idempotency_key(&b, "k1")
        );
    }

    #[test]
    fn derived_event_ids_are_stable_and_distinct() {
        let cause = Uuid::now_v7();
        assert_eq!(
            EventId::derived(cause, "routed"),
            EventId::derived(cause, "routed")
        );
        assert_ne!(
            EventId::derived(cause, "routed"),
            EventId::derived(cause, "rejected")
        );
    }

    #[test]
    fn invalid_ids_do_not_deserialize() {
        assert!(serde_json::from_str::<TenantId>("\"Acme Corp\"").is_err());
        assert!(serde_json::from_str::<CarrierId>("\"\"").is_err());
        assert_eq!(
            serde_json::from_str::<TenantId>("\"acme\"")
                .unwrap()
                .as_str(),
            "acme"
        );
    }

    #[test]
    fn tenant_ids_are_slugs() {
        assert!(TenantId::parse("acme-01").is_ok());
        assert!(TenantId::parse("Acme").is_err());
        assert!(TenantId::parse("").is_err());
    }

    proptest! {
        #[test]
        fn msisdn_parse_never_panics(s in ".{0,40}") {
            let _ = Msisdn::parse(&s);
        }

        #[test]
        fn mask_hides_the_middle(digits in "[1-9][0-9]{7,14}") {
            let n = Msisdn::parse(&format!("+{digits}")).unwrap();
            let masked = n.masked();
            prop_assert_eq!(masked.len(), n.as_str().len());
            prop_assert!(masked[3..masked.len() - 2].chars().all(|c| c == '*'));
        }
    }
}
