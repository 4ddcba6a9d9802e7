//! `smsflow dlq redrive`: republishes dead letters to the topic they came from.
//!
//! Each selected record's original key and bytes go back to its original topic (the
//! `smsflow.dlq.topic` header, or `--to-topic`) with its original headers (the trace context,
//! `smsflow.event.id` and `.type`) and `smsflow.redrive.from = <dlq partition>:<offset>`; the
//! `smsflow.dlq.*` headers are dropped, so a record that dies again gets fresh ones. The
//! partition is chosen by the key, as the services' own producer chooses it. Raw SMPP data
//! (`smpp:<carrier>`), records without an origin, empty records and topics that do not
//! exist are skipped, each with its reason. Sends are pipelined in scan order and each is
//! waited for until Kafka acknowledges it (`acks=all`, idempotent).

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use futures::stream::{FuturesOrdered, StreamExt};
use rdkafka::message::{Header, OwnedHeaders};
use smsflow_kafka::{EventProducer, KafkaConfig, Stored, headers};

use super::error::DlqError;
use super::filter::Filter;
use super::position::Position;
use super::read::{self, Scanner};
use super::record::{DeadRecord, Headers, Origin};

/// Sends awaiting their acknowledgement at once.
const WINDOW: usize = 256;

/// Headers `smsflow_kafka::dlq` adds; dropped on the way back.
const DLQ_HEADERS: &[&str] = &[
    headers::DLQ_TOPIC,
    headers::DLQ_PARTITION,
    headers::DLQ_OFFSET,
    headers::DLQ_ERROR_CODE,
    headers::DLQ_ERROR,
    headers::DLQ_SERVICE,
];

/// How `dlq redrive` runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedriveOptions {
    /// Say what would be sent, send nothing.
    pub dry_run: bool,
    /// Send every selected record here instead of its original topic.
    pub to_topic: Option<String>,
}

/// One record to republish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redrive {
    /// Target topic.
    pub topic: String,
    /// The original key.
    pub key: Option<Vec<u8>>,
    /// The original bytes.
    pub payload: Vec<u8>,
    /// The original headers and `smsflow.redrive.from`.
    pub headers: Headers,
}

/// Why a dead letter is not redriven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Raw SMPP data of a carrier: it never was a Kafka record.
    Smpp {
        /// Carrier id.
        carrier: String,
    },
    /// `smsflow.dlq.topic` names no Kafka topic.
    NotATopic(String),
    /// No `smsflow.dlq.topic` header, and no `--to-topic`.
    NoOrigin,
    /// No bytes: the original record had no value.
    Empty,
    /// The target topic does not exist (it would be auto-created, or refused).
    TopicMissing(String),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Smpp { carrier } => write!(
                f,
                "raw SMPP data from carrier {carrier} (smpp:{carrier}), not a Kafka record"
            ),
            Skip::NotATopic(t) => write!(f, "origin '{t}' is not a Kafka topic"),
            Skip::NoOrigin => write!(
                f,
                "no {} header (give --to-topic to send it somewhere)",
                headers::DLQ_TOPIC
            ),
            Skip::Empty => write!(f, "no bytes: the original record had no value"),
            Skip::TopicMissing(t) => write!(f, "topic {t} does not exist"),
        }
    }
}

/// The headers of a redriven record: the original ones (in order) without the dead-letter
/// details or an earlier redrive mark, then `smsflow.redrive.from = <from>`.
pub fn redrive_headers(original: &Headers, from: Position) -> Headers {
    original
        .iter()
        .filter(|(k, _)| !DLQ_HEADERS.contains(&k.as_str()) && k != headers::REDRIVE_FROM)
        .cloned()
        .chain([(
            headers::REDRIVE_FROM.to_owned(),
            Some(from.to_string().into_bytes()),
        )])
        .collect()
}

/// What to send for dead letter `r`, or why not to.
pub fn plan(r: &DeadRecord, to_topic: Option<&str>) -> Result<Redrive, Skip> {
    let topic = match (r.origin(), to_topic) {
        // Even with --to-topic: the bytes are what a carrier sent, no event.
        (Origin::Smpp { carrier }, _) => return Err(Skip::Smpp { carrier }),
        (_, Some(t)) => t.to_owned(),
        (Origin::Kafka { topic, .. }, None) => topic,
        (Origin::NotATopic(t), None) => return Err(Skip::NotATopic(t)),
        (Origin::Unknown, None) => return Err(Skip::NoOrigin),
    };
    if r.bytes().is_empty() {
        return Err(Skip::Empty);
    }
    Ok(Redrive {
        topic,
        key: r.key.clone(),
        payload: r.bytes().to_vec(),
        headers: redrive_headers(&r.headers, r.position),
    })
}

