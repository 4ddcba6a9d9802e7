//! GSM 03.38 7-bit packing: septets laid end to end, least significant bit first.
//!
//! When a User Data Header precedes the text, the text starts on a septet boundary counted
//! from the start of the user data, so `fill_bits` zero bits separate the header from the
//! first septet (3GPP TS 23.040 §9.2.3.24).

use crate::EncodingError;

/// Fill bits needed after a UDH of `udh_len` octets (UDHL octet included) so the text
/// starts on a septet boundary: 1 for the 6-octet 8-bit-reference header, 0 for the
/// 7-octet 16-bit-reference header, 0 without a header.
#[must_use]
pub fn fill_bits(udh_len: usize) -> u8 {
    let rem = (udh_len % 7) * 8 % 7; // (udh_len * 8) % 7 without overflow
    // `rem` < 7, so both the subtraction and the conversion are safe.
    u8::try_from((7 - rem) % 7).unwrap_or(0)
}

/// Septets (not octets) that a UDH of `udh_len` octets occupies, fill bits included.
#[must_use]
pub fn header_septets(udh_len: usize) -> usize {
    (udh_len.saturating_mul(8)).div_ceil(7)
}

/// Packs septets (each `0x00..=0x7F`) into octets, after `fill_bits` zero bits.
///
/// The result has `ceil((fill_bits + 7 * septets.len()) / 8)` octets; unused high bits of
/// the last octet are zero.
///
/// # Errors
/// [`EncodingError::InvalidFillBits`] if `fill_bits > 6`, [`EncodingError::InvalidSeptet`]
/// if a byte has its high bit set.
pub fn pack(septets: &[u8], fill_bits: u8) -> Result<Vec<u8>, EncodingError> {
    check_fill(fill_bits)?;
    let bits = septets
        .len()
        .saturating_mul(7)
        .saturating_add(usize::from(fill_bits));
    let mut out = vec![0u8; bits.div_ceil(8)];
    let mut bit = usize::from(fill_bits);
    for (position, &septet) in septets.iter().enumerate() {
        if septet > 0x7F {
            return Err(EncodingError::InvalidSeptet {
                position,
                value: septet,
            });
        }
        let [lo, hi] = (u16::from(septet) << (bit % 8)).to_le_bytes();
        let index = bit / 8;
        if let Some(octet) = out.get_mut(index) {
            *octet |= lo;
        }
        if hi != 0
            && let Some(octet) = out.get_mut(index + 1)
        {
            *octet |= hi;
        }
        bit += 7;
    }
    Ok(out)
}

/// Unpacks `septet_count` septets that start `fill_bits` bits into `octets`.
///
/// The count must be given: when the septets end exactly on an octet boundary minus 7
/// bits, the trailing zero bits would otherwise read as an extra `@` (septet 0x00).
///
/// # Errors
/// [`EncodingError::InvalidFillBits`] if `fill_bits > 6`, [`EncodingError::Truncated`] if
/// `octets` is too short for the requested septets.
pub fn unpack(octets: &[u8], fill_bits: u8, septet_count: usize) -> Result<Vec<u8>, EncodingError> {
    check_fill(fill_bits)?;
    let bits = septet_count
        .saturating_mul(7)
        .saturating_add(usize::from(fill_bits));
    let needed = bits.div_ceil(8);
    if needed > octets.len() {
        return Err(EncodingError::Truncated {
            needed,
            available: octets.len(),
        });
    }
    let mut out = Vec::with_capacity(septet_count);
    let mut bit = usize::from(fill_bits);
    for _ in 0..septet_count {
        let index = bit / 8;
        let lo = octets.get(index).copied().unwrap_or(0);
        let hi = octets.get(index + 1).copied().unwrap_or(0);
        let [septet, _] = ((u16::from_le_bytes([lo, hi]) >> (bit % 8)) & 0x7F).to_le_bytes();
        out.push(septet);
        bit += 7;
    }
    Ok(out)
}

fn check_fill(fill_bits: u8) -> Result<(), EncodingError> {
    if fill_bits > 6 {
        Err(EncodingError::InvalidFillBits { fill_bits })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_the_classic_hello_example() {
        // "hellohello" from the GSM 03.38 packing examples.
        let septets = b"hellohello";
        assert_eq!(
            pack(septets, 0).unwrap(),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
    }

    #[test]
    fn eight_septets_fill_seven_octets() {
        let septets = [0x7F; 8];
        assert_eq!(pack(&septets, 0).unwrap(), [0xFF; 7]);
        assert_eq!(unpack(&[0xFF; 7], 0, 8).unwrap(), septets);
    }

    #[test]
    fn seven_septets_leave_seven_zero_bits_that_are_not_a_septet() {
        let packed = pack(b"abcdefg", 0).unwrap();
        assert_eq!(packed.len(), 7);
        assert_eq!(unpack(&packed, 0, 7).unwrap(), b"abcdefg");
        // Reading 8 septets would invent a trailing '@' (0x00): that is why the count is explicit.
        assert_eq!(unpack(&packed, 0, 8).unwrap().last(), Some(&0x00));
    }

    #[test]
    fn fill_bits_for_usual_headers() {
        assert_eq!(fill_bits(0), 0);
        assert_eq!(fill_bits(6), 1); // 05 00 03 ref total seq
        assert_eq!(fill_bits(7), 0); // 06 08 04 refH refL total seq
        assert_eq!(header_septets(6), 7);
        assert_eq!(header_septets(7), 8);
        for udh_len in 0..=140 {
            assert_eq!((udh_len * 8 + usize::from(fill_bits(udh_len))) % 7, 0);
            assert_eq!(
                udh_len * 8 + usize::from(fill_bits(udh_len)),
                header_septets(udh_len) * 7
            );
        }
    }

    #[test]
    fn one_fill_bit_shifts_the_first_septet() {
        // 'A' = 0x41 after one fill bit: 0x82 then the top bit spills into nothing.
        assert_eq!(pack(&[0x41], 1).unwrap(), [0x82]);
        assert_eq!(unpack(&[0x82], 1, 1).unwrap(), [0x41]);
        // 153 septets after a 6-octet UDH fill exactly the remaining 134 octets.
        assert_eq!(pack(&[0x61; 153], fill_bits(6)).unwrap().len(), 134);
        assert_eq!(pack(&[0x61; 152], fill_bits(7)).unwrap().len(), 133);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(
            pack(&[0x80], 0),
            Err(EncodingError::InvalidSeptet {
                position: 0,
                value: 0x80
            })
        );
        assert_eq!(
            pack(&[], 7),
            Err(EncodingError::InvalidFillBits { fill_bits: 7 })
        );
        assert_eq!(
            unpack(&[0x00], 0, 2),
            Err(EncodingError::Truncated {
                needed: 2,
                available: 1
            })
        );
        assert_eq!(
            unpack(&[], 0, usize::MAX).unwrap_err(),
            EncodingError::Truncated {
                needed: usize::MAX.div_ceil(8),
                available: 0
            }
        );
    }
}
