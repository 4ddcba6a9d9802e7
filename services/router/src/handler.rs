//! The consumer handler: `SendRequested` in, `RoutingDecided` or `MessageRejected` out, on the
//! topic of the message's lane, keyed by destination.

use smsflow_events::{Event, Timestamp, Topics};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use tracing::debug;

use std::sync::Arc;

use crate::config::{ConsentConfig, ValidityConfig};
use crate::consent::ConsentBook;
use crate::decide::{Decision, decide, rejection};
use crate::metrics;
use crate::routes::RouteTable;

/// Routes requests with a fixed route table.
#[derive(Debug)]
pub struct Router {
    /// Topic names.
    pub topics: Topics,
    /// The table in force.
    pub table: RouteTable,
    /// Default validity per message type.
    pub validity: ValidityConfig,
    /// Who opted out, followed from `sms.consent`.
    pub consent: Arc<ConsentBook>,
    /// What an opt-out stops.
    pub consent_policy: ConsentConfig,
}

impl Handler for Router {
    async fn handle(&self, msg: &Incoming<'_>) -> Result<Vec<Outgoing>, HandlerError> {
        let Event::SendRequested(req) = &msg.event else {
            debug!(
                event_type = msg.event.kind().name(),
                "not a request, ignored"
            );
            return Ok(vec![]);
        };
        let topic = self.topics.lane(req.lane).to_owned();
        let key = req.to.as_str().to_owned();
        let opted_out = self.consent.blocks(req, &self.consent_policy);
        let decision = decide(
            req,
            &self.table,
            &self.validity,
            opted_out,
            Timestamp::now(),
        );
        Ok(match decision {
            Decision::Routed(d) => {
                metrics::routed(d.lane);
                debug!(message_id = %d.message_id, to = %d.to, lane = %d.lane, carrier = %d.carrier_id, route = %d.route_id, segments = d.segments, "routed");
                vec![Outgoing::new(topic, key, *d)]
            }
            Decision::Rejected(r) => {
                metrics::rejected(r.lane, &r.reason_code);
                debug!(message_id = %r.message_id, to = %r.to, reason = %r.reason_code, "rejected");
                vec![Outgoing::new(topic, key, *r)]
            }
        })
    }

    /// A request that cannot be routed at all (the handler failed on it for good) is
    /// rejected, so its status ends `rejected` rather than never changing.
    fn dead_lettered(&self, event: &Event, code: &'static str, reason: &str) -> Vec<Outgoing> {
        let Event::SendRequested(req) = event else {
            return vec![];
        };
        let rejected = rejection(
            req,
            smsflow_events::DEAD_LETTERED_CODE,
            format!("{code}: {reason}"),
        );
        vec![Outgoing::new(
            self.topics.lane(req.lane).to_owned(),
            req.to.as_str(),
            rejected,
        )]
    }
}

#[cfg(test)]
mod tests {
    use smsflow_events::arbitrary::sample_request;
    use smsflow_events::*;

    use super::*;
    use crate::config::RouteTableConfig;

    #[test]
    fn a_dead_lettered_request_ends_rejected_on_its_lane_and_nothing_else_does() {
        let topics = Topics::with_prefix("t.");
        let router = Router {
            table: RouteTable::from_config(&RouteTableConfig::default()).unwrap(),
            validity: ValidityConfig::DEFAULT,
            consent: Arc::default(),
            consent_policy: ConsentConfig::default(),
            topics: topics.clone(),
        };
        let req = sample_request("+447700900123");
        let out = router.dead_lettered(&Event::SendRequested(req.clone()), "HANDLER_PANIC", "boom");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].topic, topics.lane(req.lane));
        let Event::MessageRejected(r) = &out[0].event else {
            panic!("{:?}", out[0].event);
        };
        assert_eq!(r.message_id, req.message_id);
        assert_eq!(r.reason_code, DEAD_LETTERED_CODE);
        assert_eq!(r.reason, "HANDLER_PANIC: boom");
        let other = Event::MessageRejected(r.clone());
        assert!(router.dead_lettered(&other, "X", "y").is_empty());
    }
}
