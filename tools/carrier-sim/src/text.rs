//! Message payloads: GSM 03.38 (unpacked septets) and UCS-2 through `smsflow-sms` (the
//! codec checked against Twilio's calculator and independent vectors), plus what only a
//! carrier needs: lenient decoding of whatever a client sends, Latin-1, reading UDH
//! concatenation headers, and masking of phone numbers for logs.

/// Decodes unpacked GSM-7 septets (one per octet), leniently as handsets do: the high bit
/// is ignored, an unknown escape becomes its basic character and a lone escape a space.
pub fn decode_gsm7(bytes: &[u8]) -> String {
    let septets: Vec<u8> = bytes.iter().map(|b| b & 0x7F).collect();
    smsflow_sms::gsm7::decode(&septets).unwrap_or_default()
}

/// Encodes text as unpacked GSM-7 septets, or `None` if a character is not in GSM 03.38.
pub fn encode_gsm7(text: &str) -> Option<Vec<u8>> {
    smsflow_sms::gsm7::encode(text).ok()
}

/// Decodes UCS-2 / UTF-16BE, replacing invalid units.
pub fn decode_ucs2(bytes: &[u8]) -> String {
    smsflow_sms::ucs2::decode(bytes).unwrap_or_else(|_| {
        let units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    })
}

/// Encodes UTF-16BE.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    smsflow_sms::ucs2::encode(text)
}

/// Decodes ISO-8859-1.
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Decodes a short message by data_coding (`gsm7_default` says what 0 means).
pub fn decode(data_coding: u8, bytes: &[u8], gsm7_default: bool) -> String {
    match data_coding {
        0 if gsm7_default => decode_gsm7(bytes),
        0 | 3 => decode_latin1(bytes),
        1 => String::from_utf8_lossy(bytes).into_owned(),
        8 => decode_ucs2(bytes),
        _ => bytes.iter().map(|b| format!("{b:02X}")).collect(),
    }
}

/// Concatenation info of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Message reference (8- or 16-bit).
    pub reference: u16,
    /// Number of segments.
    pub total: u8,
    /// This segment's number, from 1.
    pub seq: u8,
}

/// Splits a payload that starts with a UDH into the concatenation info (IEI 0x00 8-bit or
/// 0x08 16-bit reference, if present) and the user data after the header. A malformed UDH
/// yields `(None, whole payload)`.
pub fn split_udh(payload: &[u8]) -> (Option<Concat>, &[u8]) {
    let Some(&udhl) = payload.first() else {
        return (None, payload);
    };
    let end = 1 + udhl as usize;
    if payload.len() < end {
        return (None, payload);
    }
    let mut ies = &payload[1..end];
    let mut concat = None;
    while ies.len() >= 2 {
        let (iei, len) = (ies[0], ies[1] as usize);
        if ies.len() < 2 + len {
            break;
        }
        let data = &ies[2..2 + len];
        match (iei, len) {
            (0x00, 3) => {
                concat = Some(Concat {
                    reference: u16::from(data[0]),
                    total: data[1],
                    seq: data[2],
                });
            }
            (0x08, 4) => {
                concat = Some(Concat {
                    reference: u16::from_be_bytes([data[0], data[1]]),
                    total: data[2],
                    seq: data[3],
                });
            }
            _ => {}
        }
        ies = &ies[2 + len..];
    }
    (concat, &payload[end..])
}

/// Masks a phone number for logs: keeps the last two characters.
pub fn mask_msisdn(number: &str) -> String {
    let n = number.chars().count();
    if n <= 2 {
        return "*".repeat(n);
    }
    let tail: String = number.chars().skip(n - 2).collect();
    format!("{}{}", "*".repeat(n - 2), tail)
}

/// Number of SMS segments `text` needs (the same count the platform previews).
pub fn segment_count(text: &str) -> usize {
    smsflow_sms::preview(text, &smsflow_sms::Options::default()).parts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_septet_decodes_to_one_character() {
        let singles = (0u8..128)
            .filter(|&b| b != 0x1B)
            .filter(|&b| decode_gsm7(&[b]).chars().count() == 1)
            .count();
        assert_eq!(singles, 127);
        assert_eq!(decode_gsm7(&[0x41]), "A");
        assert_eq!(decode_gsm7(&[0x00]), "@");
        assert_eq!(decode_gsm7(&[0x7F]), "à");
    }

    #[test]
    fn gsm7_with_escapes() {
        let bytes = encode_gsm7("Hi {€}").unwrap();
        assert_eq!(
            bytes,
            vec![0x48, 0x69, 0x20, 0x1B, 0x28, 0x1B, 0x65, 0x1B, 0x29]
        );
        assert_eq!(decode_gsm7(&bytes), "Hi {€}");
        assert!(encode_gsm7("emoji 😀").is_none());
    }

    #[test]
    fn ucs2_with_surrogates() {
        let b = encode_ucs2("héllo 😀");
        assert_eq!(decode_ucs2(&b), "héllo 😀");
    }

    #[test]
    fn udh_8_and_16_bit() {
        let p = [0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, b'h', b'i'];
        let (c, rest) = split_udh(&p);
        assert_eq!(
            c,
            Some(Concat {
                reference: 0x2A,
                total: 3,
                seq: 2
            })
        );
        assert_eq!(rest, b"hi");
        let p = [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, b'x'];
        let (c, rest) = split_udh(&p);
        assert_eq!(c.unwrap().reference, 0x1234);
        assert_eq!(rest, b"x");
        assert_eq!(split_udh(&[0x09, 0x00]).0, None);
    }

    #[test]
    fn masks_numbers() {
        assert_eq!(mask_msisdn("+4915112345678"), "************78");
        assert_eq!(mask_msisdn("12"), "**");
    }

    #[test]
    fn segments() {
        assert_eq!(segment_count(&"a".repeat(160)), 1);
        assert_eq!(segment_count(&"a".repeat(161)), 2);
        assert_eq!(segment_count(&"é😀".repeat(10)), 1);
        assert_eq!(segment_count(&"😀".repeat(36)), 2);
    }

    proptest! {
        #[test]
        fn gsm7_round_trip(idx in proptest::collection::vec(0usize..138, 0..200)) {
            const EXT: [u8; 10] = [0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65];
            let text: String = idx.iter().map(|&i| if i < 128 {
                if i == 0x1B { " ".to_owned() } else { decode_gsm7(&[i as u8]) }
            } else { decode_gsm7(&[0x1B, EXT[i - 128]]) }).collect();
            let enc = encode_gsm7(&text).unwrap();
            prop_assert_eq!(decode_gsm7(&enc), text);
        }

        #[test]
        fn ucs2_round_trip(text in "\\PC{0,80}") {
            prop_assert_eq!(decode_ucs2(&encode_ucs2(&text)), text);
        }
    }
}
