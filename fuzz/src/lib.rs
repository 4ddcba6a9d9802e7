//! Helpers shared by the fuzz targets in `fuzz_targets/` (see `fuzz/README.md`).

use smsflow_smpp::{CarrierConfig, ConcatMethod, IdFormat, IdNormalisation};

/// A carrier configuration chosen by one input byte, so that one target covers the settings
/// that change how inbound PDUs are read: GSM-7 packing, the data_coding taken as GSM-7,
/// the id formats of each source, case folding, and the concatenation method.
pub fn carrier_config(selector: u8) -> CarrierConfig {
    let formats = [IdFormat::AsIs, IdFormat::Hex, IdFormat::Decimal];
    let concatenation = [
        ConcatMethod::Udh8,
        ConcatMethod::Udh16,
        ConcatMethod::Sar,
        ConcatMethod::MessagePayload,
    ];
    CarrierConfig {
        name: "fuzz".into(),
        gsm7_packed: selector & 0x01 != 0,
        // Some carriers mark GSM-7 with data_coding 1 (IA5) instead of 0.
        gsm7_data_coding: if selector & 0x02 != 0 { 1 } else { 0 },
        message_id: IdNormalisation {
            submit_response: formats[usize::from(selector >> 2) % 3],
            receipt_text: formats[usize::from(selector >> 4) % 3],
            receipt_tlv: formats[usize::from(selector >> 2) % 3],
            ignore_case: selector & 0x40 == 0,
        },
        concatenation: concatenation[usize::from(selector >> 6) % 4],
        ..CarrierConfig::default()
    }
}

/// Splits the first byte off `data` (0 for empty input).
pub fn split_selector(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    }
}
