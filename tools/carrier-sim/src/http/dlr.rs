//! Kannel-style dlr-url callbacks.
//!
//! Supported substitutions (values are percent-encoded):
//!
//! | escape | value |
//! | --- | --- |
//! | `%d` | DLR event: 1 delivered, 2 failed, 8 SMSC ack, 16 SMSC reject |
//! | `%A` | DLR answer: the receipt text (`id:.. stat:..`), `ACK/` or `NACK/0xXXXXXXXX/...` |
//! | `%i` | smsc id (`scenario.http.smsc_id`) |
//! | `%I`, `%F` | carrier message id (as in the receipt) |
//! | `%p` | sender (`from`) |
//! | `%P` | receiver (`to`) |
//! | `%q` | receiver without a leading `+` / `00` |
//! | `%n` | username |
//! | `%b` | message text |
//! | `%t` | submit time `YYYY-MM-DD HH:MM:SS` (UTC) |
//! | `%T` | submit time, unix seconds |
//! | `%%` | a literal `%` |
//!
//! Any other `%x` is left as is. Mask bit 4 (buffered) is never reported.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::{
    engine::ReceiptPlan,
    http::params::percent_encode,
    ledger::SegmentKey,
    receipt::{ReceiptText, format_date, sanitize_text},
    sim::Shared,
};

/// DLR event: delivered to the handset.
pub(crate) const DLR_DELIVERED: u8 = 1;
/// DLR event: delivery failed.
pub(crate) const DLR_FAILED: u8 = 2;
/// DLR event: accepted by the SMSC.
pub(crate) const DLR_SMSC_ACK: u8 = 8;
/// DLR event: rejected by the SMSC.
pub(crate) const DLR_SMSC_NACK: u8 = 16;

/// What a callback can talk about.
#[derive(Debug, Clone)]
pub(crate) struct DlrContext {
    pub url: String,
    pub mask: u8,
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub username: String,
    pub text: String,
    pub submitted_at: DateTime<Utc>,
    pub smsc_id: String,
}

/// Expands the escapes of `ctx.url` for one event.
pub(crate) fn expand(ctx: &DlrContext, event: u8, answer: &str) -> String {
    let mut out = String::with_capacity(ctx.url.len() + 64);
    let mut chars = ctx.url.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(code) = chars.next() else {
            out.push('%');
            break;
        };
        let value = match code {
            'd' => event.to_string(),
            'A' => answer.to_string(),
            'i' => ctx.smsc_id.clone(),
            'I' | 'F' => ctx.message_id.clone(),
            'p' => ctx.from.clone(),
            'P' => ctx.to.clone(),
            'q' => {
                let t = ctx.to.trim_start_matches('+');
                t.strip_prefix("00").unwrap_or(t).to_string()
            }
            'n' => ctx.username.clone(),
            'b' => ctx.text.clone(),
            't' => ctx.submitted_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            'T' => ctx.submitted_at.timestamp().to_string(),
            '%' => {
                out.push('%');
                continue;
            }
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        out.push_str(&percent_encode(&value));
    }
    out
}

/// GETs the URL, retrying per the scenario; true on a 2xx.
pub(crate) async fn call(shared: &Shared, url: &str) -> bool {
    let cfg = &shared.config.scenario.http;
    for attempt in 1..=cfg.dlr_attempts.max(1) {
        match shared.http.get(url).send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => tracing::debug!(
                attempt,
                status = r.status().as_u16(),
                "dlr callback refused"
            ),
            // without_url: the URL carries the receiver number and maybe the text
            Err(e) => tracing::debug!(attempt, error = %e.without_url(), "dlr callback failed"),
        }
        tokio::time::sleep(Duration::from_millis(cfg.dlr_retry_delay_ms)).await;
    }
    tracing::warn!("dlr callback gave up");
    false
}

/// Reports an SMSC reject (mask bit 16).
pub(crate) fn spawn_nack(shared: &Arc<Shared>, ctx: DlrContext, status: u32) {
    if ctx.url.is_empty() || ctx.mask & DLR_SMSC_NACK == 0 {
        return;
    }
    let shared_task = Arc::clone(shared);
    shared.tracker.spawn(async move {
        let url = expand(
            &ctx,
            DLR_SMSC_NACK,
            &format!("NACK/0x{status:08x}/rejected"),
        );
        call(&shared_task, &url).await;
    });
}

/// Reports the SMSC ack (bit 8) at once and the final state (bit 1 or 2) after the
/// planned receipt delay, twice if the plan says so.
pub(crate) fn spawn_receipts(
    shared: &Arc<Shared>,
    ctx: DlrContext,
    plan: ReceiptPlan,
    key: Arc<SegmentKey>,
) {
    if ctx.url.is_empty() || ctx.mask == 0 {
        return;
    }
    let shared_task = Arc::clone(shared);
    let stop = shared.shutdown.clone();
    shared.tracker.spawn(async move {
        let shared = shared_task;
        let work = async {
            if ctx.mask & DLR_SMSC_ACK != 0 {
                call(&shared, &expand(&ctx, DLR_SMSC_ACK, "ACK/")).await;
            }
            let event = if plan.state.is_success() {
                DLR_DELIVERED
            } else {
                DLR_FAILED
            };
            if ctx.mask & event == 0 {
                return;
            }
            tokio::time::sleep(plan.delay).await;
            let receipts = &shared.config.scenario.receipts;
            let answer = ReceiptText {
                id: ctx.message_id.clone(),
                sub: 1,
                dlvrd: u32::from(plan.state.is_success()),
                submit_date: format_date(ctx.submitted_at, receipts.dates_with_seconds),
                done_date: format_date(Utc::now(), receipts.dates_with_seconds),
                stat: plan.state.as_str().to_string(),
                err: plan.error_code,
                text: sanitize_text(&ctx.text, receipts.text_chars),
            }
            .format();
            let url = expand(&ctx, event, &answer);
            let copies = if plan.duplicate { 2 } else { 1 };
            for copy in 0..copies {
                if copy > 0 {
                    tokio::time::sleep(Duration::from_millis(receipts.duplicate_delay_ms)).await;
                }
                shared
                    .ledger
                    .record_receipt_sent(&key, &ctx.message_id, plan.state, copy > 0);
                if call(&shared, &url).await {
                    shared.ledger.record_receipt_acked(&key);
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = work => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn expands_kannel_escapes() {
        let ctx = DlrContext {
            url: "http://h/dlr?s=%d&id=%F&to=%P&q=%q&a=%A&x=%%&u=%Z&t=%T".into(),
            mask: 31,
            message_id: "1000".into(),
            from: "ME".into(),
            to: "+4917".into(),
            username: "u".into(),
            text: "hi".into(),
            submitted_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            smsc_id: "sim".into(),
        };
        assert_eq!(
            expand(&ctx, 1, "id:1000 stat:DELIVRD"),
            "http://h/dlr?s=1&id=1000&to=%2B4917&q=4917&a=id%3A1000%20stat%3ADELIVRD&x=%&u=%Z&t=1700000000"
        );
    }
}
