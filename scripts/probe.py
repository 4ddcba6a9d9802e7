#!/usr/bin/env python3
"""Readiness probes with the standard library only.

    probe.py kafka HOST PORT      Kafka ApiVersions v0 answered without error
    probe.py cql HOST PORT        CQL STARTUP + SELECT release_version FROM system.local
    probe.py http URL             HTTP GET answered 2xx

Exit status 0 when ready, 1 otherwise. Used by scripts/stack.sh.
"""
import re
import socket
import struct
import sys
import urllib.request


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed")
        b += c
    return b


def kafka(host, port):
    # ApiVersions v0 (api_key 18), request header v1, empty body.
    cid = b"smsflow-probe"
    req = struct.pack(">hhih", 18, 0, 1, len(cid)) + cid
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(struct.pack(">i", len(req)) + req)
        (size,) = struct.unpack(">i", recv_exact(s, 4))
        body = recv_exact(s, size)
        corr, err = struct.unpack(">ih", body[:6])
        return corr == 1 and err == 0


def cql(host, port):
    def frame(op, body, stream):
        return struct.pack(">BBhBi", 4, 0, stream, op, len(body)) + body

    def sstr(x):
        x = x.encode()
        return struct.pack(">H", len(x)) + x

    def read(s):
        _ver, _flags, _stream, op, ln = struct.unpack(">BBhBi", recv_exact(s, 9))
        return op, recv_exact(s, ln)

    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(frame(0x01, struct.pack(">H", 1) + sstr("CQL_VERSION") + sstr("3.0.0"), 1))
        op, _ = read(s)
        if op != 0x02:  # READY
            return False
        q = b"SELECT release_version FROM system.local"
        s.sendall(frame(0x07, struct.pack(">i", len(q)) + q + struct.pack(">HB", 1, 0), 2))
        op, body = read(s)
        if op != 0x08:  # RESULT
            return False
        m = re.search(rb"\d+\.\d+(\.\d+)?", body)
        print(m.group(0).decode() if m else "?")
        return True


def http(url):
    with urllib.request.urlopen(url, timeout=3) as r:
        return 200 <= r.status < 300


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    try:
        ok = {"kafka": kafka, "cql": cql, "http": http}[kind](*args)
    except Exception:
        ok = False
    sys.exit(0 if ok else 1)
