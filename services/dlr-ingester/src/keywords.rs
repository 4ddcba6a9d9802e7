//! STOP, START and HELP (issue 11, item 3; ADR 13): an inbound message that is a compliance
//! keyword changes its sender's consent with the tenant (`ConsentChanged` on the compacted
//! `sms.consent`, key `tenant/number`, which the router follows) and is answered with a
//! confirmation, itself an ordinary transactional request (channel `CONSENT_REPLY_CHANNEL`, which
//! the router sends whatever the consent). Every output's id derives from the inbound event,
//! so handling it again publishes the same events, and the dispatcher sends the reply once.

use serde::Deserialize;
use smsflow_events::{
    CONSENT_REPLY_CHANNEL, ConsentChanged, ConsentStatus, Event, EventId, EventKind, EventMeta,
    InboundMessageReceived, InboundPart, Lane, MessageId, MessageType, SendRequested, TenantId,
    Topics,
};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use smsflow_sms::keywords::{Keyword, Keywords};
use tracing::{debug, warn};

use crate::assemble::{self, Added, PartStore};
use crate::{PRODUCER, metrics};

/// Keyword settings (`[keywords]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KeywordConfig {
    /// Whether inbound messages are read for keywords at all.
    pub enabled: bool,
    /// The tenant of an inbound message to a number no tenant owns (numbers are not yet
    /// assigned to tenants: every inbound message is this tenant's). Required while
    /// `enabled`: a STOP recorded for a tenant nobody sends as would tell the handset it is
    /// unsubscribed while the real tenant's messages kept coming.
    pub default_tenant: Option<String>,
    /// Words that mean STOP besides the standard ones (localized ones, any case).
    pub extra_stop: Vec<String>,
    /// Words that mean START besides the standard ones.
    pub extra_start: Vec<String>,
    /// Words that mean HELP besides the standard ones.
    pub extra_help: Vec<String>,
    /// The confirmation of a STOP (empty: none).
    pub stop_reply: String,
    /// The confirmation of a START (empty: none).
    pub start_reply: String,
    /// The answer to HELP (empty: none).
    pub help_reply: String,
}

impl Default for KeywordConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_tenant: None,
            extra_stop: vec![],
            extra_start: vec![],
            extra_help: vec![],
            stop_reply: "You are unsubscribed and will get no more messages from us. \
                         Reply START to subscribe again."
                .into(),
            start_reply: "You are subscribed again. Reply STOP to unsubscribe.".into(),
            help_reply: "Reply STOP to unsubscribe, START to subscribe again.".into(),
        }
    }
}

/// The handler of `sms.inbound`.
#[derive(Debug)]
pub struct KeywordHandler {
    /// Topic names.
    pub topics: Topics,
    /// The words.
    pub keywords: Keywords,
    /// Settings.
    pub config: KeywordConfig,
    /// `config.default_tenant`, checked.
    pub default_tenant: TenantId,
}

impl KeywordHandler {
    /// A handler with `config`; fails on a default tenant that is not a valid tenant id.
    pub fn new(topics: Topics, config: KeywordConfig) -> Result<Self, String> {
        let given = config.default_tenant.as_deref().ok_or_else(|| {
            "keywords.default_tenant is not set: the tenant inbound keywords apply to (or set \
             keywords.enabled = false)"
                .to_owned()
        })?;
        let default_tenant =
            TenantId::parse(given).map_err(|e| format!("keywords.default_tenant: {e}"))?;
        Ok(Self {
            topics,
            keywords: Keywords::with_extra(
                &config.extra_stop,
                &config.extra_start,
                &config.extra_help,
            ),
            config,
            default_tenant,
        })
    }

