//! `smsflow dlq show <partition>:<offset>`: one dead letter's headers, and its event when the
//! bytes are a Confluent-framed record whose schema the registry knows. Numbers and bodies
//! are masked unless `--reveal`.

use std::io::Write;

use serde_json::{Value, json};
use smsflow_events::{Event, EventCodec, Timestamp, wire};
use smsflow_kafka::{KafkaConfig, headers};

use super::list::time;
use super::mask;
use super::position::Position;
use super::read;
use super::record::DeadRecord;

/// How `dlq show` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShowOptions {
    /// JSON instead of text.
    pub json: bool,
    /// Phone numbers, bodies and raw bytes in clear.
    pub reveal: bool,
}

/// What the bytes of a dead letter are.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// No bytes.
    Empty,
    /// Not the Confluent wire format (why); raw data, e.g. an SMPP dead letter.
    NotFramed(String),
    /// Framed with `schema_id`, but not decodable (unknown schema, registry down, bad Avro).
    Undecodable {
        /// The writer schema id in the frame.
        schema_id: u32,
        /// Why.
        error: String,
    },
    /// The event.
    Event {
        /// The writer schema id in the frame.
        schema_id: u32,
        /// The decoded event.
        event: Box<Event>,
    },
}

/// A dead letter and what its bytes decode to.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    /// The record.
    pub record: DeadRecord,
    /// Its bytes, decoded.
    pub decoded: Decoded,
}

/// Headers whose values never hold a number or a body; any other is masked like free text.
const PLAIN_HEADERS: &[&str] = &[
    headers::EVENT_ID,
    headers::EVENT_TYPE,
    headers::DLQ_TOPIC,
    headers::DLQ_PARTITION,
    headers::DLQ_OFFSET,
    headers::DLQ_ERROR_CODE,
    headers::DLQ_SERVICE,
    headers::REDRIVE_FROM,
    "traceparent",
    "tracestate",
];

/// Reads the dead letter at `position` and decodes its bytes with the registry of `cfg`.
pub async fn inspect(cfg: &KafkaConfig, position: Position) -> anyhow::Result<Shown> {
    let record = read::fetch(cfg, position).await?;
    let codec = cfg.codec()?;
    let decoded = decode(&codec, record.bytes()).await;
    Ok(Shown { record, decoded })
}

/// Decodes `bytes` with the project's codec (the registry says which event it is).
pub async fn decode(codec: &EventCodec, bytes: &[u8]) -> Decoded {
    if bytes.is_empty() {
        return Decoded::Empty;
    }
    let schema_id = match wire::split(bytes) {
        Ok((id, _)) => id,
        Err(e) => return Decoded::NotFramed(e.to_string()),
    };
    match codec.decode(bytes).await {
        Ok(event) => Decoded::Event {
            schema_id,
            event: Box::new(event),
        },
        Err(e) => Decoded::Undecodable {
            schema_id,
            error: e.to_string(),
        },
    }
}

/// The event's fields as JSON, timestamps as RFC 3339, numbers and bodies masked unless
/// `reveal`.
pub fn event_json(event: &Event, reveal: bool) -> Value {
    let mut v = fields(event).unwrap_or_else(|e| json!({ "error": e.to_string() }));
    if !reveal {
        mask::event(&mut v);
    }
    readable_times(&mut v);
    v
}

fn fields(event: &Event) -> serde_json::Result<Value> {
    use serde_json::to_value as v;
    match event {
        Event::SendRequested(e) => v(e),
        Event::RoutingDecided(e) => v(e),
        Event::MessageRejected(e) => v(e),
        Event::AttemptStarted(e) => v(e),
        Event::AttemptSubmitted(e) => v(e),
        Event::AttemptFailed(e) => v(e),
        Event::RetryScheduled(e) => v(e),
        Event::CarrierReceiptReceived(e) => v(e),
        Event::DeliveryReported(e) => v(e),
        Event::InboundMessageReceived(e) => v(e),
        Event::ConsentChanged(e) => v(e),
        Event::RouteTablePublished(e) => v(e),
        Event::CarrierConfigured(e) => v(e),
    }
}

