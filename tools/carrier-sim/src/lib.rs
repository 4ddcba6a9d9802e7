//! # carrier-sim
//!
//! A simulated SMS carrier for smsflow's tests, `make up` and benchmarks: an SMPP 3.4 SMSC
//! (built on the `rusmpp` codec) and a Kannel-style HTTP API, whose behaviour (latency,
//! throttling, failures, receipts, id formats, dropped connections, MOs) comes from a TOML
//! [`Scenario`], and whose [`Ledger`] records every submit per segment so tests can prove
//! "no duplicate" and "nothing lost".
//!
//! In-process use (tests, benches):
//!
//! ```no_run
//! # async fn demo() -> Result<(), carrier_sim::SimError> {
//! let sim = carrier_sim::start(carrier_sim::SimConfig::default()).await?;
//! let smpp = sim.smpp_addr(); // bind as "smsflow" / "secret"
//! // ... drive the system under test ...
//! assert_eq!(sim.ledger().summary().duplicate_segments, 0);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Module map
//!
//! | module | role |
//! | --- | --- |
//! | [`config`] | [`SimConfig`], accounts, TOML loading |
//! | [`scenario`] | [`Scenario`]: every knob of the carrier's behaviour |
//! | `engine` | per-submit decisions (drop, throttle, fail, latency, receipt plan), seeded RNG |
//! | `smsc` | SMPP listener, sessions, codec, submit parsing, receipts, deliver_sm routing |
//! | `http` | sendsms, dlr-url callbacks, ledger / MO / metrics endpoints |
//! | [`ledger`] | per-segment record and totals |
//! | [`receipt`] | receipt text formatter and parser |
//! | [`ids`] | carrier message id formats |
//! | [`text`] | GSM-7 / UCS-2 / UDH helpers, number masking |
//! | `mo` | MO injection and scripted MOs |
//! | `outage` | per-account carrier outages (binds refused, sessions closed) |

pub mod config;
pub mod error;
pub mod ids;
pub mod ledger;
pub mod receipt;
pub mod scenario;
pub mod text;

mod engine;
mod http;
mod mo;
mod outage;
mod sim;
mod smsc;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::net::TcpListener;

use crate::sim::Shared;
pub use crate::{
    config::{Account, SimConfig},
    error::SimError,
    ledger::{DestinationSubmits, Ledger, LedgerSummary, ReceiptRecord, SegmentEntry, SegmentKey},
    scenario::{IdFormat, Latency, ReceiptForm, ReceiptState, Scenario},
};

/// A running simulator. Dropping it stops it too, but [`RunningSim::shutdown`] also waits
/// for every task to end.
#[derive(Debug)]
pub struct RunningSim {
    smpp_addr: SocketAddr,
    http_addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Binds both listeners, spawns the simulator and returns at once.
pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
    config.validate()?;
    let smpp = TcpListener::bind(config.smpp_listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.smpp_listen,
            source,
        })?;
    let http = TcpListener::bind(config.http_listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.http_listen,
            source,
        })?;
    let smpp_addr = smpp.local_addr().map_err(|source| SimError::Bind {
        addr: config.smpp_listen,
        source,
    })?;
    let http_addr = http.local_addr().map_err(|source| SimError::Bind {
        addr: config.http_listen,
        source,
    })?;
    let shared = Shared::new(config);
    shared
        .tracker
        .spawn(smsc::accept_loop(Arc::clone(&shared), smpp));
    shared.tracker.spawn(http::serve(Arc::clone(&shared), http));
    mo::spawn_scripted(&shared);
    tracing::info!(%smpp_addr, %http_addr, "carrier simulator started");
    Ok(RunningSim {
        smpp_addr,
        http_addr,
        shared,
    })
}

impl RunningSim {
    /// Address of the SMPP listener.
    pub fn smpp_addr(&self) -> SocketAddr {
        self.smpp_addr
    }

    /// Address of the HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Base URL of the HTTP listener, e.g. `http://127.0.0.1:8090`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The ledger (cheap clone, stays readable after shutdown).
    pub fn ledger(&self) -> Ledger {
        self.shared.ledger.clone()
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Stops listening, closes every session and waits for all tasks.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
        tracing::info!("carrier simulator stopped");
    }

    /// Sends an MO (deliver_sm) from `from` to `to` to a bound receiver or transceiver of
    /// `system_id`; [`SimError::NoReceiver`] if none is bound.
    pub async fn inject_mo(
        &self,
        system_id: &str,
        from: &str,
        to: &str,
        text: &str,
    ) -> Result<(), SimError> {
        self.inject_mo_parts(system_id, from, to, text, 1).await
    }

    /// [`Self::inject_mo`] as `parts` deliver_sms, the text split in order behind a
    /// concatenation UDH (8-bit reference), as a network delivers a long message.
    pub async fn inject_mo_parts(
        &self,
        system_id: &str,
        from: &str,
        to: &str,
        text: &str,
        parts: u8,
    ) -> Result<(), SimError> {
        mo::inject(&self.shared, system_id, from, to, text, parts).await
    }

    /// Closes every SMPP connection at once, without answering in-flight requests, and
    /// waits (up to 2 s) until their sessions have ended.
    pub async fn drop_connections(&self) {
        let ids = self.shared.drop_connections();
        self.wait_closed(&ids).await;
    }

    /// Plays a carrier that is down for `system_id` (every account when `None`) during
    /// `duration`: closes that account's sessions at once (waiting up to 2 s until they have
    /// ended) and refuses its binds with ESME_RBINDFAIL until the outage is over. A zero
    /// duration ends the outage. The ledger is kept. [`SimError::UnknownAccount`] when
    /// accounts are configured and `system_id` is not one of them. Same as `POST /outage`.
    pub async fn outage(
        &self,
        system_id: Option<&str>,
        duration: Duration,
    ) -> Result<(), SimError> {
        let target = system_id.map_or(outage::OutageTarget::All, outage::OutageTarget::Account);
        let ids = self.shared.start_outage(target, duration)?;
        self.wait_closed(&ids).await;
        Ok(())
    }

    async fn wait_closed(&self, ids: &[u64]) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while ids.iter().any(|id| self.shared.router.is_tracked(*id)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}
