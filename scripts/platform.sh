#!/usr/bin/env bash
# The smsflow processes on top of the stack: the carrier simulator and the five services.
#
#   scripts/platform.sh start     start what is not running, wait until each is ready
#                                 (.stack/platform-started-now exists if it started anything)
#   scripts/platform.sh stop      stop them by pid (SIGTERM: they drain and commit)
#   scripts/platform.sh status    one line each
#
# Binaries come from $CARGO_TARGET_DIR/debug (built by `make build`), or from
# $CARGO_TARGET_DIR/$SMSFLOW_PROFILE with SMSFLOW_PROFILE=release (`cargo build --release`;
# `make bench` does this); configs from config/local, or from SMSFLOW_PLATFORM_CONFIG, a folder
# of the files it changes (config/two-carriers: two carriers with failover). SMSFLOW_* variables in the environment
# (e.g. SMSFLOW_KAFKA__TOPIC_PREFIX) reach every service.
#
# SMSFLOW_DISPATCHERS=2 runs a second dispatcher (`dispatcher-2`, ops port 8093) in the same
# group, as the Helm chart does; SMSFLOW_SIM_SCENARIO names the simulator's scenario file in
# tools/carrier-sim/scenarios (default.toml).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK_DIR=${SMSFLOW_STACK_DIR:-$ROOT/.stack}
PROFILE=${SMSFLOW_PROFILE:-debug}
LOCAL_CONF=$ROOT/config/local
CONF=${SMSFLOW_PLATFORM_CONFIG:-$LOCAL_CONF}
DISPATCHERS=${SMSFLOW_DISPATCHERS:-1}
SCENARIO=${SMSFLOW_SIM_SCENARIO:-default.toml}
# Not for the services: they read every SMSFLOW_* variable as config and refuse unknown keys.
unset SMSFLOW_PROFILE SMSFLOW_PLATFORM_CONFIG SMSFLOW_DISPATCHERS SMSFLOW_SIM_SCENARIO
BIN=${CARGO_TARGET_DIR:-$HOME/.cache/smsflow/target}/$PROFILE
mkdir -p "$STACK_DIR"/{logs,pids}

# A service's config file: from $CONF if it has one, else config/local's (a folder such as
# config/two-carriers holds only the files it changes).
conf() { if [ -f "$CONF/$1" ]; then echo "$CONF/$1"; else echo "$LOCAL_CONF/$1"; fi; }

# name | binary and arguments | readiness URL | environment of its own (optional)
SERVICES=(
  "carrier-sim|carrier-sim --config $ROOT/tools/carrier-sim/scenarios/$SCENARIO|http://127.0.0.1:8090/healthz"
  "analytics|analytics --config $(conf analytics.toml)|http://127.0.0.1:8085/readyz"
  "dlr-ingester|dlr-ingester --config $(conf dlr-ingester.toml)|http://127.0.0.1:8084/readyz"
  "dispatcher|dispatcher --config $(conf dispatcher.toml)|http://127.0.0.1:8083/readyz"
)
if [ "$DISPATCHERS" = 2 ]; then SERVICES+=(
  "dispatcher-2|dispatcher --config $(conf dispatcher.toml)|http://127.0.0.1:8093/readyz|SMSFLOW_HTTP__LISTEN=127.0.0.1:8093"
); fi
SERVICES+=(
  "router|router --config $(conf router.toml)|http://127.0.0.1:8082/readyz"
  "ingest|ingest --config $(conf ingest.toml)|http://127.0.0.1:8080/readyz"
)

say() { printf '[platform] %s\n' "$*"; }
# shellcheck source=scripts/pidfile.sh
source "$ROOT/scripts/pidfile.sh"
ready() { python3 "$ROOT/scripts/probe.py" http "$1" >/dev/null 2>&1; }

start() {
  rm -f "$STACK_DIR/platform-started-now"
  for entry in "${SERVICES[@]}"; do
    IFS='|' read -r name cmd url own <<<"$entry"
    if pid_of "$name" >/dev/null; then say "$name already running (pid $(pid_of "$name"))"; continue; fi
    read -r -a argv <<<"$cmd"
    if [ ! -x "$BIN/${argv[0]}" ]; then
      if [ "$PROFILE" = debug ]; then say "error: $BIN/${argv[0]} not built (run make build)"
      else say "error: $BIN/${argv[0]} not built (run cargo build --profile $PROFILE --workspace --bins)"; fi
      exit 1
    fi
    # ingest has no store: store settings meant for the others (the benchmark's keyspace) are
    # not its config, and it refuses keys it does not know.
    local drop=()
    [ "$name" = ingest ] && for v in $(compgen -e | grep '^SMSFLOW_STORE__' || true); do drop+=(-u "$v"); done
    # Appended to, so a restart (the chaos suite's) keeps what the killed process said; one
    # older generation kept past 64 MB.
    local log=$STACK_DIR/logs/$name.log
    if [ "$(stat -c %s "$log" 2>/dev/null || echo 0)" -gt 67108864 ]; then mv -f "$log" "$log.1"; fi
    printf '=== %s started %s\n' "$name" "$(date -u +%FT%T.%3NZ)" >>"$log"
    nohup env "${drop[@]}" ${own:+"$own"} "$BIN/${argv[0]}" "${argv[@]:1}" >>"$log" 2>&1 </dev/null &
    write_pid "$name" $!
    local t=0
    until ready "$url"; do
      if ! pid_of "$name" >/dev/null; then say "$name died; last log lines:"; tail -20 "$STACK_DIR/logs/$name.log"; exit 1; fi
      ((t++ < 120)) || { say "$name not ready after 60s ($url); last log lines:"; tail -20 "$STACK_DIR/logs/$name.log"; exit 1; }
      sleep 0.5
    done
    say "$name ready (pid $(pid_of "$name"), $PROFILE) $url"
    touch "$STACK_DIR/platform-started-now"
  done
}

stop_one() {
  local name=$1 pid; pid=$(pid_of "$name" || true)
  [ -n "$pid" ] || { rm -f "$STACK_DIR/pids/$name"; return 0; }
  say "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$STACK_DIR/pids/$name"
}

stop() {
  local i
  for ((i=${#SERVICES[@]}-1; i>=0; i--)); do
    IFS='|' read -r name _ <<<"${SERVICES[$i]}"
    stop_one "$name"
    # A second dispatcher started earlier goes too, whatever SMSFLOW_DISPATCHERS says now.
    if [ "$name" = dispatcher ]; then stop_one dispatcher-2; fi
  done
}

status() {
  for entry in "${SERVICES[@]}"; do
    IFS='|' read -r name _ url <<<"$entry"
    local pid state; pid=$(pid_of "$name" || true)
    if ready "$url"; then state=ready; else state="not ready"; fi
    printf '%-13s %-10s %s\n' "$name" "$state" "${pid:+pid $pid}"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
