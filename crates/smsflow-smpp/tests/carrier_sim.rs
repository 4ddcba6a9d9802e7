//! Integration tests against the project's carrier simulator (`tools/carrier-sim`), whose
//! ledger counts every submit per segment: proof of "exactly once" and "nothing lost".

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, ensure};
use carrier_sim::scenario::{ReceiptForm, Scenario};
use carrier_sim::{IdFormat as SimIdFormat, Latency, RunningSim, SimConfig};
use common::{WAIT, init_tracing, test_config};
use smsflow_smpp::{
    CarrierConfig, CarrierMessageId, ConcatMethod, ErrorClass, IdFormat, Inbound, InboundEvent,
    NotSentReason, PartFailure, ReceiptState, SmppClient, SubmitRequest, UnknownReason,
};
use tokio::sync::mpsc::Receiver;

async fn sim(scenario: Scenario) -> anyhow::Result<RunningSim> {
    Ok(carrier_sim::start(SimConfig::with_scenario(scenario)).await?)
}

fn client_config(sim: &RunningSim) -> CarrierConfig {
    test_config(sim.smpp_addr().port())
}

async fn start(
    config: CarrierConfig,
    sessions: usize,
) -> anyhow::Result<(SmppClient, Receiver<Inbound>)> {
    let (client, inbound) = SmppClient::start(config)?;
    ensure!(
        client.wait_until_bound(sessions, WAIT).await,
        "client did not bind"
    );
    Ok((client, inbound))
}

/// Message `i`: every 5th one is three GSM-7 parts, every 7th two UCS-2 parts.
fn message(i: usize) -> SubmitRequest {
    let destination = format!("4477{i:08}");
    let text = if i.is_multiple_of(5) {
        format!("{i:04} {}", "long message text ".repeat(20))
    } else if i.is_multiple_of(7) {
        format!("{i:04} {}", "Привет мир ".repeat(9))
    } else {
        format!("short message {i}")
    };
    SubmitRequest::new("ACME", destination, text, u16::try_from(i).unwrap_or(0))
}

