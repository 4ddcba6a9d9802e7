//! Message payloads: GSM 03.38 (unpacked septets), UCS-2, Latin-1, UDH concatenation
//! headers, and masking of phone numbers for logs.

/// GSM 03.38 basic character set, indexed by septet (0x1B is the escape, shown as NUL).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\0ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// GSM 03.38 extension table (after ESC 0x1B).
const GSM7_EXT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

fn basic_table() -> &'static [char; 128] {
    static TABLE: std::sync::OnceLock<[char; 128]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = ['\0'; 128];
        for (i, c) in GSM7_BASIC.chars().enumerate() {
            t[i] = c;
        }
        t
    })
}

/// Decodes unpacked GSM-7 septets (one per octet). Unknown escapes become a space, as
/// handsets do.
pub fn decode_gsm7(bytes: &[u8]) -> String {
    let table = basic_table();
    let mut out = String::with_capacity(bytes.len());
    let mut it = bytes.iter();
    while let Some(&b) = it.next() {
        let b = b & 0x7F;
        if b == 0x1B {
            match it.next() {
                Some(&e) => {
                    let c = GSM7_EXT
                        .iter()
                        .find(|(code, _)| *code == (e & 0x7F))
                        .map_or(' ', |(_, c)| *c);
                    out.push(c);
                }
                None => out.push(' '),
            }
        } else {
            out.push(table[b as usize]);
        }
    }
    out
}

/// Encodes text as unpacked GSM-7 septets, or `None` if a character is not in GSM 03.38.
pub fn encode_gsm7(text: &str) -> Option<Vec<u8>> {
    let table = basic_table();
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c != '\0'
            && let Some(i) = table.iter().position(|t| *t == c)
        {
            out.push(i as u8);
            continue;
        }
        let (code, _) = GSM7_EXT.iter().find(|(_, e)| *e == c)?;
        out.push(0x1B);
        out.push(*code);
    }
    Some(out)
}

/// Decodes UCS-2 / UTF-16BE, replacing invalid units.
pub fn decode_ucs2(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Encodes UTF-16BE.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
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

/// Number of SMS segments `text` needs (GSM-7 160/153, otherwise UCS-2 70/67 units).
pub fn segment_count(text: &str) -> usize {
    let (single, multi, units) = match encode_gsm7(text) {
        Some(septets) => (160, 153, septets.len()),
        None => (70, 67, text.encode_utf16().count()),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(multi)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn table_has_128_entries() {
        assert_eq!(GSM7_BASIC.chars().count(), 128);
        assert_eq!(basic_table()[0x41], 'A');
        assert_eq!(basic_table()[0x00], '@');
        assert_eq!(basic_table()[0x7F], 'à');
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
            let table = basic_table();
            let text: String = idx.iter().map(|&i| if i < 128 {
                if i == 0x1B { ' ' } else { table[i] }
            } else { GSM7_EXT[i - 128].1 }).collect();
            let enc = encode_gsm7(&text).unwrap();
            prop_assert_eq!(decode_gsm7(&enc), text);
        }

        #[test]
        fn ucs2_round_trip(text in "\\PC{0,80}") {
            prop_assert_eq!(decode_ucs2(&encode_ucs2(&text)), text);
        }
    }
}
