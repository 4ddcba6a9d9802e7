//! Carrier message id normalisation.
//!
//! The classic receipt-correlation bug: the carrier answers submit_sm with a hexadecimal
//! `message_id` (`"1A2B"`) and later sends the receipt with the same number in decimal
//! (`"6699"`), or in another letter case. Each place an id comes from has its own
//! [`IdFormat`] in [`IdNormalisation`]; numeric formats are turned into one canonical form
//! (the decimal value without leading zeros, of any length), free-form ids are compared
//! case-insensitively by default. Both sides of the correlation then hold the same
//! [`CarrierMessageId`].

use std::fmt;

use serde::Deserialize;

/// How a carrier writes message ids in one place (submit_sm_resp, receipt text, TLV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdFormat {
    /// Free-form id, kept as it is (lower-cased when `ignore_case` is set).
    #[default]
    AsIs,
    /// Hexadecimal number (any case, optional `0x` prefix); canonicalised to its decimal value.
    Hex,
    /// Decimal number (leading zeros allowed); canonicalised to its decimal value.
    Decimal,
}

/// Per-carrier id normalisation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdNormalisation {
    /// Format of `message_id` in submit_sm_resp.
    pub submit_response: IdFormat,
    /// Format of the `id:` field in the receipt text.
    pub receipt_text: IdFormat,
    /// Format of the `receipted_message_id` TLV (0x001E) in receipts.
    pub receipt_tlv: IdFormat,
    /// Compare free-form (`as_is`) ids case-insensitively by lower-casing them.
    pub ignore_case: bool,
}

impl Default for IdNormalisation {
    fn default() -> Self {
        Self {
            submit_response: IdFormat::AsIs,
            receipt_text: IdFormat::AsIs,
            receipt_tlv: IdFormat::AsIs,
            ignore_case: true,
        }
    }
}

/// Where an id came from; selects the [`IdFormat`] to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// `message_id` of a submit_sm_resp.
    SubmitResponse,
    /// `id:` field of a receipt's text.
    ReceiptText,
    /// `receipted_message_id` TLV of a receipt.
    ReceiptTlv,
}

impl IdNormalisation {
    /// Normalises a raw id seen at `source` into the canonical form used for correlation.
    pub fn normalise(&self, raw: &str, source: IdSource) -> CarrierMessageId {
        let format = match source {
            IdSource::SubmitResponse => self.submit_response,
            IdSource::ReceiptText => self.receipt_text,
            IdSource::ReceiptTlv => self.receipt_tlv,
        };
        CarrierMessageId(normalise_id(raw, format, self.ignore_case))
    }
}

/// A carrier message id in canonical form: equal values mean the same carrier message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CarrierMessageId(String);