    /// The events an inbound message produces: none unless it is a keyword.
    pub fn outputs(&self, mo: &InboundMessageReceived) -> Vec<Outgoing> {
        let Some((keyword, word)) = self.keywords.classify(&mo.text) else {
            return vec![];
        };
        let tenant = mo
            .tenant_id
            .clone()
            .unwrap_or_else(|| self.default_tenant.clone());
        let mut out = Vec::with_capacity(2);
        let (cause, reply) = match keyword {
            Keyword::Help => (mo.meta.clone(), &self.config.help_reply),
            Keyword::Stop | Keyword::Start => {
                let (status, reply) = if keyword == Keyword::Stop {
                    (ConsentStatus::OptedOut, &self.config.stop_reply)
                } else {
                    (ConsentStatus::OptedIn, &self.config.start_reply)
                };
                let change = ConsentChanged {
                    meta: derived(&mo.meta, "consent", mo),
                    tenant_id: tenant.clone(),
                    number: mo.from.clone(),
                    status,
                    source: "keyword".into(),
                    keyword: Some(word),
                    evidence_message_id: Some(EventId::from(mo.message_id.as_uuid())),
                };
                let meta = change.meta.clone();
                let key = ConsentChanged::key_of(&tenant, &mo.from);
                out.push(Outgoing::new(self.topics.consent.clone(), key, change));
                (meta, reply)
            }
        };
        if !reply.is_empty() {
            let meta = derived(&cause, "reply", mo);
            let request = SendRequested {
                message_id: MessageId::from(meta.event_id.as_uuid()),
                meta,
                tenant_id: tenant,
                to: mo.from.clone(),
                from: mo.to.clone(),
                text: reply.clone(),
                message_type: MessageType::Transactional,
                lane: Lane::Transactional,
                client_ref: None,
                idempotency_key: None,
                callback_url: None,
                send_at: None,
                expires_at: None,
                smart_encoding: true,
                channel: CONSENT_REPLY_CHANNEL.into(),
            };
            out.push(Outgoing::new(
                self.topics.requests_for(Lane::Transactional).to_owned(),
                mo.from.as_str(),
                request,
            ));
        }
        out
    }
}

/// The envelope of an output of `cause`, dated when the handset sent `mo`: an inbound
/// message handled again gives the same events, time included (the consent history is keyed
/// by it), and the change is dated by the handset's act, not by when it was read.
fn derived(cause: &EventMeta, what: &str, mo: &InboundMessageReceived) -> EventMeta {
    EventMeta {
        occurred_at: mo.meta.occurred_at,
        ..EventMeta::derived(PRODUCER, cause, what)
    }
}

/// The handler of `sms.inbound`: a part of a long message goes to the part store (ADR 15),
/// a whole message (one that arrived whole, or one the part store completed) is read for
/// keywords.
#[derive(Debug)]
pub struct InboundHandler {
    /// The keywords.
    pub keywords: KeywordHandler,
    /// Where the parts of long messages wait for each other.
    pub parts: PartStore,
}

impl InboundHandler {
    /// One part of a long message: kept; the whole message published once it is complete
    /// (read again from `sms.inbound`, it is then handled as a whole).
    async fn part(
        &self,
        mo: &InboundMessageReceived,
        part: InboundPart,
    ) -> Result<Vec<Outgoing>, HandlerError> {
        let parts = match self.parts.add(mo, part).await? {
            Added::Parts(parts) => parts,
            Added::Duplicate => {
                metrics::inbound_part("duplicate");
                debug!(message_id = %mo.message_id, seq = part.seq, "a carrier's duplicate of a kept part, ignored");
                return Ok(vec![]);
            }
        };
        let Some(whole) = assemble::whole(mo, &parts, &self.keywords.keywords) else {
            metrics::inbound_part("kept");
            debug!(message_id = %mo.message_id, seq = part.seq, total = part.total, kept = parts.len(), "part kept");
            return Ok(vec![]);
        };
        metrics::inbound_part("completed");
        debug!(message_id = %whole.message_id, parts = part.total, "long inbound message assembled");
        let key = whole.from.as_str().to_owned();
        Ok(vec![Outgoing::new(
            self.keywords.topics.inbound.clone(),
            key,
            whole,
        )])
    }
}

impl Handler for InboundHandler {
    fn wants(&self, kind: EventKind) -> bool {
        kind == EventKind::InboundMessageReceived
    }

    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let Event::InboundMessageReceived(mo) = &msg.event else {
            warn!(
                event_type = msg.event.kind().name(),
                "not an inbound message, ignored"
            );
            return Ok(vec![]);
        };
        if let Some(part) = mo.part {
            return self.part(mo, part).await;
        }
        let out = self.keywords.outputs(mo);
        for o in &out {
            if let Event::ConsentChanged(c) = &o.event {
                metrics::consent_changed(c.status == ConsentStatus::OptedOut);
            }
        }
        debug!(message_id = %mo.message_id, outputs = out.len(), "inbound message read for keywords");
        Ok(out)
    }
}

