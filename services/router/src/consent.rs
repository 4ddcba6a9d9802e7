//! The consent book: which recipients opted out of which tenant's messages, followed from the
//! compacted `sms.consent` (ADR 13), so a request costs one map lookup, no store round trip.
//!
//! A request is refused when its recipient's latest `ConsentChanged` for its tenant is
//! `OPTED_OUT` and the tenant's policy stops its type (marketing always; transactional and
//! OTP as configured). A keyword's confirmation (`CONSENT_REPLY_CHANNEL`) is never refused:
//! the recipient must hear that the STOP worked.

use std::collections::HashMap;
use std::sync::RwLock;

use smsflow_events::{
    CONSENT_REPLY_CHANNEL, ConsentChanged, ConsentStatus, Event, EventId, MessageType,
    SendRequested,
};
use smsflow_kafka::table::Apply;

use crate::config::{ConsentConfig, ConsentPolicy};

/// Tenant → recipient number → the opt-out event in force.
#[derive(Default)]
pub struct ConsentBook {
    opted_out: RwLock<HashMap<String, HashMap<String, EventId>>>,
}

/// Counts only: the numbers are personal data, never printed.
impl std::fmt::Debug for ConsentBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let book = self.opted_out.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("ConsentBook")
            .field("tenants", &book.len())
            .field("opted_out", &book.values().map(HashMap::len).sum::<usize>())
            .finish()
    }
}

impl ConsentBook {
    /// The opt-out in force for `number` with `tenant`, if any.
    pub fn opted_out(&self, tenant: &str, number: &str) -> Option<EventId> {
        let book = self.opted_out.read().unwrap_or_else(|e| e.into_inner());
        book.get(tenant)?.get(number).copied()
    }

    /// The opt-out that stops `req` under `config`, if any.
    pub fn blocks(&self, req: &SendRequested, config: &ConsentConfig) -> Option<EventId> {
        let policy = config.for_tenant(req.tenant_id.as_str());
        if !stopped_by_opt_out(req.message_type, policy) {
            return None;
        }
        if req.channel == CONSENT_REPLY_CHANNEL {
            return None;
        }
        self.opted_out(req.tenant_id.as_str(), req.to.as_str())
    }

    fn set(&self, tenant: &str, number: &str, out: Option<EventId>) {
        let mut book = self.opted_out.write().unwrap_or_else(|e| e.into_inner());
        match out {
            Some(id) => {
                book.entry(tenant.to_owned())
                    .or_default()
                    .insert(number.to_owned(), id);
            }
            None => {
                if let Some(numbers) = book.get_mut(tenant) {
                    numbers.remove(number);
                    if numbers.is_empty() {
                        book.remove(tenant);
                    }
                }
            }
        }
    }
}

/// Whether an opt-out stops a message of type `t` under `policy`.
fn stopped_by_opt_out(t: MessageType, policy: &ConsentPolicy) -> bool {
    match t {
        MessageType::Marketing => true,
        MessageType::Transactional => !policy.transactional_after_opt_out,
        MessageType::Otp => !policy.otp_after_opt_out,
    }
}

impl Apply for ConsentBook {
    fn apply(&self, key: Option<&[u8]>, event: Option<Event>) {
        match event {
            Some(Event::ConsentChanged(c)) => {
                let out = (c.status == ConsentStatus::OptedOut).then_some(c.meta.event_id);
                self.set(c.tenant_id.as_str(), c.number.as_str(), out);
            }
            // A tombstone forgets the key (`tenant/number`): consent as if never given or
            // withdrawn, that is, not opted out.
            None => {
                let key = key.and_then(|k| std::str::from_utf8(k).ok());
                if let Some((tenant, number)) = key.and_then(ConsentChanged::parse_key) {
                    self.set(tenant, number, None);
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use smsflow_events::arbitrary::sample_request;
    use smsflow_events::{EventMeta, Msisdn, TenantId};

    use super::*;

    const NUMBER: &str = "+447700900123";

    fn change(tenant: &str, status: ConsentStatus) -> ConsentChanged {
        ConsentChanged {
            meta: EventMeta::new(crate::PRODUCER, None),
            tenant_id: TenantId::parse(tenant).unwrap(),
            number: Msisdn::parse(NUMBER).unwrap(),
            status,
            source: "keyword".into(),
            keyword: Some("STOP".into()),
            evidence_message_id: None,
        }
    }

    fn request(tenant: &str, t: MessageType) -> SendRequested {
        let mut r = sample_request(NUMBER);
        r.tenant_id = TenantId::parse(tenant).unwrap();
        r.message_type = t;
        r
    }

    fn apply(book: &ConsentBook, c: &ConsentChanged) {
        book.apply(
            Some(ConsentChanged::key_of(&c.tenant_id, &c.number).as_bytes()),
            Some(Event::ConsentChanged(c.clone())),
        );
    }

    #[test]
    fn the_latest_change_wins_per_tenant() {
        let book = ConsentBook::default();
        let cfg = ConsentConfig::default();
        let stop = change("acme", ConsentStatus::OptedOut);
        apply(&book, &stop);
        let marketing = request("acme", MessageType::Marketing);
        assert_eq!(book.blocks(&marketing, &cfg), Some(stop.meta.event_id));
        assert_eq!(
            book.blocks(&request("other", MessageType::Marketing), &cfg),
            None,
            "another tenant's recipient is not opted out"
        );
        apply(&book, &change("acme", ConsentStatus::OptedIn));
        assert_eq!(book.blocks(&marketing, &cfg), None, "START reverses STOP");
        apply(&book, &stop);
        book.apply(Some(format!("acme/{NUMBER}").as_bytes()), None);
        assert_eq!(book.blocks(&marketing, &cfg), None, "a tombstone forgets");
    }

    #[test]
    fn the_policy_decides_for_transactional_and_otp_and_a_keyword_reply_goes_through() {
        let book = ConsentBook::default();
        apply(&book, &change("acme", ConsentStatus::OptedOut));
        let blocked = |t, cfg: &ConsentConfig| book.blocks(&request("acme", t), cfg).is_some();
        let mut cfg = ConsentConfig::default();
        assert!(blocked(MessageType::Transactional, &cfg));
        assert!(
            !blocked(MessageType::Otp, &cfg),
            "by default an OTP the recipient asked for still goes"
        );
        let mut reply = request("acme", MessageType::Transactional);
        reply.channel = CONSENT_REPLY_CHANNEL.into();
        assert_eq!(book.blocks(&reply, &cfg), None, "a keyword's reply");
        cfg.tenants.insert(
            "acme".into(),
            ConsentPolicy {
                transactional_after_opt_out: true,
                otp_after_opt_out: false,
            },
        );
        assert!(!blocked(MessageType::Transactional, &cfg));
        assert!(blocked(MessageType::Otp, &cfg));
        assert!(
            blocked(MessageType::Marketing, &cfg),
            "marketing stops whatever the policy"
        );
    }
}
