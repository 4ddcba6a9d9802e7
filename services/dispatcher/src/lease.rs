//! One owner per partition: leases in CQL (issue 9, item 3; ADR 12, decision 9).
//!
//! Kafka gives each partition to one member of the group, but a member the group has let go
//! (a stall, a lost session, a revoke whose records outran the drain) may still be running a
//! record while the next owner reads it again, and the carrier does not know about Kafka.
//! So a dispatcher also leases every partition it reads, in `dispatch_leases`:
//!
//! - **Claim** when a record of a new assignment arrives: a conditional write
//!   (`IF owner = null`, with a TTL), retried every 500 ms while another instance holds it.
//!   Records of the partition wait meanwhile (at most the TTL after a crash; at once after a
//!   graceful revoke, which releases).
//! - **Renew** every TTL / 5 (`IF owner = <our token>`): a renewal not applied means the lease
//!   was lost, and this instance stops submitting for the partition.
//! - **Submit only inside the lease.** An attempt takes a [`Permit`] whose `write_by` is the
//!   lease's end as this instance can vouch for it (when the renewal was *sent*, plus the TTL,
//!   minus a margin); the SMPP client writes no part at or after it. The store expires the
//!   row no sooner than that (its TTL starts when it applies the write), so when another
//!   instance can claim, nothing of ours can still reach the carrier.
//! - **Release** on revoke, once no permit is out (else the lease lapses by itself), and at
//!   shutdown: a conditional delete of our token, so the next owner need not wait.
//!
//! Per record this costs two uncontended mutexes and a clock read; the store sees one
//! conditional write per partition per TTL / 5, and one per claim.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlValue, Row};
use smsflow_kafka::HandlerError;
use smsflow_runtime::CancellationToken;
use smsflow_store::{Store, StoreError};
use tracing::{debug, info, warn};

use crate::metrics;

/// What the store errors of this module are about.
const WHAT: &str = "dispatch lease";
/// How long before its end a lease stops vouching for writes: covers a part handed to the
/// socket just before `write_by` and the time the renewal took to be applied.
const MARGIN: Duration = Duration::from_secs(3);
/// How often a claim is tried again while another instance holds the lease.
const CLAIM_RETRY: Duration = Duration::from_millis(500);

/// Where one partition's lease stands here.
#[derive(Debug, Default)]
struct State {
    /// The consumer assignment it was last claimed under.
    assignment: u64,
    /// The owner token written by our last applied claim or renewal.
    token: Option<String>,
    /// Until when this instance may write to a carrier for the partition (`None`: not held).
    usable_until: Option<Instant>,
    /// Every assignment up to this one was revoked by the consumer: their records are given
    /// up, and a lease held for one of them is not renewed.
    revoked_through: u64,
    /// Permits out: attempts that may be writing to a carrier.
    submitting: usize,
}

impl State {
    /// Whether records read under `assignment` may no longer act on the partition: a later
    /// assignment exists, or this one was revoked. The revoke names the assignments it ends,
    /// not "the current one": a revoke may land before any record of the assignment it ends
    /// has claimed the lease (its records waiting for another instance's), and that claim,
    /// landing later, must not be taken (CI chaos-smoke, 2026-12-07: held for minutes).
    fn stale_for(&self, assignment: u64) -> bool {
        assignment < self.assignment || assignment <= self.revoked_through
    }

    /// Whether the assignment the lease was last claimed under is revoked (also true of a
    /// lease never claimed here, which has no token to renew or release).
    fn revoked(&self) -> bool {
        self.stale_for(self.assignment)
    }

    /// Where a record of `assignment` stands: it may act (until when), is given up, or the
    /// lease is to be claimed (for a permit: it lapsed). The same rule for the record's
    /// start and its permit, so a record that waited across a revoke and a reassignment is
    /// as stale at its permit as it would have been at its start.
    fn check(&self, assignment: u64, now: Instant) -> Check {
        if self.stale_for(assignment) {
            return Check::Stale;
        }
        match self.usable_until {
            Some(u) if u > now && assignment == self.assignment => Check::Held(u),
            _ => Check::Claim,
        }
    }

