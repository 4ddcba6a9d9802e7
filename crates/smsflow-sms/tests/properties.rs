//! Property tests: round trips, the 140-octet limit, concatenation headers, pairs and
//! grapheme clusters never split (unless a cluster is longer than a part), greedy parts,
//! preview == segment, and no panic on any input.

mod common;

use common::calculator_clusters;
use proptest::prelude::*;
use smsflow_sms::{
    Concat, Encoding, EncodingError, Options, Part, Segmented, encode, gsm7, preview, segment,
    smart, ucs2,
};
use unicode_segmentation::UnicodeSegmentation;

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

/// Multi-code-point grapheme clusters (and CR LF, Indic conjuncts), each known to the
/// calculator's Unicode 10 rules, mixed with plain text so that they land on part
/// boundaries; sometimes a cluster longer than a whole part.
const CLUSTER_PIECES: &[&str] = &[
    "a",
    "ж",
    "ж",
    "ж",
    "中",
    " ",
    "😀",
    "👍🏽",
    "👍🏿",
    "🙋🏾\u{200D}♀\u{FE0F}",
    "👨\u{200D}👩\u{200D}👧\u{200D}👦",
    "🏳\u{FE0F}\u{200D}🌈",
    "🇫🇷",
    "🇯🇵🇩🇪",
    "1\u{FE0F}\u{20E3}",
    "#\u{FE0F}\u{20E3}",
    "❤\u{FE0F}",
    "e\u{301}",
    "e\u{301}\u{323}",
    "\u{1112}\u{1161}\u{11AB}",
    "กำ",
    "\u{600}\u{661}",
    "\r\n",
    "\r",
    "\n",
    "नमस्ते",
    "स्त्री",
    "क्\u{200D}ष",
    "क़ि",
    "ক্ষ",
    "ক্ত",
    "ક્ષ",
    "க்ஷ",
    "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
];
const GSM_PIECES: &[&str] = &["a", "b", " ", "\r\n", "\r", "\n", "€", "{", "@"];

fn cluster_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        30 => prop::sample::select(CLUSTER_PIECES).prop_map(str::to_owned),
        1 => (60usize..200).prop_map(|n| format!("e{}", "\u{301}".repeat(n))),
    ];
    prop_oneof![
        3 => prop::collection::vec(piece, 0..150),
        1 => prop::collection::vec(prop::sample::select(GSM_PIECES).prop_map(str::to_owned), 0..400),
    ]
    .prop_map(|v| v.concat())
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
    }
    check_part_ends(s, capacity)?;

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

fn units_of(text: &str, encoding: Encoding) -> usize {
    text.chars().map(|c| unit_cost(c, encoding)).sum()
}

/// Where parts end: never inside a cluster the calculator keeps whole (grapheme clusters,
/// see `common`) unless that cluster is longer than a part, and only when what comes next
/// does not fit (the next cluster, or the next character of a cluster longer than a part).
fn check_part_ends(s: &Segmented, capacity: usize) -> Result<(), TestCaseError> {
    let mut clusters = Vec::new();
    let mut start = 0;
    for cluster in calculator_clusters(&s.text) {
        clusters.push((start, cluster));
        start += cluster.len();
    }
    let mut end = 0;
    for (part, next_part) in s.parts.iter().zip(s.parts.iter().skip(1)) {
        end += part.text.len();
        let next_char = next_part.text.chars().next();
        prop_assert!(next_char.is_some(), "part {} is empty", next_part.seq);
        let next_char = next_char.unwrap_or_default();
        let (start, cluster) = clusters
            .iter()
            .copied()
            .take_while(|&(start, _)| start <= end)
            .last()
            .unwrap_or_default();
        let cost = units_of(cluster, s.encoding);
        let oversized = cost > capacity;
        prop_assert!(
            start == end || oversized,
            "part {} ends inside {:?} ({} units, part holds {})",
            part.seq,
            cluster,
            cost,
            capacity
        );
        let next_cost = if oversized {
            unit_cost(next_char, s.encoding)
        } else {
            cost
        };
        prop_assert!(
            part.units() + next_cost > capacity,
            "part {} ({} units of {}) ends before {:?}, which fits",
            part.seq,
            part.units(),
            capacity,
            if oversized {
                next_char.to_string()
            } else {
                cluster.to_owned()
            }
        );
    }
    Ok(())
}

/// The same against plain UAX #29 clusters: a part ends inside one only between CR and LF,
/// after a virama (before the consonant GB9c joins to it), or in a cluster longer than a
/// part. Checked on texts whose only viramas are the Indic ones of `CLUSTER_PIECES`.
fn check_grapheme_clusters_whole(s: &Segmented, capacity: usize) -> Result<(), TestCaseError> {
    const VIRAMAS: &[char] = &['\u{94D}', '\u{9CD}', '\u{ACD}', '\u{BCD}'];
    let mut end = 0;
    for part in &s.parts[..s.parts.len() - 1] {
        end += part.text.len();
        let Some((start, grapheme)) = s
            .text
            .grapheme_indices(true)
            .find(|&(start, g)| start < end && end < start + g.len())
        else {
            continue; // the part ends between two grapheme clusters
        };
        let (before, after) = grapheme.split_at(end - start);
        let last_before = before.chars().rev().find(|&c| c != '\u{200D}');
        let crlf = before.ends_with('\r') && after.starts_with('\n');
        let conjunct = last_before.is_some_and(|c| VIRAMAS.contains(&c))
            && after.chars().next().is_some_and(char::is_alphabetic);
        prop_assert!(
            crlf || conjunct || units_of(grapheme, s.encoding) > capacity,
            "part {} ends inside grapheme cluster {:?}: {:?} | {:?}",
            part.seq,
            grapheme,
            before,
            after
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_grapheme_cluster_split_unless_longer_than_a_part(text in cluster_text(), concat in concat()) {
        let opts = Options::default();
        let s = segment(&text, &opts, concat).unwrap();
        // Includes: parts concatenate to the text, at most 140 octets each, greedy part
        // ends, no pair split, preview == segment (8-bit reference).
        check_segmented(&text, &opts, concat, &s)?;
        let capacity = if s.parts.len() == 1 { usize::MAX } else { concat.part_capacity(s.encoding) };
        check_grapheme_clusters_whole(&s, capacity)?;
    }

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
