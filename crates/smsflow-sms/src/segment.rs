//! Splitting a message into parts.
//!
//! A message that fits one SMS (160 septets / 70 UCS-2 units) is one part without a header.
//! Otherwise parts are filled greedily up to [`Concat::part_capacity`] with whole
//! clusters (see `cluster`): what a reader sees as one character (an emoji with its skin
//! tone, a flag, a letter with its accents) never straddles two parts, and neither does a
//! GSM-7 escape pair or a UTF-16 surrogate pair. A cluster that does not fit moves whole to
//! the next part, which leaves the previous one short by the units it did not take. Only a
//! cluster longer than a whole part is split, between characters.

use std::convert::Infallible;

use crate::cluster::clusters;
use crate::concat::single_capacity;
use crate::encoding::{prepare, units};
use crate::{Concat, Encoding, EncodingError, MAX_PARTS, Options, gsm7, ucs2};

/// A message split into parts ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmented {
    /// Encoding of every part.
    pub encoding: Encoding,
    /// The text that was split: the input, or its smart replacement.
    pub text: String,
    /// `None` when smart replacement is off; otherwise whether it changed the text.
    pub text_changed: Option<bool>,
    /// How the parts are tied together (also carries the SAR reference).
    pub concat: Concat,
    /// The parts in order; never empty (empty text gives one empty part).
    pub parts: Vec<Part>,
}

/// One SMS of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Encoding of the payload (same for all parts of a message).
    pub encoding: Encoding,
    /// Position of this part, 1-based.
    pub seq: u8,
    /// Number of parts of the message.
    pub total: u8,
    /// The text this part carries.
    pub text: String,
    /// Encoded text of this part: unpacked GSM-7 septets (one per octet) or UTF-16BE.
    pub payload: Vec<u8>,
    /// Concatenation header (length octet included); `None` for a single-part message.
    pub udh: Option<Vec<u8>>,
}

impl Part {
    /// Units of text in this part: septets (GSM-7) or UTF-16 code units (UCS-2).
    #[must_use]
    pub fn units(&self) -> usize {
        match self.encoding {
            Encoding::Gsm7 => self.payload.len(),
            Encoding::Ucs2 => self.payload.len() / 2,
        }
    }

    /// SMPP `short_message` for this part: UDH (if any) then the unpacked payload. Send with
    /// `esm_class` 0x40 (UDHI) when [`Part::udh`] is `Some`. For GSM-7 the SMSC packs it.
    #[must_use]
    pub fn short_message(&self) -> Vec<u8> {
        let udh = self.udh.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(udh.len() + self.payload.len());
        out.extend_from_slice(udh);
        out.extend_from_slice(&self.payload);
        out
    }

    /// Over-the-air user data (TP-UD): UDH then the text, GSM-7 packed 7-bit after the
    /// fill bits that align it on a septet boundary. At most 140 octets for parts made by
    /// [`segment`].
    ///
    /// # Errors
    /// [`EncodingError::InvalidSeptet`] if the payload was altered to hold a byte above
    /// 0x7F (never for parts made by [`segment`]).
    pub fn packed_user_data(&self) -> Result<Vec<u8>, EncodingError> {
        let udh = self.udh.as_deref().unwrap_or_default();
        let mut out = udh.to_vec();
        match self.encoding {
            Encoding::Gsm7 => out.extend(gsm7::pack(&self.payload, gsm7::fill_bits(udh.len()))?),
            Encoding::Ucs2 => out.extend_from_slice(&self.payload),
        }
        Ok(out)
    }

    /// TP-UDL of [`Part::packed_user_data`]: for GSM-7 in septets (header and fill bits
    /// count as septets), for UCS-2 in octets.
    #[must_use]
    pub fn user_data_length(&self) -> usize {
        let udh_len = self.udh.as_ref().map_or(0, Vec::len);
        match self.encoding {
            Encoding::Gsm7 => gsm7::header_septets(udh_len) + self.payload.len(),
            Encoding::Ucs2 => udh_len + self.payload.len(),
        }
    }
}

