//! The submit API types and the translation of a text message into submit_sm PDUs.
//!
//! [`SubmitRequest`] → [`prepare_parts`] (segmentation with `smsflow-sms`, addresses,
//! data_coding, concatenation per carrier setting, priority_flag per lane) → one
//! [`PreparedPart`] per submit_sm, tagged with the request's [`Lane`] → the client queues
//! them in that lane and sends them → one [`PartOutcome`] each, gathered in a
//! [`SubmitReport`].

use std::str::FromStr;
use std::time::Duration;

use rusmpp::pdus::SubmitSm;
use rusmpp::tlvs::MessageSubmissionRequestTlvValue;
use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{
    DataCoding, EsmClass, MessagePayload, Npi, PriorityFlag, RegisteredDelivery, ServiceType, Ton,
};
use smsflow_sms::{Concat, Encoding, Options, Part};

use crate::config::{CarrierConfig, ConcatMethod};
use crate::error::{ErrorClass, PartFailure, SubmitError};
use crate::idnorm::CarrierMessageId;
use crate::lane::Lane;

/// One text message to send to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    /// Sender: an E.164 number (`+447700900123` or digits) or an alphanumeric sender id
    /// (sent with TON 5).
    pub source: String,
    /// Destination E.164 number; a leading `+` is removed.
    pub destination: String,
    /// Message text; GSM-7 when every character fits, UCS-2 otherwise.
    pub text: String,
    /// Per-message options.
    pub options: SubmitOptions,
}

impl SubmitRequest {
    /// A request with default options and the given concatenation reference (derive it from
    /// the message id, e.g. with [`concat_reference_for`], so a resubmit reuses it).
    pub fn new(
        source: impl Into<String>,
        destination: impl Into<String>,
        text: impl Into<String>,
        concat_reference: u16,
    ) -> Self {
        Self {
            source: source.into(),
            destination: destination.into(),
            text: text.into(),
            options: SubmitOptions {
                concat_reference,
                ..SubmitOptions::default()
            },
        }
    }

    /// The same request in `lane`: it waits in that lane's queue (OTP before transactional
    /// before bulk) and its submit_sm carry the lane's priority_flag
    /// ([`crate::CarrierConfig::priority_flags`]) unless [`SubmitOptions::priority`] is set.
    #[must_use]
    pub fn with_lane(mut self, lane: Lane) -> Self {
        self.options.lane = lane;
        self
    }
}

/// Per-message options of a [`SubmitRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// registered_delivery for this message; `None` uses the carrier setting.
    pub registered_delivery: Option<u8>,
    /// Validity period, sent in SMPP relative format; `None` uses the SMSC default.
    pub validity: Option<Duration>,
    /// Concatenation reference shared by the parts of this message. The caller derives it
    /// deterministically from its message id so that a resubmit uses the same reference and
    /// the handset can still join parts from both attempts. 8-bit UDH uses the low byte.
    pub concat_reference: u16,
    /// Replace look-alike characters (curly quotes, dashes) when that keeps the message GSM-7.
    pub smart_replacement: bool,
    /// Priority lane: which submit queue the parts wait in, and the default priority_flag.
    /// [`Lane::Transactional`] unless set (see [`SubmitRequest::with_lane`]).
    pub lane: Lane,
    /// SMPP priority_flag override; `None` (the default) uses the lane's flag from
    /// [`crate::CarrierConfig::priority_flags`] (OTP 3, transactional 1, bulk 0).
    pub priority: Option<u8>,
}

