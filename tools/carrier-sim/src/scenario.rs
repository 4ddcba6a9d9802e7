//! Scenario: how the simulated carrier behaves (latency, throttling, failures, receipts,
//! id formats, dropped connections, scripted MOs).
//!
//! Every struct rejects unknown fields and every field has a default, so an empty
//! `[scenario]` table is a happy carrier: no latency, no throttling, no failures, one
//! `DELIVRD` receipt per segment after 100 ms, decimal ids.

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The whole behaviour of the simulated carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Seed of every random decision. Decision `n` (the n-th submit the simulator sees) uses
    /// an RNG seeded from `(seed, n)`, so a run with one session is exactly reproducible.
    pub seed: u64,
    /// submit_sm handling: response latency and the failure mix.
    pub submit: SubmitBehaviour,
    /// Per-system_id throughput cap.
    pub throttle: ThrottleConfig,
    /// Carrier message id formats.
    pub ids: IdConfig,
    /// Delivery receipts: outcome mix, delay, duplicates, text/TLV form.
    pub receipts: ReceiptConfig,
    /// Dropped TCP connections.
    pub connection: ConnectionConfig,
    /// Scripted mobile-originated messages.
    pub mo: MoConfig,
    /// SMSC protocol details (bind response, error bodies, default alphabet).
    pub smsc: SmscConfig,
    /// Kannel-style HTTP API details.
    pub http: HttpApiConfig,
    /// Ledger limits.
    pub ledger: LedgerConfig,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            seed: 1,
            submit: SubmitBehaviour::default(),
            throttle: ThrottleConfig::default(),
            ids: IdConfig::default(),
            receipts: ReceiptConfig::default(),
            connection: ConnectionConfig::default(),
            mo: MoConfig::default(),
            smsc: SmscConfig::default(),
            http: HttpApiConfig::default(),
            ledger: LedgerConfig::default(),
        }
    }
}

impl Scenario {
    /// Checks probabilities, weights and ranges; returns a readable error on the first problem.
    pub fn validate(&self) -> Result<(), SimError> {
        fn prob(name: &str, p: f64) -> Result<(), SimError> {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(SimError::ConfigInvalid(format!(
                    "{name} must be within 0..=1, got {p}"
                )))
            }
        }
        self.submit.latency.validate("submit.latency")?;
        self.receipts.delay.validate("receipts.delay")?;
        let mut total = 0.0;
        for (i, rule) in self.submit.errors.iter().enumerate() {
            prob(&format!("submit.errors[{i}].probability"), rule.probability)?;
            if rule.status == 0 {
                return Err(SimError::ConfigInvalid(format!(
                    "submit.errors[{i}].status must not be 0 (ESME_ROK)"
                )));
            }
            total += rule.probability;
        }
        if total > 1.0 + 1e-9 {
            return Err(SimError::ConfigInvalid(format!(
                "submit.errors probabilities add up to {total} > 1"
            )));
        }
        prob("throttle.msg_q_full_share", self.throttle.msg_q_full_share)?;
        prob(
            "receipts.duplicate_probability",
            self.receipts.duplicate_probability,
        )?;
        prob(
            "connection.drop_probability",
            self.connection.drop_probability,
        )?;
        if self.receipts.outcomes.is_empty() {
            return Err(SimError::ConfigInvalid(
                "receipts.outcomes must not be empty".into(),
            ));
        }
        if self
            .receipts
            .outcomes
            .iter()
            .any(|o| !(o.weight >= 0.0 && o.weight.is_finite()))
            || self.receipts.outcomes.iter().all(|o| o.weight == 0.0)
        {
            return Err(SimError::ConfigInvalid(
                "receipts.outcomes weights must be >= 0 with at least one > 0".into(),
            ));
        }
        if self.smsc.system_id.is_empty() || self.smsc.system_id.len() > 15 {
            return Err(SimError::ConfigInvalid(
                "smsc.system_id must have 1..=15 characters".into(),
            ));
        }
        Ok(())
    }
}

