//! Delivery receipt text: parsing and formatting of
//! `id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm[ss] done date:YYMMDDhhmm[ss] stat:DELIVRD err:000 text:...`
//!
//! Keys are matched case-insensitively at word starts (`Text:`, `STAT:`), `submit_date` is
//! accepted for `submit date`, dates may carry seconds, every field may be missing, and
//! everything after `text:` belongs to the text (so a text that itself contains `stat:` does
//! not confuse the parser). Receipt states also come from the message_state TLV
//! ([`ReceiptState::from_message_state`]).

use std::fmt;

/// State of a submitted message as reported by a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptState {
    /// ENROUTE (1): still on its way.
    Enroute,
    /// DELIVRD (2): delivered to the handset.
    Delivered,
    /// EXPIRED (3): validity period ended before delivery.
    Expired,
    /// DELETED (4): deleted by the carrier or an operator.
    Deleted,
    /// UNDELIV (5): cannot be delivered.
    Undeliverable,
    /// ACCEPTD (6): accepted on behalf of the handset (e.g. by customer care).
    Accepted,
    /// UNKNOWN (7): the carrier does not know.
    Unknown,
    /// REJECTD (8): rejected by the carrier.
    Rejected,
}

impl ReceiptState {
    /// From the `stat:` text (case-insensitive; a few common long forms accepted).
    pub fn from_stat(stat: &str) -> Option<Self> {
        let upper = stat.trim().to_ascii_uppercase();
        Some(match upper.as_str() {
            "ENROUTE" => Self::Enroute,
            "DELIVRD" | "DELIVERED" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" | "UNDELIVERABLE" | "UNDELIVERED" => Self::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => Self::Accepted,
            "UNKNOWN" => Self::Unknown,
            "REJECTD" | "REJECTED" => Self::Rejected,
            _ => return None,
        })
    }

    /// From the message_state TLV value (0x0427).
    pub fn from_message_state(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            _ => return None,
        })
    }

    /// The message_state TLV value.
    pub fn message_state(self) -> u8 {
        match self {
            Self::Enroute => 1,
            Self::Delivered => 2,
            Self::Expired => 3,
            Self::Deleted => 4,
            Self::Undeliverable => 5,
            Self::Accepted => 6,
            Self::Unknown => 7,
            Self::Rejected => 8,
        }
    }

    /// The 7-letter `stat:` text.
    pub fn stat(self) -> &'static str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
        }
    }

    /// True when no further receipt is expected for the message (everything but ENROUTE;
    /// UNKNOWN and ACCEPTD are final in SMPP 3.4 terms).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Enroute)
    }
}

impl fmt::Display for ReceiptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stat())
    }
}

/// A receipt date `YYMMDDhhmm` or `YYMMDDhhmmss` (the carrier's local time; no zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptDate {
    /// Two-digit year.
    pub year: u8,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
    /// Hour 0-23.
    pub hour: u8,
    /// Minute 0-59.
    pub minute: u8,
    /// Seconds when the carrier sent them.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Parses 10 or 12 digits; `None` for anything else or out-of-range fields.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        if !(bytes.len() == 10 || bytes.len() == 12) || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| (bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0');
        let date = Self {
            year: two(0),
            month: two(2),
            day: two(4),
            hour: two(6),
            minute: two(8),
            second: (bytes.len() == 12).then(|| two(10)),
        };
        let valid = (1..=12).contains(&date.month)
            && (1..=31).contains(&date.day)
            && date.hour < 24
            && date.minute < 60
            && date.second.is_none_or(|s| s < 60);
        valid.then_some(date)
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )?;
        if let Some(second) = self.second {
            write!(f, "{second:02}")?;
        }
        Ok(())
    }
}

