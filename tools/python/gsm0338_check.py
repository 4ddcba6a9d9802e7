#!/usr/bin/env python3
"""An outside GSM 03.38 implementation (PyPI `gsm0338`) for smsflow's tests.

    gsm0338_check.py table        -> {"text": every character of the basic table (but ESC)
                                      followed by every character of the extension table}
    gsm0338_check.py decode HEX   -> {"text": unpacked septets HEX decoded, "encoded": the
                                      decoded text encoded again, as hex}
"""
import json
import sys

from gsm0338 import Codec
from gsm0338.charset import BASIC_CHARACTER_SET, BASIC_CHARACTER_SET_EXTENSION

ESCAPE = 0x1B


def table():
    codec = Codec()
    basic = bytes(k for k in sorted(BASIC_CHARACTER_SET) if k != ESCAPE)
    extension = b"".join(bytes((ESCAPE, k)) for k in sorted(BASIC_CHARACTER_SET_EXTENSION))
    text, _ = codec.decode(basic + extension)
    return {"text": text}


def decode(hex_septets):
    codec = Codec()
    text, _ = codec.decode(bytes.fromhex(hex_septets))
    encoded, _ = codec.encode(text)
    return {"text": text, "encoded": encoded.hex()}


def main():
    if sys.argv[1:2] == ["table"]:
        out = table()
    elif sys.argv[1:2] == ["decode"] and len(sys.argv) == 3:
        out = decode(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
