//! Inbound events: delivery receipts and MO messages decoded from deliver_sm.
//!
//! A deliver_sm is a receipt when its esm_class has a message-type bit (0x04 SMSC delivery
//! receipt, 0x08/0x10 SME acknowledgements, 0x20 intermediate notification) or when it
//! carries a `receipted_message_id` TLV; otherwise it is an MO message. Receipt ids are
//! normalised per carrier ([`crate::idnorm`]); the TLV id is preferred over the text id and
//! the message_state TLV over the `stat:` text. Concatenated MO parts are delivered one
//! event per part with their [`ConcatInfo`]; joining them is the caller's job.

use std::time::SystemTime;

use smsflow_sms::{gsm7, ucs2};

use crate::config::CarrierConfig;
use crate::deliver::{DeliverFields, NetworkError};
use crate::idnorm::{CarrierMessageId, IdSource};
use crate::receipt::{ReceiptDate, ReceiptState, parse_receipt_text};

/// What the client hands to the caller for each deliver_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundEvent {
    /// A delivery receipt for a message we submitted.
    Receipt(DeliveryReceipt),
    /// A message from a handset (mobile originated).
    Mo(MoMessage),
    /// A deliver_sm flagged as a receipt from which no message id could be read. Kept so
    /// nothing is silently dropped; the caller may log and count it.
    UnrecognisedReceipt(RawDeliver),
}

/// A delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// Carrier name (from the config).
    pub carrier: String,
    /// Carrier message id in canonical form; equals [`crate::Accepted::message_id`] of the
    /// submit it reports on.
    pub message_id: CarrierMessageId,
    /// The id as the carrier wrote it.
    pub raw_message_id: String,
    /// Where the id came from (TLV or text).
    pub id_source: IdSource,
    /// The reported state; `None` when neither the TLV nor the text gave a known one.
    pub state: Option<ReceiptState>,
    /// The `stat:` text as written, if any.
    pub raw_stat: Option<String>,
    /// The `err:` field of the text, if any.
    pub error_code: Option<String>,
    /// The network_error_code TLV, if any.
    pub network_error: Option<NetworkError>,
    /// `sub:` field.
    pub submitted: Option<String>,
    /// `dlvrd:` field.
    pub delivered: Option<String>,
    /// `submit date:` field.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:` field.
    pub done_date: Option<ReceiptDate>,
    /// source_addr of the deliver_sm (the handset the message was sent to).
    pub source_addr: String,
    /// destination_addr of the deliver_sm (the sender of the original message).
    pub destination_addr: String,
    /// When the client received it.
    pub received_at: SystemTime,
}

/// A mobile-originated message (one part of it when concatenated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    /// Carrier name (from the config).
    pub carrier: String,
    /// The handset number.
    pub source_addr: String,
    /// TON of the handset number.
    pub source_ton: u8,
    /// NPI of the handset number.
    pub source_npi: u8,
    /// Our number or short code the message was sent to.
    pub destination_addr: String,
    /// data_coding of the PDU.
    pub data_coding: u8,
    /// The decoded text of this part (UDH removed). Undecodable units become U+FFFD.
    pub text: String,
    /// True when the text could not be decoded cleanly (lossy).
    pub lossy: bool,
    /// Concatenation info from the UDH or SAR TLVs when this is one part of a longer message.
    pub concat: Option<ConcatInfo>,
    /// When the client received it.
    pub received_at: SystemTime,
}

/// Position of one part in a concatenated MO message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConcatInfo {
    /// Reference shared by the parts (8-bit references are widened).
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part, 1-based.
    pub seq: u8,
}

/// The raw fields of a deliver_sm that could not be interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDeliver {
    /// Carrier name.
    pub carrier: String,
    /// esm_class of the PDU.
    pub esm_class: u8,
    /// data_coding of the PDU.
    pub data_coding: u8,
    /// short_message (or message_payload) bytes.
    pub user_data: Vec<u8>,
    /// When the client received it.
    pub received_at: SystemTime,
}

impl InboundEvent {
    /// Short fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            InboundEvent::Receipt(_) => "receipt",
            InboundEvent::Mo(_) => "mo",
            InboundEvent::UnrecognisedReceipt(_) => "unrecognised_receipt",
        }
    }
}

