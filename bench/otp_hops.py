#!/usr/bin/env python3
"""Where an OTP's time goes, hop by hop, from a kept OTP-scenario run.

    BENCH_SCENARIOS=otp BENCH_KEEP_TOPICS=1 make bench
    tools/python/.venv/bin/python bench/otp_hops.py .stack/bench/<stamp>/otp-under-bulk.ids.tsv bench-<stamp>-otp.
    target/release/loadgen delete-topics --prefix bench-<stamp>-otp.

Reads the run's `sms.routing.otp` and `sms.attempts` (records of the OTP destinations only, by
key and the event-type header) and prints percentiles of: accept (the 202, from the ids file)
→ `RoutingDecided` → `AttemptStarted` → `AttemptSubmitted`, each taken as its record's create
time (when the producing service handed it to its Kafka client). Needs confluent-kafka
(`make tools` installs it in tools/python/.venv).
"""
import csv
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

BOOTSTRAP = "127.0.0.1:9092"


def scan(topic, kinds, want):
    """First create time per (destination, event type) of `kinds` on `topic`."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"otp-hops-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out, idle = {}, 0
    while idle < 5:
        batch = c.consume(5000, timeout=1.0)
        if not batch:
            idle += 1
            continue
        idle = 0
        for m in batch:
            if m.error() or not m.key():
                continue
            to = m.key().decode()
            if to not in want:
                continue
            kind = dict((k, v.decode()) for k, v in (m.headers() or [])).get("smsflow.event.type")
            if kind in kinds:
                out.setdefault((to, kind), m.timestamp()[1])
    c.close()
    return out


def pct(v):
    v.sort()
    n = len(v)
    return f"n={n} p50={v[n // 2]:.0f} p90={v[int(n * .9)]:.0f} p99={v[min(n - 1, int(n * .99))]:.0f} max={v[-1]:.0f} ms"


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    ids, prefix = sys.argv[1], sys.argv[2]
    accepted = {r["to"]: int(r["accept_us"]) / 1000 for r in csv.DictReader(open(ids), delimiter="\t")}
    want = set(accepted)
    t = scan(prefix + "sms.routing.otp", {"RoutingDecided"}, want)
    t.update(scan(prefix + "sms.attempts", {"AttemptStarted", "AttemptSubmitted"}, want))
    steps = [("accept", None), ("RoutingDecided", None), ("AttemptStarted", None), ("AttemptSubmitted", None)]
    for (a, _), (b, _) in zip(steps, steps[1:]):
        v = []
        for to, acc in accepted.items():
            ta = acc if a == "accept" else t.get((to, a))
            tb = t.get((to, b))
            if ta is not None and tb is not None:
                v.append(tb - ta)
        if v:
            print(f"{a + ' -> ' + b:40s} {pct(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