/// An inbound message of `text` from a fixed handset to a fixed short code (tests).
#[cfg(test)]
pub(crate) fn inbound(text: &str) -> InboundMessageReceived {
    InboundMessageReceived {
        meta: EventMeta::new(PRODUCER, None),
        message_id: MessageId::new(),
        tenant_id: None,
        from: smsflow_events::Msisdn::parse("+447700900123").unwrap(),
        to: "12345".into(),
        text: text.into(),
        carrier_id: smsflow_events::CarrierId::parse("sim").unwrap(),
        encoding: smsflow_events::Encoding::Gsm7,
        keyword: None,
        part: None,
        assembled_from: vec![],
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn mo(text: &str) -> InboundMessageReceived {
        inbound(text)
    }

    fn handler() -> KeywordHandler {
        let config = KeywordConfig {
            default_tenant: Some("acme".into()),
            extra_stop: vec!["arrêt".into()],
            ..KeywordConfig::default()
        };
        KeywordHandler::new(Topics::with_prefix("t."), config).unwrap()
    }

    #[test]
    fn stop_changes_consent_and_is_confirmed_to_the_sender() {
        let h = handler();
        let m = mo(" Arrêt! ");
        let out = h.outputs(&m);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].topic, "t.sms.consent");
        assert_eq!(out[0].key, "acme/+447700900123");
        let Event::ConsentChanged(c) = &out[0].event else {
            panic!("{:?}", out[0].event)
        };
        assert_eq!(c.status, ConsentStatus::OptedOut);
        assert_eq!(c.tenant_id.as_str(), "acme");
        assert_eq!(c.keyword.as_deref(), Some("ARRÊT"));
        assert_eq!(c.source, "keyword");
        assert_eq!(
            c.evidence_message_id,
            Some(EventId::from(m.message_id.as_uuid()))
        );
        assert_eq!(out[1].topic, "t.sms.requests.transactional");
        let Event::SendRequested(r) = &out[1].event else {
            panic!("{:?}", out[1].event)
        };
        assert_eq!((r.to.as_str(), r.from.as_str()), ("+447700900123", "12345"));
        assert_eq!(r.channel, CONSENT_REPLY_CHANNEL);
        assert_eq!(r.text, KeywordConfig::default().stop_reply);
        assert_eq!(r.meta.causation_id, Some(c.meta.event_id));
        let again = h.outputs(&m);
        assert_eq!(
            (again[0].event.meta(), again[1].event.meta()),
            (&c.meta, &r.meta),
            "the same inbound message gives the same events, dated by it"
        );
        assert_eq!(c.meta.occurred_at, m.meta.occurred_at);
        let Event::SendRequested(r2) = &again[1].event else {
            panic!()
        };
        assert_eq!(r2.message_id, r.message_id, "so the reply is sent once");
    }

    #[test]
    fn start_opts_in_help_only_answers_and_other_text_does_nothing() {
        let h = handler();
        let out = h.outputs(&mo("start"));
        let Event::ConsentChanged(c) = &out[0].event else {
            panic!()
        };
        assert_eq!(c.status, ConsentStatus::OptedIn);
        assert_eq!(out.len(), 2);
        let out = h.outputs(&mo("HELP"));
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0].event, Event::SendRequested(_)));
        assert!(h.outputs(&mo("stop sending me these")).is_empty());
        let quiet = KeywordHandler::new(
            Topics::with_prefix("t."),
            KeywordConfig {
                stop_reply: String::new(),
                default_tenant: Some("acme".into()),
                ..KeywordConfig::default()
            },
        )
        .unwrap();
        assert_eq!(quiet.outputs(&mo("STOP")).len(), 1, "no reply configured");
    }

    #[test]
    fn keywords_without_a_tenant_to_apply_them_to_refuse_to_start() {
        let e =
            KeywordHandler::new(Topics::with_prefix("t."), KeywordConfig::default()).unwrap_err();
        assert!(e.contains("default_tenant"), "{e}");
    }
}
