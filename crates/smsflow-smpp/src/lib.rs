//! SMPP 3.4 ESME client for smsflow: the dispatcher's link to SMS carriers (SMSCs).
//!
//! It keeps several binds (sessions) per carrier open, spreads submits over them within a
//! window per session, serves them by strict priority (one bounded queue per [`Lane`]: OTP,
//! transactional, bulk; a session with room in its window always takes the next part of the
//! highest non-empty lane, and each submit_sm carries its lane's SMPP `priority_flag`),
//! paces them with a per-session TPS limit, turns throttling responses into pauses and
//! resends, and reports every part of every message as exactly one of:
//! accepted (with the carrier message id), rejected (with the command status and whether it
//! is worth retrying), **outcome unknown** (written but unanswered: timeout, link lost,
//! shutdown — the client never resends these itself, the caller decides per message type),
//! or **not sent** (never written: safe to retry). Receipts and MO messages come back on a
//! bounded channel as [`InboundEvent`]s, with carrier message ids normalised so that the id
//! of a submit_sm_resp and the id of its receipt compare equal; each comes with a
//! [`DeliverAck`], and the carrier gets its deliver_sm_resp only when the caller answers it
//! (after keeping the event), so a receipt is never acknowledged before it is kept.
//!
//! # Why not `rusmppc`
//!
//! PDUs are encoded and decoded with `rusmpp` 0.4; the session loop is our own. `rusmppc`
//! manages one connection and hides the socket, and this crate needs control it does not
//! give: (1) knowing whether a submit_sm was *fully written* to the socket when the link
//! breaks — the difference between "not sent" (safe to retry) and "outcome unknown" (may
//! duplicate), which guarantee 3 of the design brief depends on; (2) a response timeout
//! that reports one submit as unknown without tearing down the link and every other
//! submit in the window; (3) throttling responses that pause the session and resend the
//! part inside the window accounting; (4) several binds sharing one queue per priority lane,
//! served strictly by priority, reconnecting with backoff and jitter; (5) answering
//! deliver_sm only when the caller has kept the event, deferring with ESME_RX_T_APPN what
//! does not fit or could not be kept, without ever stopping to read; (6) surviving PDUs the strict codec
//! refuses (an error response with an odd body, a receipt whose `receipted_message_id` lacks
//! its NUL) instead of ending the stream.
//!
//! # Module map
//!
//! - [`config`]: [`CarrierConfig`], one per carrier (serde, `deny_unknown_fields`).
//! - [`client`]: [`SmppClient`] — start, submit, submit_parts, shutdown.
//! - [`submit`]: request and outcome types; text → submit_sm PDUs via `smsflow-sms`.
//! - [`lane`]: [`Lane`] (OTP, transactional, bulk) and the per-carrier `priority_flag` of
//!   each ([`PriorityFlags`]).
//! - `queue`: the submit queue the sessions share — one bounded FIFO per lane, strict
//!   priority, backpressure per lane, failed-before-write parts back at the head.
//! - `session`: per-session reconnect loop and the state sessions share.
//! - `link`: the loop of one bound link (`link/mod.rs`: the next part by lane, throttled
//!   parts included), with `write` (window, TPS, write accounting), `read` (responses,
//!   throttling, deliver_sm, timeouts) and `end` (drain, final answers).
//! - `bind`: connect and bind.
//! - `window`: sequence numbers 1..=0x7FFFFFFF and requests awaiting a response.
//! - `codec`: framing over the rusmpp codec, tolerant of undecodable PDUs.
//! - `deliver`: deliver_sm fields, with a lenient fallback parser.
//! - [`inbound`]: [`InboundEvent`] — receipts and MO messages.
//! - [`ack`]: [`Inbound`] and [`DeliverAck`] — the caller's answer to each deliver_sm.
//! - [`receipt`]: receipt text parser/formatter and [`ReceiptState`].
//! - [`idnorm`]: carrier message id normalisation (hex / decimal / as-is).
//! - [`status`]: command_status values and their classes.
//! - [`error`]: typed errors, each with an [`ErrorClass`].
//! - [`metrics`]: metric names ([`metrics::Metric`]).
//! - `backoff`, [`mask`]: capped exponential backoff with jitter; phone number masking.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use smsflow_smpp::{
//!     CarrierConfig, InboundEvent, Lane, SmppClient, SubmitRequest, concat_reference_for,
//! };
//!
//! let config = CarrierConfig { host: "127.0.0.1".into(), port: 2775, ..CarrierConfig::default() };
//! let (client, mut inbound) = SmppClient::start(config)?;
//! client.wait_until_bound(1, Duration::from_secs(5)).await;
//! let reference = concat_reference_for(b"message-42");
//! // OTP lane: overtakes queued transactional and bulk parts, priority_flag 3.
//! let request = SubmitRequest::new("ACME", "+447700900123", "code 123456", reference)
//!     .with_lane(Lane::Otp);
//! let report = client.submit(request).await?;
//! for part in &report.parts {
//!     match &part.result {
//!         Ok(accepted) => println!("part {} accepted as {}", part.seq, accepted.message_id),
//!         Err(failure) => println!("part {} failed ({:?}): {failure}", part.seq, failure.class()),
//!     }
//! }
//! if let Some(received) = inbound.recv().await {
//!     if let InboundEvent::Receipt(receipt) = &received.event {
//!         println!("receipt for {}: {:?}", receipt.message_id, receipt.state);
//!     }
//!     // Answered only now: keep the event durably first, then accept (or defer).
//!     received.ack.accept();
//! }
//! client.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

pub mod ack;
mod backoff;
mod bind;
pub mod client;
mod codec;
pub mod config;
mod deliver;
pub mod error;
#[doc(hidden)]
pub mod fuzz; // entry points of the fuzz targets (`fuzz/`): the inbound path, framing to event
pub mod idnorm;
pub mod inbound;
pub mod lane;
mod link;
pub mod mask;
pub mod metrics;
mod queue;
pub mod receipt;
mod session;
pub mod status;
pub mod submit;
mod window;

pub use ack::{DeliverAck, Inbound};
pub use client::SmppClient;
pub use config::{BindMode, CarrierConfig, ConcatMethod, Secret};
pub use deliver::NetworkError;
pub use error::{ConfigError, ErrorClass, NotSentReason, PartFailure, SubmitError, UnknownReason};
pub use idnorm::{CarrierMessageId, IdFormat, IdNormalisation, IdSource};
pub use inbound::{ConcatInfo, DeliveryReceipt, InboundEvent, MoMessage, RawDeliver};
pub use lane::{Lane, PriorityFlags};
pub use receipt::{
    ReceiptDate, ReceiptState, ReceiptText, format_receipt_text, parse_receipt_text,
};
pub use smsflow_sms::Encoding;
pub use status::{CommandStatusCode, StatusClass};
pub use submit::{
    Accepted, PartOutcome, PreparedMessage, PreparedPart, SubmitOptions, SubmitReport,
    SubmitRequest, concat_reference_for,
};
