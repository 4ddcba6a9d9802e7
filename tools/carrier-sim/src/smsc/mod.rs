//! The SMPP 3.4 SMSC: accept loop, sessions, submit parsing, receipts and deliver_sm routing.
//!
//! | module | role |
//! | --- | --- |
//! | `codec` | framing over the rusmpp codec that survives malformed bodies |
//! | `session` | one connection: bind state machine, submit handling, batched writer |
//! | `submit` | payload, concatenation and text of a submit_sm |
//! | `receipts` | receipt / MO deliver_sm building and scheduling |
//! | `router` | session registry, receiver selection, pending and re-queued deliver_sm |

pub(crate) mod codec;
pub(crate) mod receipts;
pub(crate) mod router;
pub(crate) mod session;
pub(crate) mod submit;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::sim::Shared;

/// Accepts connections until shutdown; each one gets a tracked session task.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                shared
                    .tracker
                    .spawn(session::run(Arc::clone(&shared), stream, peer));
            }
            Err(e) => {
                tracing::warn!(error = %e, "smpp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    tracing::debug!("smpp listener stopped");
}
