#!/usr/bin/env python3
"""Issue 9's chaos suite (`make chaos`; `make chaos-smoke` is the short version CI runs).

For each target, on a platform of its own (fresh topic prefix and keyspace): tools/loadgen
sends at a steady rate (mixed OTP, transactional and bulk, every n-th message two segments)
while the target is killed with SIGKILL at random moments and restarted the way `make up`
starts it (services: scripts/platform.sh, Kafka and Cassandra: scripts/stack.sh). Then every
202-accepted id is read back from the API's view and the simulator's ledger is asked for
duplicates: a message is right when it reads `delivered` (the simulated carrier delivers
everything) and its segments were accepted by the carrier once. Writes
bench/reports/chaos-<date>.md; exits 1 if any check in CHAOS_ENFORCE failed.

Standard library only; reuses bench/run.py's platform handling. Knobs (defaults in brackets):

    CHAOS_TARGETS   ingest,router,dispatcher,dlr-ingester,analytics,kafka,cassandra,dispatchers,
                    link-drops
                    (dispatchers: two dispatcher processes in one group, on a carrier that
                    refuses 2 % of submits for a moment, so retries are pending; each round
                    stalls one of them past its session (SIGSTOP 12-16 s, then SIGCONT), kills
                    it (SIGKILL, restart) or stops it (SIGTERM, restart), in turn: every round
                    is at least two rebalances, the stall one with a member that resumes
                    mid-submit after the group gave its partitions away)
                    (cassandra: Cassandra is first restarted to acknowledge writes only
                    after its commit log is synced, as a replicated cluster loses no
                    acknowledged write to one node's kill; periodic again afterwards)
                    kafka-outage: the broker SIGKILLed once and kept down CHAOS_OUTAGE_SECS
                    (60) while sending: every POST must answer within 5 s (202 or 503), and a
                    503 that does not say the outcome is unknown must not reach the carrier;
                    carrier-outage (not in the default list' rounds: one outage): two carriers
                    (config/two-carriers: OTP and transactional on `sim` failing over to
                    `sim-b`, bulk on `sim-b`), `sim` down CHAOS_CARRIER_DOWN_SECS (120): the
                    report shows each lane's carrier submits per 10 s and how long the OTPs
                    accepted during the outage took to reach a carrier
                    link-drops: every SMPP link dropped by the carrier at once, unanswered
                    (carrier-sim `POST /connections/drop`), on a carrier answering in
                    20-200 ms: the submits whose answers were lost have an unknown outcome
    CHAOS_ROUNDS    20       kills per target
    CHAOS_DURATION  -        seconds of load per target (default: rounds x 12 s for a service,
                             45 s Kafka, 110 s Cassandra, 30 s two dispatchers, 40 s link drops);
                             the rounds stop when it ends, and the report says how many ran
    CHAOS_RATE      200      messages per second
    CHAOS_MIX       otp=1,transactional=1,bulk=2
    CHAOS_MULTIPART 5        every n-th message has two segments (0: none)
    CHAOS_GAP       2-5      seconds between a target being back and the next kill (services;
                             Kafka: 5-15, Cassandra: 30-60)
    CHAOS_ENFORCE   lost,duplicates,stuck,failed   what makes the run fail (expired_unsent:
                             ended `expired` before any segment was sent, counted apart from
                             failed; add it to fail on a platform that fell behind)
    CHAOS_DRAIN     600      seconds to wait for every message to read `delivered` after the
                             load (an `unknown` never does: shorten it when debugging)
    CHAOS_PROFILE   release  cargo profile of the binaries (CI: debug, already built)
    BENCH_BUILD     1        0: do not build
    CHAOS_REPORT_DIR bench/reports
"""
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_PROFILE", os.environ.get("CHAOS_PROFILE", "release"))
os.environ.setdefault("BENCH_VERIFY_TIMEOUT", "120")
# A message on the 10-minute retry tier is scheduled, not stuck: waited for past the 120 s,
# as long as the longest chain of tiers takes (5 s + 1 min + 10 min) from a failure at the end
# of the load, with a margin (660 s once read one such message `retrying` a minute too early).
os.environ.setdefault("BENCH_VERIFY_RETRYING_TIMEOUT", "780")
import run as bench  # noqa: E402  (bench/run.py)

