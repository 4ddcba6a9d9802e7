#!/usr/bin/env bash
# Test tools that are not Rust: node-smpp (the independent SMPP peer of the conformance tests)
# and Confluent's Python client (the independent Avro decoder). Re-runs are no-ops unless a
# lock file changed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for dir in "$ROOT"/tools/conformance; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.smsflow-stamp"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "[tools] npm ci in ${dir#$ROOT/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
done
venv=$ROOT/tools/python/.venv
req=$ROOT/tools/python/requirements.txt
if [ ! -f "$venv/.smsflow-stamp" ] || [ "$req" -nt "$venv/.smsflow-stamp" ]; then
  echo "[tools] python venv from tools/python/requirements.txt"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  touch "$venv/.smsflow-stamp"
fi
