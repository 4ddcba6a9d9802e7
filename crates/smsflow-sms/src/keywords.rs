//! Compliance keywords in an inbound message: STOP, START and HELP and their usual synonyms,
//! plus words a deployment adds (localized ones). As the large providers do, the whole
//! message is the keyword: "stop", " Stop. " and "STOP!" are STOP; "please stop texting me"
//! is not (a person, not an opt-out, to be read by the tenant). Case and surrounding
//! whitespace and punctuation do not count.

/// What a compliance keyword asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// Opt out of the sender's messages.
    Stop,
    /// Opt back in.
    Start,
    /// Ask what this is and how to stop it.
    Help,
}

/// STOP's usual synonyms (CTIA's list).
pub const STOP_WORDS: &[&str] = &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
/// START's.
pub const START_WORDS: &[&str] = &["START", "YES", "UNSTOP"];
/// HELP's.
pub const HELP_WORDS: &[&str] = &["HELP", "INFO"];

/// The words recognized, by what they ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keywords {
    words: Vec<(String, Keyword)>,
}

impl Default for Keywords {
    fn default() -> Self {
        Self::with_extra(&[], &[], &[])
    }
}

impl Keywords {
    /// The standard words and these extra ones (any case).
    pub fn with_extra(stop: &[String], start: &[String], help: &[String]) -> Self {
        let standard = |list: &[&str], k| {
            list.iter()
                .map(move |w| ((*w).to_owned(), k))
                .collect::<Vec<_>>()
        };
        let extra = |list: &[String], k| {
            list.iter()
                .map(|w| normalize(w))
                .filter(|w| !w.is_empty())
                .map(move |w| (w, k))
                .collect::<Vec<_>>()
        };
        let mut words = standard(STOP_WORDS, Keyword::Stop);
        words.extend(standard(START_WORDS, Keyword::Start));
        words.extend(standard(HELP_WORDS, Keyword::Help));
        words.extend(extra(stop, Keyword::Stop));
        words.extend(extra(start, Keyword::Start));
        words.extend(extra(help, Keyword::Help));
        Self { words }
    }

    /// The keyword `text` is, with the word as recognized (upper case), if it is one.
    pub fn classify(&self, text: &str) -> Option<(Keyword, String)> {
        let word = normalize(text);
        self.words
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(w, k)| (*k, w.clone()))
    }
}

/// Upper case, without surrounding whitespace and punctuation.
fn normalize(text: &str) -> String {
    text.trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || c == '¡' || c == '¿'
    })
    .to_uppercase()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_usual_words_and_the_extra_ones_are_recognized() {
        let k = Keywords::with_extra(&["arrêt".into()], &["oui".into()], &["aide".into()]);
        for w in STOP_WORDS {
            assert_eq!(k.classify(w).map(|x| x.0), Some(Keyword::Stop), "{w}");
        }
        assert_eq!(k.classify("unstop").map(|x| x.0), Some(Keyword::Start));
        assert_eq!(k.classify("Info").map(|x| x.0), Some(Keyword::Help));
        assert_eq!(
            k.classify(" Arrêt. "),
            Some((Keyword::Stop, "ARRÊT".into()))
        );
        assert_eq!(k.classify("OUI").map(|x| x.0), Some(Keyword::Start));
        assert_eq!(
            Keywords::default().classify("arrêt"),
            None,
            "extras only where configured"
        );
    }

    #[test]
    fn a_keyword_inside_a_sentence_is_not_one() {
        let k = Keywords::default();
        for text in [
            "please stop texting me",
            "stop it",
            "STOPPED",
            "",
            "  ",
            "S T O P",
        ] {
            assert_eq!(k.classify(text), None, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn case_whitespace_and_punctuation_around_do_not_count(
            i in 0..STOP_WORDS.len(),
            upper in proptest::collection::vec(any::<bool>(), 12),
            before in "[ \t\n.!?]{0,3}",
            after in "[ \t\n.!?]{0,3}",
        ) {
            let word: String = STOP_WORDS[i]
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, u)| if *u { c } else { c.to_ascii_lowercase() })
                .collect();
            let text = format!("{before}{word}{after}");
            prop_assert_eq!(
                Keywords::default().classify(&text),
                Some((Keyword::Stop, STOP_WORDS[i].to_owned()))
            );
        }
    }
}
