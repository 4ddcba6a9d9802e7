//! GSM 03.38 7-bit default alphabet: septet encoding, decoding and packing.
//!
//! "Unpacked" septets take one octet each (values `0x00..=0x7F`); that is what SMPP
//! `data_coding` 0 usually carries. [`pack`] and [`unpack`] convert to and from the
//! over-the-air form where eight septets fill seven octets. Extension characters
//! (`^ { } \ [ ~ ] | €` and form feed) are two septets: [`ESC`] then their code.

mod packing;
mod table;

pub use packing::{fill_bits, header_septets, pack, unpack};
pub use table::ESC;
pub(crate) use table::{Code, lookup};

use crate::EncodingError;

/// Septets `c` takes in GSM-7 (1, or 2 for an extension character), `None` if GSM-7
/// cannot represent it.
#[must_use]
pub fn septet_len(c: char) -> Option<usize> {
    lookup(c).map(Code::len)
}

/// Whether every character of `text` is in the GSM-7 basic or extension table.
#[must_use]
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| lookup(c).is_some())
}

/// Encodes `text` into unpacked septets, one per octet.
///
/// # Errors
/// [`EncodingError::NotGsm7`] naming the first character GSM-7 cannot represent.
pub fn encode(text: &str) -> Result<Vec<u8>, EncodingError> {
    let mut out = Vec::with_capacity(text.len());
    for (position, c) in text.chars().enumerate() {
        let code = lookup(c).ok_or(EncodingError::NotGsm7 { position })?;
        push_code(code, &mut out);
    }
    Ok(out)
}

/// Appends the septets of one code.
pub(crate) fn push_code(code: Code, out: &mut Vec<u8>) {
    match code {
        Code::Basic(septet) => out.push(septet),
        Code::Extended(septet) => out.extend([ESC, septet]),
    }
}

/// Decodes unpacked septets into text.
///
/// Follows TS 23.038 for receivers: an escape followed by a code missing from the
/// extension table gives the basic-table character, and an escape that is followed by
/// another escape or ends the data gives a space.
///
/// # Errors
/// [`EncodingError::InvalidSeptet`] if a byte has its high bit set.
pub fn decode(septets: &[u8]) -> Result<String, EncodingError> {
    let mut out = String::with_capacity(septets.len());
    let mut escaped = false;
    for (position, &septet) in septets.iter().enumerate() {
        if septet > 0x7F {
            return Err(EncodingError::InvalidSeptet {
                position,
                value: septet,
            });
        }
        let c = if escaped {
            escaped = false;
            table::extended_char(septet)
        } else if septet == ESC {
            escaped = true;
            continue;
        } else {
            table::basic_char(septet)
        };
        out.push(c.unwrap_or(' '));
    }
    if escaped {
        out.push(' ');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_basic_and_extension_characters() {
        assert_eq!(encode("@").unwrap(), [0x00]);
        assert_eq!(encode("A€b").unwrap(), [0x41, ESC, 0x65, 0x62]);
        assert_eq!(encode("{}").unwrap(), [ESC, 0x28, ESC, 0x29]);
        assert_eq!(encode("\u{0C}").unwrap(), [ESC, 0x0A]);
    }

    #[test]
    fn names_the_first_unrepresentable_character() {
        assert_eq!(encode("ab`c"), Err(EncodingError::NotGsm7 { position: 2 }));
        assert_eq!(encode("😀"), Err(EncodingError::NotGsm7 { position: 0 }));
    }

    #[test]
    fn decodes_what_it_encodes() {
        let text = "Hello @ £$¥ èé [x] {y} ~|^\\ €5 ΔΦΓΛΩΠΨΣΘΞ ÆæßÉ ¤ ¡¿ ÄÖÑÜ§ äöñüà\r\n\u{0C}";
        assert_eq!(decode(&encode(text).unwrap()).unwrap(), text);
    }

    #[test]
    fn decode_is_lenient_about_escapes() {
        assert_eq!(decode(&[ESC]).unwrap(), " ");
        assert_eq!(decode(&[0x41, ESC]).unwrap(), "A ");
        assert_eq!(decode(&[ESC, ESC, 0x41]).unwrap(), " A");
        assert_eq!(decode(&[ESC, 0x41]).unwrap(), "A");
    }

    #[test]
    fn decode_rejects_octets_with_high_bit() {
        assert_eq!(
            decode(&[0x41, 0xC1]),
            Err(EncodingError::InvalidSeptet {
                position: 1,
                value: 0xC1
            })
        );
    }

    #[test]
    fn septet_lengths() {
        assert_eq!(septet_len('a'), Some(1));
        assert_eq!(septet_len('€'), Some(2));
        assert_eq!(septet_len('ç'), None);
        assert!(is_gsm7(""));
        assert!(is_gsm7("Price: 5€ [ok]"));
        assert!(!is_gsm7("it’s"));
    }
}
