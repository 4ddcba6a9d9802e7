//! Entry points for the fuzz targets in `fuzz/` (`make fuzz`): the inbound decoding a
//! deliver_sm goes through, from raw bytes, without a socket. Not an API; hidden from the docs.
//!
//! [`decode_stream`] does what a bound link does with the bytes it reads (`link/read.rs`):
//! frame them with the tolerant codec, read each deliver_sm strictly (rusmpp) or, when
//! rusmpp refuses it, leniently, and turn it into an [`InboundEvent`]. The other functions
//! expose the single steps so that a target can check one against another (strict against
//! lenient, encode against decode).

use bytes::BytesMut;
use rusmpp::{Command, CommandId, Pdu};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{Frame, PduCodec};
use crate::config::CarrierConfig;
use crate::deliver::{DeliverFields, NetworkError};
use crate::inbound::{ConcatInfo, InboundEvent, parse_udh, to_event};

/// What became of one complete frame of the stream.
#[derive(Debug)]
pub enum Decoded {
    /// rusmpp decoded the frame; for a deliver_sm, `inbound` is the event handed to the caller.
    Command {
        /// The decoded PDU.
        command: Box<Command>,
        /// The event of a deliver_sm, `None` for other commands.
        inbound: Option<InboundEvent>,
        /// The raw frame, header included.
        raw: Vec<u8>,
    },
    /// rusmpp refused the frame; a deliver_sm was read leniently (`inbound` is `Some`) or
    /// refused (`None`, answered with ESME_RX_P_APPN on a link).
    Undecodable {
        /// Raw command_id of the header.
        command_id: u32,
        /// The event of a deliver_sm read leniently.
        inbound: Option<InboundEvent>,
        /// The raw frame, header included.
        raw: Vec<u8>,
    },
}

/// The outcome of [`decode_stream`]: the frames read, and how the stream ended.
#[derive(Debug)]
pub struct Stream {
    /// One entry per complete frame, in order.
    pub frames: Vec<Decoded>,
    /// The bytes left over: an incomplete frame (the codec waits for more).
    pub rest: usize,
    /// True when the codec gave up on the stream (a `command_length` outside 16..=64 KiB);
    /// a link closes then.
    pub broken: bool,
}

/// Frames and decodes `bytes` as a link reads them from a carrier.
pub fn decode_stream(config: &CarrierConfig, bytes: &[u8]) -> Stream {
    let mut codec = PduCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    loop {
        let before = buf.len();
        match codec.decode(&mut buf) {
            Ok(Some(frame)) => {
                let consumed = before - buf.len();
                let start = bytes.len() - before;
                let raw = bytes[start..start + consumed].to_vec();
                frames.push(match frame {
                    Frame::Command(command) => {
                        let inbound = match command.pdu() {
                            Some(Pdu::DeliverSm(deliver)) => {
                                Some(to_event(config, &DeliverFields::from_pdu(deliver)))
                            }
                            _ => None,
                        };
                        Decoded::Command {
                            command,
                            inbound,
                            raw,
                        }
                    }
                    Frame::Undecodable {
                        command_id, body, ..
                    } => {
                        let inbound = (command_id == u32::from(CommandId::DeliverSm))
                            .then(|| DeliverFields::parse_lenient(&body))
                            .flatten()
                            .map(|fields| to_event(config, &fields));
                        Decoded::Undecodable {
                            command_id,
                            inbound,
                            raw,
                        }
                    }
                });
            }
            Ok(None) => {
                return Stream {
                    frames,
                    rest: buf.len(),
                    broken: false,
                };
            }
            Err(_) => {
                return Stream {
                    frames,
                    rest: buf.len(),
                    broken: true,
                };
            }
        }
    }
}

/// Encodes `command` as the link writes it.
pub fn encode(command: &Command) -> Result<Vec<u8>, std::io::Error> {
    let mut out = BytesMut::new();
    PduCodec::default().encode(command, &mut out)?;
    Ok(out.to_vec())
}

/// The deliver_sm fields both readers agree on, for comparing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverSummary {
    /// source_addr.
    pub source_addr: String,
    /// source_addr_ton, source_addr_npi.
    pub source_ton_npi: (u8, u8),
    /// destination_addr.
    pub destination_addr: String,
    /// esm_class.
    pub esm_class: u8,
    /// data_coding.
    pub data_coding: u8,
    /// short_message.
    pub short_message: Vec<u8>,
    /// sar_msg_ref_num, sar_total_segments, sar_segment_seqnum.
    pub sar: (Option<u16>, Option<u8>, Option<u8>),
    /// network_error_code.
    pub network_error: Option<NetworkError>,
    /// message_payload.
    pub message_payload: Option<Vec<u8>>,
}

impl From<&DeliverFields> for DeliverSummary {
    fn from(f: &DeliverFields) -> Self {
        Self {
            source_addr: f.source_addr.clone(),
            source_ton_npi: (f.source_ton, f.source_npi),
            destination_addr: f.destination_addr.clone(),
            esm_class: f.esm_class,
            data_coding: f.data_coding,
            short_message: f.short_message.clone(),
            sar: (f.sar_ref, f.sar_total, f.sar_seq),
            network_error: f.network_error,
            message_payload: f.message_payload.clone(),
        }
    }
}

/// The fields of a deliver_sm as the strict path reads them (`None` if `command` is not one).
pub fn strict_fields(command: &Command) -> Option<DeliverSummary> {
    match command.pdu() {
        Some(Pdu::DeliverSm(deliver)) => Some((&DeliverFields::from_pdu(deliver)).into()),
        _ => None,
    }
}

/// The fields of a deliver_sm body (after the header) as the lenient path reads them.
pub fn lenient_fields(body: &[u8]) -> Option<DeliverSummary> {
    DeliverFields::parse_lenient(body).map(|f| (&f).into())
}

/// The UDH reader of MO messages: header length (UDHL octet included) and concatenation IE.
pub fn udh(data: &[u8]) -> (usize, Option<ConcatInfo>) {
    parse_udh(data)
}
