//! Choosing the encoding of a message, and encoding it whole.

use std::borrow::Cow;

use serde::Serialize;

use crate::{gsm7, smart, ucs2};

/// The alphabet a message is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GSM 03.38 7-bit default alphabet; measured in septets. SMPP `data_coding` 0 on most
    /// carriers (the SMSC default alphabet is a per-carrier setting).
    Gsm7,
    /// UTF-16BE; measured in 16-bit code units. SMPP `data_coding` 8.
    Ucs2,
}

/// How text is prepared before encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Replace look-alike characters (curly quotes, dashes, ellipsis, no-break space, ...)
    /// when that makes the whole message GSM-7; see [`smart`]. Off by default.
    pub smart_replacement: bool,
}

impl Options {
    /// Options with smart replacement on or off.
    #[must_use]
    pub fn with_smart_replacement(mut self, on: bool) -> Self {
        self.smart_replacement = on;
        self
    }
}

/// A whole message in its chosen encoding, unsplit (for SMPP `message_payload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The encoding chosen.
    pub encoding: Encoding,
    /// The text that was encoded: the input, or its smart replacement.
    pub text: String,
    /// `None` when smart replacement is off; otherwise whether it changed the text.
    pub text_changed: Option<bool>,
    /// Unpacked GSM-7 septets (one per octet) or UTF-16BE octets.
    pub payload: Vec<u8>,
}

/// Encodes `text` whole in the most compact encoding (GSM-7 if every character fits,
/// after smart replacement when enabled; UCS-2 otherwise). Never fails: UCS-2 can carry
/// any text.
#[must_use]
pub fn encode(text: &str, opts: &Options) -> Encoded {
    let prepared = prepare(text, opts);
    let payload = match prepared.encoding {
        Encoding::Gsm7 => {
            let mut out = Vec::with_capacity(prepared.text.len());
            for c in prepared.text.chars() {
                // `prepare` chose GSM-7 only because every character has a code.
                if let Some(code) = gsm7::lookup(c) {
                    gsm7::push_code(code, &mut out);
                }
            }
            out
        }
        Encoding::Ucs2 => ucs2::encode(&prepared.text),
    };
    Encoded {
        encoding: prepared.encoding,
        text: prepared.text.into_owned(),
        text_changed: prepared.text_changed,
        payload,
    }
}

/// Text ready for encoding, with the encoding chosen for it.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    /// The input, or its smart replacement.
    pub(crate) text: Cow<'a, str>,
    /// GSM-7 if every character of `text` has a GSM-7 code, else UCS-2.
    pub(crate) encoding: Encoding,
    /// `None` when smart replacement is off; otherwise whether `text` differs from the input.
    pub(crate) text_changed: Option<bool>,
}

/// Applies the options and picks the encoding.
pub(crate) fn prepare<'a>(text: &'a str, opts: &Options) -> Prepared<'a> {
    let unchanged = opts.smart_replacement.then_some(false);
    if gsm7::is_gsm7(text) {
        return Prepared {
            text: Cow::Borrowed(text),
            encoding: Encoding::Gsm7,
            text_changed: unchanged,
        };
    }
    if opts.smart_replacement {
        let replaced = smart::replace(text);
        if gsm7::is_gsm7(&replaced) {
            return Prepared {
                text: replaced,
                encoding: Encoding::Gsm7,
                text_changed: Some(true),
            };
        }
    }
    Prepared {
        text: Cow::Borrowed(text),
        encoding: Encoding::Ucs2,
        text_changed: unchanged,
    }
}

/// Units `c` costs in `encoding` (septets or UTF-16 code units).
pub(crate) fn units(c: char, encoding: Encoding) -> usize {
    match encoding {
        // A character without a GSM-7 code never reaches here (see `prepare`); count it as
        // one septet rather than panic.
        Encoding::Gsm7 => gsm7::septet_len(c).unwrap_or(1),
        Encoding::Ucs2 => ucs2::unit_len(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMART: Options = Options {
        smart_replacement: true,
    };

    #[test]
    fn picks_gsm7_when_everything_fits() {
        let e = encode("Hi €5 {ok}", &Options::default());
        assert_eq!(e.encoding, Encoding::Gsm7);
        assert_eq!(e.payload.len(), 13);
        assert_eq!(e.text_changed, None);
    }

    #[test]
    fn one_foreign_character_makes_it_ucs2() {
        let e = encode("It\u{2019}s", &Options::default());
        assert_eq!(e.encoding, Encoding::Ucs2);
        assert_eq!(e.payload, [0, b'I', 0, b't', 0x20, 0x19, 0, b's']);
    }

    #[test]
    fn smart_replacement_only_when_it_reaches_gsm7() {
        let e = encode("It\u{2019}s", &SMART);
        assert_eq!(
            (e.encoding, e.text.as_str(), e.text_changed),
            (Encoding::Gsm7, "It's", Some(true))
        );

        // The emoji keeps the message in UCS-2, so the apostrophe is left alone.
        let e = encode("It\u{2019}s 😀", &SMART);
        assert_eq!(
            (e.encoding, e.text.as_str(), e.text_changed),
            (Encoding::Ucs2, "It\u{2019}s 😀", Some(false))
        );

        let e = encode("plain", &SMART);
        assert_eq!(e.text_changed, Some(false));
    }

    #[test]
    fn empty_text_is_gsm7() {
        let e = encode("", &Options::default());
        assert_eq!((e.encoding, e.payload.len()), (Encoding::Gsm7, 0));
    }
}