/// Turns a deliver_sm into an event.
pub(crate) fn to_event(config: &CarrierConfig, fields: &DeliverFields) -> InboundEvent {
    let received_at = SystemTime::now();
    let receipt_flags = fields.esm_class & 0x3C != 0;
    if receipt_flags || fields.receipted_message_id.is_some() {
        return receipt_event(config, fields, received_at);
    }
    InboundEvent::Mo(mo_event(config, fields, received_at))
}

fn receipt_event(
    config: &CarrierConfig,
    fields: &DeliverFields,
    received_at: SystemTime,
) -> InboundEvent {
    let text = String::from_utf8_lossy(fields.user_data()).into_owned();
    let parsed = parse_receipt_text(&text).unwrap_or_default();
    let tlv_id = fields
        .receipted_message_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    let (raw_id, id_source) = match (tlv_id, parsed.id.as_deref()) {
        (Some(id), _) => (id.to_owned(), IdSource::ReceiptTlv),
        (None, Some(id)) if !id.is_empty() => (id.to_owned(), IdSource::ReceiptText),
        _ => {
            return InboundEvent::UnrecognisedReceipt(RawDeliver {
                carrier: config.name.clone(),
                esm_class: fields.esm_class,
                data_coding: fields.data_coding,
                user_data: fields.user_data().to_vec(),
                received_at,
            });
        }
    };
    let state = fields
        .message_state
        .and_then(ReceiptState::from_message_state)
        .or_else(|| parsed.state());
    InboundEvent::Receipt(DeliveryReceipt {
        carrier: config.name.clone(),
        message_id: config.message_id.normalise(&raw_id, id_source),
        raw_message_id: raw_id,
        id_source,
        state,
        raw_stat: parsed.stat,
        error_code: parsed.err,
        network_error: fields.network_error,
        submitted: parsed.sub,
        delivered: parsed.dlvrd,
        submit_date: parsed.submit_date,
        done_date: parsed.done_date,
        source_addr: fields.source_addr.clone(),
        destination_addr: fields.destination_addr.clone(),
        received_at,
    })
}

fn mo_event(config: &CarrierConfig, fields: &DeliverFields, received_at: SystemTime) -> MoMessage {
    let data = fields.user_data();
    let (udh_len, mut concat) = if fields.esm_class & 0x40 != 0 {
        parse_udh(data)
    } else {
        (0, None)
    };
    if concat.is_none()
        && let (Some(reference), Some(total), Some(seq)) =
            (fields.sar_ref, fields.sar_total, fields.sar_seq)
    {
        concat = Some(ConcatInfo {
            reference,
            total,
            seq,
        });
    }
    let (text, lossy) = decode_text(config, fields.data_coding, data, udh_len);
    MoMessage {
        carrier: config.name.clone(),
        source_addr: fields.source_addr.clone(),
        source_ton: fields.source_ton,
        source_npi: fields.source_npi,
        destination_addr: fields.destination_addr.clone(),
        data_coding: fields.data_coding,
        text,
        lossy,
        concat,
        received_at,
    }
}

/// Reads a UDH: returns its total length (UDHL octet included) and the concatenation IE.
pub(crate) fn parse_udh(data: &[u8]) -> (usize, Option<ConcatInfo>) {
    let Some(&udhl) = data.first() else {
        return (0, None);
    };
    let udh_len = usize::from(udhl) + 1;
    if udh_len > data.len() {
        return (0, None);
    }
    let mut concat = None;
    let mut pos = 1;
    while pos + 2 <= udh_len {
        let iei = data[pos];
        let len = usize::from(data[pos + 1]);
        let start = pos + 2;
        let end = start + len;
        if end > udh_len {
            break;
        }
        let ie = &data[start..end];
        match (iei, len) {
            (0x00, 3) => {
                concat = Some(ConcatInfo {
                    reference: u16::from(ie[0]),
                    total: ie[1],
                    seq: ie[2],
                });
            }
            (0x08, 4) => {
                concat = Some(ConcatInfo {
                    reference: u16::from_be_bytes([ie[0], ie[1]]),
                    total: ie[2],
                    seq: ie[3],
                });
            }
            _ => {}
        }
        pos = end;
    }
    (udh_len, concat)
}

