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

    CHAOS_TARGETS   ingest,router,dispatcher,dlr-ingester,analytics,kafka,cassandra,dispatchers
                    (dispatchers: two dispatcher processes in one group, on a carrier that
                    refuses 2 % of submits for a moment, so retries are pending; each round
                    stalls one of them past its session (SIGSTOP 12-16 s, then SIGCONT), kills
                    it (SIGKILL, restart) or stops it (SIGTERM, restart), in turn: every round
                    is at least two rebalances, the stall one with a member that resumes
                    mid-submit after the group gave its partitions away)
    CHAOS_ROUNDS    20       kills per target
    CHAOS_RATE      200      messages per second
    CHAOS_MIX       otp=1,transactional=1,bulk=2
    CHAOS_MULTIPART 5        every n-th message has two segments (0: none)
    CHAOS_GAP       2-5      seconds between a target being back and the next kill (services;
                             Kafka and Cassandra: 5-15)
    CHAOS_ENFORCE   lost,duplicates,stuck,failed   what makes the run fail
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
import run as bench  # noqa: E402  (bench/run.py)

SERVICE_TARGETS = ["ingest", "router", "dispatcher", "dlr-ingester", "analytics"]
STACK_TARGETS = ["kafka", "cassandra"]
# Two dispatchers in one group, and what each round does to one of them.
PAIR_TARGETS = ["dispatchers"]
PAIR_ENV = {"SMSFLOW_DISPATCHERS": "2", "SMSFLOW_SIM_SCENARIO": "retrying.toml"}
PAIR_ACTIONS = ["stall", "kill", "stop"]
# Ids that are not `delivered` and not terminal either: stuck.
TERMINAL_NOT_DELIVERED = {"failed", "undelivered", "expired", "rejected", "canceled"}


def say(msg):
    print(f"[chaos] {msg}", flush=True)


def env(name, default):
    return bench.env(name, default)