SERVICE_TARGETS = ["ingest", "router", "dispatcher", "dlr-ingester", "analytics"]
STACK_TARGETS = ["kafka", "cassandra"]
# Two dispatchers in one group, and what each round does to one of them.
PAIR_TARGETS = ["dispatchers"]
PAIR_ENV = {"SMSFLOW_DISPATCHERS": "2", "SMSFLOW_SIM_SCENARIO": "retrying.toml"}
PAIR_ACTIONS = ["stall", "kill", "stop"]
# The carrier drops every SMPP link at once (unanswered), on a carrier answering in 20-200 ms.
LINK_TARGETS = ["link-drops"]
LINK_ENV = {"SMSFLOW_SIM_SCENARIO": "link-drops.toml"}
# One long outage each, not rounds of kills.
OUTAGE_TARGETS = ["kafka-outage", "carrier-outage"]
CARRIERS_ENV = {"SMSFLOW_PLATFORM_CONFIG": str(bench.ROOT / "config/two-carriers"),
                "SMSFLOW_SIM_SCENARIO": "two-carriers.toml"}
SIM = "http://127.0.0.1:8090"
# What an answer may take, whatever the broker does (issue 9, item 7).
ANSWER_SLO_MS = 5000
# Seconds to wait for every message to read `delivered` after the load (CHAOS_DRAIN).
DRAIN_TIMEOUT = int(os.environ.get("CHAOS_DRAIN", "600"))
# Ids that are not `delivered` and not terminal either: stuck.
TERMINAL_NOT_DELIVERED = {"failed", "undelivered", "expired", "rejected", "canceled"}
# Final, but neither delivered nor failed: the dispatcher died mid-submit and the carrier may
# have it (ADR 12, decision 15). Counted apart, with how many the carrier accepted.
UNKNOWN = "unknown"


def say(msg):
    print(f"[chaos] {msg}", flush=True)


def env(name, default):
    return bench.env(name, default)


def gap(target):
    # Cassandra: up at least 30 s between kills. A node back from a kill here takes ~10 s to
    # serve at speed again (its JIT, the commit log it replayed, leases claimed anew); up for
    # only 5-15 s between kills of ~36 s, the store was down three quarters of 15 minutes
    # and no platform on one node could keep OTPs within their 10-minute validity (ADR 12,
    # decision 20).
    lo, hi = {"kafka": (5, 15), "cassandra": (30, 60)}.get(target, (2, 5))
    g = env("CHAOS_GAP", "")
    if g and target not in STACK_TARGETS:
        lo, hi = (float(x) for x in g.split("-"))
    return random.uniform(lo, hi)


