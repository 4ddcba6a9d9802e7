//! Reading a submit_sm: payload (short_message or message_payload), concatenation (UDH
//! with esm_class 0x40, or sar_* TLVs) and the decoded text of the part.

use bytes::Bytes;
use rusmpp::{pdus::SubmitSm, tlvs::TlvValue};

use crate::text::{self, Concat};

/// The parts of a submit_sm the simulator cares about.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    /// Full payload (including the UDH if any).
    pub payload: Bytes,
    /// Concatenation info, if this is one part of a longer message.
    pub concat: Option<Concat>,
    /// data_coding octet.
    pub data_coding: u8,
    /// Decoded text of this part (without UDH).
    pub text: String,
    /// registered_delivery octet.
    pub registered_delivery: u8,
}

/// esm_class bit: user data header indicator.
const UDHI: u8 = 0x40;

/// Extracts payload, concatenation and text.
pub(crate) fn parse(sm: &SubmitSm, gsm7_default: bool) -> Submission {
    let mut payload = Bytes::copy_from_slice(sm.short_message().as_ref());
    let (mut sar_ref, mut sar_total, mut sar_seq) = (None, None, None);
    for tlv in sm.tlvs() {
        match tlv.value() {
            Some(TlvValue::MessagePayload(p)) if payload.is_empty() => {
                payload = Bytes::copy_from_slice(p.value.as_ref());
            }
            Some(TlvValue::SarMsgRefNum(r)) => sar_ref = Some(*r),
            Some(TlvValue::SarTotalSegments(t)) => sar_total = Some(*t),
            Some(TlvValue::SarSegmentSeqnum(s)) => sar_seq = Some(*s),
            _ => {}
        }
    }
    let data_coding = u8::from(sm.data_coding);
    let esm_class = u8::from(sm.esm_class);
    let (mut concat, user_data) = if esm_class & UDHI != 0 {
        text::split_udh(&payload)
    } else {
        (None, &payload[..])
    };
    if concat.is_none()
        && let (Some(reference), Some(total), Some(seq)) = (sar_ref, sar_total, sar_seq)
    {
        concat = Some(Concat {
            reference,
            total,
            seq,
        });
    }
    let text = text::decode(data_coding, user_data, gsm7_default);
    Submission {
        concat,
        data_coding,
        text,
        registered_delivery: u8::from(sm.registered_delivery),
        payload,
    }
}

#[cfg(test)]
mod tests {
    use rusmpp::{
        tlvs::MessageSubmissionRequestTlvValue,
        types::{AnyOctetString, OctetString},
        values::{DataCoding, EsmClass, MessagePayload},
    };

    use super::*;

    fn sm(short: &[u8]) -> SubmitSm {
        SubmitSm::builder()
            .short_message(OctetString::from_slice(short).unwrap())
            .build()
    }

    #[test]
    fn plain_gsm7() {
        let s = parse(&sm(&text::encode_gsm7("Hi €").unwrap()), true);
        assert_eq!(s.text, "Hi €");
        assert_eq!(s.concat, None);
    }

    #[test]
    fn udh_concatenated_ucs2() {
        let mut p = vec![0x05, 0x00, 0x03, 0x07, 0x02, 0x01];
        p.extend(text::encode_ucs2("héllo"));
        let mut m = sm(&p);
        m.esm_class = EsmClass::from(0x40);
        m.data_coding = DataCoding::from(8);
        let s = parse(&m, true);
        assert_eq!(
            s.concat,
            Some(Concat {
                reference: 7,
                total: 2,
                seq: 1
            })
        );
        assert_eq!(s.text, "héllo");
    }

    #[test]
    fn udh_bytes_without_udhi_are_text() {
        let s = parse(&sm(&[0x05, 0x00, 0x03, 0x07, 0x02, 0x01, 0x41]), true);
        assert_eq!(s.concat, None);
    }

    #[test]
    fn sar_tlvs_and_message_payload() {
        let mut m = sm(b"");
        m.push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(300));
        m.push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(3));
        m.push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(2));
        m.push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
            MessagePayload::new(AnyOctetString::from_slice(b"payload text")),
        ));
        let s = parse(&m, true);
        assert_eq!(
            s.concat,
            Some(Concat {
                reference: 300,
                total: 3,
                seq: 2
            })
        );
        assert_eq!(s.text, "payload text");
        assert_eq!(&s.payload[..], b"payload text");
    }
}
