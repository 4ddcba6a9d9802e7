//! The one error type of the crate.

/// Why text could not be encoded, decoded or segmented.
///
/// Every variant is permanent: the same input always gives the same error, so callers
/// reject (the API answers 4xx) rather than retry. No variant carries message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The message needs more concatenated parts than a UDH can number (255).
    #[error("message needs {parts} parts, more than the maximum of 255")]
    TooManyParts {
        /// Number of parts the message would need.
        parts: usize,
    },
    /// A character has no GSM 03.38 code (neither basic nor extension table).
    #[error("character {position} is not in the GSM 03.38 alphabet")]
    NotGsm7 {
        /// Index of the character (in `char`s, not bytes) in the input.
        position: usize,
    },
    /// A byte that should hold one septet has its high bit set.
    #[error("byte {value:#04x} at index {position} is not a 7-bit septet")]
    InvalidSeptet {
        /// Index of the byte in the input.
        position: usize,
        /// The offending byte.
        value: u8,
    },
    /// Fill bits before packed septets must be in `0..=6`.
    #[error("fill bits must be in 0..=6, got {fill_bits}")]
    InvalidFillBits {
        /// The value given.
        fill_bits: u8,
    },
    /// Packed data is shorter than the septet count it should hold.
    #[error("packed data needs {needed} octets, only {available} given")]
    Truncated {
        /// Octets needed for the requested septets.
        needed: usize,
        /// Octets given.
        available: usize,
    },
    /// UCS-2 data must be a whole number of 16-bit units.
    #[error("UCS-2 data has odd length {len}")]
    OddUcs2Length {
        /// Length of the input in octets.
        len: usize,
    },
    /// UTF-16 data holds a high surrogate without its low half, or a lone low surrogate.
    #[error("unpaired UTF-16 surrogate at unit {position}")]
    UnpairedSurrogate {
        /// Index of the 16-bit unit in the input.
        position: usize,
    },
}
