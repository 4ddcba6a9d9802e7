//! Delivery receipt text (`id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`)
//! and the carrier message id normalisation applied to the ids found in it.
//!
//! Input: the short_message of a receipt, read as the inbound path reads it (lossy UTF-8).
//! Checks: nothing panics; a receipt is recognised exactly when it has an `id:` or a `stat:`;
//! field values hold no whitespace and dates are in range; `text:` is the input's tail;
//! formatting the parsed fields and parsing again gives the same fields; id normalisation is
//! idempotent, numeric forms are canonical decimals equal to the machine-integer value where
//! one fits, and hex and decimal spellings of one number meet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsflow_smpp::idnorm::normalise_id;
use smsflow_smpp::{IdFormat, ReceiptDate, ReceiptState, format_receipt_text, parse_receipt_text};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Some(r) = parse_receipt_text(&input) {
        assert!(r.id.is_some() || r.stat.is_some());
        for value in [&r.id, &r.sub, &r.dlvrd, &r.stat, &r.err]
            .into_iter()
            .flatten()
        {
            assert!(!value.contains(char::is_whitespace), "{value:?}");
            assert!(input.contains(value.as_str()));
        }
        for date in [r.submit_date, r.done_date].into_iter().flatten() {
            check_date(date);
        }
        if let Some(text) = &r.text {
            assert!(input.ends_with(text.as_str()));
        }
        if let Some(state) = r.state() {
            assert_eq!(ReceiptState::from_stat(state.stat()), Some(state));
        }
        // An empty value (`id:` before a tab or at the end) is written back as `id:` and would
        // then take the next field as its value; every other receipt survives a round trip.
        let empty = [&r.id, &r.sub, &r.dlvrd, &r.stat, &r.err]
            .into_iter()
            .flatten()
            .any(String::is_empty);
        if !empty {
            let again = parse_receipt_text(&format_receipt_text(&r));
            assert_eq!(
                again.as_ref(),
                Some(&r),
                "format then parse changes the receipt"
            );
        }
        if let Some(id) = &r.id {
            check_id(id);
        }
    } else {
        assert!(!input.to_ascii_lowercase().starts_with("id:"));
        assert!(!input.to_ascii_lowercase().starts_with("stat:"));
    }
    check_id(&input);
});

fn check_date(d: ReceiptDate) {
    assert!((1..=12).contains(&d.month) && (1..=31).contains(&d.day));
    assert!(d.year < 100 && d.hour < 24 && d.minute < 60);
    assert!(d.second.is_none_or(|s| s < 60));
    assert_eq!(
        ReceiptDate::parse(&d.to_string()),
        Some(d),
        "date round trip"
    );
}

fn check_id(raw: &str) {
    for ignore_case in [true, false] {
        let as_is = normalise_id(raw, IdFormat::AsIs, ignore_case);
        assert_eq!(
            normalise_id(&as_is, IdFormat::AsIs, ignore_case),
            as_is,
            "as-is normalisation is idempotent"
        );
        for (format, radix) in [(IdFormat::Hex, 16), (IdFormat::Decimal, 10)] {
            let once = normalise_id(raw, format, ignore_case);
            let canonical = !once.is_empty()
                && once.bytes().all(|b| b.is_ascii_digit())
                && (once == "0" || !once.starts_with('0'));
            if canonical {
                // A number: stable when read again as decimal, and as hex it meets its own
                // decimal spelling.
                assert_eq!(normalise_id(&once, IdFormat::Decimal, ignore_case), once);
                let digits = digits_of(raw, format);
                if digits.len() <= 30
                    && let Ok(n) = u128::from_str_radix(digits, radix)
                {
                    assert_eq!(once, n.to_string());
                    let hex = format!("{n:x}");
                    assert_eq!(normalise_id(&hex, IdFormat::Hex, ignore_case), once);
                }
            } else {
                assert_eq!(once, as_is, "a non-number falls back to the as-is rule");
            }
        }
    }
}

/// The digits the numeric formats read: trimmed, `0x` removed for hex.
fn digits_of(raw: &str, format: IdFormat) -> &str {
    let trimmed = raw
        .trim_start()
        .trim_end_matches(|c: char| c.is_whitespace() || c == '\0');
    match format {
        IdFormat::Hex => trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed),
        _ => trimmed,
    }
}