/// A deterministic 16-bit concatenation reference from a message id (FNV-1a, folded).
pub fn concat_reference_for(message_id: &[u8]) -> u16 {
    let mut hash: u32 = 0x811C_9DC5;
    for byte in message_id {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let folded = (hash >> 16) ^ (hash & 0xFFFF);
    u16::try_from(folded).unwrap_or(u16::MAX)
}

/// One submit_sm ready to send: the PDU, its position in the message and its lane.
#[derive(Debug, Clone)]
pub struct PreparedPart {
    /// Position of the part, 1-based.
    pub seq: u8,
    /// Number of parts of the message.
    pub total: u8,
    pdu: SubmitSm,
    /// The queue the part waits in; travels with the part so that `prepare` then
    /// `submit_parts` keeps the request's lane.
    lane: Lane,
}

impl PreparedPart {
    /// Wraps a submit_sm built by the caller (for [`crate::SmppClient::submit_parts`]), in
    /// the default lane ([`Lane::Transactional`]); see [`PreparedPart::with_lane`].
    pub fn from_pdu(seq: u8, total: u8, pdu: SubmitSm) -> Self {
        Self {
            seq,
            total,
            pdu,
            lane: Lane::default(),
        }
    }

    /// The same part in `lane`. Only the queue changes: the PDU's priority_flag stays as
    /// built (parts from [`crate::SmppClient::prepare`] already have their lane's flag).
    #[must_use]
    pub fn with_lane(mut self, lane: Lane) -> Self {
        self.lane = lane;
        self
    }

    /// The PDU that will be sent.
    pub fn pdu(&self) -> &SubmitSm {
        &self.pdu
    }

    /// The lane the part is queued in.
    pub fn lane(&self) -> Lane {
        self.lane
    }

    pub(crate) fn into_pdu(self) -> SubmitSm {
        self.pdu
    }
}

/// The parts of one message as prepared for the carrier.
#[derive(Debug, Clone)]
pub struct PreparedMessage {
    /// Encoding chosen for the text.
    pub encoding: Encoding,
    /// One entry per submit_sm.
    pub parts: Vec<PreparedPart>,
}

/// The result of one submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOutcome {
    /// Position of the part, 1-based.
    pub seq: u8,
    /// Number of parts of the message.
    pub total: u8,
    /// Throttling responses received (and resent) before the final answer.
    pub throttled: u32,
    /// Accepted with the carrier message id, or why not.
    pub result: Result<Accepted, PartFailure>,
}

impl PartOutcome {
    /// The error class, `None` when accepted.
    pub fn class(&self) -> Option<ErrorClass> {
        self.result.as_ref().err().map(PartFailure::class)
    }
}

/// A submit the carrier accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The carrier message id in canonical form (see [`crate::idnorm`]); receipts carry the
    /// same value in [`crate::DeliveryReceipt::message_id`].
    pub message_id: CarrierMessageId,
    /// The id exactly as the carrier wrote it in submit_sm_resp.
    pub raw_message_id: String,
}

/// The results of all parts of one message, in part order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitReport {
    /// Encoding used.
    pub encoding: Encoding,
    /// One outcome per part, in order.
    pub parts: Vec<PartOutcome>,
}

impl SubmitReport {
    /// True when every part was accepted.
    pub fn all_accepted(&self) -> bool {
        self.parts.iter().all(|p| p.result.is_ok())
    }

    /// True when at least one part has an unknown outcome.
    pub fn any_outcome_unknown(&self) -> bool {
        self.parts
            .iter()
            .any(|p| p.class() == Some(ErrorClass::OutcomeUnknown))
    }
}

/// Builds the submit_sm PDUs of a request according to the carrier settings.
pub fn prepare_parts(
    config: &CarrierConfig,
    request: &SubmitRequest,
) -> Result<PreparedMessage, SubmitError> {
    let (source, source_ton, source_npi) = source_address(config, &request.source)?;
    let destination = destination_address(&request.destination)?;
    let options = Options::default().with_smart_replacement(request.options.smart_replacement);
    let reference = request.options.concat_reference;
    let registered_delivery = request
        .options
        .registered_delivery
        .unwrap_or(config.registered_delivery);
    let validity = match request.options.validity {
        Some(v) => relative_validity(v),
        None => String::new(),
    };
    let template = SubmitTemplate {
        service_type: config.service_type.clone(),
        source,
        source_ton,
        source_npi,
        destination,
        dest_ton: config.dest_ton,
        dest_npi: config.dest_npi,
        registered_delivery,
        validity,
        priority: request
            .options
            .priority
            .unwrap_or_else(|| config.priority_flags.for_lane(request.options.lane)),
    };
    let lane = request.options.lane;

    if config.concatenation == ConcatMethod::MessagePayload {
        let encoded = smsflow_sms::encode(&request.text, &options);
        let data_coding = data_coding(config, encoded.encoding);
        let payload = maybe_pack(config, encoded.encoding, &encoded.payload, 0)?;
        let tlvs = vec![MessageSubmissionRequestTlvValue::MessagePayload(
            MessagePayload::new(AnyOctetString::from_vec(payload)),
        )];
        let pdu = template.build(data_coding, false, Vec::new(), tlvs)?;
        return Ok(PreparedMessage {
            encoding: encoded.encoding,
            parts: vec![PreparedPart::from_pdu(1, 1, pdu).with_lane(lane)],
        });
    }

    let concat = match config.concatenation {
        ConcatMethod::Udh16 => Concat::Udh16 { reference },
        // SAR parts are sized like 8-bit UDH parts: the SMSC adds a header over the air.
        _ => Concat::Udh8 {
            reference: reference.to_be_bytes()[1],
        },
    };
    let segmented = smsflow_sms::segment(&request.text, &options, concat)
        .map_err(|err| SubmitError::Encoding(err.to_string()))?;
    let data_coding = data_coding(config, segmented.encoding);
    let mut parts = Vec::with_capacity(segmented.parts.len());
    for part in &segmented.parts {
        let pdu = match config.concatenation {
            ConcatMethod::Sar => {
                let body = maybe_pack(config, part.encoding, &part.payload, 0)?;
                let tlvs = if part.total > 1 {
                    vec![
                        MessageSubmissionRequestTlvValue::SarMsgRefNum(reference),
                        MessageSubmissionRequestTlvValue::SarTotalSegments(part.total),
                        MessageSubmissionRequestTlvValue::SarSegmentSeqnum(part.seq),
                    ]
                } else {
                    Vec::new()
                };
                template.build(data_coding, false, body, tlvs)?
            }
            _ => {
                let body = udh_short_message(config, part)?;
                template.build(data_coding, part.udh.is_some(), body, Vec::new())?
            }
        };
        parts.push(PreparedPart::from_pdu(part.seq, part.total, pdu).with_lane(lane));
    }
    Ok(PreparedMessage {
        encoding: segmented.encoding,
        parts,
    })
}