    /// Revokes the assignments up to `through`: the token to release now, if the one the
    /// lease was claimed under is among them and no permit is out.
    fn revoke(&mut self, through: u64) -> Option<String> {
        self.revoked_through = self.revoked_through.max(through);
        self.to_release()
    }

    /// A permit ended: the token to release now, if it was the last of a revoked lease.
    fn permit_done(&mut self) -> Option<String> {
        self.submitting -= 1;
        self.to_release()
    }

    /// The token to release, if the lease is revoked and no permit is out.
    fn to_release(&self) -> Option<String> {
        (self.revoked() && self.submitting == 0)
            .then(|| self.token.clone())
            .flatten()
    }

    /// A claim applied by the store that [`State::take`] refused: whether to release it now.
    /// While a permit of an earlier assignment is out, the claim may have taken over that
    /// permit's row (our own token), which must outlive it: it is kept, not renewed, and the
    /// last permit's end releases it.
    fn refused(&mut self, token: &str) -> bool {
        if self.submitting > 0 {
            self.token = Some(token.to_owned());
        }
        self.submitting == 0
    }

    /// Takes a claim applied by the store for `assignment` as ours, unless the assignment was
    /// revoked (or superseded) while the claim was in flight; false then, nothing changed.
    fn take(&mut self, assignment: u64, token: &str, usable_until: Instant) -> bool {
        if self.stale_for(assignment) {
            return false;
        }
        self.assignment = assignment;
        self.token = Some(token.to_owned());
        self.usable_until = Some(usable_until);
        true
    }
}

/// The lease of one partition.
#[derive(Debug)]
pub struct Lease {
    topic: String,
    partition: i32,
    state: parking_lot::Mutex<State>,
    /// One claim at a time per partition.
    claiming: tokio::sync::Mutex<()>,
}

/// Leave to write to a carrier for a record of a leased partition, until `write_by`.
#[derive(Debug)]
pub struct Permit {
    lease: Arc<Lease>,
    leases: Arc<Inner>,
    /// No part may be written at or after this instant.
    pub write_by: Instant,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let release = self.lease.state.lock().permit_done();
        if let Some(token) = release {
            self.leases.release_later(self.lease.clone(), token);
        }
    }
}

/// A partition's lease, held for a record of one assignment.
#[derive(Debug)]
pub struct Held {
    leases: Leases,
    lease: Arc<Lease>,
    assignment: u64,
}

impl Held {
    /// Leave to write to the carrier until the lease's end; refused once it lapsed (retry:
    /// claimed again) or the record's assignment ended (given up), even if the lease was
    /// claimed again since for a later one: a record that waited (for window slots) across a
    /// revoke and a reassignment must not act on the history it read before them.
    pub fn permit(&self) -> Result<Permit, HandlerError> {
        self.leases.permit(&self.lease, self.assignment)
    }
}

/// What a record's lease check found.
#[derive(Debug, PartialEq, Eq)]
enum Check {
    /// Held for the record's assignment, usable until then.
    Held(Instant),
    /// The record was read under an assignment this instance no longer has.
    Stale,
    Claim,
}

impl Lease {
    /// `Some(Ok)`: held for records of `assignment`; `Some(Err)`: such a record is given up;
    /// `None`: to be claimed.
    fn ready(&self, assignment: u64) -> Option<Result<(), HandlerError>> {
        match self.check(assignment, Instant::now()) {
            Check::Held(_) => Some(Ok(())),
            Check::Stale => Some(Err(stale(self))),
            Check::Claim => None,
        }
    }

    fn check(&self, assignment: u64, now: Instant) -> Check {
        self.state.lock().check(assignment, now)
    }
}

