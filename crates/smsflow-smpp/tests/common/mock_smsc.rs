//! A scriptable SMSC for tests that need exact control over single PDUs (no response,
//! odd error bodies, raw deliver_sm bytes, dropping the link at a chosen moment). Raw
//! framing on purpose: it must be able to send what a strict codec would refuse.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How the mock answers one submit_sm.
#[derive(Debug, Clone)]
pub enum Reply {
    /// ESME_ROK with this message id.
    Ok(String),
    /// An error status with the given body.
    Status(u32, Body),
    /// No answer at all.
    Silent,
    /// Close the connection without answering.
    Drop,
    /// generic_nack with this status.
    Nack(u32),
    /// This answer (not `Silent` or `Drop`), but only once [`MockSmsc::release_held`] is
    /// called: keeps a window slot busy for exactly as long as a test needs.
    Hold(Box<Reply>),
}

/// Body of an error response.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body at all (command_length 16).
    Empty,
    /// One NUL octet.
    Nul,
}

/// One submit_sm the mock received.
#[derive(Debug, Clone)]
pub struct Submit {
    pub connection: usize,
    pub sequence: u32,
    pub destination: String,
    pub esm_class: u8,
    pub priority_flag: u8,
    pub data_coding: u8,
    pub short_message: Vec<u8>,
    pub at: std::time::Instant,
}

/// What the mock saw.
#[derive(Debug, Default)]
pub struct Log {
    pub binds: Vec<(u32, String)>,
    pub submits: Vec<Submit>,
    pub enquire_links: usize,
    pub unbinds: usize,
    /// (command_id, status, sequence) of responses the client sent (deliver_sm_resp,
    /// enquire_link_resp, generic_nack, unbind_resp).
    pub responses: Vec<(u32, u32, u32)>,
    pub connections: usize,
    /// (connection, response bytes) of answers held back by [`Reply::Hold`].
    pub held: Vec<(usize, Vec<u8>)>,
}

type Script = dyn Fn(&Submit, usize) -> Reply + Send + Sync;

/// The running mock.
pub struct MockSmsc {
    pub port: u16,
    pub log: Arc<Mutex<Log>>,
    inject: Arc<Mutex<Vec<mpsc::UnboundedSender<Vec<u8>>>>>,
    stop: CancellationToken,
}

