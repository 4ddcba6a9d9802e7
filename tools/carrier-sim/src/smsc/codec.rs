//! Framing on top of the rusmpp codec that survives a malformed PDU body.
//!
//! rusmpp's `CommandCodec` ends the stream on any decode error; an SMSC must instead answer
//! `generic_nack` and keep the session. This codec cuts the frame by command_length first,
//! then lets rusmpp decode the frame, and yields [`Frame::Invalid`] (with the header's
//! command_id and sequence_number) when the body does not decode.

use bytes::{Buf, BytesMut};
use rusmpp::{Command, decode::DecodeWithLength, tokio_codec::CommandCodec};
use tokio_util::codec::{Decoder, Encoder};

/// Smallest SMPP PDU: the 16-octet header.
const HEADER_LEN: usize = 16;

/// One inbound PDU.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A decoded command (unknown command ids decode as `CommandId::Other`).
    Command(Box<Command>),
    /// A PDU whose body rusmpp could not decode.
    Invalid {
        /// command_id from the header.
        command_id: u32,
        /// sequence_number from the header.
        sequence_number: u32,
    },
}

/// Length-delimited SMPP codec.
#[derive(Debug)]
pub(crate) struct SmppCodec {
    max_len: usize,
    encoder: CommandCodec,
}

impl SmppCodec {
    pub(crate) fn new(max_len: usize) -> Self {
        Self {
            max_len,
            encoder: CommandCodec::new().without_max_length(),
        }
    }
}

impl Decoder for SmppCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if !(HEADER_LEN..=self.max_len).contains(&len) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("command_length {len} out of range"),
            ));
        }
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(len);
        let word =
            |i: usize| u32::from_be_bytes([frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]);
        let (command_id, sequence_number) = (word(4), word(12));
        frame.advance(4);
        Ok(Some(match Command::decode(&mut frame, len - 4) {
            Ok((command, _)) => Frame::Command(Box::new(command)),
            Err(_) => Frame::Invalid {
                command_id,
                sequence_number,
            },
        }))
    }
}

impl Encoder<Command> for SmppCodec {
    type Error = std::io::Error;

    fn encode(&mut self, command: Command, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        self.encoder.encode(&command, dst).map_err(|e| match e {
            rusmpp::tokio_codec::EncodeError::Io(e) => e,
            other => std::io::Error::other(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use rusmpp::{CommandId, CommandStatus, Pdu};

    use super::*;

    fn encode(cmd: Command) -> BytesMut {
        let mut buf = BytesMut::new();
        SmppCodec::new(4096).encode(cmd, &mut buf).unwrap();
        buf
    }

    #[test]
    fn decodes_split_frames() {
        let mut all = encode(Command::new(CommandStatus::EsmeRok, 7, Pdu::EnquireLink));
        all.extend_from_slice(&encode(Command::new(
            CommandStatus::EsmeRok,
            8,
            Pdu::Unbind,
        )));
        let mut codec = SmppCodec::new(4096);
        let mut part = all.split_to(10);
        assert!(codec.decode(&mut part).unwrap().is_none());
        part.unsplit(all);
        let Some(Frame::Command(c)) = codec.decode(&mut part).unwrap() else {
            panic!()
        };
        assert_eq!((c.id(), c.sequence_number()), (CommandId::EnquireLink, 7));
        let Some(Frame::Command(c)) = codec.decode(&mut part).unwrap() else {
            panic!()
        };
        assert_eq!(c.id(), CommandId::Unbind);
        assert!(part.is_empty());
    }

    #[test]
    fn unknown_command_id_decodes_as_other() {
        let mut buf = BytesMut::from(&[0, 0, 0, 16, 0, 0, 0x01, 0x99, 0, 0, 0, 0, 0, 0, 0, 5][..]);
        let Some(Frame::Command(c)) = SmppCodec::new(4096).decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(c.id(), CommandId::Other(0x199));
        assert_eq!(c.sequence_number(), 5);
    }

    #[test]
    fn malformed_body_is_invalid_not_fatal() {
        // submit_sm (0x04) with a 3-octet garbage body, then an enquire_link
        let mut buf = BytesMut::from(
            &[
                0, 0, 0, 19, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0xFF, 0xFF, 0xFF,
            ][..],
        );
        buf.extend_from_slice(&encode(Command::new(
            CommandStatus::EsmeRok,
            10,
            Pdu::EnquireLink,
        )));
        let mut codec = SmppCodec::new(4096);
        match codec.decode(&mut buf).unwrap() {
            Some(Frame::Invalid {
                command_id: 4,
                sequence_number: 9,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            codec.decode(&mut buf).unwrap(),
            Some(Frame::Command(_))
        ));
    }

    #[test]
    fn rejects_bad_length() {
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 0, 0, 0, 0][..]);
        assert!(SmppCodec::new(4096).decode(&mut buf).is_err());
    }
}