#[derive(Debug)]
struct Inner {
    store: Store,
    claim: PreparedStatement,
    renew: PreparedStatement,
    release: PreparedStatement,
    /// This process: `host/pid/random`; a token adds the claim's sequence number.
    instance: String,
    ttl: Duration,
    next_token: std::sync::atomic::AtomicU64,
    leases: parking_lot::Mutex<HashMap<String, HashMap<i32, Arc<Lease>>>>,
}

/// The partition leases of this dispatcher.
#[derive(Debug, Clone)]
pub struct Leases {
    inner: Arc<Inner>,
}

/// The outcome of a conditional write: applied, or the owner found instead.
fn applied(rows: Vec<Row>) -> Result<bool, Option<String>> {
    let mut cols = rows
        .into_iter()
        .next()
        .map(|r| r.columns)
        .unwrap_or_default();
    let ok = cols.first().and_then(|c| c.as_ref()?.as_boolean()) == Some(true);
    if ok {
        return Ok(true);
    }
    let owner = cols
        .get_mut(1)
        .and_then(Option::take)
        .and_then(CqlValue::into_string);
    Err(owner)
}

impl Leases {
    /// Prepares the statements; leases last `ttl` (at least 6 s) and are renewed every
    /// `ttl / 5` until `shutdown`.
    pub async fn start(
        store: Store,
        ttl: Duration,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        let ttl = ttl.max(Duration::from_secs(6));
        let t = store.table("dispatch_leases");
        let prep = |q: String| store.prepare("prepare dispatch lease", q);
        let set = format!(
            "UPDATE {t} USING TTL ? SET owner = ?, updated_at = toTimestamp(now()) \
             WHERE topic = ? AND partition = ?"
        );
        let inner = Arc::new(Inner {
            claim: prep(format!("{set} IF owner = null")).await?,
            renew: prep(format!("{set} IF owner = ?")).await?,
            release: prep(format!(
                "DELETE FROM {t} WHERE topic = ? AND partition = ? IF owner = ?"
            ))
            .await?,
            store,
            instance: format!(
                "{}/{}/{:08x}",
                hostname(),
                std::process::id(),
                uuid::Uuid::new_v4().as_u128() as u32
            ),
            ttl,
            next_token: std::sync::atomic::AtomicU64::new(1),
            leases: parking_lot::Mutex::default(),
        });
        tokio::spawn(renew_until(inner.clone(), shutdown));
        Ok(Self { inner })
    }

    /// This process's owner prefix (tokens are `<instance>#<n>`).
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// The lease of `partition` of `topic` for a record read under `assignment`: held
    /// already, or claimed now (waiting while another instance holds it). A record of an
    /// assignment since revoked is given up ([`HandlerError::Abandon`]).
    pub async fn hold(
        &self,
        topic: &str,
        partition: i32,
        assignment: u64,
        shutdown: &CancellationToken,
    ) -> Result<Held, HandlerError> {
        let lease = self.inner.lease(topic, partition);
        let held = |lease: Arc<Lease>| Held {
            leases: self.clone(),
            lease,
            assignment,
        };
        if let Some(done) = lease.ready(assignment) {
            return done.map(|()| held(lease));
        }
        // One record claims for all of the partition's (the others wait for the lock, then
        // find it held): a partition waiting for another instance costs one claim per 500 ms.
        let _one = lease.claiming.lock().await;
        let mut waited = false;
        loop {
            if let Some(done) = lease.ready(assignment) {
                return done.map(|()| held(lease.clone()));
            }
            match self.inner.claim(&lease, assignment).await? {
                None => {
                    metrics::lease("claimed");
                    debug!(topic, partition, "partition lease claimed");
                    return Ok(held(lease.clone()));
                }
                Some(owner) if !waited => {
                    metrics::lease("waited");
                    info!(topic, partition, owner = %owner, "partition leased by another instance; waiting for it");
                    waited = true;
                }
                Some(_) => {}
            }
            tokio::select! {
                () = tokio::time::sleep(CLAIM_RETRY) => {}
                () = shutdown.cancelled() => return Err(HandlerError::retry("shutting down while waiting for a partition lease")),
            }
        }
    }

