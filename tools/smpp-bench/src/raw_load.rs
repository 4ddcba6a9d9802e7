//! A minimal codec-level load generator: one pre-encoded submit_sm patched per message
//! (sequence number and destination digits), pipelined on several connections, responses
//! counted by their 16-byte headers. Almost no client-side work, so the figure is what the
//! simulator itself sustains on this machine (sharing the cores with the generator).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::{Buf, BytesMut};
use rusmpp::pdus::{BindTransceiver, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::codec::Encoder;

/// Parameters of the raw load.
#[derive(Debug, Clone)]
pub struct RawLoadConfig {
    /// Connections (binds) opened in parallel.
    pub connections: usize,
    /// Outstanding submit_sm per connection.
    pub pipeline: usize,
    /// Load before measuring.
    pub warmup: Duration,
    /// Measured duration.
    pub duration: Duration,
}

/// What the raw load measured.
#[derive(Debug, Clone)]
pub struct RawLoadResult {
    /// The parameters.
    pub config: RawLoadConfig,
    /// submit_sm_resp received per second during the measured window.
    pub rate: f64,
    /// Responses counted in the measured window.
    pub responses: u64,
    /// Responses with a non-zero status (whole run).
    pub errors: u64,
    /// The simulator's ledger after the run.
    pub ledger: carrier_sim::LedgerSummary,
}

const DEST_PREFIX: &str = "4471";
const DEST_DIGITS: usize = 8;

/// Runs the raw load against a fresh simulator (latency 0, no TPS cap, no receipts).
pub async fn run(config: RawLoadConfig) -> anyhow::Result<RawLoadResult> {
    let sim = carrier_sim::start(carrier_sim::SimConfig::default()).await?;
    let addr = sim.smpp_addr();
    let responses = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for conn in 0..config.connections {
        let (responses, errors, stop) = (
            Arc::clone(&responses),
            Arc::clone(&errors),
            Arc::clone(&stop),
        );
        let pipeline = config.pipeline;
        tasks.push(tokio::spawn(async move {
            connection(addr, conn, pipeline, responses, errors, stop).await
        }));
    }
    tokio::time::sleep(config.warmup).await;
    let start_count = responses.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(config.duration).await;
    let end_count = responses.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.context("load task panicked")??;
    }
    let ledger = sim.ledger().summary();
    sim.shutdown().await;
    let measured = end_count - start_count;
    Ok(RawLoadResult {
        rate: measured as f64 / elapsed.as_secs_f64(),
        responses: measured,
        errors: errors.load(Ordering::Relaxed),
        ledger,
        config,
    })
}

/// The encoded submit_sm template and the offset of the destination digits in it.
fn template() -> anyhow::Result<(Vec<u8>, usize)> {
    let destination = format!("{DEST_PREFIX}{}", "0".repeat(DEST_DIGITS));
    let pdu = SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr_npi(Npi::Unknown)
        .source_addr(COctetString::from_str("SMSFLOW")?)
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(COctetString::from_str(&destination)?)
        .esm_class(EsmClass::from(0u8))
        .registered_delivery(RegisteredDelivery::from(0u8))
        .short_message(OctetString::from_str("raw load generator message")?)
        .build();
    let mut buf = BytesMut::new();
    CommandCodec::new().encode(&Command::new(CommandStatus::EsmeRok, 1, pdu), &mut buf)?;
    let bytes = buf.to_vec();
    let needle = destination.as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .context("destination not found in template")?;
    Ok((bytes, at + DEST_PREFIX.len()))
}

async fn connection(
    addr: std::net::SocketAddr,
    conn: usize,
    pipeline: usize,
    responses: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    // Bind.
    let bind = BindTransceiver::builder()
        .system_id(COctetString::from_str("smsflow")?)
        .password(COctetString::from_str("secret")?)
        .interface_version(InterfaceVersion::Smpp3_4)
        .build();
    let mut buf = BytesMut::new();
    CommandCodec::new().encode(
        &Command::new(CommandStatus::EsmeRok, 1, Pdu::from(bind)),
        &mut buf,
    )?;
    stream.write_all(&buf).await?;
    let mut header = [0u8; 16];
    stream.read_exact(&mut header).await?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let status = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    let mut rest = vec![0u8; len.saturating_sub(16)];
    stream.read_exact(&mut rest).await?;
    if status != 0 {
        bail!("raw load bind rejected with status {status:#x}");
    }

    let (template, dest_at) = template()?;
    let (mut rd, mut wr) = stream.into_split();
    let window = Arc::new(Semaphore::new(pipeline));
    let reader = {
        let window = Arc::clone(&window);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            loop {
                if stop.load(Ordering::Relaxed) && window.available_permits() == pipeline {
                    return Ok::<(), anyhow::Error>(());
                }
                let read =
                    tokio::time::timeout(Duration::from_millis(200), rd.read_buf(&mut buf)).await;
                let n = match read {
                    Ok(r) => r?,
                    Err(_) => continue,
                };
                if n == 0 {
                    return Ok(());
                }
                let mut answered = 0usize;
                while buf.len() >= 16 {
                    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                    ensure!(len >= 16, "bad length from simulator");
                    if buf.len() < len {
                        break;
                    }
                    let id = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    let status = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                    if id == 0x8000_0004 {
                        answered += 1;
                        if status != 0 {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    buf.advance(len);
                }
                if answered > 0 {
                    responses.fetch_add(answered as u64, Ordering::Relaxed);
                    window.add_permits(answered);
                }
            }
        })
    };

    let mut seq: u32 = 2;
    // Distinct destinations per connection, so the ledger sees distinct segments.
    let mut n: u64 = conn as u64 * 10_000_000;
    let mut out = Vec::with_capacity(template.len() * 256);
    while !stop.load(Ordering::Relaxed) {
        // Take every free slot (at least one) and write them in one go.
        let available = window.available_permits().clamp(1, 256);
        let permit = window
            .acquire_many(u32::try_from(available).unwrap_or(1))
            .await?;
        permit.forget();
        out.clear();
        for _ in 0..available {
            let start = out.len();
            out.extend_from_slice(&template);
            out[start + 12..start + 16].copy_from_slice(&seq.to_be_bytes());
            let digits = format!(
                "{:0width$}",
                n % 10u64.pow(DEST_DIGITS as u32),
                width = DEST_DIGITS
            );
            out[start + dest_at..start + dest_at + DEST_DIGITS].copy_from_slice(digits.as_bytes());
            seq = if seq >= 0x7FFF_FFFF { 1 } else { seq + 1 };
            n += 1;
        }
        wr.write_all(&out).await?;
    }
    reader.await.context("reader panicked")??;
    Ok(())
}
