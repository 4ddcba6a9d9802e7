#!/usr/bin/env bash
# CI's smoke of the end-to-end benchmark (part of `make run-tests`): starts the platform
# (debug binaries) if it is not running, runs `bench/run.py --smoke` (~10 s at a low rate;
# exit 1 if nothing was delivered or anything failed, was lost or duplicated), and stops
# only what it started. Needs the stack up and set up.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK_DIR=${SMSFLOW_STACK_DIR:-$ROOT/.stack}
started=0
if ! "$ROOT/scripts/platform.sh" status | grep -q "^ingest *ready"; then
  "$ROOT/scripts/platform.sh" start
  started=1
fi
rc=0
python3 "$ROOT/bench/run.py" --smoke || rc=$?
if [ "$started" = 1 ]; then "$ROOT/scripts/platform.sh" stop >/dev/null; fi
rm -f "$STACK_DIR/platform-started-now"
exit $rc