/// A delay distribution in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same delay.
    Fixed {
        /// Delay in milliseconds (0 = answer immediately, without a timer).
        ms: u64,
    },
    /// Uniformly distributed between `min_ms` and `max_ms` (inclusive).
    Uniform {
        /// Smallest delay in milliseconds.
        min_ms: u64,
        /// Largest delay in milliseconds.
        max_ms: u64,
    },
    /// Normal distribution (Box-Muller) clamped to `[min_ms, max_ms]`.
    Normal {
        /// Mean in milliseconds.
        mean_ms: f64,
        /// Standard deviation in milliseconds.
        stddev_ms: f64,
        /// Lower clamp in milliseconds.
        #[serde(default)]
        min_ms: u64,
        /// Upper clamp in milliseconds.
        max_ms: u64,
    },
}

impl Latency {
    /// A fixed delay.
    pub const fn fixed_ms(ms: u64) -> Self {
        Latency::Fixed { ms }
    }

    fn validate(&self, name: &str) -> Result<(), SimError> {
        match self {
            Latency::Fixed { .. } => Ok(()),
            Latency::Uniform { min_ms, max_ms } | Latency::Normal { min_ms, max_ms, .. }
                if min_ms > max_ms =>
            {
                Err(SimError::ConfigInvalid(format!(
                    "{name}: min_ms {min_ms} > max_ms {max_ms}"
                )))
            }
            Latency::Normal { stddev_ms, .. } if stddev_ms.is_nan() || *stddev_ms < 0.0 => Err(
                SimError::ConfigInvalid(format!("{name}: stddev_ms must be >= 0")),
            ),
            _ => Ok(()),
        }
    }
}

/// How submit_sm (and HTTP sendsms) requests are answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmitBehaviour {
    /// Delay before submit_sm_resp is written.
    pub latency: Latency,
    /// Failure mix: each rule answers with its status with its probability (checked in
    /// order, after throttling). E.g. `{ status = 0x08, probability = 0.01 }` (ESME_RSYSERR,
    /// transient) or `{ status = 0x0B, probability = 0.005 }` (ESME_RINVDSTADR, permanent).
    pub errors: Vec<ErrorRule>,
}

impl Default for SubmitBehaviour {
    fn default() -> Self {
        Self {
            latency: Latency::fixed_ms(0),
            errors: Vec::new(),
        }
    }
}

/// One entry of the failure mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// SMPP command_status to answer with (TOML accepts hex: `0x08`).
    pub status: u32,
    /// Probability in `0..=1` that a submit gets this status.
    pub probability: f64,
}

/// Throughput cap per system_id (shared by all its sessions and by HTTP for that username).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Submits per second allowed per system_id; 0 = unlimited. An account's own `tps`
    /// overrides it.
    pub tps: u32,
    /// Token-bucket size (how many submits may arrive at once); 0 = same as the cap.
    pub burst: u32,
    /// Share of throttled answers that use ESME_RMSGQFUL (0x14) instead of ESME_RTHROTTLED (0x58).
    pub msg_q_full_share: f64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            tps: 0,
            burst: 0,
            msg_q_full_share: 0.0,
        }
    }
}

/// How a carrier message id is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdFormat {
    /// Decimal digits, e.g. `1000000007`.
    Decimal,
    /// Upper-case hexadecimal, e.g. `3B9ACA07`.
    HexUpper,
    /// Lower-case hexadecimal, e.g. `3b9aca07`.
    HexLower,
}

/// Carrier message ids: a counter rendered in a format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdConfig {
    /// Format in submit_sm_resp (and in the HTTP `X-Carrier-Message-Id` header).
    pub response_format: IdFormat,
    /// Format in receipts (text `id:` and `receipted_message_id`); unset = same as the
    /// response. Set it to another format for the classic hex-vs-decimal bug.
    pub receipt_format: Option<IdFormat>,
    /// First id handed out (the default makes hex ids contain letters).
    pub start: u64,
}

