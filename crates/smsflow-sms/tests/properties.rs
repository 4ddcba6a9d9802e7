//! Property tests: round trips, the 140-octet limit, concatenation headers, pairs never
//! split, and no panic on any input.

use proptest::prelude::*;
use smsflow_sms::{
    Concat, Encoding, EncodingError, Options, Part, Segmented, encode, gsm7, preview, segment,
    smart, ucs2,
};

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXT: &str = "^{}\\[~]|€\u{0C}";
/// Characters smart replacement knows.
const LOOK_ALIKES: &str =
    "\u{2019}\u{2018}\u{201C}\u{201D}\u{2013}\u{2014}\u{2026}\u{A0}\t`\u{FF21}\u{200B}";

fn chars_of(s: &'static str) -> Vec<char> {
    s.chars().collect()
}

fn gsm_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(chars_of(GSM_BASIC)),
        1 => prop::sample::select(chars_of(GSM_EXT)),
    ]
}

fn gsm_text() -> impl Strategy<Value = String> {
    prop::collection::vec(gsm_char(), 0..400).prop_map(|v| v.into_iter().collect())
}

/// Text mixing GSM-7, extension, look-alike, other BMP and astral characters, long enough
/// to need several parts, so that pairs land on part boundaries.
fn mixed_text() -> impl Strategy<Value = String> {
    let bmp = (0x80u32..0xFFFF).prop_filter_map("not a surrogate", char::from_u32);
    let astral = (0x1_0000u32..=0x10_FFFF).prop_filter_map("valid", char::from_u32);
    let c = prop_oneof![
        12 => prop::sample::select(chars_of(GSM_BASIC)),
        4 => prop::sample::select(chars_of(GSM_EXT)),
        1 => prop::sample::select(chars_of(LOOK_ALIKES)),
        1 => bmp,
        1 => astral,
    ];
    prop_oneof![
        // Mostly GSM-7: exercises escape pairs.
        2 => prop::collection::vec(prop_oneof![20 => gsm_char(), 1 => prop::sample::select(chars_of(LOOK_ALIKES))], 0..700),
        // Anything: exercises surrogate pairs.
        3 => prop::collection::vec(c, 0..500),
    ]
    .prop_map(|v| v.into_iter().collect())
}

fn concat() -> impl Strategy<Value = Concat> {
    prop_oneof![
        any::<u8>().prop_map(|reference| Concat::Udh8 { reference }),
        any::<u16>().prop_map(|reference| Concat::Udh16 { reference }),
    ]
}

fn options() -> impl Strategy<Value = Options> {
    any::<bool>().prop_map(|on| Options::default().with_smart_replacement(on))
}

fn decode_payload(part: &Part) -> Result<String, EncodingError> {
    match part.encoding {
        Encoding::Gsm7 => gsm7::decode(&part.payload),
        Encoding::Ucs2 => ucs2::decode(&part.payload),
    }
}

fn unit_cost(c: char, encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7 => gsm7::septet_len(c).unwrap_or(usize::MAX),
        Encoding::Ucs2 => ucs2::unit_len(c),
    }
}

