//! Delivery receipts and MOs as deliver_sm: who gets one, how it looks, when it is sent.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use rusmpp::{
    pdus::DeliverSm,
    tlvs::MessageDeliveryRequestTlvValue,
    types::{AnyOctetString, COctetString, OctetString},
    values::{DataCoding, EsmClass, MessagePayload, MessageState, Npi, Ton},
};

use crate::{
    engine::ReceiptPlan,
    error::SimError,
    ledger::SegmentKey,
    receipt::{ReceiptText, format_date, sanitize_text},
    scenario::{DefaultAlphabet, ReceiptConfig, ReceiptForm, ReceiptSegments, ReceiptState},
    sim::Shared,
    smsc::router::{OutKind, Outgoing},
    text::{self, Concat},
};

/// esm_class of a delivery receipt (MC delivery receipt, bit 2).
const ESM_CLASS_RECEIPT: u8 = 0x04;

/// Whether a segment gets a receipt, from registered_delivery bits 0-1 (1 = always,
/// 2 = failure only, 3 = success only) and the segment policy.
pub(crate) fn wanted(
    registered_delivery: u8,
    state: ReceiptState,
    concat: Option<Concat>,
    segments: ReceiptSegments,
) -> bool {
    let by_request = match registered_delivery & 0x03 {
        1 => true,
        2 => !state.is_success(),
        3 => state.is_success(),
        _ => false,
    };
    let by_segment = match (segments, concat) {
        (ReceiptSegments::Each, _) | (ReceiptSegments::LastOnly, None) => true,
        (ReceiptSegments::LastOnly, Some(c)) => c.seq == c.total,
    };
    by_request && by_segment
}

/// Addresses of the original submit, reversed in the receipt.
#[derive(Debug, Clone)]
pub(crate) struct Addresses {
    pub source: COctetString<1, 21>,
    pub source_ton: Ton,
    pub source_npi: Npi,
    pub destination: COctetString<1, 21>,
    pub dest_ton: Ton,
    pub dest_npi: Npi,
}

/// Everything needed to send a receipt later.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptJob {
    pub system_id: Arc<str>,
    pub key: Arc<SegmentKey>,
    pub message_id: String,
    pub plan: ReceiptPlan,
    pub addresses: Addresses,
    pub text: String,
    pub submitted_at: DateTime<Utc>,
}

/// Builds the receipt deliver_sm.
pub(crate) fn build_receipt(
    job: &ReceiptJob,
    cfg: &ReceiptConfig,
    done_at: DateTime<Utc>,
) -> DeliverSm {
    let a = &job.addresses;
    let mut b = DeliverSm::builder()
        .source_addr_ton(a.dest_ton)
        .source_addr_npi(a.dest_npi)
        .source_addr(a.destination.clone())
        .dest_addr_ton(a.source_ton)
        .dest_addr_npi(a.source_npi)
        .destination_addr(a.source.clone())
        .esm_class(EsmClass::from(ESM_CLASS_RECEIPT))
        .data_coding(DataCoding::from(0));
    if matches!(cfg.form, ReceiptForm::Text | ReceiptForm::TextAndTlv) {
        let delivered = u32::from(job.plan.state.is_success());
        let body = ReceiptText {
            id: job.message_id.clone(),
            sub: 1,
            dlvrd: delivered,
            submit_date: format_date(job.submitted_at, cfg.dates_with_seconds),
            done_date: format_date(done_at, cfg.dates_with_seconds),
            stat: job.plan.state.as_str().to_string(),
            err: job.plan.error_code,
            text: sanitize_text(&job.text, cfg.text_chars),
        }
        .format();
        let mut bytes = body.into_bytes();
        bytes.truncate(254);
        b = b.short_message(OctetString::from_vec(bytes).unwrap_or_default());
    }
    if matches!(cfg.form, ReceiptForm::Tlv | ReceiptForm::TextAndTlv) {
        if let Ok(id) = COctetString::from_string(job.message_id.clone()) {
            b = b.push_tlv(MessageDeliveryRequestTlvValue::ReceiptedMessageId(id));
        }
        b = b.push_tlv(MessageDeliveryRequestTlvValue::MessageState(
            MessageState::from(job.plan.state.message_state()),
        ));
    }
    b.build()
}

