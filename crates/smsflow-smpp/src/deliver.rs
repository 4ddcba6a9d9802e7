//! The fields of a deliver_sm that matter to us, from a rusmpp-decoded PDU or, when rusmpp
//! refuses the PDU, from a lenient parse of the raw body.
//!
//! Why a fallback: carriers send receipts with small defects (a `receipted_message_id` TLV
//! without its NUL terminator is the usual one). A strict decoder would reject the whole
//! deliver_sm and the receipt would be lost; the lenient parser reads the mandatory fields
//! and the TLVs by tag and length and keeps what it can.

use rusmpp::pdus::DeliverSm;
use rusmpp::tlvs::TlvValue;

/// Tags of the TLVs read from deliver_sm.
pub(crate) mod tag {
    /// receipted_message_id.
    pub(crate) const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    /// message_state.
    pub(crate) const MESSAGE_STATE: u16 = 0x0427;
    /// network_error_code.
    pub(crate) const NETWORK_ERROR_CODE: u16 = 0x0423;
    /// sar_msg_ref_num.
    pub(crate) const SAR_MSG_REF_NUM: u16 = 0x020C;
    /// sar_total_segments.
    pub(crate) const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    /// sar_segment_seqnum.
    pub(crate) const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    /// message_payload.
    pub(crate) const MESSAGE_PAYLOAD: u16 = 0x0424;
}

/// A network error code TLV (0x0423): network type and error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkError {
    /// 1..8 per SMPP (3 = GSM, 7 = SMPP error, 8 = MC specific).
    pub network_type: u8,
    /// The network-specific error code.
    pub code: u16,
}

/// Fields of one deliver_sm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DeliverFields {
    pub(crate) source_addr: String,
    pub(crate) source_ton: u8,
    pub(crate) source_npi: u8,
    pub(crate) destination_addr: String,
    pub(crate) esm_class: u8,
    pub(crate) data_coding: u8,
    pub(crate) short_message: Vec<u8>,
    pub(crate) receipted_message_id: Option<String>,
    pub(crate) message_state: Option<u8>,
    pub(crate) network_error: Option<NetworkError>,
    pub(crate) sar_ref: Option<u16>,
    pub(crate) sar_total: Option<u8>,
    pub(crate) sar_seq: Option<u8>,
    pub(crate) message_payload: Option<Vec<u8>>,
}

impl DeliverFields {
    /// From a PDU rusmpp decoded.
    pub(crate) fn from_pdu(pdu: &DeliverSm) -> Self {
        let mut out = Self {
            source_addr: pdu.source_addr.as_str().to_owned(),
            source_ton: u8::from(pdu.source_addr_ton),
            source_npi: u8::from(pdu.source_addr_npi),
            destination_addr: pdu.destination_addr.as_str().to_owned(),
            esm_class: u8::from(pdu.esm_class),
            data_coding: u8::from(pdu.data_coding),
            short_message: pdu.short_message().as_ref().to_vec(),
            ..Self::default()
        };
        for tlv in pdu.tlvs() {
            match tlv.value() {
                Some(TlvValue::ReceiptedMessageId(id)) => {
                    // A strict decoder may run past an unterminated id into the next TLV
                    // until it meets a NUL: keep the printable prefix only.
                    let clean: String = id
                        .as_str()
                        .chars()
                        .take_while(|c| !c.is_control())
                        .collect();
                    out.receipted_message_id = Some(clean);
                }
                Some(TlvValue::MessageState(state)) => out.message_state = Some(u8::from(*state)),
                Some(TlvValue::NetworkErrorCode(nec)) => {
                    out.network_error = Some(NetworkError {
                        network_type: u8::from(nec.network_type),
                        code: nec.error_code,
                    });
                }
                Some(TlvValue::SarMsgRefNum(v)) => out.sar_ref = Some(*v),
                Some(TlvValue::SarTotalSegments(v)) => out.sar_total = Some(*v),
                Some(TlvValue::SarSegmentSeqnum(v)) => out.sar_seq = Some(*v),
                Some(TlvValue::MessagePayload(payload)) => {
                    out.message_payload = Some(payload.value.as_ref().to_vec());
                }
                Some(TlvValue::Other { tag, value }) => {
                    out.apply_raw_tlv(u16::from(*tag), value.as_ref());
                }
                _ => {}
            }
        }
        out
    }

