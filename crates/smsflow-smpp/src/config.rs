//! Per-carrier settings: one [`CarrierConfig`] per SMSC account.
//!
//! Every field has a default that works against the local carrier simulator, so a config file
//! only lists what differs. Unknown keys are rejected (`deny_unknown_fields`) so a typo fails
//! loudly at start-up instead of silently using a default.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::idnorm::IdNormalisation;
use crate::lane::PriorityFlags;

/// Settings for one carrier (one SMSC account), possibly spread over several binds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierConfig {
    /// Short carrier name, used as the `carrier` label on metrics and in log lines.
    /// Keep it to a small fixed set (one per configured carrier); never put ids in it.
    pub name: String,
    /// Host name or IP address of the SMSC.
    pub host: String,
    /// TCP port of the SMSC (2775 is the customary SMPP port).
    pub port: u16,
    /// `system_id` sent in the bind PDU (the account name at the carrier).
    pub system_id: String,
    /// Password sent in the bind PDU; redacted from `Debug` output.
    pub password: Secret,
    /// `system_type` sent in the bind PDU; most carriers want it empty.
    pub system_type: String,
    /// `service_type` put in every submit_sm; empty means the SMSC default.
    pub service_type: String,
    /// Whether each session binds as one transceiver or as a transmitter plus a receiver.
    pub bind_mode: BindMode,
    /// Number of sending binds (sessions) opened to this carrier; submits are spread across
    /// them. In `transmitter_receiver` mode this is the number of transmitters.
    pub sessions: u32,
    /// Number of receiver binds opened in `transmitter_receiver` mode (ignored otherwise).
    pub receiver_sessions: u32,
    /// Window: the maximum number of requests sent on one session without a response yet.
    pub window: u32,
    /// `interface_version` sent in the bind PDU (0x34 = SMPP 3.4).
    pub interface_version: u8,
    /// Seconds between two enquire_link requests sent by us on an idle or busy session.
    pub enquire_link_interval_secs: u64,
    /// Milliseconds to wait for the response to any request (bind, submit_sm, enquire_link,
    /// unbind). A submit_sm without a response within this time is reported as outcome
    /// unknown; an enquire_link without a response closes the session.
    pub response_timeout_ms: u64,
    /// Milliseconds allowed for the TCP connect.
    pub connect_timeout_ms: u64,
    /// First reconnect delay after a lost link or a failed bind, in milliseconds.
    pub reconnect_min_backoff_ms: u64,
    /// Cap of the exponential reconnect delay, in milliseconds (jitter is applied below it).
    pub reconnect_max_backoff_ms: u64,
    /// First pause after a throttling response (ESME_RTHROTTLED / ESME_RMSGQFUL), in ms.
    pub throttle_min_backoff_ms: u64,
    /// Cap of the exponential pause after repeated throttling responses, in ms.
    pub throttle_max_backoff_ms: u64,
    /// Maximum submit_sm per second on each session (connection); `None` means no limit.
    /// The carrier-wide rate is this times `sessions`.
    pub tps_per_session: Option<u32>,
    /// TON of numeric source addresses; `None` = international (1). Alphanumeric senders
    /// always use TON 5 (alphanumeric) with NPI 0.
    pub source_ton: Option<u8>,
    /// NPI of numeric source addresses; `None` = E.164 (1).
    pub source_npi: Option<u8>,
    /// TON of destination addresses (1 = international).
    pub dest_ton: u8,
    /// NPI of destination addresses (1 = E.164).
    pub dest_npi: u8,
    /// `data_coding` value used for GSM-7 text. 0 means "SMSC default alphabet", which most
    /// carriers map to GSM-7; some want 1 (IA5) or 3 (Latin-1) instead. UCS-2 always uses 8.
    pub gsm7_data_coding: u8,
    /// Whether GSM-7 text is packed (7 bits per character) in short_message. SMPP carriers
    /// nearly always expect unpacked (one septet per octet), the default.
    pub gsm7_packed: bool,
    /// How messages longer than one segment are sent.
    pub concatenation: ConcatMethod,
    /// `registered_delivery` used when the caller does not set one (1 = receipt on success
    /// and failure, 2 = on failure only, 0 = none).
    pub registered_delivery: u8,
    /// How carrier message ids are normalised so that submit_sm_resp ids and receipt ids
    /// compare equal.
    pub message_id: IdNormalisation,
    /// Capacity of each priority lane's queue of parts waiting for a free window slot on any
    /// session (so up to three times this in all). A caller whose lane is full waits
    /// (backpressure on that lane only: a full bulk queue never delays an OTP).
    pub submit_queue: usize,
    /// SMPP priority_flag written per lane (`[priority_flags]` with `otp`, `transactional`,
    /// `bulk`; defaults 3, 1, 0). Lower `otp` for a carrier that refuses values above 1.
    pub priority_flags: PriorityFlags,
    /// Number of received deliver_sm held while the inbound channel is full; beyond it a
    /// deliver_sm is refused with ESME_RX_T_APPN (the carrier redelivers later). The session
    /// never stops reading, so submit responses never wait behind receipts.
    pub inbound_backlog: usize,
    /// Capacity of the inbound event channel handed to the caller.
    pub inbound_channel: usize,
}