/// Sends the receipt (and its scenario duplicate) after the planned delay.
pub(crate) fn schedule(shared: &Arc<Shared>, job: ReceiptJob) {
    let task_shared = Arc::clone(shared);
    let stop = shared.shutdown.clone();
    shared.tracker.spawn(async move {
        let shared = task_shared;
        let work = async {
            tokio::time::sleep(job.plan.delay).await;
            send(&shared, &job, false).await;
            if job.plan.duplicate {
                tokio::time::sleep(Duration::from_millis(
                    shared.config.scenario.receipts.duplicate_delay_ms,
                ))
                .await;
                send(&shared, &job, true).await;
            }
        };
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = work => {}
        }
    });
}

async fn send(shared: &Arc<Shared>, job: &ReceiptJob, duplicate: bool) {
    let pdu = build_receipt(job, &shared.config.scenario.receipts, Utc::now());
    let out = Outgoing {
        pdu,
        kind: OutKind::Receipt {
            key: Arc::clone(&job.key),
            message_id: job.message_id.clone(),
            state: job.plan.state,
            duplicate,
        },
    };
    shared.router.deliver(&job.system_id, out).await;
}

/// Builds an MO deliver_sm: GSM-7 (or Latin-1, per the default alphabet) with data_coding
/// 0/3 when possible, else UCS-2 (8); message_payload when it exceeds 254 octets.
pub(crate) fn build_mo(
    from: &str,
    to: &str,
    body: &str,
    alphabet: DefaultAlphabet,
) -> Result<DeliverSm, SimError> {
    build_mo_part(from, to, body, alphabet, None)
}

/// Position of one part of a long MO: reference, total, seq (an 8-bit concatenation UDH).
pub(crate) type MoPart = (u8, u8, u8);

