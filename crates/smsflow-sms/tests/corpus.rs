//! smsflow-sms against Twilio's segment calculator (npm `sms-segments-calculator`).
//!
//! `corpus.json` is written by `tools/sms-corpus/generate.js` (regenerate with
//! `cd tools/sms-corpus && npm ci && node generate.js`). For each message it holds what the
//! calculator reports with auto encoding and smart encoding off: encoding, number of
//! segments, units per segment, total units, `numberOfCharacters` and
//! `numberOfUnicodeScalars`.
//!
//! What the calculator counts, and how we compare like with like:
//! - It fills 140-octet segments and, once a message needs two, reserves a 6-octet UDH
//!   in every segment: 153 septets or 67 UTF-16 units per part. That is our
//!   `Concat::Udh8`, so we segment with it (the reference value does not matter).
//! - Smart encoding is off on both sides (`Options::default()`).
//! - Its units per segment are the segment's message bits (UDH excluded) divided by 7
//!   (GSM-7) or 16 (UCS-2): septets with extension characters counting 2, or UTF-16
//!   code units. That is what `Part::units` and `Preview::units_used` count.
//! - `numberOfCharacters` is septets for GSM-7 (compared) but grapheme clusters for
//!   UCS-2 (not compared: we do not count graphemes).
//!
//! Where it disagrees (listed in [`DIVERGENCES`], each checked both ways so the list
//! cannot go stale): the calculator never splits an extended grapheme cluster across
//! segments (an emoji with a skin-tone modifier, a ZWJ family, a flag, a keycap, a letter
//! with a combining accent, Devanagari syllables). 3GPP TS 23.040 only requires that a
//! character not be split; our rule is to keep GSM-7 escape pairs and UTF-16 surrogate
//! pairs whole and nothing more, so such a cluster may start in one part and end in the
//! next (handsets reassemble the parts before display). Encoding and total units still
//! agree; the split point differs, which can change the part count by one
//! (`grapheme/skin-tone-adds-a-part`). For a cluster longer than a whole part
//! (`grapheme/longer-than-a-part`) the calculator leaves an empty first segment and puts
//! 81 units (162 octets, over the 140-octet limit) in the second; we split it.
//! The calculator counts 256 segments for `gsm/a-x39016`; we agree in the preview and
//! `segment` refuses it with `TooManyParts` (a UDH numbers at most 255 parts).

use serde::Deserialize;
use smsflow_sms::{
    Concat, Encoding, EncodingError, MAX_PARTS, Options, Part, Preview, gsm7, preview, segment,
    ucs2,
};

#[derive(Debug, Deserialize)]
struct Corpus {
    calculator: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    id: String,
    text: String,
    encoding: String,
    segments: usize,
    segment_units: Vec<usize>,
    units: usize,
    characters: usize,
    unicode_scalars: usize,
}

/// A corpus entry where we knowingly split differently from the calculator.
struct Divergence {
    id: &'static str,
    /// Our units per part.
    ours: &'static [usize],
    why: &'static str,
}

const CLUSTER: &str =
    "calculator keeps a multi-code-point grapheme cluster whole; we split between code points";

const DIVERGENCES: &[Divergence] = &[
    // 65 units + 👍 (2) = 67; the skin-tone modifier 🏽 starts part 2. Calculator: [65, 14].
    Divergence {
        id: "grapheme/skin-tone-at-67",
        ours: &[67, 12],
        why: CLUSTER,
    },
    // Same split point; calculator [65, 67, 2] needs a third part.
    Divergence {
        id: "grapheme/skin-tone-adds-a-part",
        ours: &[67, 67],
        why: CLUSTER,
    },
    // The 11-unit ZWJ family starts at unit 61: 👨 ZWJ 👩 ZWJ fill units 61-66, 👧 (2 units)
    // does not fit and starts part 2. Calculator: [60, 31].
    Divergence {
        id: "grapheme/zwj-family-at-67",
        ours: &[66, 25],
        why: CLUSTER,
    },
    // Regional indicator 🇫 fits at 66-67, 🇷 goes to part 2. Calculator: [65, 14].
    Divergence {
        id: "grapheme/flag-at-67",
        ours: &[67, 12],
        why: CLUSTER,
    },
    // 'e' ends part 1, the combining acute starts part 2. Calculator: [66, 7].
    Divergence {
        id: "grapheme/combining-acute-at-67",
        ours: &[67, 6],
        why: CLUSTER,
    },
    // '1' and U+FE0F end part 1, U+20E3 starts part 2. Calculator: [65, 8].
    Divergence {
        id: "grapheme/keycap-at-67",
        ours: &[67, 6],
        why: CLUSTER,
    },
    // One 81-unit cluster: calculator [0, 81] overflows a segment (162 octets); we split.
    Divergence {
        id: "grapheme/longer-than-a-part",
        ours: &[67, 14],
        why: "cluster longer than a part: calculator overflows 140 octets, we split it",
    },
    // Devanagari conjuncts and vowel signs straddle the 67-unit boundaries. Calculator: [66, 67, 42].
    Divergence {
        id: "grapheme/hindi-long",
        ours: &[67, 67, 41],
        why: CLUSTER,
    },
];

const CORPUS: &str = include_str!("corpus.json");

