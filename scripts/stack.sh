#!/usr/bin/env bash
# The local smsflow stack: Kafka (KRaft), Cassandra (standing in for ScyllaDB) and Apicurio
# Registry (Confluent-compatible API), all fetched from Maven Central and run as JVM processes
# bound to 127.0.0.1.
#
#   scripts/stack.sh fetch                 download (cached in ~/.m2 and $SMSFLOW_STACK_CACHE)
#   scripts/stack.sh start [--record F]    start what is not already running; with --record,
#                                          append the names this call started to F
#   scripts/stack.sh stop [--only F]       stop by pid what we started (or only the names in F)
#   scripts/stack.sh status                one line per server
#   scripts/stack.sh logs [name]           tail the logs
#
# Every knob is an environment variable (defaults run locally); see README.md "Local stack".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK_DIR=${SMSFLOW_STACK_DIR:-$ROOT/.stack}            # data, logs, pids of this checkout
CACHE=${SMSFLOW_STACK_CACHE:-$HOME/.cache/smsflow}            # unpacked distributions, shared by clones
M2_REPO=${SMSFLOW_STACK_M2_REPO:-$HOME/.m2/repository}
JAVA=${SMSFLOW_STACK_JAVA:-java}
KAFKA_VERSION=${SMSFLOW_STACK_KAFKA_VERSION:-4.2.1}
LOG4J_VERSION=${SMSFLOW_STACK_LOG4J_VERSION:-2.25.3}
CASSANDRA_VERSION=${SMSFLOW_STACK_CASSANDRA_VERSION:-5.0.8}
APICURIO_VERSION=${SMSFLOW_STACK_APICURIO_VERSION:-2.6.13.Final}   # 3.x needs Java 21
KAFKA_PORT=${SMSFLOW_STACK_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${SMSFLOW_STACK_KAFKA_CONTROLLER_PORT:-9093}
CQL_PORT=${SMSFLOW_STACK_CQL_PORT:-9042}
CASSANDRA_STORAGE_PORT=${SMSFLOW_STACK_CASSANDRA_STORAGE_PORT:-7000}
CASSANDRA_JMX_PORT=${SMSFLOW_STACK_CASSANDRA_JMX_PORT:-7199}
REGISTRY_PORT=${SMSFLOW_STACK_REGISTRY_PORT:-8081}
REGISTRY_MGMT_PORT=${SMSFLOW_STACK_REGISTRY_MGMT_PORT:-9001}
READY_TIMEOUT=${SMSFLOW_STACK_READY_TIMEOUT:-240}
# When Cassandra acknowledges a write (ADR 12, decision 14): periodic (Cassandra's and
# ScyllaDB's default: before its commit log is synced, so a SIGKILL of this one node loses the
# last acknowledged writes; production's RF 3 with LOCAL_QUORUM does not lose them to one
# node) or group (after the sync, 2 ms windows: the chaos suite's `cassandra` target, where
# this node stands in for a replicated cluster; ~2.5x the benchmark's cost per message).
CASSANDRA_COMMITLOG_SYNC=${SMSFLOW_STACK_CASSANDRA_COMMITLOG_SYNC:-periodic}
DEP=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
NAMES=(kafka cassandra registry)

say() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

need_java() {
  local v
  v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
  if [ "$v" = 17 ] && command -v mvn >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Java 17 and Maven with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
    [ "$v" = 17 ] || JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
  else
    die "need Java 17 (found '${v:-none}') and Maven: install openjdk-17-jre-headless and maven, or set SMSFLOW_STACK_JAVA to a Java 17 binary"
  fi
}

pom() { # dir g:a:v...  one pom per server: never resolve Kafka and Cassandra together
  local dir=$1; shift; mkdir -p "$dir"
  { echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo "<groupId>local.smsflow</groupId><artifactId>$(basename "$dir")</artifactId><version>1</version><packaging>pom</packaging><dependencies>"
    for d in "$@"; do IFS=: read -r g a v <<<"$d"
      echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"; done
    echo '</dependencies></project>'; } >"$dir/pom.xml"
}

mvn_copy() { # dir: resolve the pom's runtime closure into dir/lib (atomically)
  rm -rf "$1/lib.tmp"
  mvn -B -q -Dmaven.repo.local="$M2_REPO" -f "$1/pom.xml" $DEP:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$1/lib.tmp"
  mv "$1/lib.tmp" "$1/lib"
}

KAFKA_DIST=$CACHE/kafka-$KAFKA_VERSION
CASSANDRA_DIST=$CACHE/cassandra-$CASSANDRA_VERSION
REGISTRY_DIST=$CACHE/apicurio-$APICURIO_VERSION

fetch() {
  need_java
  if [ ! -d "$KAFKA_DIST/lib" ]; then
    say "fetching Kafka $KAFKA_VERSION from Maven Central"
    pom "$KAFKA_DIST" org.apache.kafka:kafka_2.13:$KAFKA_VERSION \
      org.apache.logging.log4j:log4j-slf4j-impl:$LOG4J_VERSION \
      org.apache.logging.log4j:log4j-core:$LOG4J_VERSION org.apache.logging.log4j:log4j-api:$LOG4J_VERSION
    mvn_copy "$KAFKA_DIST"
  fi
  if [ ! -d "$CASSANDRA_DIST/lib" ]; then
    say "fetching Cassandra $CASSANDRA_VERSION from Maven Central"
    pom "$CASSANDRA_DIST" org.apache.cassandra:cassandra-all:$CASSANDRA_VERSION
    mvn_copy "$CASSANDRA_DIST"
  fi
  if ! registry_jar >/dev/null; then
    say "fetching Apicurio Registry $APICURIO_VERSION from Maven Central"
    mvn -B -q -Dmaven.repo.local="$M2_REPO" $DEP:get \
      -Dartifact=io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all -Dtransitive=false
    rm -rf "$REGISTRY_DIST.tmp"; mkdir -p "$REGISTRY_DIST.tmp"
    tar xzf "$M2_REPO/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" \
      -C "$REGISTRY_DIST.tmp"
    rm -rf "$REGISTRY_DIST"; mv "$REGISTRY_DIST.tmp" "$REGISTRY_DIST"
  fi
}

registry_jar() {
  find "$REGISTRY_DIST" -maxdepth 3 \( -name quarkus-run.jar -o -name '*-runner.jar' \) 2>/dev/null | head -1 | grep .
}

configs() {
  mkdir -p "$STACK_DIR"/{logs,pids,kafka,cassandra}
  cat >"$STACK_DIR/kafka/server.properties" <<P
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STACK_DIR/kafka/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
P
  cat >"$STACK_DIR/kafka/log4j2.properties" <<'P'
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.req.name = kafka.request.logger
logger.req.level = WARN
P
  local d=$STACK_DIR/cassandra/data
  local sync_line
  case $CASSANDRA_COMMITLOG_SYNC in
    periodic) sync_line="commitlog_sync_period: 10s" ;;
    group) sync_line="commitlog_sync_group_window: 2ms" ;;
    *) die "SMSFLOW_STACK_CASSANDRA_COMMITLOG_SYNC must be periodic or group" ;;
  esac
  cat >"$STACK_DIR/cassandra/cassandra.yaml" <<Y