/// One part of a long MO (`part`): its text behind a concatenation UDH (`esm_class` 0x40), as
/// a handset's network splits a long message; [`build_mo`] without one.
pub(crate) fn build_mo_part(
    from: &str,
    to: &str,
    body: &str,
    alphabet: DefaultAlphabet,
    part: Option<MoPart>,
) -> Result<DeliverSm, SimError> {
    let addr = |s: &str| {
        COctetString::<1, 21>::from_string(s.to_string())
            .map_err(|e| SimError::InvalidMo(format!("address: {e}")))
    };
    let latin1: Option<Vec<u8>> = body
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    let (dc, mut bytes) = match (alphabet, text::encode_gsm7(body), latin1) {
        (DefaultAlphabet::Gsm7, Some(septets), _) => (0u8, septets),
        (DefaultAlphabet::Latin1, _, Some(l)) => (3u8, l),
        _ => (8u8, text::encode_ucs2(body)),
    };
    let ton = |s: &str| {
        if s.chars().all(|c| c.is_ascii_digit() || c == '+') {
            if s.len() > 8 {
                Ton::International
            } else {
                Ton::NetworkSpecific
            }
        } else {
            Ton::Alphanumeric
        }
    };
    let mut b = DeliverSm::builder()
        .source_addr_ton(ton(from))
        .source_addr_npi(Npi::Isdn)
        .source_addr(addr(from.trim_start_matches('+'))?)
        .dest_addr_ton(ton(to))
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(addr(to.trim_start_matches('+'))?)
        // explicit: rusmpp 0.4's EsmClass::default() is 0x08, not 0
        .esm_class(EsmClass::from(if part.is_some() { 0x40 } else { 0 }))
        .data_coding(DataCoding::from(dc));
    if let Some((reference, total, seq)) = part {
        let mut udh = vec![5, 0, 3, reference, total, seq];
        udh.append(&mut bytes);
        bytes = udh;
    }
    if bytes.len() <= 254 {
        b = b.short_message(
            OctetString::from_vec(bytes).map_err(|e| SimError::InvalidMo(e.to_string()))?,
        );
    } else {
        b = b.push_tlv(MessageDeliveryRequestTlvValue::MessagePayload(
            MessagePayload::new(AnyOctetString::from_vec(bytes)),
        ));
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use rusmpp::tlvs::TlvValue;

    use super::*;

    fn job(state: ReceiptState) -> ReceiptJob {
        ReceiptJob {
            system_id: "s".into(),
            key: Arc::new(SegmentKey::new("49170", None, b"x")),
            message_id: "3B9ACA07".into(),
            plan: ReceiptPlan {
                state,
                error_code: 0,
                delay: Duration::ZERO,
                duplicate: false,
            },
            addresses: Addresses {
                source: COctetString::from_string("SENDER".into()).unwrap(),
                source_ton: Ton::Alphanumeric,
                source_npi: Npi::Unknown,
                destination: COctetString::from_string("49170".into()).unwrap(),
                dest_ton: Ton::International,
                dest_npi: Npi::Isdn,
            },
            text: "Hello_there friend, how are you".into(),
            submitted_at: Utc::now(),
        }
    }

    #[test]
    fn receipt_has_text_and_tlvs() {
        let pdu = build_receipt(
            &job(ReceiptState::Delivrd),
            &ReceiptConfig::default(),
            Utc::now(),
        );
        assert_eq!(u8::from(pdu.esm_class), 0x04);
        assert_eq!(pdu.source_addr.as_str(), "49170");
        assert_eq!(pdu.destination_addr.as_str(), "SENDER");
        let text = std::str::from_utf8(pdu.short_message().as_ref()).unwrap();
        let parsed = ReceiptText::parse(text).unwrap();
        assert_eq!(parsed.id, "3B9ACA07");
        assert_eq!(parsed.stat, "DELIVRD");
        assert_eq!(parsed.dlvrd, 1);
        assert_eq!(parsed.text, "Hello?there friend, ");
        let tlvs: Vec<_> = pdu.tlvs().iter().filter_map(|t| t.value()).collect();
        assert!(
            tlvs.iter().any(
                |v| matches!(v, TlvValue::ReceiptedMessageId(id) if id.as_str() == "3B9ACA07")
            )
        );
        assert!(
            tlvs.iter()
                .any(|v| matches!(v, TlvValue::MessageState(s) if u8::from(*s) == 2))
        );
    }

    #[test]
    fn receipt_forms() {
        let mut cfg = ReceiptConfig {
            form: ReceiptForm::Tlv,
            ..ReceiptConfig::default()
        };
        let pdu = build_receipt(&job(ReceiptState::Undeliv), &cfg, Utc::now());
        assert!(pdu.short_message().is_empty());
        assert_eq!(pdu.tlvs().len(), 2);
        cfg.form = ReceiptForm::Text;
        let pdu = build_receipt(&job(ReceiptState::Undeliv), &cfg, Utc::now());
        assert!(pdu.tlvs().is_empty());
        assert!(
            std::str::from_utf8(pdu.short_message().as_ref())
                .unwrap()
                .contains("stat:UNDELIV")
        );
    }

    #[test]
    fn wanted_rules() {
        let c = Some(Concat {
            reference: 1,
            total: 2,
            seq: 1,
        });
        assert!(wanted(
            1,
            ReceiptState::Delivrd,
            None,
            ReceiptSegments::Each
        ));
        assert!(!wanted(
            0,
            ReceiptState::Delivrd,
            None,
            ReceiptSegments::Each
        ));
        assert!(!wanted(
            2,
            ReceiptState::Delivrd,
            None,
            ReceiptSegments::Each
        ));
        assert!(wanted(
            2,
            ReceiptState::Undeliv,
            None,
            ReceiptSegments::Each
        ));
        assert!(!wanted(
            3,
            ReceiptState::Expired,
            None,
            ReceiptSegments::Each
        ));
        assert!(!wanted(
            1,
            ReceiptState::Delivrd,
            c,
            ReceiptSegments::LastOnly
        ));
        assert!(wanted(1, ReceiptState::Delivrd, c, ReceiptSegments::Each));
    }

    #[test]
    fn mo_encodings() {
        let pdu = build_mo("+491701234567", "12345", "hello", DefaultAlphabet::Gsm7).unwrap();
        assert_eq!(u8::from(pdu.data_coding), 0);
        assert_eq!(u8::from(pdu.esm_class), 0);
        assert_eq!(pdu.source_addr.as_str(), "491701234567");
        let pdu = build_mo("4917", "123", "héllo 😀", DefaultAlphabet::Gsm7).unwrap();
        assert_eq!(u8::from(pdu.data_coding), 8);
        let long = "x".repeat(300);
        let pdu = build_mo("4917", "123", &long, DefaultAlphabet::Gsm7).unwrap();
        assert!(pdu.short_message().is_empty());
        assert_eq!(pdu.tlvs().len(), 1);
        assert!(build_mo(&"1".repeat(30), "1", "x", DefaultAlphabet::Gsm7).is_err());
    }

    #[test]
    fn a_part_of_a_long_mo_carries_its_udh() {
        let pdu =
            build_mo_part("4917", "123", "hel", DefaultAlphabet::Gsm7, Some((9, 3, 2))).unwrap();
        assert_eq!(u8::from(pdu.esm_class), 0x40);
        let sm = pdu.short_message().as_ref();
        assert_eq!(&sm[..6], &[5, 0, 3, 9, 3, 2]);
        assert_eq!(&sm[6..], text::encode_gsm7("hel").unwrap().as_slice());
    }
}
