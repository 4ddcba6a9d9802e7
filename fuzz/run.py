#!/usr/bin/env python3
"""Builds the fuzz targets and runs each one, one after another, on one core.

Coverage-guided libFuzzer (the `libfuzzer-sys` crate) on stable Rust: the targets are built
with LLVM's SanitizerCoverage passes (`RUSTFLAGS` below; no AddressSanitizer, which needs a
nightly compiler) and with debug assertions and overflow checks on (fuzz/Cargo.toml).

    fuzz/run.py --short                       # `make test`: 50,000 executions per target
    fuzz/run.py --runs 10000000 --report F    # `make fuzz`: the long run, a report in F
    fuzz/run.py --targets smpp_pdu --runs 1e6 # one target

Each target starts from its committed seeds (fuzz/seeds/<target>/) plus, for long runs, the
corpus earlier long runs grew (~/.cache/smsflow/fuzz-corpus/<target>/; a short run uses a
fresh temporary corpus, so it is the same on every machine). A crash, a timeout or an
out-of-memory stops the target; its input is saved under fuzz/artifacts/<target>/ and the
script exits 1. Replay one with `<binary> fuzz/artifacts/<target>/crash-...`.
"""

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
TARGETS = ["smpp_pdu", "receipt_text", "udh_concat", "avro_wire", "api_json"]
# Largest input per target: a few PDUs, a long receipt, a long text, a record, a body.
MAX_LEN = {
    "smpp_pdu": 4096,
    "receipt_text": 1024,
    "udh_concat": 400,
    "avro_wire": 4096,
    "api_json": 4096,
}
RUSTFLAGS = " ".join(
    [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "--cfg fuzzing",
    ]
)
CACHE = Path(os.environ.get("SMSFLOW_FUZZ_CACHE", Path.home() / ".cache/smsflow"))
TARGET_DIR = Path(os.environ.get("SMSFLOW_FUZZ_TARGET_DIR", CACHE / "fuzz-target"))


def log(msg):
    print(f"[fuzz] {msg}", flush=True)


def host_triple():
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return re.search(r"^host: (\S+)", out, re.M).group(1)


def cargo_env():
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = str(TARGET_DIR)
    env["RUSTFLAGS"] = RUSTFLAGS
    # These would take precedence over RUSTFLAGS.
    env.pop("CARGO_ENCODED_RUSTFLAGS", None)
    env.pop("CARGO_BUILD_RUSTFLAGS", None)
    return env


def build(triple, jobs):
    # An explicit --target keeps RUSTFLAGS off build scripts and proc macros.
    cmd = ["cargo", "build", "--release", "--manifest-path", str(FUZZ / "Cargo.toml"),
           "--target", triple, "--bins"]
    if jobs:
        cmd += ["-j", str(jobs)]
    started = time.monotonic()
    subprocess.run(cmd, env=cargo_env(), check=True)
    log(f"built in {time.monotonic() - started:.0f} s")
    return TARGET_DIR / triple / "release"


def lint(triple):
    env = cargo_env()
    manifest = str(FUZZ / "Cargo.toml")
    subprocess.run(["cargo", "fmt", "--manifest-path", manifest, "--", "--check"], check=True)
    subprocess.run(["cargo", "clippy", "--release", "--manifest-path", manifest, "--target",
                    triple, "--bins", "--", "-D", "warnings"], env=env, check=True)


def stat(text, name, cast=int):
    found = re.findall(rf"^stat::{name}:\s+(\S+)", text, re.M)
    return cast(found[-1]) if found else None