/// Decodes the user data after a UDH of `udh_len` octets according to data_coding.
fn decode_text(
    config: &CarrierConfig,
    data_coding: u8,
    data: &[u8],
    udh_len: usize,
) -> (String, bool) {
    let body = data.get(udh_len..).unwrap_or_default();
    match alphabet(config, data_coding) {
        Alphabet::Gsm7 if config.gsm7_packed => {
            let fill = gsm7::fill_bits(udh_len);
            let bits = (body.len() * 8).saturating_sub(usize::from(fill));
            let mut count = bits / 7;
            let unpacked = gsm7::unpack(body, fill, count).unwrap_or_default();
            // 7 spare bits at the end read as a trailing '@' (0x00): drop it.
            if bits % 7 == 0 && unpacked.last() == Some(&0) && count > 0 {
                count -= 1;
            }
            decode_septets(&unpacked[..count.min(unpacked.len())])
        }
        Alphabet::Gsm7 => decode_septets(body),
        Alphabet::Ucs2 => match ucs2::decode(body) {
            Ok(text) => (text, false),
            Err(_) => (String::from_utf16_lossy(&utf16_units(body)), true),
        },
        Alphabet::Latin1 => (body.iter().map(|b| char::from(*b)).collect(), false),
        Alphabet::Binary => (String::from_utf8_lossy(body).into_owned(), true),
    }
}

fn decode_septets(septets: &[u8]) -> (String, bool) {
    match gsm7::decode(septets) {
        Ok(text) => (text, false),
        Err(_) => {
            let masked: Vec<u8> = septets.iter().map(|b| b & 0x7F).collect();
            (gsm7::decode(&masked).unwrap_or_default(), true)
        }
    }
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Gsm7,
    Ucs2,
    Latin1,
    Binary,
}

