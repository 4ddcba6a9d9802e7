//! State shared by the SMPP sessions, the HTTP API and the library handle.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    config::SimConfig,
    engine::Engine,
    error::SimError,
    ledger::Ledger,
    outage::{OutageTarget, Outages},
    smsc::router::{Router, SessionHandle},
};

/// One running simulator's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Configuration it was started with.
    pub config: SimConfig,
    /// Scenario decisions.
    pub engine: Engine,
    /// Submit / receipt ledger.
    pub ledger: Ledger,
    /// deliver_sm routing and session registry.
    pub router: Arc<Router>,
    /// Cancelled by `shutdown`.
    pub shutdown: CancellationToken,
    /// Every task the simulator spawns, awaited on shutdown.
    pub tracker: TaskTracker,
    /// Client for dlr-url callbacks.
    pub http: reqwest::Client,
    /// Accounts the carrier is down for. Binds are admitted and outages started under this
    /// lock, so a bind racing the start of an outage is either refused or dropped.
    outages: Mutex<Outages>,
    next_session: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: SimConfig) -> Arc<Self> {
        let engine = Engine::new(&config);
        let ledger = Ledger::new(config.scenario.ledger.max_segments);
        let router = Arc::new(Router::new(config.scenario.receipts.max_pending));
        Arc::new(Self {
            config,
            engine,
            ledger,
            router,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            outages: Mutex::new(Outages::default()),
            next_session: AtomicU64::new(1),
        })
    }

    fn outages(&self) -> std::sync::MutexGuard<'_, Outages> {
        self.outages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes every SMPP connection (counted as dropped); returns their ids.
    pub(crate) fn drop_connections(&self) -> Vec<u64> {
        let ids = self.router.cancel_all();
        for _ in &ids {
            crate::ledger::inc(&self.ledger.counters().connections_dropped);
        }
        ids
    }

    /// Starts an outage of `target` for `duration` (zero ends it) and closes, at once and
    /// unanswered, every session bound with a system_id that is now down; returns their ids.
    /// A named system_id must be a configured account (any name when none is configured).
    pub(crate) fn start_outage(
        &self,
        target: OutageTarget<'_>,
        duration: Duration,
    ) -> Result<Vec<u64>, SimError> {
        if let OutageTarget::Account(id) = target
            && !self.config.accounts.is_empty()
            && self.config.account(id).is_none()
        {
            return Err(SimError::UnknownAccount(id.to_string()));
        }
        let now = Instant::now();
        let mut outages = self.outages();
        outages.set(target, now, duration);
        let ids = self.router.cancel_bound(|id| outages.is_down(id, now));
        drop(outages);
        for _ in &ids {
            crate::ledger::inc(&self.ledger.counters().connections_dropped);
        }
        tracing::info!(
            ?target,
            secs = duration.as_secs_f64(),
            connections = ids.len(),
            "outage set"
        );
        Ok(ids)
    }

    /// Gives a session `system_id` at bind unless the carrier is down for it.
    pub(crate) fn admit_bind(&self, handle: &SessionHandle, system_id: &str) -> bool {
        let outages = self.outages();
        if outages.is_down(system_id, Instant::now()) {
            return false;
        }
        handle.set_system_id(system_id);
        true
    }

    /// `(system_id, down)` for every configured account and every system_id named in an
    /// outage; `"*"` stands for the all-accounts outage when no account is configured.
    pub(crate) fn outage_states(&self) -> Vec<(String, bool)> {
        let now = Instant::now();
        let outages = self.outages();
        let mut ids: Vec<&str> = self
            .config
            .accounts
            .iter()
            .map(|a| a.system_id.as_str())
            .collect();
        let mut named: Vec<&str> = outages.named().filter(|n| !ids.contains(n)).collect();
        named.sort_unstable();
        ids.extend(named);
        let mut states: Vec<(String, bool)> = ids
            .into_iter()
            .map(|id| (id.to_string(), outages.is_down(id, now)))
            .collect();
        if self.config.accounts.is_empty() {
            states.push(("*".to_string(), outages.all_down(now)));
        }
        states
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}