def run_target(bin_dir, target, runs, max_time, short):
    seeds = FUZZ / "seeds" / target
    artifacts = FUZZ / "artifacts" / target
    artifacts.mkdir(parents=True, exist_ok=True)
    tmp = None
    if short:
        tmp = tempfile.mkdtemp(prefix=f"fuzz-{target}-")
        corpus = Path(tmp)
    else:
        corpus = CACHE / "fuzz-corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
    before = set(p.name for p in artifacts.iterdir())
    cmd = [
        str(bin_dir / target),
        f"-runs={runs}",
        f"-max_total_time={max_time}",
        f"-max_len={MAX_LEN[target]}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
    ]
    dictionary = FUZZ / "dicts" / f"{target}.dict"
    if dictionary.exists():
        cmd.append(f"-dict={dictionary}")
    cmd += [str(corpus), str(seeds)]
    log_path = (Path(tmp) if tmp else CACHE / "fuzz-corpus") / f"{target}.log"
    started = time.monotonic()
    with open(log_path, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    new = sorted(set(p.name for p in artifacts.iterdir()) - before)
    result = {
        "target": target,
        "executions": stat(text, "number_of_executed_units") or 0,
        "seconds": elapsed,
        "new_units": stat(text, "new_units_added") or 0,
        "peak_rss_mb": stat(text, "peak_rss_mb") or 0,
        "corpus": sum(1 for p in corpus.iterdir() if p.is_file()) if not short else
        sum(1 for _ in corpus.iterdir()),
        "seeds": sum(1 for _ in seeds.iterdir()) if seeds.exists() else 0,
        "crashes": new,
        "exit": proc.returncode,
        "cov": (re.findall(r"cov: (\d+)", text) or ["?"])[-1],
        "features": (re.findall(r"ft: (\d+)", text) or ["?"])[-1],
    }
    result["ok"] = proc.returncode == 0 and not new
    if not result["ok"]:
        tail = "\n".join(text.splitlines()[-40:])
        print(tail, file=sys.stderr)
        log(f"{target}: log in {log_path}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def line(r):
    rate = r["executions"] / r["seconds"] if r["seconds"] else 0
    verdict = "ok" if r["ok"] else f"FAILED (exit {r['exit']}, artifacts {r['crashes']})"
    return (f"{r['target']}: {r['executions']:,} executions in {r['seconds']:.1f} s "
            f"({rate:,.0f}/s), corpus {r['corpus']}, coverage {r['cov']} edges: {verdict}")


def git(*args):
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_report(path, results, runs, max_time, triple):
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows = []
    for r in results:
        rate = r["executions"] / r["seconds"] if r["seconds"] else 0
        crashes = len(r["crashes"]) if r["ok"] or r["crashes"] else "exit " + str(r["exit"])
        rows.append(f"| `{r['target']}` | {r['executions']:,} | {r['seconds']:,.0f} s | "
                    f"{rate:,.0f} | {r['seeds']} → {r['corpus']} | {r['cov']} | "
                    f"{r['peak_rss_mb']} | {crashes} |")
    limit = f"{runs:,} executions" + (f" or {max_time:,} s" if max_time else "")
    text = f"""# Fuzzing report {now}

Commit `{commit}`{" with uncommitted changes" if dirty else ""}; {rustc}; target `{triple}`.
Coverage-guided libFuzzer (`libfuzzer-sys`), SanitizerCoverage on stable (inline 8-bit
counters, PC table, comparison tracing; no AddressSanitizer), debug assertions and overflow
checks on. One target at a time, one process, limit {limit} per target. Command:
`make fuzz FUZZ_RUNS={runs}` (`fuzz/run.py`).

| target | executions | time | exec/s | corpus (seeds → after) | edges | peak RSS MB | crashes |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

What each target drives and checks: `fuzz/README.md`. The corpus carries over between
long runs (`~/.cache/smsflow/fuzz-corpus/`); crashing inputs are in `fuzz/artifacts/`.
"""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    log(f"report: {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=float, default=10_000_000, help="executions per target")
    p.add_argument("--max-time", type=int, default=0, help="seconds per target (0: no limit)")
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    p.add_argument("--short", action="store_true",
                   help="the run of `make test`: 50,000 executions or 20 s per target")
    p.add_argument("--report", help="write a Markdown report here")
    p.add_argument("--jobs", type=int, default=0, help="cargo build jobs (default: cargo's)")
    p.add_argument("--lint", action="store_true", help="rustfmt check and clippy, then exit")
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    args = p.parse_args()
    triple = host_triple()
    if args.lint:
        lint(triple)
        return 0
    runs, max_time = int(args.runs), args.max_time
    if args.short:
        runs, max_time = 50_000, 20
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        p.error(f"unknown targets {sorted(unknown)}; known: {TARGETS}")
    bin_dir = TARGET_DIR / triple / "release" if args.no_build else build(triple, args.jobs)
    results = []
    for target in targets:
        log(f"{target}: running ({runs:,} executions" + (f", at most {max_time} s)" if max_time else ")"))
        r = run_target(bin_dir, target, runs, max_time, args.short)
        log(line(r))
        results.append(r)
    if args.report:
        write_report(args.report, results, runs, max_time, triple)
    failed = [r["target"] for r in results if not r["ok"]]
    if failed:
        log(f"FAILED: {', '.join(failed)} (inputs in fuzz/artifacts/)")
    print(f"fuzz: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