impl Default for IdConfig {
    fn default() -> Self {
        Self {
            response_format: IdFormat::Decimal,
            receipt_format: None,
            start: 1_000_000_000,
        }
    }
}

/// Final state of a message in a receipt (`stat:` and TLV message_state 0x0427).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReceiptState {
    /// Delivered (message_state 2).
    Delivrd,
    /// Expired (message_state 3).
    Expired,
    /// Deleted (message_state 4).
    Deleted,
    /// Undeliverable (message_state 5).
    Undeliv,
    /// Accepted (message_state 6).
    Acceptd,
    /// Unknown (message_state 7).
    Unknown,
    /// Rejected (message_state 8).
    Rejectd,
}

impl ReceiptState {
    /// The 7-letter `stat:` text.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReceiptState::Delivrd => "DELIVRD",
            ReceiptState::Expired => "EXPIRED",
            ReceiptState::Deleted => "DELETED",
            ReceiptState::Undeliv => "UNDELIV",
            ReceiptState::Acceptd => "ACCEPTD",
            ReceiptState::Unknown => "UNKNOWN",
            ReceiptState::Rejectd => "REJECTD",
        }
    }

    /// Parses the `stat:` text (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "DELIVRD" => ReceiptState::Delivrd,
            "EXPIRED" => ReceiptState::Expired,
            "DELETED" => ReceiptState::Deleted,
            "UNDELIV" => ReceiptState::Undeliv,
            "ACCEPTD" => ReceiptState::Acceptd,
            "UNKNOWN" => ReceiptState::Unknown,
            "REJECTD" => ReceiptState::Rejectd,
            _ => return None,
        })
    }

    /// SMPP message_state value (TLV 0x0427).
    pub const fn message_state(self) -> u8 {
        match self {
            ReceiptState::Delivrd => 2,
            ReceiptState::Expired => 3,
            ReceiptState::Deleted => 4,
            ReceiptState::Undeliv => 5,
            ReceiptState::Acceptd => 6,
            ReceiptState::Unknown => 7,
            ReceiptState::Rejectd => 8,
        }
    }

    /// Whether this is a successful final state.
    pub const fn is_success(self) -> bool {
        matches!(self, ReceiptState::Delivrd)
    }
}

/// One entry of the receipt outcome mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRule {
    /// Final state reported.
    pub state: ReceiptState,
    /// Relative weight (weights are normalised over all outcomes).
    pub weight: f64,
    /// Value of the `err:` field (printed as 3 digits); 0 for DELIVRD by convention.
    #[serde(default)]
    pub error_code: u16,
}

/// Where the receipt data goes in the deliver_sm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptForm {
    /// Only the `id:.. stat:..` text in short_message.
    Text,
    /// Only TLVs receipted_message_id (0x001E) and message_state (0x0427); empty short_message.
    Tlv,
    /// Both text and TLVs (most carriers).
    TextAndTlv,
}

/// Which segments of a concatenated message get a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptSegments {
    /// One receipt per segment (per submit_sm), the usual case.
    Each,
    /// Only the last segment (seq == total) gets a receipt.
    LastOnly,
}

