//! Carrier message ids: one counter, rendered in the configured formats.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::scenario::{IdConfig, IdFormat};

/// Renders `id` in `format`.
pub fn render(id: u64, format: IdFormat) -> String {
    match format {
        IdFormat::Decimal => id.to_string(),
        IdFormat::HexUpper => format!("{id:X}"),
        IdFormat::HexLower => format!("{id:x}"),
    }
}

/// Parses an id written in `format` (hex accepts both cases).
pub fn parse(text: &str, format: IdFormat) -> Option<u64> {
    match format {
        IdFormat::Decimal => text.parse().ok(),
        IdFormat::HexUpper | IdFormat::HexLower => u64::from_str_radix(text, 16).ok(),
    }
}

/// Hands out ids and knows how to print them for a response and for a receipt.
#[derive(Debug)]
pub(crate) struct IdGenerator {
    next: AtomicU64,
    response: IdFormat,
    receipt: IdFormat,
}

/// One allocated id in both renderings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CarrierId {
    /// Numeric value.
    pub value: u64,
    /// As written in submit_sm_resp.
    pub in_response: String,
    /// As written in receipts.
    pub in_receipt: String,
}

impl IdGenerator {
    pub(crate) fn new(config: &IdConfig) -> Self {
        Self {
            next: AtomicU64::new(config.start),
            response: config.response_format,
            receipt: config.receipt_format.unwrap_or(config.response_format),
        }
    }

    pub(crate) fn allocate(&self) -> CarrierId {
        let value = self.next.fetch_add(1, Ordering::Relaxed);
        let in_response = render(value, self.response);
        let in_receipt = if self.receipt == self.response {
            in_response.clone()
        } else {
            render(value, self.receipt)
        };
        CarrierId {
            value,
            in_response,
            in_receipt,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn renders_formats() {
        assert_eq!(render(1_000_000_007, IdFormat::Decimal), "1000000007");
        assert_eq!(render(1_000_000_007, IdFormat::HexUpper), "3B9ACA07");
        assert_eq!(render(1_000_000_007, IdFormat::HexLower), "3b9aca07");
    }

    #[test]
    fn generator_gives_hex_response_decimal_receipt() {
        let g = IdGenerator::new(&IdConfig {
            response_format: IdFormat::HexUpper,
            receipt_format: Some(IdFormat::Decimal),
            start: 255,
        });
        let a = g.allocate();
        assert_eq!(a.in_response, "FF");
        assert_eq!(a.in_receipt, "255");
        assert_eq!(g.allocate().value, 256);
    }

    proptest! {
        #[test]
        fn render_parse_round_trip(id in any::<u64>(), f in prop_oneof![
            Just(IdFormat::Decimal), Just(IdFormat::HexUpper), Just(IdFormat::HexLower)]) {
            prop_assert_eq!(parse(&render(id, f), f), Some(id));
        }

        #[test]
        fn cross_format_conversion(id in any::<u64>()) {
            let hex = render(id, IdFormat::HexUpper);
            let dec = render(id, IdFormat::Decimal);
            prop_assert_eq!(parse(&hex, IdFormat::HexLower), parse(&dec, IdFormat::Decimal));
            prop_assert_eq!(hex.to_lowercase(), render(id, IdFormat::HexLower));
        }
    }
}
