//! Simulator configuration: listen addresses, accounts and the [`Scenario`].
//!
//! File format (TOML, every key optional):
//!
//! ```toml
//! smpp_listen = "127.0.0.1:2775"
//! http_listen = "127.0.0.1:8090"
//!
//! [[accounts]]
//! system_id = "smsflow"
//! password = "secret"
//! tps = 100            # optional per-account cap, overrides scenario.throttle.tps
//!
//! [scenario]
//! seed = 42
//! [scenario.receipts]
//! delay = { distribution = "fixed", ms = 100 }
//! ```

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::Path,
};

use serde::{Deserialize, Serialize};

use crate::{error::SimError, scenario::Scenario};

/// Port of the SMPP listener when the binary is started without one.
pub const DEFAULT_SMPP_PORT: u16 = 2775;
/// Port of the HTTP listener when the binary is started without one.
pub const DEFAULT_HTTP_PORT: u16 = 8090;

/// Everything [`crate::start`] needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// SMPP listener; port 0 picks a free port (the default, for tests).
    pub smpp_listen: SocketAddr,
    /// HTTP listener (sendsms, ledger, MO injection, metrics); port 0 picks a free port.
    pub http_listen: SocketAddr,
    /// Accepted ESME / HTTP credentials. Empty = any system_id and password bind.
    pub accounts: Vec<Account>,
    /// Carrier behaviour.
    pub scenario: Scenario,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            smpp_listen: loopback(0),
            http_listen: loopback(0),
            accounts: vec![Account::new("smsflow", "secret")],
            scenario: Scenario::default(),
        }
    }
}

/// `127.0.0.1:port`.
pub const fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

impl SimConfig {
    /// A config with default accounts and listeners and the given scenario.
    pub fn with_scenario(scenario: Scenario) -> Self {
        Self {
            scenario,
            ..Self::default()
        }
    }

    /// Parses a TOML string (see the module docs for the format) and validates it.
    pub fn from_toml_str(text: &str) -> Result<Self, SimError> {
        let config: SimConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Checks the scenario and the accounts.
    pub fn validate(&self) -> Result<(), SimError> {
        self.scenario.validate()?;
        for a in &self.accounts {
            if a.system_id.is_empty() || a.system_id.len() > 15 || a.password.len() > 8 {
                return Err(SimError::ConfigInvalid(format!(
                    "account {:?}: system_id must have 1..=15 and password 0..=8 characters",
                    a.system_id
                )));
            }
        }
        Ok(())
    }

    /// The account for `system_id`, if configured.
    pub fn account(&self, system_id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.system_id == system_id)
    }
}

/// One ESME account (also the HTTP `username`/`password`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// SMPP system_id / HTTP username.
    pub system_id: String,
    /// SMPP password / HTTP password (at most 8 characters, as in SMPP).
    pub password: String,
    /// Optional per-account throughput cap in submits per second (0 = unlimited); unset =
    /// `scenario.throttle.tps`.
    #[serde(default)]
    pub tps: Option<u32>,
}

impl Account {
    /// An account without its own cap.
    pub fn new(system_id: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            system_id: system_id.into(),
            password: password.into(),
            tps: None,
        }
    }
}

/// Outcome of checking credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthResult {
    /// Credentials accepted.
    Ok,
    /// Unknown system_id.
    UnknownSystemId,
    /// Known system_id, wrong password.
    BadPassword,
}

impl SimConfig {
    pub(crate) fn authenticate(&self, system_id: &str, password: &str) -> AuthResult {
        if self.accounts.is_empty() {
            return AuthResult::Ok;
        }
        match self.account(system_id) {
            None => AuthResult::UnknownSystemId,
            Some(a) if a.password == password => AuthResult::Ok,
            Some(_) => AuthResult::BadPassword,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_format() {
        let c = SimConfig::from_toml_str(
            r#"
            smpp_listen = "127.0.0.1:2775"
            [[accounts]]
            system_id = "a"
            password = "b"
            tps = 5
            [scenario.throttle]
            tps = 10
            "#,
        )
        .unwrap();
        assert_eq!(c.smpp_listen.port(), 2775);
        assert_eq!(c.http_listen.port(), 0);
        assert_eq!(c.accounts[0].tps, Some(5));
        assert_eq!(c.scenario.throttle.tps, 10);
        assert_eq!(c.authenticate("a", "b"), AuthResult::Ok);
        assert_eq!(c.authenticate("a", "x"), AuthResult::BadPassword);
        assert_eq!(c.authenticate("z", "b"), AuthResult::UnknownSystemId);
    }

    #[test]
    fn empty_accounts_accept_anyone() {
        let c = SimConfig {
            accounts: vec![],
            ..SimConfig::default()
        };
        assert_eq!(c.authenticate("who", "ever"), AuthResult::Ok);
    }

    #[test]
    fn rejects_long_password_and_unknown_keys() {
        assert!(
            SimConfig::from_toml_str("[[accounts]]\nsystem_id = \"a\"\npassword = \"123456789\"")
                .is_err()
        );
        assert!(SimConfig::from_toml_str("listen = 1").is_err());
    }
}
