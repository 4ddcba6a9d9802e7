//! Where a part may end: between the "characters" a reader sees, as Twilio counts them.
//!
//! A part never ends inside an extended grapheme cluster (UAX #29, the Unicode version of
//! the `unicode-segmentation` crate): an emoji with its skin tone, a ZWJ sequence, a flag,
//! a keycap, a letter with its combining marks, a Hangul syllable stay in one part. This
//! is what Twilio's calculator (npm `sms-segments-calculator`) does, and it is what keeps
//! a part's text displayable on a handset that shows parts as they arrive.
//!
//! The calculator finds clusters with `grapheme-splitter` 1.0.4, which implements the
//! rules of Unicode 10.0, and then cuts every CR LF in two. Two differences from the
//! current rules change where a part ends in ordinary text, so we allow a part to end at
//! these two places as well (the calculator does; the result is still valid SMS):
//!
//! 1. Between CR and LF. UAX #29 (GB3) keeps "\r\n" together; the calculator counts it as
//!    two characters and may end a part after the CR.
//! 2. Before a consonant that rule GB9c joins to a preceding virama. GB9c (Unicode 15.1)
//!    keeps a conjunct such as Devanagari "स्ते" (स ् त े) in one cluster; under the
//!    Unicode 10 rules a cluster ends after the virama ("स्" + "ते"), so the calculator may
//!    end a part there. Which code points are `Indic_Conjunct_Break=Consonant` is asked of
//!    `unicode-segmentation` itself (see [`is_conjunct_consonant`]), so this follows the
//!    crate's Unicode version without a table of our own.
//!
//! Two other differences are deliberately not reproduced. Both concern emoji sequences
//! that Unicode 10 (2017) did not know yet, and reproducing them would take Unicode 10's
//! emoji tables (about 130 ranges) only to cut such an emoji in two across parts:
//!
//! - Skin tones: Unicode 10 keeps a modifier (U+1F3FB..U+1F3FF) with the emoji before it
//!   only if that emoji was an `E_Base` in 2017; the calculator cuts a newer one from its
//!   skin tone (🫶🏽, 🤌🏻, 🥷🏿). Current rules keep any character with its modifier.
//! - ZWJ sequences: Unicode 10 joins after a ZWJ only a short list of characters
//!   (`Glue_After_Zwj`: ♀ ♂ ⚕ ✈ ❤ 💻 🚀 ..., and 👦 👧 👨 👩), whatever comes before the
//!   ZWJ; current rules join any pictographic character after pictographic + ZWJ. So the
//!   calculator cuts 👨‍🦰, ❤️‍🔥, 🐻‍❄️ or 🏴‍☠️ after the ZWJ, where we keep them whole.
//!
//! These change where a part ends only when such a sequence straddles a part boundary.

use unicode_segmentation::{Graphemes, UnicodeSegmentation};

/// The pieces of `text` that a part boundary never cuts (unless one is longer than a whole
/// part): extended grapheme clusters, with the two extra break opportunities above.
/// Concatenated, they give back `text`.
pub(crate) fn clusters(text: &str) -> Clusters<'_> {
    Clusters {
        graphemes: text.graphemes(true),
        rest: "",
    }
}

/// Iterator returned by [`clusters`].
#[derive(Debug, Clone)]
pub(crate) struct Clusters<'a> {
    graphemes: Graphemes<'a>,
    /// What is left of the current grapheme cluster after an extra break.
    rest: &'a str,
}

impl<'a> Iterator for Clusters<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            self.rest = self.graphemes.next()?;
        }
        let end = extra_break(self.rest).unwrap_or(self.rest.len());
        let (cluster, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(cluster)
    }
}

/// Byte offset of the first extra break opportunity inside one grapheme cluster.
fn extra_break(cluster: &str) -> Option<usize> {
    let mut chars = cluster.char_indices();
    let (_, mut previous) = chars.next()?;
    for (offset, c) in chars {
        let crlf = previous == '\r' && c == '\n';
        // Inside a cluster, a consonant follows either a Prepend character (GB9b, which
        // Unicode 10 has too) or a virama (GB9c, which it has not).
        if crlf || (is_conjunct_consonant(c) && !is_prepend(previous)) {
            return Some(offset);
        }
        previous = c;
    }
    None
}

