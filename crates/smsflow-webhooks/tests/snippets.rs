//! The receivers' snippets in `docs/webhooks/` (what the README tells tenants to paste) accept
//! exactly the calls this crate signs: a signed body verifies, a changed byte, another secret
//! or an old timestamp does not. Runs the real `python3` and `node`.

use std::io::Write;
use std::process::{Command, Stdio};

use smsflow_webhooks::{Secret, header_value};

const NOW: i64 = 1_765_000_000;

fn snippet_accepts(program: &str, header: &str, body: &[u8], secret: &str, now: i64) -> bool {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/webhooks");
    let file = if program == "node" {
        "verify.js"
    } else {
        "verify.py"
    };
    let mut child = Command::new(program)
        .arg(format!("{dir}/{file}"))
        .env("SIGNATURE", header)
        .env("SECRET", secret)
        .env("NOW", now.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed to check the snippet: {e}"));
    child.stdin.take().unwrap().write_all(body).unwrap();
    let status = child.wait().unwrap();
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("{program} {file} crashed: {other:?}"),
    }
}

fn bodies() -> Vec<Vec<u8>> {
    vec![
        br#"{"id":"msg_1","status":"delivered"}"#.to_vec(),
        "{\"text\":\"caf\u{e9} \u{1f600}\"}".as_bytes().to_vec(),
        Vec::new(),
        (0..=255u8).collect(),
    ]
}

fn check(program: &str) {
    let secret = "whsec_8d1f0c";
    for body in bodies() {
        let header = header_value(&[&Secret::new(secret)], NOW, &body);
        assert!(
            snippet_accepts(program, &header, &body, secret, NOW + 5),
            "{program}: signed body refused"
        );
        let mut changed = body.clone();
        changed.push(b' ');
        assert!(
            !snippet_accepts(program, &header, &changed, secret, NOW),
            "{program}: changed body accepted"
        );
        assert!(
            !snippet_accepts(program, &header, &body, "whsec_other", NOW),
            "{program}: other secret accepted"
        );
        assert!(
            !snippet_accepts(program, &header, &body, secret, NOW + 301),
            "{program}: stale call accepted"
        );
    }
    let rotated = header_value(
        &[&Secret::new("whsec_new"), &Secret::new(secret)],
        NOW,
        b"{}",
    );
    assert!(
        snippet_accepts(program, &rotated, b"{}", secret, NOW),
        "{program}: rotation refused"
    );
}

#[test]
fn the_python_snippet_verifies_what_smsflow_signs() {
    check("python3");
}

#[test]
fn the_node_snippet_verifies_what_smsflow_signs() {
    check("node");
}
