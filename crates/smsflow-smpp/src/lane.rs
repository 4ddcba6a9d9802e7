//! Priority lanes: which queue a part waits in, and which SMPP `priority_flag` it carries.
//!
//! The client keeps one bounded submit queue per [`Lane`]. A session with room in its window
//! always takes the next part from the highest non-empty lane (strict priority: no OTP waits
//! behind a bulk part that is still queued), and each lane has its own capacity, so a full
//! bulk queue pushes back on bulk callers only. Within a lane parts leave in the order they
//! were queued, so the parts of one message (which all share the message's lane) keep their
//! order.
//!
//! | lane | for | default `priority_flag` |
//! |---|---|---|
//! | [`Lane::Otp`] | one-time passwords | 3 (highest) |
//! | [`Lane::Transactional`] | alerts, notifications; the default | 1 |
//! | [`Lane::Bulk`] | campaigns | 0 (normal) |
//!
//! The flags are per carrier ([`PriorityFlags`], `CarrierConfig::priority_flags`): GSM SMSCs
//! read 0 as "non-priority" and 1–3 as "priority", and some carriers refuse values above 1.

use serde::Deserialize;

/// A priority lane of the submit queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lane {
    /// One-time passwords: always sent first.
    Otp,
    /// Alerts and notifications: after OTPs, before bulk. What a request without a lane
    /// gets.
    #[default]
    Transactional,
    /// Campaigns: sent when no OTP or transactional part waits.
    Bulk,
}

impl Lane {
    /// Every lane, highest priority first (the order sessions serve them in).
    pub const ALL: [Lane; 3] = [Lane::Otp, Lane::Transactional, Lane::Bulk];

    /// Position in [`Lane::ALL`]: 0 is served first.
    pub(crate) const fn index(self) -> usize {
        match self {
            Lane::Otp => 0,
            Lane::Transactional => 1,
            Lane::Bulk => 2,
        }
    }

    /// Whether parts of this lane go before parts of `other`.
    pub(crate) const fn outranks(self, other: Lane) -> bool {
        self.index() < other.index()
    }

    /// The metric label value.
    pub const fn label(self) -> &'static str {
        match self {
            Lane::Otp => "otp",
            Lane::Transactional => "transactional",
            Lane::Bulk => "bulk",
        }
    }
}

/// SMPP `priority_flag` written in the submit_sm of each lane (per carrier). SMPP 3.4 defines
/// 0–3; GSM SMSCs treat 0 as non-priority and 1–3 as priority, CDMA/TDMA ones grade 0–3.
/// Lower `otp` to 1 for a carrier that refuses higher values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityFlags {
    /// priority_flag of [`Lane::Otp`] submits (default 3, "very urgent").
    pub otp: u8,
    /// priority_flag of [`Lane::Transactional`] submits (default 1, "priority" for GSM).
    pub transactional: u8,
    /// priority_flag of [`Lane::Bulk`] submits (default 0, "normal").
    pub bulk: u8,
}

impl Default for PriorityFlags {
    fn default() -> Self {
        Self {
            otp: 3,
            transactional: 1,
            bulk: 0,
        }
    }
}

impl PriorityFlags {
    /// The priority_flag of `lane`.
    pub const fn for_lane(&self, lane: Lane) -> u8 {
        match lane {
            Lane::Otp => self.otp,
            Lane::Transactional => self.transactional,
            Lane::Bulk => self.bulk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_priority_order() {
        for (i, lane) in Lane::ALL.iter().enumerate() {
            assert_eq!(lane.index(), i);
        }
        assert!(Lane::Otp.outranks(Lane::Transactional));
        assert!(Lane::Transactional.outranks(Lane::Bulk));
        assert!(!Lane::Bulk.outranks(Lane::Bulk));
        assert_eq!(Lane::default(), Lane::Transactional);
    }

    #[test]
    fn default_flags() {
        let flags = PriorityFlags::default();
        assert_eq!(flags.for_lane(Lane::Otp), 3);
        assert_eq!(flags.for_lane(Lane::Transactional), 1);
        assert_eq!(flags.for_lane(Lane::Bulk), 0);
    }
}