fn alphabet(config: &CarrierConfig, data_coding: u8) -> Alphabet {
    if data_coding == config.gsm7_data_coding {
        return Alphabet::Gsm7;
    }
    match data_coding {
        0x00 => Alphabet::Gsm7,
        0x08 => Alphabet::Ucs2,
        0x01 | 0x03 => Alphabet::Latin1,
        0x02 | 0x04 => Alphabet::Binary,
        // GSM 03.38 general data coding groups (uncompressed): bits 3..2 are the alphabet.
        0x10..=0x1F | 0x30..=0x3F => match (data_coding >> 2) & 0x03 {
            0 => Alphabet::Gsm7,
            2 => Alphabet::Ucs2,
            _ => Alphabet::Binary,
        },
        // Data coding / message class group: bit 2 selects 8-bit data.
        0xF0..=0xFF if data_coding & 0x04 != 0 => Alphabet::Binary,
        0xF0..=0xFF => Alphabet::Gsm7,
        _ => Alphabet::Latin1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::tag;
    use crate::deliver::tests::raw_body;
    use crate::idnorm::{IdFormat, IdNormalisation};

    fn fields(body: &[u8]) -> DeliverFields {
        DeliverFields::parse_lenient(body).expect("parse")
    }

    #[test]
    fn receipt_prefers_tlv_id_and_state() {
        let cfg = CarrierConfig {
            message_id: IdNormalisation {
                receipt_tlv: IdFormat::Hex,
                receipt_text: IdFormat::Decimal,
                ..IdNormalisation::default()
            },
            ..CarrierConfig::default()
        };
        let f = fields(&raw_body(
            "447700900001",
            "ACME",
            0x04,
            0,
            b"id:6699 sub:001 dlvrd:001 submit date:2611252240 done date:2611252241 stat:UNDELIV err:001 text:",
            &[(tag::RECEIPTED_MESSAGE_ID, b"1A2B\0"), (tag::MESSAGE_STATE, &[2])],
        ));
        let InboundEvent::Receipt(r) = to_event(&cfg, &f) else {
            panic!("receipt expected");
        };
        assert_eq!(r.raw_message_id, "1A2B");
        assert_eq!(r.id_source, IdSource::ReceiptTlv);
        assert_eq!(r.message_id.as_str(), "6699");
        assert_eq!(r.state, Some(ReceiptState::Delivered));
        assert_eq!(r.raw_stat.as_deref(), Some("UNDELIV"));
        assert_eq!(r.error_code.as_deref(), Some("001"));
    }

    #[test]
    fn receipt_from_text_only() {
        let cfg = CarrierConfig::default();
        let f = fields(&raw_body(
            "1",
            "2",
            0x04,
            0,
            b"id:AbC stat:EXPIRED err:0",
            &[],
        ));
        let InboundEvent::Receipt(r) = to_event(&cfg, &f) else {
            panic!("receipt expected");
        };
        assert_eq!(r.message_id.as_str(), "abc");
        assert_eq!(r.id_source, IdSource::ReceiptText);
        assert_eq!(r.state, Some(ReceiptState::Expired));
    }

    #[test]
    fn receipt_without_id_is_kept() {
        let cfg = CarrierConfig::default();
        let f = fields(&raw_body("1", "2", 0x04, 0, b"garbled", &[]));
        assert!(matches!(
            to_event(&cfg, &f),
            InboundEvent::UnrecognisedReceipt(_)
        ));
    }

    #[test]
    fn mo_gsm7_with_udh() {
        let cfg = CarrierConfig::default();
        let mut sm = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        sm.extend(gsm7::encode("Hello {}").expect("gsm7"));
        let f = fields(&raw_body("447700900001", "12345", 0x40, 0, &sm, &[]));
        let InboundEvent::Mo(mo) = to_event(&cfg, &f) else {
            panic!("mo expected");
        };
        assert_eq!(mo.text, "Hello {}");
        assert_eq!(
            mo.concat,
            Some(ConcatInfo {
                reference: 0x2A,
                total: 2,
                seq: 1
            })
        );
        assert!(!mo.lossy);
    }

    #[test]
    fn mo_ucs2_with_sar() {
        let cfg = CarrierConfig::default();
        let sm = ucs2::encode("Привет 😀");
        let f = fields(&raw_body(
            "447700900001",
            "12345",
            0x00,
            8,
            &sm,
            &[
                (tag::SAR_MSG_REF_NUM, &[0x12, 0x34]),
                (tag::SAR_TOTAL_SEGMENTS, &[3]),
                (tag::SAR_SEGMENT_SEQNUM, &[2]),
            ],
        ));
        let InboundEvent::Mo(mo) = to_event(&cfg, &f) else {
            panic!("mo expected");
        };
        assert_eq!(mo.text, "Привет 😀");
        assert_eq!(
            mo.concat,
            Some(ConcatInfo {
                reference: 0x1234,
                total: 3,
                seq: 2
            })
        );
    }

    #[test]
    fn mo_packed_gsm7() {
        let cfg = CarrierConfig {
            gsm7_packed: true,
            ..CarrierConfig::default()
        };
        for text in ["hi", "1234567", "12345678", "STOP"] {
            let septets = gsm7::encode(text).expect("gsm7");
            let packed = gsm7::pack(&septets, 0).expect("pack");
            let f = fields(&raw_body("1", "2", 0, 0, &packed, &[]));
            let InboundEvent::Mo(mo) = to_event(&cfg, &f) else {
                panic!("mo expected");
            };
            assert_eq!(mo.text, text);
        }
    }

    #[test]
    fn mo_message_payload_and_latin1() {
        let cfg = CarrierConfig::default();
        let f = fields(&raw_body(
            "1",
            "2",
            0,
            3,
            b"",
            &[(tag::MESSAGE_PAYLOAD, b"caf\xe9")],
        ));
        let InboundEvent::Mo(mo) = to_event(&cfg, &f) else {
            panic!("mo expected");
        };
        assert_eq!(mo.text, "café");
    }

    #[test]
    fn udh_parsing_edge_cases() {
        assert_eq!(parse_udh(&[]), (0, None));
        assert_eq!(parse_udh(&[0x10, 0x00]), (0, None));
        let (len, concat) = parse_udh(&[0x06, 0x08, 0x04, 0x01, 0x02, 3, 1, b'x']);
        assert_eq!(len, 7);
        assert_eq!(concat.map(|c| c.reference), Some(0x0102));
    }
}