/// Encodes `text` (see [`crate::encode`] for the choice) and splits it into parts tied
/// together with `concat`. A message that fits one SMS is one part without a header.
///
/// # Errors
/// [`EncodingError::TooManyParts`] if it needs more than [`MAX_PARTS`] parts.
pub fn segment(text: &str, opts: &Options, concat: Concat) -> Result<Segmented, EncodingError> {
    let prepared = prepare(text, opts);
    let encoding = prepared.encoding;
    let Ok(plan) = layout::<Infallible>(&prepared.text, encoding, concat, |_, _| Ok(()));
    let total = u8::try_from(plan.parts)
        .ok()
        .filter(|_| plan.parts <= MAX_PARTS)
        .ok_or(EncodingError::TooManyParts { parts: plan.parts })?;

    let mut parts: Vec<Part> = Vec::with_capacity(plan.parts);
    let mut position = 0;
    layout(&prepared.text, encoding, concat, |index, c| {
        if parts.len() <= index {
            let seq = u8::try_from(index + 1)
                .map_err(|_| EncodingError::TooManyParts { parts: plan.parts })?;
            parts.push(Part {
                encoding,
                seq,
                total,
                text: String::new(),
                payload: Vec::new(),
                udh: (total > 1).then(|| concat.header(total, seq)),
            });
        }
        // Never `None`: the part for `index` was pushed above.
        let part = parts
            .last_mut()
            .ok_or(EncodingError::TooManyParts { parts: plan.parts })?;
        part.text.push(c);
        match encoding {
            Encoding::Gsm7 => {
                // `prepare` chose GSM-7 only because every character has a code.
                let code = gsm7::lookup(c).ok_or(EncodingError::NotGsm7 { position })?;
                gsm7::push_code(code, &mut part.payload);
            }
            Encoding::Ucs2 => ucs2::push_str(c.encode_utf8(&mut [0; 4]), &mut part.payload),
        }
        position += 1;
        Ok(())
    })?;
    if parts.is_empty() {
        // Empty text: still one (empty) SMS.
        parts.push(Part {
            encoding,
            seq: 1,
            total: 1,
            text: String::new(),
            payload: Vec::new(),
            udh: None,
        });
    }
    Ok(Segmented {
        encoding,
        text: prepared.text.into_owned(),
        text_changed: prepared.text_changed,
        concat,
        parts,
    })
}

/// Outcome of laying a text out into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Number of parts (1 for empty text); may exceed [`MAX_PARTS`].
    pub(crate) parts: usize,
    /// Units of the whole text.
    pub(crate) units: usize,
    /// Units in the last part.
    pub(crate) last_part_units: usize,
    /// Capacity of each part: one SMS without header, or a concatenated part.
    pub(crate) capacity: usize,
}

