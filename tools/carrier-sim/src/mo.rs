//! Mobile-originated messages: injection (library and `POST /mo`) and scripted MOs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::{
    error::SimError,
    sim::Shared,
    smsc::{
        receipts::{build_mo, build_mo_part},
        router::{OutKind, Outgoing},
    },
    text::mask_msisdn,
};

/// Sends an MO deliver_sm to a bound receiver/transceiver of `system_id`, as `parts`
/// deliver_sms with a concatenation UDH when `parts` > 1 (the text split into that many
/// pieces, in order); fails with [`SimError::NoReceiver`] when none is bound.
pub(crate) async fn inject(
    shared: &Shared,
    system_id: &str,
    from: &str,
    to: &str,
    text: &str,
    parts: u8,
) -> Result<(), SimError> {
    let alphabet = shared.config.scenario.smsc.default_alphabet;
    let pdus = if parts <= 1 {
        vec![build_mo(from, to, text, alphabet)?]
    } else {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() < usize::from(parts) {
            return Err(SimError::InvalidMo(format!(
                "{} characters cannot make {parts} parts",
                chars.len()
            )));
        }
        let reference = NEXT_REFERENCE.fetch_add(1, Ordering::Relaxed);
        let size = chars.len().div_ceil(usize::from(parts));
        (1..=parts)
            .zip(chars.chunks(size))
            .map(|(seq, piece)| {
                let piece: String = piece.iter().collect();
                build_mo_part(from, to, &piece, alphabet, Some((reference, parts, seq)))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if !shared.router.has_receiver(system_id) {
        return Err(SimError::NoReceiver(system_id.to_string()));
    }
    tracing::debug!(system_id, from = %mask_msisdn(from), parts, "mo injected");
    for pdu in pdus {
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
    }
    Ok(())
}

/// Concatenation reference of the next long MO.
static NEXT_REFERENCE: AtomicU8 = AtomicU8::new(1);

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
