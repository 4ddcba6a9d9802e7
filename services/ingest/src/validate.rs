//! The send request and its validation: E.164 destination, sender id, text length and
//! encoding, priority and type.

use serde::Deserialize;
use smsflow_events::{Lane, MessageType, Msisdn};
use smsflow_sms::{Options, Preview, preview};
use smsflow_webhooks::{TargetError, TargetPolicy};

use crate::error::ApiError;

/// `POST /v1/messages` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Destination, E.164 (`+447700900123`).
    pub to: String,
    /// Sender id: E.164 number, short code or alphanumeric (≤ 11 characters).
    pub from: String,
    /// Message text.
    pub text: String,
    /// `otp`, `transactional` (default) or `bulk`.
    pub priority: Option<String>,
    /// `otp`, `transactional` or `marketing`; defaults from the priority.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    /// Client reference echoed in status callbacks.
    pub client_ref: Option<String>,
    /// Status webhook URL.
    pub callback_url: Option<String>,
    /// Replace look-alike characters so the text fits GSM-7.
    #[serde(default)]
    pub smart_encoding: bool,
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct Valid {
    /// Destination.
    pub to: Msisdn,
    /// Sender id.
    pub from: String,
    /// Lane.
    pub lane: Lane,
    /// Type.
    pub message_type: MessageType,
    /// Encoding and segments.
    pub preview: Preview,
}

/// The body of `POST /v1/messages` as the handler takes it: JSON into [`SendRequest`]
/// (`malformed_request` when it is not one), then [`validate`]. Pure, so the fuzz target
/// (`fuzz/`) drives exactly what the handler does.
pub fn parse_and_validate(
    body: &[u8],
    rules: &Rules<'_>,
) -> Result<(SendRequest, Valid), ApiError> {
    let req: SendRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("body is not a valid send request: {e}")))?;
    let valid = validate(&req, rules)?;
    Ok((req, valid))
}

/// `s` as a valid phone number in E.164, or the `invalid_number` error naming `field`.
pub fn phone_number(s: &str, field: &'static str) -> Result<Msisdn, ApiError> {
    Msisdn::parse(s)
        .ok()
        .filter(is_valid_number)
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_number",
                field,
                format!("`{field}` must be a valid phone number in E.164, e.g. +447700900123"),
            )
        })
}

/// What a request is checked against (from ingest's configuration).
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Most segments a message may take.
    pub max_segments: usize,
    /// Where a `callback_url` may point.
    pub callbacks: &'a TargetPolicy,
}

impl Rules<'static> {
    /// Ingest's defaults: 10 segments, callbacks to public addresses only.
    pub const DEFAULT: Self = Self {
        max_segments: 10,
        callbacks: &TargetPolicy::PUBLIC_ONLY,
    };
}

/// Rejects anything smsflow could not deliver as asked.
pub fn validate(req: &SendRequest, rules: &Rules<'_>) -> Result<Valid, ApiError> {
    let max_segments = rules.max_segments;
    let to = phone_number(&req.to, "to")?;
    let from = validate_sender(&req.from)?;
    check_text(&req.text)?;
    if let Some(r) = &req.client_ref {
        at_most(r, "client_ref")?;
    }
    let preview = preview(
        &req.text,
        &Options::default().with_smart_replacement(req.smart_encoding),
    );
    if preview.parts > max_segments {
        return Err(ApiError::invalid(
            "text_too_long",
            "text",
            format!(
                "`text` needs {} segments; at most {max_segments} are allowed",
                preview.parts
            ),
        ));
    }
    let lane = parse_opt("priority", &req.priority, Lane::parse)?;
    let mtype = parse_opt("type", &req.message_type, MessageType::parse)?;
    let (lane, message_type) = match (lane, mtype) {
        (Some(l), Some(t)) => (l, t),
        (Some(l), None) => (l, default_type(l)),
        (None, Some(t)) => (Lane::for_type(t), t),
        (None, None) => (Lane::Transactional, MessageType::Transactional),
    };
    // A type may ride its own lane or a lower one, never a higher one: marketing on the OTP
    // lane would queue ahead of every OTP (lanes are ordered OTP, transactional, bulk).
    let own = Lane::for_type(message_type);
    if lane < own {
        return Err(ApiError::invalid(
            "invalid_value",
            "priority",
            format!(
                "a {} message may use the {} lane or a lower one, not {}",
                message_type.as_str().to_ascii_lowercase(),
                own.as_str().to_ascii_lowercase(),
                lane.as_str().to_ascii_lowercase()
            ),
        ));
    }
    if let Some(url) = &req.callback_url {
        callback_url(url, rules.callbacks)?;
    }
    Ok(Valid {
        to,
        from,
        lane,
        message_type,
        preview,
    })
}