    /// Lenient parse of a deliver_sm body (after the 16-byte header). `None` when even the
    /// mandatory fields cannot be read.
    pub(crate) fn parse_lenient(body: &[u8]) -> Option<Self> {
        let mut r = Reader { buf: body, pos: 0 };
        let _service_type = r.cstr()?;
        let source_ton = r.u8()?;
        let source_npi = r.u8()?;
        let source_addr = r.cstr()?;
        let _dest_ton = r.u8()?;
        let _dest_npi = r.u8()?;
        let destination_addr = r.cstr()?;
        let esm_class = r.u8()?;
        let _protocol_id = r.u8()?;
        let _priority = r.u8()?;
        let _schedule = r.cstr()?;
        let _validity = r.cstr()?;
        let _registered_delivery = r.u8()?;
        let _replace = r.u8()?;
        let data_coding = r.u8()?;
        let _default_msg_id = r.u8()?;
        let sm_length = usize::from(r.u8()?);
        let short_message = r.bytes(sm_length)?.to_vec();
        let mut out = Self {
            source_addr: String::from_utf8_lossy(source_addr).into_owned(),
            source_ton,
            source_npi,
            destination_addr: String::from_utf8_lossy(destination_addr).into_owned(),
            esm_class,
            data_coding,
            short_message,
            ..Self::default()
        };
        // TLVs: stop quietly at the first one that does not fit.
        while let (Some(tag), Some(len)) = (r.u16(), r.u16()) {
            let Some(value) = r.bytes(usize::from(len)) else {
                break;
            };
            out.apply_raw_tlv(tag, value);
        }
        Some(out)
    }

    fn apply_raw_tlv(&mut self, tag: u16, value: &[u8]) {
        // A TLV without a value is no value, as rusmpp reads it on the strict path: an empty
        // `receipted_message_id` must not turn an MO into a receipt on the lenient path only
        // (found by the `smpp_pdu` fuzz target).
        if value.is_empty() {
            return;
        }
        match tag {
            tag::RECEIPTED_MESSAGE_ID => {
                let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
                self.receipted_message_id =
                    Some(String::from_utf8_lossy(&value[..end]).into_owned());
            }
            tag::MESSAGE_STATE => self.message_state = value.first().copied(),
            tag::NETWORK_ERROR_CODE if value.len() >= 3 => {
                self.network_error = Some(NetworkError {
                    network_type: value[0],
                    code: u16::from_be_bytes([value[1], value[2]]),
                });
            }
            tag::SAR_MSG_REF_NUM if value.len() >= 2 => {
                self.sar_ref = Some(u16::from_be_bytes([value[0], value[1]]));
            }
            tag::SAR_TOTAL_SEGMENTS => self.sar_total = value.first().copied(),
            tag::SAR_SEGMENT_SEQNUM => self.sar_seq = value.first().copied(),
            tag::MESSAGE_PAYLOAD => self.message_payload = Some(value.to_vec()),
            _ => {}
        }
    }

