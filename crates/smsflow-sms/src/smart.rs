//! Optional replacement of look-alike characters by GSM-7 ones ("smart encoding").
//!
//! One curly apostrophe turns a whole message into UCS-2, which halves its capacity (70
//! instead of 160 characters per SMS). When [`Options::smart_replacement`] is on, the
//! message is rewritten with this table, but only if that makes every character GSM-7;
//! otherwise it is sent unchanged in UCS-2 (rewriting it would change the text and save
//! nothing). The table only holds punctuation, spaces and full-width forms whose
//! replacement reads the same; letters with diacritics are never stripped.
//!
//! [`Options::smart_replacement`]: crate::Options::smart_replacement

use std::borrow::Cow;

/// The GSM-7 replacement of `c`, or `None` if the table has no entry for it.
///
/// Every replacement is GSM-7 text (possibly empty, for invisible characters).
#[must_use]
pub fn replacement(c: char) -> Option<&'static str> {
    let r = match c {
        // Double quotes.
        '\u{00AB}' | '\u{00BB}' | '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}'
        | '\u{2033}' | '\u{2036}' | '\u{275D}' | '\u{275E}' | '\u{301D}' | '\u{301E}'
        | '\u{FF02}' | '\u{02BA}' | '\u{02EE}' => "\"",
        // Single quotes, apostrophes, primes and accents used as apostrophes.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}'
        | '\u{275B}' | '\u{275C}' | '\u{FF07}' | '\u{0060}' | '\u{00B4}' | '\u{02B9}'
        | '\u{02BB}' | '\u{02BC}' | '\u{02BD}' | '\u{02C8}' | '\u{02CA}' | '\u{02CB}'
        | '\u{FF40}' => "'",
        '\u{2039}' => "<",
        '\u{203A}' => ">",
        // Hyphens, dashes, minus sign, bullets.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' | '\u{2022}' | '\u{2043}' => "-",
        '\u{2026}' => "...",
        '\u{203C}' => "!!",
        '\u{2044}' | '\u{2215}' | '\u{00F7}' => "/",
        '\u{00BC}' => "1/4",
        '\u{00BD}' => "1/2",
        '\u{00BE}' => "3/4",
        // Spaces: no-break, en/em and the other typographic widths, ideographic; tab.
        '\t' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Line and paragraph separators.
        '\u{2028}' | '\u{2029}' => "\n",
        // Invisible: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "",
        // Full-width ASCII forms (U+FF01..=U+FF5E) map to their ASCII letter or sign.
        '\u{FF01}'..='\u{FF5E}' => return fullwidth(c),
        _ => return None,
    };
    Some(r)
}

/// ASCII counterpart of a full-width form, if it is GSM-7 (the full-width grave accent
/// is handled above, as an apostrophe).
fn fullwidth(c: char) -> Option<&'static str> {
    const ASCII: &str = concat!(
        "!\"#$%&'()*+,-./0123456789:;<=>?@",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`",
        "abcdefghijklmnopqrstuvwxyz{|}~"
    );
    let index = usize::try_from(u32::from(c).checked_sub(0xFF01)?).ok()?;
    let ascii = ASCII.get(index..=index)?;
    crate::gsm7::is_gsm7(ascii).then_some(ascii)
}

/// `text` with every character that has a [`replacement`] replaced; borrowed when none has.
#[must_use]
pub fn replace(text: &str) -> Cow<'_, str> {
    let Some(first) = text.char_indices().find(|&(_, c)| replacement(c).is_some()) else {
        return Cow::Borrowed(text);
    };
    let (head, tail) = text.split_at(first.0);
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    for c in tail.chars() {
        match replacement(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7::is_gsm7;

    #[test]
    fn replaces_the_usual_suspects() {
        assert_eq!(
            replace("It\u{2019}s \u{201C}ok\u{201D}\u{2026} 9\u{2013}5 \u{2014} a\u{00A0}b"),
            "It's \"ok\"... 9-5 - a b"
        );
        assert_eq!(replace("\u{FF28}\u{FF49}\u{FF01}"), "Hi!");
        assert_eq!(replace("a\u{200B}b\tc"), "ab c");
    }

    #[test]
    fn borrows_when_nothing_changes() {
        assert!(matches!(replace("plain text"), Cow::Borrowed("plain text")));
        assert!(matches!(replace("emoji 😀 stays"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_replacement_is_gsm7() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            if let Some(r) = replacement(c) {
                assert!(is_gsm7(r), "{:?} -> {r:?}", c);
                assert!(
                    !is_gsm7(c.encode_utf8(&mut [0; 4])),
                    "{c:?} is GSM-7 already"
                );
            }
        }
    }

    #[test]
    fn fullwidth_forms() {
        assert_eq!(replacement('\u{FF01}'), Some("!"));
        assert_eq!(replacement('\u{FF20}'), Some("@"));
        assert_eq!(replacement('\u{FF40}'), Some("'"));
        assert_eq!(replacement('\u{FF5B}'), Some("{"));
        assert_eq!(replacement('\u{FF5E}'), Some("~"));
        assert_eq!(replacement('\u{FF5F}'), None);
    }
}
