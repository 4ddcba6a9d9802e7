# Pid files of the processes stack.sh and platform.sh start (sourced by both; bench/run.py
# reads them the same way). A file holds "<pid> <start time>": the start time is field 22
# of /proc/<pid>/stat, in clock ticks since boot. A pid alone is not enough: after a reboot
# (or once our process is gone) the same number may be another process, and stopping "ours"
# would kill it; on 2026-12-07 a restarted machine's stale files named Kafka's and
# Cassandra's new pids, and the benchmark's platform stop killed the stack.

# The start time of process $1, or nothing if there is none.
proc_start() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# Records process $2 as service $1's.
write_pid() { echo "$2 $(proc_start "$2")" >"$STACK_DIR/pids/$1"; }

# Prints service $1's pid if its process still runs; fails otherwise.
pid_of() {
  local f=$STACK_DIR/pids/$1 pid start
  [ -f "$f" ] && read -r pid start <"$f" && [ -n "$pid" ] && [ -n "$start" ] \
    && [ "$(proc_start "$pid")" = "$start" ] && echo "$pid"
}
