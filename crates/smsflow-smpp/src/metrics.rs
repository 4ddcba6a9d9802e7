//! Metric names and the helpers that record them. Every metric of the crate is listed in
//! [`Metric`]; no other module spells a metric name.
//!
//! Labels take values from small fixed sets only: `carrier` (configured names), `status`
//! (SMPP command_status in hex), `command`, `reason`, `kind`, `lane` (otp, transactional,
//! bulk). Never ids or numbers.

use std::time::Duration;

use crate::lane::Lane;
use crate::status::CommandStatusCode;

/// The metrics this crate emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Gauge: requests currently in the window, summed over the carrier's sessions.
    WindowInUse,
    /// Histogram: seconds from writing a submit_sm to its final response, by lane.
    SubmitLatency,
    /// Counter: responses received, by command and status.
    Responses,
    /// Counter: sessions re-established after a lost link or a failed bind.
    Reconnects,
    /// Counter: throttling responses (ESME_RTHROTTLED, ESME_RMSGQFUL) turned into resends.
    Throttled,
    /// Counter: submits reported as outcome unknown, by reason.
    OutcomeUnknown,
    /// Counter: submits reported as not sent, by reason.
    NotSent,
    /// Gauge: sessions currently bound.
    SessionsBound,
    /// Counter: inbound deliver_sm handed to the caller, by kind (receipt, mo, invalid).
    Inbound,
    /// Gauge: parts waiting in the submit queue for a window slot, by lane.
    QueueDepth,
}

impl Metric {
    /// The metric name, `smsflow_smpp_<name>_<unit>`.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::WindowInUse => "smsflow_smpp_window_in_use_requests",
            Metric::SubmitLatency => "smsflow_smpp_submit_latency_seconds",
            Metric::Responses => "smsflow_smpp_responses_total",
            Metric::Reconnects => "smsflow_smpp_reconnects_total",
            Metric::Throttled => "smsflow_smpp_throttled_total",
            Metric::OutcomeUnknown => "smsflow_smpp_outcome_unknown_total",
            Metric::NotSent => "smsflow_smpp_not_sent_total",
            Metric::SessionsBound => "smsflow_smpp_sessions_bound_sessions",
            Metric::Inbound => "smsflow_smpp_inbound_total",
            Metric::QueueDepth => "smsflow_smpp_queue_depth_requests",
        }
    }

    /// Every metric, for documentation and tests.
    pub const ALL: [Metric; 10] = [
        Metric::WindowInUse,
        Metric::SubmitLatency,
        Metric::Responses,
        Metric::Reconnects,
        Metric::Throttled,
        Metric::OutcomeUnknown,
        Metric::NotSent,
        Metric::SessionsBound,
        Metric::Inbound,
        Metric::QueueDepth,
    ];
}

/// Metric recorder bound to one carrier label.
#[derive(Debug, Clone)]
pub(crate) struct CarrierMetrics {
    carrier: String,
    /// [`Metric::SubmitLatency`] per lane, registered once (recorded for every submit).
    submit_latency: [metrics::Histogram; 3],
}

impl CarrierMetrics {
    pub(crate) fn new(carrier: &str) -> Self {
        let submit_latency = Lane::ALL.map(|lane| {
            metrics::histogram!(
                Metric::SubmitLatency.name(),
                "carrier" => carrier.to_owned(),
                "lane" => lane.label()
            )
        });
        Self {
            carrier: carrier.to_owned(),
            submit_latency,
        }
    }

    pub(crate) fn window_add(&self, delta: f64) {
        metrics::gauge!(Metric::WindowInUse.name(), "carrier" => self.carrier.clone())
            .increment(delta);
    }

    pub(crate) fn submit_latency(&self, lane: Lane, elapsed: Duration) {
        self.submit_latency[lane.index()].record(elapsed.as_secs_f64());
    }

    pub(crate) fn response(&self, command: &'static str, status: CommandStatusCode) {
        metrics::counter!(
            Metric::Responses.name(),
            "carrier" => self.carrier.clone(),
            "command" => command,
            "status" => status.label()
        )
        .increment(1);
    }

    pub(crate) fn reconnect(&self) {
        metrics::counter!(Metric::Reconnects.name(), "carrier" => self.carrier.clone())
            .increment(1);
    }

    pub(crate) fn throttled(&self) {
        metrics::counter!(Metric::Throttled.name(), "carrier" => self.carrier.clone()).increment(1);
    }

    pub(crate) fn outcome_unknown(&self, reason: &'static str) {
        metrics::counter!(
            Metric::OutcomeUnknown.name(),
            "carrier" => self.carrier.clone(),
            "reason" => reason
        )
        .increment(1);
    }

    pub(crate) fn not_sent(&self, reason: &'static str) {
        metrics::counter!(
            Metric::NotSent.name(),
            "carrier" => self.carrier.clone(),
            "reason" => reason
        )
        .increment(1);
    }

    pub(crate) fn sessions_bound_add(&self, delta: f64) {
        metrics::gauge!(Metric::SessionsBound.name(), "carrier" => self.carrier.clone())
            .increment(delta);
    }

    /// The queue depth gauge of `lane`; the queue keeps the handle and sets it on every
    /// change, without a registry lookup per part.
    pub(crate) fn queue_depth(&self, lane: Lane) -> metrics::Gauge {
        metrics::gauge!(
            Metric::QueueDepth.name(),
            "carrier" => self.carrier.clone(),
            "lane" => lane.label()
        )
    }

    pub(crate) fn inbound(&self, kind: &'static str) {
        metrics::counter!(
            Metric::Inbound.name(),
            "carrier" => self.carrier.clone(),
            "kind" => kind
        )
        .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention() {
        for metric in Metric::ALL {
            let name = metric.name();
            assert!(name.starts_with("smsflow_smpp_"), "{name}");
            let unit = name.rsplit('_').next().unwrap_or_default();
            assert!(
                ["requests", "seconds", "total", "sessions"].contains(&unit),
                "{name}"
            );
        }
    }
}
