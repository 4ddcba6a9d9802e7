//! Concatenation: the UDH reader of MO messages, and the loop from what the client sends to
//! what it reads back. The SMPP client splits a text into submit_sm parts with an 8-bit or
//! 16-bit reference UDH, SAR TLVs, or one message_payload (`smsflow-sms` builds the headers);
//! the same bytes sent back as deliver_sm must come out as the same parts, in order, with the
//! same reference, count and position, and with the same text.
//!
//! Input: one byte of carrier settings (GSM-7 packing, concatenation method), one byte of
//! options (smart replacement), two bytes of reference, then the text (lossy UTF-8). The whole
//! input is also handed to the UDH reader as user data.
//! Checks: the UDH reader never reads past its header and reports only a concatenation
//! element that is really in it; every part of a prepared message decodes as an MO with the
//! concat info of the part; the texts of the parts join into the text that was split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsflow_fuzz::{carrier_config, split_selector};
use smsflow_smpp::fuzz::{self, Decoded};
use smsflow_smpp::submit::prepare_parts;
use smsflow_smpp::{ConcatInfo, ConcatMethod, InboundEvent, SubmitRequest};
use smsflow_sms::{Concat, Encoding, Options, segment};

fuzz_target!(|data: &[u8]| {
    check_udh_reader(data);

    let (selector, rest) = split_selector(data);
    let (options, rest) = split_selector(rest);
    let reference = match rest {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    };
    let text = String::from_utf8_lossy(rest.get(2..).unwrap_or_default());
    let config = carrier_config(selector);
    let smart = options & 0x01 != 0;
    let mut request = SubmitRequest::new("ACME", "447700900123", text.as_ref(), reference);
    request.options.smart_replacement = smart;
    let Ok(prepared) = prepare_parts(&config, &request) else {
        return; // too many parts: refused before anything is built
    };
    // The text that was split: the input, or its smart replacement.
    let expected_text = if smart {
        let opts = Options::default().with_smart_replacement(true);
        match segment(&text, &opts, Concat::Udh8 { reference: 0 }) {
            Ok(segmented) => segmented.text,
            Err(_) => return,
        }
    } else {
        text.clone().into_owned()
    };

    let total = prepared.parts.len();
    let mut joined = String::new();
    for part in &prepared.parts {
        assert_eq!(usize::from(part.total), total);
        // submit_sm and deliver_sm share their body layout: send the part back as deliver_sm.
        let command = rusmpp::Command::builder()
            .status(rusmpp::CommandStatus::EsmeRok)
            .sequence_number(u32::from(part.seq))
            .pdu(part.pdu().clone());
        let mut bytes = fuzz::encode(&command).expect("a prepared part encodes");
        bytes[4..8].copy_from_slice(&0x0000_0005u32.to_be_bytes());
        let out = fuzz::decode_stream(&config, &bytes);
        let inbound = match &out.frames[..] {
            [Decoded::Command { inbound, .. } | Decoded::Undecodable { inbound, .. }] => inbound,
            other => panic!("one deliver_sm expected, got {other:?}"),
        };
        let Some(InboundEvent::Mo(mo)) = inbound else {
            panic!("the part did not come back as an MO: {inbound:?}");
        };
        let expected =
            (total > 1 && config.concatenation != ConcatMethod::MessagePayload).then(|| {
                ConcatInfo {
                    reference: match config.concatenation {
                        ConcatMethod::Udh16 | ConcatMethod::Sar => reference,
                        _ => u16::from(reference.to_be_bytes()[1]),
                    },
                    total: part.total,
                    seq: part.seq,
                }
            });
        assert_eq!(mo.concat, expected, "concat info of part {}", part.seq);
        assert!(!mo.lossy, "part {} decoded lossily", part.seq);
        joined.push_str(&mo.text);
    }
    if config.gsm7_packed && prepared.encoding == Encoding::Gsm7 {
        // Packed GSM-7 carries no septet count: a part of 8n septets whose last is '@' (0x00)
        // reads like 8n-1 septets and 7 zero fill bits, and the MO reader (`inbound.rs`)
        // drops that '@'. Allow exactly that loss, at most one '@' per part.
        let lost = expected_text.chars().count() - joined.chars().count();
        assert!(lost <= total, "{lost} characters lost");
        assert_eq!(
            joined.replace('@', ""),
            expected_text.replace('@', ""),
            "the parts join into the text"
        );
    } else {
        assert_eq!(joined, expected_text, "the parts join into the text");
    }
});

/// The UDH reader on arbitrary user data.
fn check_udh_reader(data: &[u8]) {
    let (len, concat) = fuzz::udh(data);
    if len == 0 {
        assert_eq!(concat, None);
        return;
    }
    assert_eq!(
        len,
        usize::from(data[0]) + 1,
        "the header length is UDHL + 1"
    );
    assert!(len <= data.len(), "the header fits in the user data");
    if let Some(c) = concat {
        let header = &data[1..len];
        let [hi, lo] = c.reference.to_be_bytes();
        let ie8 = [0x00, 0x03, lo, c.total, c.seq];
        let ie16 = [0x08, 0x04, hi, lo, c.total, c.seq];
        let found = (hi == 0 && header.windows(5).any(|w| w == ie8))
            || header.windows(6).any(|w| w == ie16);
        assert!(found, "{c:?} is not in the header {header:02x?}");
    }
}