#[tokio::test]
async fn throttled_load_is_accepted_exactly_once() -> anyhow::Result<()> {
    init_tracing();
    let mut scenario = Scenario::default();
    scenario.throttle.tps = 60;
    scenario.throttle.burst = 10;
    scenario.throttle.msg_q_full_share = 0.3;
    scenario.receipts.delay = Latency::fixed_ms(10);
    let sim = sim(scenario).await?;
    let mut cfg = client_config(&sim);
    cfg.sessions = 2;
    cfg.window = 10;
    cfg.registered_delivery = 0;
    let (client, _inbound) = start(cfg, 2).await?;

    let count = 60;
    let mut handles = Vec::new();
    for i in 0..count {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(message(i)).await }));
    }
    let (mut parts, mut throttled) = (0u64, 0u64);
    for h in handles {
        let report = h.await??;
        for part in &report.parts {
            part.result
                .as_ref()
                .map_err(|e| anyhow::anyhow!("part failed: {e}"))?;
            parts += 1;
            throttled += u64::from(part.throttled);
        }
    }
    let summary = sim.ledger().summary();
    ensure!(parts > count as u64, "multipart messages included");
    ensure!(
        summary.accepted == parts,
        "ledger accepted {} vs parts {parts}",
        summary.accepted
    );
    ensure!(summary.unique_segments == parts, "{summary:?}");
    ensure!(summary.duplicate_segments == 0, "{summary:?}");
    ensure!(
        summary.throttled > 0,
        "the TPS cap must have throttled: {summary:?}"
    );
    ensure!(
        throttled == summary.throttled,
        "client resends {throttled} vs throttled {}",
        summary.throttled
    );
    client.shutdown(Duration::from_secs(2)).await;
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn link_drop_mid_window_reports_every_in_flight_submit_as_unknown() -> anyhow::Result<()> {
    init_tracing();
    let mut scenario = Scenario::default();
    scenario.submit.latency = Latency::fixed_ms(400);
    let sim = sim(scenario).await?;
    let mut cfg = client_config(&sim);
    cfg.window = 10;
    cfg.registered_delivery = 0;
    let (client, _inbound) = start(cfg, 1).await?;

    // Exactly one window's worth, all held by the carrier's latency when the link drops.
    let mut handles = Vec::new();
    for i in 0..10 {
        let c = client.clone();
        handles.push(tokio::spawn(async move {
            c.submit(SubmitRequest::new(
                "ACME",
                format!("44780000{i:04}"),
                format!("in flight {i}"),
                1,
            ))
            .await
        }));
    }
    for _ in 0..200 {
        if sim.ledger().summary().submits_received == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ensure!(
        sim.ledger().summary().submits_received == 10,
        "all ten in the window"
    );
    sim.drop_connections().await;
    let mut unknown = 0;
    for h in handles {
        let report = h.await??;
        ensure!(
            report.parts[0].result
                == Err(PartFailure::OutcomeUnknown {
                    reason: UnknownReason::LinkLost
                }),
            "{:?}",
            report.parts[0].result
        );
        ensure!(report.parts[0].class() == Some(ErrorClass::OutcomeUnknown));
        unknown += 1;
    }
    ensure!(unknown == 10);
    let summary = sim.ledger().summary();
    ensure!(
        summary.unique_segments == 10 && summary.duplicate_segments == 0,
        "{summary:?}"
    );
    ensure!(
        client.wait_until_bound(1, WAIT).await,
        "reconnected after the drop"
    );
    client.shutdown(Duration::from_secs(1)).await;
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn link_drop_under_load_loses_nothing() -> anyhow::Result<()> {
    init_tracing();
    let mut scenario = Scenario::default();
    scenario.submit.latency = Latency::Uniform {
        min_ms: 5,
        max_ms: 40,
    };
    let sim = sim(scenario).await?;
    let mut cfg = client_config(&sim);
    cfg.window = 10;
    cfg.registered_delivery = 0;
    let (client, _inbound) = start(cfg, 1).await?;

    let count = 200;
    let mut handles = Vec::new();
    for i in 0..count {
        let c = client.clone();
        handles.push(tokio::spawn(async move { c.submit(message(i)).await }));
    }
    // Drop while the queue is still long and the window full.
    for _ in 0..500 {
        if sim.ledger().summary().submits_received >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.drop_connections().await;

    let (mut accepted, mut unknown, mut not_sent) = (0u64, 0u64, Vec::new());
    for (i, h) in handles.into_iter().enumerate() {
        let report = h.await??; // every call returns
        for part in report.parts {
            match part.result {
                Ok(_) => accepted += 1,
                Err(PartFailure::OutcomeUnknown { .. }) => unknown += 1,
                Err(PartFailure::NotSent { reason }) => not_sent.push((i, part.seq, reason)),
                Err(other) => anyhow::bail!("unexpected {other}"),
            }
        }
    }
    let summary = sim.ledger().summary();
    // Everything accepted reached the carrier, and everything the carrier saw is accepted or
    // unknown at the client. An unknown part may not have arrived (written into the socket
    // as the peer dropped it): that is what "unknown" means, so it is not counted as seen.
    ensure!(
        accepted <= summary.unique_segments && summary.unique_segments <= accepted + unknown,
        "accepted {accepted} + unknown {unknown} vs carrier segments {}",
        summary.unique_segments
    );
    ensure!(summary.duplicate_segments == 0, "{summary:?}");
    ensure!(
        unknown > 0,
        "the drop happened mid-window: {summary:?}, not sent {}",
        not_sent.len()
    );
    // "Not sent" parts never reached the carrier: that very part is not in the ledger.
    for (i, seq, reason) in &not_sent {
        ensure!(
            matches!(
                reason,
                NotSentReason::NotConnected | NotSentReason::LinkLostBeforeWrite
            ),
            "{reason:?}"
        );
        let dest = format!("4477{i:08}");
        let arrived = sim
            .ledger()
            .segments(&dest)
            .into_iter()
            .any(|s| match s.concat {
                Some(c) => c.seq == *seq,
                // Each message has its own destination: a single part's segment is that part.
                None => true,
            });
        ensure!(
            !arrived,
            "the not-sent part {seq} of message {i} reached the carrier"
        );
    }
    ensure!(client.wait_until_bound(1, WAIT).await, "reconnected");
    let after = client
        .submit(SubmitRequest::new(
            "ACME",
            "447900000001",
            "after the drop",
            1,
        ))
        .await?;
    ensure!(after.all_accepted(), "{after:?}");
    ensure!(sim.ledger().summary().binds == 2, "one reconnect");
    client.shutdown(Duration::from_secs(1)).await;
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn receipts_with_hex_decimal_mismatch_correlate() -> anyhow::Result<()> {
    init_tracing();
    let mut scenario = Scenario::default();
    scenario.ids.response_format = SimIdFormat::HexUpper;
    scenario.ids.receipt_format = Some(SimIdFormat::Decimal);
    scenario.receipts.delay = Latency::fixed_ms(5);
    scenario.receipts.form = ReceiptForm::TextAndTlv;
    let sim = sim(scenario).await?;
    let mut cfg = client_config(&sim);
    cfg.message_id.submit_response = IdFormat::Hex;
    cfg.message_id.receipt_text = IdFormat::Decimal;
    cfg.message_id.receipt_tlv = IdFormat::Decimal;
    let (client, mut inbound) = start(cfg, 1).await?;

    let mut ids: HashMap<CarrierMessageId, String> = HashMap::new();
    for i in 0..12 {
        let report = client.submit(message(i)).await?;
        for part in report.parts {
            let accepted = part.result.map_err(|e| anyhow::anyhow!("{e}"))?;
            // Upper-case hex digits, read as a hexadecimal number by the normalisation.
            let raw = accepted.raw_message_id.as_str();
            let value = u64::from_str_radix(raw, 16)?;
            ensure!(
                raw.chars()
                    .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
                "upper-case hex id expected, got {raw}"
            );
            ensure!(
                accepted.message_id.as_str() == value.to_string(),
                "{raw} normalised to {}",
                accepted.message_id.as_str()
            );
            ids.insert(accepted.message_id, accepted.raw_message_id);
        }
    }
    let mut seen = HashSet::new();
    while seen.len() < ids.len() {
        let event = tokio::time::timeout(WAIT, inbound.recv())
            .await
            .context("receipt in time")?
            .context("open")?
            .acknowledge();
        let InboundEvent::Receipt(r) = event else {
            anyhow::bail!("unexpected {event:?}");
        };
        ensure!(
            ids.contains_key(&r.message_id),
            "receipt {} ({}) correlates with no submit",
            r.message_id,
            r.raw_message_id
        );
        ensure!(r.state == Some(ReceiptState::Delivered));
        ensure!(
            r.raw_message_id.chars().all(|c| c.is_ascii_digit()),
            "decimal in receipts"
        );
        seen.insert(r.message_id);
    }
    client.shutdown(Duration::from_secs(1)).await;
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn multipart_methods_reach_the_carrier_intact() -> anyhow::Result<()> {
    init_tracing();
    let sim = sim(Scenario::default()).await?;
    let cases = [
        (ConcatMethod::Udh8, "Udh8"),
        (ConcatMethod::Udh16, "Udh16"),
        (ConcatMethod::Sar, "Sar"),
        (ConcatMethod::MessagePayload, "MessagePayload"),
    ];
    for (n, (method, label)) in cases.into_iter().enumerate() {
        let mut cfg = client_config(&sim);
        cfg.concatenation = method;
        cfg.registered_delivery = 0;
        let (client, _inbound) = start(cfg, 1).await?;
        for (k, text) in [
            "GSM-7 text with {braces} and € ".repeat(12),
            "UCS-2 текст с эмодзи 😀 ".repeat(6),
        ]
        .iter()
        .enumerate()
        {
            let dest = format!("4479{n:04}{k:04}");
            let report = client
                .submit(SubmitRequest::new(
                    "ACME",
                    dest.clone(),
                    text.clone(),
                    0x1234,
                ))
                .await?;
            ensure!(report.all_accepted(), "{label}: {report:?}");
            let mut segments = sim.ledger().segments(&dest);
            if method == ConcatMethod::MessagePayload {
                ensure!(segments.len() == 1, "{label}: one message_payload submit");
                ensure!(segments[0].text == *text, "{label}: text intact");
                continue;
            }
            ensure!(
                segments.len() == report.parts.len() && segments.len() > 1,
                "{label}: {} segments",
                segments.len()
            );
            segments.sort_by_key(|s| s.concat.map(|c| c.seq));
            for (i, s) in segments.iter().enumerate() {
                let c = s.concat.context("concat info")?;
                let reference = if method == ConcatMethod::Udh8 {
                    0x34
                } else {
                    0x1234
                };
                ensure!(
                    c.reference == reference,
                    "{label}: reference {}",
                    c.reference
                );
                ensure!(
                    usize::from(c.seq) == i + 1 && usize::from(c.total) == segments.len(),
                    "{label}"
                );
                ensure!(s.accepted == 1, "{label}: accepted once");
            }
            let joined: String = segments.iter().map(|s| s.text.as_str()).collect();
            ensure!(joined == *text, "{label}: joined text differs");
        }
        client.shutdown(Duration::from_secs(1)).await;
    }
    ensure!(sim.ledger().summary().duplicate_segments == 0);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reconnects_after_drop_and_receives_mo() -> anyhow::Result<()> {
    init_tracing();
    let sim = sim(Scenario::default()).await?;
    let mut cfg = client_config(&sim);
    cfg.registered_delivery = 0;
    let (client, mut inbound) = start(cfg, 1).await?;
    ensure!(client.submit(message(1)).await?.all_accepted());
    sim.drop_connections().await;
    ensure!(client.wait_until_bound(1, WAIT).await, "rebound");
    ensure!(client.submit(message(2)).await?.all_accepted());
    let summary = sim.ledger().summary();
    ensure!(
        summary.binds == 2 && summary.connections_dropped == 1,
        "{summary:?}"
    );

    sim.inject_mo("smsflow", "447700900555", "12345", "STOP please")
        .await?;
    let event = tokio::time::timeout(WAIT, inbound.recv())
        .await
        .context("mo in time")?
        .context("open")?
        .acknowledge();
    let InboundEvent::Mo(mo) = event else {
        anyhow::bail!("unexpected {event:?}");
    };
    ensure!(
        mo.text == "STOP please" && mo.source_addr == "447700900555",
        "{mo:?}"
    );
    for _ in 0..100 {
        if sim.ledger().summary().mo_acked == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ensure!(sim.ledger().summary().mo_acked == 1, "MO acknowledged");
    client.shutdown(Duration::from_secs(1)).await;
    sim.shutdown().await;
    Ok(())
}

/// Runs the outside GSM 03.38 implementation (`tools/python/gsm0338_check.py`, PyPI's
/// `gsm0338`, installed by `make tools`) with `args`; its JSON answer.
fn outside_gsm0338(args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let root =
        std::path::Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
            .join("../..");
    let python = root.join("tools/python/.venv/bin/python");
    ensure!(
        python.exists(),
        "{} is missing: run `make tools`",
        python.display()
    );
    let out = std::process::Command::new(python)
        .arg(root.join("tools/python/gsm0338_check.py"))
        .args(args)
        .output()?;
    ensure!(
        out.status.success(),
        "gsm0338_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The GSM-7 bytes on the wire, and the simulator's reading of them, agree with an outside
/// implementation over its whole basic and extension tables: every character of both (but
/// ESC) in one message, its unpacked septets as the outside codec encodes them, and read back
/// by both to the same text. The simulator decodes with `smsflow-sms`, the codec under test;
/// this keeps it an independent witness.
#[tokio::test]
async fn gsm7_on_the_wire_matches_an_outside_implementation() -> anyhow::Result<()> {
    init_tracing();
    let table = outside_gsm0338(&["table"])?;
    let text = table["text"].as_str().context("table text")?.to_owned();
    ensure!(text.chars().count() == 127 + 10, "both tables: {text:?}");
    let sim = sim(Scenario::default()).await?;
    let (client, _inbound) = start(client_config(&sim), 1).await?;
    let to = "447700900999";
    let report = client
        .submit(SubmitRequest::new("ACME", to, &text, 1))
        .await?;
    ensure!(report.all_accepted(), "{report:?}");
    ensure!(report.parts.len() == 1, "147 septets fit one part");

    let segments = sim.ledger().segments(to);
    ensure!(segments.len() == 1, "{segments:?}");
    let seg = &segments[0];
    ensure!(
        seg.data_coding == 0,
        "GSM-7 (data_coding 0), not {}",
        seg.data_coding
    );
    let wire = seg
        .payload_hex
        .as_deref()
        .context("a single part's payload")?
        .to_ascii_lowercase();
    let theirs = outside_gsm0338(&["decode", &wire])?;
    ensure!(
        theirs["text"] == text.as_str(),
        "our septets read elsewhere as {}",
        theirs["text"]
    );
    ensure!(
        theirs["encoded"] == wire,
        "the outside codec encodes the text as {}, we sent {wire}",
        theirs["encoded"]
    );
    ensure!(seg.text == text, "the simulator read {:?}", seg.text);
    client.shutdown(Duration::from_secs(1)).await;
    sim.shutdown().await;
    Ok(())
}