fn shown(text: &str) -> String {
    let escaped = format!("{text:?}");
    if escaped.chars().count() > 90 {
        format!(
            "{}...\" ({} chars)",
            escaped.chars().take(80).collect::<String>(),
            text.chars().count()
        )
    } else {
        escaped
    }
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2",
    }
}

/// Checks one entry; returns what disagrees.
fn check(entry: &Entry) -> Vec<String> {
    let mut errors = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            errors.push(what);
        }
    };
    let opts = Options::default();
    let p: Preview = preview(&entry.text, &opts);

    expect(
        encoding_name(p.encoding) == entry.encoding,
        format!("encoding {:?}, calculator {}", p.encoding, entry.encoding),
    );
    expect(
        p.units_used == entry.units,
        format!("units {}, calculator {}", p.units_used, entry.units),
    );
    expect(
        entry.text.chars().count() == entry.unicode_scalars,
        format!(
            "{} chars, calculator {} scalars",
            entry.text.chars().count(),
            entry.unicode_scalars
        ),
    );
    if p.encoding == Encoding::Gsm7 {
        expect(
            p.units_used == entry.characters,
            format!(
                "septets {}, calculator characters {}",
                p.units_used, entry.characters
            ),
        );
    }

    let divergence = DIVERGENCES.iter().find(|d| d.id == entry.id);
    let result = segment(&entry.text, &opts, Concat::Udh8 { reference: 0x5A });
    let ours: Vec<usize> = match result {
        Ok(segmented) => {
            expect(
                segmented.parts.len() == p.parts,
                format!(
                    "segment gives {} parts, preview {}",
                    segmented.parts.len(),
                    p.parts
                ),
            );
            for part in &segmented.parts {
                check_part(part, &mut expect);
            }
            segmented.parts.iter().map(Part::units).collect()
        }
        Err(EncodingError::TooManyParts { parts }) => {
            expect(
                parts == entry.segments && parts > MAX_PARTS,
                format!("TooManyParts({parts}), calculator {}", entry.segments),
            );
            expect(
                p.parts == entry.segments,
                format!("preview {} parts, calculator {}", p.parts, entry.segments),
            );
            return errors;
        }
        Err(e) => {
            expect(false, format!("segment failed: {e}"));
            return errors;
        }
    };

    let last = ours.last().copied().unwrap_or(0);
    expect(
        p.units_left == p.units_per_part - last,
        format!("units_left {} with {last} in last part", p.units_left),
    );
    let capacity = match (p.encoding, p.parts) {
        (Encoding::Gsm7, 1) => 160,
        (Encoding::Ucs2, 1) => 70,
        (Encoding::Gsm7, _) => 153,
        (Encoding::Ucs2, _) => 67,
    };
    expect(
        p.units_per_part == capacity,
        format!("units_per_part {}, expected {capacity}", p.units_per_part),
    );

    match divergence {
        Some(d) => {
            expect(
                ours == d.ours,
                format!(
                    "known divergence ({}): ours {ours:?}, documented {:?}",
                    d.why, d.ours
                ),
            );
            expect(
                ours != entry.segment_units,
                format!(
                    "documented divergence is gone (both {ours:?}): remove it from DIVERGENCES"
                ),
            );
        }
        None => {
            expect(
                p.parts == entry.segments,
                format!("{} parts, calculator {}", p.parts, entry.segments),
            );
            expect(
                ours == entry.segment_units,
                format!(
                    "units per part {ours:?}, calculator {:?}",
                    entry.segment_units
                ),
            );
        }
    }
    errors
}

/// Over-the-air limits and that each part decodes to its own text.
fn check_part(part: &Part, expect: &mut impl FnMut(bool, String)) {
    match part.packed_user_data() {
        Ok(ud) => expect(
            ud.len() <= 140,
            format!("part {} has {} octets of user data", part.seq, ud.len()),
        ),
        Err(e) => expect(false, format!("part {}: {e}", part.seq)),
    }
    let decoded = match part.encoding {
        Encoding::Gsm7 => gsm7::decode(&part.payload),
        Encoding::Ucs2 => ucs2::decode(&part.payload),
    };
    expect(
        decoded.as_deref() == Ok(part.text.as_str()),
        format!("part {} payload does not decode to its text", part.seq),
    );
}

#[test]
fn agrees_with_twilio_segment_calculator() {
    let corpus: Corpus = serde_json::from_str(CORPUS).expect("corpus.json parses");
    assert!(corpus.calculator.starts_with("sms-segments-calculator@"));
    assert!(
        corpus.entries.len() >= 200,
        "corpus has only {} entries",
        corpus.entries.len()
    );

    let mut failures = Vec::new();
    for entry in &corpus.entries {
        let errors = check(entry);
        if !errors.is_empty() {
            failures.push(format!(
                "{} {}:\n    {}",
                entry.id,
                shown(&entry.text),
                errors.join("\n    ")
            ));
        }
    }
    for d in DIVERGENCES {
        if !corpus.entries.iter().any(|e| e.id == d.id) {
            failures.push(format!(
                "{}: listed in DIVERGENCES but not in the corpus",
                d.id
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus entries disagree with {}:\n{}",
        failures.len(),
        corpus.entries.len(),
        corpus.calculator,
        failures.join("\n")
    );
}
