//! The consumer handler: `SendRequested` in, `RoutingDecided` or `MessageRejected` out, on the
//! topic of the message's lane, keyed by destination.

use smsflow_events::{Event, Timestamp, Topics};
use smsflow_kafka::{Handler, HandlerError, Incoming, Outgoing};
use tracing::debug;

use crate::config::ValidityConfig;
use crate::decide::{Decision, decide};
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
        let decision = decide(req, &self.table, &self.validity, Timestamp::now());
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
}