cluster_name: 'smsflow-local'
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
num_tokens: 1
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $CASSANDRA_STORAGE_PORT
native_transport_port: $CQL_PORT
start_native_transport: true
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$CASSANDRA_STORAGE_PORT"
data_file_directories: [$d/data]
commitlog_directory: $d/commitlog
saved_caches_directory: $d/saved_caches
hints_directory: $d/hints
cdc_raw_directory: $d/cdc_raw
commitlog_sync: $CASSANDRA_COMMITLOG_SYNC
$sync_line
commitlog_segment_size: 8MiB
auto_snapshot: false
# Trie memtables (Cassandra 5's own) with their cells off the heap, and room for them: less GC
# and fewer, larger flushes, so less compaction (measured in ADR 11).
memtable_allocation_type: offheap_objects
memtable_heap_space: 256MiB
memtable_offheap_space: 1024MiB
memtable:
  configurations:
    default:
      class_name: TrieMemtable
disk_access_mode: standard
concurrent_reads: 8
concurrent_writes: 16
# ScyllaDB's (production's) batch size limits, not Cassandra's 5 KiB warning and 50 KiB
# refusal: analytics writes several messages' views in one batch (ADR 11, decision 18) and
# keeps each under 32 KiB itself.
batch_size_warn_threshold: 128KiB
batch_size_fail_threshold: 1024KiB
Y
  cat >"$STACK_DIR/cassandra/logback.xml" <<'X'