/// Longest `client_ref` and `Idempotency-Key`, in characters.
pub const MAX_REF_CHARS: usize = 255;

/// `value_too_long` unless `value` has at most [`MAX_REF_CHARS`] characters.
pub fn at_most(value: &str, field: &'static str) -> Result<(), ApiError> {
    if value.chars().count() > MAX_REF_CHARS {
        return Err(ApiError::invalid(
            "value_too_long",
            field,
            format!("`{field}` must be at most {MAX_REF_CHARS} characters"),
        ));
    }
    Ok(())
}

/// `empty_text` unless some character would show on a handset (whitespace and invisible
/// formatting characters alone, e.g. zero-width spaces, do not); `invalid_text` for control
/// characters other than line feed, carriage return, tab and form feed (a NUL, a bell).
fn check_text(text: &str) -> Result<(), ApiError> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{0C}'))
    {
        return Err(ApiError::invalid(
            "invalid_text",
            "text",
            "`text` must not contain control characters (line feed, carriage return, tab and \
             form feed are allowed)",
        ));
    }
    if text.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(ApiError::invalid(
            "empty_text",
            "text",
            "`text` must contain a visible character",
        ));
    }
    Ok(())
}

/// Formatting characters that show nothing: zero-width spaces and joiners, direction marks,
/// the byte-order mark, variation selectors, soft hyphen, Hangul fillers, tag characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// A `callback_url` smsflow may call: `invalid_value` when it is not an http(s) URL,
/// `callback_url_not_allowed` when it names a private, loopback or link-local address, a local
/// host name, or carries credentials (the SSRF guard, `smsflow_webhooks::target`).
fn callback_url(url: &str, policy: &TargetPolicy) -> Result<(), ApiError> {
    match policy.check_url(url) {
        Ok(_) => Ok(()),
        Err(
            e @ (TargetError::NotPublic { .. }
            | TargetError::LocalName(_)
            | TargetError::Credentials),
        ) => Err(ApiError::invalid(
            "callback_url_not_allowed",
            "callback_url",
            format!("`callback_url` is not allowed: {e}"),
        )),
        Err(e) => Err(ApiError::invalid(
            "invalid_value",
            "callback_url",
            format!("`callback_url` must be an http(s) URL: {e}"),
        )),
    }
}

fn parse_opt<T>(
    field: &'static str,
    v: &Option<String>,
    f: fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => f(s).map(Some).ok_or_else(|| {
            ApiError::invalid("invalid_value", field, format!("unknown {field} {s:?}"))
        }),
    }
}

fn default_type(lane: Lane) -> MessageType {
    match lane {
        Lane::Otp => MessageType::Otp,
        Lane::Transactional => MessageType::Transactional,
        Lane::Bulk => MessageType::Marketing,
    }
}

