#!/usr/bin/env python3
"""Writes the hand-made seeds of the fuzz targets (fuzz/seeds/<target>/): a few valid inputs
each, so that fuzzing starts from the shapes carriers and clients really send. The Avro
seeds come from the event types themselves (`SMSFLOW_WRITE_FUZZ_SEEDS=1 cargo test -p
smsflow-events --test roundtrip fuzz_seeds`). Run from anywhere: `python3 fuzz/make_seeds.py`."""

import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent / "seeds"


def write(target, name, data):
    d = HERE / target
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def pdu(command_id, body=b"", status=0, seq=1):
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def cstr(s):
    return s.encode() + b"\0"


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def deliver(source, dest, esm, dc, sm, tlvs=b""):
    body = b"\0" + bytes([1, 1]) + cstr(source) + bytes([1, 1]) + cstr(dest)
    body += bytes([esm, 0, 0]) + b"\0\0" + bytes([0, 0, dc, 0, len(sm)]) + sm + tlvs
    return pdu(0x05, body, seq=7)


RECEIPT = b"id:1A2B sub:001 dlvrd:001 submit date:2611252240 done date:2611252241 stat:DELIVRD err:000 text:Hello"


def smpp():
    t = "smpp_pdu"
    write(t, "receipt_tlvs", b"\x00" + deliver(
        "447700900001", "ACME", 0x04, 0, RECEIPT,
        tlv(0x001E, b"1A2B\0") + tlv(0x0427, b"\x02") + tlv(0x0423, b"\x03\x00\x01")))
    write(t, "receipt_tlv_no_nul", b"\x04" + deliver(
        "447700900001", "ACME", 0x04, 0, b"id:6699 stat:UNDELIV err:034", tlv(0x001E, b"1a2b")))
    write(t, "receipt_text_only", b"\x50" + deliver(
        "447700900001", "ACME", 0x04, 0, b"ID:00ff Stat:expired Err:001 Text:x"))
    udh8 = bytes([0x05, 0x00, 0x03, 0x2A, 0x02, 0x01])
    write(t, "mo_udh8_gsm7", b"\x00" + deliver(
        "447700900001", "12345", 0x40, 0, udh8 + b"Hello {}".translate(bytes(range(256)))))
    hello = "Привет 😀".encode("utf-16-be")
    write(t, "mo_ucs2_sar", b"\x00" + deliver(
        "447700900001", "12345", 0x00, 8, hello,
        tlv(0x020C, b"\x12\x34") + tlv(0x020E, b"\x03") + tlv(0x020F, b"\x02")))
    write(t, "mo_payload_latin1", b"\x00" + deliver(
        "447700900001", "12345", 0x00, 3, b"", tlv(0x0424, "café".encode("latin-1"))))
    # 16-bit reference UDH, then "hi" packed after one fill bit.
    udh16 = bytes([0x06, 0x08, 0x04, 0x01, 0x02, 0x03, 0x01])
    write(t, "mo_udh16_packed", b"\x01" + deliver("1", "2", 0x40, 0, udh16 + bytes([0xD0, 0x34])))
    stream = pdu(0x15, seq=1) + pdu(0x80000004, cstr("1A2B"), seq=2) + pdu(0x80000004, status=0x58, seq=3)
    stream += pdu(0x80000004, b"\0", status=0x14, seq=4) + pdu(0x80000000, status=3, seq=5) + pdu(0x06, seq=6)
    write(t, "stream_responses", b"\x00" + stream)
    write(t, "partial_frame", b"\x00" + deliver("1", "2", 0, 0, b"hi")[:30])


def receipts():
    t = "receipt_text"
    write(t, "classic", RECEIPT)
    write(t, "seconds_case", "ID:abc SUB:001 DLVRD:000 Submit Date:261125224059 Done_Date:261125230001 Stat:undeliv Err:034")
    write(t, "text_with_keys", "id:7 stat:EXPIRED Text:stat:DELIVRD id:9")
    write(t, "hex_id", "id:0x00FFee stat:DELIVRD")
    write(t, "long_decimal", "id:" + "9" * 45 + " stat:ACCEPTD done date:2612312359")
    write(t, "not_a_receipt", "hello, are you there?")


def udh():
    t = "udh_concat"
    # selector (bit 0: packed; bits 6-7: udh8, udh16, sar, message_payload), options, ref, text
    long_gsm = "The quick brown fox jumps over the lazy dog {0} [x] € ".replace("{0}", "{}") * 4
    write(t, "udh8_short", bytes([0x00, 0x00, 0x12, 0x34]) + b"Your code is 123456")
    write(t, "udh8_long", bytes([0x00, 0x00, 0x12, 0x34]) + long_gsm.encode())
    write(t, "udh16_packed_long", bytes([0x41, 0x00, 0xAB, 0xCD]) + long_gsm.encode())
    write(t, "sar_ucs2", bytes([0x80, 0x00, 0x00, 0x07]) + ("Привет 😀 " * 20).encode())
    write(t, "payload_smart", bytes([0xC0, 0x01, 0x00, 0x01]) + ("“smart” quotes — dashes " * 10).encode())
    write(t, "udh_raw", bytes([0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]) + b"hello")


def api():
    t = "api_json"
    bodies = {
        "otp": {"to": "+447700900123", "from": "ACME", "text": "Your code is 123456", "priority": "otp"},
        "marketing": {"to": "+14155550123", "from": "12345", "text": "Sale! 20% off", "type": "marketing",
                      "client_ref": "c-1", "callback_url": "https://example.com/cb"},
        "unicode_long": {"to": "+33612345678", "from": "+33612345679", "text": "😀 café " * 30,
                         "priority": "bulk", "smart_encoding": True},
        "bad_number": {"to": "12345", "from": "ACME", "text": "x"},
        "unknown_field": {"to": "+447700900123", "from": "ACME", "text": "x", "extra": 1},
    }
    for name, body in bodies.items():
        write(t, name, json.dumps(body, ensure_ascii=False))


if __name__ == "__main__":
    smpp()
    receipts()
    udh()
    api()