/// Fields shared by every part of one message.
struct SubmitTemplate {
    service_type: String,
    source: String,
    source_ton: u8,
    source_npi: u8,
    destination: String,
    dest_ton: u8,
    dest_npi: u8,
    registered_delivery: u8,
    validity: String,
    priority: u8,
}

impl SubmitTemplate {
    fn build(
        &self,
        data_coding: u8,
        udhi: bool,
        short_message: Vec<u8>,
        tlvs: Vec<MessageSubmissionRequestTlvValue>,
    ) -> Result<SubmitSm, SubmitError> {
        let pdu_err = |what: &str| SubmitError::Pdu(what.to_owned());
        let esm = if udhi { 0x40 } else { 0x00 };
        let pdu = SubmitSm::builder()
            .service_type(ServiceType::new(
                COctetString::from_str(&self.service_type).map_err(|_| pdu_err("service_type"))?,
            ))
            .source_addr_ton(Ton::from(self.source_ton))
            .source_addr_npi(Npi::from(self.source_npi))
            .source_addr(COctetString::from_str(&self.source).map_err(|_| pdu_err("source"))?)
            .dest_addr_ton(Ton::from(self.dest_ton))
            .dest_addr_npi(Npi::from(self.dest_npi))
            .destination_addr(
                COctetString::from_str(&self.destination).map_err(|_| pdu_err("destination"))?,
            )
            .esm_class(EsmClass::from(esm))
            .priority_flag(PriorityFlag::from(self.priority))
            .validity_period(
                EmptyOrFullCOctetString::from_str(&self.validity)
                    .map_err(|_| pdu_err("validity_period"))?,
            )
            .registered_delivery(RegisteredDelivery::from(self.registered_delivery))
            .data_coding(DataCoding::from(data_coding))
            .short_message(
                OctetString::from_vec(short_message).map_err(|_| pdu_err("short_message"))?,
            )
            .build();
        let mut pdu = pdu;
        for tlv in tlvs {
            pdu.push_tlv(tlv);
        }
        Ok(pdu)
    }
}

/// Resolves the sender: alphanumeric → TON 5 / NPI 0; numeric → configured TON/NPI with the
/// `+` removed.
fn source_address(config: &CarrierConfig, source: &str) -> Result<(String, u8, u8), SubmitError> {
    let invalid = |reason| SubmitError::InvalidAddress {
        field: "source",
        reason,
    };
    let trimmed = source.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() > 20 {
            return Err(invalid("longer than 20 digits"));
        }
        return Ok((
            digits.to_owned(),
            config.source_ton.unwrap_or(1),
            config.source_npi.unwrap_or(1),
        ));
    }
    if !trimmed.is_ascii() {
        return Err(invalid("alphanumeric sender must be ASCII"));
    }
    if trimmed.len() > 11 {
        return Err(invalid("alphanumeric sender longer than 11 characters"));
    }
    Ok((trimmed.to_owned(), 5, 0))
}

fn destination_address(destination: &str) -> Result<String, SubmitError> {
    let invalid = |reason| SubmitError::InvalidAddress {
        field: "destination",
        reason,
    };
    let trimmed = destination.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if digits.is_empty() {
        return Err(invalid("empty"));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a number"));
    }
    if digits.len() > 20 {
        return Err(invalid("longer than 20 digits"));
    }
    Ok(digits.to_owned())
}

