//! Kannel-style `GET|POST /cgi-bin/sendsms`.
//!
//! Parameters: `username`, `password`, `from`, `to` (several separated by spaces), `text`,
//! `coding` (0 GSM-7, 1 8-bit, 2 UCS-2), `charset` (of `text`: UTF-8 default, UTF-16BE /
//! UCS-2, ISO-8859-1 / latin1), `dlr-mask`, `dlr-url`. POST takes the same as a form body.
//!
//! Answers: `202 0: Accepted for delivery` (status from `scenario.http.accept_status`,
//! carrier id in `X-Carrier-Message-Id`), `403 Authorization failed for sendsms`,
//! `400 Missing receiver number`, `503 Throttled, try again later` (TPS cap),
//! `503 Temporal failure, try again later` (transient failure mix: 0x08, 0x14, 0x58, 0x45...),
//! `400 Message rejected: status 0x0000000B` (other failure mix statuses). With several
//! receivers the answer is the one of the last receiver.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::Utc;

use crate::{
    config::AuthResult,
    engine::{STATUS_MSG_Q_FULL, STATUS_THROTTLED, SubmitDecision},
    http::{
        dlr::{self, DlrContext},
        params::Params,
    },
    ledger::{Channel, SegmentKey, SubmitInfo, SubmitOutcome},
    sim::Shared,
    text::{self, mask_msisdn},
};

/// ESME_RSYSERR.
const STATUS_SYSERR: u32 = 0x08;
/// ESME_RSUBMITFAIL.
const STATUS_SUBMITFAIL: u32 = 0x45;

fn is_transient(status: u32) -> bool {
    matches!(
        status,
        STATUS_SYSERR | STATUS_MSG_Q_FULL | STATUS_THROTTLED | STATUS_SUBMITFAIL
    )
}

fn text_response(status: StatusCode, body: String) -> Response {
    (status, body).into_response()
}

/// Decodes `text` by `charset` (and `coding` 2 implies UTF-16BE when no charset is given).
fn decode_text(raw: &[u8], charset: Option<&str>, coding: u8) -> String {
    let cs = charset.map(str::to_ascii_uppercase);
    match cs.as_deref() {
        Some("UTF-16BE" | "UTF-16" | "UCS-2" | "UCS2") => text::decode_ucs2(raw),
        Some("ISO-8859-1" | "LATIN1" | "ISO8859-1" | "WINDOWS-1252") => text::decode_latin1(raw),
        None if coding == 2 && std::str::from_utf8(raw).is_err() => text::decode_ucs2(raw),
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Handles both GET (query) and POST (query + form body).
pub(crate) async fn sendsms(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = Params::default();
    if let Some(q) = query {
        params.extend_from(q.as_bytes());
    }
    params.extend_from(&body);
    let username = params.str("username").unwrap_or_default();
    let password = params.str("password").unwrap_or_default();
    if shared.config.authenticate(&username, &password) != AuthResult::Ok {
        tracing::info!(username = %username, "sendsms authorization failed");
        return text_response(
            StatusCode::FORBIDDEN,
            "Authorization failed for sendsms".into(),
        );
    }
    let receivers: Vec<String> = params
        .str("to")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if receivers.is_empty() {
        return text_response(StatusCode::BAD_REQUEST, "Missing receiver number".into());
    }
    let from = params.str("from").unwrap_or_default();
    let coding: u8 = params
        .str("coding")
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    let raw_text = params.bytes("text").unwrap_or_default().to_vec();
    let charset = params.str("charset");
    let text = decode_text(&raw_text, charset.as_deref(), coding);
    let mask: u8 = params
        .str("dlr-mask")
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(0);
    let url = params.str("dlr-url").unwrap_or_default();
    let data_coding = match coding {
        1 => 4,
        2 => 8,
        _ => 0,
    };

    let mut last = text_response(StatusCode::INTERNAL_SERVER_ERROR, "no receiver".into());
    for to in receivers {
        let key = Arc::new(SegmentKey::new(&to, None, &raw_text));
        let info = SubmitInfo {
            channel: Channel::Http,
            system_id: Arc::from(username.as_str()),
            source: from.clone(),
            data_coding,
            text: text.clone(),
        };
        let mut ctx = DlrContext {
            url: url.clone(),
            mask,
            message_id: String::new(),
            from: from.clone(),
            to: to.clone(),
            username: username.clone(),
            text: text.clone(),
            submitted_at: Utc::now(),
            smsc_id: shared.config.scenario.http.smsc_id.clone(),
        };
        last = match shared.engine.decide_submit(&username, 0, false) {
            SubmitDecision::Accept {
                id,
                latency,
                receipt,
            } => {
                shared.ledger.record_submit(
                    &key,
                    &info,
                    &SubmitOutcome::Accepted(id.in_response.clone()),
                );
                tracing::debug!(destination = %mask_msisdn(&to), message_id = %id.in_response, "sendsms accepted");
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                ctx.message_id = id.in_receipt;
                dlr::spawn_receipts(&shared, ctx, receipt, key);
                let status = StatusCode::from_u16(shared.config.scenario.http.accept_status)
                    .unwrap_or(StatusCode::ACCEPTED);
                let mut resp = text_response(status, "0: Accepted for delivery".into());
                if let Ok(v) = HeaderValue::from_str(&id.in_response) {
                    resp.headers_mut().insert("x-carrier-message-id", v);
                }
                resp
            }
            SubmitDecision::Reject { status, throttled } => {
                let outcome = if throttled {
                    SubmitOutcome::Throttled
                } else {
                    SubmitOutcome::Failed
                };
                shared.ledger.record_submit(&key, &info, &outcome);
                dlr::spawn_nack(&shared, ctx, status);
                if throttled {
                    text_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Throttled, try again later".into(),
                    )
                } else if is_transient(status) {
                    text_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Temporal failure, try again later".into(),
                    )
                } else {
                    text_response(
                        StatusCode::BAD_REQUEST,
                        format!("Message rejected: status 0x{status:08X}"),
                    )
                }
            }
            SubmitDecision::Drop => {
                // HTTP submits are never dropped (can_drop = false); answer like a crash
                shared
                    .ledger
                    .record_submit(&key, &info, &SubmitOutcome::Dropped);
                text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporal failure, try again later".into(),
                )
            }
        };
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_charsets() {
        assert_eq!(decode_text("héllo".as_bytes(), None, 0), "héllo");
        assert_eq!(
            decode_text(&text::encode_ucs2("😀"), Some("UTF-16BE"), 2),
            "😀"
        );
        assert_eq!(decode_text(&[0xE9], Some("ISO-8859-1"), 0), "é");
        assert_eq!(decode_text(&[0x00, 0xE9], None, 2), "é");
    }
}