/// Delivery receipts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptConfig {
    /// Delay between accepting a submit and sending its receipt.
    pub delay: Latency,
    /// Outcome mix (weights).
    pub outcomes: Vec<OutcomeRule>,
    /// Probability that a receipt is sent twice.
    pub duplicate_probability: f64,
    /// Extra delay of the duplicate after the first copy, in milliseconds.
    pub duplicate_delay_ms: u64,
    /// Text, TLVs, or both.
    pub form: ReceiptForm,
    /// Per segment or last segment only.
    pub segments: ReceiptSegments,
    /// Characters of the message copied into the `text:` field (0 = empty `text:`).
    pub text_chars: usize,
    /// Print dates as YYMMDDhhmmss instead of YYMMDDhhmm.
    pub dates_with_seconds: bool,
    /// Delay before a receipt the ESME refused (non-zero deliver_sm_resp) is sent again, ms.
    pub redelivery_delay_ms: u64,
    /// Receipts/MOs kept for a system_id with no receiver bound; older ones are dropped.
    pub max_pending: usize,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        Self {
            delay: Latency::fixed_ms(100),
            outcomes: vec![OutcomeRule {
                state: ReceiptState::Delivrd,
                weight: 1.0,
                error_code: 0,
            }],
            duplicate_probability: 0.0,
            duplicate_delay_ms: 50,
            form: ReceiptForm::TextAndTlv,
            segments: ReceiptSegments::Each,
            text_chars: 20,
            dates_with_seconds: false,
            redelivery_delay_ms: 1000,
            max_pending: 1_000_000,
        }
    }
}

/// Dropped connections (the outcome of the submits in the window is then unknown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionConfig {
    /// Close a session when it receives its N-th submit_sm, without answering it nor any
    /// response still queued; 0 = never.
    pub drop_after_submits: u64,
    /// Probability, per submit_sm, of closing the session the same way.
    pub drop_probability: f64,
    /// At most this many scenario drops over the simulator's life; 0 = unlimited.
    pub max_drops: u64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            drop_after_submits: 0,
            drop_probability: 0.0,
            max_drops: 0,
        }
    }
}

/// Mobile-originated messages sent by the scenario itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MoConfig {
    /// MOs sent at fixed times after start (queued until a receiver of the system_id binds).
    pub scripted: Vec<ScriptedMo>,
}

/// One scripted MO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedMo {
    /// Milliseconds after start.
    pub after_ms: u64,
    /// Receiving ESME's system_id.
    pub system_id: String,
    /// Originating handset (source_addr).
    pub from: String,
    /// Short code / long number it was sent to (destination_addr).
    pub to: String,
    /// Message text.
    pub text: String,
}

/// What data_coding 0 (SMSC default alphabet) means on this carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAlphabet {
    /// GSM 03.38, one septet per octet (unpacked), with the escape table.
    Gsm7,
    /// ISO-8859-1.
    Latin1,
}

/// How error responses are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorBody {
    /// Header only (SMPP 3.4 §4.4.2: no body when command_status != 0).
    Empty,
    /// A body with an empty message_id / system_id (a single NUL octet), as many SMSCs do.
    Nul,
}

/// SMSC protocol details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmscConfig {
    /// system_id returned in bind responses (1..=15 chars).
    pub system_id: String,
    /// Body of submit_sm_resp / bind_*_resp when command_status is not 0.
    pub error_body: ErrorBody,
    /// Meaning of data_coding 0.
    pub default_alphabet: DefaultAlphabet,
    /// Largest accepted PDU in octets; a larger command_length closes the session.
    pub max_pdu_len: usize,
    /// Capacity of each session's outbound queue (responses, receipts, MOs).
    pub outbound_queue: usize,
}

impl Default for SmscConfig {
    fn default() -> Self {
        Self {
            system_id: "carrier-sim".into(),
            error_body: ErrorBody::Empty,
            default_alphabet: DefaultAlphabet::Gsm7,
            max_pdu_len: 65_536,
            outbound_queue: 8192,
        }
    }
}

/// Kannel-style HTTP API details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpApiConfig {
    /// HTTP status of an accepted sendsms (Kannel: 202).
    pub accept_status: u16,
    /// Value of `%i` (smsc id) in dlr-url.
    pub smsc_id: String,
    /// Attempts per dlr-url callback (retried on transport errors and non-2xx).
    pub dlr_attempts: u32,
    /// Delay between callback attempts, ms.
    pub dlr_retry_delay_ms: u64,
}