impl Default for CarrierConfig {
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 2775,
            system_id: "smsflow".to_owned(),
            password: Secret::default(),
            system_type: String::new(),
            service_type: String::new(),
            bind_mode: BindMode::Transceiver,
            sessions: 1,
            receiver_sessions: 1,
            window: 10,
            interface_version: 0x34,
            enquire_link_interval_secs: 30,
            response_timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            reconnect_min_backoff_ms: 500,
            reconnect_max_backoff_ms: 30_000,
            throttle_min_backoff_ms: 100,
            throttle_max_backoff_ms: 5_000,
            tps_per_session: None,
            source_ton: None,
            source_npi: None,
            dest_ton: 1,
            dest_npi: 1,
            gsm7_data_coding: 0,
            gsm7_packed: false,
            concatenation: ConcatMethod::Udh8,
            registered_delivery: 1,
            message_id: IdNormalisation::default(),
            submit_queue: 1_024,
            priority_flags: PriorityFlags::default(),
            inbound_backlog: 256,
            inbound_channel: 1_024,
        }
    }
}

impl CarrierConfig {
    /// Checks the values that would make the client misbehave (zero window, zero sessions,
    /// min backoff above max, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |field: &'static str, reason: &'static str| Err(ConfigError::Invalid { field, reason });
        if self.name.is_empty() {
            return invalid("name", "must not be empty");
        }
        if self.host.is_empty() {
            return invalid("host", "must not be empty");
        }
        if self.system_id.len() > 15 {
            return invalid("system_id", "at most 15 characters");
        }
        if self.password.0.len() > 8 {
            return invalid("password", "at most 8 characters");
        }
        if self.system_type.len() > 12 {
            return invalid("system_type", "at most 12 characters");
        }
        if self.service_type.len() > 5 {
            return invalid("service_type", "at most 5 characters");
        }
        if self.sessions == 0 {
            return invalid("sessions", "at least 1");
        }
        if self.bind_mode == BindMode::TransmitterReceiver && self.receiver_sessions == 0 {
            return invalid(
                "receiver_sessions",
                "at least 1 in transmitter_receiver mode",
            );
        }
        if self.window == 0 {
            return invalid("window", "at least 1");
        }
        if self.enquire_link_interval_secs == 0 {
            return invalid("enquire_link_interval_secs", "at least 1");
        }
        if self.response_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return invalid("response_timeout_ms", "timeouts must be positive");
        }
        if self.reconnect_min_backoff_ms == 0
            || self.reconnect_min_backoff_ms > self.reconnect_max_backoff_ms
        {
            return invalid(
                "reconnect_min_backoff_ms",
                "positive and not above the maximum",
            );
        }
        if self.throttle_min_backoff_ms == 0
            || self.throttle_min_backoff_ms > self.throttle_max_backoff_ms
        {
            return invalid(
                "throttle_min_backoff_ms",
                "positive and not above the maximum",
            );
        }
        if self.tps_per_session == Some(0) {
            return invalid(
                "tps_per_session",
                "omit it for no limit; 0 would never send",
            );
        }
        if self.submit_queue == 0 || self.inbound_channel == 0 || self.inbound_backlog == 0 {
            return invalid("submit_queue", "queue capacities must be positive");
        }
        let flags = self.priority_flags;
        if [flags.otp, flags.transactional, flags.bulk]
            .iter()
            .any(|flag| *flag > 3)
        {
            return invalid("priority_flags", "SMPP 3.4 priority_flag is 0 to 3");
        }
        Ok(())
    }

    /// The response timeout as a [`Duration`].
    pub fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }

    /// The enquire_link interval as a [`Duration`].
    pub fn enquire_link_interval(&self) -> Duration {
        Duration::from_secs(self.enquire_link_interval_secs)
    }

    /// The TCP connect timeout as a [`Duration`].
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// How a session binds to the SMSC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One `bind_transceiver` per session: submits and deliver_sm share the link.
    Transceiver,
    /// `bind_transmitter` sessions for submits plus separate `bind_receiver` sessions for
    /// receipts and MO messages.
    TransmitterReceiver,
}

