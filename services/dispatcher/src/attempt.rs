//! One carrier attempt for one `RoutingDecided`, with the write-ahead and no-duplicate rules:
//!
//! 1. A finished attempt (state SUBMITTED / FAILED_*) is not submitted again: its outcome
//!    events are re-emitted with the same derived ids, which downstream dedupes.
//! 2. Before the first byte goes to the carrier, `AttemptStarted` is acknowledged by Kafka
//!    and the attempt is STARTED in CQL (write-ahead). For a message type whose unknown
//!    outcomes are resubmitted anyway (OTP by default), the event and the STARTED row go
//!    alongside the submit instead, off the message's latency (the event still precedes the
//!    outcome event: it is acknowledged first, or published again ahead of it).
//! 3. Only segments without a recorded carrier id are submitted; the accepted ones are
//!    recorded with the attempt's outcome, in the same write.
//! 4. A STARTED attempt found on entry crashed mid-submit: its unrecorded segments have an
//!    unknown outcome, resolved by the per-message-type policy.
//! 5. Segments that were never written (link down) make the handler retry in place.
//! 6. An attempt whose STARTED write this instance could not confirm (the store failed) was
//!    not submitted: if the row landed all the same, a retry here sends it as new instead of
//!    counting it unknown ([`Unwritten`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use smsflow_events::topics::RETRY_TIERS;
use smsflow_events::{
    AttemptFailed, AttemptStarted, AttemptSubmitted, CarrierId, DEAD_LETTERED_CODE, EXPIRED_CODE,
    ErrorClass, EventMeta, Lane, MessageId, MessageType, RetryScheduled, RoutingDecided, Timestamp,
    Topics,
};
use smsflow_kafka::{HandlerError, LaneProducers, Outgoing};
use smsflow_runtime::CancellationToken;
use smsflow_smpp::{PartFailure, PartOutcome, SmppClient, SubmitRequest, concat_reference_for};
use tracing::{debug, warn};

use crate::PRODUCER;
use crate::breaker::{Breaker, Verdict};
use crate::config::UnknownOutcomePolicy;
use crate::followup::{FailureKind, Next, plan};
use crate::lease::Held;
use crate::metrics;
use crate::slots::Slots;
use crate::state::{AttemptState, DispatchState, History};

/// Attempts whose write-ahead this instance began but could not confirm (a store timeout):
/// the STARTED row may have landed all the same, yet nothing of the attempt was written to
/// the carrier, which only this instance can know. A retry that finds the row STARTED sends
/// it as new instead of awaiting it and ending it `unknown` (ADR 12, decision 16). Forgotten
/// on a revoke: another owner may have sent it since. Lost with the process, as is the
/// knowledge it stands for.
#[derive(Debug, Default)]
pub struct Unwritten(parking_lot::Mutex<HashSet<(MessageId, i32)>>);

impl Unwritten {
    /// Attempt `a` of `m` wrote nothing to the carrier, its STARTED row unconfirmed.
    pub fn mark(&self, m: MessageId, a: i32) {
        self.0.lock().insert((m, a));
    }

    /// Whether attempt `a` of `m` was marked; forgets it.
    pub fn take(&self, m: MessageId, a: i32) -> bool {
        self.0.lock().remove(&(m, a))
    }

    /// Forgets every mark (a partition was revoked).
    pub fn forget_all(&self) {
        self.0.lock().clear();
    }
}