/// Whether `c` has `Indic_Conjunct_Break=Consonant`: it starts a new cluster after a plain
/// letter, yet joins the cluster of DEVANAGARI KA + VIRAMA. Only GB9c joins such a
/// character to a virama (GB9c does not look at the script of the consonant).
fn is_conjunct_consonant(c: char) -> bool {
    !is_one_cluster(&['a', c]) && is_one_cluster(&['\u{915}', '\u{94D}', c])
}

/// Whether `c` is `Grapheme_Cluster_Break=Prepend`: only GB9b keeps a plain letter in the
/// cluster of the character before it.
fn is_prepend(c: char) -> bool {
    is_one_cluster(&[c, 'a'])
}

/// Whether up to three characters form a single extended grapheme cluster.
fn is_one_cluster(chars: &[char]) -> bool {
    let mut buf = [0u8; 12];
    let mut len = 0;
    for c in chars.iter().take(3) {
        len += c.encode_utf8(&mut buf[len..]).len();
    }
    std::str::from_utf8(&buf[..len]).is_ok_and(|s| s.graphemes(true).nth(1).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        clusters(text).collect()
    }

    #[test]
    fn keeps_grapheme_clusters_whole() {
        assert_eq!(split("a👍🏽b"), ["a", "👍🏽", "b"]);
        assert_eq!(split("👨‍👩‍👧‍👦!"), ["👨‍👩‍👧‍👦", "!"]);
        assert_eq!(split("🇫🇷🇩🇪"), ["🇫🇷", "🇩🇪"]);
        assert_eq!(split("1\u{FE0F}\u{20E3}"), ["1\u{FE0F}\u{20E3}"]);
        assert_eq!(split("e\u{301}\u{323}x"), ["e\u{301}\u{323}", "x"]);
        assert_eq!(
            split("\u{1112}\u{1161}\u{11AB}"),
            ["\u{1112}\u{1161}\u{11AB}"]
        );
        assert_eq!(split(""), Vec::<&str>::new());
    }

    #[test]
    fn cuts_crlf_like_the_calculator() {
        assert_eq!(split("a\r\nb"), ["a", "\r", "\n", "b"]);
        assert_eq!(split("\r\r\n\n"), ["\r", "\r", "\n", "\n"]);
    }

    #[test]
    fn ends_a_cluster_after_a_virama_like_unicode_10() {
        // स ् त े: one cluster today (GB9c), two under Unicode 10.
        assert_eq!(split("नमस्ते"), ["न", "म", "स्", "ते"]);
        // क ् ष with an explicit half form (ZWJ after the virama).
        assert_eq!(split("क्\u{200D}ष"), ["क्\u{200D}", "ष"]);
        // Three consonants; Bengali too (GB9c is not Devanagari-only).
        assert_eq!(split("स्त्र"), ["स्", "त्", "र"]);
        assert_eq!(split("ক্ষ"), ["ক্", "ষ"]);
        // Vowel signs and nukta still join their consonant.
        assert_eq!(split("क़ि"), ["क़ि"]);
        // A consonant after a Prepend character stays with it (GB9b, in Unicode 10 too).
        assert_eq!(
            split("\u{D4E}\u{D15}\u{D4D}\u{D15}"),
            ["\u{D4E}\u{D15}\u{D4D}", "\u{D15}"]
        );
        assert_eq!(split("\u{600}\u{915}"), ["\u{600}\u{915}"]);
    }

    #[test]
    fn newer_emoji_sequences_stay_whole() {
        // The calculator (Unicode 10) cuts each of these in two; see the module docs.
        assert_eq!(split("🫶🏽"), ["🫶🏽"]);
        assert_eq!(split("👨‍🦰"), ["👨‍🦰"]);
        assert_eq!(split("❤️‍🔥"), ["❤️‍🔥"]);
    }

    #[test]
    fn character_classes() {
        assert!(is_conjunct_consonant('त'));
        assert!(is_conjunct_consonant('ষ'));
        assert!(!is_conjunct_consonant('a'));
        assert!(!is_conjunct_consonant('\u{94D}'));
        assert!(!is_conjunct_consonant('\u{93E}'));
        // ARABIC NUMBER SIGN and MALAYALAM LETTER DOT REPH are Prepend.
        assert!(is_prepend('\u{600}'));
        assert!(is_prepend('\u{D4E}'));
        assert!(!is_prepend('a'));
        assert!(!is_prepend('\u{94D}'));
    }

    #[test]
    fn pieces_concatenate_to_the_text() {
        let text = "Hi\r\n👍🏽 नमस्ते 🇫🇷 e\u{301} ক্ষ 中文";
        assert_eq!(split(text).concat(), text);
    }
}