/// A record redriven (or, in a dry run, that would be).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redriven {
    /// The dead letter.
    pub from: Position,
    /// Where it went.
    pub topic: String,
    /// Where Kafka stored it (`None` in a dry run).
    pub stored: Option<Stored>,
}

/// What a redrive did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Sent and acknowledged (dry run: would be sent).
    pub redriven: Vec<Redriven>,
    /// Not sent, and why.
    pub skipped: Vec<(Position, Skip)>,
    /// Sent, not acknowledged: the error.
    pub failed: Vec<(Position, String)>,
    /// Whether nothing was sent on purpose.
    pub dry_run: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, s, x) = (self.redriven.len(), self.skipped.len(), self.failed.len());
        if self.dry_run {
            write!(
                f,
                "dry run: {r} would be redriven, {s} skipped; nothing was sent"
            )
        } else {
            write!(f, "{r} redriven, {s} skipped, {x} failed")
        }
    }
}

fn owned_headers(hs: &Headers) -> OwnedHeaders {
    hs.iter().fold(OwnedHeaders::new(), |acc, (k, v)| {
        acc.insert(Header {
            key: k,
            value: v.as_deref(),
        })
    })
}

/// Redrives the dead letters `filter` selects (at most `limit`), printing one line per record
/// and the summary to `out`.
pub async fn redrive(
    cfg: &KafkaConfig,
    filter: Filter,
    limit: Option<usize>,
    opts: &RedriveOptions,
    out: &mut dyn Write,
) -> anyhow::Result<Report> {
    if let Some(t) = &opts.to_topic {
        anyhow::ensure!(
            *t != cfg.topics().dlq,
            "--to-topic {t} is the dead-letter topic itself"
        );
        if !read::topic_exists(cfg, t)? {
            return Err(DlqError::NoSuchTopic(t.clone()).into());
        }
    }
    let mut scan = Scanner::open(cfg, filter, limit, false).await?;
    let producer = if opts.dry_run {
        None
    } else {
        Some(EventProducer::new(
            cfg,
            Arc::new(cfg.codec()?),
            "smsflow-cli-redrive",
        )?)
    };
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    let mut exists: HashMap<String, bool> = HashMap::new();
    let mut inflight = FuturesOrdered::new();
    while let Some(r) = scan.next().await? {
        let from = r.position;
        let planned = plan(&r, opts.to_topic.as_deref()).and_then(|p| {
            let known = match exists.get(&p.topic) {
                Some(&known) => known,
                None => {
                    let known = read::topic_exists(cfg, &p.topic).map_err(|e| {
                        // Not knowing is not a reason to send: report it as a skip.
                        Skip::TopicMissing(format!("{} (could not be checked: {e})", p.topic))
                    })?;
                    exists.insert(p.topic.clone(), known);
                    known
                }
            };
            if known {
                Ok(p)
            } else {
                Err(Skip::TopicMissing(p.topic))
            }
        });
        match (planned, &producer) {
            (Err(skip), _) => {
                writeln!(out, "{:<14}{from:<9} {skip}", "skipped")?;
                report.skipped.push((from, skip));
            }
            (Ok(p), None) => {
                writeln!(out, "{:<14}{from:<9} -> {}", "would redrive", p.topic)?;
                report.redriven.push(Redriven {
                    from,
                    topic: p.topic,
                    stored: None,
                });
            }
            (Ok(p), Some(producer)) => {
                inflight.push_back(async move {
                    let sent = producer
                        .send_raw(
                            &p.topic,
                            p.key.as_deref(),
                            &p.payload,
                            owned_headers(&p.headers),
                        )
                        .await;
                    (from, p.topic, sent)
                });
                if inflight.len() >= WINDOW
                    && let Some(done) = inflight.next().await
                {
                    note(done, &mut report, out)?;
                }
            }
        }
    }
    while let Some(done) = inflight.next().await {
        note(done, &mut report, out)?;
    }
    writeln!(out, "{report}")?;
    out.flush()?;
    Ok(report)
}

