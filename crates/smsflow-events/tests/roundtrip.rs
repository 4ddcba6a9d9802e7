//! Property tests: every event survives encode → decode unchanged, and hostile bytes give a
//! typed error, never a panic. No registry involved: the datum layer and the wire framing.

use proptest::collection::vec;
use proptest::prelude::*;
use smsflow_events::arbitrary::{any_event, pick};
use smsflow_events::codec::{decode_datum, encode_with_id};
use smsflow_events::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_event_round_trips(event in any_event(), id: u32) {
        let framed = encode_with_id(id, &event).unwrap();
        let (got_id, body) = wire::split(&framed).unwrap();
        prop_assert_eq!(got_id, id);
        let back = decode_datum(event.kind(), body).unwrap();
        prop_assert_eq!(back, event);
    }

    #[test]
    fn truncated_payloads_give_a_typed_error(event in any_event(), cut in any::<prop::sample::Index>()) {
        let framed = encode_with_id(7, &event).unwrap();
        let (_, body) = wire::split(&framed).unwrap();
        let n = cut.index(body.len().max(1));
        if n < body.len() {
            let r = decode_datum(event.kind(), &body[..n]);
            prop_assert!(matches!(r, Err(DecodeError::Avro { .. })), "truncated to {} of {} decoded: {:?}", n, body.len(), r);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), kind in pick(EventKind::ALL)) {
        let _ = wire::split(&bytes);
        let _ = decode_datum(kind, &bytes);
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let event = any_event().new_tree(&mut runner).unwrap().current();
    let mut framed = encode_with_id(1, &event).unwrap();
    framed.push(0x42);
    let (_, body) = wire::split(&framed).unwrap();
    assert!(matches!(
        decode_datum(event.kind(), body),
        Err(DecodeError::Avro { .. })
    ));
}

/// The seeds of the Avro fuzz target (`fuzz/seeds/avro_wire/`, `make fuzz`): one framed event
/// of each kind, schema id = the kind's index in `EventKind::ALL` (what the target maps ids
/// to). They must keep decoding; after a schema change, rewrite them with
/// `SMSFLOW_WRITE_FUZZ_SEEDS=1 cargo test -p smsflow-events --test roundtrip fuzz_seeds`.
#[test]
fn fuzz_seeds_decode() {
    use smsflow_events::arbitrary::one_of_each_kind;
    use smsflow_events::codec::decode_framed;
    let dir =
        std::path::Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
            .join("../../fuzz/seeds/avro_wire");
    if std::env::var_os("SMSFLOW_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for event in one_of_each_kind() {
            let id = EventKind::ALL
                .iter()
                .position(|k| *k == event.kind())
                .unwrap();
            let framed = encode_with_id(u32::try_from(id).unwrap(), &event).unwrap();
            std::fs::write(dir.join(format!("{}.bin", event.kind().name())), framed).unwrap();
        }
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let payload = std::fs::read(&path).unwrap();
        let event = decode_framed(&payload, |id| {
            let kind = EventKind::ALL[usize::try_from(id).unwrap() % EventKind::ALL.len()];
            Ok((kind, None))
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            path.file_stem().and_then(|s| s.to_str()),
            Some(event.kind().name()),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, EventKind::ALL.len(), "one seed per event kind");
}