/// Timestamp fields (`*_at`, `not_before`: microseconds) as RFC 3339.
fn readable_times(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, v) in fields.iter_mut() {
                match v.as_i64() {
                    Some(us) if name.ends_with("_at") || name == "not_before" => {
                        *v = Value::String(Timestamp::from_micros(us).to_string());
                    }
                    _ => readable_times(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(readable_times),
        _ => {}
    }
}

/// A header value for display.
fn header_value(name: &str, value: Option<&[u8]>, reveal: bool) -> String {
    let Some(v) = value else {
        return "(null)".to_owned();
    };
    let text = match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) if reveal => format!("0x{}", mask::hex(v)),
        Err(_) => return format!("<{} bytes, not UTF-8>", v.len()),
    };
    if reveal || PLAIN_HEADERS.contains(&name) {
        text
    } else {
        mask::numbers_in(&text)
    }
}

/// A one-line description of the bytes.
fn payload_summary(shown: &Shown) -> String {
    let n = shown.record.bytes().len();
    match &shown.decoded {
        Decoded::Empty => "none".to_owned(),
        Decoded::NotFramed(why) => format!("{n} bytes, {why}"),
        Decoded::Undecodable { schema_id, error } => {
            format!("{n} bytes, Confluent-framed, schema id {schema_id}, not decodable: {error}")
        }
        Decoded::Event { schema_id, event } => format!(
            "{n} bytes, Confluent-framed, schema id {schema_id}: {}",
            event.kind()
        ),
    }
}

/// The raw bytes, for `--reveal` when there is no event to show: text, or hex.
fn raw(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => format!("0x{}", mask::hex(bytes)),
    }
}