def gap(target):
    lo, hi = (5, 15) if target in STACK_TARGETS else (2, 5)
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

    def one(self, target):
        self.b.fresh(f"chaos-{target}", extra_env=PAIR_ENV if target in PAIR_TARGETS else None)
        # Enough sending for every round: the gap, the restart, a margin.
        per_round = {"kafka": 45, "cassandra": 110, "dispatchers": 30}.get(target, 12)
        duration = max(20, self.rounds * per_round)
        out = {}

        def load():
            out["r"] = self.b.loadgen(
                f"chaos-{target}", self.rate, duration=duration, mix=self.mix,
                drain_timeout=600, latency="", extra=["--multipart-every", str(self.multipart)]
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
        row["not_delivered"] = explain(ids) if sum(verdict(row)[k] for k in
                                                   ("lost", "stuck", "failed")) else []
        return row


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
    dests = list(prio)
    for i in range(0, len(dests), 5000):
        body = json.dumps({"destinations": dests[i:i + 5000]}).encode()
        req = urllib.request.Request("http://127.0.0.1:8090/ledger/submit-times", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            for d in json.load(resp):
                if d.get("duplicate_segments", 0) > 0:
                    p = prio.get(d["destination"], "?")
                    out[p] = out.get(p, 0) + 1
    return out


def explain(ids_file, limit=20):
    """The messages that do not read `delivered`: id, priority, status and reason from the
    view, and how many times the carrier accepted their segments (no number, no text)."""
    from concurrent.futures import ThreadPoolExecutor

    rows = [line.split("\t") for line in Path(ids_file).read_text().splitlines()[1:]]

    def view(row):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:8085/v1/messages/{row[1]}", timeout=10) as r:
                v = json.load(r)
        except Exception as e:  # noqa: BLE001 (a 404 is "not_found")
            v = {"status": "not_found" if "404" in str(e) else f"error: {e}"}
        return row, v

    with ThreadPoolExecutor(16) as pool:
        bad = [(row, v) for row, v in pool.map(view, rows) if v.get("status") != "delivered"]
    out = []
    for row, v in bad[:limit]:
        body = json.dumps({"destinations": [row[3]]}).encode()
        req = urllib.request.Request("http://127.0.0.1:8090/ledger/submit-times", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            led = json.load(resp)
        accepted = led[0]["accepted"] if led else 0
        segments = led[0]["segments"] if led else 0
        out.append({"id": row[1], "priority": row[2], "status": v.get("status"),
                    "reason": v.get("status_reason"), "carrier_accepted": accepted,
                    "segments": v.get("segments"), "segments_at_carrier": segments,
                    "attempts": v.get("attempts")})
    return out


def verdict(row):
    r = row["result"]
    nd = dict((r.get("verify") or {}).get("not_delivered") or {})
    lost = nd.pop("not_found", 0)
    stuck = sum(v for k, v in nd.items() if k not in TERMINAL_NOT_DELIVERED)
    failed = sum(v for k, v in nd.items() if k in TERMINAL_NOT_DELIVERED)
    dups = row.get("dups")
    if dups is None:
        # The ledger could not be asked per message: every duplicate segment counts.
        dup, otp = r.get("duplicates") or 0, 0
    else:
        otp = dups.get("otp", 0)
        dup = sum(n for p, n in dups.items() if p != "otp")
    return {"lost": lost, "stuck": stuck, "failed": failed, "duplicates": dup,
            "otp_resent": otp, "statuses": nd}


def write_report(rows, started, enforce):
    d = Path(env("CHAOS_REPORT_DIR", bench.ROOT / "bench/reports"))
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"chaos-{dt.date.today().isoformat()}.md"
    if path.exists():
        path = d / f"chaos-{dt.datetime.now().strftime('%Y-%m-%d-%H%M')}.md"
    commit = bench.git("rev-parse", "--short=12", "HEAD")
    dirty = " (uncommitted changes)" if bench.git("status", "--porcelain") else ""
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
        "at least two rebalances a round)",
        "- right = reads `delivered` in the view (the simulated carrier delivers everything) and "
        "accepted by the carrier once per segment (simulator ledger); an OTP accepted twice is "
        "counted apart: the OTP policy resends an unknown outcome (flagged `ambiguous`)",
        f"- enforced: {', '.join(enforce)}; took {(time.time() - started) / 60:.0f} min",
        "",
        "| target | kills | restart (s, median) | accepted (202) | refused (503 / no answer) | delivered | lost | stuck | failed | duplicates (not OTP) | OTPs resent (policy) | other statuses | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r, v = row["result"], verdict(row)
        rs = sorted(row["restart_secs"])
        med = f"{rs[len(rs) // 2]:.1f}" if rs else "-"
        bad = [k for k in enforce if v[k]]
        lines.append(
            f"| {row['target']} | {row['kills']} | {med} | {r['accepted']:,} | {r['failed']:,} | "
            f"{r['delivered']:,} | {v['lost']} | {v['stuck']} | {v['failed']} | {v['duplicates']} | "
            f"{v['otp_resent']} | "
            f"{', '.join(f'{k}: {n}' for k, n in sorted(v['statuses'].items())) or '-'} | "
            f"{'**FAIL** (' + ', '.join(bad) + ')' if bad else 'ok'} |")
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


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return 0
    started = time.time()
    targets = bench.env_list("CHAOS_TARGETS", ",".join(SERVICE_TARGETS + STACK_TARGETS + PAIR_TARGETS))
    unknown = [t for t in targets if t not in SERVICE_TARGETS + STACK_TARGETS + PAIR_TARGETS]
    if unknown:
        raise SystemExit(f"[chaos] unknown targets: {', '.join(unknown)}")
    enforce = bench.env_list("CHAOS_ENFORCE", "lost,duplicates,stuck,failed")
    c = Chaos()
    c.b.build()
    c.b.prepare()
    rows = []
    try:
        for target in targets:
            say(f"target {target}: {c.rounds} rounds at {c.rate:.0f} msg/s")
            rows.append(c.one(target))
            v = verdict(rows[-1])
            say(f"target {target}: {rows[-1]['result']['accepted']} accepted, "
                f"{rows[-1]['result']['delivered']} delivered, {v}")
    finally:
        c.b.finish()
    path = write_report(rows, started, enforce)
    say(f"report: {path}")
    failed = [r["target"] for r in rows if any(verdict(r)[k] for k in enforce)]
    if failed:
        say(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