/// Everything an attempt needs.
#[derive(Debug)]
pub struct Dispatcher {
    /// Attempt and segment state.
    pub state: DispatchState,
    /// SMPP clients by carrier id.
    pub carriers: HashMap<CarrierId, SmppClient>,
    /// Circuit breakers by carrier id (a carrier without one is never held down).
    pub breakers: HashMap<CarrierId, Breaker>,
    /// Window slots by carrier id, taken before a write-ahead that precedes the submit
    /// ([`crate::slots`]; a carrier without them takes none).
    pub slots: HashMap<CarrierId, Slots>,
    /// Producers of the write-ahead `AttemptStarted`, by lane.
    pub producers: LaneProducers,
    /// Topic names.
    pub topics: Topics,
    /// Attempts before giving up on transient failures.
    pub max_attempts: i32,
    /// Resubmit policy for unknown outcomes.
    pub resubmit_unknown: UnknownOutcomePolicy,
    /// Ends the wait for a store that cannot record an outcome (at shutdown).
    pub shutdown: CancellationToken,
    /// How long an attempt found STARTED, its parts unanswered, may still get its outcome
    /// recorded by the instance that started it (a lease's length, plus the carrier's
    /// response timeout, plus clock skew): until then it is awaited, not concluded unknown.
    pub settle: Duration,
    /// Attempts this instance knows it never wrote (rule 6).
    pub unwritten: Unwritten,
}

