//! The Confluent wire format: magic byte `0`, 4-byte big-endian schema id, Avro body.

use crate::error::DecodeError;

/// First byte of every framed payload.
pub const MAGIC: u8 = 0;
/// Length of the header before the Avro body.
pub const HEADER_LEN: usize = 5;

/// Starts a payload for `schema_id`; append the Avro body to it.
pub fn header(schema_id: u32, body_capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body_capacity);
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out
}

/// Splits a payload into its schema id and Avro body.
pub fn split(payload: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    if payload.len() < HEADER_LEN {
        return Err(DecodeError::NotWireFormat("shorter than the 5-byte header"));
    }
    if payload[0] != MAGIC {
        return Err(DecodeError::NotWireFormat("magic byte is not 0"));
    }
    let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    Ok((id, &payload[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn header_then_split_round_trips(id: u32, body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut framed = header(id, body.len());
            framed.extend_from_slice(&body);
            let (got, rest) = split(&framed).unwrap();
            prop_assert_eq!(got, id);
            prop_assert_eq!(rest, &body[..]);
        }

        #[test]
        fn split_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = split(&bytes);
        }
    }

    #[test]
    fn rejects_short_and_wrong_magic() {
        assert!(matches!(
            split(&[0, 0, 0]),
            Err(DecodeError::NotWireFormat(_))
        ));
        assert!(matches!(
            split(&[1, 0, 0, 0, 1, 2]),
            Err(DecodeError::NotWireFormat(_))
        ));
    }
}
