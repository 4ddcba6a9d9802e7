//! Concatenated inbound messages (issue 11, item 2): a long MO reaches us as parts, each an
//! `InboundMessageReceived` with `part` set (the dispatcher reads the UDH or SAR fields). The
//! parts are kept in `inbound_parts` until every one is in; then the whole message goes out on
//! `sms.inbound` with `part` null and `assembled_from` naming the parts, where consumers of
//! whole messages (keywords here) read it like one that arrived whole.
//!
//! Two store requests per part (read the message's parts, write this one) on a path that
//! carries only long MOs. The whole message's ids derive from its first part's, so handling a
//! part again, or the last two parts in either order, publishes the same event; a carrier's
//! duplicate of a part (a new event for a part already kept) is ignored.

use std::collections::BTreeMap;

use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use smsflow_events::{
    Encoding, EventId, EventMeta, InboundMessageReceived, InboundPart, MessageId, Timestamp,
};
use smsflow_kafka::HandlerError;
use smsflow_sms::keywords::Keywords;
use smsflow_store::{Store, StoreError};
use uuid::Uuid;

use crate::PRODUCER;

/// What the store errors of this module are about.
const WHAT: &str = "inbound parts";

/// One part as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The part event's message id.
    pub message_id: MessageId,
    /// The part event's id (tells the same event read again from a carrier's duplicate).
    pub event_id: EventId,
    /// Its text.
    pub text: String,
    /// Whether it came as UCS-2.
    pub ucs2: bool,
    /// When the dispatcher read it.
    pub occurred_at: Timestamp,
}

impl Part {
    /// `mo` as the store keeps it: its time to the millisecond (a CQL timestamp), so the whole
    /// message is the same event whether its parts come from the store or from the record at
    /// hand.
    fn of(mo: &InboundMessageReceived) -> Self {
        Self {
            message_id: mo.message_id,
            event_id: mo.meta.event_id,
            text: mo.text.clone(),
            ucs2: mo.encoding == Encoding::Ucs2,
            occurred_at: from_millis(mo.meta.occurred_at.as_millis()),
        }
    }
}

/// What adding a part found.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// The message's parts kept so far, this one included, by part number.
    Parts(BTreeMap<i32, Part>),
    /// Another event of a part already kept (the carrier sent it twice): ignored.
    Duplicate,
}

/// The whole message once `parts` holds every part `1..=total` of `part`'s message; `None`
/// while one is missing. `keywords` reads the whole text (a part is never a keyword).
pub fn whole(
    part: &InboundMessageReceived,
    parts: &BTreeMap<i32, Part>,
    keywords: &Keywords,
) -> Option<InboundMessageReceived> {
    let total = part.part?.total;
    let ordered: Vec<&Part> = (1..=total).map(|i| parts.get(&i)).collect::<Option<_>>()?;
    let first = ordered.first()?;
    let text: String = ordered.iter().map(|p| p.text.as_str()).collect();
    let event_id = EventId::derived(first.message_id.as_uuid(), "assembled");
    Some(InboundMessageReceived {
        meta: EventMeta {
            event_id,
            occurred_at: ordered.iter().map(|p| p.occurred_at).min()?,
            producer: PRODUCER.name.to_owned(),
            producer_version: PRODUCER.version.to_owned(),
            causation_id: Some(first.event_id),
        },
        message_id: MessageId::from(event_id.as_uuid()),
        tenant_id: part.tenant_id.clone(),
        from: part.from.clone(),
        to: part.to.clone(),
        keyword: keywords.classify(&text).map(|(_, word)| word),
        text,
        carrier_id: part.carrier_id.clone(),
        encoding: if ordered.iter().any(|p| p.ucs2) {
            Encoding::Ucs2
        } else {
            Encoding::Gsm7
        },
        part: None,
        assembled_from: ordered.iter().map(|p| p.message_id).collect(),
    })
}

fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_micros(ms.saturating_mul(1000))
}

type PartRow = (i32, Uuid, Uuid, String, bool, CqlTimestamp);

/// The `inbound_parts` table.
#[derive(Debug, Clone)]
pub struct PartStore {
    store: Store,
    put: PreparedStatement,
    get: PreparedStatement,
}

impl PartStore {
    /// Prepares the statements.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let t = store.table("inbound_parts");
        let key =
            "carrier_id = ? AND handset = ? AND recipient = ? AND reference = ? AND total = ?";
        let mut put = store
            .prepare(
                "prepare inbound parts",
                format!(
                    "INSERT INTO {t} (carrier_id, handset, recipient, reference, total, seq, \
                     message_id, event_id, text, ucs2, occurred_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
            )
            .await?;
        put.set_is_idempotent(true);
        let mut get = store
            .prepare(
                "prepare inbound parts",
                format!(
                    "SELECT seq, message_id, event_id, text, ucs2, occurred_at FROM {t} WHERE {key}"
                ),
            )
            .await?;
        get.set_is_idempotent(true);
        Ok(Self { store, put, get })
    }

