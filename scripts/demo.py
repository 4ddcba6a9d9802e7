#!/usr/bin/env python3
"""Sends a few messages through the running platform and shows them delivered.

    scripts/demo.py [BASE_URL] [API_KEY]

Defaults: http://127.0.0.1:8080 and the local demo key. Exit status 1 if a message does not
reach a final status within 30 s.
"""
import json
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
KEY = sys.argv[2] if len(sys.argv) > 2 else "sk_local_demo"
FINAL = {"delivered", "undelivered", "expired", "rejected", "failed", "unknown"}


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method, headers={
        "Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


messages = [
    {"to": "+447700900001", "from": "ACME", "text": "Your ACME code is 482913", "priority": "otp"},
    {"to": "+447700900002", "from": "ACME", "text": "Votre colis arrive demain 🚚 — merci !", "priority": "transactional"},
    {"to": "+447700900003", "from": "ACME", "text": "Winter sale: " + "everything must go, " * 12 + "see you soon.",
     "priority": "bulk", "type": "marketing"},
]
ids = []
for m in messages:
    status, body = call("POST", "/v1/messages", m)
    print(f"POST /v1/messages ({m['priority']}) -> {status} id={body.get('id')} "
          f"status={body.get('status')} encoding={body.get('encoding')} segments={body.get('segments')}")
    if status != 202:
        print(json.dumps(body, indent=2))
        sys.exit(1)
    ids.append(body["id"])

deadline = time.time() + 30
pending = set(ids)
views = {}
while pending and time.time() < deadline:
    for i in list(pending):
        status, body = call("GET", f"/v1/messages/{i}")
        if status == 200 and body.get("status") in FINAL:
            views[i] = body
            pending.discard(i)
    time.sleep(0.3)

for i in ids:
    v = views.get(i)
    if v is None:
        print(f"{i}: no final status within 30 s")
        continue
    steps = " -> ".join(e["step"] for e in v["timeline"])
    print(f"\n{i}: {v['status'].upper()} via {v['carrier_id']} ({v['segments']} segment(s), {v['encoding']})")
    print(f"  timeline: {steps}")
sys.exit(1 if pending else 0)
