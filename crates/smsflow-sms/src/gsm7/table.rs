//! The GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table.

/// A character's code in the GSM 7-bit default alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// One septet from the basic table.
    Basic(u8),
    /// Escape (0x1B) followed by this septet from the extension table.
    Extended(u8),
}

impl Code {
    /// Septets the code takes: 1 for the basic table, 2 for the extension table.
    pub(crate) fn len(self) -> usize {
        match self {
            Code::Basic(_) => 1,
            Code::Extended(_) => 2,
        }
    }
}

/// Escape to the extension table.
pub const ESC: u8 = 0x1B;

/// Basic table, indexed by septet. Position 0x1B is the escape code, not a character:
/// TS 23.038 tells a receiver to show a space for it when no extension follows, which is
/// what this entry is for (decoding only; the encoder never produces a lone escape).
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', // 0x00
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', // 0x10
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', // 0x20
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', // 0x30
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', // 0x40
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', // 0x50
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', // 0x60
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', // 0x70
];

/// The code of `c`, or `None` when GSM-7 cannot represent it.
pub(crate) fn lookup(c: char) -> Option<Code> {
    let basic = match c {
        // ASCII letters, digits and most punctuation keep their ASCII value.
        ' '..='#' | '%'..='?' | 'A'..='Z' | 'a'..='z' => {
            return u8::try_from(c).ok().map(Code::Basic);
        }
        '@' => 0x00,
        '£' => 0x01,
        '$' => 0x02,
        '¥' => 0x03,
        'è' => 0x04,
        'é' => 0x05,
        'ù' => 0x06,
        'ì' => 0x07,
        'ò' => 0x08,
        'Ç' => 0x09,
        '\n' => 0x0A,
        'Ø' => 0x0B,
        'ø' => 0x0C,
        '\r' => 0x0D,
        'Å' => 0x0E,
        'å' => 0x0F,
        'Δ' => 0x10,
        '_' => 0x11,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        'Æ' => 0x1C,
        'æ' => 0x1D,
        'ß' => 0x1E,
        'É' => 0x1F,
        '¤' => 0x24,
        '¡' => 0x40,
        'Ä' => 0x5B,
        'Ö' => 0x5C,
        'Ñ' => 0x5D,
        'Ü' => 0x5E,
        '§' => 0x5F,
        '¿' => 0x60,
        'ä' => 0x7B,
        'ö' => 0x7C,
        'ñ' => 0x7D,
        'ü' => 0x7E,
        'à' => 0x7F,
        _ => return extension(c).map(Code::Extended),
    };
    Some(Code::Basic(basic))
}

/// Extension-table septet of `c` (the one after the escape).
fn extension(c: char) -> Option<u8> {
    Some(match c {
        '\u{0C}' => 0x0A, // form feed
        '^' => 0x14,
        '{' => 0x28,
        '}' => 0x29,
        '\\' => 0x2F,
        '[' => 0x3C,
        '~' => 0x3D,
        ']' => 0x3E,
        '|' => 0x40,
        '€' => 0x65,
        _ => return None,
    })
}

/// Character of a basic-table septet (`septet` must be below 0x80).
pub(crate) fn basic_char(septet: u8) -> Option<char> {
    BASIC.get(usize::from(septet)).copied()
}

/// Character of an escaped septet. TS 23.038: a code missing from the extension table is
/// shown as the basic-table character, and escape-escape (reserved) as a space.
pub(crate) fn extended_char(septet: u8) -> Option<char> {
    let c = match septet {
        0x0A => '\u{0C}',
        0x14 => '^',
        0x28 => '{',
        0x29 => '}',
        0x2F => '\\',
        0x3C => '[',
        0x3D => '~',
        0x3E => ']',
        0x40 => '|',
        0x65 => '€',
        _ => return basic_char(septet),
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_table_round_trips_through_lookup() {
        for (septet, c) in (0u8..).zip(BASIC) {
            if septet == ESC {
                continue;
            }
            assert_eq!(lookup(c), Some(Code::Basic(septet)), "septet {septet:#04x}");
        }
    }

    #[test]
    fn basic_table_has_127_distinct_characters() {
        let mut chars: Vec<char> = BASIC.to_vec();
        chars.remove(usize::from(ESC));
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.len(), 127);
    }

    #[test]
    fn extension_table_has_the_ten_characters() {
        let ext = ['\u{0C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];
        for c in ext {
            let Some(Code::Extended(septet)) = lookup(c) else {
                panic!("{c:?} should be an extension character");
            };
            assert_eq!(extended_char(septet), Some(c));
        }
    }

    #[test]
    fn at_sign_is_zero_and_dollar_is_two() {
        assert_eq!(lookup('@'), Some(Code::Basic(0x00)));
        assert_eq!(lookup('$'), Some(Code::Basic(0x02)));
        assert_eq!(lookup('_'), Some(Code::Basic(0x11)));
        assert_eq!(lookup('¤'), Some(Code::Basic(0x24)));
    }

    #[test]
    fn look_alikes_outside_the_alphabet() {
        for c in [
            '`', 'ç', 'á', 'í', 'ó', 'ú', 'ê', '\t', '\u{A0}', '’', '—', '😀', '\0',
        ] {
            assert_eq!(lookup(c), None, "{c:?}");
        }
    }

    #[test]
    fn unknown_extension_code_falls_back_to_basic_table() {
        assert_eq!(extended_char(0x41), Some('A'));
        assert_eq!(extended_char(ESC), Some(' '));
        assert_eq!(extended_char(0x0D), Some('\r'));
    }
}