    /// The user data: message_payload when short_message is empty, else short_message.
    pub(crate) fn user_data(&self) -> &[u8] {
        match &self.message_payload {
            Some(payload) if self.short_message.is_empty() => payload,
            _ => &self.short_message,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    /// A NUL-terminated string (at most 65 octets before the NUL).
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let nul = rest.iter().take(66).position(|b| *b == 0)?;
        self.pos += nul + 1;
        Some(&rest[..nul])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a raw deliver_sm body for tests.
    pub(crate) fn raw_body(
        source: &str,
        dest: &str,
        esm: u8,
        dc: u8,
        sm: &[u8],
        tlvs: &[(u16, &[u8])],
    ) -> Vec<u8> {
        let mut b = vec![0u8]; // service_type
        b.extend([1, 1]);
        b.extend(source.as_bytes());
        b.push(0);
        b.extend([1, 1]);
        b.extend(dest.as_bytes());
        b.push(0);
        b.extend([esm, 0, 0, 0, 0, 0, 0, dc, 0]);
        b.push(u8::try_from(sm.len()).unwrap_or(255));
        b.extend(sm);
        for (tag, value) in tlvs {
            b.extend(tag.to_be_bytes());
            b.extend(u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
            b.extend(*value);
        }
        b
    }

    #[test]
    fn lenient_parse_reads_tlv_without_nul() {
        let body = raw_body(
            "447700900001",
            "ACME",
            0x04,
            0,
            b"id:1 stat:DELIVRD",
            &[
                (tag::RECEIPTED_MESSAGE_ID, b"1A2B"),
                (tag::MESSAGE_STATE, &[2]),
            ],
        );
        let f = DeliverFields::parse_lenient(&body).expect("parses");
        assert_eq!(f.source_addr, "447700900001");
        assert_eq!(f.destination_addr, "ACME");
        assert_eq!(f.esm_class, 0x04);
        assert_eq!(f.receipted_message_id.as_deref(), Some("1A2B"));
        assert_eq!(f.message_state, Some(2));
        assert_eq!(f.short_message, b"id:1 stat:DELIVRD");
    }

    /// Decodes a deliver_sm body through the codec as the link does (strict first, lenient
    /// when rusmpp refuses it).
    fn through_codec(body: &[u8]) -> DeliverFields {
        use crate::codec::{Frame, PduCodec};
        use tokio_util::codec::Decoder;
        let mut frame = Vec::new();
        frame.extend(u32::try_from(16 + body.len()).unwrap_or(0).to_be_bytes());
        frame.extend(5u32.to_be_bytes());
        frame.extend(0u32.to_be_bytes());
        frame.extend(9u32.to_be_bytes());
        frame.extend(body);
        let mut buf = bytes::BytesMut::from(&frame[..]);
        match PduCodec::default().decode(&mut buf) {
            Ok(Some(Frame::Command(cmd))) => match cmd.pdu() {
                Some(rusmpp::Pdu::DeliverSm(d)) => DeliverFields::from_pdu(d),
                other => panic!("unexpected pdu {other:?}"),
            },
            Ok(Some(Frame::Undecodable { body, .. })) => {
                DeliverFields::parse_lenient(&body).expect("lenient")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unterminated_tlv_id_in_any_position_is_read_cleanly() {
        let cases: [&[(u16, &[u8])]; 3] = [
            &[
                (tag::RECEIPTED_MESSAGE_ID, b"1a2b"),
                (tag::MESSAGE_STATE, &[2]),
            ],
            &[
                (tag::MESSAGE_STATE, &[2]),
                (tag::RECEIPTED_MESSAGE_ID, b"1a2b"),
            ],
            &[
                (tag::RECEIPTED_MESSAGE_ID, b"1a2b\0"),
                (tag::MESSAGE_STATE, &[2]),
            ],
        ];
        for tlvs in cases {
            let body = raw_body("447700900001", "ACME", 0x04, 0, b"id:1 stat:DELIVRD", tlvs);
            let f = through_codec(&body);
            assert_eq!(f.receipted_message_id.as_deref(), Some("1a2b"), "{tlvs:?}");
            assert_eq!(f.source_addr, "447700900001");
        }
    }

    #[test]
    fn an_empty_tlv_reads_as_absent_on_both_paths() {
        // Regression (fuzz/, `smpp_pdu`): the lenient reader took a zero-length
        // receipted_message_id or message_payload as present, rusmpp as absent.
        let body = raw_body(
            "447700900001",
            "ACME",
            0x00,
            0,
            b"hello",
            &[
                (tag::RECEIPTED_MESSAGE_ID, b""),
                (tag::MESSAGE_PAYLOAD, b""),
            ],
        );
        let lenient = DeliverFields::parse_lenient(&body).expect("parses");
        assert_eq!(lenient.receipted_message_id, None);
        assert_eq!(lenient.message_payload, None);
        assert_eq!(through_codec(&body), lenient);
    }

    #[test]
    fn lenient_parse_gives_up_on_truncated_mandatory_fields() {
        assert!(DeliverFields::parse_lenient(&[0, 1, 1]).is_none());
        assert!(DeliverFields::parse_lenient(&[]).is_none());
    }
}
