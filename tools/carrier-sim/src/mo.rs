//! Mobile-originated messages: injection (library and `POST /mo`) and scripted MOs.

use std::{sync::Arc, time::Duration};

use crate::{
    error::SimError,
    sim::Shared,
    smsc::{
        receipts::build_mo,
        router::{OutKind, Outgoing},
    },
    text::mask_msisdn,
};

/// Sends an MO deliver_sm to a bound receiver/transceiver of `system_id`; fails with
/// [`SimError::NoReceiver`] when none is bound.
pub(crate) async fn inject(
    shared: &Shared,
    system_id: &str,
    from: &str,
    to: &str,
    text: &str,
) -> Result<(), SimError> {
    let pdu = build_mo(from, to, text, shared.config.scenario.smsc.default_alphabet)?;
    if !shared.router.has_receiver(system_id) {
        return Err(SimError::NoReceiver(system_id.to_string()));
    }
    tracing::debug!(system_id, from = %mask_msisdn(from), "mo injected");
    shared
        .router
        .deliver(
            system_id,
            Outgoing {
                pdu,
                kind: OutKind::Mo,
            },
        )
        .await;
    Ok(())
}

/// Starts the scenario's scripted MOs; each is queued for its system_id at its time (kept
/// pending until a receiver binds).
pub(crate) fn spawn_scripted(shared: &Arc<Shared>) {
    for (i, mo) in shared.config.scenario.mo.scripted.iter().enumerate() {
        let shared_task = Arc::clone(shared);
        let mo = mo.clone();
        let stop = shared.shutdown.clone();
        shared.tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(mo.after_ms)) => {}
            }
            let alphabet = shared_task.config.scenario.smsc.default_alphabet;
            match build_mo(&mo.from, &mo.to, &mo.text, alphabet) {
                Ok(pdu) => {
                    shared_task
                        .router
                        .deliver(
                            &mo.system_id,
                            Outgoing {
                                pdu,
                                kind: OutKind::Mo,
                            },
                        )
                        .await;
                }
                Err(e) => tracing::warn!(index = i, error = %e, "scripted mo invalid"),
            }
        });
    }
}
