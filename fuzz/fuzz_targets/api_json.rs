//! The API's request validation: the body of `POST /v1/messages` → [`SendRequest`] (JSON,
//! unknown fields refused) → a validated request or an error with a stable code.
//!
//! Input: the request body.
//! Checks: nothing panics; every error is a 400: `malformed_json` exactly for a body that is
//! not a request, else one of the documented field codes naming its field; an accepted
//! request keeps the rules it was checked against (an E.164 destination that parses back to
//! itself, a sender that validates again to itself, non-blank text within the segment limit,
//! the preview of its own text, priority and type as asked or defaulted from each other, an
//! http(s) callback to a public host) and becomes a `SendRequested` event that encodes and decodes unchanged.
#![no_main]

use ingest::validate::{Rules, SendRequest, parse_and_validate, validate};
use libfuzzer_sys::fuzz_target;
use smsflow_events::codec::{decode_datum, encode_datum};
use smsflow_events::{
    Event, EventMeta, Lane, MessageId, MessageType, Msisdn, SendRequested, TenantId,
};
use smsflow_sms::{Options, preview};

/// The ingest defaults (`max_segments` 10, callbacks to public addresses only).
const RULES: Rules<'static> = Rules::DEFAULT;
const MAX_SEGMENTS: usize = RULES.max_segments;

fuzz_target!(|data: &[u8]| {
    match parse_and_validate(data, &RULES) {
        Err(e) => {
            let well_formed = serde_json::from_slice::<SendRequest>(data).is_ok();
            assert_eq!(e.status.as_u16(), 400, "{e:?}");
            if well_formed {
                assert!(e.field.is_some(), "a field error names its field: {e:?}");
                assert!(
                    [
                        "invalid_number",
                        "invalid_sender",
                        "empty_text",
                        "text_too_long",
                        "invalid_value",
                        "invalid_text",
                        "value_too_long",
                        "callback_url_not_allowed"
                    ]
                    .contains(&e.code),
                    "{e:?}"
                );
            } else {
                assert_eq!((e.code, e.field), ("malformed_json", None), "{e:?}");
            }
        }
        Ok((req, v)) => {
            assert!(v.to.as_str().starts_with('+'));
            assert_eq!(Msisdn::parse(v.to.as_str()).as_ref(), Ok(&v.to));
            let mut again = req.clone();
            again.from.clone_from(&v.from);
            again.to = v.to.as_str().to_owned();
            let again = validate(&again, &RULES).expect("a valid request validates again");
            assert_eq!(again.from, v.from, "sender normalisation is idempotent");
            assert_eq!(again.to, v.to);
            assert!(!req.text.trim().is_empty());
            assert!(
                !req.text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{0C}')),
                "no control characters in an accepted text"
            );
            assert!(
                req.client_ref
                    .as_ref()
                    .is_none_or(|r| r.chars().count() <= 255)
            );
            assert!(
                v.lane >= Lane::for_type(v.message_type),
                "a type never rides a higher lane"
            );
            let opts = Options::default().with_smart_replacement(req.smart_encoding);
            assert_eq!(v.preview, preview(&req.text, &opts));
            assert!((1..=MAX_SEGMENTS).contains(&v.preview.parts));
            match (&req.priority, &req.message_type) {
                (Some(p), _) => assert_eq!(Lane::parse(p), Some(v.lane)),
                (None, Some(_)) => assert_eq!(v.lane, Lane::for_type(v.message_type)),
                (None, None) => assert_eq!(
                    (v.lane, v.message_type),
                    (Lane::Transactional, MessageType::Transactional)
                ),
            }
            if let Some(t) = &req.message_type {
                assert_eq!(MessageType::parse(t), Some(v.message_type));
            }
            if let Some(url) = &req.callback_url {
                let url = RULES
                    .callbacks
                    .check_url(url)
                    .expect("an accepted callback passes the guard");
                assert!(matches!(url.scheme(), "http" | "https"));
            }
            // What ingest publishes for it reaches the router intact.
            let event = Event::SendRequested(SendRequested {
                meta: EventMeta::new(ingest::PRODUCER, None),
                message_id: MessageId::new(),
                tenant_id: TenantId::parse("fuzz").expect("tenant"),
                to: v.to.clone(),
                from: v.from.clone(),
                text: req.text.clone(),
                message_type: v.message_type,
                lane: v.lane,
                client_ref: req.client_ref.clone(),
                idempotency_key: None,
                callback_url: req.callback_url.clone(),
                send_at: None,
                expires_at: None,
                smart_encoding: req.smart_encoding,
                channel: "api".into(),
            });
            let bytes = encode_datum(&event).expect("an accepted request encodes");
            let back = decode_datum(event.kind(), &bytes).expect("and decodes");
            assert_eq!(back, event);
        }
    }
});