/// The splitting rule, shared by [`segment`] and [`crate::preview`]: calls `visit` with the
/// 0-based part index of every character, in order, and returns the totals.
///
/// Parts are filled greedily with whole clusters (see [`crate::cluster`]): a cluster that
/// does not fit in what is left of a part starts the next one. A cluster longer than a
/// whole part (say, a letter with dozens of combining marks) cannot be kept whole within
/// 140 octets; it is split between characters, filling parts greedily, like any text.
/// A character is never split, so escape and surrogate pairs always stay whole.
pub(crate) fn layout<E>(
    text: &str,
    encoding: Encoding,
    concat: Concat,
    mut visit: impl FnMut(usize, char) -> Result<(), E>,
) -> Result<Plan, E> {
    let total: usize = text.chars().map(|c| units(c, encoding)).sum();
    let single = single_capacity(encoding);
    let capacity = if total <= single {
        single
    } else {
        concat.part_capacity(encoding)
    };
    let mut index = 0;
    let mut used = 0;
    // Reserves `cost` units, in the next part if they do not fit in this one.
    let mut place = |cost: usize| {
        if used + cost > capacity {
            index += 1;
            used = 0;
        }
        used += cost;
        index
    };
    for cluster in clusters(text) {
        let cost: usize = cluster.chars().map(|c| units(c, encoding)).sum();
        if cost <= capacity {
            let part = place(cost);
            for c in cluster.chars() {
                visit(part, c)?;
            }
        } else {
            for c in cluster.chars() {
                visit(place(units(c, encoding)), c)?;
            }
        }
    }
    Ok(Plan {
        parts: index + 1,
        units: total,
        last_part_units: used,
        capacity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const U8: Concat = Concat::Udh8 { reference: 0x42 };
    const U16: Concat = Concat::Udh16 { reference: 0x4243 };

    fn seg(text: &str, concat: Concat) -> Segmented {
        segment(text, &Options::default(), concat).unwrap()
    }

    fn units_per_part(s: &Segmented) -> Vec<usize> {
        s.parts.iter().map(Part::units).collect()
    }

    #[test]
    fn single_part_has_no_header() {
        let s = seg(&"a".repeat(160), U8);
        assert_eq!(s.parts.len(), 1);
        assert_eq!(s.parts[0].udh, None);
        assert_eq!((s.parts[0].seq, s.parts[0].total), (1, 1));
        assert_eq!(s.parts[0].packed_user_data().unwrap().len(), 140);
    }

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(units_per_part(&seg(&"a".repeat(161), U8)), [153, 8]);
        assert_eq!(units_per_part(&seg(&"a".repeat(306), U8)), [153, 153]);
        assert_eq!(units_per_part(&seg(&"a".repeat(307), U8)), [153, 153, 1]);
        assert_eq!(units_per_part(&seg(&"a".repeat(161), U16)), [152, 9]);
    }

    #[test]
    fn escape_pair_moves_whole_to_next_part() {
        // 152 septets then '€' (2 septets): it would end at septet 154, so it moves.
        let s = seg(&format!("{}€{}", "a".repeat(152), "b".repeat(10)), U8);
        assert_eq!(units_per_part(&s), [152, 12]);
        assert_eq!(s.parts[1].payload[..2], [gsm7::ESC, 0x65]);
        assert_ne!(s.parts[0].payload.last(), Some(&gsm7::ESC));
        // 151 + 2 = 153: fits exactly.
        let s = seg(&format!("{}{{{}", "a".repeat(151), "b".repeat(10)), U8);
        assert_eq!(units_per_part(&s), [153, 10]);
        // Same with the 16-bit reference: 151 + 2 > 152.
        let s = seg(&format!("{}€{}", "a".repeat(151), "b".repeat(10)), U16);
        assert_eq!(units_per_part(&s), [151, 12]);
    }

    #[test]
    fn extension_characters_count_double_for_the_single_part_limit() {
        assert_eq!(seg(&"€".repeat(80), U8).parts.len(), 1);
        assert_eq!(units_per_part(&seg(&"€".repeat(81), U8)), [152, 10]);
    }

    #[test]
    fn ucs2_boundaries() {
        assert_eq!(units_per_part(&seg(&"ж".repeat(70), U8)), [70]);
        assert_eq!(units_per_part(&seg(&"ж".repeat(71), U8)), [67, 4]);
        assert_eq!(units_per_part(&seg(&"ж".repeat(71), U16)), [66, 5]);
        assert_eq!(units_per_part(&seg(&"ж".repeat(134), U8)), [67, 67]);
    }

    #[test]
    fn surrogate_pair_moves_whole_to_next_part() {
        let s = seg(&format!("{}😀{}", "ж".repeat(66), "ж".repeat(10)), U8);
        assert_eq!(units_per_part(&s), [66, 12]);
        assert!(s.parts[1].text.starts_with('😀'));
        let s = seg(&format!("{}😀{}", "ж".repeat(65), "ж".repeat(10)), U8);
        assert_eq!(units_per_part(&s), [67, 10]);
        // 35 emoji = 70 units: one SMS. 36 emoji = 72 units: 33 per part (66 units).
        assert_eq!(units_per_part(&seg(&"😀".repeat(35), U8)), [70]);
        assert_eq!(units_per_part(&seg(&"😀".repeat(36), U8)), [66, 6]);
    }

    #[test]
    fn grapheme_cluster_moves_whole_to_next_part() {
        // 65 units + 👍🏽 (4 units) > 67: the emoji and its skin tone start part 2.
        let s = seg(&format!("{}👍🏽{}", "ж".repeat(65), "ж".repeat(10)), U8);
        assert_eq!(units_per_part(&s), [65, 14]);
        assert!(s.parts[1].text.starts_with("👍🏽"));
        // Which can cost a part, as in Twilio's calculator.
        let s = seg(&format!("{}👍🏽{}", "ж".repeat(65), "ж".repeat(65)), U8);
        assert_eq!(units_per_part(&s), [65, 67, 2]);
        // A ZWJ family (11 units) from unit 61 on.
        let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
        let s = seg(&format!("{}{family}{}", "ж".repeat(60), "ж".repeat(20)), U8);
        assert_eq!(units_per_part(&s), [60, 31]);
        // Ending exactly on the boundary, it stays.
        let s = seg(&format!("{}{family}{}", "ж".repeat(56), "ж".repeat(20)), U8);
        assert_eq!(units_per_part(&s), [67, 20]);
    }

    #[test]
    fn cluster_longer_than_a_part_is_split_between_characters() {
        // One cluster of 81 units cannot fit in 67: split, filling parts greedily.
        let s = seg(&format!("e{}", "\u{301}".repeat(80)), U8);
        assert_eq!(units_per_part(&s), [67, 14]);
        let s = seg(&format!("{}e{}", "ж".repeat(10), "\u{301}".repeat(80)), U8);
        assert_eq!(units_per_part(&s), [67, 24]);
        assert!(
            s.parts
                .iter()
                .all(|p| p.packed_user_data().unwrap().len() <= 140)
        );
    }

    #[test]
    fn a_part_may_end_inside_crlf_or_after_a_virama() {
        // As in the calculator: CR and LF count as two characters...
        let s = seg(&format!("{}\r\n{}", "a".repeat(152), "b".repeat(10)), U8);
        assert_eq!(units_per_part(&s), [153, 11]);
        assert_eq!(s.parts[1].text.chars().next(), Some('\n'));
        // ... and "स्ते" is "स्" + "ते" (Unicode 10 rules).
        let s = seg(&format!("{}स्ते{}", "ж".repeat(65), "ж".repeat(5)), U8);
        assert_eq!(units_per_part(&s), [67, 7]);
        assert!(s.parts[1].text.starts_with("ते"));
    }

    #[test]
    fn headers_are_consistent() {
        let s = seg(&"x".repeat(500), U16);
        assert_eq!(s.parts.len(), 4);
        for (i, part) in s.parts.iter().enumerate() {
            assert_eq!(part.seq as usize, i + 1);
            assert_eq!(part.total, 4);
            assert_eq!(
                part.udh.as_deref(),
                Some(&[0x06, 0x08, 0x04, 0x42, 0x43, 4, part.seq][..])
            );
            assert!(part.packed_user_data().unwrap().len() <= 140);
        }
        assert_eq!(s.parts[0].user_data_length(), 160);
        assert_eq!(s.parts[0].packed_user_data().unwrap().len(), 140);
    }

    #[test]
    fn short_message_is_header_then_unpacked_payload() {
        let s = seg(&"a".repeat(200), U8);
        let sm = s.parts[0].short_message();
        assert_eq!(sm.len(), 6 + 153);
        assert_eq!(sm[..6], [0x05, 0x00, 0x03, 0x42, 2, 1]);
        assert_eq!(s.parts[0].packed_user_data().unwrap().len(), 140);
        assert_eq!(s.parts[0].user_data_length(), 160);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// TP-UDL and TP-UD as python-gsmmodem-new 0.13.0 `encodeSmsSubmitPdu` builds them
    /// (an independent implementation, same 8-bit reference UDH and fill bit).
    #[test]
    fn packed_user_data_matches_an_independent_encoder() {
        let s = seg(&format!("{}€{}", "a".repeat(152), "b".repeat(20)), U8);
        let first = hex(&format!(
            "{}{}{}",
            "050003420201c2e170381c0e87",
            "c3e170381c0e87".repeat(18),
            "01"
        ));
        assert_eq!(
            (
                s.parts[0].user_data_length(),
                s.parts[0].packed_user_data().unwrap()
            ),
            (159, first)
        );
        let second = hex("0500034202023665b1582c168bc562b1582c168bc562b1582c06");
        assert_eq!(
            (
                s.parts[1].user_data_length(),
                s.parts[1].packed_user_data().unwrap()
            ),
            (29, second)
        );

        let s = seg(&"x".repeat(161), U8);
        let second = hex("050003420202f0783c1e8fc7e301");
        assert_eq!(
            (
                s.parts[1].user_data_length(),
                s.parts[1].packed_user_data().unwrap()
            ),
            (15, second)
        );

        let s = seg("hello{}", U8);
        assert_eq!(
            (
                s.parts[0].user_data_length(),
                s.parts[0].packed_user_data().unwrap()
            ),
            (9, hex("e8329bfddea03629"))
        );
    }

    #[test]
    fn empty_text_is_one_empty_part() {
        let s = seg("", U8);
        assert_eq!(s.parts.len(), 1);
        assert_eq!(
            (s.parts[0].seq, s.parts[0].total, s.parts[0].payload.len()),
            (1, 1, 0)
        );
    }

    #[test]
    fn at_most_255_parts() {
        assert_eq!(seg(&"a".repeat(153 * 255), U8).parts.len(), 255);
        assert_eq!(
            segment(&"a".repeat(153 * 255 + 1), &Options::default(), U8),
            Err(EncodingError::TooManyParts { parts: 256 })
        );
    }

    #[test]
    fn smart_replacement_is_reported() {
        let s = segment("“Hi”", &Options::default().with_smart_replacement(true), U8).unwrap();
        assert_eq!(
            (s.encoding, s.text.as_str(), s.text_changed),
            (Encoding::Gsm7, "\"Hi\"", Some(true))
        );
        assert_eq!(s.parts[0].text, "\"Hi\"");
    }
}