<configuration><appender name="O" class="ch.qos.logback.core.ConsoleAppender"><encoder>
<pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern></encoder></appender>
<root level="INFO"><appender-ref ref="O"/></root></configuration>
X
}

# shellcheck source=scripts/pidfile.sh
source "$ROOT/scripts/pidfile.sh"

probe() {
  case $1 in
    kafka) python3 "$ROOT/scripts/probe.py" kafka 127.0.0.1 "$KAFKA_PORT" ;;
    cassandra) python3 "$ROOT/scripts/probe.py" cql 127.0.0.1 "$CQL_PORT" ;;
    registry) python3 "$ROOT/scripts/probe.py" http "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" ;;
  esac >/dev/null 2>&1
}

launch() { # name cmd...
  local name=$1; shift
  nohup "$@" >"$STACK_DIR/logs/$name.log" 2>&1 </dev/null &
  write_pid "$name" $!
}

launch_kafka() {
  # The JVM flags Kafka's own start script uses (kafka-run-class.sh): G1 aiming at 20 ms
  # pauses. With G1's default target (200 ms) and a 512 MiB heap, young pauses averaged
  # 55 ms under a bulk drain, and every request in flight, an OTP's too, waited them out
  # (ADR 11, decision 17).
  local opts=(-Xms1g -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true -Dkafka.logs.dir="$STACK_DIR/logs"
    -Dlog4j2.configurationFile="$STACK_DIR/kafka/log4j2.properties")
  if [ ! -f "$STACK_DIR/kafka/data/meta.properties" ]; then
    "$JAVA" "${opts[@]}" -cp "$KAFKA_DIST/lib/*" kafka.tools.StorageTool format \
      -t smsflowLocalCluster0A -c "$STACK_DIR/kafka/server.properties" --ignore-formatted \
      >"$STACK_DIR/logs/kafka-format.log" 2>&1 || { cat "$STACK_DIR/logs/kafka-format.log"; die "kafka storage format failed"; }
  fi
  launch kafka "$JAVA" "${opts[@]}" -cp "$KAFKA_DIST/lib/*" kafka.Kafka "$STACK_DIR/kafka/server.properties"
}

