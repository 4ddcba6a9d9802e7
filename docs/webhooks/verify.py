"""Verify an smsflow webhook call (Python 3, standard library only).

    from verify import verify_smsflow_signature
    ok = verify_smsflow_signature(request.headers["X-Smsflow-Signature"],
                                  request.get_data(), b"whsec_...")

Pass the body exactly as received (bytes), before any JSON parsing.
"""
import hashlib
import hmac
import time


def verify_smsflow_signature(header, body, secret, tolerance=300, now=None):
    """True when some v1 in `header` is HMAC-SHA256(secret, "t.body") and t is recent."""
    items = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in items if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().lstrip("-").isdigit():
        return False
    t = int(stamps[0])
    signed = str(t).encode() + b"." + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, v.strip()) for k, v in items if k.strip() == "v1"):
        return False
    return abs((time.time() if now is None else now) - t) <= tolerance


if __name__ == "__main__":
    # Used by crates/smsflow-webhooks/tests/snippets.rs: header, secret and now in the
    # environment, the body on stdin; exit 0 when the call verifies.
    import os
    import sys

    ok = verify_smsflow_signature(
        os.environ["SIGNATURE"], sys.stdin.buffer.read(), os.environ["SECRET"].encode(),
        now=int(os.environ["NOW"]))
    sys.exit(0 if ok else 1)
