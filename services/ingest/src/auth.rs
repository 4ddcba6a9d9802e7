//! API key authentication: the key from `Authorization: Bearer` or `X-Api-Key`, compared by
//! its SHA-256 with the configured keys.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use smsflow_events::TenantId;

use crate::config::ApiKeyConfig;
use crate::error::ApiError;

/// The known keys, by hash.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    by_hash: Vec<([u8; 32], TenantId)>,
}

/// A key configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("api key for tenant {tenant}: {reason}")]
pub struct KeyConfigError {
    tenant: String,
    reason: &'static str,
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Keys {
    /// Builds the table from configuration.
    pub fn from_config(keys: &[ApiKeyConfig]) -> Result<Self, KeyConfigError> {
        let mut by_hash = Vec::new();
        for k in keys {
            let err = |reason| KeyConfigError {
                tenant: k.tenant.clone(),
                reason,
            };
            let tenant = TenantId::parse(&k.tenant).map_err(|_| err("tenant is not a valid id"))?;
            let h = match (&k.sha256, &k.key) {
                (Some(hex_hash), _) => {
                    let bytes = hex::decode(hex_hash).map_err(|_| err("sha256 is not hex"))?;
                    bytes
                        .try_into()
                        .map_err(|_| err("sha256 must be 32 bytes"))?
                }
                (None, Some(key)) => hash(key),
                (None, None) => return Err(err("needs `sha256` or `key`")),
            };
            by_hash.push((h, tenant));
        }
        Ok(Self { by_hash })
    }

    /// The tenant whose key the request carries.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<TenantId, ApiError> {
        let key = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .ok_or_else(ApiError::unauthorized)?;
        let h = hash(key.trim());
        self.by_hash
            .iter()
            .find(|(k, _)| constant_time_eq(k, &h))
            .map(|(_, t)| t.clone())
            .ok_or_else(ApiError::unauthorized)
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_config(&[
            ApiKeyConfig {
                tenant: "acme".into(),
                sha256: None,
                key: Some("sk_live_1".into()),
            },
            ApiKeyConfig {
                tenant: "other".into(),
                sha256: Some(hex::encode(hash("sk_live_2"))),
                key: None,
            },
        ])
        .unwrap()
    }

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn bearer_and_x_api_key_both_work() {
        assert_eq!(
            keys()
                .authenticate(&with("authorization", "Bearer sk_live_1"))
                .unwrap()
                .as_str(),
            "acme"
        );
        assert_eq!(
            keys()
                .authenticate(&with("x-api-key", "sk_live_2"))
                .unwrap()
                .as_str(),
            "other"
        );
    }

    #[test]
    fn unknown_or_missing_keys_are_refused() {
        assert_eq!(
            keys()
                .authenticate(&with("x-api-key", "nope"))
                .unwrap_err()
                .code,
            "unauthorized"
        );
        assert_eq!(
            keys().authenticate(&HeaderMap::new()).unwrap_err().code,
            "unauthorized"
        );
    }
}
