//! Guarantee 3 across instances (issue 9, item 3; ADR 12, decision 9): one dispatcher at a
//! time may write to a carrier for a partition. Two `Leases` (two dispatcher instances) on
//! the real CQL store, one fresh topic name per test:
//!
//! - an owner that stops renewing (a stalled or partitioned process) keeps the partition until
//!   its lease ends, and the next owner gets it only after every write its permits allowed;
//! - a revoked partition is released at once, and the old owner's records of it are given
//!   up, permits refused;
//! - a renewed lease outlives its TTL, and a claim by another instance is refused meanwhile.

use std::time::{Duration, Instant};

use dispatcher::lease::Leases;
use smsflow_integration::Stack;
use smsflow_kafka::HandlerError;
use smsflow_runtime::CancellationToken;

const TTL: Duration = Duration::from_secs(6);

async fn instance(renewing: &CancellationToken) -> Leases {
    let stack = Stack::from_env();
    stack.require().await;
    let cfg = stack.store_config(false).await;
    let store = smsflow_store::Store::connect(&cfg).await.unwrap();
    Leases::start(store, TTL, renewing.clone()).await.unwrap()
}

/// Two instances A and B (each with the token that stops its renewals), a fresh topic name,
/// and a token nobody cancels.
struct Pair {
    a: Leases,
    a_renews: CancellationToken,
    b: Leases,
    b_renews: CancellationToken,
    t: String,
    never: CancellationToken,
}

async fn pair() -> Pair {
    let (a_renews, b_renews) = (CancellationToken::new(), CancellationToken::new());
    Pair {
        a: instance(&a_renews).await,
        b: instance(&b_renews).await,
        a_renews,
        b_renews,
        t: format!("lease-test-{}", uuid::Uuid::new_v4().simple()),
        never: CancellationToken::new(),
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.a_renews.cancel();
        self.b_renews.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_owner_keeps_its_partition_until_its_last_permitted_write() {
    let Pair {
        a,
        a_renews,
        b,
        t,
        never,
        ..
    } = &pair().await;
    let held = a.hold(t, 0, 1, never).await.unwrap();
    // A is mid-submit, and stops renewing: a stall, or a network partition from the store.
    let permit = held.permit().unwrap();
    a_renews.cancel();
    let got = tokio::time::timeout(TTL * 3, b.hold(t, 0, 1, never))
        .await
        .expect("B never got the partition of a stalled owner")
        .unwrap();
    let got_at = Instant::now();
    assert!(
        got_at >= permit.write_by,
        "B got the partition {:?} before A's permit let A write",
        permit.write_by - got_at
    );
    // B holds it now: its permit is good, A's lease is no longer renewed.
    assert!(got.permit().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_partition_is_released_and_the_old_owners_records_are_given_up() {
    let Pair { a, b, t, never, .. } = &pair().await;
    let held = a.hold(t, 3, 1, never).await.unwrap();
    a.revoked(t, 3, 1);
    assert!(
        matches!(held.permit(), Err(HandlerError::Abandon(_))),
        "a permit after the revoke"
    );
    assert!(matches!(
        a.hold(t, 3, 1, never).await,
        Err(HandlerError::Abandon(_))
    ));
    // Released, not left to lapse: B gets it well within the TTL.
    let got = tokio::time::timeout(TTL / 2, b.hold(t, 3, 1, never)).await;
    assert!(
        got.is_ok(),
        "B still waiting: the revoke did not release the lease"
    );
    // A, assigned the partition again, must now wait for B.
    let again = tokio::time::timeout(Duration::from_secs(2), a.hold(t, 3, 2, never)).await;
    assert!(again.is_err(), "A took the partition while B held it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_lease_outlives_its_ttl_and_nobody_else_can_claim_it() {
    let Pair { a, b, t, never, .. } = &pair().await;
    let held = a.hold(t, 1, 1, never).await.unwrap();
    tokio::time::sleep(TTL + Duration::from_secs(2)).await;
    let permit = held.permit().expect("renewed, still held");
    assert!(permit.write_by > Instant::now());
    let b_try = tokio::time::timeout(Duration::from_secs(2), b.hold(t, 1, 1, never)).await;
    assert!(b_try.is_err(), "B claimed a partition A holds and renews");
    drop(permit);
}
