//! What the API shows before sending: encoding, parts and room left.

use std::convert::Infallible;

use serde::Serialize;

use crate::encoding::prepare;
use crate::segment::layout;
use crate::{Concat, Encoding, Options};

/// How a text would be sent, counted the way [`crate::segment`] splits it with an 8-bit
/// reference UDH ([`Concat::Udh8`]), the most common concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// Encoding chosen.
    pub encoding: Encoding,
    /// Number of SMS; may exceed [`crate::MAX_PARTS`], which [`crate::segment`] rejects.
    pub parts: usize,
    /// Units the text takes: septets for GSM-7 (extension characters count 2), UTF-16
    /// code units for UCS-2 (emoji outside the BMP count 2).
    pub units_used: usize,
    /// Units still free in the last part.
    pub units_left: usize,
    /// Units each part holds: 160 / 70 for a single SMS, 153 / 67 per concatenated part.
    /// A part holds fewer when an escape pair, a surrogate pair or a grapheme cluster that
    /// did not fit moved whole to the next part.
    pub units_per_part: usize,
    /// `None` when smart replacement is off; otherwise whether it changed the text.
    pub text_changed: Option<bool>,
}

/// Previews how `text` would be encoded and split. Never fails.
#[must_use]
pub fn preview(text: &str, opts: &Options) -> Preview {
    let prepared = prepare(text, opts);
    let concat = Concat::Udh8 { reference: 0 };
    let Ok(plan) = layout::<Infallible>(&prepared.text, prepared.encoding, concat, |_, _| Ok(()));
    Preview {
        encoding: prepared.encoding,
        parts: plan.parts,
        units_used: plan.units,
        units_left: plan.capacity - plan.last_part_units,
        units_per_part: plan.capacity,
        text_changed: prepared.text_changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_short_gsm7_text() {
        let p = preview("Hello €", &Options::default());
        assert_eq!(
            p,
            Preview {
                encoding: Encoding::Gsm7,
                parts: 1,
                units_used: 8,
                units_left: 152,
                units_per_part: 160,
                text_changed: None
            }
        );
    }

    #[test]
    fn units_left_accounts_for_a_moved_pair() {
        let p = preview(&format!("{}😀", "ж".repeat(66 + 67)), &Options::default());
        assert_eq!(
            (
                p.encoding,
                p.parts,
                p.units_used,
                p.units_left,
                p.units_per_part
            ),
            (Encoding::Ucs2, 3, 135, 65, 67)
        );
    }

    #[test]
    fn units_left_accounts_for_a_moved_cluster() {
        let p = preview(&format!("{}👍🏽", "ж".repeat(65 + 67)), &Options::default());
        assert_eq!((p.parts, p.units_used, p.units_left), (3, 136, 63));
    }

    #[test]
    fn empty_text() {
        let p = preview("", &Options::default());
        assert_eq!((p.parts, p.units_used, p.units_left), (1, 0, 160));
    }

    #[test]
    fn serializes_for_the_api() {
        let p = preview("“Hi”", &Options::default().with_smart_replacement(true));
        assert_eq!(p.text_changed, Some(true));
        assert_eq!(p.encoding, Encoding::Gsm7);
    }
}