/// How a message longer than one segment is sent to the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcatMethod {
    /// One submit_sm per part with a 6-byte UDH (`05 00 03 ref total seq`), esm_class 0x40.
    Udh8,
    /// One submit_sm per part with a 7-byte UDH (`06 08 04 refH refL total seq`).
    Udh16,
    /// One submit_sm per part without UDH, with the sar_msg_ref_num / sar_total_segments /
    /// sar_segment_seqnum TLVs.
    Sar,
    /// One submit_sm with the whole text in the message_payload TLV and sm_length 0; the
    /// carrier segments it.
    MessagePayload,
}

/// A secret string (the bind password): deserialised like a string, never printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CarrierConfig::default()
            .validate()
            .expect("defaults validate");
    }

    #[test]
    fn deserialises_with_defaults_and_rejects_unknown_fields() {
        let cfg: CarrierConfig = toml::from_str(
            r#"
            name = "acme"
            host = "smsc.example"
            password = "pw"
            bind_mode = "transmitter_receiver"
            concatenation = "sar"
            [priority_flags]
            otp = 1
            [message_id]
            submit_response = "hex"
            receipt_text = "decimal"
            "#,
        )
        .expect("parse");
        assert_eq!(cfg.window, 10);
        assert_eq!(cfg.bind_mode, BindMode::TransmitterReceiver);
        assert_eq!(cfg.concatenation, ConcatMethod::Sar);
        assert_eq!(
            cfg.priority_flags,
            PriorityFlags {
                otp: 1,
                transactional: 1,
                bulk: 0
            }
        );
        assert!(!format!("{cfg:?}").contains("\"pw\""));
        cfg.validate().expect("valid");

        let err = toml::from_str::<CarrierConfig>("windw = 3").expect_err("typo rejected");
        assert!(err.to_string().contains("windw"), "{err}");
    }

    #[test]
    fn validation_catches_priority_flag_out_of_range() {
        let mut cfg = CarrierConfig::default();
        cfg.priority_flags.otp = 4;
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::Invalid {
                field: "priority_flags",
                ..
            })
        ));
    }

    #[test]
    fn validation_catches_zero_window() {
        let cfg = CarrierConfig {
            window: 0,
            ..CarrierConfig::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::Invalid {
                field: "window",
                ..
            })
        ));
    }
}