impl CarrierMessageId {
    /// Wraps an already-canonical id (e.g. read back from storage).
    pub fn from_canonical(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The canonical id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CarrierMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalises one raw id. Numeric formats become the decimal value without leading zeros;
/// when the raw id is not a valid number of that format it falls back to the free-form rule
/// (trimmed of whitespace, and of NUL padding at the end; lower-cased when `ignore_case`), so
/// nothing is ever dropped.
pub fn normalise_id(raw: &str, format: IdFormat, ignore_case: bool) -> String {
    // Whitespace and NUL padding at the end in any order ("ab \0", "ab\0\n"): trimming one
    // kind and then the other would leave the first behind, and normalising the result again
    // would change it (found by the `receipt_text` fuzz target).
    let trimmed = raw
        .trim_start()
        .trim_end_matches(|c: char| c.is_whitespace() || c == '\0');
    let numeric = match format {
        IdFormat::AsIs => None,
        IdFormat::Hex => {
            let digits = trimmed
                .strip_prefix("0x")
                .or_else(|| trimmed.strip_prefix("0X"))
                .unwrap_or(trimmed);
            digits_to_decimal(digits, 16)
        }
        IdFormat::Decimal => digits_to_decimal(trimmed, 10),
    };
    match numeric {
        Some(decimal) => decimal,
        None if ignore_case => trimmed.to_ascii_lowercase(),
        None => trimmed.to_owned(),
    }
}

/// Converts a string of digits in `radix` (10 or 16) of any length to its decimal value
/// without leading zeros. `None` when empty or when a character is not a digit of `radix`.
fn digits_to_decimal(digits: &str, radix: u32) -> Option<String> {
    if digits.is_empty() {
        return None;
    }
    // Little-endian limbs in base 10^9.
    const BASE: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = vec![0];
    for ch in digits.chars() {
        let digit = u64::from(ch.to_digit(radix)?);
        let mut carry = digit;
        for limb in &mut limbs {
            let value = *limb * u64::from(radix) + carry;
            *limb = value % BASE;
            carry = value / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = String::with_capacity(limbs.len() * 9);
    let mut iter = limbs.iter().rev();
    if let Some(first) = iter.next() {
        out.push_str(&first.to_string());
    }
    for limb in iter {
        out.push_str(&format!("{limb:09}"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_and_decimal_agree() {
        assert_eq!(normalise_id("1A2B", IdFormat::Hex, true), "6699");
        assert_eq!(normalise_id("0x1a2b", IdFormat::Hex, true), "6699");
        assert_eq!(normalise_id("0006699", IdFormat::Decimal, true), "6699");
        assert_eq!(normalise_id("0", IdFormat::Decimal, true), "0");
        assert_eq!(normalise_id("000", IdFormat::Hex, true), "0");
    }

    #[test]
    fn as_is_is_case_insensitive_by_default() {
        assert_eq!(normalise_id(" AbC-1\0", IdFormat::AsIs, true), "abc-1");
        assert_eq!(normalise_id("AbC-1", IdFormat::AsIs, false), "AbC-1");
    }

    #[test]
    fn mixed_nul_and_whitespace_padding_is_trimmed_at_once() {
        // Regression (fuzz/, `receipt_text`): "x\u{3}\0\0\n\0" normalised to "x\u{3}\0\0\n",
        // which normalised again to "x\u{3}".
        for raw in ["AbC\0\0\n\0\0", "AbC \0", " AbC\n\0 \0"] {
            let once = normalise_id(raw, IdFormat::AsIs, true);
            assert_eq!(once, "abc", "{raw:?}");
            assert_eq!(normalise_id(&once, IdFormat::AsIs, true), once);
        }
        assert_eq!(normalise_id("1A2B \0\n", IdFormat::Hex, true), "6699");
        assert_eq!(normalise_id("0066\0 ", IdFormat::Decimal, true), "66");
    }

    #[test]
    fn invalid_numbers_fall_back_to_free_form() {
        assert_eq!(normalise_id("XYZ", IdFormat::Hex, true), "xyz");
        assert_eq!(normalise_id("12a", IdFormat::Decimal, true), "12a");
        assert_eq!(normalise_id("", IdFormat::Decimal, true), "");
    }

    #[test]
    fn long_ids_beyond_u128() {
        let hex = "F".repeat(40); // 160 bits
        let dec = normalise_id(&hex, IdFormat::Hex, true);
        assert_eq!(dec, "1461501637330902918203684832716283019655932542975");
        assert_eq!(normalise_id(&dec, IdFormat::Decimal, true), dec);
    }

    #[test]
    fn per_source_formats_apply() {
        let norm = IdNormalisation {
            submit_response: IdFormat::Hex,
            receipt_text: IdFormat::Decimal,
            receipt_tlv: IdFormat::Hex,
            ignore_case: true,
        };
        let a = norm.normalise("00ff", IdSource::SubmitResponse);
        let b = norm.normalise("255", IdSource::ReceiptText);
        let c = norm.normalise("FF", IdSource::ReceiptTlv);
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    proptest! {
        #[test]
        fn hex_decimal_agreement(n in any::<u128>(), upper in any::<bool>(), zeros in 0usize..4) {
            let hex = if upper { format!("{n:X}") } else { format!("{n:x}") };
            let hex = format!("{}{hex}", "0".repeat(zeros));
            let dec = format!("{}{n}", "0".repeat(zeros));
            prop_assert_eq!(normalise_id(&hex, IdFormat::Hex, true), n.to_string());
            prop_assert_eq!(normalise_id(&dec, IdFormat::Decimal, true), n.to_string());
        }

        #[test]
        fn normalisation_is_idempotent(raw in "[0-9A-Za-z-]{0,40}", fmt in 0u8..3, ic in any::<bool>()) {
            let format = [IdFormat::AsIs, IdFormat::Hex, IdFormat::Decimal][usize::from(fmt)];
            let once = normalise_id(&raw, format, ic);
            // A canonical decimal re-read as decimal, or a free-form id re-read as-is, is stable.
            let again_format = if once.chars().all(|c| c.is_ascii_digit()) && !once.is_empty()
                && format != IdFormat::AsIs { IdFormat::Decimal } else { IdFormat::AsIs };
            prop_assert_eq!(normalise_id(&once, again_format, ic), once.clone());
        }

        #[test]
        fn long_hex_round_trips_through_decimal(digits in "[1-9a-f][0-9a-f]{0,63}") {
            let dec = normalise_id(&digits, IdFormat::Hex, true);
            // Convert the decimal back to hex by repeated division (independent path).
            let mut limbs: Vec<u32> = dec.bytes().map(|b| u32::from(b - b'0')).collect();
            let mut hex = Vec::new();
            while !(limbs.is_empty() || limbs.len() == 1 && limbs[0] == 0) {
                let mut rem = 0u32;
                let mut next = Vec::with_capacity(limbs.len());
                for d in &limbs {
                    let cur = rem * 10 + d;
                    let q = cur / 16;
                    rem = cur % 16;
                    if !(next.is_empty() && q == 0) { next.push(q); }
                }
                hex.push(char::from_digit(rem, 16).unwrap_or('?'));
                limbs = if next.is_empty() { vec![0] } else { next };
            }
            let back: String = hex.iter().rev().collect();
            prop_assert_eq!(back, digits);
        }
    }
}
