//! Typed errors. Each one knows its [`ErrorClass`], which is what the dispatcher acts on.

use std::time::Duration;

use crate::status::{CommandStatusCode, StatusClass};

/// What the caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Nothing reached the carrier, or the carrier refused it for a passing reason:
    /// retrying (here or on another route) cannot produce a duplicate.
    Retry,
    /// The carrier may or may not have accepted the submit (timeout, link lost while it was
    /// in the window). Resending may duplicate: the caller decides per message type.
    OutcomeUnknown,
    /// Retrying the same request will fail the same way (bad address, text not encodable,
    /// permanent carrier rejection).
    Permanent,
}

/// A configuration value the client cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// One field has an unusable value.
    #[error("invalid carrier config field `{field}`: {reason}")]
    Invalid {
        /// Name of the offending field.
        field: &'static str,
        /// What is expected of it.
        reason: &'static str,
    },
}

impl ConfigError {
    /// Configuration errors never fix themselves.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// A request that was refused before anything was queued or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The text could not be segmented or encoded (e.g. too many parts).
    #[error("text cannot be encoded: {0}")]
    Encoding(String),
    /// An address is empty or longer than SMPP allows (20 characters).
    #[error("invalid {field} address: {reason}")]
    InvalidAddress {
        /// `source` or `destination`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A PDU field could not be built (length limits of the codec).
    #[error("cannot build submit_sm: {0}")]
    Pdu(String),
}

impl SubmitError {
    /// Every variant is a property of the request itself.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// Why one part did not end in "accepted by the carrier".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartFailure {
    /// The carrier answered with an error status (not a throttling one: those are resent
    /// inside the client).
    #[error("rejected by carrier with status {status} ({class:?})")]
    Rejected {
        /// The command_status of the submit_sm_resp or generic_nack.
        status: CommandStatusCode,
        /// Whether a later retry can succeed.
        class: StatusClass,
    },
    /// The submit was written to the carrier but no response came back.
    #[error("outcome unknown: {reason}")]
    OutcomeUnknown {
        /// Why the response is missing.
        reason: UnknownReason,
    },
    /// The submit never reached the carrier; safe to retry.
    #[error("not sent: {reason}")]
    NotSent {
        /// Why it was not written.
        reason: NotSentReason,
    },
}

impl PartFailure {
    /// The class the dispatcher acts on.
    pub fn class(&self) -> ErrorClass {
        match self {
            PartFailure::Rejected {
                class: StatusClass::Permanent,
                ..
            } => ErrorClass::Permanent,
            PartFailure::Rejected { .. } => ErrorClass::Retry,
            PartFailure::OutcomeUnknown { .. } => ErrorClass::OutcomeUnknown,
            PartFailure::NotSent { .. } => ErrorClass::Retry,
        }
    }
}

/// Why a written submit has an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum UnknownReason {
    /// No response within the configured response timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The link went down while the submit was in the window.
    #[error("link lost while in the window")]
    LinkLost,
    /// The client shut down before the response arrived.
    #[error("shut down before the response")]
    Shutdown,
    /// The carrier answered the sequence number with an unexpected PDU type.
    #[error("unexpected response pdu")]
    UnexpectedResponse,
}

impl UnknownReason {
    /// Short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            UnknownReason::Timeout(_) => "timeout",
            UnknownReason::LinkLost => "link_lost",
            UnknownReason::Shutdown => "shutdown",
            UnknownReason::UnexpectedResponse => "unexpected_response",
        }
    }
}

/// Why a submit was never written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NotSentReason {
    /// No session was bound when the submit was made.
    #[error("no bound session")]
    NotConnected,
    /// The link went down before the submit was fully written.
    #[error("link lost before the submit was written")]
    LinkLostBeforeWrite,
    /// The client is shutting down.
    #[error("client shutting down")]
    ShuttingDown,
    /// The queue of submits waiting for a window slot is full.
    #[error("submit queue full")]
    QueueFull,
    /// Its write deadline passed before a window slot was free (the caller's right to send,
    /// e.g. a dispatcher's lease of the message's partition, would have ended).
    #[error("write deadline passed before it was written")]
    DeadlinePassed,
}

impl NotSentReason {
    /// Short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            NotSentReason::NotConnected => "not_connected",
            NotSentReason::LinkLostBeforeWrite => "link_lost_before_write",
            NotSentReason::ShuttingDown => "shutting_down",
            NotSentReason::QueueFull => "queue_full",
            NotSentReason::DeadlinePassed => "deadline_passed",
        }
    }
}

/// Why a session could not be established (logged by the session task; the session retries
/// with backoff by itself).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// TCP connect failed or timed out.
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    /// The SMSC answered the bind with an error status.
    #[error("bind rejected with status {0}")]
    BindRejected(CommandStatusCode),
    /// No bind response in time, or the link closed during the bind.
    #[error("bind failed: {0}")]
    Bind(String),
    /// I/O error on an established link.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let unknown = PartFailure::OutcomeUnknown {
            reason: UnknownReason::LinkLost,
        };
        assert_eq!(unknown.class(), ErrorClass::OutcomeUnknown);
        let not_sent = PartFailure::NotSent {
            reason: NotSentReason::NotConnected,
        };
        assert_eq!(not_sent.class(), ErrorClass::Retry);
        let perm = PartFailure::Rejected {
            status: CommandStatusCode(0x0B),
            class: StatusClass::Permanent,
        };
        assert_eq!(perm.class(), ErrorClass::Permanent);
        let transient = PartFailure::Rejected {
            status: CommandStatusCode(0x08),
            class: StatusClass::Transient,
        };
        assert_eq!(transient.class(), ErrorClass::Retry);
    }
}