def pid_of(target):
    if target in STACK_TARGETS:
        return bench.pid_file(target) or bench.pgrep(bench.STACK_PATTERNS[target])
    return bench.pid_file(target)


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def gone(pid, target):
    """Waits until the killed process is gone (a zombie counts as gone: nothing here may reap
    it), then removes its pid file, so the start scripts start it again instead of finding
    the zombie "running"."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except (OSError, IndexError):
            break
        time.sleep(0.05)
    try:
        (bench.STACK_DIR / "pids" / target).unlink()
    except OSError:
        pass


class Chaos:
    def __init__(self):
        self.b = bench.Bench(smoke=False)
        self.b.mode = "restart"
        self.rounds = bench.env_int("CHAOS_ROUNDS", 20)
        self.rate = float(env("CHAOS_RATE", 200))
        self.mix = env("CHAOS_MIX", "otp=1,transactional=1,bulk=2")
        self.multipart = bench.env_int("CHAOS_MULTIPART", 5)
        self.log = self.b.work / "chaos.log"

    def restart(self, target):
        if target in STACK_TARGETS:
            self.b.run(["scripts/stack.sh", "start"], log=self.log)
        else:
            e = self.b.platform_env(self.b.current_prefix, None)
            pair = PAIR_ENV if target in PAIR_TARGETS else {}
            self.b.run(["scripts/platform.sh", "start"],
                       {**e, **pair, "SMSFLOW_PROFILE": self.b.profile}, log=self.log)

    def pair_round(self, n):
        """Round `n` of the two-dispatcher target: one of them stalled, killed or stopped, in
        turn; returns (what was done, seconds until both were back)."""
        victim = ["dispatcher", "dispatcher-2"][n % 2]
        action = PAIR_ACTIONS[n % len(PAIR_ACTIONS)]
        pid = bench.pid_file(victim)
        if not pid:
            self.restart("dispatchers")
            pid = bench.pid_file(victim)
        at = time.time()
        if action == "stall":
            # Past the 10 s session timeout: the group gives its partitions to the other, which
            # may take them once the leases lapse; then it resumes where it stood.
            os.kill(pid, signal.SIGSTOP)
            time.sleep(random.uniform(12, 16))
            os.kill(pid, signal.SIGCONT)
        elif action == "kill":
            os.kill(pid, signal.SIGKILL)
            gone(pid, victim)
            time.sleep(random.uniform(0.2, 1.5))
            self.restart("dispatchers")
        else:
            self.b.run(["kill", "-TERM", str(pid)], log=self.log, check=False)
            deadline = time.time() + 40
            while time.time() < deadline and Path(f"/proc/{pid}").exists() and not zombie(pid):
                time.sleep(0.2)
            gone(pid, victim)
            self.restart("dispatchers")
        return f"{action} {victim}", time.time() - at

    def cassandra_sync(self, mode):
        """Restarts Cassandra acknowledging writes `periodic`ally or after a `group` sync of
        its commit log (scripts/stack.sh; ADR 12, decision 14)."""
        os.environ["SMSFLOW_STACK_CASSANDRA_COMMITLOG_SYNC"] = mode
        only = self.b.work / "only-cassandra"
        only.write_text("cassandra\n")
        self.b.run(["scripts/stack.sh", "stop", "--only", str(only)], log=self.log)
        self.b.run(["scripts/stack.sh", "start"], log=self.log)
        say(f"cassandra restarted with commitlog_sync: {mode}")

    def one(self, target):
        if target in OUTAGE_TARGETS:
            return self.outage(target)
        if target == "cassandra":
            # Production loses no acknowledged write to one node's kill (RF 3, LOCAL_QUORUM);
            # this single node stands in for that only when it syncs before acknowledging.
            self.cassandra_sync("group")
            try:
                return self.rounds_of(target)
            finally:
                self.cassandra_sync("periodic")
        return self.rounds_of(target)

    def rounds_of(self, target):
        self.b.fresh(f"chaos-{target}", extra_env=PAIR_ENV if target in PAIR_TARGETS
                     else LINK_ENV if target in LINK_TARGETS else None)
        # Enough sending for every round: the gap, the restart, a margin.
        # link-drops: the SMPP client's reconnect backoff doubles up to 30 s while links keep
        # dropping within 30 s of their bind (crates/smsflow-smpp, session.rs).
        per_round = {"kafka": 45, "cassandra": 110, "dispatchers": 30, "link-drops": 40}.get(target, 12)
        duration = float(env("CHAOS_DURATION", max(20, self.rounds * per_round)))
        out = {}

        def load():
            out["r"] = self.b.loadgen(
                f"chaos-{target}", self.rate, duration=duration, mix=self.mix,
                drain_timeout=DRAIN_TIMEOUT, latency="", extra=["--multipart-every", str(self.multipart)]
                if self.multipart else [])

        t = threading.Thread(target=load)
        t.start()
        time.sleep(3)
        kills, restart_secs = [], []
        started = time.time()
        while len(kills) < self.rounds and t.is_alive() and time.time() - started < duration - 5:
            time.sleep(gap(target))
            if target in PAIR_TARGETS:
                what, back = self.pair_round(len(kills))
                kills.append(time.time() - started)
                restart_secs.append(back)
                say(f"{target}: round {len(kills)}: {what}, both back after {back:.1f} s")
                continue
            if target in LINK_TARGETS:
                before = bound_sessions()
                at = time.time()
                post(f"{SIM}/connections/drop", {})
                kills.append(at - started)
                restart_secs.append(rebound(before))
                say(f"{target}: round {len(kills)}: links dropped at {kills[-1]:.1f} s, "
                    f"{before} sessions bound again after {restart_secs[-1]:.1f} s")
                continue
            pid = pid_of(target)
            if not pid:
                say(f"{target} not running before round {len(kills) + 1}; starting it")
                self.restart(target)
                continue
            os.kill(pid, signal.SIGKILL)
            at = time.time()
            gone(pid, target)
            kills.append(at - started)
            # Not restarted at once: whatever was in flight finds it gone.
            time.sleep(random.uniform(0.2, 1.5))
            self.restart(target)
            restart_secs.append(time.time() - at)
            say(f"{target}: round {len(kills)} killed at {kills[-1]:.1f} s, back after "
                f"{restart_secs[-1]:.1f} s")
        t.join()
        r = out.get("r")
        if r is None:
            raise SystemExit(f"[chaos] no loadgen result for {target}")
        # Before the next target restarts the simulator (and its ledger) and the view.
        ids = self.b.work / f"chaos-{target}.ids.tsv"
        dups = duplicates_by_priority(ids)
        row = {"target": target, "kills": len(kills), "restart_secs": restart_secs, "result": r,
               "dups": dups}
        if sum(verdict(row)[k] for k in ("lost", "stuck", "failed", "unknown")):
            row["not_delivered"], row["at_carrier"] = explain(ids)
        return row

    def outage(self, target):
        """One long outage under load: the broker (kafka-outage) or one of two carriers
        (carrier-outage), `before` s into the run, for `down` s."""
        carriers = target == "carrier-outage"
        self.b.fresh(f"chaos-{target}", extra_env=CARRIERS_ENV if carriers else None)
        down = float(env("CHAOS_CARRIER_DOWN_SECS" if carriers else "CHAOS_OUTAGE_SECS",
                         120 if carriers else 60))
        before, after = 20.0, 40.0
        refused = self.b.work / f"chaos-{target}.refused.tsv"
        out = {}

        def load():
            out["r"] = self.b.loadgen(
                f"chaos-{target}", self.rate, duration=before + down + after, mix=self.mix,
                drain_timeout=DRAIN_TIMEOUT, latency="",
                extra=["--refused-out", str(refused), "--answer-slo-ms", str(ANSWER_SLO_MS)]
                + (["--multipart-every", str(self.multipart)] if self.multipart else []))

        t = threading.Thread(target=load)
        t.start()
        time.sleep(before)
        at = time.time()
        if carriers:
            post(f"{SIM}/outage", {"system_id": "smsflow", "secs": down})
            say(f"{target}: carrier sim down for {down:.0f} s")
            time.sleep(down)
        else:
            pid = pid_of("kafka")
            os.kill(pid, signal.SIGKILL)
            gone(pid, "kafka")
            say(f"{target}: broker killed, down for {down:.0f} s")
            time.sleep(down)
            self.restart("kafka")
        back = time.time() - at
        say(f"{target}: back after {back:.1f} s")
        t.join()
        r = out.get("r")
        if r is None:
            raise SystemExit(f"[chaos] no loadgen result for {target}")
        ids = self.b.work / f"chaos-{target}.ids.tsv"
        row = {"target": target, "kills": 1, "restart_secs": [back], "result": r,
               "dups": duplicates_by_priority(ids), "outage": (at, at + back),
               "refused": refused_sent(refused)}
        if carriers:
            row["lanes"] = lane_rates(ids, at, at + back)
        if sum(verdict(row)[k] for k in ("lost", "stuck", "failed", "unknown")):
            row["not_delivered"], row["at_carrier"] = explain(ids)
        return row


def post(url, body, timeout=60):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def bound_sessions():
    """SMPP sessions the dispatcher has bound to the simulator now (its metrics)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:8083/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("smsflow_smpp_sessions_bound_sessions{"):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def rebound(sessions, timeout=60):
    """Seconds until the dispatcher has `sessions` bound again (at most `timeout`)."""
    at = time.time()
    time.sleep(0.2)
    while time.time() - at < timeout and bound_sessions() < sessions:
        time.sleep(0.1)
    return time.time() - at