launch_cassandra() {
  local lib=$CASSANDRA_DIST/lib jamm
  # Cassandra 5.0 copies system.compaction_history onto itself at every start
  # (SystemKeyspaceMigrator41: "compaction_history table was empty, migrating legacy
  # compaction_history"), and the table grows with every compaction: 8,377 rows took 18.7 s
  # of a 38 s restart here, and restarts grew longer round after round in the chaos suite's
  # `cassandra` target (ADR 12, decision 24). The table is history only (`nodetool
  # compactionhistory`): emptied before each start.
  rm -f "$STACK_DIR"/cassandra/data/data/system/compaction_history-*/*
  jamm=$(ls "$lib"/jamm-*.jar | head -1)
  local opts=(-Xms2g -Xmx2g -Xss256k -XX:+UseG1GC -XX:ActiveProcessorCount=2 -Djava.net.preferIPv4Stack=true
    -javaagent:"$jamm" -Djdk.attach.allowAttachSelf=true -Dio.netty.tryReflectionSetAccessible=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED
    -Dcassandra.config=file://"$STACK_DIR/cassandra/cassandra.yaml" -Dcassandra.storagedir="$STACK_DIR/cassandra/data"
    -Dcassandra-foreground=yes -Dlogback.configurationFile="$STACK_DIR/cassandra/logback.xml"
    -Dcassandra.jmx.local.port="$CASSANDRA_JMX_PORT"
    -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.initial_token=0
    -Dcassandra.superuser_setup_delay_ms=0)
  launch cassandra "$JAVA" "${opts[@]}" -cp "$lib/*" org.apache.cassandra.service.CassandraDaemon
}

launch_registry() {
  # H2 in a file under the stack dir: schema ids must outlive a registry restart, because the
  # Kafka log that refers to them does.
  mkdir -p "$STACK_DIR/registry"
  REGISTRY_DATASOURCE_URL="jdbc:h2:file:$STACK_DIR/registry/db" \
  launch registry "$JAVA" -Xms256m -Xmx512m -XX:+UseSerialGC \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
    -jar "$(registry_jar)"
}

wait_ready() { # name started_at
  local name=$1 t0=$2
  until probe "$name"; do
    local pid; pid=$(pid_of "$name" || true)
    if [ -z "$pid" ]; then
      say "$name died during start-up; last log lines ($STACK_DIR/logs/$name.log):"
      tail -40 "$STACK_DIR/logs/$name.log" >&2; return 1
    fi
    if (($(date +%s) - t0 > READY_TIMEOUT)); then
      say "$name not ready after ${READY_TIMEOUT}s; last log lines ($STACK_DIR/logs/$name.log):"
      tail -40 "$STACK_DIR/logs/$name.log" >&2; return 1
    fi
    sleep 1
  done
  say "$name ready after $(($(date +%s) - t0))s"
}

start() {
  local record=""
  [ "${1:-}" = --record ] && record=$2
  local todo=()
  for n in "${NAMES[@]}"; do
    if probe "$n"; then
      if pid_of "$n" >/dev/null; then say "$n already running (pid $(pid_of "$n"))"
      else say "$n already served on its port by a process we did not start: using it"; fi
    else
      todo+=("$n")
    fi
  done
  [ ${#todo[@]} -gt 0 ] || return 0
  fetch
  configs
  local t0; t0=$(date +%s)
  for n in "${todo[@]}"; do
    if pid_of "$n" >/dev/null; then say "$n starting (pid $(pid_of "$n"))"; continue; fi
    "launch_$n"; say "$n started (pid $(pid_of "$n")), waiting for readiness"
    [ -z "$record" ] || echo "$n" >>"$record"
  done
  local failed=0
  for n in "${todo[@]}"; do wait_ready "$n" "$t0" || failed=1; done
  [ $failed = 0 ] || die "stack did not come up (make logs shows everything)"
}

stop() {
  local names=("${NAMES[@]}")
  if [ "${1:-}" = --only ]; then
    [ -f "$2" ] || return 0
    mapfile -t names <"$2"
  fi
  for n in "${names[@]}"; do
    local pid; pid=$(pid_of "$n" || true)
    [ -n "$pid" ] || { rm -f "$STACK_DIR/pids/$n"; continue; }
    say "stopping $n (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$STACK_DIR/pids/$n"
  done
}

status() {
  local rc=0
  for n in "${NAMES[@]}"; do
    local pid state; pid=$(pid_of "$n" || true)
    if probe "$n"; then state=ready; else state="not ready"; rc=1; fi
    printf '%-10s %-10s %s\n' "$n" "$state" "${pid:+pid $pid}"
  done
  return $rc
}

logs() {
  if [ -n "${1:-}" ]; then tail -n 100 -f "$STACK_DIR/logs/$1.log"
  else tail -n 20 "$STACK_DIR"/logs/*.log; fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  fetch) fetch ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  status) status ;;
  logs) logs "$@" ;;
  *) echo "usage: $0 fetch|start [--record FILE]|stop [--only FILE]|status|logs [name]" >&2; exit 2 ;;
esac