/// The fields of a receipt text, each optional because carriers omit some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptText {
    /// `id:` — the carrier message id, raw.
    pub id: Option<String>,
    /// `sub:` — number of messages submitted (usually `001`).
    pub sub: Option<String>,
    /// `dlvrd:` — number delivered.
    pub dlvrd: Option<String>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:` raw text (see [`ReceiptState::from_stat`]).
    pub stat: Option<String>,
    /// `err:` — carrier/network error code, raw.
    pub err: Option<String>,
    /// `text:` — the first characters of the original message, when present.
    pub text: Option<String>,
}

impl ReceiptText {
    /// The parsed `stat:` value.
    pub fn state(&self) -> Option<ReceiptState> {
        self.stat.as_deref().and_then(ReceiptState::from_stat)
    }
}

const KEYS: [(&str, Key); 8] = [
    ("submit date", Key::SubmitDate),
    ("submit_date", Key::SubmitDate),
    ("done date", Key::DoneDate),
    ("done_date", Key::DoneDate),
    ("dlvrd", Key::Dlvrd),
    ("stat", Key::Stat),
    ("sub", Key::Sub),
    ("err", Key::Err),
];

#[derive(Debug, Clone, Copy)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
}

/// Finds `key` followed by optional spaces and `:` at `pos` of `lower`; returns the offset
/// just after the colon.
fn match_key(lower: &str, pos: usize, key: &str) -> Option<usize> {
    let rest = lower.get(pos..)?;
    let after = rest.strip_prefix(key)?;
    let trimmed = after.trim_start_matches(' ');
    let after_colon = trimmed.strip_prefix(':')?;
    Some(lower.len() - after_colon.len())
}

fn at_word_start(lower: &str, pos: usize) -> bool {
    pos == 0
        || lower[..pos]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace)
}

/// Parses a receipt text. Returns `None` when neither an `id:` nor a `stat:` field is found
/// (then the deliver_sm is not a text receipt).
pub fn parse_receipt_text(input: &str) -> Option<ReceiptText> {
    let lower = input.to_ascii_lowercase();
    // `text:` ends the structured part: everything after it is free text.
    let mut text_at = None;
    for (pos, _) in lower.char_indices() {
        if at_word_start(&lower, pos)
            && let Some(end) = match_key(&lower, pos, "text")
        {
            text_at = Some((pos, end));
            break;
        }
    }
    let head_end = text_at.map_or(lower.len(), |(pos, _)| pos);
    let mut out = ReceiptText {
        text: text_at.map(|(_, end)| input[end..].to_owned()),
        ..ReceiptText::default()
    };

    let head = &lower[..head_end];
    let mut pos = 0;
    while pos < head.len() {
        if !head.is_char_boundary(pos) || !at_word_start(head, pos) {
            pos += 1;
            continue;
        }
        let found = KEYS
            .iter()
            .find_map(|(name, key)| match_key(head, pos, name).map(|end| (*key, end)))
            .or_else(|| match_key(head, pos, "id").map(|end| (Key::Id, end)));
        let Some((key, value_start)) = found else {
            pos += 1;
            continue;
        };
        let value_start = head.len() - head[value_start..].trim_start_matches(' ').len();
        let value_end = head[value_start..]
            .find(char::is_whitespace)
            .map_or(head.len(), |i| value_start + i);
        let value = input[value_start..value_end].to_owned();
        match key {
            Key::Id => out.id = Some(value),
            Key::Sub => out.sub = Some(value),
            Key::Dlvrd => out.dlvrd = Some(value),
            Key::SubmitDate => out.submit_date = ReceiptDate::parse(&value),
            Key::DoneDate => out.done_date = ReceiptDate::parse(&value),
            Key::Stat => out.stat = Some(value),
            Key::Err => out.err = Some(value),
        }
        pos = value_end.max(pos + 1);
    }
    (out.id.is_some() || out.stat.is_some()).then_some(out)
}

/// Formats receipt fields in the customary order; absent fields are left out.
pub fn format_receipt_text(receipt: &ReceiptText) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(id) = &receipt.id {
        parts.push(format!("id:{id}"));
    }
    if let Some(sub) = &receipt.sub {
        parts.push(format!("sub:{sub}"));
    }
    if let Some(dlvrd) = &receipt.dlvrd {
        parts.push(format!("dlvrd:{dlvrd}"));
    }
    if let Some(date) = &receipt.submit_date {
        parts.push(format!("submit date:{date}"));
    }
    if let Some(date) = &receipt.done_date {
        parts.push(format!("done date:{date}"));
    }
    if let Some(stat) = &receipt.stat {
        parts.push(format!("stat:{stat}"));
    }
    if let Some(err) = &receipt.err {
        parts.push(format!("err:{err}"));
    }
    if let Some(text) = &receipt.text {
        parts.push(format!("text:{text}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classic_receipt() {
        let r = parse_receipt_text(
            "id:1A2B sub:001 dlvrd:001 submit date:2611252240 done date:2611252241 stat:DELIVRD err:000 text:Hello world",
        )
        .expect("receipt");
        assert_eq!(r.id.as_deref(), Some("1A2B"));
        assert_eq!(r.sub.as_deref(), Some("001"));
        assert_eq!(r.dlvrd.as_deref(), Some("001"));
        assert_eq!(
            r.submit_date,
            Some(ReceiptDate {
                year: 26,
                month: 11,
                day: 25,
                hour: 22,
                minute: 40,
                second: None
            })
        );
        assert_eq!(r.done_date.map(|d| d.minute), Some(41));
        assert_eq!(r.state(), Some(ReceiptState::Delivered));
        assert_eq!(r.err.as_deref(), Some("000"));
        assert_eq!(r.text.as_deref(), Some("Hello world"));
    }

    #[test]
    fn variants_seconds_case_missing_text() {
        let r = parse_receipt_text(
            "ID:abc SUB:001 DLVRD:000 Submit Date:261125224059 Done_Date:261125230001 Stat:undeliv Err:034",
        )
        .expect("receipt");
        assert_eq!(r.id.as_deref(), Some("abc"));
        assert_eq!(r.submit_date.and_then(|d| d.second), Some(59));
        assert_eq!(r.done_date.map(|d| d.hour), Some(23));
        assert_eq!(r.state(), Some(ReceiptState::Undeliverable));
        assert_eq!(r.text, None);

        let r = parse_receipt_text("id:7 stat:EXPIRED Text:stat:DELIVRD id:9").expect("receipt");
        assert_eq!(r.id.as_deref(), Some("7"));
        assert_eq!(r.state(), Some(ReceiptState::Expired));
        assert_eq!(r.text.as_deref(), Some("stat:DELIVRD id:9"));
    }

    #[test]
    fn not_a_receipt() {
        assert!(parse_receipt_text("hello, are you there?").is_none());
        assert!(parse_receipt_text("").is_none());
        assert!(parse_receipt_text("paid:12").is_none());
    }

    #[test]
    fn message_state_mapping() {
        for v in 1..=8u8 {
            let state = ReceiptState::from_message_state(v).expect("known");
            assert_eq!(state.message_state(), v);
            assert_eq!(ReceiptState::from_stat(state.stat()), Some(state));
        }
        assert_eq!(ReceiptState::from_message_state(0), None);
        assert_eq!(ReceiptState::from_message_state(9), None);
    }

    #[test]
    fn invalid_dates_are_dropped() {
        assert!(ReceiptDate::parse("2613252240").is_none());
        assert!(ReceiptDate::parse("26112522").is_none());
        assert!(ReceiptDate::parse("26112522401").is_none());
    }

    fn date() -> impl Strategy<Value = ReceiptDate> {
        (
            0u8..100,
            1u8..13,
            1u8..32,
            0u8..24,
            0u8..60,
            proptest::option::of(0u8..60),
        )
            .prop_map(|(year, month, day, hour, minute, second)| ReceiptDate {
                year,
                month,
                day,
                hour,
                minute,
                second,
            })
    }

    fn receipt() -> impl Strategy<Value = ReceiptText> {
        let stat = proptest::sample::select(vec![
            "DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "ENROUTE", "ACCEPTD", "UNKNOWN", "DELETED",
        ]);
        (
            "[A-Za-z0-9]{1,40}",
            proptest::option::of("[0-9]{3}"),
            proptest::option::of("[0-9]{3}"),
            proptest::option::of(date()),
            proptest::option::of(date()),
            proptest::option::of(stat),
            proptest::option::of("[0-9]{3}"),
            proptest::option::of(any::<String>()),
        )
            .prop_map(|(id, sub, dlvrd, sd, dd, stat, err, text)| ReceiptText {
                id: Some(id),
                sub,
                dlvrd,
                submit_date: sd,
                done_date: dd,
                stat: stat.map(str::to_owned),
                err,
                text,
            })
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(r in receipt()) {
            let text = format_receipt_text(&r);
            prop_assert_eq!(parse_receipt_text(&text), Some(r));
        }

        #[test]
        fn keys_in_any_case(r in receipt(), upper in any::<bool>()) {
            let text = format_receipt_text(&r);
            // Change the case of the structured part only; the free text stays as is.
            let cut = text.find("text:").unwrap_or(text.len());
            let (head, tail) = text.split_at(cut);
            let head = if upper { head.to_ascii_uppercase() } else { head.to_owned() };
            let tail = tail.replacen("text:", "Text:", 1);
            let parsed = parse_receipt_text(&format!("{head}{tail}")).expect("parses");
            prop_assert_eq!(&parsed.text, &r.text);
            prop_assert_eq!(parsed.state(), r.stat.as_deref().and_then(ReceiptState::from_stat));
            prop_assert_eq!(parsed.submit_date, r.submit_date);
        }

        #[test]
        fn never_panics(input in any::<String>()) {
            let _ = parse_receipt_text(&input);
        }
    }
}