def ledger(dests):
    """The simulator's ledger entry of each destination, 5,000 at a time."""
    out = []
    for i in range(0, len(dests), 5000):
        out += post(f"{SIM}/ledger/submit-times", {"destinations": dests[i:i + 5000]})
    return out


def ids_rows(ids_file):
    """(index, id, priority, to, intended_us, sent_us, accept_us) per accepted message."""
    return [line.split("\t") for line in Path(ids_file).read_text().splitlines()[1:]]


def refused_sent(refused_file):
    """The POSTs not answered 202, by answer, and how many of them reached the carrier all
    the same: those told the outcome is unknown may; the others must not."""
    try:
        rows = [line.split("\t") for line in Path(refused_file).read_text().splitlines()[1:]]
    except OSError:
        return None
    # index, destination, priority, status, told_unknown, retry_after, answer_ms
    by_status, told = {}, {}
    for r in rows:
        by_status[r[3]] = by_status.get(r[3], 0) + 1
        told[r[1]] = r[4] == "1"
    sent = {"told_unknown": 0, "not_told": 0}
    for d in ledger(list(told)) if told else []:
        if d.get("accepted", 0) > 0:
            sent["told_unknown" if told.get(d["destination"]) else "not_told"] += 1
    return {"count": len(rows), "by_status": by_status,
            "told_unknown": sum(told.values()), "sent": sent}


