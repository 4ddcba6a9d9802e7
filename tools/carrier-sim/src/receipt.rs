//! Delivery receipt text (`id:.. sub:001 dlvrd:001 submit date:.. done date:.. stat:.. err:.. text:..`):
//! a formatter and a tolerant parser (dates with or without seconds, `Text:` in any case,
//! missing text field).

use chrono::{DateTime, Utc};

/// The fields of a receipt text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptText {
    /// Carrier message id (as written in the receipt).
    pub id: String,
    /// Number of messages submitted (`sub:`).
    pub sub: u32,
    /// Number delivered (`dlvrd:`).
    pub dlvrd: u32,
    /// `submit date:` as printed (YYMMDDhhmm or YYMMDDhhmmss).
    pub submit_date: String,
    /// `done date:` as printed.
    pub done_date: String,
    /// `stat:` (DELIVRD, UNDELIV, ...).
    pub stat: String,
    /// `err:` as a number (printed with 3 digits).
    pub err: u16,
    /// `text:` (the first characters of the message); empty if absent.
    pub text: String,
}

/// Prints a date as YYMMDDhhmm (or YYMMDDhhmmss).
pub fn format_date(at: DateTime<Utc>, with_seconds: bool) -> String {
    if with_seconds {
        at.format("%y%m%d%H%M%S").to_string()
    } else {
        at.format("%y%m%d%H%M").to_string()
    }
}

/// Keeps only characters that read the same in ASCII and in GSM 03.38, so the receipt is
/// decoded identically whichever alphabet the ESME assumes for data_coding 0; others become `?`.
pub fn sanitize_text(text: &str, max_chars: usize) -> String {
    text.chars()
        .take(max_chars)
        .map(|c| match c {
            ' '..='#' | '%'..='?' | 'A'..='Z' | 'a'..='z' => c,
            _ => '?',
        })
        .collect()
}

impl ReceiptText {
    /// The receipt as one line.
    pub fn format(&self) -> String {
        format!(
            "id:{} sub:{:03} dlvrd:{:03} submit date:{} done date:{} stat:{} err:{:03} text:{}",
            self.id,
            self.sub,
            self.dlvrd,
            self.submit_date,
            self.done_date,
            self.stat,
            self.err,
            self.text
        )
    }

    /// Parses a receipt text; `None` if there is no `id:` or no `stat:`.
    pub fn parse(input: &str) -> Option<Self> {
        let lower = input.to_ascii_lowercase();
        let (head, text) = match lower.find("text:") {
            Some(pos) => (&input[..pos], input[pos + 5..].to_string()),
            None => (input, String::new()),
        };
        let mut r = ReceiptText {
            id: String::new(),
            sub: 0,
            dlvrd: 0,
            submit_date: String::new(),
            done_date: String::new(),
            stat: String::new(),
            err: 0,
            text,
        };
        let (mut has_id, mut has_stat) = (false, false);
        let mut prefix: Option<&str> = None;
        for token in head.split_whitespace() {
            let lower_token = token.to_ascii_lowercase();
            if lower_token == "submit" || lower_token == "done" {
                prefix = Some(if lower_token == "submit" {
                    "submit"
                } else {
                    "done"
                });
                continue;
            }
            let Some((key, value)) = token.split_once(':') else {
                prefix = None;
                continue;
            };
            let mut key = key.to_ascii_lowercase();
            if key == "date"
                && let Some(p) = prefix.take()
            {
                key = format!("{p}_date");
            }
            prefix = None;
            match key.as_str() {
                "id" => {
                    r.id = value.to_string();
                    has_id = true;
                }
                "sub" => r.sub = value.parse().unwrap_or(0),
                "dlvrd" => r.dlvrd = value.parse().unwrap_or(0),
                "submit_date" => r.submit_date = value.to_string(),
                "done_date" => r.done_date = value.to_string(),
                "stat" => {
                    r.stat = value.to_string();
                    has_stat = true;
                }
                "err" => r.err = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        (has_id && has_stat).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn sample() -> ReceiptText {
        ReceiptText {
            id: "3B9ACA07".into(),
            sub: 1,
            dlvrd: 1,
            submit_date: "2611252240".into(),
            done_date: "2611252241".into(),
            stat: "DELIVRD".into(),
            err: 0,
            text: "Hello world".into(),
        }
    }

    #[test]
    fn formats_classic_layout() {
        assert_eq!(
            sample().format(),
            "id:3B9ACA07 sub:001 dlvrd:001 submit date:2611252240 done date:2611252241 stat:DELIVRD err:000 text:Hello world"
        );
    }

    #[test]
    fn parses_variants() {
        let r = ReceiptText::parse(
            "id:42 sub:001 dlvrd:000 submit date:261125224012 done date:261125224113 stat:UNDELIV err:005 Text:x y",
        )
        .unwrap();
        assert_eq!(r.id, "42");
        assert_eq!(r.stat, "UNDELIV");
        assert_eq!(r.err, 5);
        assert_eq!(r.submit_date, "261125224012");
        assert_eq!(r.text, "x y");
        let r = ReceiptText::parse("id:7 stat:DELIVRD err:000").unwrap();
        assert_eq!(r.text, "");
        assert!(ReceiptText::parse("hello").is_none());
    }

    #[test]
    fn dates() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 22, 40, 9).unwrap();
        assert_eq!(format_date(at, false), "2611252240");
        assert_eq!(format_date(at, true), "261125224009");
    }

    #[test]
    fn sanitizes_text() {
        assert_eq!(sanitize_text("a_b@c€d$e", 20), "a?b?c?d?e");
        assert_eq!(sanitize_text("abcdef", 3), "abc");
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(
            id in "[0-9A-Za-z]{1,20}",
            sub in 0u32..1000,
            dlvrd in 0u32..1000,
            stat in prop_oneof![Just("DELIVRD"), Just("UNDELIV"), Just("EXPIRED"), Just("REJECTD")],
            err in 0u16..1000,
            text in "[ -~]{0,20}",
            secs in 0i64..4_000_000_000,
            with_seconds in any::<bool>(),
        ) {
            let at = Utc.timestamp_opt(secs, 0).unwrap();
            let text = sanitize_text(&text, 20);
            let r = ReceiptText {
                id, sub, dlvrd,
                submit_date: format_date(at, with_seconds),
                done_date: format_date(at, with_seconds),
                stat: stat.to_string(), err, text,
            };
            prop_assert_eq!(ReceiptText::parse(&r.format()), Some(r));
        }
    }
}