/// Records (and prints) how one send ended.
fn note(
    (from, topic, sent): (Position, String, Result<Stored, smsflow_kafka::KafkaError>),
    report: &mut Report,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match sent {
        Ok(stored) => {
            writeln!(
                out,
                "{:<14}{from:<9} -> {topic}-{}@{}",
                "redriven", stored.partition, stored.offset
            )?;
            report.redriven.push(Redriven {
                from,
                topic,
                stored: Some(stored),
            });
        }
        Err(e) => {
            writeln!(out, "{:<14}{from:<9} -> {topic}: {e}", "failed")?;
            report.failed.push((from, e.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::dead;
    use super::*;
    use smsflow_kafka::headers as h;

    fn at(partition: i32, offset: i64) -> Position {
        Position { partition, offset }
    }

    fn poison() -> DeadRecord {
        dead(
            4,
            21,
            &[
                (
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ),
                (h::EVENT_ID, "01a21584-991c-70a2-a09e-7d27d57eff28"),
                (h::EVENT_TYPE, "SendRequested"),
                (h::DLQ_TOPIC, "x.sms.requests"),
                (h::DLQ_PARTITION, "3"),
                (h::DLQ_OFFSET, "1042"),
                (h::DLQ_ERROR_CODE, "BAD"),
                (h::DLQ_ERROR, "bad"),
                (h::DLQ_SERVICE, "x.smsflow-router"),
            ],
        )
    }

    #[test]
    fn original_headers_are_kept_dead_letter_ones_dropped_and_the_source_added() {
        let r = poison();
        let hs = redrive_headers(&r.headers, r.position);
        let names: Vec<&str> = hs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["traceparent", h::EVENT_ID, h::EVENT_TYPE, h::REDRIVE_FROM]
        );
        assert_eq!(hs[3].1.as_deref(), Some(b"4:21".as_slice()));
        assert_eq!(hs[1].1, r.headers[1].1);
    }

    #[test]
    fn a_second_redrive_replaces_the_first_mark() {
        let mut r = poison();
        r.headers
            .insert(0, (h::REDRIVE_FROM.to_owned(), Some(b"0:1".to_vec())));
        let hs = redrive_headers(&r.headers, at(4, 21));
        let marks: Vec<_> = hs
            .iter()
            .filter(|(k, _)| k == h::REDRIVE_FROM)
            .map(|(_, v)| v.clone())
            .collect();
        assert_eq!(marks, [Some(b"4:21".to_vec())]);
    }

    #[test]
    fn a_kafka_record_goes_back_with_its_key_and_bytes() {
        let r = poison();
        let p = plan(&r, None).unwrap();
        assert_eq!(p.topic, "x.sms.requests");
        assert_eq!(p.key.as_deref(), Some(b"+447700900123".as_slice()));
        assert_eq!(p.payload, b"abc");
        assert_eq!(
            plan(&r, Some("x.sms.requests.otp")).unwrap().topic,
            "x.sms.requests.otp"
        );
    }

    #[test]
    fn smpp_data_unknown_origins_and_empty_records_are_skipped() {
        let smpp = dead(0, 1, &[(h::DLQ_TOPIC, "smpp:sim")]);
        let skip = Skip::Smpp {
            carrier: "sim".into(),
        };
        assert_eq!(plan(&smpp, None), Err(skip.clone()));
        assert_eq!(plan(&smpp, Some("x.sms.requests")), Err(skip.clone()));
        assert!(skip.to_string().contains("not a Kafka record"));

        let unknown = dead(0, 2, &[]);
        assert_eq!(plan(&unknown, None), Err(Skip::NoOrigin));
        assert_eq!(plan(&unknown, Some("t")).unwrap().topic, "t");

        let odd = dead(0, 3, &[(h::DLQ_TOPIC, "not a topic")]);
        assert_eq!(plan(&odd, None), Err(Skip::NotATopic("not a topic".into())));

        let mut empty = poison();
        empty.payload = None;
        assert_eq!(plan(&empty, None), Err(Skip::Empty));
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let report = Report {
            redriven: vec![Redriven {
                from: at(0, 1),
                topic: "t".into(),
                stored: None,
            }],
            skipped: vec![(at(0, 2), Skip::NoOrigin), (at(0, 3), Skip::Empty)],
            failed: vec![],
            dry_run: false,
        };
        assert_eq!(report.to_string(), "1 redriven, 2 skipped, 0 failed");
        let dry = Report {
            dry_run: true,
            ..report
        };
        assert_eq!(
            dry.to_string(),
            "dry run: 1 would be redriven, 2 skipped; nothing was sent"
        );
    }
}
