//! Quick load loop against the simulator (not the project's benchmark harness):
//!
//! ```text
//! cargo run --release -p carrier-sim --example load -- [ADDR] [SESSIONS] [WINDOW] [SECONDS] [RECEIPTS 0|1]
//! ```
//!
//! Without ADDR (or with `-`) it starts a simulator in-process with the default scenario.
//! Each session binds as a transceiver, keeps WINDOW submit_sm outstanding, answers every
//! deliver_sm, and the totals are printed at the end.

#![allow(clippy::print_stdout)]

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use carrier_sim::{SimConfig, text::encode_gsm7};
use futures::{SinkExt, StreamExt};
use rusmpp::{
    Command, CommandId, CommandStatus,
    pdus::{BindTransceiver, DeliverSmResp, SubmitSm},
    tokio_codec::CommandCodec,
    types::{COctetString, OctetString},
    values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton},
};
use tokio::{net::TcpStream, sync::Semaphore};
use tokio_util::codec::Framed;

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    ok: AtomicU64,
    err: AtomicU64,
    receipts: AtomicU64,
}

fn cstr<const A: usize, const B: usize>(s: &str) -> COctetString<A, B> {
    COctetString::from_string(s.to_string()).expect("c-string")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let sessions: usize = arg(1, "4").parse()?;
    let window: usize = arg(2, "200").parse()?;
    let seconds: u64 = arg(3, "10").parse()?;
    let receipts = arg(4, "1") == "1";
    let (addr, sim) = match args.first().map(String::as_str) {
        None | Some("-") => {
            let sim = carrier_sim::start(SimConfig::default()).await?;
            (sim.smpp_addr(), Some(sim))
        }
        Some(a) => (a.parse::<SocketAddr>().context("ADDR")?, None),
    };
    let totals = Arc::new(Totals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for s in 0..sessions {
        tasks.push(tokio::spawn(session(
            addr,
            s,
            window,
            receipts,
            Arc::clone(&totals),
            Arc::clone(&stop),
        )));
    }
    let started = Instant::now();
    let mut last = 0;
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ok = totals.ok.load(Ordering::Relaxed);
        println!(
            "{:>5.1}s  {:>7} submit_sm_resp/s",
            started.elapsed().as_secs_f64(),
            ok - last
        );
        last = ok;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ok = totals.ok.load(Ordering::Relaxed);
    println!(
        "sessions={sessions} window={window} receipts={receipts}: sent={} ok={} err={} receipts={} -> {:.0} submit/s",
        totals.sent.load(Ordering::Relaxed),
        ok,
        totals.err.load(Ordering::Relaxed),
        totals.receipts.load(Ordering::Relaxed),
        ok as f64 / elapsed
    );
    if let Some(sim) = sim {
        println!("ledger: {:?}", sim.ledger().summary());
        sim.shutdown().await;
    }
    for t in tasks {
        t.abort();
    }
    Ok(())
}

async fn session(
    addr: SocketAddr,
    index: usize,
    window: usize,
    receipts: bool,
    totals: Arc<Totals>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut framed = Framed::new(stream, CommandCodec::new());
    framed
        .send(Command::new(
            CommandStatus::EsmeRok,
            1,
            BindTransceiver::builder()
                .system_id(cstr("smsflow"))
                .password(cstr("secret"))
                .system_type(cstr(""))
                .interface_version(InterfaceVersion::Smpp3_4)
                .build(),
        ))
        .await?;
    let resp = framed.next().await.context("closed")??;
    anyhow::ensure!(
        resp.status() == CommandStatus::EsmeRok,
        "bind {:?}",
        resp.status()
    );
    let (mut sink, mut stream) = framed.split();
    let permits = Arc::new(Semaphore::new(window));
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<Command>();
    let reader_permits = Arc::clone(&permits);
    let reader_totals = Arc::clone(&totals);
    tokio::spawn(async move {
        while let Some(Ok(c)) = stream.next().await {
            match c.id() {
                CommandId::SubmitSmResp => {
                    if c.status() == CommandStatus::EsmeRok {
                        reader_totals.ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        reader_totals.err.fetch_add(1, Ordering::Relaxed);
                    }
                    reader_permits.add_permits(1);
                }
                CommandId::DeliverSm => {
                    reader_totals.receipts.fetch_add(1, Ordering::Relaxed);
                    let _ = ack_tx.send(Command::new(
                        CommandStatus::EsmeRok,
                        c.sequence_number(),
                        DeliverSmResp::default(),
                    ));
                }
                _ => {}
            }
        }
    });
    let mut seq: u32 = 1;
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            Some(ack) = ack_rx.recv() => {
                sink.feed(ack).await?;
                while let Ok(ack) = ack_rx.try_recv() {
                    sink.feed(ack).await?;
                }
                sink.flush().await?;
            }
            permit = permits.acquire() => {
                permit?.forget();
                let mut batch = 1;
                loop {
                    seq = seq % 0x7FFF_FFFE + 1;
                    n += 1;
                    let text = format!("load s{index} n{n}");
                    let sm = SubmitSm::builder()
                        .source_addr_ton(Ton::Alphanumeric)
                        .source_addr_npi(Npi::Unknown)
                        .source_addr(cstr("LOAD"))
                        .dest_addr_ton(Ton::International)
                        .dest_addr_npi(Npi::Isdn)
                        .destination_addr(cstr(&format!("49151{:08}", n % 100_000)))
                        .esm_class(EsmClass::from(0))
                        .registered_delivery(RegisteredDelivery::from(u8::from(receipts)))
                        .data_coding(DataCoding::from(0))
                        .short_message(OctetString::from_vec(encode_gsm7(&text).expect("gsm7"))?)
                        .build();
                    sink.feed(Command::new(CommandStatus::EsmeRok, seq, sm)).await?;
                    totals.sent.fetch_add(1, Ordering::Relaxed);
                    if batch >= 64 {
                        break;
                    }
                    match permits.try_acquire() {
                        Ok(p) => { p.forget(); batch += 1; }
                        Err(_) => break,
                    }
                }
                sink.flush().await?;
            }
        }
    }
    Ok(())
}
