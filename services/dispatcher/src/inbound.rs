//! Receipts and MO messages from the carriers' binds, published as events: receipts to
//! `sms.dlr.raw` (correlated later by dlr-ingester), MO to `sms.inbound`, and anything that
//! can't be read to `sms.dlq`. The carrier gets its deliver_sm_resp only after Kafka has
//! acknowledged the event: a publish that fails (after the producer's own retries, within its
//! delivery timeout) is deferred (ESME_RX_T_APPN) and the carrier delivers it again later. A
//! crash between the two leaves the deliver_sm unanswered, so it comes again on the next
//! bind: at worst a duplicate on `sms.dlr.raw` (which the dlr-ingester recognises), never a
//! receipt acknowledged to the carrier and lost.

use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::message::OwnedHeaders;
use smsflow_events::{
    CarrierId, CarrierReceiptReceived, DeliveryState, Encoding, EventMeta, InboundMessageReceived,
    InboundPart, MessageId, Msisdn, Timestamp, Topics,
};
use smsflow_kafka::{EventProducer, Outgoing, headers};
use smsflow_runtime::CancellationToken;
use smsflow_smpp::{
    DeliverAck, DeliveryReceipt, Inbound, InboundEvent, MoMessage, ReceiptDate, ReceiptState,
};
use smsflow_sms::keywords::Keywords;
use tokio::sync::mpsc;
use tracing::warn;

use crate::{PRODUCER, metrics};