fn data_coding(config: &CarrierConfig, encoding: Encoding) -> u8 {
    match encoding {
        Encoding::Gsm7 => config.gsm7_data_coding,
        Encoding::Ucs2 => 8,
    }
}

/// GSM-7 septets packed when the carrier wants packed text; anything else unchanged.
fn maybe_pack(
    config: &CarrierConfig,
    encoding: Encoding,
    payload: &[u8],
    fill_bits: u8,
) -> Result<Vec<u8>, SubmitError> {
    if encoding == Encoding::Gsm7 && config.gsm7_packed {
        smsflow_sms::gsm7::pack(payload, fill_bits)
            .map_err(|e| SubmitError::Encoding(e.to_string()))
    } else {
        Ok(payload.to_vec())
    }
}

/// short_message of a UDH part: header then text, packed after the fill bits when asked.
fn udh_short_message(config: &CarrierConfig, part: &Part) -> Result<Vec<u8>, SubmitError> {
    if part.encoding == Encoding::Gsm7 && config.gsm7_packed {
        part.packed_user_data()
            .map_err(|e| SubmitError::Encoding(e.to_string()))
    } else {
        Ok(part.short_message())
    }
}

/// SMPP relative time `YYMMDDhhmmss000R`; days above 99 are capped at 99.
pub(crate) fn relative_validity(validity: Duration) -> String {
    let total = validity.as_secs();
    let days = (total / 86_400).min(99);
    let hours = (total % 86_400) / 3_600;
    let minutes = (total % 3_600) / 60;
    let seconds = total % 60;
    format!("0000{days:02}{hours:02}{minutes:02}{seconds:02}000R")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> CarrierConfig {
        CarrierConfig::default()
    }

    fn esm(pdu: &SubmitSm) -> u8 {
        u8::from(pdu.esm_class)
    }

    #[test]
    fn single_gsm7_part() {
        let req = SubmitRequest::new("+447700900001", "+447700900002", "hello", 7);
        let msg = prepare_parts(&cfg(), &req).expect("prepare");
        assert_eq!(msg.parts.len(), 1);
        let pdu = msg.parts[0].pdu();
        assert_eq!(pdu.source_addr.as_str(), "447700900001");
        assert_eq!(pdu.destination_addr.as_str(), "447700900002");
        assert_eq!(u8::from(pdu.source_addr_ton), 1);
        assert_eq!(esm(pdu), 0);
        assert_eq!(u8::from(pdu.data_coding), 0);
        assert_eq!(pdu.short_message().as_ref(), b"hello");
        assert_eq!(u8::from(pdu.registered_delivery), 1);
    }

    #[test]
    fn alphanumeric_sender_uses_ton_5() {
        let req = SubmitRequest::new("ACME", "447700900002", "hi", 7);
        let msg = prepare_parts(&cfg(), &req).expect("prepare");
        let pdu = msg.parts[0].pdu();
        assert_eq!(u8::from(pdu.source_addr_ton), 5);
        assert_eq!(u8::from(pdu.source_addr_npi), 0);
        let too_long = SubmitRequest::new("ACME-CORPORATION", "447700900002", "hi", 7);
        assert!(prepare_parts(&cfg(), &too_long).is_err());
    }

    #[test]
    fn multipart_udh8_and_udh16() {
        let text = "a".repeat(300);
        let req = SubmitRequest::new("ACME", "447700900002", text.clone(), 0x1234);
        let msg = prepare_parts(&cfg(), &req).expect("prepare");
        assert_eq!(msg.parts.len(), 2);
        let sm = msg.parts[0].pdu().short_message().as_ref().to_vec();
        assert_eq!(&sm[..6], &[0x05, 0x00, 0x03, 0x34, 2, 1]);
        assert_eq!(esm(msg.parts[0].pdu()), 0x40);

        let c = CarrierConfig {
            concatenation: ConcatMethod::Udh16,
            ..cfg()
        };
        let msg = prepare_parts(&c, &req).expect("prepare");
        let sm = msg.parts[1].pdu().short_message().as_ref().to_vec();
        assert_eq!(&sm[..7], &[0x06, 0x08, 0x04, 0x12, 0x34, 2, 2]);
    }

    #[test]
    fn sar_parts_have_tlvs_and_no_udhi() {
        let c = CarrierConfig {
            concatenation: ConcatMethod::Sar,
            ..cfg()
        };
        let req = SubmitRequest::new("ACME", "447700900002", "b".repeat(200), 0xBEEF);
        let msg = prepare_parts(&c, &req).expect("prepare");
        assert_eq!(msg.parts.len(), 2);
        let pdu = msg.parts[1].pdu();
        assert_eq!(esm(pdu), 0);
        assert_eq!(pdu.tlvs().len(), 3);
        assert_eq!(pdu.short_message().len(), 47);
    }

    #[test]
    fn message_payload_is_one_pdu() {
        let c = CarrierConfig {
            concatenation: ConcatMethod::MessagePayload,
            ..cfg()
        };
        let req = SubmitRequest::new("ACME", "447700900002", "ж".repeat(100), 1);
        let msg = prepare_parts(&c, &req).expect("prepare");
        assert_eq!(msg.parts.len(), 1);
        let pdu = msg.parts[0].pdu();
        assert_eq!(pdu.short_message().len(), 0);
        assert_eq!(u8::from(pdu.data_coding), 8);
        assert_eq!(pdu.tlvs().len(), 1);
    }

    #[test]
    fn packed_gsm7_and_custom_data_coding() {
        let c = CarrierConfig {
            gsm7_packed: true,
            gsm7_data_coding: 1,
            ..cfg()
        };
        let req = SubmitRequest::new("ACME", "447700900002", "a".repeat(160), 1);
        let msg = prepare_parts(&c, &req).expect("prepare");
        let pdu = msg.parts[0].pdu();
        assert_eq!(pdu.short_message().len(), 140);
        assert_eq!(u8::from(pdu.data_coding), 1);
    }

    #[test]
    fn validity_and_bad_destination() {
        assert_eq!(
            relative_validity(Duration::from_secs(86_400 + 3_600 + 61)),
            "000001010101000R"
        );
        let mut req = SubmitRequest::new("ACME", "+44abc", "hi", 1);
        assert!(matches!(
            prepare_parts(&cfg(), &req),
            Err(SubmitError::InvalidAddress {
                field: "destination",
                ..
            })
        ));
        req.destination = "447700900002".into();
        req.options.validity = Some(Duration::from_secs(600));
        let msg = prepare_parts(&cfg(), &req).expect("prepare");
        assert_eq!(
            msg.parts[0].pdu().validity_period.to_string(),
            "000000001000000R"
        );
    }

    #[test]
    fn lane_travels_with_every_part_and_sets_priority_flag() {
        let flag = |part: &PreparedPart| u8::from(part.pdu().priority_flag);
        let text = "a".repeat(400);
        let req = SubmitRequest::new("ACME", "447700900002", text, 1);
        let msg = prepare_parts(&cfg(), &req).expect("prepare");
        assert_eq!(msg.parts.len(), 3);
        assert!(
            msg.parts
                .iter()
                .all(|p| p.lane() == Lane::Transactional && flag(p) == 1)
        );

        for (lane, expected) in [(Lane::Otp, 3), (Lane::Bulk, 0)] {
            let msg = prepare_parts(&cfg(), &req.clone().with_lane(lane)).expect("prepare");
            assert_eq!(msg.parts.len(), 3);
            for (i, part) in msg.parts.iter().enumerate() {
                assert_eq!(usize::from(part.seq), i + 1, "parts stay in order");
                assert_eq!(part.lane(), lane);
                assert_eq!(flag(part), expected, "{lane:?}");
            }
        }

        // Per-carrier flags, and a per-request override.
        let mut c = cfg();
        c.priority_flags.otp = 1;
        let otp = req.clone().with_lane(Lane::Otp);
        let msg = prepare_parts(&c, &otp).expect("prepare");
        assert_eq!(flag(&msg.parts[0]), 1);
        let mut overridden = otp;
        overridden.options.priority = Some(2);
        let msg = prepare_parts(&c, &overridden).expect("prepare");
        assert_eq!(flag(&msg.parts[0]), 2);
        assert_eq!(msg.parts[0].lane(), Lane::Otp);

        // message_payload: one PDU, same rule.
        c.concatenation = ConcatMethod::MessagePayload;
        let msg = prepare_parts(&c, &req.with_lane(Lane::Bulk)).expect("prepare");
        assert_eq!((msg.parts[0].lane(), flag(&msg.parts[0])), (Lane::Bulk, 0));
    }

    #[test]
    fn concat_reference_is_deterministic() {
        assert_eq!(
            concat_reference_for(b"msg-1"),
            concat_reference_for(b"msg-1")
        );
        assert_ne!(
            concat_reference_for(b"msg-1"),
            concat_reference_for(b"msg-2")
        );
    }
}