    /// Keeps `mo`, one `part` of a message, unless another event of that part is kept.
    pub async fn add(
        &self,
        mo: &InboundMessageReceived,
        part: InboundPart,
    ) -> Result<Added, HandlerError> {
        let key = (
            mo.carrier_id.as_str(),
            mo.from.as_str(),
            mo.to.as_str(),
            part.reference,
            part.total,
        );
        let rows: Vec<PartRow> = self.store.rows(WHAT, &self.get, key).await?;
        let mut parts: BTreeMap<i32, Part> = rows
            .into_iter()
            .map(|(seq, message_id, event_id, text, ucs2, at)| {
                let part = Part {
                    message_id: MessageId::from(message_id),
                    event_id: EventId::from(event_id),
                    text,
                    ucs2,
                    occurred_at: from_millis(at.0),
                };
                (seq, part)
            })
            .collect();
        match parts.get(&part.seq) {
            Some(kept) if kept.event_id != mo.meta.event_id => return Ok(Added::Duplicate),
            Some(_) => {} // this very event, read again
            None => {
                let new = Part::of(mo);
                let values = (
                    key.0,
                    key.1,
                    key.2,
                    key.3,
                    key.4,
                    part.seq,
                    new.message_id.as_uuid(),
                    new.event_id.as_uuid(),
                    new.text.as_str(),
                    new.ucs2,
                    CqlTimestamp(new.occurred_at.as_millis()),
                );
                self.store.write(WHAT, &self.put, values).await?;
                parts.insert(part.seq, new);
            }
        }
        Ok(Added::Parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn part_event(seq: i32, total: i32, text: &str, ucs2: bool) -> InboundMessageReceived {
        InboundMessageReceived {
            encoding: if ucs2 { Encoding::Ucs2 } else { Encoding::Gsm7 },
            part: Some(InboundPart {
                reference: 7,
                total,
                seq,
            }),
            ..crate::keywords::inbound(text)
        }
    }

    proptest! {
        /// Whatever order the parts come in, the whole message appears exactly when the last
        /// one is in: its text is the parts' in part order, it names them in that order, and
        /// its ids are the same whichever part completed it.
        #[test]
        fn whole_exactly_when_complete((texts, idx) in proptest::collection::vec("[a-z ]{1,8}", 1..6)
            .prop_flat_map(|t| { let n = t.len(); (Just(t), Just((0..n).collect::<Vec<_>>()).prop_shuffle()) })) {
            let total = i32::try_from(texts.len()).unwrap();
            let events: Vec<_> = texts.iter().enumerate()
                .map(|(i, t)| part_event(i32::try_from(i).unwrap() + 1, total, t, i == 1))
                .collect();
            let kw = Keywords::default();
            let mut kept = BTreeMap::new();
            let mut wholes = Vec::new();
            for (n, &i) in idx.iter().enumerate() {
                let e = &events[i];
                kept.insert(e.part.unwrap().seq, Part::of(e));
                let w = whole(e, &kept, &kw);
                prop_assert_eq!(w.is_some(), n + 1 == events.len());
                wholes.extend(w);
            }
            let w = wholes.pop().unwrap();
            prop_assert_eq!(&w.text, &texts.concat());
            prop_assert_eq!(w.assembled_from, events.iter().map(|e| e.message_id).collect::<Vec<_>>());
            prop_assert_eq!(w.part, None);
            prop_assert_eq!(w.encoding, if total > 1 { Encoding::Ucs2 } else { Encoding::Gsm7 });
            // Completed by another part: the same event.
            let again = whole(&events[idx[0]], &kept, &kw).unwrap();
            prop_assert_eq!(again.meta.event_id, w.meta.event_id);
            prop_assert_eq!(again.message_id, w.message_id);
        }
    }

    #[test]
    fn a_whole_message_is_read_for_keywords_and_its_parts_are_not() {
        let a = part_event(1, 2, "ST", false);
        let b = part_event(2, 2, "OP", false);
        let kept: BTreeMap<_, _> = [(1, Part::of(&a)), (2, Part::of(&b))].into();
        let w = whole(&b, &kept, &Keywords::default()).unwrap();
        assert_eq!(
            (w.text.as_str(), w.keyword.as_deref()),
            ("STOP", Some("STOP"))
        );
    }
}
