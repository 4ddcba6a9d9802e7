//! Shared by the integration tests: the clusters that Twilio's calculator keeps whole,
//! worked out here independently of the crate's own code (`src/cluster.rs` asks the
//! segmenter which characters are conjunct consonants; this looks for the virama instead).
//!
//! The calculator takes the clusters of `grapheme-splitter` 1.0.4 (UAX #29, Unicode 10.0)
//! and cuts every CR LF in two. Compared with current UAX #29 (crate
//! `unicode-segmentation`) that adds a break between CR and LF, and one before a consonant
//! that follows a virama (rule GB9c, new in Unicode 15.1, keeps such conjuncts whole).
//! Emoji sequences newer than Unicode 10 also differ (see `src/cluster.rs`); the texts
//! these helpers are used on contain none at a part boundary.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use unicode_segmentation::UnicodeSegmentation;

/// `Indic_Conjunct_Break=Linker` (viramas), from DerivedCoreProperties.txt of Unicode 17.
const LINKERS: &[char] = &[
    '\u{94D}',
    '\u{9CD}',
    '\u{ACD}',
    '\u{B4D}',
    '\u{C4D}',
    '\u{D4D}',
    '\u{1039}',
    '\u{17D2}',
    '\u{1A60}',
    '\u{1B44}',
    '\u{1BAB}',
    '\u{A9C0}',
    '\u{AAF6}',
    '\u{10A3F}',
    '\u{11133}',
    '\u{113D0}',
    '\u{1193E}',
    '\u{11A47}',
    '\u{11A99}',
    '\u{11F42}',
];

/// Whether `c` stays in the cluster of a plain letter before it (Extend, ZWJ, SpacingMark).
fn extends(c: char) -> bool {
    let mut s = String::from("a");
    s.push(c);
    s.graphemes(true).count() == 1
}

/// The text cut into the clusters the calculator keeps whole, in order.
pub fn calculator_clusters(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for cluster in text.graphemes(true) {
        let mut start = 0;
        let mut previous: Option<char> = None;
        // Inside a virama + (ZWJ, nukta, ...) run, where GB9c may join a consonant.
        let mut after_virama = false;
        for (offset, c) in cluster.char_indices() {
            let crlf = previous == Some('\r') && c == '\n';
            // A letter GB9c joined to the virama run (not an emoji after a ZWJ: GB11).
            if crlf || (after_virama && c.is_alphabetic() && !extends(c)) {
                out.push(&cluster[start..offset]);
                start = offset;
            }
            after_virama = LINKERS.contains(&c) || (after_virama && extends(c));
            previous = Some(c);
        }
        out.push(&cluster[start..]);
    }
    out
}

/// Byte offsets where a calculator cluster ends, the end of the text included.
pub fn calculator_boundaries(text: &str) -> Vec<usize> {
    calculator_clusters(text)
        .iter()
        .scan(0, |end, cluster| {
            *end += cluster.len();
            Some(*end)
        })
        .collect()
}