    /// A permit to write to a carrier for a record of `lease`'s partition, while it is held.
    fn permit(&self, lease: &Arc<Lease>, assignment: u64) -> Result<Permit, HandlerError> {
        let mut st = lease.state.lock();
        match st.check(assignment, Instant::now()) {
            Check::Held(write_by) => {
                st.submitting += 1;
                Ok(Permit {
                    lease: lease.clone(),
                    leases: self.inner.clone(),
                    write_by,
                })
            }
            Check::Stale => Err(stale(lease)),
            // Lapsed (renewals failing, or lost): claimed again on the next try.
            Check::Claim => Err(HandlerError::retry(format!(
                "lease of {}/{} lapsed before the submit",
                lease.topic, lease.partition
            ))),
        }
    }

    /// The consumer revoked the partition's assignments up to `through`: give up their
    /// records, stop renewing, and release the lease now if no attempt is writing (else when
    /// the last one ends).
    pub fn revoked(&self, topic: &str, partition: i32, through: u64) {
        let Some(lease) = self.inner.find(topic, partition) else {
            return;
        };
        let release = lease.state.lock().revoke(through);
        if let Some(token) = release {
            self.inner.release_later(lease, token);
        }
    }

    /// Releases every lease held (at shutdown, once the consumers have drained).
    pub async fn release_all(&self) {
        let releases = self.inner.all().into_iter().filter_map(|l| {
            let token = l.state.lock().token.clone()?;
            Some(self.inner.release(l, token))
        });
        futures::future::join_all(releases).await;
    }
}

fn stale(lease: &Lease) -> HandlerError {
    HandlerError::Abandon(format!(
        "partition {}/{} was revoked",
        lease.topic, lease.partition
    ))
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "dispatcher".into())
}

