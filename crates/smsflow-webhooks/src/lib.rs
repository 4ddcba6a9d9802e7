//! Webhooks: the calls smsflow makes to its tenants' endpoints (status changes, inbound
//! messages).
//!
//! - [`target`]: which URLs may be called at all (the SSRF guard ingest applies to a
//!   `callback_url`, and the caller applies again to every address a host resolves to).
//! - [`signature`]: the `X-Smsflow-Signature` header on every call and its verification
//!   (receivers' snippets in `docs/webhooks/`).

pub mod signature;
pub mod target;

pub use signature::{HEADER, Secret, SignatureError, header_value, verify};
pub use target::{TargetError, TargetPolicy};
