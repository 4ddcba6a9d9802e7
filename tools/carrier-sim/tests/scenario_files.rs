//! The committed scenario files parse, validate and start a simulator.

use std::path::PathBuf;

use carrier_sim::{IdFormat, SimConfig};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("scenarios")
        .join(name)
}

#[test]
fn every_committed_scenario_parses() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("scenarios");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for path in names {
        SimConfig::from_toml_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn scenario_contents() {
    let d = SimConfig::from_toml_file(scenario("default.toml")).unwrap();
    assert_eq!(d.scenario.throttle.tps, 0);
    assert!(d.scenario.submit.errors.is_empty());
    let t = SimConfig::from_toml_file(scenario("throttled.toml")).unwrap();
    assert_eq!(t.scenario.throttle.tps, 50);
    let f = SimConfig::from_toml_file(scenario("flaky.toml")).unwrap();
    assert_eq!(f.scenario.submit.errors.len(), 2);
    assert!(f.scenario.receipts.duplicate_probability > 0.0);
    let h = SimConfig::from_toml_file(scenario("hex-dec-ids.toml")).unwrap();
    assert_eq!(h.scenario.ids.response_format, IdFormat::HexUpper);
    assert_eq!(h.scenario.ids.receipt_format, Some(IdFormat::Decimal));
    let two = SimConfig::from_toml_file(scenario("two-carriers.toml")).unwrap();
    let ids: Vec<&str> = two.accounts.iter().map(|a| a.system_id.as_str()).collect();
    assert_eq!(ids, ["smsflow", "smsflow-b"]);
    assert!(two.accounts.iter().all(|a| a.password == "secret"));
    assert_eq!(two.scenario, d.scenario, "default.toml's carrier, twice");
    // listeners are not in the files: port 0 in-process, 2775/8090 for the binary
    assert_eq!(d.smpp_listen.port(), 0);
}

#[tokio::test]
async fn default_scenario_starts() {
    let config = SimConfig::from_toml_file(scenario("default.toml")).unwrap();
    let sim = carrier_sim::start(config).await.unwrap();
    assert_ne!(sim.smpp_addr().port(), 0);
    assert_ne!(sim.http_addr().port(), 0);
    sim.shutdown().await;
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = SimConfig::from_toml_file("/nonexistent/x.toml").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.toml"), "{e}");
}
