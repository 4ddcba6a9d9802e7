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
        let pieces = split(text, parts)
            .ok_or_else(|| SimError::InvalidMo(format!("too few characters for {parts} parts")))?;
        let reference = NEXT_REFERENCE.fetch_add(1, Ordering::Relaxed);
        (1..=parts)
            .zip(&pieces)
            .map(|(seq, piece)| {
                build_mo_part(from, to, piece, alphabet, Some((reference, parts, seq)))
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

/// `text` in `parts` consecutive pieces of nearly equal length, none empty (piece i of n holds
/// characters [i·len/n, (i+1)·len/n)); `None` when it has fewer characters than that.
fn split(text: &str, parts: u8) -> Option<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let n = usize::from(parts);
    if n == 0 || chars.len() < n {
        return None;
    }
    let bound = |i: usize| chars.len() * i / n;
    Some(
        (0..n)
            .map(|i| chars[bound(i)..bound(i + 1)].iter().collect())
            .collect(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_splits_into_exactly_the_parts_asked_in_order() {
        for (text, parts) in [
            ("STOP", 3u8),
            ("STOP", 4),
            ("hello world", 2),
            ("añb😀c", 5),
        ] {
            let pieces = split(text, parts).unwrap();
            assert_eq!(pieces.len(), usize::from(parts), "{text} in {parts}");
            assert!(pieces.iter().all(|p| !p.is_empty()), "{pieces:?}");
            assert_eq!(pieces.concat(), text);
        }
        assert_eq!(split("STOP", 5), None);
        assert_eq!(split("STOP", 0), None);
    }
}
