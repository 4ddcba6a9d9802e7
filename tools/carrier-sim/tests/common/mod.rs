//! A minimal ESME over real TCP, built on the rusmpp codec, for the integration tests.
#![allow(dead_code)]

use std::{collections::VecDeque, net::SocketAddr, time::Duration};

use anyhow::{Context, bail};
use carrier_sim::{RunningSim, Scenario, SimConfig};
use futures::{SinkExt, StreamExt};
use rusmpp::{
    Command, CommandId, CommandStatus, Pdu,
    pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSm, DeliverSmResp, SubmitSm},
    tlvs::TlvValue,
    tokio_codec::CommandCodec,
    types::{COctetString, OctetString},
    values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton},
};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use tokio_util::codec::Framed;

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a simulator with `scenario` on ephemeral ports.
pub async fn sim(scenario: Scenario) -> RunningSim {
    carrier_sim::start(SimConfig::with_scenario(scenario))
        .await
        .expect("simulator starts")
}

/// How to bind.
#[derive(Debug, Clone, Copy)]
pub enum Bind {
    Tx,
    Rx,
    Trx,
}

/// A test ESME.
pub struct Esme {
    framed: Framed<TcpStream, CommandCodec>,
    seq: u32,
    /// Commands read while waiting for something else.
    backlog: VecDeque<Command>,
    /// Answer deliver_sm automatically with this status (None = leave them to the test).
    pub auto_ack: Option<CommandStatus>,
}

pub fn cstr<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    COctetString::from_string(s.to_string()).expect("valid c-string")
}

impl Esme {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        Ok(Self {
            framed: Framed::new(stream, CommandCodec::new()),
            seq: 0,
            backlog: VecDeque::new(),
            auto_ack: None,
        })
    }

    pub async fn bound(addr: SocketAddr, kind: Bind) -> anyhow::Result<Self> {
        Self::bound_as(addr, kind, "smsflow").await
    }

    /// Connects and binds as `system_id` with password `secret`.
    pub async fn bound_as(addr: SocketAddr, kind: Bind, system_id: &str) -> anyhow::Result<Self> {
        let mut e = Self::connect(addr).await?;
        let r = e.bind(kind, system_id, "secret", 0x34).await?;
        if r.status() != CommandStatus::EsmeRok {
            bail!("bind failed: {:?}", r.status());
        }
        Ok(e)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// Sends a request; returns its sequence number.
    pub async fn send(&mut self, pdu: impl Into<Pdu>) -> anyhow::Result<u32> {
        let seq = self.next_seq();
        self.framed
            .send(Command::new(CommandStatus::EsmeRok, seq, pdu))
            .await?;
        Ok(seq)
    }

    /// Answers a deliver_sm with `status`.
    pub async fn send_response(&mut self, seq: u32, status: u32) -> anyhow::Result<()> {
        self.framed
            .send(Command::new(
                CommandStatus::from(status),
                seq,
                DeliverSmResp::default(),
            ))
            .await?;
        Ok(())
    }

    /// Writes raw bytes (for PDUs rusmpp would not build).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.framed.get_mut().write_all(bytes).await?;
        Ok(())
    }

    /// Next command from the wire (not from the backlog); None on close.
    async fn read(&mut self) -> anyhow::Result<Option<Command>> {
        match tokio::time::timeout(TIMEOUT, self.framed.next()).await {
            Err(_) => bail!("timed out waiting for a pdu"),
            Ok(None) => Ok(None),
            Ok(Some(r)) => Ok(Some(r.context("decode")?)),
        }
    }

    /// Next command (backlog first); errors on close.
    pub async fn recv(&mut self) -> anyhow::Result<Command> {
        if let Some(c) = self.backlog.pop_front() {
            return Ok(c);
        }
        loop {
            let c = self.read().await?.context("connection closed")?;
            if self.maybe_ack(&c).await? {
                continue;
            }
            return Ok(c);
        }
    }

    async fn maybe_ack(&mut self, c: &Command) -> anyhow::Result<bool> {
        if let (Some(status), CommandId::DeliverSm) = (self.auto_ack, c.id()) {
            self.framed
                .send(Command::new(
                    status,
                    c.sequence_number(),
                    DeliverSmResp::default(),
                ))
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Waits for the response with `seq`, keeping other commands for later.
    pub async fn response(&mut self, seq: u32) -> anyhow::Result<Command> {
        if let Some(i) = self
            .backlog
            .iter()
            .position(|c| c.sequence_number() == seq && c.id().is_response())
        {
            return Ok(self.backlog.remove(i).expect("index"));
        }
        loop {
            let c = self.read().await?.context("connection closed")?;
            if c.sequence_number() == seq && c.id().is_response() {
                return Ok(c);
            }
            if !self.maybe_ack(&c).await? {
                self.backlog.push_back(c);
            }
        }
    }

    /// Sends and waits for the response.
    pub async fn request(&mut self, pdu: impl Into<Pdu>) -> anyhow::Result<Command> {
        let seq = self.send(pdu).await?;
        self.response(seq).await
    }

    /// True when the peer closes (or resets) the connection before `TIMEOUT`; false when it
    /// is still open then.
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(TIMEOUT, self.framed.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_))) => return true,
                Ok(Some(Ok(c))) => self.backlog.push_back(c),
            }
        }
    }

    pub async fn bind(
        &mut self,
        kind: Bind,
        system_id: &str,
        password: &str,
        version: u8,
    ) -> anyhow::Result<Command> {
        let (sid, pw, st, v) = (
            cstr(system_id),
            cstr(password),
            cstr(""),
            InterfaceVersion::from(version),
        );
        let pdu: Pdu = match kind {
            Bind::Tx => BindTransmitter::builder()
                .system_id(sid)
                .password(pw)
                .system_type(st)
                .interface_version(v)
                .build()
                .into(),
            Bind::Rx => BindReceiver::builder()
                .system_id(sid)
                .password(pw)
                .system_type(st)
                .interface_version(v)
                .build()
                .into(),
            Bind::Trx => BindTransceiver::builder()
                .system_id(sid)
                .password(pw)
                .system_type(st)
                .interface_version(v)
                .build()
                .into(),
        };
        self.request(pdu).await
    }

    /// Waits for a deliver_sm (backlog first) and acknowledges it with status 0.
    pub async fn deliver_sm(&mut self) -> anyhow::Result<DeliverSm> {
        let c = loop {
            let c = match self
                .backlog
                .iter()
                .position(|c| c.id() == CommandId::DeliverSm)
            {
                Some(i) => self.backlog.remove(i).expect("index"),
                None => match self.read().await?.context("connection closed")? {
                    c if c.id() == CommandId::DeliverSm => c,
                    other => {
                        self.backlog.push_back(other);
                        continue;
                    }
                },
            };
            break c;
        };
        self.framed
            .send(Command::new(
                CommandStatus::EsmeRok,
                c.sequence_number(),
                DeliverSmResp::default(),
            ))
            .await?;
        match c.pdu() {
            Some(Pdu::DeliverSm(d)) => Ok(d.clone()),
            other => bail!("deliver_sm without body: {other:?}"),
        }
    }

    /// True if no deliver_sm arrives within `wait`.
    pub async fn no_deliver_within(&mut self, wait: Duration) -> bool {
        if self.backlog.iter().any(|c| c.id() == CommandId::DeliverSm) {
            return false;
        }
        match tokio::time::timeout(wait, self.framed.next()).await {
            Err(_) => true,
            Ok(Some(Ok(c))) => {
                let is_deliver = c.id() == CommandId::DeliverSm;
                self.backlog.push_back(c);
                !is_deliver
            }
            Ok(_) => true,
        }
    }
}