/// Prints `shown` as text or JSON.
pub fn render(shown: &Shown, opts: ShowOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    let r = &shown.record;
    let reveal = opts.reveal;
    let reason = r.reason().map(|s| {
        if reveal {
            s.to_owned()
        } else {
            mask::numbers_in(s)
        }
    });
    let event = match &shown.decoded {
        Decoded::Event { event, .. } => Some(event_json(event, reveal)),
        _ => None,
    };
    let raw_bytes = match &shown.decoded {
        Decoded::NotFramed(_) | Decoded::Undecodable { .. } if reveal => Some(raw(r.bytes())),
        _ => None,
    };
    if opts.json {
        let hs: Vec<Value> = r
            .headers
            .iter()
            .map(|(k, v)| json!({"key": k, "value": header_value(k, v.as_deref(), reveal)}))
            .collect();
        let v = json!({
            "position": r.position.to_string(),
            "time": r.timestamp.map(|t| time(Some(t))),
            "service": r.service(),
            "origin": r.origin().to_string(),
            "code": r.code(),
            "reason": reason,
            "key": r.key.as_deref().map(|k| mask::key(Some(k), reveal)),
            "headers": hs,
            "payload": payload_summary(shown),
            "raw": raw_bytes,
            "event_type": match &shown.decoded {
                Decoded::Event { event, .. } => Some(event.kind().name()),
                _ => None,
            },
            "event": event,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let row = |out: &mut dyn Write, name: &str, value: &str| writeln!(out, "{name:<9} {value}");
    row(out, "position", &r.position.to_string())?;
    row(out, "time", &time(r.timestamp))?;
    row(out, "service", r.service().unwrap_or("-"))?;
    row(out, "origin", &r.origin().to_string())?;
    row(out, "code", r.code().unwrap_or("-"))?;
    row(out, "reason", reason.as_deref().unwrap_or("-"))?;
    row(out, "key", &mask::key(r.key.as_deref(), reveal))?;
    row(out, "payload", &payload_summary(shown))?;
    writeln!(out, "headers")?;
    let width = r.headers.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &r.headers {
        writeln!(
            out,
            "  {k:<width$}  {}",
            header_value(k, v.as_deref(), reveal)
        )?;
    }
    if let Some(e) = &event {
        writeln!(out, "event")?;
        writeln!(out, "{}", serde_json::to_string_pretty(e)?)?;
    }
    match raw_bytes {
        Some(b) => writeln!(out, "raw bytes\n{b}")?,
        None if !reveal && event.is_none() && !r.bytes().is_empty() => {
            writeln!(out, "(the raw bytes are hidden; --reveal shows them)")?;
        }
        None => {}
    }
    if !reveal && event.is_some() {
        writeln!(
            out,
            "(numbers and message texts are masked; --reveal shows them)"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::dead;
    use super::*;
    use smsflow_events::arbitrary::sample_request;
    use smsflow_kafka::headers as h;

    fn shown(decoded: Decoded, payload: &[u8]) -> Shown {
        let mut record = dead(
            1,
            9,
            &[
                (h::EVENT_TYPE, "SendRequested"),
                (h::DLQ_TOPIC, "sms.requests"),
                (h::DLQ_ERROR_CODE, "BAD"),
                (h::DLQ_ERROR, "to +447700900123 refused"),
                ("x-customer-note", "call 447700900999"),
            ],
        );
        record.payload = Some(payload.to_vec());
        Shown { record, decoded }
    }

    fn text(s: &Shown, reveal: bool, json: bool) -> String {
        let mut out = Vec::new();
        render(s, ShowOptions { json, reveal }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_event_is_shown_masked_unless_revealed() {
        let mut e = sample_request("+447700900123");
        e.text = "Your code is 123456".into();
        let s = shown(
            Decoded::Event {
                schema_id: 7,
                event: Box::new(e.clone().into()),
            },
            b"\0\0\0\0\x07...",
        );
        for json in [false, true] {
            let masked = text(&s, false, json);
            assert!(!masked.contains("7700900"), "{masked}");
            assert!(!masked.contains("123456"), "{masked}");
            assert!(masked.contains("+44********23"), "{masked}");
            assert!(masked.contains("<hidden: 19 characters"), "{masked}");
            assert!(masked.contains("schema id 7: SendRequested"), "{masked}");
            let clear = text(&s, true, json);
            assert!(clear.contains("+447700900123"), "{clear}");
            assert!(clear.contains("Your code is 123456"), "{clear}");
            assert!(clear.contains("call 447700900999"), "{clear}");
        }
        // Timestamps are readable.
        let v = event_json(&e.into(), false);
        assert!(v["meta"]["occurred_at"].as_str().unwrap().contains('T'));
    }

    #[test]
    fn raw_bytes_are_hidden_unless_revealed() {
        let s = shown(
            Decoded::NotFramed("magic byte is not 0".into()),
            b"STOP from 447700900123",
        );
        let masked = text(&s, false, false);
        assert!(masked.contains("22 bytes, magic byte is not 0"), "{masked}");
        assert!(masked.contains("--reveal shows them"));
        assert!(!masked.contains("STOP"), "{masked}");
        assert!(!masked.contains("7700900"), "{masked}");
        assert!(masked.contains("x-customer-note"), "{masked}");
        let clear = text(&s, true, false);
        assert!(
            clear.contains("raw bytes\nSTOP from 447700900123"),
            "{clear}"
        );
        let bin = shown(Decoded::NotFramed("x".into()), &[0xff, 0x01]);
        assert!(text(&bin, true, false).contains("0xff01"));
    }

    #[test]
    fn plain_headers_are_shown_as_they_are() {
        assert_eq!(
            header_value(
                h::EVENT_ID,
                Some(b"12345678-1234-7000-8000-123456789012"),
                false
            ),
            "12345678-1234-7000-8000-123456789012"
        );
        assert_eq!(
            header_value("other", Some(b"+447700900123"), false),
            "+44********23"
        );
        assert_eq!(header_value("other", None, false), "(null)");
    }
}
