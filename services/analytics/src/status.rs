//! A message's status from its events, as an order-independent rule: every event proposes a
//! status with a rank; the highest rank wins, and among equals the later event. Each proposal
//! is a row of `message_status`, clustered by (rank, time) descending, so the store applies
//! the rule itself whatever order the events arrive in: the current status is the first row.

use smsflow_events::{EXPIRED_CODE, ErrorClass, Event, TerminalStatus};

/// A status an event proposes for its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// API status, lowercase (`queued` ... `delivered`).
    pub status: &'static str,
    /// Why (reason code or error code), when there is one.
    pub reason: Option<String>,
    /// 1 queued, 2 routed, 3 sending/retrying, 4 submitted, 9 final (a terminal status, or
    /// `unknown`: the carrier may have it).
    pub rank: i32,
}

/// The lowercase API name of a terminal status.
pub fn terminal_name(s: TerminalStatus) -> &'static str {
    match s {
        TerminalStatus::Delivered => "delivered",
        TerminalStatus::Undelivered => "undelivered",
        TerminalStatus::Expired => "expired",
        TerminalStatus::Rejected => "rejected",
        TerminalStatus::Failed => "failed",
    }
}

/// The status `event` proposes, if it changes the status at all.
pub fn propose(event: &Event) -> Option<Proposal> {
    let p = |status, rank, reason: Option<String>| {
        Some(Proposal {
            status,
            reason,
            rank,
        })
    };
    match event {
        Event::SendRequested(_) => p("queued", 1, None),
        Event::RoutingDecided(_) => p("routed", 2, None),
        Event::AttemptStarted(_) => p("sending", 3, None),
        Event::AttemptSubmitted(_) => p("submitted", 4, None),
        Event::AttemptFailed(f) if f.will_retry => p("retrying", 3, Some(f.error_code.clone())),
        Event::AttemptFailed(f) if f.error_code == EXPIRED_CODE => {
            p("expired", 9, Some(f.error_code.clone()))
        }
        // The carrier may have it (the submit's answer was lost): not `failed`, which would
        // say it was not sent. Final, but a receipt that still comes settles it (ADR 12, decision 15).
        Event::AttemptFailed(f) if f.error_class == ErrorClass::OutcomeUnknown => {
            p("unknown", 9, Some(f.error_code.clone()))
        }
        Event::AttemptFailed(f) => p("failed", 9, Some(f.error_code.clone())),
        Event::MessageRejected(r) if r.reason_code == EXPIRED_CODE => {
            p("expired", 9, Some(r.reason_code.clone()))
        }
        Event::MessageRejected(r) => p("rejected", 9, Some(r.reason_code.clone())),
        Event::DeliveryReported(d) => d.message_status.and_then(|s| {
            let reason = (s != TerminalStatus::Delivered)
                .then(|| d.error_code.clone())
                .flatten();
            p(terminal_name(s), 9, reason)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsflow_events::*;

    fn failed(will_retry: bool, code: &str) -> Event {
        failed_as(ErrorClass::Transient, will_retry, code)
    }

    fn failed_as(class: ErrorClass, will_retry: bool, code: &str) -> Event {
        AttemptFailed {
            meta: EventMeta::new(
                Producer {
                    name: "t",
                    version: "0",
                },
                None,
            ),
            message_id: MessageId::new(),
            tenant_id: TenantId::parse("acme").unwrap(),
            to: Msisdn::parse("+447700900123").unwrap(),
            attempt: 1,
            carrier_id: CarrierId::parse("sim").unwrap(),
            error_class: class,
            error_code: code.into(),
            reason: String::new(),
            carrier_message_ids: vec![],
            will_retry,
        }
        .into()
    }

    #[test]
    fn a_retry_is_not_terminal_and_a_final_failure_is() {
        assert_eq!(
            propose(&failed(true, "SMPP_0x00000008")).map(|p| (p.status, p.rank)),
            Some(("retrying", 3))
        );
        assert_eq!(
            propose(&failed(false, "SMPP_0x00000008")).map(|p| (p.status, p.rank)),
            Some(("failed", 9))
        );
        assert_eq!(
            propose(&failed(false, EXPIRED_CODE)).map(|p| p.status),
            Some("expired")
        );
    }

    #[test]
    fn an_unknown_outcome_is_final_but_not_failed_and_a_retry_of_it_is_retrying() {
        let unknown = |retry| failed_as(ErrorClass::OutcomeUnknown, retry, "OUTCOME_UNKNOWN");
        assert_eq!(
            propose(&unknown(false)).map(|p| (p.status, p.rank)),
            Some(("unknown", 9))
        );
        assert_eq!(propose(&unknown(true)).map(|p| p.status), Some("retrying"));
        assert_eq!(
            propose(&failed_as(ErrorClass::Permanent, false, "SMPP_0x0000000B")).map(|p| p.status),
            Some("failed")
        );
    }
}
