//! "UCS-2" as carriers use it: UTF-16 big-endian, surrogate pairs included.
//!
//! Strict UCS-2 has no surrogates, but handsets and SMSCs carry characters outside the
//! Basic Multilingual Plane (most emoji) as UTF-16 surrogate pairs, two units each.

use crate::EncodingError;

/// UTF-16 code units `c` takes: 1, or 2 outside the Basic Multilingual Plane.
#[must_use]
pub fn unit_len(c: char) -> usize {
    c.len_utf16()
}

/// Encodes `text` as UTF-16BE, two octets per code unit.
#[must_use]
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    push_str(text, &mut out);
    out
}

/// Appends the UTF-16BE encoding of `text`.
pub(crate) fn push_str(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend(unit.to_be_bytes());
    }
}

/// Decodes UTF-16BE into text.
///
/// # Errors
/// [`EncodingError::OddUcs2Length`] if the length is odd,
/// [`EncodingError::UnpairedSurrogate`] if a surrogate has no partner.
pub fn decode(octets: &[u8]) -> Result<String, EncodingError> {
    if !octets.len().is_multiple_of(2) {
        return Err(EncodingError::OddUcs2Length { len: octets.len() });
    }
    let units = octets.chunks_exact(2).map(|pair| match *pair {
        [hi, lo] => u16::from_be_bytes([hi, lo]),
        _ => 0, // chunks_exact(2) only yields pairs
    });
    let mut out = String::with_capacity(octets.len() / 2);
    let mut position = 0;
    for decoded in char::decode_utf16(units) {
        match decoded {
            Ok(c) => {
                out.push(c);
                position += c.len_utf16();
            }
            Err(_) => return Err(EncodingError::UnpairedSurrogate { position }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_big_endian() {
        assert_eq!(encode("Aж"), [0x00, 0x41, 0x04, 0x36]);
    }

    #[test]
    fn emoji_is_a_surrogate_pair() {
        assert_eq!(encode("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(unit_len('😀'), 2);
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]).unwrap(), "😀");
    }

    #[test]
    fn rejects_broken_input() {
        assert_eq!(
            decode(&[0x00]),
            Err(EncodingError::OddUcs2Length { len: 1 })
        );
        // "A" then a high surrogate with nothing after it.
        assert_eq!(
            decode(&[0x00, 0x41, 0xD8, 0x3D]),
            Err(EncodingError::UnpairedSurrogate { position: 1 })
        );
        // A lone low surrogate.
        assert_eq!(
            decode(&[0xDE, 0x00, 0x00, 0x41]),
            Err(EncodingError::UnpairedSurrogate { position: 0 })
        );
    }

    #[test]
    fn empty_round_trips() {
        assert_eq!(encode(""), Vec::<u8>::new());
        assert_eq!(decode(&[]).unwrap(), "");
    }
}