impl Default for HttpApiConfig {
    fn default() -> Self {
        Self {
            accept_status: 202,
            smsc_id: "carrier-sim".into(),
            dlr_attempts: 3,
            dlr_retry_delay_ms: 200,
        }
    }
}

/// Ledger limits. Each stored segment costs roughly 1-2 KB of memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// Most distinct segments kept (default 2 million, ~2-4 GB at most); beyond it totals
    /// still count but new segments are not stored (reported as `segments_not_recorded`).
    /// 0 keeps only the totals, for long benchmarks.
    pub max_segments: usize,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            max_segments: 2_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_scenario_is_happy_default() {
        let s: Scenario = toml::from_str("").unwrap();
        assert_eq!(s, Scenario::default());
        s.validate().unwrap();
        assert_eq!(s.receipts.delay, Latency::Fixed { ms: 100 });
        assert_eq!(s.throttle.tps, 0);
    }

    #[test]
    fn parses_full_scenario() {
        let s: Scenario = toml::from_str(
            r#"
            seed = 7
            [submit]
            latency = { distribution = "normal", mean_ms = 20.0, stddev_ms = 5.0, min_ms = 1, max_ms = 80 }
            errors = [{ status = 0x08, probability = 0.02 }, { status = 0x0B, probability = 0.01 }]
            [throttle]
            tps = 50
            msg_q_full_share = 0.25
            [ids]
            response_format = "hex_upper"
            receipt_format = "decimal"
            [receipts]
            delay = { distribution = "uniform", min_ms = 10, max_ms = 20 }
            outcomes = [{ state = "DELIVRD", weight = 9.0 }, { state = "UNDELIV", weight = 1.0, error_code = 1 }]
            duplicate_probability = 0.1
            form = "tlv"
            [connection]
            drop_after_submits = 10
            [[mo.scripted]]
            after_ms = 5
            system_id = "a"
            from = "4915"
            to = "1234"
            text = "hi"
            "#,
        )
        .unwrap();
        s.validate().unwrap();
        assert_eq!(s.submit.errors[0].status, 8);
        assert_eq!(s.ids.receipt_format, Some(IdFormat::Decimal));
        assert_eq!(s.receipts.outcomes[1].state, ReceiptState::Undeliv);
        assert_eq!(s.receipts.form, ReceiptForm::Tlv);
        assert_eq!(s.mo.scripted.len(), 1);
    }

    #[test]
    fn rejects_unknown_fields() {
        assert!(toml::from_str::<Scenario>("[throttle]\ntpz = 5").is_err());
        assert!(toml::from_str::<Scenario>("bogus = 1").is_err());
        assert!(
            toml::from_str::<Scenario>(
                "[submit]\nlatency = { distribution = \"fixed\", ms = 1, extra = 2 }"
            )
            .is_err()
        );
    }

    #[test]
    fn validate_catches_bad_values() {
        let mut s = Scenario::default();
        s.submit.errors.push(ErrorRule {
            status: 8,
            probability: 1.5,
        });
        assert!(s.validate().is_err());
        let mut s = Scenario::default();
        s.receipts.delay = Latency::Uniform {
            min_ms: 5,
            max_ms: 1,
        };
        assert!(s.validate().is_err());
        let mut s = Scenario::default();
        s.receipts.outcomes.clear();
        assert!(s.validate().is_err());
    }

    #[test]
    fn receipt_state_round_trip() {
        for st in [
            ReceiptState::Delivrd,
            ReceiptState::Expired,
            ReceiptState::Deleted,
            ReceiptState::Undeliv,
            ReceiptState::Acceptd,
            ReceiptState::Unknown,
            ReceiptState::Rejectd,
        ] {
            assert_eq!(ReceiptState::parse(st.as_str()), Some(st));
            assert_eq!(ReceiptState::parse(&st.as_str().to_lowercase()), Some(st));
        }
    }
}
