//! The open-loop sender: message `i` is due at `i / rate` whatever the API did with the ones
//! before it; up to `connections` requests are in flight on a keep-alive pool. When every
//! connection is busy the next request waits for one, and its latency still counts from
//! when it was due (no coordinated omission): the report shows how far behind the schedule
//! the sender fell.
//!
//! Every POST's answer time is recorded whatever the answer (see [`crate::answers`]), and
//! every POST that does not end in an accepted message is kept in full for the refused file.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{
    sync::Semaphore,
    time::{Instant, sleep_until},
};
use uuid::Uuid;

use crate::{
    answers::{self, AnswerKind, Answered},
    book::{Accepted, Book, Refused, now_us},
    plan::{Destinations, Mix, Schedule},
};

/// What to send.
#[derive(Debug, Clone)]
pub struct SendPlan {
    /// `POST` URL of the API (`…/v1/messages`).
    pub url: String,
    /// `Authorization: Bearer` key.
    pub api_key: String,
    /// Sender id.
    pub from: String,
    /// Rate or max rate.
    pub schedule: Schedule,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// Stop scheduling after this long.
    pub duration: Option<Duration>,
    /// Requests in flight at most.
    pub connections: usize,
    /// Priorities.
    pub mix: Mix,
    /// Seed of the priority draw.
    pub seed: u64,
    /// Numbering of destinations.
    pub destinations: Destinations,
    /// Goes into every text, so texts differ between runs.
    pub tag: String,
    /// Every n-th message (from the first) gets a text of two GSM-7 segments; 0: none.
    pub multipart_every: u64,
    /// How long a POST may wait for its whole answer: the longest answer time measured. It
    /// replaces the client's 30 s timeout for POSTs; one still pending then ends as a
    /// `timeout` with the time it waited.
    pub post_timeout: Duration,
}

/// How the sending went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendStats {
    /// Seconds from the first request to the last answer.
    pub secs: f64,
    /// Requests written.
    pub sent: u64,
    /// Largest delay of a request behind its due time (all connections busy), ms.
    pub max_behind_schedule_ms: f64,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    to: &'a str,
    from: &'a str,
    text: &'a str,
    priority: &'a str,
}

#[derive(Debug, Deserialize)]
struct Answer {
    id: Uuid,
}

/// What one POST got back.
#[derive(Debug)]
struct Reply {
    kind: AnswerKind,
    /// The message id of a 202 whose body had one: the only accepted answer.
    id: Option<Uuid>,
    told_unknown: bool,
    retry_after: Option<String>,
}

/// Sends one request and reads its whole answer: the answer time ends with the body's last
/// byte, and a 503's body says whether the outcome is unknown.
async fn post(request: reqwest::RequestBuilder) -> Reply {
    let r = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Reply {
                kind: AnswerKind::of_error(&e),
                id: None,
                told_unknown: false,
                retry_after: None,
            };
        }
    };
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // A body cut short (timeout, reset) keeps the status: a 202 without an id, a 503 that
    // did not say the outcome is unknown.
    let body = r.bytes().await.unwrap_or_default();
    let id = if status == 202 {
        serde_json::from_slice::<Answer>(&body).ok().map(|a| a.id)
    } else {
        None
    };
    Reply {
        kind: AnswerKind::Status(status),
        id,
        told_unknown: answers::told_unknown(status, &body),
        retry_after,
    }
}

/// Sends the plan; returns when every request has its answer.
pub async fn run(plan: &SendPlan, client: &reqwest::Client, book: &Arc<Book>) -> SendStats {
    let sem = Arc::new(Semaphore::new(plan.connections));
    let mut rng = Mix::rng(plan.seed);
    let total = match (plan.schedule.rate(), plan.duration) {
        (Some(r), Some(d)) => {
            let n = (r * d.as_secs_f64()).ceil() as u64;
            Some(plan.count.map_or(n, |c| c.min(n)))
        }
        _ => plan.count,
    };
    let start = Instant::now();
    let start_us = now_us();
    let mut max_behind = Duration::ZERO;
    let mut i = 0u64;
    loop {
        if total.is_some_and(|t| i >= t) {
            break;
        }
        if plan.schedule.rate().is_none() && plan.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let due = start + plan.schedule.due(i);
        if due > Instant::now() {
            sleep_until(due).await;
        }
        let Ok(permit) = Arc::clone(&sem).acquire_owned().await else {
            break;
        };
        let now = Instant::now();
        let (intended_us, behind) = match plan.schedule.rate() {
            Some(_) => {
                let behind = now.saturating_duration_since(due);
                (start_us + plan.schedule.due(i).as_micros() as u64, behind)
            }
            None => (now_us(), Duration::ZERO),
        };
        max_behind = max_behind.max(behind);
        let priority = plan.mix.pick(&mut rng);
        let to = plan.destinations.number(i);
        let mut text = format!("smsflow bench {} #{i}", plan.tag);
        if plan.multipart_every > 0 && i.is_multiple_of(plan.multipart_every) {
            // 160 GSM-7 characters fit one segment: 200 take two.
            text.push(' ');
            while text.len() < 200 {
                text.push('x');
            }
        }
        let body = serde_json::to_vec(&Body {
            to: &to,
            from: &plan.from,
            text: &text,
            priority: priority.as_str(),
        })
        .unwrap_or_default();
        let request = client
            .post(&plan.url)
            .bearer_auth(&plan.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(plan.post_timeout)
            .body(body);
        let book = Arc::clone(book);
        let index = i;
        tokio::spawn(async move {
            let sent_us = now_us();
            let sent = Instant::now();
            book.sent.fetch_add(1, Ordering::Relaxed);
            let reply = post(request).await;
            let answer_ms = sent.elapsed().as_secs_f64() * 1000.0;
            book.answered(Answered {
                kind: reply.kind,
                told_unknown: reply.told_unknown,
                ms: answer_ms,
            });
            match reply.id {
                Some(id) => book.accept(Accepted {
                    id,
                    index,
                    priority,
                    intended_us,
                    sent_us,
                    accept_us: now_us(),
                }),
                None => book.refuse(Refused {
                    index,
                    priority,
                    kind: reply.kind,
                    told_unknown: reply.told_unknown,
                    retry_after: reply.retry_after,
                    sent_us,
                    answer_ms,
                }),
            }
            drop(permit);
        });
        i += 1;
    }
    // Every permit back: every answer in.
    let _all = sem.acquire_many(plan.connections as u32).await;
    SendStats {
        secs: start.elapsed().as_secs_f64(),
        sent: book.sent.load(Ordering::Relaxed),
        max_behind_schedule_ms: max_behind.as_secs_f64() * 1000.0,
    }
}
