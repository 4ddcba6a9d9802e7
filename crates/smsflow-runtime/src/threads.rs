//! [`ThreadRuntime`]: a tokio runtime on one thread of its own, for work that must not wait
//! in the main runtime's run queue behind a burst of bulk handlers.
//!
//! Under a bulk backlog the main runtime's workers always have a queue of ready tasks; a
//! task woken there waits its turn behind them. A thread of its own is scheduled by the
//! operating system as soon as its work is ready. The dispatcher runs its SMPP links on one
//! (a submit_sm_resp is read as soon as it arrives) and its OTP and transactional lanes on
//! another (ADR 11, decision 17).

use std::io;

use tokio::runtime::{Builder, Handle, Runtime};

/// A one-thread tokio runtime. Keep it alive while anything spawned on it must run;
/// dropping it stops what still runs there without waiting (safe inside async code).
#[derive(Debug)]
pub struct ThreadRuntime {
    runtime: Option<Runtime>,
}

impl ThreadRuntime {
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

    /// Where to spawn onto it.
    pub fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .map(Runtime::handle)
            .expect("the runtime lives until drop")
    }
}

impl Drop for ThreadRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spawned_work_runs_on_the_named_thread_and_drop_is_safe_in_async_code() {
        let rt = ThreadRuntime::new("test-lane").expect("runtime");
        let name = rt
            .handle()
            .spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .expect("joined");
        assert_eq!(name.as_deref(), Some("test-lane"));
        // A pending task must not keep the drop waiting, nor panic in an async context.
        rt.handle().spawn(std::future::pending::<()>());
        drop(rt);
    }
}