/// `+` and the digits of an address, the way destinations are keyed.
pub fn e164(addr: &str) -> String {
    let digits: String = addr.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

fn state(s: Option<ReceiptState>) -> DeliveryState {
    match s {
        Some(ReceiptState::Enroute) => DeliveryState::Enroute,
        Some(ReceiptState::Delivered) => DeliveryState::Delivered,
        Some(ReceiptState::Expired) => DeliveryState::Expired,
        Some(ReceiptState::Deleted) => DeliveryState::Deleted,
        Some(ReceiptState::Undeliverable) => DeliveryState::Undeliverable,
        Some(ReceiptState::Accepted) => DeliveryState::Accepted,
        Some(ReceiptState::Rejected) => DeliveryState::Rejected,
        Some(ReceiptState::Unknown) | None => DeliveryState::Unknown,
    }
}

/// A receipt date (carrier local time, taken as UTC) as a timestamp.
fn date(d: Option<ReceiptDate>) -> Option<Timestamp> {
    let d = d?;
    let date = chrono::NaiveDate::from_ymd_opt(
        2000 + i32::from(d.year),
        u32::from(d.month),
        u32::from(d.day),
    )?;
    let t = date.and_hms_opt(
        u32::from(d.hour),
        u32::from(d.minute),
        u32::from(d.second.unwrap_or(0)),
    )?;
    Some(Timestamp::from(t.and_utc()))
}

/// The raw receipt event of `r`.
pub fn receipt_event(carrier: &CarrierId, r: &DeliveryReceipt) -> CarrierReceiptReceived {
    CarrierReceiptReceived {
        meta: EventMeta::new(PRODUCER, None),
        carrier_id: carrier.clone(),
        carrier_message_id: r.raw_message_id.clone(),
        normalized_id: r.message_id.as_str().to_owned(),
        // A receipt's source is the handset: our destination.
        to: (!r.source_addr.is_empty()).then(|| e164(&r.source_addr)),
        state: state(r.state),
        error_code: r.error_code.clone(),
        submitted_at: date(r.submit_date),
        done_at: date(r.done_date),
        source: "smpp".into(),
    }
}

/// The inbound message event of `mo`, if its sender is a phone number.
pub fn mo_event(carrier: &CarrierId, mo: &MoMessage) -> Option<InboundMessageReceived> {
    let from = Msisdn::parse(&e164(&mo.source_addr)).ok()?;
    // The standard words only: dlr-ingester acts on keywords, with the deployment's own.
    static KEYWORDS: std::sync::LazyLock<Keywords> = std::sync::LazyLock::new(Keywords::default);
    let part = mo.concat.map(|c| InboundPart {
        reference: i32::from(c.reference),
        total: i32::from(c.total),
        seq: i32::from(c.seq),
    });
    // A part's text is not the message's: only a whole message can be a keyword.
    let keyword = part
        .is_none()
        .then(|| KEYWORDS.classify(&mo.text).map(|(_, word)| word))
        .flatten();
    Some(InboundMessageReceived {
        meta: EventMeta::new(PRODUCER, None),
        message_id: MessageId::new(),
        tenant_id: None,
        from,
        to: mo.destination_addr.clone(),
        text: mo.text.clone(),
        carrier_id: carrier.clone(),
        encoding: if mo.data_coding == 8 {
            Encoding::Ucs2
        } else {
            Encoding::Gsm7
        },
        keyword,
        part,
        assembled_from: Vec::new(),
    })
}

/// Answers the carrier by what Kafka said of the event.
fn answer(ack: DeliverAck, published: Result<(), String>, what: &'static str) {
    match published {
        Ok(()) => ack.accept(),
        Err(error) => {
            warn!(%error, what, "inbound event not acknowledged by Kafka; deferred to the carrier's redelivery");
            metrics::inbound_deferred(what);
            ack.defer();
        }
    }
}

/// Publishes at most this many inbound events concurrently per carrier.
const PUBLISH_CONCURRENCY: usize = 256;

/// Publishes everything `rx` yields, up to [`PUBLISH_CONCURRENCY`] at a time, answering each
/// deliver_sm once its publish is settled; once `binds_closed` is cancelled (no more events
/// can arrive), publishes what is still queued and returns when every publish is settled.
pub async fn pump(
    carrier: CarrierId,
    mut rx: mpsc::Receiver<Inbound>,
    producer: EventProducer,
    topics: Topics,
    binds_closed: CancellationToken,
) {
    let mut publishing = FuturesUnordered::new();
    let mut open = true;
    while open || !publishing.is_empty() {
        tokio::select! {
            Some(()) = publishing.next(), if !publishing.is_empty() => {}
            ev = rx.recv(), if open && publishing.len() < PUBLISH_CONCURRENCY => match ev {
                Some(ev) => publishing.push(handle(&carrier, ev, &producer, &topics)),
                None => open = false,
            },
            _ = binds_closed.cancelled(), if open => {
                while let Ok(ev) = rx.try_recv() {
                    publishing.push(handle(&carrier, ev, &producer, &topics));
                }
                open = false;
            }
        }
    }
}

/// Publishes one inbound event and answers its deliver_sm by the outcome.
async fn handle(carrier: &CarrierId, ev: Inbound, producer: &EventProducer, topics: &Topics) {
    let Inbound { event, ack } = ev;
    let what = event.kind();
    metrics::inbound(carrier.as_str(), what);
    let published = match event {
        InboundEvent::Receipt(r) => {
            let e = receipt_event(carrier, &r);
            let key = e.to.clone().unwrap_or_else(|| e.normalized_id.clone());
            let out = Outgoing::new(topics.dlr_raw.clone(), key, e);
            producer
                .send(&out)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
        InboundEvent::Mo(mo) => match mo_event(carrier, &mo) {
            Some(e) => {
                let key = e.from.as_str().to_owned();
                let out = Outgoing::new(topics.inbound.clone(), key, e);
                producer
                    .send(&out)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            None => {
                let bytes = mo.text.as_bytes();
                dead_letter(producer, topics, carrier, "MO_SENDER_NOT_A_NUMBER", bytes).await
            }
        },
        InboundEvent::UnrecognisedReceipt(raw) => {
            let bytes = &raw.user_data;
            dead_letter(producer, topics, carrier, "UNRECOGNISED_RECEIPT", bytes).await
        }
    };
    answer(ack, published, what);
}

async fn dead_letter(
    producer: &EventProducer,
    topics: &Topics,
    carrier: &CarrierId,
    code: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let h = headers::with(OwnedHeaders::new(), headers::DLQ_ERROR_CODE, code);
    let h = headers::with(h, headers::DLQ_SERVICE, "dispatcher");
    let h = headers::with(h, headers::DLQ_TOPIC, &format!("smpp:{carrier}"));
    producer
        .send_raw(&topics.dlq, None, bytes, h)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_e164_keys() {
        assert_eq!(e164("447700900123"), "+447700900123");
        assert_eq!(e164("+447700900123"), "+447700900123");
    }

    #[test]
    fn receipt_dates_convert() {
        let d = ReceiptDate::parse("2611252240").unwrap();
        assert_eq!(
            date(Some(d)).unwrap().to_string(),
            "2026-11-25T22:40:00+00:00"
        );
    }

    fn mo(text: &str, concat: Option<smsflow_smpp::ConcatInfo>) -> MoMessage {
        MoMessage {
            carrier: "sim".into(),
            source_addr: "447700900123".into(),
            source_ton: 1,
            source_npi: 1,
            destination_addr: "4000".into(),
            data_coding: 0,
            text: text.into(),
            lossy: false,
            concat,
            received_at: std::time::SystemTime::now(),
        }
    }

    #[test]
    fn a_part_carries_its_place_and_is_never_a_keyword() {
        let carrier = CarrierId::parse("sim").unwrap();
        let whole = mo_event(&carrier, &mo("STOP", None)).unwrap();
        assert_eq!((whole.part, whole.keyword.as_deref()), (None, Some("STOP")));
        let concat = smsflow_smpp::ConcatInfo {
            reference: 300,
            total: 3,
            seq: 2,
        };
        let part = mo_event(&carrier, &mo("STOP", Some(concat))).unwrap();
        assert_eq!(
            part.part,
            Some(InboundPart {
                reference: 300,
                total: 3,
                seq: 2
            })
        );
        assert_eq!(part.keyword, None);
    }
}
