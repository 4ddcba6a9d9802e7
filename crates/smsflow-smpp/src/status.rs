//! SMPP command_status values and their classification.

use std::fmt;

/// A raw SMPP `command_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandStatusCode(pub u32);

/// Well-known status values used by the client.
impl CommandStatusCode {
    /// ESME_ROK: success.
    pub const OK: Self = Self(0x0000_0000);
    /// ESME_RINVMSGLEN: message length invalid.
    pub const INVALID_MESSAGE_LENGTH: Self = Self(0x0000_0001);
    /// ESME_RINVCMDLEN: command length invalid.
    pub const INVALID_COMMAND_LENGTH: Self = Self(0x0000_0002);
    /// ESME_RINVCMDID: invalid command id.
    pub const INVALID_COMMAND_ID: Self = Self(0x0000_0003);
    /// ESME_RINVBNDSTS: incorrect bind status for the command.
    pub const INVALID_BIND_STATUS: Self = Self(0x0000_0004);
    /// ESME_RSYSERR: system error.
    pub const SYSTEM_ERROR: Self = Self(0x0000_0008);
    /// ESME_RMSGQFUL: message queue full (throttling).
    pub const MESSAGE_QUEUE_FULL: Self = Self(0x0000_0014);
    /// ESME_RSUBMITFAIL: submit_sm failed.
    pub const SUBMIT_FAILED: Self = Self(0x0000_0045);
    /// ESME_RTHROTTLED: throttling error.
    pub const THROTTLED: Self = Self(0x0000_0058);
    /// ESME_RX_T_APPN: ESME receiver temporary app error; the SMSC retries the deliver_sm.
    pub const RX_TEMPORARY_APP_ERROR: Self = Self(0x0000_0064);
    /// ESME_RX_P_APPN: ESME receiver permanent app error; the SMSC does not retry.
    pub const RX_PERMANENT_APP_ERROR: Self = Self(0x0000_0065);

    /// True for ESME_ROK.
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// True for the statuses that mean "slow down and resend later" (0x58, 0x14).
    pub fn is_throttling(self) -> bool {
        self == Self::THROTTLED || self == Self::MESSAGE_QUEUE_FULL
    }

    /// Whether a failed submit with this status may succeed later.
    pub fn class(self) -> StatusClass {
        match self.0 {
            // system error, queue full, submit failed, throttled, bind status (session
            // problem on the carrier side), delivery failure (v5), temporary app error
            0x08 | 0x14 | 0x45 | 0x58 | 0x04 | 0xFE | 0x64 => StatusClass::Transient,
            _ => StatusClass::Permanent,
        }
    }

    /// A fixed label for metrics: the hex value (`0x00000058`). Carriers use a small set.
    pub fn label(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CommandStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// Whether a carrier rejection is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// A later retry (or another route) may succeed.
    Transient,
    /// The request itself is wrong for this carrier.
    Permanent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_classes() {
        assert!(CommandStatusCode(0x58).is_throttling());
        assert!(CommandStatusCode(0x14).is_throttling());
        assert!(!CommandStatusCode(0x08).is_throttling());
        assert_eq!(CommandStatusCode(0x08).class(), StatusClass::Transient);
        assert_eq!(CommandStatusCode(0x0B).class(), StatusClass::Permanent);
        assert_eq!(CommandStatusCode(0x58).label(), "0x00000058");
    }
}