/// Writes state that records what the carrier already has, retrying a failing store until
/// it succeeds or `shutdown` (backoff 100 ms doubling to 1 s: a store back from an outage is
/// written to within a second, ADR 12 decision 20). The carrier's answer is known
/// only here: given up, a re-run would find the attempt STARTED with its parts unrecorded and
/// treat them as outcome unknown (a message the carrier accepted ending `failed`, or an OTP
/// sent again), which is what a CQL outage of a minute did before (issue 9's chaos report).
/// Meanwhile the record holds its slot: nothing else of the lane could be recorded either.
async fn persist<F, Fut>(
    m: MessageId,
    shutdown: &CancellationToken,
    mut write: F,
) -> Result<(), HandlerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), HandlerError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match write().await {
            Ok(()) => return Ok(()),
            Err(HandlerError::Retry(e)) => {
                warn!(message_id = %m, error = %e, "recording a carrier's answer failed, retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => {
                        return Err(HandlerError::retry(format!(
                            "shutting down before the carrier's answer was recorded: {e}"
                        )));
                    }
                }
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a submit's outcomes say of the carrier: `Some(true)` it answered (accepted, or
/// refused for the message's own sake), `Some(false)` it failed us (never connected, link
/// lost, no answer, a transient refusal), `None` nothing about it (not sent for our reasons).
fn carrier_health(outcomes: &[PartOutcome]) -> Option<bool> {
    use smsflow_smpp::NotSentReason as R;
    let mut failed = false;
    for o in outcomes {
        match &o.result {
            Ok(_) => return Some(true),
            Err(f) => match f {
                PartFailure::NotSent {
                    reason: R::NotConnected | R::LinkLostBeforeWrite,
                } => failed = true,
                PartFailure::NotSent { .. } => {}
                f if f.class() == smsflow_smpp::ErrorClass::Permanent => return Some(true),
                _ => failed = true,
            },
        }
    }
    failed.then_some(false)
}

/// How long ago `t` was, by this machine's clock (zero if ahead of it).
fn age_of(t: Timestamp) -> Duration {
    span(t, Timestamp::now())
}

/// The time from `from` to `to` (zero if `to` is earlier).
fn span(from: Timestamp, to: Timestamp) -> Duration {
    let us = to.as_micros().saturating_sub(from.as_micros());
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// The failure of a decision whose validity has ended, if it has.
fn expired(d: &RoutingDecided) -> Option<Failure> {
    d.expires_at
        .is_some_and(|e| e <= Timestamp::now())
        .then(|| Failure {
            class: ErrorClass::Permanent,
            code: EXPIRED_CODE.into(),
            reason: "validity ended before submit".into(),
        })
}

/// Error code of an attempt not made because its carrier was down (no bind, breaker open).
pub const CARRIER_UNAVAILABLE: &str = "CARRIER_UNAVAILABLE";

/// The delay tier a decision waits on while its carrier is down and it has nowhere to fail
/// over: OTP and transactional look again every 5 s, bulk every minute (fewer records going
/// round while a carrier stays down).
pub fn carrier_wait(lane: Lane) -> &'static str {
    let (short, _) = RETRY_TIERS[0];
    let (minute, _) = RETRY_TIERS[1];
    match lane {
        Lane::Otp | Lane::Transactional => short,
        Lane::Bulk => minute,
    }
}

/// A failure of this attempt.
struct Failure {
    class: ErrorClass,
    code: String,
    reason: String,
}

impl Dispatcher {
    fn may_resubmit(&self, t: MessageType) -> bool {
        match t {
            MessageType::Otp => self.resubmit_unknown.otp,
            MessageType::Transactional => self.resubmit_unknown.transactional,
            MessageType::Marketing => self.resubmit_unknown.marketing,
        }
    }

    /// Runs attempt `d.attempt` of `d.message_id`; returns the outcome events to publish.
    /// `fresh`: no attempt of the message can have been recorded ([`crate::fresh`]), so its
    /// history is not read. `lease`: the lease of the record's partition (ADR 12, decision 9);
    /// nothing is written to the carrier after it ends. `None` only where one instance runs.
    pub async fn dispatch(
        &self,
        d: &RoutingDecided,
        fresh: bool,
        lease: Option<&Held>,
    ) -> Result<Vec<Outgoing>, HandlerError> {
        let (m, a, carrier) = (d.message_id, d.attempt, d.carrier_id.as_str());
        let history = if fresh {
            metrics::history("skipped");
            History::default()
        } else {
            metrics::history("read");
            self.state.history(m).await?
        };
        let prior = history.attempt(a);
        // Only segments this carrier accepted count: a failover resubmits the whole message.
        let done: BTreeMap<i32, String> = history.accepted_by(carrier);
        // Rule 6: a STARTED row this instance wrote without confirmation, nothing sent.
        let was_started = matches!(prior.map(|r| r.state), Some(AttemptState::Started))
            && !(self.unwritten.take(m, a) && done.is_empty());
        match prior.map(|r| r.state) {
            Some(AttemptState::Submitted) => return Ok(vec![self.submitted(d, &done, false)]),
            Some(AttemptState::Failed(class)) => {
                let code = prior.and_then(|r| r.error_code.clone()).unwrap_or_default();
                let f = Failure {
                    class,
                    reason: format!("re-emitted after restart ({code})"),
                    code,
                };
                return Ok(self.failed(d, &f, &done));
            }
            Some(AttemptState::Started | AttemptState::NotSent) | None => {}
        }
        let Some(client) = self.carriers.get(&d.carrier_id) else {
            let f = Failure {
                class: ErrorClass::Permanent,
                code: "UNKNOWN_CARRIER".into(),
                reason: format!("carrier {carrier} is not configured here"),
            };
            return self.finish_failed(d, f, &done).await;
        };
        // The lane picks the SMPP queue (strict priority) and the priority_flag.
        let req = SubmitRequest::new(
            &d.from,
            d.to.as_str(),
            &d.text,
            concat_reference_for(m.as_uuid().as_bytes()),
        )
        .with_lane(match d.lane {
            Lane::Otp => smsflow_smpp::Lane::Otp,
            Lane::Transactional => smsflow_smpp::Lane::Transactional,
            Lane::Bulk => smsflow_smpp::Lane::Bulk,
        });
        let prepared = match client.prepare(&req) {
            Ok(p) => p,
            Err(e) => {
                let f = Failure {
                    class: ErrorClass::Permanent,
                    code: "CANNOT_ENCODE".into(),
                    reason: e.to_string(),
                };
                return self.finish_failed(d, f, &done).await;
            }
        };
        let total = prepared.parts.len();
        if was_started && done.len() < total && !self.may_resubmit(d.message_type) {
            // The instance that started it may be alive and about to record the carrier's
            // answer (it lost the partition in a stall or a rebalance after writing): wait.
            if let Some(age) = prior.and_then(|r| r.updated_at).map(age_of)
                && age < self.settle
            {
                metrics::awaited();
                return Err(HandlerError::retry(format!(
                    "attempt started {}s ago, perhaps by another instance still awaiting the \
                     carrier's answer: awaited up to {}s before it counts as unknown",
                    age.as_secs(),
                    self.settle.as_secs()
                )));
            }
            // Stopped between the write-ahead and the outcome: unrecorded parts may be at the carrier.
            let f = Failure {
                class: ErrorClass::OutcomeUnknown,
                code: "OUTCOME_UNKNOWN".into(),
                reason: "the dispatcher stopped during the submit".into(),
            };
            return self.finish_failed(d, f, &done).await;
        }
        if let Some(f) = expired(d) {
            return self.finish_failed(d, f, &done).await;
        }
        // A down carrier gets no attempt: fail over at once (or wait on a tier), holding no
        // slot. Only when nothing of the message is at this carrier (a failover resends all).
        let verdict = self.breakers.get(&d.carrier_id).map_or(Verdict::Up, |b| {
            b.allow(client.bound_sessions(), Instant::now())
        });
        if verdict != Verdict::Up && done.is_empty() && !was_started {
            metrics::carrier_down(carrier);
            if d.failover.is_empty() {
                // Nowhere to fail over: the decision waits for its carrier, its attempt
                // unspent (nothing sent, nothing recorded), until the carrier is back or the
                // validity ends (ADR 12, decision 19). Failing it instead spent an attempt per
                // look, so a carrier down for a while moved its messages up the tiers to
                // 10 minutes, past an OTP's validity.
                return Ok(vec![self.parked(d, carrier_wait(d.lane))]);
            }
            let f = Failure {
                class: ErrorClass::Transient,
                code: CARRIER_UNAVAILABLE.into(),
                reason: match verdict {
                    Verdict::Unbound => format!("carrier {carrier} has no bind"),
                    _ => format!("carrier {carrier}'s breaker is open (its attempts kept failing)"),
                },
            };
            return self.finish_failed(d, f, &done).await;
        }
        let remaining: Vec<_> = prepared
            .parts
            .into_iter()
            .filter(|p| !done.contains_key(&i32::from(p.seq)))
            .collect();
        // Resubmitting after a stop mid-submit, or after an unknown outcome, may duplicate.
        let ambiguous = !remaining.is_empty() && (was_started || history.previous_unknown(a));
        if ambiguous {
            metrics::ambiguous(carrier);
        }

        // Rule 2's write-ahead says the carrier may have the parts: so it waits for slots of
        // the carrier's (`write_ahead_windows` windows, strict priority), which bound what a
        // crash can leave written ahead but unsent; before, every decision in flight could
        // be. Taken before the lease's permit, so a revoke never waits for a record that
        // only waits for a slot; the permit then refuses a record whose assignment ended
        // meanwhile (ADR 12, decision 23).
        let slot = match self.slots.get(&d.carrier_id) {
            Some(s) if !self.may_resubmit(d.message_type) && !remaining.is_empty() => {
                let t = Instant::now();
                let held = s.acquire(d.lane, remaining.len()).await;
                metrics::slot_wait(d.lane, t.elapsed());
                // The validity may have ended while it waited.
                if let Some(f) = expired(d) {
                    drop(held);
                    return self.finish_failed(d, f, &done).await;
                }
                Some(held)
            }
            _ => None,
        };

        // One owner per attempt: held until the outcome is recorded; no part is written after
        // the lease's end, when another instance may own the message.
        let permit = lease.map(Held::permit).transpose()?;
        let write_by = permit.as_ref().map(|p| p.write_by);

        // Write-ahead: AttemptStarted acknowledged by Kafka, then the STARTED row. A STARTED
        // row therefore always has its event; no row means nothing reached the carrier
        // (unless the type resubmits unknown outcomes, below). A resume publishes the event
        // again (same derived id, deduplicated downstream).
        let started = Outgoing::new(
            self.topics.attempts.clone(),
            d.to.as_str(),
            AttemptStarted {
                meta: EventMeta::derived(PRODUCER, &d.meta, "attempt-started"),
                message_id: m,
                tenant_id: d.tenant_id.clone(),
                to: d.to.clone(),
                lane: d.lane,
                attempt: a,
                carrier_id: d.carrier_id.clone(),
                segments: i32::try_from(total).unwrap_or(i32::MAX),
            },
        );
        let announce = async {
            let t = Instant::now();
            let acked = self.producers.for_lane(d.lane).send(&started).await;
            metrics::write_ahead(d.lane, t.elapsed());
            acked
        };
        let no_ids = BTreeMap::new();
        let write_ahead = async {
            if was_started {
                return Ok(());
            }
            self.state
                .set(d.lane, m, a, carrier, AttemptState::Started, None, &no_ids)
                .await
        };
        let submit = async {
            let t = Instant::now();
            let outcomes = client.submit_parts_before(remaining, write_by).await;
            metrics::submit_seconds(carrier, d.lane, t.elapsed());
            outcomes
        };
        if !self.may_resubmit(d.message_type) {
            announce
                .await
                .map_err(|e| HandlerError::retry(format!("write-ahead not acknowledged: {e}")))?;
            write_ahead
                .await
                .inspect_err(|_| self.unwritten.mark(m, a))?;
            let outcomes = submit.await;
            drop(slot);
            return self.conclude(d, outcomes, done, total, ambiguous).await;
        }
        // An unknown outcome is resubmitted anyway (OTP by default), so neither the event nor
        // the STARTED row need precede the first byte: both go alongside the submit, off the
        // message's latency (ADR 11, decisions 11 and 17). The row still lands before the
        // outcome row, and the event before the outcome event (it is acknowledged first, or
        // published again ahead of it). After a crash in between, the resubmission is just not
        // flagged ambiguous.
        let (announced, ahead, outcomes) = tokio::join!(announce, write_ahead, submit);
        if let Err(e) = ahead {
            warn!(error = %e, message_id = %m, "STARTED row not written; the outcome row follows");
        }
        let mut out = self.conclude(d, outcomes, done, total, ambiguous).await?;
        if let Err(e) = announced {
            warn!(error = %e, message_id = %m, "AttemptStarted not acknowledged; published again with the outcome");
            out.insert(0, started);
        }
        Ok(out)
    }

    /// Records the outcome of a submit and returns its events: failed (with the follow-up),
    /// not sent (a retry), or submitted.
    async fn conclude(
        &self,
        d: &RoutingDecided,
        outcomes: Vec<PartOutcome>,
        mut done: BTreeMap<i32, String>,
        total: usize,
        ambiguous: bool,
    ) -> Result<Vec<Outgoing>, HandlerError> {
        let (m, a, carrier) = (d.message_id, d.attempt, d.carrier_id.as_str());
        if let Some(b) = self.breakers.get(&d.carrier_id) {
            match carrier_health(&outcomes) {
                Some(true) => b.success(),
                Some(false) if b.failure(Instant::now()) => {
                    warn!(carrier, "carrier breaker opened: its attempts keep failing");
                }
                Some(false) | None => {}
            }
        }
        let mut worst: Option<Failure> = None;
        let mut not_sent = None;
        for o in &outcomes {
            match &o.result {
                Ok(acc) => {
                    // Recorded with the attempt's outcome below, whatever that is.
                    done.insert(i32::from(o.seq), acc.message_id.as_str().to_owned());
                }
                Err(PartFailure::NotSent { reason }) => not_sent = Some(*reason),
                Err(f) => {
                    let class = match f.class() {
                        smsflow_smpp::ErrorClass::Permanent => ErrorClass::Permanent,
                        smsflow_smpp::ErrorClass::OutcomeUnknown => ErrorClass::OutcomeUnknown,
                        smsflow_smpp::ErrorClass::Retry => ErrorClass::Transient,
                    };
                    let code = match f {
                        PartFailure::Rejected { status, .. } => format!("SMPP_0x{:08X}", status.0),
                        _ => "OUTCOME_UNKNOWN".into(),
                    };
                    // Unknown outranks permanent outranks transient: the riskiest decides.
                    let rank = |c: ErrorClass| match c {
                        ErrorClass::OutcomeUnknown => 2,
                        ErrorClass::Permanent => 1,
                        ErrorClass::Transient => 0,
                    };
                    if worst.as_ref().is_none_or(|w| rank(class) > rank(w.class)) {
                        worst = Some(Failure {
                            class,
                            code,
                            reason: f.to_string(),
                        });
                    }
                }
            }
        }
        if let Some(f) = worst {
            return self.finish_failed(d, f, &done).await;
        }
        if let Some(reason) = not_sent {
            // Parts the carrier accepted are recorded even if the store hiccups.
            persist(m, &self.shutdown, || {
                self.state
                    .set(d.lane, m, a, carrier, AttemptState::NotSent, None, &done)
            })
            .await?;
            metrics::attempt(carrier, "not_sent");
            // Not connected, or the lease's write deadline passed in the queue: say which.
            return Err(HandlerError::retry(format!(
                "carrier {carrier}: nothing was sent ({reason})"
            )));
        }
        persist(m, &self.shutdown, || {
            self.state
                .set(d.lane, m, a, carrier, AttemptState::Submitted, None, &done)
        })
        .await?;
        metrics::attempt(carrier, "submitted");
        debug!(message_id = %m, to = %d.to, attempt = a, carrier, segments = total, ambiguous, "submitted");
        Ok(vec![self.submitted(d, &done, ambiguous)])
    }

    /// `d` again, on the delay topic of `tier`, under a derived id (handled twice, it parks
    /// one copy, which the attempt state recognises when it comes out twice).
    pub fn parked(&self, d: &RoutingDecided, tier: &str) -> Outgoing {
        let mut again = d.clone();
        again.meta = EventMeta::derived(PRODUCER, &d.meta, "parked");
        Outgoing::new(self.topics.retry(tier), d.to.as_str(), again)
    }

    fn submitted(
        &self,
        d: &RoutingDecided,
        done: &BTreeMap<i32, String>,
        ambiguous: bool,
    ) -> Outgoing {
        let ev = AttemptSubmitted {
            meta: EventMeta::derived(PRODUCER, &d.meta, "attempt-submitted"),
            message_id: d.message_id,
            tenant_id: d.tenant_id.clone(),
            to: d.to.clone(),
            attempt: d.attempt,
            carrier_id: d.carrier_id.clone(),
            carrier_message_ids: done.values().cloned().collect(),
            ambiguous,
        };
        Outgoing::new(self.topics.attempts.clone(), d.to.as_str(), ev)
    }

    async fn finish_failed(
        &self,
        d: &RoutingDecided,
        f: Failure,
        done: &BTreeMap<i32, String>,
    ) -> Result<Vec<Outgoing>, HandlerError> {
        let state = AttemptState::Failed(f.class);
        let (m, a, carrier) = (d.message_id, d.attempt, d.carrier_id.as_str());
        persist(m, &self.shutdown, || {
            self.state
                .set(d.lane, m, a, carrier, state, Some(&f.code), done)
        })
        .await?;
        metrics::attempt(d.carrier_id.as_str(), f.class.as_str());
        warn!(message_id = %d.message_id, to = %d.to, attempt = d.attempt, carrier = %d.carrier_id, code = %f.code, class = %f.class, "attempt failed");
        Ok(self.failed(d, &f, done))
    }

    /// The end of a decision the dispatcher dead-letters (its store refused it, or a panic):
    /// the attempt failed for good, no retry, nothing recorded (a receipt that still comes
    /// reports it, and wins).
    pub fn dead_lettered(&self, d: &RoutingDecided, code: &str, reason: &str) -> Vec<Outgoing> {
        let f = Failure {
            class: ErrorClass::Permanent,
            code: DEAD_LETTERED_CODE.into(),
            reason: format!("{code}: {reason}"),
        };
        self.failed(d, &f, &BTreeMap::new())
    }

    /// `AttemptFailed`, and what follows it (retry or failover), from `d` (and, for the retry
    /// tier, the validity it has left).
    fn failed(
        &self,
        d: &RoutingDecided,
        f: &Failure,
        done: &BTreeMap<i32, String>,
    ) -> Vec<Outgoing> {
        let kind = FailureKind {
            class: f.class,
            resubmit_unknown: self.may_resubmit(d.message_type),
            carrier_down: f.code == CARRIER_UNAVAILABLE,
        };
        // A message whose validity ended, or whose decision was dead-lettered, ends here.
        let next = if f.code == EXPIRED_CODE || f.code == DEAD_LETTERED_CODE {
            None
        } else {
            let valid_for = d.expires_at.map(|e| span(Timestamp::now(), e));
            plan(d, kind, self.max_attempts, valid_for)
        };
        let key = d.to.as_str();
        let mut out = vec![Outgoing::new(
            self.topics.attempts.clone(),
            key,
            AttemptFailed {
                meta: EventMeta::derived(PRODUCER, &d.meta, "attempt-failed"),
                message_id: d.message_id,
                tenant_id: d.tenant_id.clone(),
                to: d.to.clone(),
                attempt: d.attempt,
                carrier_id: d.carrier_id.clone(),
                error_class: f.class,
                error_code: f.code.clone(),
                reason: f.reason.clone(),
                carrier_message_ids: done.values().cloned().collect(),
                will_retry: next.is_some(),
            },
        )];
        let mut again = d.clone();
        again.meta = EventMeta::derived(PRODUCER, &d.meta, "next-attempt");
        again.attempt = d.attempt + 1;
        match next {
            None => {}
            Some(Next::Retry { tier, delay }) => {
                let not_before = Timestamp::now().plus(delay);
                again.not_before = Some(not_before);
                out.push(Outgoing::new(
                    self.topics.attempts.clone(),
                    key,
                    RetryScheduled {
                        meta: EventMeta::derived(PRODUCER, &d.meta, "retry-scheduled"),
                        message_id: d.message_id,
                        tenant_id: d.tenant_id.clone(),
                        to: d.to.clone(),
                        attempt: again.attempt,
                        carrier_id: d.carrier_id.clone(),
                        delay_tier: tier.to_owned(),
                        not_before,
                        reason: f.code.clone(),
                    },
                ));
                out.push(Outgoing::new(self.topics.retry(tier), key, again));
            }
            Some(Next::Failover { carrier, rest }) => {
                again.carrier_id = carrier;
                again.failover = rest;
                again.not_before = None;
                out.push(Outgoing::new(
                    self.topics.lane(d.lane).to_owned(),
                    key,
                    again,
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod persist_tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A store down for longer than any fixed number of tries: the answer is still recorded
    /// once it is back (before, after 9 tries it was given up and became "outcome unknown").
    #[tokio::test(start_paused = true)]
    async fn the_carriers_answer_is_recorded_once_the_store_is_back_however_long_it_was_down() {
        let calls = AtomicU32::new(0);
        let shutdown = CancellationToken::new();
        let r = persist(MessageId::new(), &shutdown, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 40 {
                    Err(HandlerError::retry("store down"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 41);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait_and_a_permanent_refusal_is_not_retried() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let r = persist(MessageId::new(), &shutdown, || async {
            Err(HandlerError::retry("store down"))
        })
        .await;
        assert!(matches!(r, Err(HandlerError::Retry(_))));
        let calls = AtomicU32::new(0);
        let r = persist(MessageId::new(), &CancellationToken::new(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(HandlerError::dead_letter("X", "refused")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
