//! SMPP inbound path: bytes from a carrier → frames (tolerant codec over rusmpp) → deliver_sm
//! fields (strict, or lenient when rusmpp refuses the PDU) → receipt / MO event.
//!
//! Input: one byte choosing the carrier settings, then the byte stream of the link.
//! Checks: nothing panics; the codec accounts for every byte (frames + rest = input) and
//! yields only whole frames of their `command_length`; every decoded PDU encodes again and
//! decodes back to itself; the lenient reader agrees with rusmpp on every deliver_sm rusmpp
//! accepts; each event agrees with the fields it came from (receipt or MO by esm_class,
//! canonical receipt id, UDH before SAR concat info).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rusmpp::encode::Length;
use rusmpp::{Command, Pdu};
use smsflow_fuzz::{carrier_config, split_selector};
use smsflow_smpp::fuzz::{self, Decoded, DeliverSummary};
use smsflow_smpp::{CarrierConfig, ConcatInfo, InboundEvent, ReceiptState};

fuzz_target!(|data: &[u8]| {
    let (selector, stream) = split_selector(data);
    let config = carrier_config(selector);
    let out = fuzz::decode_stream(&config, stream);

    let framed: usize = out.frames.iter().map(|f| raw(f).len()).sum();
    assert_eq!(
        framed + out.rest,
        stream.len(),
        "every byte is a frame or left over"
    );
    if !out.broken
        && let Some(len) = stream.get(framed..framed + 4)
    {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        assert!(out.rest < len, "a complete frame was left undecoded");
    }

    for frame in &out.frames {
        let bytes = raw(frame);
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        assert_eq!(
            word(0) as usize,
            bytes.len(),
            "a frame is exactly command_length long"
        );
        match frame {
            Decoded::Command {
                command, inbound, ..
            } => {
                assert_eq!(u32::from(command.id()), word(4));
                assert_eq!(command.sequence_number(), word(12));
                round_trip(&config, command, bytes);
                match fuzz::strict_fields(command) {
                    Some(strict) => {
                        // rusmpp took this deliver_sm: the lenient reader, used when rusmpp
                        // refuses one, must read the same fields from the same bytes.
                        let lenient = fuzz::lenient_fields(&bytes[16..])
                            .expect("the lenient reader reads what rusmpp reads");
                        // rusmpp 0.4 reads a fixed-size TLV by its own size whatever its
                        // length says: a TLV that overruns the PDU is taken, and the rest of
                        // a longer one is read as further TLVs (a message_state of length 3
                        // invents a network_error_code). The lenient reader follows the
                        // lengths. Where rusmpp read a TLV at another size than its length,
                        // only the mandatory fields must agree.
                        if tlv_sizes_as_declared(command) && tlvs_well_formed(&bytes[16..]) {
                            assert_eq!(lenient, strict, "strict and lenient readers disagree");
                        } else {
                            assert_eq!(
                                mandatory(&lenient),
                                mandatory(&strict),
                                "strict and lenient readers disagree"
                            );
                        }
                        let event = inbound.as_ref().expect("a deliver_sm gives an event");
                        check_event(&config, event, &strict);
                    }
                    None => assert!(inbound.is_none()),
                }
            }
            Decoded::Undecodable {
                command_id,
                inbound,
                ..
            } => {
                assert_eq!(*command_id, word(4));
                if let Some(event) = inbound {
                    let fields = fuzz::lenient_fields(&bytes[16..]).expect("it was read");
                    check_event(&config, event, &fields);
                }
            }
        }
    }
});

/// The fields of a deliver_sm before its TLVs.
fn mandatory(f: &DeliverSummary) -> (&str, (u8, u8), &str, u8, u8, &[u8]) {
    (
        &f.source_addr,
        f.source_ton_npi,
        &f.destination_addr,
        f.esm_class,
        f.data_coding,
        &f.short_message,
    )
}

/// True when rusmpp read every TLV of a deliver_sm at the size its length field declares.
fn tlv_sizes_as_declared(command: &Command) -> bool {
    match command.pdu() {
        Some(Pdu::DeliverSm(deliver)) => deliver
            .tlvs()
            .iter()
            .all(|tlv| tlv.value().map_or(0, Length::length) == usize::from(tlv.value_length())),
        _ => true,
    }
}

