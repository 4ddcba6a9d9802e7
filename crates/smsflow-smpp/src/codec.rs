//! Framing on top of the rusmpp command codec.
//!
//! rusmpp's `CommandCodec` ends the stream on the first PDU it cannot decode, which would
//! drop the whole session (and every submit in the window) because of one odd PDU. This
//! decoder frames by `command_length` itself, lets rusmpp decode each complete frame, and
//! when rusmpp refuses a frame it still yields the 16-byte header as
//! [`Frame::Undecodable`] so the session can answer it (generic_nack, or treat an error
//! response with a strange body as a plain error response) and go on.
//!
//! Error responses "with no body or a single NUL byte" are accepted: rusmpp decodes an
//! empty body as a command without PDU and a single NUL as an empty `message_id`.

use bytes::{Bytes, BytesMut};
use rusmpp::Command;
use rusmpp::decode::DecodeWithLength;
use tokio_util::codec::{Decoder, Encoder};

/// Size of the SMPP header (length, id, status, sequence).
pub(crate) const HEADER_LEN: usize = 16;
/// Largest PDU we accept; SMPP PDUs are small, a larger length means a broken stream.
pub(crate) const MAX_PDU_LEN: usize = 64 * 1024;

/// One PDU read from the link.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A PDU rusmpp decoded.
    Command(Box<Command>),
    /// A well-framed PDU whose body rusmpp could not decode.
    Undecodable {
        /// Raw command_id.
        command_id: u32,
        /// Raw command_status.
        status: u32,
        /// Raw sequence_number.
        sequence: u32,
        /// The body after the 16-byte header.
        body: Bytes,
    },
}

/// Framing errors: the byte stream cannot be resynchronised, the link must be closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// Socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// command_length outside 16..=64 KiB.
    #[error("invalid command_length {0}")]
    Length(usize),
}

/// Framing decoder / rusmpp-backed encoder.
#[derive(Debug, Default)]
pub(crate) struct PduCodec {
    inner: rusmpp::tokio_codec::CommandCodec,
}

impl Decoder for PduCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if !(HEADER_LEN..=MAX_PDU_LEN).contains(&length) {
            return Err(CodecError::Length(length));
        }
        if src.len() < length {
            src.reserve(length - src.len());
            return Ok(None);
        }
        let raw = src.split_to(length).freeze();
        let word = |at: usize| u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
        let (command_id, status, sequence) = (word(4), word(8), word(12));
        // rusmpp consumes what it reads, so it decodes a copy and the raw frame stays
        // available for the lenient path (PDUs are small; the copy is cheap).
        let mut work = BytesMut::from(&raw[4..]);
        match <Command as DecodeWithLength>::decode(&mut work, length - 4) {
            Ok((command, _)) => Ok(Some(Frame::Command(Box::new(command)))),
            Err(err) => {
                tracing::debug!(command_id, status, sequence, error = %err, "pdu body not decodable");
                Ok(Some(Frame::Undecodable {
                    command_id,
                    status,
                    sequence,
                    body: raw.slice(HEADER_LEN..),
                }))
            }
        }
    }
}

impl Encoder<&Command> for PduCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: &Command, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        self.inner.encode(item, dst).map_err(|err| match err {
            rusmpp::tokio_codec::EncodeError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        })
    }
}

/// True when `command_id` has the response bit set.
pub(crate) fn is_response(command_id: u32) -> bool {
    command_id & 0x8000_0000 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::{CommandId, CommandStatus, Pdu};

    fn header(length: u32, id: u32, status: u32, seq: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&length.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&status.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v
    }

    fn decode_all(bytes: &[u8]) -> Vec<Frame> {
        let mut codec = PduCodec::default();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("decode") {
            out.push(frame);
        }
        out
    }

    #[test]
    fn error_response_without_body() {
        let frames = decode_all(&header(16, 0x8000_0004, 0x58, 7));
        match &frames[..] {
            [Frame::Command(cmd)] => {
                assert_eq!(cmd.id(), CommandId::SubmitSmResp);
                assert_eq!(cmd.status(), CommandStatus::EsmeRthrottled);
                assert_eq!(cmd.sequence_number(), 7);
                assert!(cmd.pdu().is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_response_with_single_nul() {
        let mut bytes = header(17, 0x8000_0004, 0x14, 9);
        bytes.push(0);
        let frames = decode_all(&bytes);
        match &frames[..] {
            [Frame::Command(cmd)] => {
                assert_eq!(cmd.status(), CommandStatus::EsmeRmsgqful);
                match cmd.pdu() {
                    Some(Pdu::SubmitSmResp(resp)) => assert!(resp.message_id().is_empty()),
                    None => {}
                    other => panic!("unexpected pdu {other:?}"),
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_body_becomes_undecodable_and_stream_continues() {
        // submit_sm_resp whose message_id has no NUL terminator.
        let mut bytes = header(19, 0x8000_0004, 0x08, 3);
        bytes.extend_from_slice(b"abc");
        bytes.extend_from_slice(&header(16, 0x0000_0015, 0, 4)); // enquire_link
        let frames = decode_all(&bytes);
        assert!(matches!(
            frames[0],
            Frame::Undecodable {
                command_id: 0x8000_0004,
                status: 0x08,
                sequence: 3,
                ..
            }
        ));
        assert!(matches!(&frames[1], Frame::Command(c) if c.id() == CommandId::EnquireLink));
    }

    #[test]
    fn partial_frames_wait_for_more() {
        let mut codec = PduCodec::default();
        let bytes = header(16, 0x0000_0015, 0, 1);
        let mut buf = BytesMut::from(&bytes[..10]);
        assert!(codec.decode(&mut buf).expect("ok").is_none());
        buf.extend_from_slice(&bytes[10..]);
        assert!(codec.decode(&mut buf).expect("ok").is_some());
    }

    #[test]
    fn absurd_length_is_an_error() {
        let mut codec = PduCodec::default();
        let mut buf = BytesMut::from(&header(8, 0x15, 0, 1)[..]);
        assert!(codec.decode(&mut buf).is_err());
    }

    #[test]
    fn unknown_command_id_decodes() {
        let frames = decode_all(&header(16, 0x0000_0111, 0, 5));
        match &frames[..] {
            [Frame::Command(cmd)] => assert_eq!(u32::from(cmd.id()), 0x111),
            [Frame::Undecodable { command_id, .. }] => assert_eq!(*command_id, 0x111),
            other => panic!("unexpected {other:?}"),
        }
    }
}
