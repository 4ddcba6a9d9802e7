#!/usr/bin/env python3
"""The end-to-end benchmark of issue 8 (`make bench`) and its smoke (`make bench-smoke`).

    bench/run.py            build release binaries, run the scenarios on the local stack,
                            write bench/reports/e2e-<date>.md (+ plots and raw results)
    bench/run.py --smoke    ~10 s at a low rate against the platform already running (debug
                            binaries); report in a temp dir; exit 1 if nothing was delivered
                            or anything failed, was lost or duplicated

Standard library only. The load comes from tools/loadgen (Rust); this script starts and
stops the platform, picks the processes to measure and writes the report. Knobs are
environment variables (defaults in brackets):

    BENCH_SCENARIOS      rates,max,otp,partitions   which scenarios, in this order
    BENCH_RATES          1000,2000,3000,5000        fixed rates (msg/s) of `rates`
    BENCH_DURATION       60                         seconds of sending per run
    BENCH_MAX_DURATION   $BENCH_DURATION            seconds of the max-rate run
    BENCH_MIX            otp=1,transactional=3,bulk=6   priority weights of rates/max/partitions
    BENCH_CONNECTIONS    128                        HTTP connections of the generator
    BENCH_DRAIN_TIMEOUT  300                        seconds to wait for the view after sending
    BENCH_VERIFY_TIMEOUT 60                         seconds to keep re-checking ids not delivered
    BENCH_VERIFY_RETRYING_TIMEOUT 0                 and ids still `retrying` (a retry tier waits up to 600 s)
    BENCH_BACKLOG        1000000                    bulk messages queued before the OTPs
    BENCH_OTP_RATE       5                          OTPs per second during the backlog
    BENCH_OTP_DURATION   60                         seconds of OTPs
    BENCH_OTP_MIX        otp=1                      mix of that phase (e.g. otp=1,transactional=1)
    BENCH_OTP_CARRIER_TPS (none)                    submits/s per SMPP session of the simulated
                                                    carrier in `otp` (the carrier, not the CPU,
                                                    then bounds the drain); none: no limit
    BENCH_PARTITIONS     3,6,12                     partition counts of `partitions`
    BENCH_PARTITIONS_RATE 0                         rate of those runs (0: max rate)
    BENCH_PROFILE        release                    cargo profile of the binaries
    BENCH_BUILD          1                          0: do not build
    BENCH_PLATFORM       restart                    restart: a fresh topic prefix per run,
                                                    the platform restarted on it; running:
                                                    use the platform as it is (no partitions)
    BENCH_KEEP_TOPICS    0                          1: keep each run's topics and keyspace afterwards
    BENCH_REPORT_DIR     bench/reports
"""
import datetime as dt
import json
import math
import os
import platform as pyplatform
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("SMSFLOW_STACK_DIR", ROOT / ".stack"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/smsflow/target"))
SERVICES = ["ingest", "router", "dispatcher", "dlr-ingester", "analytics", "carrier-sim"]
STACK = ["kafka", "cassandra", "registry"]
# pgrep -f patterns for the stack's Java processes, when their pid files are missing.
STACK_PATTERNS = {"kafka": "kafka.Kafka", "cassandra": "CassandraDaemon", "registry": "apicurio"}
PRIORITIES = ["otp", "transactional", "bulk"]
READY = {
    "ingest": "http://127.0.0.1:8080/readyz",
    "analytics": "http://127.0.0.1:8085/readyz",
    "carrier-sim": "http://127.0.0.1:8090/healthz",
}


def env(name, default):
    return os.environ.get(name) or str(default)


def env_int(name, default):
    return int(float(env(name, default)))


def env_list(name, default):
    return [x.strip() for x in env(name, default).split(",") if x.strip()]


def say(msg):
    print(f"[bench] {msg}", flush=True)


def ready(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return 200 <= r.status < 300
    except Exception:
        return False


def pid_file(name):
    """The pid of a process the stack or platform script started, if it still runs: a pid
    file holds "<pid> <start time>" (scripts/pidfile.sh), so a pid now reused is not ours."""
    try:
        pid, start = (STACK_DIR / "pids" / name).read_text().split()
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[19] != start:
                return None
        return int(pid)
    except (OSError, ValueError, IndexError):
        return None


def pgrep(pattern):
    try:
        out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    except OSError:
        return None
    pids = [int(p) for p in out.split() if int(p) != os.getpid()]
    return min(pids) if pids else None


def watched():
    """name=pid of every process to measure (services, simulator, Kafka, Cassandra, registry)."""
    out = []
    for name in SERVICES:
        pid = pid_file(name)
        if pid:
            out.append((name, pid))
    for name in STACK:
        pid = pid_file(name) or pgrep(STACK_PATTERNS[name])
        if pid:
            out.append((name, pid))
    return out


# Store work per message, from the services' own counters (one process per run in restart mode).
STORE_WORK = {
    "dispatcher history read": ("http://127.0.0.1:8083/metrics", "smsflow_dispatcher_history_total", 'outcome="read"'),
    "dispatcher history skipped": ("http://127.0.0.1:8083/metrics", "smsflow_dispatcher_history_total", 'outcome="skipped"'),
    "dlr-ingester correlation from the table": ("http://127.0.0.1:8084/metrics", "smsflow_dlr_ingester_correlation_cache_total", 'result="miss"'),
    "dlr-ingester correlation from memory": ("http://127.0.0.1:8084/metrics", "smsflow_dlr_ingester_correlation_cache_total", 'result="hit"'),
    "analytics view writes": ("http://127.0.0.1:8085/metrics", "smsflow_analytics_flush_messages_sum", None),
    "analytics store requests": ("http://127.0.0.1:8085/metrics", "smsflow_analytics_view_requests_total", None),
    "dispatcher store requests (state writes)": ("http://127.0.0.1:8083/metrics", "smsflow_store_group_requests_total", None),
    "dlr-ingester store requests (correlation and segment writes)": ("http://127.0.0.1:8084/metrics", "smsflow_store_group_requests_total", None),
}


def store_work():
    """Counter values of STORE_WORK, read from the running services (None when unreachable)."""
    pages, out = {}, {}
    for name, (url, metric, label) in STORE_WORK.items():
        if url not in pages:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    pages[url] = r.read().decode()
            except Exception:
                pages[url] = ""
        total = 0.0 if pages[url] else None
        for line in pages[url].splitlines():
            if line.startswith(metric) and (label is None or label in line):
                try:
                    total += float(line.rsplit(" ", 1)[1])
                except ValueError:
                    pass
        out[name] = total
    return out


def cpu_probe():
    """Seconds of one core for a fixed pure-Python workload: how fast the machine is today."""
    best = None
    for _ in range(3):
        t = time.process_time()
        s = 0
        for i in range(2_000_000):
            s += i * i
        d = time.process_time() - t
        best = d if best is None else min(best, d)
    return best


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "memory": mem, "kernel": pyplatform.release()}


def git(*args):
    r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return r.stdout.strip()


class Bench:
    def __init__(self, smoke):
        self.smoke = smoke
        self.profile = "debug" if smoke else env("BENCH_PROFILE", "release")
        self.bin = TARGET / self.profile
        self.stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
        self.mode = "running" if smoke else env("BENCH_PLATFORM", "restart")
        if smoke:
            self.work = Path(tempfile.mkdtemp(prefix="smsflow-bench-smoke-"))
            self.report_dir = self.work
        else:
            self.work = STACK_DIR / "bench" / self.stamp
            self.report_dir = ROOT / env("BENCH_REPORT_DIR", "bench/reports")
        self.work.mkdir(parents=True, exist_ok=True)
        # Destinations: one random slot of 10M numbers per invocation, runs one after another.
        self.dest_next = random.randrange(100) * 10_000_000
        self.prefixes = []
        self.was_running = False
        self.current_prefix = None

    # ---- processes -------------------------------------------------------------------

    def run(self, cmd, extra_env=None, log=None, check=True):
        e = dict(os.environ)
        e.pop("SMSFLOW_PROFILE", None)
        e["CARGO_TARGET_DIR"] = str(TARGET)
        e.update(extra_env or {})
        if log:
            with open(log, "ab") as f:
                r = subprocess.run(cmd, cwd=ROOT, env=e, stdout=f, stderr=subprocess.STDOUT)
        else:
            r = subprocess.run(cmd, cwd=ROOT, env=e)
        if check and r.returncode != 0:
            raise SystemExit(f"[bench] failed ({r.returncode}): {' '.join(map(str, cmd))}"
                             + (f"; see {log}" if log else ""))
        return r.returncode

    def build(self):
        if self.smoke:
            self.run(["cargo", "build", "-p", "loadgen"])
        elif env("BENCH_BUILD", "1") != "0":
            say(f"building the {self.profile} binaries (cargo build --profile {self.profile} --workspace --bins)")
            self.run(["cargo", "build", "--profile", self.profile, "--workspace", "--bins"])
        missing = [b for b in ["loadgen", "smsflow", *SERVICES] if not (self.bin / b).exists()]
        if self.smoke:
            missing = [b for b in missing if b == "loadgen"]
        if missing:
            raise SystemExit(f"[bench] not built in {self.bin}: {', '.join(missing)}")

    def platform_env(self, prefix, partitions):
        e = {}
        if prefix is not None:
            e["SMSFLOW_KAFKA__TOPIC_PREFIX"] = prefix
            # Its own keyspace too: the data of earlier runs is not compacted during this one.
            e["SMSFLOW_STORE__KEYSPACE"] = keyspace_of(prefix)
        if partitions is not None:
            e["SMSFLOW_KAFKA__PARTITIONS"] = str(partitions)
        return e

    def platform_running(self):
        return any(pid_file(s) for s in SERVICES)

    def start_platform(self, prefix, partitions=None, extra_env=None):
        """Stops the platform, creates the topics of `prefix`, starts the platform on them."""
        log = self.work / "platform.log"
        self.run(["scripts/platform.sh", "stop"], log=log)
        # The runs before this one are over: their data would be flushed and compacted during it.
        self.clean_up(log)
        e = self.platform_env(prefix, partitions)
        say(f"setup and platform start: prefix {prefix or '(none)'}, partitions {partitions or 'default'}")
        self.run([str(self.bin / "smsflow"), "admin", "setup"],
                 {**e, "SMSFLOW_TELEMETRY__LOG_FILTER": "warn"}, log=log)
        # SMSFLOW_PROFILE is for platform.sh only (every other SMSFLOW_* is service config).
        self.run(["scripts/platform.sh", "start"], {**e, **(extra_env or {}), "SMSFLOW_PROFILE": self.profile},
                 log=log)
        if prefix:
            self.prefixes.append(prefix)
        self.current_prefix = prefix

    def prepare(self):
        if self.smoke:
            down = [n for n, url in READY.items() if not ready(url)]
            if down:
                raise SystemExit(f"[bench] the platform is not running ({', '.join(down)} not ready): "
                                 "start it with `make up`")
            return
        say("starting the stack if needed (scripts/stack.sh start)")
        self.run(["scripts/stack.sh", "start"])
        self.was_running = self.platform_running()
        if self.mode == "restart":
            self.clean_leftovers()
        if self.mode == "running":
            down = [n for n, url in READY.items() if not ready(url)]
            if down:
                raise SystemExit(f"[bench] BENCH_PLATFORM=running but {', '.join(down)} not ready")

    def finish(self):
        if self.smoke or self.mode == "running":
            return
        log = self.work / "platform.log"
        self.run(["scripts/platform.sh", "stop"], log=log, check=False)
        self.clean_up(log)
        if self.was_running:
            say("restarting the platform as it was (debug binaries, standard topics)")
            self.run(["scripts/platform.sh", "start"], {"SMSFLOW_PROFILE": "debug"}, log=log, check=False)

    def clean_up(self, log):
        """Deletes the topics and drops the keyspaces of the runs so far (unless
        BENCH_KEEP_TOPICS=1)."""
        if env("BENCH_KEEP_TOPICS", "0") == "1":
            return
        for p in self.prefixes:
            self.delete(log, p, ["--keyspace", keyspace_of(p)])
        self.prefixes = []

    def delete(self, log, topic_prefix, keyspaces):
        """Deletes the topics starting with `topic_prefix` and the keyspaces `keyspaces` names
        (`loadgen drop-keyspace` arguments); a failure is logged, not fatal."""
        loadgen = str(self.bin / "loadgen")
        self.run([loadgen, "delete-topics", "--prefix", topic_prefix], log=log, check=False)
        self.run([loadgen, "drop-keyspace", *keyspaces], log=log, check=False)

    def clean_leftovers(self):
        """Deletes every benchmark topic and keyspace earlier runs left (a run killed before
        its clean-up, or BENCH_KEEP_TOPICS=1): a broker with a thousand idle partitions more,
        or a CQL server with a hundred keyspaces more, costs more per message, so runs on a
        box with leftovers are not comparable with runs on one without. BENCH_CLEAN_LEFTOVERS=0
        keeps them (a run kept with BENCH_KEEP_TOPICS=1, to be read after later runs)."""
        if env("BENCH_KEEP_TOPICS", "0") == "1" or env("BENCH_CLEAN_LEFTOVERS", "1") == "0":
            return
        say("deleting the topics and keyspaces earlier benchmark runs left (bench-*, bench_*)")
        log = self.work / "platform.log"
        self.run(["scripts/platform.sh", "stop"], log=log)
        self.delete(log, "bench-", ["--prefix", "bench_"])

    def fresh(self, label, partitions=None, extra_env=None):
        """Before a run: its own topic prefix and a restarted platform (restart mode)."""
        if self.mode == "restart":
            self.start_platform(f"bench-{self.stamp}-{label}.", partitions, extra_env)

    # ---- one loadgen run ---------------------------------------------------------------

    def loadgen(self, label, rate, *, duration=None, count=None, mix, wait_for="view",
                drain_timeout=None, verify=True, latency="otp,transactional,bulk",
                view=True, fail_on_loss=False, connections=None, extra=()):
        base = self.dest_next
        n = count if count is not None else int(max(rate, 1) * (duration or 0)) + 1
        # Max-rate runs: room for what ingest may accept (20k/s is the target).
        self.dest_next += max(n, int(20_000 * (duration or 0)), 1000) + 1000
        out = self.work / f"{label}.json"
        cmd = [str(self.bin / "loadgen"), "run", "--label", label, "--rate", str(rate),
               "--mix", mix, "--dest-base", str(base), "--tag", f"{self.stamp}-{label}",
               "--wait-for", wait_for,
               "--drain-timeout", str(drain_timeout or env_int("BENCH_DRAIN_TIMEOUT", 300)),
               "--verify-timeout", str(env_int("BENCH_VERIFY_TIMEOUT", 60)),
               "--verify-retrying-timeout", str(env_int("BENCH_VERIFY_RETRYING_TIMEOUT", 0)),
               "--connections", str(connections or env_int("BENCH_CONNECTIONS", 128)),
               "--latency", latency,
               "--ids-out", str(self.work / f"{label}.ids.tsv"),
               "--series-out", str(self.work / f"{label}.series.csv"),
               "--out", str(out)]
        if duration is not None:
            cmd += ["--duration", str(duration)]
        if count is not None:
            cmd += ["--count", str(count)]
        if not view:
            cmd += ["--view-url", ""]
        if not verify:
            cmd.append("--no-verify")
        if fail_on_loss:
            cmd.append("--fail-on-loss")
        cmd += list(extra)
        for name, pid in watched():
            cmd += ["--proc", f"{name}={pid}"]
        say(f"run {label}: rate {'max' if rate == 0 else rate}, "
            + (f"{duration} s" if duration is not None else f"{count} messages") + f", mix {mix}")
        code = self.run(cmd, check=False)
        if not out.exists():
            raise SystemExit(f"[bench] loadgen gave no result for {label} (exit {code})")
        r = json.loads(out.read_text())
        r["exit_code"] = code
        r["store_work"] = store_work()
        r["topic_prefix"] = self.current_prefix
        return r


# ---- scenarios ----------------------------------------------------------------------------


def scenario_rates(b):
    out, seen = [], {}
    for rate in env_list("BENCH_RATES", "1000,2000,3000,5000"):
        # A repeated rate gets its own label, so its own topics: reusing the previous run's
        # would start it on a used log, below the dispatcher's claims (every decision then
        # reads its history, ADR 11), which is not the steady state being measured.
        seen[rate] = seen.get(rate, 0) + 1
        label = f"rate-{rate}" + (f"-{seen[rate]}" if seen[rate] > 1 else "")
        b.fresh(label)
        out.append(b.loadgen(label, float(rate), duration=env_int("BENCH_DURATION", 60),
                             mix=env("BENCH_MIX", "otp=1,transactional=3,bulk=6")))
    return out


def scenario_max(b):
    label = "max-rate"
    b.fresh(label)
    d = env_int("BENCH_MAX_DURATION", env_int("BENCH_DURATION", 60))
    return [b.loadgen(label, 0, duration=d, mix=env("BENCH_MIX", "otp=1,transactional=3,bulk=6"))]


def scenario_otp(b):
    tps = os.environ.get("BENCH_OTP_CARRIER_TPS")
    b.otp_carrier_tps = int(tps) if tps else None
    extra = None
    if tps:
        # config/local with the dispatcher's carrier `sim` limited (platform.sh reads the folder).
        conf = b.work / "config-otp"
        conf.mkdir(parents=True, exist_ok=True)
        for f in (ROOT / "config/local").glob("*.toml"):
            text = f.read_text()
            if f.name == "dispatcher.toml":
                if "[carriers.sim]\n" not in text:
                    raise SystemExit("[bench] config/local/dispatcher.toml has no [carriers.sim]")
                text = text.replace("[carriers.sim]\n", f"[carriers.sim]\ntps_per_session = {int(tps)}\n")
            (conf / f.name).write_text(text)
        extra = {"SMSFLOW_PLATFORM_CONFIG": str(conf)}
    b.fresh("otp", extra_env=extra)
    backlog = env_int("BENCH_BACKLOG", 1_000_000)
    bulk = b.loadgen("otp-backlog", 0, count=backlog, mix="bulk=1", wait_for="none",
                     view=False, verify=False, latency="")
    otp = b.loadgen("otp-under-bulk", env_int("BENCH_OTP_RATE", 5),
                    duration=env_int("BENCH_OTP_DURATION", 60), mix=env("BENCH_OTP_MIX", "otp=1"),
                    wait_for="submitted", drain_timeout=120, latency="otp,transactional",
                    connections=16)
    otp["backlog"] = bulk
    return [otp]


def keyspace_of(prefix):
    """The keyspace of the run whose topic prefix is `prefix` (`bench-<stamp>-rate-2000.` →
    `bench_<stamp>_rate_2000`)."""
    return re.sub(r"[^a-z0-9]+", "_", prefix.lower()).strip("_")[:48]


def scenario_partitions(b):
    if b.mode != "restart":
        say("partitions: skipped (needs BENCH_PLATFORM=restart)")
        return []
    out = []
    for p in env_list("BENCH_PARTITIONS", "3,6,12"):
        label = f"partitions-{p}"
        b.fresh(label, int(p))
        r = b.loadgen(label, float(env("BENCH_PARTITIONS_RATE", 0)),
                      duration=env_int("BENCH_DURATION", 60),
                      mix=env("BENCH_MIX", "otp=1,transactional=3,bulk=6"))
        r["partitions"] = int(p)
        out.append(r)
    return out


def scenario_smoke(b):
    return [b.loadgen("smoke", env_int("BENCH_SMOKE_RATE", 20),
                      duration=env_int("BENCH_SMOKE_DURATION", 10),
                      mix="otp=1,transactional=1,bulk=1", drain_timeout=env_int("BENCH_DRAIN_TIMEOUT", 120),
                      fail_on_loss=True, connections=16)]


SCENARIOS = {"rates": scenario_rates, "max": scenario_max, "otp": scenario_otp,
             "partitions": scenario_partitions}


# ---- report --------------------------------------------------------------------------------

def fmt(v, digits=0, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        s = f"{v:,.{digits}f}"
    else:
        s = f"{v:,}"
    return s + unit


def ms(v):
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"


def lag_cell(r, key):
    lag = r.get("view_lag_s") or {}
    if not lag.get("count"):
        return "–"
    return f"{lag[key]:,.1f} s"


def drained_cell(r):
    if r.get("drained"):
        return f"yes ({r['drain_secs']:.0f} s)" if r.get("drain_secs") is not None else "yes"
    return f"**no** (gave up after {r.get('drain_secs') or 0:.0f} s)"


def run_rows(results):
    head = ("| run | target rate | accepted | accepted/s | failed | submitted (ledger) | delivered in view "
            "| lost | duplicates | delivered/s end to end | view lag p50 | view lag max | drained "
            "| CPU ms/msg (total) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for r in results:
        led = r.get("ledger") or {}
        rate = r.get("target_rate")
        rows.append("| " + " | ".join([
            r["label"], "max" if not rate else fmt(rate, 0), fmt(r["accepted"]), fmt(r["accepted_per_sec"], 0),
            fmt(r["failed"]), fmt(led.get("accepted")), fmt(r.get("delivered")), fmt(r.get("lost")),
            fmt(r.get("duplicates")), fmt(r.get("delivered_per_sec"), 0), lag_cell(r, "p50"),
            lag_cell(r, "max"), drained_cell(r), f"{r['cpu']['total_ms_per_msg']:.2f}",
        ]) + " |")
    return head + "\n".join(rows) + "\n"


def process_tables(results):
    names = []
    for r in results:
        for p in r["cpu"]["processes"]:
            if p["name"] not in names:
                names.append(p["name"])
    cols = [r["label"] for r in results]
    sep = "|---|" + "---|" * len(cols) + "\n"
    cpu = "| CPU ms per message | " + " | ".join(cols) + " |\n" + sep
    rss = "| peak RSS (MiB) | " + " | ".join(cols) + " |\n" + sep
    for n in names:
        c, m = [], []
        for r in results:
            p = next((p for p in r["cpu"]["processes"] if p["name"] == n), None)
            c.append("–" if p is None else f"{p['cpu_ms_per_msg']:.3f}" + (f" ({p['problem']})" if p.get("problem") else ""))
            m.append("–" if p is None else f"{p['peak_rss_mib']:,.0f}")
        cpu += f"| {n} | " + " | ".join(c) + " |\n"
        rss += f"| {n} | " + " | ".join(m) + " |\n"
    cpu += "| **total** | " + " | ".join(f"**{r['cpu']['total_ms_per_msg']:.3f}**" for r in results) + " |\n"
    cpu += "| (loadgen, not in total: ms per msg) | " + " | ".join(
        f"{r['cpu']['loadgen_ms'] / max(r['cpu']['messages'], 1):.3f}" for r in results) + " |\n"
    cpu += "| machine busy in the window | " + " | ".join(
        "–" if r["cpu"].get("machine_busy_share") is None else f"{100 * r['cpu']['machine_busy_share']:.0f} %"
        for r in results) + " |\n"
    cpu += "| messages in the CPU window | " + " | ".join(fmt(r["cpu"]["messages"]) for r in results) + " |\n"
    return cpu, rss


def store_work_table(results):
    """Store reads and view writes per accepted message, from the services' counters."""
    if not any(any(v is not None for v in (r.get("store_work") or {}).values()) for r in results):
        return ""
    cols = [r["label"] for r in results]
    t = "| per accepted message | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols) + "\n"
    for name in STORE_WORK:
        cells = []
        for r in results:
            v = (r.get("store_work") or {}).get(name)
            cells.append("–" if v is None else f"{v / max(r['accepted'], 1):.2f}")
        t += f"| {name} | " + " | ".join(cells) + " |\n"
    return t


def latency_table(results):
    rows = []
    for r in results:
        lat = r.get("submit_latency") or {}
        for prio, l in sorted(lat.items(), key=lambda kv: PRIORITIES.index(kv[0])):
            a = l["accept_to_submit_ms"]
            q = l["request_to_submit_ms"]
            rows.append(f"| {r['label']} | {prio} | {fmt(l['accepted'])} | {fmt(l['submitted'])} | "
                        f"{fmt(l['not_submitted'])} | {ms(a['p50'])} | {ms(a['p90'])} | {ms(a['p99'])} | "
                        f"{ms(a['max'])} | {ms(q['p99'])} |")
    if not rows:
        return ""
    return ("| run | priority | accepted | submitted | not submitted | accept→submit p50 (ms) | p90 | p99 "
            "| max | request→submit p99 (ms) |\n|---|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")


# ---- SVG plot --------------------------------------------------------------------------------

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def panel(x0, y0, w, h, title, xlabel, ylabel, lines, xmax):
    """One chart: `lines` = [(name, color, [(x, y), ...], dashed)]."""
    ymax = nice_max(max([y for _, _, pts, _ in lines for _, y in pts] + [0]))
    xmax = nice_max(xmax)
    sx = lambda x: x0 + 50 + (w - 60) * x / xmax  # noqa: E731
    sy = lambda y: y0 + h - 30 - (h - 60) * y / ymax  # noqa: E731
    out = [f'<text x="{x0 + w / 2}" y="{y0 + 16}" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(xmax)}" y2="{sy(0)}" stroke="#444"/>',
           f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(0)}" y2="{sy(ymax)}" stroke="#444"/>']
    for i in range(6):
        yv, xv = ymax * i / 5, xmax * i / 5
        out.append(f'<line x1="{sx(0)}" y1="{sy(yv):.1f}" x2="{sx(xmax)}" y2="{sy(yv):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{sx(0) - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:,.4g}</text>')
        out.append(f'<text x="{sx(xv):.1f}" y="{sy(0) + 14}" text-anchor="middle">{xv:,.4g}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h - 2}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text x="{x0 + 12}" y="{y0 + h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {x0 + 12} {y0 + h / 2})">{ylabel}</text>')
    for k, (name, color, pts, dashed) in enumerate(lines):
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        if pts:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} points="{d}"/>')
        ly = y0 + 31 + 16 * k
        out.append(f'<line x1="{x0 + w - 195}" y1="{ly}" x2="{x0 + w - 180}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{x0 + w - 175}" y="{y0 + 35 + 16 * k}">{name}</text>')
    return out


def rates_of(series, key, window=5):
    """Per-second rate of a cumulative column, smoothed over `window` ticks."""
    pts = []
    for i in range(1, len(series)):
        j = max(0, i - window)
        dtime = series[i]["t_s"] - series[j]["t_s"]
        if dtime > 0:
            pts.append((series[i]["t_s"], max(0.0, (series[i][key] - series[j][key]) / dtime)))
    return pts


def svg_for(results, title):
    w, h = 900, 300
    rate_lines, lag_lines, xmax = [], [], 1.0
    many = len(results) > 1
    for k, r in enumerate(results):
        s = r.get("series") or []
        if not s:
            continue
        xmax = max(xmax, s[-1]["t_s"])
        c = COLORS[k % len(COLORS)]
        if many:
            # One colour per run; accepted solid, delivered dashed.
            rate_lines.append((f"{r['label']} accepted/s", c, rates_of(s, "accepted"), False))
            rate_lines.append((f"{r['label']} delivered/s", c, rates_of(s, "delivered_est"), True))
        else:
            rate_lines.append(("accepted/s", COLORS[0], rates_of(s, "accepted"), False))
            rate_lines.append(("delivered/s (view, est.)", COLORS[1], rates_of(s, "delivered_est"), False))
        lag_lines.append((r["label"], c, [(p["t_s"], p["lag_s"]) for p in s if p.get("lag_s") is not None], False))
    body = panel(0, 0, w, h, f"{title}: rate over time", "seconds since start", "msg/s", rate_lines, xmax)
    body += panel(0, h, w, h, f"{title}: view lag over time", "seconds since start", "lag (s)", lag_lines, xmax)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{2 * h}" font-family="sans-serif" '
            f'font-size="11"><rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>\n")


def write_report(b, results, started):
    date = dt.date.today().isoformat()
    name = f"e2e-{date}"
    if not b.smoke and (b.report_dir / f"{name}.md").exists():
        name = f"e2e-{date}-{dt.datetime.now().strftime('%H%M')}"
    assets = b.report_dir / name
    assets.mkdir(parents=True, exist_ok=True)
    m = machine()
    commit = git("rev-parse", "--short=12", "HEAD")
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    lines = [f"# End-to-end benchmark, {date}", "",
             f"- commit `{commit}`{dirty}, {b.profile} binaries, platform mode `{b.mode}`",
             f"- machine: {m['nproc']} CPUs, {m['cpu']}, {m['memory']}, Linux {m['kernel']}; "
             f"CPU probe {b.probe:.3f} s (a fixed Python loop, best of 3: compare runs of different days by it)",
             f"- load: tools/loadgen, open loop, {' / '.join(sorted({str(r['connections']) for _, r in results}))} "
             f"connections; mix {' / '.join(sorted({r['mix'] for _, r in results}))}; "
             "every message to its own number",
             f"- took {(time.time() - started) / 60:.0f} min; raw results and plots in `{assets.name}/`; "
             "what each number means: `bench/README.md`", ""]

    def section(title, rs, plot_title):
        if not rs:
            return
        lines.extend([f"## {title}", "", run_rows(rs)])
        cpu, rss = process_tables(rs)
        lines.extend(["CPU per delivered message, by process (from /proc, utime+stime):", "", cpu,
                      "Peak RSS in the run, by process:", "", rss])
        work = store_work_table(rs)
        if work:
            lines.extend(["Store work per accepted message (the services' counters; a history read or a "
                          "correlation from the table is a CQL read):", "", work])
        lat = latency_table(rs)
        if lat:
            lines.extend(["Accept → carrier submit (simulator ledger):", "", lat])
        svg = f"{rs[0]['label'] if len(rs) == 1 else title.split()[0].lower()}.svg"
        (assets / svg).write_text(svg_for(rs, plot_title))
        lines.extend([f"![{plot_title}]({assets.name}/{svg})", ""])
        for r in rs:
            if r.get("failures"):
                lines.append(f"- {r['label']}: failed requests by kind: {r['failures']}")
            if r.get("verify") and r["verify"].get("not_delivered"):
                lines.append(f"- {r['label']}: not delivered at the end, by last status: {r['verify']['not_delivered']}")
        lines.append("")

    groups = {"rates": [], "max": [], "otp": [], "partitions": [], "smoke": []}
    for scen, r in results:
        groups[scen].append(r)
    section("Smoke", groups["smoke"], "smoke")
    section("Fixed rates", groups["rates"], "fixed rates")
    section("Max rate", groups["max"], "max rate")
    if groups["otp"]:
        r = groups["otp"][0]
        bk = r["backlog"]
        lines.extend(["## OTP under a bulk backlog", "",
                      f"{fmt(bk['accepted'])} bulk messages accepted as fast as the API took them "
                      f"({fmt(bk['accepted_per_sec'], 0)}/s over {bk['load_secs']:.0f} s, {fmt(bk['failed'])} failed); "
                      f"then {r['mix']} at {fmt(r['target_rate'], 0)}/s for {fmt(r['duration_s'], 0)} s "
                      f"while the backlog drained"
                      + (f" (the simulated carrier admitting {b.otp_carrier_tps} submits/s per SMPP "
                         "session: the carrier, not the machine, bounds the drain)"
                         if getattr(b, "otp_carrier_tps", None) else
                         " as fast as the machine allowed (no carrier limit)")
                      + ". The carrier received "
                      f"{fmt((bk.get('ledger') or {}).get('accepted'))} submits during the backlog phase and "
                      f"{fmt((r.get('ledger') or {}).get('accepted'))} during the OTP phase.", "",
                      latency_table([r]) or "(no latency: simulator not reachable)", ""])
        lost = r.get("verify") or {}
        lines.append(f"OTPs delivered in the view by the end: {fmt(lost.get('delivered'))} of {fmt(r['accepted'])}.")
        lines.append("")
        (assets / "otp-under-bulk.svg").write_text(svg_for([r], "OTP under bulk (OTP phase)"))
        lines.extend([f"![OTP under bulk]({assets.name}/otp-under-bulk.svg)", ""])
    if groups["partitions"]:
        rs = groups["partitions"]
        lines.extend(["## Throughput vs partitions", "",
                      "| partitions | accepted/s | delivered/s end to end | view lag p50 | view lag max | drained "
                      "| lost | duplicates | CPU ms/msg |", "|---|---|---|---|---|---|---|---|---|"])
        for r in rs:
            lines.append(f"| {r['partitions']} | {fmt(r['accepted_per_sec'], 0)} | {fmt(r['delivered_per_sec'], 0)} | "
                         f"{lag_cell(r, 'p50')} | {lag_cell(r, 'max')} | {drained_cell(r)} | {fmt(r.get('lost'))} | "
                         f"{fmt(r.get('duplicates'))} | {r['cpu']['total_ms_per_msg']:.2f} |")
        lines.append("")
        (assets / "partitions.svg").write_text(svg_for(rs, "partitions"))
        lines.extend([f"![throughput vs partitions]({assets.name}/partitions.svg)", ""])
    for _, r in results:
        (assets / f"{r['label']}.json").write_text(json.dumps(r, indent=1))
        if r.get("backlog"):
            (assets / f"{r['backlog']['label']}.json").write_text(json.dumps(r["backlog"], indent=1))
    path = b.report_dir / f"{name}.md"
    path.write_text("\n".join(lines))
    return path


def main():
    smoke = "--smoke" in sys.argv[1:]
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return 0
    started = time.time()
    b = Bench(smoke)
    b.probe = cpu_probe()
    b.build()
    b.prepare()
    results = []
    try:
        if smoke:
            results += [("smoke", r) for r in scenario_smoke(b)]
        else:
            for s in env_list("BENCH_SCENARIOS", "rates,max,otp,partitions"):
                if s not in SCENARIOS:
                    raise SystemExit(f"[bench] unknown scenario {s} (rates, max, otp, partitions)")
                results += [(s, r) for r in SCENARIOS[s](b)]
    finally:
        b.finish()
    path = write_report(b, results, started)
    say(f"report: {path}")
    if smoke:
        r = results[0][1]
        if r["exit_code"] != 0:
            say("smoke FAILED (see the loadgen line above)")
            return 1
        say(f"smoke ok: {r['delivered']} of {r['accepted']} delivered, 0 lost, 0 duplicates")
    else:
        say(f"ids and raw series of each run: {b.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
