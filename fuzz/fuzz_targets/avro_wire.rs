//! The Avro wire decoder: a Confluent-framed record (magic byte 0, 4-byte schema id, Avro
//! body) decoded against the project's schemas (`schemas/`, embedded in `smsflow-events`)
//! without a registry.
//!
//! Input: the framed payload as it sits in a Kafka record value. The schema id stands for
//! event kind `id % kinds`; `id / kinds` even reads with our schema as writer (the
//! services' fast path), odd reads through Avro schema resolution (the path of a writer
//! schema that differs from ours).
//! Checks: nothing panics and no allocation runs away (the decoder's allocation cap); a
//! payload without the magic byte is refused; both decoding paths agree on every body, and on
//! whether it is one; a decoded event encodes again, and that encoding decodes to the same
//! event and encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsflow_events::codec::{decode_body, decode_framed, encode_with_id};
use smsflow_events::{DecodeError, EventKind, schema};

fuzz_target!(|data: &[u8]| {
    let kinds = EventKind::ALL.len() as u32;
    let writer_of = |id: u32| -> Result<_, DecodeError> {
        let kind = EventKind::ALL[(id % kinds) as usize];
        let resolve = (id / kinds) % 2 == 1;
        Ok((kind, resolve.then(|| &schema::schema(kind).schema)))
    };
    let decoded = decode_framed(data, writer_of);
    if data.len() < 5 || data[0] != 0 {
        assert!(matches!(decoded, Err(DecodeError::NotWireFormat(_))));
        return;
    }
    let id = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
    let kind = EventKind::ALL[(id % kinds) as usize];
    let body = &data[5..];

    // The fast path and schema resolution read the same bytes the same way.
    let fast = decode_body(kind, None, body);
    let resolved = decode_body(kind, Some(&schema::schema(kind).schema), body);
    match (&fast, &resolved) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "fast path and resolution disagree"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("only one path decodes {kind:?}: fast {a:?}, resolved {b:?}"),
    }
    match (&decoded, &fast) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("framed and bare decoding disagree: {a:?} / {b:?}"),
    }

    if let Ok(event) = decoded {
        assert_eq!(event.kind(), kind);
        let encoded = encode_with_id(id, &event).expect("a decoded event encodes");
        let again = decode_framed(&encoded, writer_of).expect("its encoding decodes");
        assert_eq!(again, event, "decode(encode(event)) == event");
        let twice = encode_with_id(id, &again).expect("encodes");
        assert_eq!(twice, encoded, "encoding is stable");
    }
});
