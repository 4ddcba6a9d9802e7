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
//! - It never splits a grapheme cluster across segments. Its clusters are those of
//!   `grapheme-splitter` 1.0.4 (UAX #29 of Unicode 10.0) with every CR LF cut in two;
//!   ours (`src/cluster.rs`) are current UAX #29 clusters with the same two extra breaks
//!   the calculator has: between CR and LF, and after a virama before a consonant (GB9c,
//!   Unicode 15.1, made such conjuncts one cluster; `grapheme/hindi-*`,
//!   `grapheme/bengali-*`). `numberOfCharacters` is septets for GSM-7 and the number of
//!   those clusters for UCS-2; both are compared (clusters via `common::calculator_clusters`).
//! - Emoji sequences newer than Unicode 10 (a skin tone on 🫶, 👨‍🦰, ❤️‍🔥, ...) are
//!   clustered differently by design (we keep them whole, the calculator cuts them; see
//!   `src/cluster.rs`). The corpus contains none (it would only matter at a part
//!   boundary); the character counts, compared on every entry, show that both sides find
//!   the same clusters throughout the corpus.
//!
//! Every entry must agree on encoding, total units, characters and number of parts, and on
//! units per part wherever the calculator's segments are valid (at most 140 octets with
//! their UDH). One entry is not: see [`DIVERGENCES`], the only documented disagreement.
//! The calculator counts 256 segments for `gsm/a-x39016`; we agree in the preview and
//! `segment` refuses it with `TooManyParts` (a UDH numbers at most 255 parts).

mod common;

use common::calculator_clusters;
use serde::Deserialize;
use smsflow_sms::{
    Concat, Encoding, EncodingError, MAX_PARTS, MAX_USER_DATA_OCTETS, Options, Part, Preview, gsm7,
    preview, segment, ucs2,
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

impl Entry {
    /// Whether every segment of the calculator fits in 140 octets with its UDH.
    fn calculator_is_valid(&self) -> bool {
        let bits_per_unit = if self.encoding == "GSM-7" { 7 } else { 16 };
        let udh_bits = if self.segments > 1 { 6 * 8 } else { 0 };
        self.segment_units
            .iter()
            .all(|units| units * bits_per_unit + udh_bits <= MAX_USER_DATA_OCTETS * 8)
    }
}

/// A corpus entry where we deliberately split differently from the calculator.
struct Divergence {
    id: &'static str,
    /// Our units per part.
    ours: &'static [usize],
    why: &'static str,
}

/// Entries whose calculator segments are invalid (over 140 octets), and what we do
/// instead. The test fails if an entry is missing here or listed without reason.
const DIVERGENCES: &[Divergence] = &[Divergence {
    id: "grapheme/longer-than-a-part",
    // 'e' + 80 x U+0301 is one grapheme cluster of 81 UTF-16 units, longer than a part
    // (67). The calculator keeps it whole: it leaves the first segment empty and puts all
    // 81 units in the second, 162 octets of text + 6 of UDH = 168 > 140, which cannot be
    // sent (an SMSC rejects it). We split the cluster between code points, filling parts
    // greedily. The part count happens to agree (2).
    ours: &[67, 14],
    why: "a cluster longer than a part: the calculator's segment [0, 81] exceeds 140 octets; we split the cluster",
}];

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
    let characters = match p.encoding {
        Encoding::Gsm7 => p.units_used,
        Encoding::Ucs2 => calculator_clusters(&entry.text).len(),
    };
    expect(
        characters == entry.characters,
        format!(
            "{characters} characters (septets or clusters), calculator {}",
            entry.characters
        ),
    );
    expect(
        p.parts == entry.segments,
        format!("{} parts, calculator {}", p.parts, entry.segments),
    );

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

    match (entry.calculator_is_valid(), divergence) {
        (true, None) => expect(
            ours == entry.segment_units,
            format!(
                "units per part {ours:?}, calculator {:?}",
                entry.segment_units
            ),
        ),
        (true, Some(_)) => expect(
            false,
            format!(
                "listed in DIVERGENCES but the calculator's segments {:?} are valid: remove it",
                entry.segment_units
            ),
        ),
        (false, None) => expect(
            false,
            format!(
                "calculator's segments {:?} exceed 140 octets (ours {ours:?}): document in DIVERGENCES",
                entry.segment_units
            ),
        ),
        (false, Some(d)) => {
            expect(
                ours == d.ours,
                format!(
                    "documented divergence ({}): ours {ours:?}, documented {:?}",
                    d.why, d.ours
                ),
            );
            expect(
                ours != entry.segment_units,
                format!("documented divergence is gone (both {ours:?})"),
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
        if d.why.is_empty() {
            failures.push(format!("{}: listed in DIVERGENCES without a reason", d.id));
        }
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

#[test]
fn the_only_divergence_is_the_invalid_calculator_output() {
    let corpus: Corpus = serde_json::from_str(CORPUS).expect("corpus.json parses");
    let invalid: Vec<&str> = corpus
        .entries
        .iter()
        .filter(|e| !e.calculator_is_valid())
        .map(|e| e.id.as_str())
        .collect();
    let documented: Vec<&str> = DIVERGENCES.iter().map(|d| d.id).collect();
    assert_eq!(invalid, documented);
}

#[test]
fn calculator_clusters_examples() {
    assert_eq!(calculator_clusters("a\r\n👍🏽"), ["a", "\r", "\n", "👍🏽"]);
    assert_eq!(calculator_clusters("नमस्ते"), ["न", "म", "स्", "ते"]);
    assert_eq!(calculator_clusters("क्\u{200D}ष"), ["क्\u{200D}", "ष"]);
    assert_eq!(calculator_clusters("🇫🇷e\u{301}"), ["🇫🇷", "e\u{301}"]);
    assert_eq!(common::calculator_boundaries("a\r\n"), [1, 2, 3]);
}