/// Every invariant of a segmentation result.
fn check_segmented(
    text: &str,
    opts: &Options,
    concat: Concat,
    s: &Segmented,
) -> Result<(), TestCaseError> {
    let total = s.parts.len();
    prop_assert!(total >= 1);
    prop_assert_eq!(s.concat, concat);

    // The text that was split: the input unless smart replacement changed it.
    match s.text_changed {
        None => prop_assert!(!opts.smart_replacement && s.text == text),
        Some(false) => prop_assert!(opts.smart_replacement && s.text == text),
        Some(true) => {
            prop_assert!(opts.smart_replacement);
            prop_assert_eq!(s.encoding, Encoding::Gsm7);
            prop_assert_eq!(&s.text, &smart::replace(text));
        }
    }
    let joined: String = s.parts.iter().map(|p| p.text.as_str()).collect();
    prop_assert_eq!(&joined, &s.text);
    let payload: Vec<u8> = s
        .parts
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    prop_assert_eq!(payload, encode(text, opts).payload);

    let capacity = if total == 1 {
        match s.encoding {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    } else {
        concat.part_capacity(s.encoding)
    };
    for (i, part) in s.parts.iter().enumerate() {
        // Headers: same reference, total = number of parts, seq 1..=total in order.
        prop_assert_eq!(part.encoding, s.encoding);
        prop_assert_eq!(usize::from(part.seq), i + 1);
        prop_assert_eq!(usize::from(part.total), total);
        if total == 1 {
            prop_assert_eq!(&part.udh, &None);
        } else {
            let udh = part.udh.as_deref().unwrap_or_default();
            let expected = concat.header(part.total, part.seq);
            prop_assert_eq!(udh, expected.as_slice());
            prop_assert_eq!(usize::from(udh[0]) + 1, udh.len());
        }
        // Over the air: at most 140 octets, TP-UDL within 160 septets / 140 octets.
        let ud = part
            .packed_user_data()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(ud.len() <= 140, "part {} has {} octets", part.seq, ud.len());
        let udh_len = part.udh.as_ref().map_or(0, Vec::len);
        prop_assert_eq!(&ud[..udh_len], part.udh.as_deref().unwrap_or_default());
        match s.encoding {
            Encoding::Gsm7 => {
                let udl = part.user_data_length();
                prop_assert!(udl <= 160);
                prop_assert_eq!(ud.len(), (udl * 7).div_ceil(8));
                // Read as one septet stream, the text starts on the first septet boundary
                // after the header (TS 23.040 fill-bit rule).
                let all =
                    gsm7::unpack(&ud, 0, udl).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let skip = (udh_len * 8).div_ceil(7);
                prop_assert_eq!(&all[skip..], part.payload.as_slice());
            }
            Encoding::Ucs2 => {
                prop_assert!(part.user_data_length() <= 140);
                prop_assert_eq!(&ud[udh_len..], part.payload.as_slice());
            }
        }
        prop_assert!(part.units() <= capacity);
        // No escape or surrogate pair split: each part decodes on its own to its text.
        let decoded = decode_payload(part);
        prop_assert_eq!(decoded.as_deref(), Ok(part.text.as_str()));
        if s.encoding == Encoding::Gsm7 {
            prop_assert_ne!(part.payload.last(), Some(&gsm7::ESC));
        }
        // Greedy: a part ends only when the next character does not fit.
        if let Some(next) = s.parts.get(i + 1).and_then(|p| p.text.chars().next()) {
            prop_assert!(part.units() + unit_cost(next, s.encoding) > capacity);
        }
    }

    // The preview (8-bit reference) agrees with segmenting with an 8-bit reference.
    if let Concat::Udh8 { .. } = concat {
        let p = preview(text, opts);
        let last = s.parts.last().map_or(0, Part::units);
        prop_assert_eq!(p.encoding, s.encoding);
        prop_assert_eq!(p.parts, total);
        prop_assert_eq!(p.units_used, s.parts.iter().map(Part::units).sum::<usize>());
        prop_assert_eq!(p.units_per_part, capacity);
        prop_assert_eq!(p.units_left, capacity - last);
        prop_assert_eq!(p.text_changed, s.text_changed);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn gsm7_unpacked_round_trip(text in gsm_text()) {
        let septets = gsm7::encode(&text).unwrap();
        prop_assert!(septets.iter().all(|&s| s <= 0x7F));
        prop_assert_eq!(gsm7::decode(&septets).unwrap(), text);
    }

    #[test]
    fn gsm7_packed_round_trip(text in gsm_text(), fill in 0u8..=6) {
        let septets = gsm7::encode(&text).unwrap();
        let packed = gsm7::pack(&septets, fill).unwrap();
        prop_assert_eq!(packed.len(), (usize::from(fill) + 7 * septets.len()).div_ceil(8));
        let unpacked = gsm7::unpack(&packed, fill, septets.len()).unwrap();
        prop_assert_eq!(&unpacked, &septets);
        prop_assert_eq!(gsm7::decode(&unpacked).unwrap(), text);
    }

    #[test]
    fn ucs2_round_trip(text in any::<String>()) {
        let octets = ucs2::encode(&text);
        prop_assert_eq!(octets.len(), 2 * text.encode_utf16().count());
        prop_assert_eq!(ucs2::decode(&octets).unwrap(), text);
    }

    #[test]
    fn ucs2_round_trip_astral(text in prop::collection::vec((0x1_0000u32..=0x10_FFFF).prop_filter_map("valid", char::from_u32), 0..100)
        .prop_map(|v| v.into_iter().collect::<String>())) {
        prop_assert_eq!(ucs2::decode(&ucs2::encode(&text)).unwrap(), text);
    }

    #[test]
    fn segmentation_invariants(text in mixed_text(), opts in options(), concat in concat()) {
        let s = segment(&text, &opts, concat).unwrap();
        check_segmented(&text, &opts, concat, &s)?;
    }

    #[test]
    fn smart_replacement_is_gsm7_or_untouched(text in mixed_text()) {
        let opts = Options::default().with_smart_replacement(true);
        let e = encode(&text, &opts);
        if e.text_changed == Some(true) {
            prop_assert_eq!(e.encoding, Encoding::Gsm7);
        } else {
            prop_assert_eq!(&e.text, &text);
        }
        prop_assert_eq!(e.encoding == Encoding::Gsm7, gsm7::is_gsm7(&e.text));
    }

    #[test]
    fn any_text_never_panics(text in any::<String>(), opts in options(), concat in concat()) {
        let p = preview(&text, &opts);
        match segment(&text, &opts, concat) {
            Ok(s) => check_segmented(&text, &opts, concat, &s)?,
            Err(e) => prop_assert!(matches!(e, EncodingError::TooManyParts { .. }), "{}", e),
        }
        prop_assert_eq!(p.encoding, encode(&text, &opts).encoding);
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), fill in 0u8..=9, count in 0usize..400) {
        let _ = gsm7::decode(&bytes);
        let _ = ucs2::decode(&bytes);
        let _ = gsm7::pack(&bytes, fill);
        if let Ok(septets) = gsm7::unpack(&bytes, fill, count) {
            prop_assert_eq!(septets.len(), count);
            prop_assert!(septets.iter().all(|&s| s <= 0x7F));
            prop_assert!(gsm7::decode(&septets).is_ok());
        }
    }
}

#[test]
fn too_many_parts_is_a_typed_error() {
    for concat in [
        Concat::Udh8 { reference: 1 },
        Concat::Udh16 { reference: 1 },
    ] {
        let capacity = concat.part_capacity(Encoding::Ucs2);
        let fits = "ж".repeat(capacity * 255);
        assert_eq!(
            segment(&fits, &Options::default(), concat).map(|s| s.parts.len()),
            Ok(255)
        );
        let too_long = "ж".repeat(capacity * 255 + 1);
        assert_eq!(
            segment(&too_long, &Options::default(), concat),
            Err(EncodingError::TooManyParts { parts: 256 })
        );
    }
    assert_eq!(
        preview(&"ж".repeat(67 * 255 + 1), &Options::default()).parts,
        256
    );
}
