//! State shared by the SMPP sessions, the HTTP API and the library handle.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{config::SimConfig, engine::Engine, ledger::Ledger, smsc::router::Router};

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
            next_session: AtomicU64::new(1),
        })
    }

    /// Closes every SMPP connection (counted as dropped); returns their ids.
    pub(crate) fn drop_connections(&self) -> Vec<u64> {
        let ids = self.router.cancel_all();
        for _ in &ids {
            crate::ledger::inc(&self.ledger.counters().connections_dropped);
        }
        ids
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}