impl Inner {
    fn lease(&self, topic: &str, partition: i32) -> Arc<Lease> {
        let mut all = self.leases.lock();
        // Looked up by `&str`: no allocation per record once the topic is known.
        let parts = match all.get_mut(topic) {
            Some(p) => p,
            None => all.entry(topic.to_owned()).or_default(),
        };
        parts
            .entry(partition)
            .or_insert_with(|| {
                Arc::new(Lease {
                    topic: topic.to_owned(),
                    partition,
                    state: parking_lot::Mutex::default(),
                    claiming: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// Every lease known here.
    fn all(&self) -> Vec<Arc<Lease>> {
        self.leases
            .lock()
            .values()
            .flat_map(|p| p.values().cloned())
            .collect()
    }

    fn find(&self, topic: &str, partition: i32) -> Option<Arc<Lease>> {
        self.leases.lock().get(topic)?.get(&partition).cloned()
    }

    fn token(&self) -> String {
        let n = self
            .next_token
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}#{n}", self.instance)
    }

    fn ttl_secs(&self) -> i32 {
        i32::try_from(self.ttl.as_secs()).unwrap_or(i32::MAX)
    }

    /// One conditional write; `Ok(Ok(()))` if applied, `Ok(Err(owner))` if not.
    async fn conditional(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<Result<(), Option<String>>, HandlerError> {
        let rows: Vec<Row> = self.store.rows(WHAT, statement, values).await?;
        Ok(applied(rows).map(|_| ()))
    }

    /// Claims `lease` for `assignment` (or takes over our own token); `None` if it is ours
    /// now, else the owner holding it.
    async fn claim(&self, lease: &Lease, assignment: u64) -> Result<Option<String>, HandlerError> {
        let (topic, partition) = (lease.topic.as_str(), lease.partition);
        let token = self.token();
        let sent = Instant::now();
        let mut r = self
            .conditional(&self.claim, (self.ttl_secs(), &token, topic, partition))
            .await?;
        if let Err(Some(owner)) = &r
            && owner.starts_with(&self.instance)
        {
            // Ours from an earlier assignment (a release not yet applied): take it over.
            let v = (self.ttl_secs(), &token, topic, partition, owner.clone());
            r = self.conditional(&self.renew, v).await?;
        }
        if let Err(owner) = r {
            return Ok(Some(owner.unwrap_or_else(|| "(unknown)".into())));
        }
        // Checked and taken under one lock, so a revoke cannot land in between.
        let release_now = {
            let mut st = lease.state.lock();
            if st.take(assignment, &token, sent + self.ttl - MARGIN) {
                return Ok(None);
            }
            // Revoked while the claim was in flight (a record of a lost assignment runs on,
            // unwaited): not ours to hold, and no later revoke would ever let it go; renewed,
            // it kept the partition's next owner waiting until this process stopped (CI
            // chaos-smoke, 2026-12-07). Let it go (now, or when the permits out end); the
            // record finds itself stale.
            st.refused(&token)
        };
        if release_now
            && let Err(e) = self
                .conditional(&self.release, (topic, partition, token))
                .await
        {
            warn!(topic, partition, error = %e, "lease claimed after its revoke not released; it lapses");
        }
        Ok(Some("(revoked while claiming)".into()))
    }

    /// Renews a held, not revoked lease; a renewal not applied means it was lost.
    async fn renew(&self, lease: Arc<Lease>) {
        let old = {
            let st = lease.state.lock();
            match (&st.token, st.usable_until, st.revoked()) {
                (Some(t), Some(_), false) => t.clone(),
                _ => return,
            }
        };
        let token = self.token();
        let sent = Instant::now();
        let v = (
            self.ttl_secs(),
            &token,
            lease.topic.as_str(),
            lease.partition,
            old.clone(),
        );
        let r = self.conditional(&self.renew, v).await;
        let mut st = lease.state.lock();
        if st.token.as_deref() != Some(old.as_str()) {
            return; // claimed again meanwhile
        }
        match r {
            Ok(Ok(())) => {
                st.token = Some(token);
                st.usable_until = Some(sent + self.ttl - MARGIN);
            }
            Ok(Err(owner)) => {
                st.usable_until = None;
                st.token = None;
                metrics::lease("lost");
                warn!(topic = %lease.topic, partition = lease.partition, owner = ?owner, "partition lease lost; no more submits for it here");
            }
            // The lease runs on; if the store stays away, it lapses and submits stop.
            Err(e) => {
                warn!(topic = %lease.topic, partition = lease.partition, error = %e, "partition lease not renewed")
            }
        }
    }

    fn release_later(self: &Arc<Self>, lease: Arc<Lease>, token: String) {
        let inner = self.clone();
        tokio::spawn(async move { inner.release(lease, token).await });
    }

    /// Deletes our row of `lease` if `token` is still what we hold (not claimed again
    /// since); the lease is no longer usable here.
    async fn release(&self, lease: Arc<Lease>, token: String) {
        {
            let mut st = lease.state.lock();
            if st.token.as_deref() != Some(token.as_str()) {
                return;
            }
            st.usable_until = None;
            st.token = None;
        }
        let v = (lease.topic.as_str(), lease.partition, token);
        match self.conditional(&self.release, v).await {
            Ok(_) => {
                metrics::lease("released");
                debug!(topic = %lease.topic, partition = lease.partition, "partition lease released");
            }
            Err(e) => {
                warn!(topic = %lease.topic, partition = lease.partition, error = %e, "partition lease not released; it lapses")
            }
        }
    }
}

async fn renew_until(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(inner.ttl / 5);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        futures::future::join_all(inner.all().into_iter().map(|l| inner.renew(l))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease() -> Lease {
        Lease {
            topic: "t".into(),
            partition: 0,
            state: parking_lot::Mutex::default(),
            claiming: tokio::sync::Mutex::new(()),
        }
    }

    #[test]
    fn a_record_is_handled_only_under_the_assignment_its_lease_was_claimed_for() {
        let l = lease();
        let now = Instant::now();
        assert!(matches!(l.check(1, now), Check::Claim), "never claimed");
        {
            let mut st = l.state.lock();
            st.assignment = 2;
            st.usable_until = Some(now + Duration::from_secs(5));
        }
        assert!(matches!(l.check(2, now), Check::Held(_)));
        assert!(
            matches!(l.check(1, now), Check::Stale),
            "a record of an earlier assignment"
        );
        assert!(
            matches!(l.check(3, now), Check::Claim),
            "a new assignment claims again"
        );
        assert!(
            matches!(l.check(2, now + Duration::from_secs(6)), Check::Claim),
            "lapsed"
        );
        l.state.lock().revoked_through = 2;
        assert!(matches!(l.check(2, now), Check::Stale), "revoked");
        assert!(
            matches!(l.check(3, now), Check::Claim),
            "a later assignment claims again"
        );
    }

    /// A claim the store applied after the consumer revoked the assignment it was made for
    /// is not taken, so it is never renewed and the partition's next owner can claim it:
    /// whether the revoke landed while the claim was in flight, or before this instance had
    /// claimed anything under that assignment (its records waiting for another instance's
    /// lease, so the revoke found the lease still claimed under an earlier one).
    #[test]
    fn a_claim_that_lands_after_its_revoke_is_not_taken() {
        let mut st = State::default();
        let until = Instant::now() + Duration::from_secs(10);
        assert!(st.take(1, "a#1", until), "a first claim");
        assert_eq!(st.revoke(1).as_deref(), Some("a#1"), "released at once");
        assert!(!st.take(1, "a#2", until), "its claim was in flight");
        assert!(!st.take(0, "a#3", until), "an earlier assignment");
        assert!(st.take(2, "a#4", until), "a new assignment claims again");
        // Assignment 3's records wait for another instance; it is revoked before any lands.
        st.submitting = 1;
        assert_eq!(st.revoke(3), None, "a permit of assignment 2 is out");
        assert!(st.revoked(), "nothing more renewed");
        assert!(!st.take(3, "a#5", until), "revoked before its claim landed");
        // The claim took over our own row, which the permit out needs: kept until it ends.
        assert!(!st.refused("a#5"));
        assert_eq!(st.permit_done().as_deref(), Some("a#5"));
        assert!(st.take(4, "a#6", until), "a later assignment claims again");
        assert!(!st.revoked());
        assert!(
            st.refused("a#7"),
            "refused with no permit out: released now"
        );
    }

    /// A record that waited (for window slots) while its assignment was revoked and the
    /// partition came back gets no permit, though the lease is held again: the history it
    /// read may predate another instance's submit.
    #[test]
    fn a_permit_is_refused_to_a_record_of_an_ended_assignment() {
        let mut st = State::default();
        let now = Instant::now();
        let until = now + Duration::from_secs(10);
        assert!(st.take(1, "a#1", until));
        assert_eq!(st.check(1, now), Check::Held(until));
        assert_eq!(st.revoke(1).as_deref(), Some("a#1"));
        assert!(st.take(2, "a#2", until), "assigned back, claimed again");
        assert_eq!(
            st.check(2, now),
            Check::Held(until),
            "its new records may write"
        );
        assert_eq!(st.check(1, now), Check::Stale, "the waiting one may not");
        assert_eq!(
            st.check(2, until),
            Check::Claim,
            "nor anyone past the lease's end (lapsed)"
        );
    }

    #[test]
    fn a_conditional_write_reads_as_applied_or_names_the_owner() {
        let row = |c: Vec<Option<CqlValue>>| vec![Row { columns: c }];
        assert_eq!(applied(row(vec![Some(CqlValue::Boolean(true))])), Ok(true));
        assert_eq!(
            applied(row(vec![
                Some(CqlValue::Boolean(false)),
                Some(CqlValue::Text("b/1/x#4".into()))
            ])),
            Err(Some("b/1/x#4".into()))
        );
        assert_eq!(
            applied(row(vec![Some(CqlValue::Boolean(false)), None])),
            Err(None)
        );
        assert_eq!(applied(vec![]), Err(None));
    }
}