/// A number whose country code exists and whose length is possible in that country's
/// numbering plan. Deliberately not a range-validity check: carriers open new ranges faster
/// than numbering metadata is released, and a wrongly refused OTP is worse than a carrier
/// reporting an unknown subscriber.
fn is_valid_number(m: &Msisdn) -> bool {
    let Ok(n) = phonenumber::parse(None, m.as_str()) else {
        return false;
    };
    let Some(regions) = phonenumber::metadata::DATABASE.by_code(&n.code().value()) else {
        return false;
    };
    let Ok(len) = u16::try_from(n.national().to_string().len()) else {
        return false;
    };
    regions.iter().any(|meta| {
        let d = meta.descriptors();
        std::iter::once(d.general())
            .chain(d.mobile())
            .chain(d.fixed_line())
            .chain(d.toll_free())
            .chain(d.voip())
            .any(|desc| desc.possible_length().contains(&len))
    })
}

fn validate_sender(from: &str) -> Result<String, ApiError> {
    let bad = || {
        Err(ApiError::invalid(
            "invalid_sender",
            "from",
            "`from` must be an E.164 number, a 3-8 digit short code, or 1-11 letters/digits/spaces with a letter",
        ))
    };
    if from.starts_with('+') {
        return Msisdn::parse(from)
            .map(|m| m.as_str().to_owned())
            .or_else(|_| bad());
    }
    let digits = from.chars().all(|c| c.is_ascii_digit());
    if digits && (3..=8).contains(&from.len()) {
        return Ok(from.to_owned());
    }
    let alnum = from.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && from.chars().any(|c| c.is_ascii_alphabetic())
        && (1..=11).contains(&from.len());
    if alnum { Ok(from.to_owned()) } else { bad() }
}

