//! Conformance against an independent SMPP implementation: node-smpp (npm `smpp`) as the
//! SMSC, driven by `tools/conformance/smsc.js`.
//!
//! Needs `node` and `npm ci --prefix tools/conformance`. It fails (never skips) when they
//! are missing, so CI cannot pass without running it.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use common::{WAIT, init_tracing, test_config};
use serde_json::Value;
use smsflow_smpp::{
    CarrierMessageId, IdFormat, IdSource, InboundEvent, PartFailure, ReceiptState, SmppClient,
    SubmitRequest, UnknownReason,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

fn repo_root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

struct NodeSmsc {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    port: u16,
}

impl NodeSmsc {
    async fn start(args: &[&str]) -> anyhow::Result<Self> {
        let dir = repo_root().join("tools/conformance");
        if !dir.join("node_modules/smpp/package.json").exists() {
            bail!(
                "node-smpp is not installed in {}: run `npm ci --prefix tools/conformance` \
                 (this conformance test never skips)",
                dir.display()
            );
        }
        let mut child = Command::new("node")
            .arg(dir.join("smsc.js"))
            .arg("0")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot run `node` (install Node.js 18+ and run `npm ci --prefix tools/conformance`)")?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let line = tokio::time::timeout(WAIT, stdout.next_line())
            .await
            .context("node smsc did not start in time")??
            .context("node smsc exited before listening")?;
        let port = line
            .strip_prefix("LISTENING ")
            .context("unexpected first line")?
            .trim()
            .parse()?;
        Ok(Self {
            _child: child,
            stdin,
            stdout,
            port,
        })
    }

    async fn summary(&mut self) -> anyhow::Result<Value> {
        self.stdin.write_all(b"summary\n").await?;
        self.stdin.flush().await?;
        loop {
            let line = tokio::time::timeout(WAIT, self.stdout.next_line())
                .await
                .context("no summary in time")??
                .context("node smsc exited")?;
            if let Some(json) = line.strip_prefix("SUMMARY ") {
                return Ok(serde_json::from_str(json)?);
            }
        }
    }

    /// Polls the summary until `pred` holds.
    async fn wait_summary(&mut self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let mut last = Value::Null;
        for _ in 0..100 {
            last = self.summary().await?;
            if pred(&last) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("condition not reached; last summary: {last}")
    }
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(u64::MAX)
}

async fn submit_ok(
    client: &SmppClient,
    req: SubmitRequest,
) -> anyhow::Result<Vec<CarrierMessageId>> {
    let report = client.submit(req).await?;
    let mut ids = Vec::new();
    for part in &report.parts {
        match &part.result {
            Ok(accepted) => ids.push(accepted.message_id.clone()),
            Err(err) => bail!("part {} of {} failed: {err}", part.seq, part.total),
        }
    }
    Ok(ids)
}

#[tokio::test]
async fn node_smsc_conformance() -> anyhow::Result<()> {
    init_tracing();
    // Every 4th submit_sm is throttled; the 7th makes the SMSC drop the link unanswered.
    let mut smsc = NodeSmsc::start(&[
        "--throttle-every",
        "4",
        "--drop-after",
        "7",
        "--id-format",
        "hex",
    ])
    .await?;

    let mut cfg = test_config(smsc.port);
    cfg.name = "node".into();
    cfg.window = 5;
    cfg.enquire_link_interval_secs = 1;
    cfg.registered_delivery = 1;
    cfg.message_id.submit_response = IdFormat::Hex;
    cfg.message_id.receipt_tlv = IdFormat::Hex;
    cfg.message_id.receipt_text = IdFormat::Decimal;
    let (client, mut inbound) = SmppClient::start(cfg)?;
    // Keep (here: hand on) each receipt and acknowledge it, as a caller that stores them does.
    let (kept_tx, mut kept) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(received) = inbound.recv().await {
            let _ = kept_tx.send(received.acknowledge());
        }
    });
    ensure!(
        client.wait_until_bound(1, WAIT).await,
        "did not bind to node-smpp"
    );

    let mut accepted: Vec<CarrierMessageId> = Vec::new();
    let mut throttled_parts = 0;

    // A: three single-part messages (submits #1..#3).
    for i in 0..3 {
        accepted.extend(
            submit_ok(
                &client,
                SubmitRequest::new("ACME", format!("44770090010{i}"), format!("hello {i}"), 1),
            )
            .await?,
        );
    }

    // B: one two-part message with an 8-bit UDH (submits #4..#6, #4 is throttled).
    let long_text: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let report = client
        .submit(SubmitRequest::new(
            "ACME",
            "447700900200",
            long_text.clone(),
            0x0142,
        ))
        .await?;
    ensure!(
        report.parts.len() == 2,
        "expected 2 parts, got {}",
        report.parts.len()
    );
    for part in &report.parts {
        throttled_parts += part.throttled;
        accepted.push(
            part.result
                .clone()
                .map_err(|e| anyhow::anyhow!("multipart part failed: {e}"))?
                .message_id,
        );
    }
    ensure!(
        throttled_parts == 1,
        "one throttled resend expected, got {throttled_parts}"
    );

    // Let the five receipts sent so far be acknowledged before the link is dropped, so
    // that no deliver_sm_resp is lost with the link (the carrier would redeliver it; this
    // simple SMSC does not).
    smsc.wait_summary(|s| n(s, "receipts_acked") == 5).await?;

    // C: submit #7 makes the SMSC drop the link: outcome unknown, never resent.
    let report = client
        .submit(SubmitRequest::new("ACME", "447700900300", "dropped", 1))
        .await?;
    ensure!(
        report.parts[0].result
            == Err(PartFailure::OutcomeUnknown {
                reason: UnknownReason::LinkLost
            }),
        "expected outcome unknown after the drop, got {:?}",
        report.parts[0].result
    );

    // D: the client reconnects by itself; four more messages (#8 and #12 are throttled).
    ensure!(client.wait_until_bound(1, WAIT).await, "did not reconnect");
    for i in 0..4 {
        let report = client
            .submit(SubmitRequest::new(
                "ACME",
                format!("44770090040{i}"),
                format!("after {i}"),
                1,
            ))
            .await?;
        for part in &report.parts {
            throttled_parts += part.throttled;
            accepted.push(
                part.result
                    .clone()
                    .map_err(|e| anyhow::anyhow!("submit after reconnect failed: {e}"))?
                    .message_id,
            );
        }
    }
    ensure!(
        throttled_parts == 3,
        "three throttled resends expected, got {throttled_parts}"
    );
    ensure!(
        accepted.len() == 9,
        "9 accepted parts expected, got {}",
        accepted.len()
    );
    let unique: HashSet<&CarrierMessageId> = accepted.iter().collect();
    ensure!(unique.len() == 9, "carrier ids must be distinct");

    // Receipts (TLVs + text with a decimal id) correlate with the hex submit ids.
    let mut receipts = HashSet::new();
    while receipts.len() < accepted.len() {
        let event = tokio::time::timeout(WAIT, kept.recv())
            .await
            .context("receipt not received in time")?
            .context("inbound channel closed")?;
        let InboundEvent::Receipt(receipt) = event else {
            bail!("unexpected inbound event {event:?}");
        };
        ensure!(
            receipt.id_source == IdSource::ReceiptTlv,
            "TLV id must be preferred"
        );
        ensure!(
            receipt.state == Some(ReceiptState::Delivered),
            "state from message_state TLV"
        );
        ensure!(
            unique.contains(&receipt.message_id),
            "receipt id {} matches no submit",
            receipt.message_id
        );
        ensure!(
            receipt
                .raw_message_id
                .chars()
                .all(|c| c.is_ascii_hexdigit()),
            "hex TLV id"
        );
        receipts.insert(receipt.message_id.clone());
    }

    let summary = smsc
        .wait_summary(|s| n(s, "receipts_acked") == 9 && n(s, "enquire_links") >= 1)
        .await?;
    ensure!(n(&summary, "submits_received") == 13, "summary: {summary}");
    ensure!(n(&summary, "throttled") == 3, "summary: {summary}");
    ensure!(n(&summary, "accepted") == 9, "summary: {summary}");
    ensure!(n(&summary, "dropped_links") == 1, "summary: {summary}");
    ensure!(n(&summary, "duplicate_segments") == 0, "summary: {summary}");
    ensure!(
        n(&summary, "unique_segments") == 10,
        "9 accepted + 1 unknown: {summary}"
    );
    ensure!(
        summary["binds"]["bind_transceiver"].as_u64() == Some(2),
        "bind + rebind: {summary}"
    );
    ensure!(
        summary["receipt_ack_statuses"]["0"].as_u64() == Some(9),
        "all receipts acked with ESME_ROK: {summary}"
    );
    ensure!(
        summary["interface_versions"][0].as_u64() == Some(0x34),
        "{summary}"
    );

    // The two UDH parts: same reference, 2 parts, seq 1 and 2, text joined back.
    let segments = summary["segments"].as_array().context("segments")?;
    let mut parts: Vec<&Value> = segments
        .iter()
        .filter(|s| s["destination"] == "447700900200")
        .collect();
    parts.sort_by_key(|s| s["concat"]["seq"].as_u64());
    ensure!(parts.len() == 2, "two segments: {summary}");
    for (i, part) in parts.iter().enumerate() {
        ensure!(part["concat"]["reference"].as_u64() == Some(0x42), "{part}");
        ensure!(part["concat"]["total"].as_u64() == Some(2), "{part}");
        ensure!(
            part["concat"]["seq"].as_u64() == Some(i as u64 + 1),
            "{part}"
        );
        ensure!(
            part["esm_class"].as_u64().is_some_and(|e| e & 0x40 != 0),
            "UDHI set: {part}"
        );
        ensure!(
            part["source_ton"].as_u64() == Some(5),
            "alphanumeric sender: {part}"
        );
    }
    let joined = format!(
        "{}{}",
        parts[0]["text"].as_str().unwrap_or_default(),
        parts[1]["text"].as_str().unwrap_or_default()
    );
    ensure!(joined == long_text, "multipart text round trip");

    client.shutdown(Duration::from_secs(2)).await;
    let summary = smsc.wait_summary(|s| n(s, "unbinds") == 1).await?;
    ensure!(n(&summary, "unbinds") == 1, "{summary}");
    Ok(())
}
