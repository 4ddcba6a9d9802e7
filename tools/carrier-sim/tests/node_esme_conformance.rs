//! Conformance against an independent SMPP implementation: node-smpp (npm `smpp`) as an
//! ESME client of the simulator, via `tools/conformance/esme-client.js`.
//!
//! Needs `node` and `npm ci --prefix tools/conformance`; fails (never skips) without them.

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, bail, ensure};
use carrier_sim::{SimConfig, ledger::Channel};
use serde_json::Value;

fn conformance_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("../conformance")
}

#[tokio::test]
async fn node_smpp_esme_against_simulator() -> anyhow::Result<()> {
    let dir = conformance_dir();
    let script = dir.join("esme-client.js");
    ensure!(script.is_file(), "missing {}", script.display());
    if !dir.join("node_modules/smpp").is_dir() {
        bail!(
            "node-smpp is not installed: run `npm ci --prefix tools/conformance` \
             (from the workspace root) before this test"
        );
    }

    let sim = carrier_sim::start(SimConfig::default()).await?;
    let port = sim.smpp_addr().port().to_string();
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&port)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running `node` (is Node.js installed?)")?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .context("esme-client.js did not finish in 60 s")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("no JSON summary; stdout: {stdout}\nstderr: {stderr}"))?;
    let summary: Value = serde_json::from_str(line).context("summary is JSON")?;
    let failed: Vec<&Value> = summary["checks"]
        .as_array()
        .context("checks array")?
        .iter()
        .filter(|c| c["ok"] != Value::Bool(true))
        .collect();
    ensure!(
        failed.is_empty() && summary["ok"] == Value::Bool(true) && out.status.success(),
        "node-smpp ESME found deviations: {failed:#?}\nstatus: {}\nstderr: {stderr}",
        out.status
    );
    let checks = summary["checks"].as_array().map_or(0, Vec::len);
    ensure!(checks >= 30, "expected the full check list, got {checks}");
    let ids: Vec<&str> = summary["message_ids"]
        .as_array()
        .context("message_ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(summary["receipts"].as_array().map(Vec::len), Some(4));

    // the simulator's own account of the same session
    let ledger = sim.ledger();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ledger.summary().current_sessions != 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = ledger.summary();
    assert_eq!(
        s.submits_received, 4,
        "the pre-bind submit is refused before the ledger"
    );
    assert_eq!(s.accepted, 4);
    assert_eq!((s.throttled, s.failed, s.dropped), (0, 0, 0));
    assert_eq!(s.unique_segments, 4);
    assert_eq!(s.duplicate_segments, 0);
    assert_eq!(s.receipts_sent, 4);
    assert_eq!(s.receipts_acked, 4);
    assert_eq!((s.binds, s.bind_failures, s.generic_nacks), (1, 1, 1));
    assert_eq!(s.current_sessions, 0);

    let segs = ledger.segments("+4915100000099");
    assert_eq!(segs.len(), 4);
    let texts: Vec<&str> = segs.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "conformance single part",
            "conformance multipart one ",
            "conformance multipart two",
            "Grüße 😀 conformance"
        ]
    );
    for (seg, id) in segs.iter().zip(&ids) {
        assert_eq!(seg.channel, Channel::Smpp);
        assert_eq!(seg.source, "SMSFLOW");
        assert_eq!((seg.submits, seg.accepted, seg.rejected), (1, 1, 0));
        assert_eq!(seg.message_ids, vec![id.to_string()]);
        assert_eq!(seg.receipts.len(), 1);
        assert_eq!(seg.receipts[0].message_id, *id);
        assert_eq!(seg.receipts_acked, 1);
    }
    let parts: Vec<_> = segs[1..3]
        .iter()
        .map(|e| e.concat.expect("concatenated"))
        .collect();
    assert_eq!(
        parts
            .iter()
            .map(|c| (c.reference, c.total, c.seq))
            .collect::<Vec<_>>(),
        [(0x5A, 2, 1), (0x5A, 2, 2)]
    );
    assert_eq!(segs[3].data_coding, 8);
    sim.shutdown().await;
    Ok(())
}
