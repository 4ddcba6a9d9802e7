//! Concatenation headers (UDH) and how much text a part holds.

use crate::Encoding;

/// Most parts a concatenated message can have: the UDH numbers them with one octet.
pub const MAX_PARTS: usize = 255;

/// Most octets of user data one SMS carries over the air (UDH included).
pub const MAX_USER_DATA_OCTETS: usize = 140;

/// How the parts of a long message are tied together (3GPP TS 23.040 §9.2.3.24.1 and .8).
///
/// Both produce a User Data Header in each part. A carrier that takes SAR TLVs instead
/// still needs parts sized for a UDH, because the SMSC adds one; use [`Concat::Udh8`] and
/// send [`Concat::reference`] as `sar_msg_ref_num`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concat {
    /// 6-octet header `05 00 03 ref total seq`: 153 septets or 67 UCS-2 units per part.
    Udh8 {
        /// Reference shared by all parts of one message.
        reference: u8,
    },
    /// 7-octet header `06 08 04 refH refL total seq`: 152 septets or 66 UCS-2 units per part.
    Udh16 {
        /// Reference shared by all parts of one message.
        reference: u16,
    },
}

impl Concat {
    /// The reference number, widened to 16 bits.
    #[must_use]
    pub fn reference(self) -> u16 {
        match self {
            Concat::Udh8 { reference } => u16::from(reference),
            Concat::Udh16 { reference } => reference,
        }
    }

    /// Length of the header in octets, its length octet (UDHL) included.
    #[must_use]
    pub fn header_len(self) -> usize {
        match self {
            Concat::Udh8 { .. } => 6,
            Concat::Udh16 { .. } => 7,
        }
    }

    /// The header of part `seq` (1-based) of `total`.
    #[must_use]
    pub fn header(self, total: u8, seq: u8) -> Vec<u8> {
        match self {
            Concat::Udh8 { reference } => vec![0x05, 0x00, 0x03, reference, total, seq],
            Concat::Udh16 { reference } => {
                let [hi, lo] = reference.to_be_bytes();
                vec![0x06, 0x08, 0x04, hi, lo, total, seq]
            }
        }
    }

    /// Units of text one part of a concatenated message holds with this header:
    /// what is left of 140 octets, in whole septets (after the fill bits) or UTF-16 units.
    #[must_use]
    pub fn part_capacity(self, encoding: Encoding) -> usize {
        let free_octets = MAX_USER_DATA_OCTETS - self.header_len();
        match encoding {
            Encoding::Gsm7 => free_octets * 8 / 7,
            Encoding::Ucs2 => free_octets / 2,
        }
    }
}

/// Units of text a message holds when it fits in one SMS without a header.
pub(crate) fn single_capacity(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7 => MAX_USER_DATA_OCTETS * 8 / 7,
        Encoding::Ucs2 => MAX_USER_DATA_OCTETS / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_match_the_usual_numbers() {
        let u8ref = Concat::Udh8 { reference: 1 };
        let u16ref = Concat::Udh16 { reference: 1 };
        assert_eq!(single_capacity(Encoding::Gsm7), 160);
        assert_eq!(single_capacity(Encoding::Ucs2), 70);
        assert_eq!(u8ref.part_capacity(Encoding::Gsm7), 153);
        assert_eq!(u8ref.part_capacity(Encoding::Ucs2), 67);
        assert_eq!(u16ref.part_capacity(Encoding::Gsm7), 152);
        assert_eq!(u16ref.part_capacity(Encoding::Ucs2), 66);
    }

    #[test]
    fn headers() {
        assert_eq!(
            Concat::Udh8 { reference: 0xAB }.header(3, 2),
            [0x05, 0x00, 0x03, 0xAB, 3, 2]
        );
        assert_eq!(
            Concat::Udh16 { reference: 0x1234 }.header(3, 1),
            [0x06, 0x08, 0x04, 0x12, 0x34, 3, 1]
        );
        assert_eq!(Concat::Udh8 { reference: 7 }.reference(), 7);
        for concat in [
            Concat::Udh8 { reference: 0 },
            Concat::Udh16 { reference: 0 },
        ] {
            let header = concat.header(1, 1);
            assert_eq!(header.len(), concat.header_len());
            assert_eq!(
                usize::from(header[0]) + 1,
                header.len(),
                "UDHL counts the rest"
            );
        }
    }
}