impl MockSmsc {
    /// Starts a mock whose submit answers come from `script(submit, index)` where `index`
    /// counts submits from 0 over all connections.
    pub async fn start(script: impl Fn(&Submit, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Log::default()));
        let inject = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let script: Arc<Script> = Arc::new(script);
        {
            let log = Arc::clone(&log);
            let inject = Arc::clone(&inject);
            let stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        () = stop.cancelled() => return,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let (tx, rx) = mpsc::unbounded_channel();
                    inject.lock().unwrap().push(tx);
                    let conn = {
                        let mut l = log.lock().unwrap();
                        l.connections += 1;
                        l.connections - 1
                    };
                    tokio::spawn(serve(
                        stream,
                        conn,
                        Arc::clone(&log),
                        Arc::clone(&script),
                        rx,
                        stop.clone(),
                    ));
                }
            });
        }
        Self {
            port,
            log,
            inject,
            stop,
        }
    }

    /// Sends raw PDU bytes on the most recent connection.
    pub fn send_raw(&self, pdu: Vec<u8>) {
        if let Some(tx) = self.inject.lock().unwrap().last() {
            let _ = tx.send(pdu);
        }
    }

    /// Sends the answers held back by [`Reply::Hold`], in the order they were held.
    pub fn release_held(&self) {
        let held = std::mem::take(&mut self.log.lock().unwrap().held);
        let inject = self.inject.lock().unwrap();
        for (conn, bytes) in held {
            if let Some(tx) = inject.get(conn) {
                let _ = tx.send(bytes);
            }
        }
    }

    /// Submits received so far.
    pub fn submits(&self) -> Vec<Submit> {
        self.log.lock().unwrap().submits.clone()
    }

    /// Waits until `pred(log)` holds (up to 10 s).
    pub async fn wait_for(&self, pred: impl Fn(&Log) -> bool) -> bool {
        for _ in 0..1000 {
            if pred(&self.log.lock().unwrap()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for MockSmsc {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Builds a PDU: header + body.
pub fn pdu(command_id: u32, status: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(16 + body.len()).expect("small pdu");
    let mut v = Vec::with_capacity(16 + body.len());
    v.extend(len.to_be_bytes());
    v.extend(command_id.to_be_bytes());
    v.extend(status.to_be_bytes());
    v.extend(seq.to_be_bytes());
    v.extend(body);
    v
}

/// A deliver_sm body with the given fields and raw TLVs.
pub fn deliver_body(
    source: &str,
    dest: &str,
    esm: u8,
    dc: u8,
    sm: &[u8],
    tlvs: &[(u16, &[u8])],
) -> Vec<u8> {
    let mut b = vec![0u8, 1, 1];
    b.extend(source.as_bytes());
    b.push(0);
    b.extend([1, 1]);
    b.extend(dest.as_bytes());
    b.push(0);
    b.extend([esm, 0, 0, 0, 0, 0, 0, dc, 0]);
    b.push(u8::try_from(sm.len()).expect("short"));
    b.extend(sm);
    for (tag, value) in tlvs {
        b.extend(tag.to_be_bytes());
        b.extend(u16::try_from(value.len()).expect("short").to_be_bytes());
        b.extend(*value);
    }
    b
}

fn cstr(body: &[u8], pos: &mut usize) -> String {
    let rest = &body[(*pos).min(body.len())..];
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    *pos += end + 1;
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

fn parse_submit(conn: usize, seq: u32, body: &[u8]) -> Submit {
    let mut pos = 0;
    let _service = cstr(body, &mut pos);
    pos += 2;
    let _source = cstr(body, &mut pos);
    pos += 2;
    let destination = cstr(body, &mut pos);
    let esm_class = body[pos];
    let priority_flag = body[pos + 2];
    pos += 3;
    let _sched = cstr(body, &mut pos);
    let _validity = cstr(body, &mut pos);
    pos += 2;
    let data_coding = body[pos];
    pos += 2;
    let sm_len = usize::from(body[pos]);
    pos += 1;
    let short_message = body[pos..pos + sm_len].to_vec();
    Submit {
        connection: conn,
        sequence: seq,
        destination,
        esm_class,
        priority_flag,
        data_coding,
        short_message,
        at: std::time::Instant::now(),
    }
}

/// The response PDU of a scripted answer; `None` for the answers that send nothing.
fn submit_response(reply: Reply, seq: u32) -> Option<Vec<u8>> {
    match reply {
        Reply::Ok(msg_id) => {
            let mut b = msg_id.into_bytes();
            b.push(0);
            Some(pdu(0x8000_0004, 0, seq, &b))
        }
        Reply::Status(st, Body::Empty) => Some(pdu(0x8000_0004, st, seq, &[])),
        Reply::Status(st, Body::Nul) => Some(pdu(0x8000_0004, st, seq, &[0])),
        Reply::Nack(st) => Some(pdu(0x8000_0000, st, seq, &[])),
        Reply::Silent | Reply::Drop | Reply::Hold(_) => None,
    }
}

async fn serve(
    stream: TcpStream,
    conn: usize,
    log: Arc<Mutex<Log>>,
    script: Arc<Script>,
    mut inject: mpsc::UnboundedReceiver<Vec<u8>>,
    stop: CancellationToken,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    let writer = tokio::spawn(async move {
        while let Some(Some(bytes)) = out_rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    loop {
        let mut header = [0u8; 16];
        let read = tokio::select! {
            r = rd.read_exact(&mut header) => r,
            Some(raw) = inject.recv() => { let _ = out_tx.send(Some(raw)); continue; }
            () = stop.cancelled() => break,
        };
        if read.is_err() {
            break;
        }
        let len = u32::from_be_bytes(header[0..4].try_into().unwrap()) as usize;
        let id = u32::from_be_bytes(header[4..8].try_into().unwrap());
        let status = u32::from_be_bytes(header[8..12].try_into().unwrap());
        let seq = u32::from_be_bytes(header[12..16].try_into().unwrap());
        let mut body = vec![0u8; len.saturating_sub(16)];
        if rd.read_exact(&mut body).await.is_err() {
            break;
        }
        match id {
            0x1 | 0x2 | 0x9 => {
                let mut pos = 0;
                let system_id = cstr(&body, &mut pos);
                log.lock().unwrap().binds.push((id, system_id));
                let _ = out_tx.send(Some(pdu(id | 0x8000_0000, 0, seq, b"MOCK\0")));
            }
            0x4 => {
                let submit = parse_submit(conn, seq, &body);
                let index = {
                    let mut l = log.lock().unwrap();
                    l.submits.push(submit.clone());
                    l.submits.len() - 1
                };
                match script(&submit, index) {
                    Reply::Silent => {}
                    Reply::Drop => break,
                    Reply::Hold(reply) => {
                        if let Some(bytes) = submit_response(*reply, seq) {
                            log.lock().unwrap().held.push((conn, bytes));
                        }
                    }
                    reply => {
                        if let Some(bytes) = submit_response(reply, seq) {
                            let _ = out_tx.send(Some(bytes));
                        }
                    }
                }
            }
            0x15 => {
                log.lock().unwrap().enquire_links += 1;
                let _ = out_tx.send(Some(pdu(0x8000_0015, 0, seq, &[])));
            }
            0x8000_0006 => {
                log.lock()
                    .unwrap()
                    .responses
                    .push((0x8000_0006, status, seq));
                break;
            }
            0x6 => {
                log.lock().unwrap().unbinds += 1;
                let _ = out_tx.send(Some(pdu(0x8000_0006, 0, seq, &[])));
            }
            other if other & 0x8000_0000 != 0 => {
                log.lock().unwrap().responses.push((other, status, seq));
            }
            _ => {}
        }
    }
    let _ = out_tx.send(None);
    let _ = writer.await;
}