/// True when the TLVs after a deliver_sm's mandatory fields tile the body exactly.
fn tlvs_well_formed(body: &[u8]) -> bool {
    let mut pos = 0;
    // service_type, then ton, npi, source_addr, ton, npi, destination_addr.
    let cstr = |pos: &mut usize, skip: usize| -> Option<()> {
        *pos += skip;
        let nul = body.get(*pos..)?.iter().position(|b| *b == 0)?;
        *pos += nul + 1;
        Some(())
    };
    let fields = (|| {
        cstr(&mut pos, 0)?;
        cstr(&mut pos, 2)?;
        cstr(&mut pos, 2)?;
        cstr(&mut pos, 3)?; // esm_class, protocol_id, priority_flag; schedule_delivery_time
        cstr(&mut pos, 0)?; // validity_period
        pos += 4; // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        let sm_length = usize::from(*body.get(pos)?);
        pos += 1 + sm_length;
        Some(())
    })();
    if fields.is_none() || pos > body.len() {
        return false;
    }
    while pos < body.len() {
        let Some(header) = body.get(pos..pos + 4) else {
            return false;
        };
        pos += 4 + usize::from(u16::from_be_bytes([header[2], header[3]]));
    }
    pos == body.len()
}

fn raw(frame: &Decoded) -> &[u8] {
    match frame {
        Decoded::Command { raw, .. } | Decoded::Undecodable { raw, .. } => raw,
    }
}

/// A decoded PDU, written as the link writes PDUs, reads back as the same PDU.
fn round_trip(config: &CarrierConfig, command: &Command, raw: &[u8]) {
    let Ok(encoded) = fuzz::encode(command) else {
        return;
    };
    let again = fuzz::decode_stream(config, &encoded);
    assert!(
        !again.broken && again.rest == 0 && again.frames.len() == 1,
        "a re-encoded PDU is one whole frame"
    );
    let Decoded::Command { command: back, .. } = &again.frames[0] else {
        // rusmpp 0.4 keeps a TLV's declared length beside a value it read at another size
        // (see the deliver_sm check above) and writes both back: such a PDU can encode into
        // one it refuses. Anything it read faithfully must decode again.
        assert_ne!(encoded, raw, "a PDU rusmpp encoded does not decode again");
        return;
    };
    assert_eq!(
        (back.id(), back.status(), back.sequence_number()),
        (command.id(), command.status(), command.sequence_number())
    );
    match (command.pdu(), back.pdu()) {
        (Some(a), Some(b)) => assert_eq!(a, b, "encode/decode round trip"),
        (None, None) => {}
        // rusmpp reads a header-only PDU (generic_nack, an error response) with or without
        // a body-less `Pdu` depending on stray bytes after the header; nothing is lost when
        // the encoding has no body.
        _ => assert_eq!(
            encoded.len(),
            16,
            "a PDU lost its body: {command:?} / {back:?}"
        ),
    }
    assert_eq!(
        fuzz::encode(back).ok().as_ref(),
        Some(&encoded),
        "encoding is a fixpoint"
    );
}

fn check_event(config: &CarrierConfig, event: &InboundEvent, fields: &DeliverSummary) {
    let user_data = match &fields.message_payload {
        Some(payload) if fields.short_message.is_empty() => payload,
        _ => &fields.short_message,
    };
    let receipt_flags = fields.esm_class & 0x3C != 0;
    match event {
        InboundEvent::Receipt(r) => {
            assert!(!r.raw_message_id.is_empty());
            assert_eq!(r.raw_message_id.trim(), r.raw_message_id);
            assert_eq!(
                r.message_id,
                config.message_id.normalise(&r.raw_message_id, r.id_source)
            );
            if let Some(state) = r.state {
                assert_eq!(
                    ReceiptState::from_message_state(state.message_state()),
                    Some(state)
                );
            }
            assert_eq!(r.source_addr, fields.source_addr);
            assert_eq!(r.destination_addr, fields.destination_addr);
            assert_eq!(r.carrier, config.name);
        }
        InboundEvent::Mo(mo) => {
            assert!(
                !receipt_flags,
                "a deliver_sm flagged as receipt became an MO"
            );
            let from_udh = if fields.esm_class & 0x40 != 0 {
                fuzz::udh(user_data).1
            } else {
                None
            };
            let from_sar = match fields.sar {
                (Some(reference), Some(total), Some(seq)) => Some(ConcatInfo {
                    reference,
                    total,
                    seq,
                }),
                _ => None,
            };
            assert_eq!(mo.concat, from_udh.or(from_sar), "UDH first, then SAR");
            assert_eq!(mo.source_addr, fields.source_addr);
            assert_eq!((mo.source_ton, mo.source_npi), fields.source_ton_npi);
            assert_eq!(mo.data_coding, fields.data_coding);
        }
        InboundEvent::UnrecognisedReceipt(raw) => {
            assert_eq!(raw.user_data, *user_data);
            assert_eq!(raw.esm_class, fields.esm_class);
        }
    }
}
