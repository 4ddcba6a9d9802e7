//! Opening a link: TCP connect, bind request, bind response.

use std::str::FromStr;

use bytes::BytesMut;
use futures::StreamExt;
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter};
use rusmpp::types::COctetString;
use rusmpp::values::{InterfaceVersion, Npi, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{Encoder, FramedRead};

use crate::codec::{Frame, PduCodec, is_response};
use crate::config::CarrierConfig;
use crate::error::SessionError;
use crate::status::CommandStatusCode;

/// What a session does on its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// bind_transceiver: submits and deliver_sm.
    Transceiver,
    /// bind_transmitter: submits only.
    Transmitter,
    /// bind_receiver: deliver_sm only.
    Receiver,
}

impl Role {
    /// Whether the session takes submits.
    pub(crate) fn transmits(self) -> bool {
        !matches!(self, Role::Receiver)
    }

    /// Fixed label for logs.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Role::Transceiver => "transceiver",
            Role::Transmitter => "transmitter",
            Role::Receiver => "receiver",
        }
    }
}

/// A bound link, ready for the session loop.
#[derive(Debug)]
pub(crate) struct BoundLink {
    pub(crate) reader: FramedRead<OwnedReadHalf, PduCodec>,
    pub(crate) writer: OwnedWriteHalf,
    /// First sequence number the session may use (the bind used 1).
    pub(crate) next_sequence: u32,
}

/// Connects and binds; every step is bounded by the configured timeouts.
pub(crate) async fn connect_and_bind(
    config: &CarrierConfig,
    role: Role,
) -> Result<BoundLink, SessionError> {
    let address = format!("{}:{}", config.host, config.port);
    let stream = tokio::time::timeout(config.connect_timeout(), TcpStream::connect(&address))
        .await
        .map_err(|_| {
            SessionError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })?
        .map_err(SessionError::Connect)?;
    stream.set_nodelay(true).map_err(SessionError::Connect)?;
    let (read_half, mut writer) = stream.into_split();
    let mut reader = FramedRead::new(read_half, PduCodec::default());

    let command = Command::new(CommandStatus::EsmeRok, 1, bind_pdu(config, role)?);
    let mut buf = BytesMut::new();
    PduCodec::default().encode(&command, &mut buf)?;
    writer.write_all(&buf).await?;

    let expected = u32::from(command.id()) | 0x8000_0000;
    let wait = async {
        loop {
            match reader.next().await {
                Some(Ok(Frame::Command(resp))) if resp.sequence_number() == 1 => {
                    return check_bind_response(
                        u32::from(resp.id()),
                        u32::from(resp.status()),
                        expected,
                    );
                }
                Some(Ok(Frame::Undecodable {
                    command_id,
                    status,
                    sequence: 1,
                    ..
                })) => return check_bind_response(command_id, status, expected),
                Some(Ok(other)) => {
                    tracing::debug!(frame = ?frame_id(&other), "ignoring pdu before bind response");
                }
                Some(Err(err)) => return Err(SessionError::Bind(err.to_string())),
                None => return Err(SessionError::Bind("link closed during bind".to_owned())),
            }
        }
    };
    tokio::time::timeout(config.response_timeout(), wait)
        .await
        .map_err(|_| SessionError::Bind("no bind response in time".to_owned()))??;
    Ok(BoundLink {
        reader,
        writer,
        next_sequence: 2,
    })
}

fn check_bind_response(command_id: u32, status: u32, expected: u32) -> Result<(), SessionError> {
    if !is_response(command_id) {
        return Err(SessionError::Bind(format!(
            "unexpected command 0x{command_id:08X} for the bind sequence number"
        )));
    }
    if status != 0 {
        return Err(SessionError::BindRejected(CommandStatusCode(status)));
    }
    if command_id != expected && command_id != 0x8000_0000 {
        return Err(SessionError::Bind(format!(
            "unexpected response 0x{command_id:08X} to bind"
        )));
    }
    if command_id == 0x8000_0000 {
        // generic_nack with status 0 is not a bind acceptance.
        return Err(SessionError::Bind("generic_nack to bind".to_owned()));
    }
    Ok(())
}

fn frame_id(frame: &Frame) -> u32 {
    match frame {
        Frame::Command(c) => u32::from(c.id()),
        Frame::Undecodable { command_id, .. } => *command_id,
    }
}

fn bind_pdu(config: &CarrierConfig, role: Role) -> Result<Pdu, SessionError> {
    let bad = |field: &str| SessionError::Bind(format!("{field} does not fit the bind pdu"));
    let system_id = COctetString::from_str(&config.system_id).map_err(|_| bad("system_id"))?;
    let password = COctetString::from_str(&config.password.0).map_err(|_| bad("password"))?;
    let system_type =
        COctetString::from_str(&config.system_type).map_err(|_| bad("system_type"))?;
    let version = InterfaceVersion::from(config.interface_version);
    Ok(match role {
        Role::Transceiver => Pdu::BindTransceiver(BindTransceiver::new(
            system_id,
            password,
            system_type,
            version,
            Ton::Unknown,
            Npi::Unknown,
            COctetString::empty(),
        )),
        Role::Transmitter => Pdu::BindTransmitter(BindTransmitter::new(
            system_id,
            password,
            system_type,
            version,
            Ton::Unknown,
            Npi::Unknown,
            COctetString::empty(),
        )),
        Role::Receiver => Pdu::BindReceiver(BindReceiver::new(
            system_id,
            password,
            system_type,
            version,
            Ton::Unknown,
            Npi::Unknown,
            COctetString::empty(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_response_checks() {
        assert!(check_bind_response(0x8000_0009, 0, 0x8000_0009).is_ok());
        assert!(matches!(
            check_bind_response(0x8000_0009, 0x0E, 0x8000_0009),
            Err(SessionError::BindRejected(CommandStatusCode(0x0E)))
        ));
        assert!(check_bind_response(0x8000_0000, 0, 0x8000_0009).is_err());
        assert!(check_bind_response(0x0000_0015, 0, 0x8000_0009).is_err());
    }

    #[test]
    fn bind_pdu_uses_config() {
        let cfg = CarrierConfig::default();
        let pdu = bind_pdu(&cfg, Role::Receiver).expect("pdu");
        assert!(matches!(pdu, Pdu::BindReceiver(ref b) if b.system_id.as_str() == "smsflow"));
        let pdu = bind_pdu(&cfg, Role::Transceiver).expect("pdu");
        assert!(
            matches!(pdu, Pdu::BindTransceiver(ref b) if u8::from(b.interface_version) == 0x34)
        );
    }
}
