//! The signature smsflow puts on every webhook call, as Stripe does:
//! `X-Smsflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! The timestamp is signed with the body, so a captured call cannot be replayed later than the
//! receiver's tolerance. During a secret rotation the header carries one `v1` per secret; a
//! receiver accepts the call when any of them matches its secret. Receivers in other languages:
//! `docs/webhooks/verify.py` and `verify.js` (run against this module by `tests/snippets.rs`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "X-Smsflow-Signature";

/// How old a signed call may be when a receiver checks it, by default (Stripe's figure).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// A tenant's webhook signing secret. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret as the tenant was given it (its bytes, e.g. `whsec_…` text).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=…,v1=…`.
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    /// No `v1` in the header matches the body and the secret.
    #[error("no signature matches the body")]
    Mismatch,
    /// The signed timestamp is further from now than the tolerance.
    #[error("the signature is {age_secs} s from now, more than the {tolerance_secs} s tolerated")]
    Stale {
        /// `now - t`, in seconds (negative: from the future).
        age_secs: i64,
        /// The tolerance it exceeded.
        tolerance_secs: i64,
    },
}

/// The header value for `body` sent at `timestamp` (unix seconds), one `v1` per secret
/// (the current one first while a rotation is under way).
pub fn header_value(secrets: &[&Secret], timestamp: i64, body: &[u8]) -> String {
    let mut out = format!("t={timestamp}");
    for secret in secrets {
        out.push_str(",v1=");
        out.push_str(&hex::encode(
            secret.mac(timestamp, body).finalize().into_bytes(),
        ));
    }
    out
}

/// Checks a received call: some `v1` of `header` is the HMAC of `t.body` under `secret`, and
/// `t` is within `tolerance_secs` of `now`. Returns `t`. Compares in constant time.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &Secret,
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (k, v) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("an item without `=`"))?;
        match k {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    v.parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("`t` is not a number"))?,
                )
            }
            "t" => return Err(SignatureError::Malformed("two `t` items")),
            "v1" => signatures.push(v),
            _ => {} // other schemes, ignored as Stripe's receivers do
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed("no `t` item"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no `v1` item"));
    }
    let matched = signatures.iter().any(|sig| match hex::decode(sig) {
        Ok(bytes) => secret.mac(t, body).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let age_secs = now.saturating_sub(t);
    if age_secs.saturating_abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            age_secs,
            tolerance_secs,
        });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_765_000_000;

    #[test]
    fn matches_a_known_hmac() {
        // `printf '1765000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`
        let h = header_value(&[&Secret::new("whsec_test")], NOW, br#"{"a":1}"#);
        assert_eq!(
            h,
            "t=1765000000,v1=bff821b803d16fd6792090a808f6943d2c920f931b611f5bc0a3299fb108c453"
        );
    }

    #[test]
    fn a_header_without_its_parts_is_malformed() {
        let s = Secret::new("k");
        for h in ["", "t=1", "v1=ab", "t=x,v1=ab", "t=1,t=2,v1=ab", "garbage"] {
            assert!(
                matches!(
                    verify(h, b"x", &s, NOW, 300),
                    Err(SignatureError::Malformed(_))
                ),
                "{h}"
            );
        }
    }

    proptest! {
        #[test]
        fn a_signed_body_verifies(body in proptest::collection::vec(any::<u8>(), 0..512),
                                  key in proptest::collection::vec(any::<u8>(), 1..64),
                                  skew in -300i64..=300) {
            let s = Secret::new(key);
            let h = header_value(&[&s], NOW, &body);
            prop_assert_eq!(verify(&h, &body, &s, NOW + skew, 300), Ok(NOW));
        }

        #[test]
        fn any_changed_byte_fails(body in proptest::collection::vec(any::<u8>(), 1..512),
                                  at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let s = Secret::new("whsec_k");
            let h = header_value(&[&s], NOW, &body);
            let mut changed = body.clone();
            changed[at.index(body.len())] ^= flip;
            prop_assert_eq!(verify(&h, &changed, &s, NOW, 300), Err(SignatureError::Mismatch));
        }

        #[test]
        fn another_secret_or_timestamp_fails(body in proptest::collection::vec(any::<u8>(), 0..64),
                                             dt in 1i64..1_000_000) {
            let s = Secret::new("whsec_k");
            let h = header_value(&[&s], NOW, &body);
            prop_assert_eq!(verify(&h, &body, &Secret::new("whsec_j"), NOW, 300),
                            Err(SignatureError::Mismatch));
            let moved = h.replacen(&format!("t={NOW}"), &format!("t={}", NOW + dt), 1);
            prop_assert_eq!(verify(&moved, &body, &s, NOW + dt, 300), Err(SignatureError::Mismatch));
        }

        #[test]
        fn an_old_call_is_stale(age in 301i64..10_000_000) {
            let s = Secret::new("whsec_k");
            let h = header_value(&[&s], NOW, b"{}");
            let stale = matches!(verify(&h, b"{}", &s, NOW + age, 300),
                                 Err(SignatureError::Stale { .. }));
            prop_assert!(stale);
            let future = matches!(verify(&h, b"{}", &s, NOW - age, 300),
                                  Err(SignatureError::Stale { .. }));
            prop_assert!(future);
        }

        #[test]
        fn during_a_rotation_either_secret_verifies(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (new, old) = (Secret::new("whsec_new"), Secret::new("whsec_old"));
            let h = header_value(&[&new, &old], NOW, &body);
            prop_assert_eq!(verify(&h, &body, &new, NOW, 300), Ok(NOW));
            prop_assert_eq!(verify(&h, &body, &old, NOW, 300), Ok(NOW));
        }
    }
}
