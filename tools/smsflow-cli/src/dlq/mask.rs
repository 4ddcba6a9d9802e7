//! What `dlq list` and `dlq show` hide unless `--reveal`: phone numbers (record keys, number
//! fields of events, digit runs in error texts) and message bodies. Numbers are masked with
//! the project's one rule, [`smsflow_events::mask_number`] (`+447700900123` → `+44********23`).

use serde_json::Value;
use smsflow_events::mask_number;

/// Event fields that hold a phone number (or a sender id in its place).
const NUMBER_FIELDS: &[&str] = &["to", "from", "number"];
/// Event fields that hold a message body.
const BODY_FIELDS: &[&str] = &["text"];
/// Digit runs at least this long in free text are taken for phone numbers (E.164 has 8 to 15
/// digits).
const NUMBER_MIN_DIGITS: usize = 8;

/// A record key for display: keys are destination numbers on most topics, so masked.
pub fn key(key: Option<&[u8]>, reveal: bool) -> String {
    match key {
        None => "-".to_owned(),
        Some(k) => match std::str::from_utf8(k) {
            Ok(s) if reveal => s.to_owned(),
            Ok(s) => mask_number(s),
            Err(_) if reveal => hex(k),
            Err(_) => format!("<{} bytes, not UTF-8>", k.len()),
        },
    }
}

/// A message body for display: its length only.
pub fn body(text: &str) -> String {
    format!(
        "<hidden: {} characters, --reveal shows it>",
        text.chars().count()
    )
}

/// Free text (an error reason) with every phone-number-like digit run masked: a run of at least
/// eight digits, with an optional `+`, not part of a longer word.
pub fn numbers_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let plus = chars[i] == '+';
        let mut j = if plus { i + 1 } else { i };
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        let digits = j - if plus { i + 1 } else { i };
        let word_before = start > 0 && chars[start - 1].is_alphanumeric();
        let word_after = j < chars.len() && chars[j].is_alphanumeric();
        if digits >= NUMBER_MIN_DIGITS && !word_before && !word_after {
            out.push_str(&mask_number(&chars[start..j].iter().collect::<String>()));
            i = j;
        } else if digits > 0 {
            // Copy the whole run, so its tail is not read as a number of its own.
            out.extend(&chars[start..j]);
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Masks, in a decoded event as JSON, every number field and every body, at any depth.
pub fn event(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, v) in fields.iter_mut() {
                match v {
                    Value::String(s) if NUMBER_FIELDS.contains(&name.as_str()) => {
                        *s = mask_number(s);
                    }
                    Value::String(s) if BODY_FIELDS.contains(&name.as_str()) => {
                        *s = body(s);
                    }
                    other => event(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(event),
        _ => {}
    }
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_masked_unless_revealed() {
        assert_eq!(key(Some(b"+447700900123"), false), "+44********23");
        assert_eq!(key(Some(b"+447700900123"), true), "+447700900123");
        assert_eq!(key(None, false), "-");
        assert_eq!(key(Some(&[0xff, 0x00]), false), "<2 bytes, not UTF-8>");
        assert_eq!(key(Some(&[0xff, 0x00]), true), "ff00");
    }

    #[test]
    fn numbers_in_free_text_are_masked() {
        assert_eq!(
            numbers_in("invalid value: string \"+447700900123\", expected E.164"),
            "invalid value: string \"+44********23\", expected E.164"
        );
        assert_eq!(numbers_in("sender 447700900123."), "sender 447*******23.");
        // Short numbers, offsets, and digits inside words or ids stay.
        for kept in [
            "offset 1042 of partition 3",
            "id ab12345678cd",
            "1234567",
            "",
        ] {
            assert_eq!(numbers_in(kept), kept);
        }
        // Any other long digit run is masked too: better a masked id than a number in clear.
        assert_eq!(numbers_in("schema id 2147483632"), "schema id 214*****32");
        assert_eq!(numbers_in("ünïcode +4412345678!"), "ünïcode +44******78!");
    }

    #[test]
    fn events_lose_numbers_and_bodies_at_any_depth() {
        let mut v = json!({
            "meta": {"event_id": "01a2", "producer": "ingest"},
            "to": "+447700900123",
            "from": "ACME",
            "text": "Your code is 123456",
            "carrier_message_id": "1000000000",
            "nested": [{"number": "+33612345678", "text": "hi"}],
            "maybe": null
        });
        event(&mut v);
        assert_eq!(
            v,
            json!({
                "meta": {"event_id": "01a2", "producer": "ingest"},
                "to": "+44********23",
                "from": "****",
                "text": "<hidden: 19 characters, --reveal shows it>",
                "carrier_message_id": "1000000000",
                "nested": [{"number": "+33*******78", "text": "<hidden: 2 characters, --reveal shows it>"}],
                "maybe": null
            })
        );
    }
}
