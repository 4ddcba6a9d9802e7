//! A consumer process for the "killed before committing" test: consumes `sms.requests` under
//! `SMSFLOW_KAFKA__TOPIC_PREFIX` in group `$1`, emits one output per event to `sms.attempts`,
//! never commits on its own, and prints `finished <offset> <outcome>` for every record. The
//! test kills it with SIGKILL, the way a crashed pod dies.
//!
//! Usage: `kill-consumer <group> <cql|none>`

#![allow(clippy::print_stdout)]

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use smsflow_integration::{Collect, Stack};
use smsflow_kafka::{ConsumerOptions, ConsumerParts, Dedupe, EventProducer, NoDedupe};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (group, mode) = (
        args.get(1).cloned().unwrap_or_default(),
        args.get(2).cloned().unwrap_or_default(),
    );
    let stack = Stack::from_env();
    let mut k = stack.kafka.clone();
    // Let the next member take the partition soon after this process dies.
    k.properties
        .insert("session.timeout.ms".into(), "6000".into());
    let t = k.topics();
    let dedupe: Arc<dyn Dedupe> = match mode.as_str() {
        "cql" => Arc::new(
            smsflow_store::CqlDedupe::new(smsflow_store::Store::connect(&stack.store).await?)
                .await?,
        ),
        _ => Arc::new(NoDedupe),
    };
    let codec = Arc::new(k.codec()?);
    let producer = EventProducer::new(&k, codec, "kill-consumer")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let parts = ConsumerParts {
        producer,
        dedupe,
        observer: Some(tx),
    };
    let mut opts = ConsumerOptions::new(group, vec![t.requests.clone()], t.dlq.clone());
    opts.commit_interval = Duration::from_secs(3600);
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            println!("finished {} {:?}", f.offset, f.outcome);
            let _ = std::io::stdout().flush();
        }
    });
    let never = smsflow_runtime::CancellationToken::new();
    smsflow_kafka::consumer::run(
        &k,
        opts,
        parts,
        Collect::new(Some(t.attempts.clone())),
        never,
    )
    .await?;
    Ok(())
}