/// A GSM-7 submit_sm with a receipt request.
pub fn submit(dest: &str, text: &str) -> SubmitSm {
    submit_bytes(
        dest,
        &carrier_sim::text::encode_gsm7(text).expect("gsm7"),
        0,
        0,
    )
}

/// A submit_sm with raw payload, esm_class and data_coding.
pub fn submit_bytes(dest: &str, payload: &[u8], esm_class: u8, data_coding: u8) -> SubmitSm {
    SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr_npi(Npi::Unknown)
        .source_addr(cstr("SMSFLOW"))
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(cstr(dest))
        .esm_class(EsmClass::from(esm_class))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(DataCoding::from(data_coding))
        .short_message(OctetString::from_slice(payload).expect("<=255 octets"))
        .build()
}

/// message_id of a submit_sm_resp.
pub fn message_id(c: &Command) -> String {
    match c.pdu() {
        Some(Pdu::SubmitSmResp(r)) => r.message_id().as_str().to_string(),
        other => panic!("not a submit_sm_resp: {other:?}"),
    }
}

/// receipted_message_id and message_state TLVs of a receipt.
pub fn receipt_tlvs(d: &DeliverSm) -> (Option<String>, Option<u8>) {
    let mut id = None;
    let mut state = None;
    for t in d.tlvs() {
        match t.value() {
            Some(TlvValue::ReceiptedMessageId(v)) => id = Some(v.as_str().to_string()),
            Some(TlvValue::MessageState(s)) => state = Some(u8::from(*s)),
            _ => {}
        }
    }
    (id, state)
}

/// The short_message as a string.
pub fn short_text(d: &DeliverSm) -> String {
    String::from_utf8_lossy(d.short_message().as_ref()).into_owned()
}

/// Polls `f` until it returns true or `TIMEOUT` passes.
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}