/// Warms the numbering-plan metadata (the first parse is slow).
pub fn warm_up() {
    let _ = phonenumber::parse(None, "+447700900123");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RULES: Rules<'static> = Rules::DEFAULT;

    fn req(to: &str, from: &str, text: &str) -> SendRequest {
        SendRequest {
            to: to.into(),
            from: from.into(),
            text: text.into(),
            priority: None,
            message_type: None,
            client_ref: None,
            callback_url: None,
            smart_encoding: false,
        }
    }

    #[test]
    fn accepts_a_plain_request() {
        let v = validate(&req("+447700900123", "ACME", "hello"), &RULES).unwrap();
        assert_eq!(v.lane, Lane::Transactional);
        assert_eq!(v.preview.parts, 1);
    }

    #[test]
    fn field_errors_have_stable_codes() {
        assert_eq!(
            validate(&req("12345", "ACME", "x"), &RULES)
                .unwrap_err()
                .code,
            "invalid_number"
        );
        assert_eq!(
            validate(&req("+999999999999", "ACME", "x"), &RULES)
                .unwrap_err()
                .code,
            "invalid_number"
        );
        assert_eq!(
            validate(&req("+4477009001234567", "ACME", "x"), &RULES)
                .unwrap_err()
                .code,
            "invalid_number"
        );
        assert_eq!(
            validate(&req("+44770090", "ACME", "x"), &RULES)
                .unwrap_err()
                .code,
            "invalid_number"
        );
        assert_eq!(
            validate(&req("+447700900123", "ACME", "  "), &RULES)
                .unwrap_err()
                .code,
            "empty_text"
        );
        assert_eq!(
            validate(&req("+447700900123", "TOOLONGSENDERID", "x"), &RULES)
                .unwrap_err()
                .code,
            "invalid_sender"
        );
        assert_eq!(
            validate(&req("+447700900123", "ACME", &"x".repeat(2000)), &RULES)
                .unwrap_err()
                .code,
            "text_too_long"
        );
        let mut r = req("+447700900123", "ACME", "x");
        r.priority = Some("urgent".into());
        assert_eq!(validate(&r, &RULES).unwrap_err().field, Some("priority"));
    }

    #[test]
    fn priority_and_type_default_from_each_other() {
        let mut r = req("+447700900123", "ACME", "code 1234");
        r.priority = Some("otp".into());
        let v = validate(&r, &RULES).unwrap();
        assert_eq!((v.lane, v.message_type), (Lane::Otp, MessageType::Otp));
        let mut r = req("+447700900123", "ACME", "sale");
        r.message_type = Some("marketing".into());
        assert_eq!(validate(&r, &RULES).unwrap().lane, Lane::Bulk);
    }

    proptest! {
        #[test]
        fn validation_never_panics(to in ".{0,20}", from in ".{0,14}", text in ".{0,300}") {
            let _ = validate(&req(&to, &from, &text), &RULES);
        }

        #[test]
        fn alphanumeric_senders_up_to_11(s in "[A-Za-z][A-Za-z0-9 ]{0,10}") {
            prop_assert!(validate_sender(&s).is_ok());
        }
    }

    #[test]
    fn a_callback_to_a_private_address_is_refused_with_its_own_code() {
        let with = |url: &str, rules: &Rules<'_>| {
            let mut r = req("+447700900123", "ACME", "hi");
            r.callback_url = Some(url.into());
            validate(&r, rules)
                .map(|_| ())
                .map_err(|e| (e.code, e.field))
        };
        let refused = Err(("callback_url_not_allowed", Some("callback_url")));
        assert_eq!(with("https://hooks.example.com/sms", &RULES), Ok(()));
        assert_eq!(with("http://10.0.0.7/hook", &RULES), refused);
        assert_eq!(with("http://169.254.169.254/latest", &RULES), refused);
        assert_eq!(with("http://localhost:9000/", &RULES), refused);
        assert_eq!(
            with("ftp://example.com/", &RULES),
            Err(("invalid_value", Some("callback_url")))
        );
        let local = TargetPolicy::allowing(["127.0.0.0/8".parse().unwrap()]);
        let demo = Rules {
            max_segments: 10,
            callbacks: &local,
        };
        assert_eq!(with("http://127.0.0.1:9000/hook", &demo), Ok(()));
        assert_eq!(with("http://10.0.0.7/hook", &demo), refused);
    }

    #[test]
    fn texts_that_show_nothing_or_hold_control_characters_are_refused() {
        let code = |text: &str| {
            validate(&req("+447700900123", "ACME", text), &RULES)
                .map(|_| ())
                .map_err(|e| e.code)
        };
        assert_eq!(code("\u{0}\u{0}"), Err("invalid_text"));
        assert_eq!(code("hello\u{7}"), Err("invalid_text"));
        assert_eq!(code("\u{200B}\u{200D}\u{FEFF}"), Err("empty_text"));
        assert_eq!(code(" \u{2060}\n"), Err("empty_text"));
        assert_eq!(code("line one\nline two\ttab"), Ok(()));
        assert_eq!(code("\u{200B}hi"), Ok(()));
    }

    #[test]
    fn a_type_never_rides_a_higher_lane() {
        let with = |p: &str, t: &str| {
            let mut r = req("+447700900123", "ACME", "hi");
            r.priority = Some(p.into());
            r.message_type = Some(t.into());
            validate(&r, &RULES)
                .map(|v| v.lane)
                .map_err(|e| (e.code, e.field))
        };
        let refused = Err(("invalid_value", Some("priority")));
        assert_eq!(with("otp", "marketing"), refused);
        assert_eq!(with("transactional", "marketing"), refused);
        assert_eq!(with("otp", "transactional"), refused);
        assert_eq!(with("bulk", "marketing"), Ok(Lane::Bulk));
        assert_eq!(with("bulk", "otp"), Ok(Lane::Bulk));
        assert_eq!(with("transactional", "otp"), Ok(Lane::Transactional));
        assert_eq!(with("otp", "otp"), Ok(Lane::Otp));
    }

    #[test]
    fn a_client_ref_over_255_characters_is_refused() {
        let mut r = req("+447700900123", "ACME", "hi");
        r.client_ref = Some("é".repeat(255));
        assert!(validate(&r, &RULES).is_ok());
        r.client_ref = Some("é".repeat(256));
        let e = validate(&r, &RULES).unwrap_err();
        assert_eq!((e.code, e.field), ("value_too_long", Some("client_ref")));
    }
}
