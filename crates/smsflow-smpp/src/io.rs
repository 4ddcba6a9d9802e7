//! [`LinkRuntime`]: a runtime of its own for the SMPP links, so a link's reads, writes and
//! timers never wait in the run queue behind the caller's message handlers.
//!
//! The link loop is cheap per PDU but on the latency path of every submit: a submit_sm_resp
//! that sits unread while the process's workers run a burst of bulk handlers delays the
//! next OTP's window slot and answer by as much. On one thread of its own the loop is
//! scheduled by the operating system as soon as its socket is readable (ADR 11, decision 17).

use std::io;

use tokio::runtime::{Builder, Handle, Runtime};

/// A one-thread tokio runtime that drives SMPP links; pass [`LinkRuntime::handle`] to
/// [`crate::SmppClient::start_on`]. Keep it alive until every client on it has shut down;
/// dropping it stops whatever still runs there without waiting (safe inside async code).
#[derive(Debug)]
pub struct LinkRuntime {
    runtime: Option<Runtime>,
}

impl LinkRuntime {
    /// Starts the runtime's thread, named `name`.
    pub fn new(name: &str) -> io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Where clients spawn their sessions.
    pub fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .map(Runtime::handle)
            .expect("the runtime lives until drop")
    }
}

impl Drop for LinkRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