def lane_rates(ids_file, start, end, bucket=10):
    """Carrier submits per second of each priority through each carrier account, per
    `bucket` s (from the ledger's first submit of each message), and the accept → first
    carrier submit time of the OTPs accepted during the outage."""
    rows = ids_rows(ids_file)
    prio = {r[3]: (r[2], int(r[6])) for r in rows}
    series, otp_waits = {}, []
    t0 = min((v[1] for v in prio.values()), default=0)
    for d in ledger(list(prio)):
        p, accept_us = prio.get(d["destination"], ("?", 0))
        first = d.get("first_submit_us") or 0
        if not first:
            continue
        via = "+".join(d.get("system_ids") or ["?"])
        b = int((first - t0) / 1e6 // bucket)
        key = (p, via)
        series.setdefault(key, {})
        series[key][b] = series[key].get(b, 0) + 1
        if p == "otp" and start * 1e6 <= accept_us <= end * 1e6:
            otp_waits.append((first - accept_us) / 1e6)
    otp_waits.sort()
    q = (lambda f: otp_waits[min(len(otp_waits) - 1, int(f * len(otp_waits)))]) if otp_waits else None
    return {"t0_us": t0, "bucket": bucket, "outage_s": ((start * 1e6 - t0) / 1e6, (end * 1e6 - t0) / 1e6),
            "series": {f"{p} via {v}": {b: n / bucket for b, n in sorted(c.items())}
                       for (p, v), c in sorted(series.items())},
            "otp_during": {"count": len(otp_waits), "p50": q and q(0.5), "p99": q and q(0.99),
                           "max": otp_waits[-1] if otp_waits else None}}


def duplicates_by_priority(ids_file):
    """Messages the carrier accepted a segment of more than once, by priority, from the
    simulator's ledger: an OTP may be resent when its outcome was unknown (flagged ambiguous,
    the OTP policy); any other duplicate breaks guarantee 3."""
    prio = {}
    try:
        for line in Path(ids_file).read_text().splitlines()[1:]:
            f = line.split("\t")
            prio[f[3]] = f[2]
    except (OSError, IndexError):
        return None
    out = {}
    for d in ledger(list(prio)):
        if d.get("duplicate_segments", 0) > 0:
            p = prio.get(d["destination"], "?")
            out[p] = out.get(p, 0) + 1
    return out


def explain(ids_file, limit=20):
    """The messages that do not read `delivered`: id, priority, status and reason from the
    view, and how many times the carrier accepted their segments (no number, no text)."""
    from concurrent.futures import ThreadPoolExecutor

    rows = ids_rows(ids_file)

    def view(row):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:8085/v1/messages/{row[1]}", timeout=10) as r:
                v = json.load(r)
        except Exception as e:  # noqa: BLE001 (a 404 is "not_found")
            v = {"status": "not_found" if "404" in str(e) else f"error: {e}"}
        return row, v

    with ThreadPoolExecutor(16) as pool:
        bad = [(row, v) for row, v in pool.map(view, rows) if v.get("status") != "delivered"]
    by_dest = {d["destination"]: d for d in ledger([row[3] for row, _ in bad])} if bad else {}
    # Listed first: the statuses other than `unknown` (the list is cut at `limit`).
    bad.sort(key=lambda b: b[1].get("status") == UNKNOWN)
    out, summary, every = [], {}, []
    for row, v in bad:
        led = by_dest.get(row[3]) or {}
        accepted, segments = led.get("accepted", 0), led.get("segments", 0)
        # Of each status, how many the carrier has (all segments), part of, or none of: by
        # the segments it accepted (the ledger also stores a segment it refused).
        taken = min(segments, accepted - led.get("duplicate_segments", 0))
        have = ("none" if taken <= 0 else "all" if taken >= (v.get("segments") or 1)
                else "part")
        status = v.get("status")
        summary.setdefault(status, {"all": 0, "part": 0, "none": 0})[have] += 1
        every.append(f"{row[1]}\t{row[2]}\t{status}\t{v.get('status_reason') or ''}\t{have}\n")
        if len(out) < limit:
            out.append({"id": row[1], "priority": row[2], "status": status,
                        "reason": v.get("status_reason"), "carrier_accepted": accepted,
                        "segments": v.get("segments"), "segments_at_carrier": segments,
                        "attempts": v.get("attempts")})
    # Every one of them, to find in the services' logs by id (ids only: no number, no text).
    with open(f"{ids_file}.not-delivered.tsv", "w") as f:
        f.write("message_id\tpriority\tstatus\treason\tat_carrier\n")
        f.writelines(every)
    return out, summary


def verdict(row):
    r = row["result"]
    nd = dict((r.get("verify") or {}).get("not_delivered") or {})
    lost = nd.pop("not_found", 0)
    unknown = nd.pop(UNKNOWN, 0)
    stuck = sum(v for k, v in nd.items() if k not in TERMINAL_NOT_DELIVERED)
    failed = sum(v for k, v in nd.items() if k in TERMINAL_NOT_DELIVERED)
    # Ended `expired` with nothing at the carrier: its validity ended while it waited (the
    # validity guard, issue 9 item 8): not a message the carrier had and the view failed,
    # but the platform falling behind; counted apart (known once the ledger was asked).
    expired_unsent = ((row.get("at_carrier") or {}).get("expired") or {}).get("none", 0)
    failed -= expired_unsent
    dups = row.get("dups")
    if dups is None:
        # The ledger could not be asked per message: every duplicate segment counts.
        dup, otp = r.get("duplicates") or 0, 0
    else:
        otp = dups.get("otp", 0)
        dup = sum(n for p, n in dups.items() if p != "otp")
    out = {"lost": lost, "stuck": stuck, "failed": failed, "expired_unsent": expired_unsent,
           "unknown": unknown, "duplicates": dup,
           "otp_resent": otp, "statuses": nd}
    answers = r.get("answers") or {}
    if "outage" in row:
        # Every POST answered within the SLO, and no refusal that did not say the outcome is
        # unknown reached the carrier.
        out["slow_answers"] = (answers.get("over_ms") or {}).get(str(ANSWER_SLO_MS), 0)
        out["refused_sent"] = ((row.get("refused") or {}).get("sent") or {}).get("not_told", 0)
    return out


def source():
    """The commit the run's binaries were built from (taken when it starts), and whether
    the tree had changes."""
    return (bench.git("rev-parse", "--short=12", "HEAD"),
            " (uncommitted changes)" if bench.git("status", "--porcelain", "--untracked-files=no")
            else "")


def write_report(rows, started, enforce, src, path=None):
    """Writes the report of the targets done so far (again after each target, to the same
    `path` once chosen, so an interrupted run keeps what it found); returns its path."""
    d = Path(env("CHAOS_REPORT_DIR", bench.ROOT / "bench/reports"))
    d.mkdir(parents=True, exist_ok=True)
    if path is None:
        path = d / f"chaos-{dt.date.today().isoformat()}.md"
        if path.exists():
            path = d / f"chaos-{dt.datetime.now().strftime('%Y-%m-%d-%H%M')}.md"
    commit, dirty = src
    lines = [
        f"# Chaos run, {dt.date.today().isoformat()}",
        "",
        f"- commit `{commit}`{dirty}, {bench.env('BENCH_PROFILE', 'release')} binaries; command: "
        f"`CHAOS_TARGETS={','.join(r['target'] for r in rows)} CHAOS_ROUNDS={env('CHAOS_ROUNDS', 20)} "
        f"python3 bench/chaos.py`",
        f"- load: {env('CHAOS_RATE', 200)} msg/s, mix {env('CHAOS_MIX', 'otp=1,transactional=1,bulk=2')}, "
        f"every {env('CHAOS_MULTIPART', 5)}th message two segments; each target on a platform of its own",
        "- each round: SIGKILL at a random moment, 0.2–1.5 s down, restarted as `make up` starts it "
        "(`dispatchers`: two dispatchers in one group on a carrier refusing 2 % of submits for a moment; "
        "each round stalls one past its session with SIGSTOP 12–16 s, kills or stops it, in turn: "
        "at least two rebalances a round; `link-drops`: the carrier drops every SMPP link at once, "
        "unanswered, on a carrier answering in 20–200 ms; the time is until the dispatcher is bound again)",
        "- right = reads `delivered` in the view (the simulated carrier delivers everything) and "
        "accepted by the carrier once per segment (simulator ledger); an OTP accepted twice is "
        "counted apart: the OTP policy resends an unknown outcome (flagged `ambiguous`)",
        f"- enforced: {', '.join(enforce)}; took {(time.time() - started) / 60:.0f} min",
        "",
        "- `unknown` = final, the carrier may have it (a dispatcher died mid-submit, or a link dropped "
        "with its answer; ADR 12, decision 15): "
        "not `failed`; counted apart, and listed below with what the carrier's ledger says",
        "- `expired unsent` = ended `expired` with none of its segments at the carrier: its "
        "validity ended while it waited in the backlog (the validity guard, issue 9 item 8); "
        "`failed` counts every other terminal status but `delivered`, among them an `expired` "
        "the carrier had",
        "",
        "| target | kills | restart (s, median) | accepted (202) | refused (503 / no answer) | delivered | lost | stuck | failed | expired unsent | unknown | duplicates (not OTP) | OTPs resent (policy) | other statuses | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r, v = row["result"], verdict(row)
        rs = sorted(row["restart_secs"])
        med = f"{rs[len(rs) // 2]:.1f}" if rs else "-"
        bad = [k for k in enforce if v.get(k)]
        lines.append(
            f"| {row['target']} | {row['kills']} | {med} | {r['accepted']:,} | {r['failed']:,} | "
            f"{r['delivered']:,} | {v['lost']} | {v['stuck']} | {v['failed']} | {v['expired_unsent']} | "
            f"{v['unknown']} | {v['duplicates']} | "
            f"{v['otp_resent']} | "
            f"{', '.join(f'{k}: {n}' for k, n in sorted(v['statuses'].items())) or '-'} | "
            f"{'**FAIL** (' + ', '.join(bad) + ')' if bad else 'ok'} |")
    for row in rows:
        if "outage" in row:
            lines += outage_lines(row)
    held = [(row["target"], st, n) for row in rows for st, n in (row.get("at_carrier") or {}).items()]
    if held:
        lines += ["", "Every message not delivered, by status: how many the carrier's ledger has all the "
                  "segments of, part of, or none of:", "",
                  "| target | status | all at the carrier | part | none |", "|---|---|---|---|---|"]
        lines += [f"| {t} | {st} | {n['all']} | {n['part']} | {n['none']} |" for t, st, n in held]
    details = [(row["target"], d) for row in rows for d in row.get("not_delivered") or []]
    if details:
        lines += ["", "Messages not delivered (from the view; the carrier's acceptances from the ledger):", "",
                  "| target | message id | priority | status | reason | attempts | segments | segments at the carrier | submits accepted |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for target, d in details:
            lines.append(f"| {target} | `{d['id']}` | {d['priority']} | {d['status']} | {d['reason'] or '-'} | "
                         f"{d['attempts']} | {d['segments']} | {d['segments_at_carrier']} | {d['carrier_accepted']} |")
    lines += ["", "Raw loadgen results (ids, series): `" + str(rows and rows[0]["result"].get("topic_prefix")) + "` …, "
              f"in `{Path(str(bench.STACK_DIR)) / 'bench'}`.", ""]
    path.write_text("\n".join(lines))
    return path


def outage_lines(row):
    """The answers during a broker outage, or the lanes' rates around a carrier's."""
    r, v = row["result"], verdict(row)
    a = r.get("answers") or {}
    ref = row.get("refused") or {}
    out = ["", f"### {row['target']}: one outage of {row['restart_secs'][0]:.0f} s", "",
           f"- POST answers: {a.get('count', 0):,}, p50 {a.get('p50_ms', 0):.0f} ms, "
           f"p99 {a.get('p99_ms', 0):.0f} ms, max {a.get('max_ms', 0):.0f} ms; "
           f"**{v['slow_answers']} slower than {ANSWER_SLO_MS} ms**",
           f"- not answered 202: {ref.get('count', 0):,} "
           f"({', '.join(f'{k}: {n:,}' for k, n in sorted((ref.get('by_status') or {}).items())) or '-'}); "
           f"told the outcome is unknown: {ref.get('told_unknown', 0):,}",
           f"- of those, reached the carrier all the same: told unknown "
           f"{(ref.get('sent') or {}).get('told_unknown', 0)}, **not told {v['refused_sent']}** (must be 0)"]
    lanes = row.get("lanes")
    if lanes:
        o = lanes["otp_during"]
        f = (lambda x: "-" if x is None else f"{x:.1f} s")
        lo, hi = lanes["outage_s"]
        out += [f"- OTPs accepted during the outage: {o['count']:,}; accept → first carrier submit "
                f"p50 {f(o['p50'])}, p99 {f(o['p99'])}, max {f(o['max'])}",
                f"- carrier submits per second, by priority and carrier account (`smsflow` = `sim`, "
                f"`smsflow-b` = `sim-b`), per {lanes['bucket']} s from the first accept; the outage "
                f"is {lo:.0f}–{hi:.0f} s", ""]
        names = list(lanes["series"])
        buckets = sorted({int(b) for c in lanes["series"].values() for b in c})
        out += ["| t (s) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for b in buckets:
            t = b * lanes["bucket"]
            mark = " (down)" if t + lanes["bucket"] > lo and t < hi else ""
            out.append(f"| {t}{mark} | " + " | ".join(
                f"{lanes['series'][n].get(b, lanes['series'][n].get(str(b), 0)):.0f}" for n in names) + " |")
    return out


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return 0
    started = time.time()
    every = SERVICE_TARGETS + STACK_TARGETS + PAIR_TARGETS + LINK_TARGETS + OUTAGE_TARGETS
    targets = bench.env_list("CHAOS_TARGETS", ",".join(every))
    unknown = [t for t in targets if t not in every]
    if unknown:
        raise SystemExit(f"[chaos] unknown targets: {', '.join(unknown)}")
    enforce = bench.env_list("CHAOS_ENFORCE", "lost,duplicates,stuck,failed")
    # The outage targets' own checks (absent from the other targets' verdicts).
    enforce += [k for k in ("slow_answers", "refused_sent") if k not in enforce]
    c = Chaos()
    src = source()
    c.b.build()
    c.b.prepare()
    rows, path = [], None
    try:
        for target in targets:
            say(f"target {target}: {c.rounds} rounds at {c.rate:.0f} msg/s")
            rows.append(c.one(target))
            v = verdict(rows[-1])
            say(f"target {target}: {rows[-1]['result']['accepted']} accepted, "
                f"{rows[-1]['result']['delivered']} delivered, {v}")
            path = write_report(rows, started, enforce, src, path)
    finally:
        c.b.finish()
    path = write_report(rows, started, enforce, src, path)
    say(f"report: {path}")
    failed = [r["target"] for r in rows if any(verdict(r).get(k) for k in enforce)]
    if failed:
        say(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
