#!/usr/bin/env bash
# Tocsin's local Apache Kafka broker (KRaft, one node acting as broker and controller).
#
# Why this script: the tests and the demo need a real Kafka, and the machines have Java and Maven
# but no Docker and no Kafka tarball. Maven Central has the broker as the kafka_2.13 artifact, so
# `fetch` resolves it with Maven into a versioned cache outside the repo, and `start` runs
# `kafka.Kafka` from that classpath with settings sized for a 2-core box.
#
# Usage: deploy/kafka/kafka.sh fetch|start|stop|status|clean
#
# Environment (all optional):
#   TOCSIN_CACHE           cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/tocsin)
#   KAFKA_VERSION          broker version (default: kafka.version in deploy/kafka/pom.xml)
#   KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 (default KAFKA_PORT+1)
#   KAFKA_DATA_DIR         state folder: data, kafka.log, kafka.pid
#                          (default $TOCSIN_CACHE/run/kafka-$KAFKA_PORT)
#   KAFKA_HEAP_OPTS        default "-Xms256m -Xmx512m"
#   KAFKA_JVM_OPTS         default "-XX:+UseSerialGC -XX:TieredStopAtLevel=1" (fast start, small)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
#   KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 20)
#   PYTHON                 interpreter used for the metadata readiness probe (default python3)
#   KAFKA_SECURITY         PLAINTEXT (default) or SASL_SSL: the client listener's protocol. SASL_SSL
#                          takes SCRAM-SHA-512 logins over TLS (and serves the broker's own
#                          inter-broker link), and needs the three settings below
#   KAFKA_SSL_KEYSTORE     SASL_SSL: PKCS12 file with the broker's key and certificate (SAN
#                          IP:127.0.0.1); its password in KAFKA_SSL_KEYSTORE_PASSWORD
#   KAFKA_SSL_CAFILE       SASL_SSL: PEM file of the CA that signed it (the broker and the probe
#                          trust it)
#   KAFKA_SCRAM_USERS_FILE SASL_SSL: "name=password" lines, the SCRAM-SHA-512 users written into the
#                          storage when the data dir is formatted (first start only); the first
#                          one is the broker's own login and the readiness probe's. Names and
#                          passwords: letters, digits and ._- only
#   JAVA, MVN              executables (default java from JAVA_HOME or PATH, mvn)
#
# Exit codes: 0 ok; 1 error; `status` exits 3 when the broker is not running (LSB convention).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"

TOCSIN_CACHE="${TOCSIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tocsin}"
pom_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)"
KAFKA_VERSION="${KAFKA_VERSION:-$pom_version}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
if [[ ! "$KAFKA_PORT" =~ ^[0-9]{1,5}$ ]]; then
  printf 'kafka.sh: error: KAFKA_PORT must be a TCP port, got %s\n' "'$KAFKA_PORT'" >&2
  exit 1
fi
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((10#$KAFKA_PORT + 1))}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$TOCSIN_CACHE/run/kafka-$KAFKA_PORT}"
# Absolute, because the PID check matches the broker's command line against this path.
[[ "$KAFKA_DATA_DIR" == /* ]] || KAFKA_DATA_DIR="$PWD/$KAFKA_DATA_DIR"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-20}"
PYTHON="${PYTHON:-python3}"
KAFKA_SECURITY="${KAFKA_SECURITY:-PLAINTEXT}"
KAFKA_SSL_KEYSTORE="${KAFKA_SSL_KEYSTORE:-}"
KAFKA_SSL_KEYSTORE_PASSWORD="${KAFKA_SSL_KEYSTORE_PASSWORD:-}"
KAFKA_SSL_CAFILE="${KAFKA_SSL_CAFILE:-}"
KAFKA_SCRAM_USERS_FILE="${KAFKA_SCRAM_USERS_FILE:-}"
JAVA="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
MVN="${MVN:-mvn}"

VERSION_DIR="$TOCSIN_CACHE/kafka/$KAFKA_VERSION"
LIBS_DIR="$VERSION_DIR/libs"
MARKER="$VERSION_DIR/.complete"
PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
LOG_FILE="$KAFKA_DATA_DIR/kafka.log"
STDOUT_FILE="$KAFKA_DATA_DIR/kafka.stdout"
CONFIG_FILE="$KAFKA_DATA_DIR/server.properties"
STORAGE_DIR="$KAFKA_DATA_DIR/data"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

check_port_number() {
  local name="$1" value="$2"
  if [[ ! "$value" =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    die "$name must be a TCP port, got '$value'"
  fi
}

# Take an exclusive lock on a file, held until unlock_file or until this process exits, so two
# concurrent fetches, or two starts of one data dir, do not trample each other. flock(1) is
# util-linux; where it is missing we go on without the lock.
LOCK_FD=""
lock_file() {
  local path="$1" fd
  command -v flock >/dev/null 2>&1 || return 0
  exec {fd}>"$path"
  LOCK_FD="$fd"
  flock -w 600 "$fd" || die "timed out waiting for lock $path"
}
unlock_file() {
  [[ -n "$LOCK_FD" ]] || return 0
  exec {LOCK_FD}>&-
  LOCK_FD=""
}

# ---------------------------------------------------------------------------------------------- fetch

fetch() {
  if [[ -f "$MARKER" ]]; then
    log "kafka $KAFKA_VERSION libs cached in $LIBS_DIR"
    return 0
  fi
  command -v "$MVN" >/dev/null 2>&1 || die "maven ('$MVN') not found; install Maven 3.8+"
  mkdir -p "$TOCSIN_CACHE/kafka" "$TOCSIN_CACHE/m2"
  lock_file "$TOCSIN_CACHE/kafka/.fetch-$KAFKA_VERSION.lock"
  if [[ -f "$MARKER" ]]; then # another fetch finished while we waited for the lock
    unlock_file
    log "kafka $KAFKA_VERSION libs cached in $LIBS_DIR"
    return 0
  fi

  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven (first run only)"
  local tmp
  tmp="$(mktemp -d "$TOCSIN_CACHE/kafka/.fetch-$KAFKA_VERSION.XXXXXX")"
  # An interrupted or failed fetch leaves only this temp dir, which we remove; the cache entry
  # appears with one rename once complete, so a half-filled libs dir is never used.
  # shellcheck disable=SC2064  # expand $tmp now: it is local to this function
  trap "rm -rf '$tmp'" EXIT
  "$MVN" -q -B -Dstyle.color=never -f "$POM" \
    -Dmaven.repo.local="$TOCSIN_CACHE/m2" \
    -Dkafka.version="$KAFKA_VERSION" \
    -DincludeScope=runtime \
    -DoutputDirectory="$tmp/libs" \
    dependency:copy-dependencies 2>&1 |
    # Debian's Maven prints bare colour resets even with -q -B; keep only real messages.
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 ||
    die "maven could not resolve kafka_2.13:$KAFKA_VERSION (is it on Maven Central?)"
  [[ -f "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"

  {
    printf 'kafka_2.13 %s fetched %s\n' "$KAFKA_VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    (cd "$tmp/libs" && ls -1)
  } >"$tmp/.complete.tmp"
  mv "$tmp/.complete.tmp" "$tmp/.complete"
  rm -rf "$VERSION_DIR"
  mv "$tmp" "$VERSION_DIR"
  trap - EXIT
  unlock_file
  log "kafka $KAFKA_VERSION libs ready in $LIBS_DIR ($(find "$LIBS_DIR" -name '*.jar' | wc -l) jars)"
}

# --------------------------------------------------------------------------------------- processes

# Print the PID from the PID file if that process is alive and is the broker of this data dir
# (guards against a stale file whose PID the kernel gave to something else).
live_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid args state
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] || return 1
  state="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
  [[ "$state" != Z* ]] || return 1
  # /proc, not `ps -o args=`: ps cuts the line to $COLUMNS when it is set (as under pytest), and
  # the broker's command line (a 45-jar classpath) is far longer than that.
  args="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$args" == *kafka.Kafka*"$CONFIG_FILE"* ]] || return 1
  printf '%s\n' "$pid"
}

port_open() {
  # bash's /dev/tcp: connect and close at once; no netcat needed.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# SCRAM users as "name password" lines (blank lines and # comments skipped), checked: the names
# and passwords go into a JAAS line and a --add-scram argument, where quotes, commas or brackets
# would end the value early.
scram_users() {
  local line name password
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "${line// /}" || "$line" == \#* ]] && continue
    name="${line%%=*}" password="${line#*=}"
    [[ "$line" == *=* && "$name" =~ ^[A-Za-z0-9._-]+$ && "$password" =~ ^[A-Za-z0-9._-]+$ ]] ||
      die "KAFKA_SCRAM_USERS_FILE: expected name=password (letters, digits, ._-), got a malformed line"
    printf '%s %s\n' "$name" "$password"
  done <"$KAFKA_SCRAM_USERS_FILE"
}

check_security() {
  case "$KAFKA_SECURITY" in
    PLAINTEXT) return 0 ;;
    SASL_SSL) ;;
    *) die "KAFKA_SECURITY must be PLAINTEXT or SASL_SSL, got '$KAFKA_SECURITY'" ;;
  esac
  local var
  for var in KAFKA_SSL_KEYSTORE KAFKA_SSL_CAFILE KAFKA_SCRAM_USERS_FILE; do
    [[ -n "${!var}" ]] || die "KAFKA_SECURITY=SASL_SSL needs $var"
    [[ -r "${!var}" ]] || die "$var: cannot read ${!var}"
  done
  [[ -n "$KAFKA_SSL_KEYSTORE_PASSWORD" ]] || die "KAFKA_SECURITY=SASL_SSL needs KAFKA_SSL_KEYSTORE_PASSWORD"
  scram_users >/dev/null # dies on a malformed line, here rather than in a subshell
  [[ -n "$(scram_users)" ]] || die "KAFKA_SCRAM_USERS_FILE lists no user"
}

# The listener lines of server.properties for KAFKA_SECURITY.
listener_config() {
  local cp="CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
  if [[ "$KAFKA_SECURITY" == PLAINTEXT ]]; then
    cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,$cp
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
EOF
    return 0
  fi
  local broker_user broker_password
  read -r broker_user broker_password < <(scram_users)
  # The controller listener stays PLAINTEXT on 127.0.0.1: it is the node talking to itself.
  cat <<EOF
listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,$cp
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$broker_user" password="$broker_password";
ssl.keystore.type=PKCS12
ssl.keystore.location=$KAFKA_SSL_KEYSTORE
ssl.keystore.password=$KAFKA_SSL_KEYSTORE_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_SSL_CAFILE
ssl.client.auth=none
EOF
}

write_config() {
  # In SASL_SSL mode the file holds the broker's SCRAM and keystore passwords: owner only.
  (umask 077 && : >"$CONFIG_FILE")
  cat >"$CONFIG_FILE" <<EOF
# Written by deploy/kafka/kafka.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
$(listener_config)
controller.listener.names=CONTROLLER
log.dirs=$STORAGE_DIR

# Two cores shared with the Faust workers and the model.
num.network.threads=2
num.io.threads=2
background.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
# Compaction (Faust changelogs) keeps its dedupe buffer on the heap: 128 MB by default.
log.cleaner.dedupe.buffer.size=16777216

# One node: every internal topic has one replica; few partitions keep group joins fast.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Tests and the demo want a consumer group to start at once, not after 3 s.
group.initial.rebalance.delay.ms=0
# Faust creates its own changelog and repartition topics; Tocsin's own topics are created up
# front with explicit partition counts (pipeline/ops/topics.py), this default only serves the rest.
auto.create.topics.enable=true
num.partitions=4
delete.topic.enable=true

# Generous retention: a demo left running for days keeps its history.
log.retention.hours=168
log.retention.bytes=-1
log.segment.bytes=67108864
EOF
}

format_storage() {
  [[ -f "$STORAGE_DIR/meta.properties" ]] && return 0
  local cluster_id
  # A Kafka cluster id is 16 random bytes in unpadded URL-safe base64 (22 characters).
  # Kafka's argument parser takes an id that starts with "-" for an option ("expected one
  # argument"): 1 start in 64 failed to format. Such ids are valid; draw again rather than rely on
  # the parser's "--cluster-id=..." handling.
  cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting KRaft storage in $STORAGE_DIR (cluster id $cluster_id)"
  # SCRAM users live in the cluster metadata, so they are written at format time. The passwords
  # are on the StorageTool's command line for the second it runs: a local test broker's only.
  local scram=() name password
  if [[ "$KAFKA_SECURITY" == SASL_SSL ]]; then
    while read -r name password; do
      scram+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$password]")
    done < <(scram_users)
  fi
  # shellcheck disable=SC2086  # heap/JVM options are word lists
  "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.logs.dir="$KAFKA_DATA_DIR" -cp "$LIBS_DIR/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_FILE" "${scram[@]}" \
    >>"$STDOUT_FILE" 2>&1 || die "storage format failed; see $STDOUT_FILE"
}

# One metadata request through kafka-python: the broker must list itself. Returns 2 when the
# probe cannot run at all (no interpreter or no kafka-python), so the caller falls back to the log.
# Under SASL_SSL it logs in as the first SCRAM user and trusts KAFKA_SSL_CAFILE (both read from
# the environment, so no password is on a command line).
metadata_probe() {
  command -v "$PYTHON" >/dev/null 2>&1 || return 2
  KAFKA_SECURITY="$KAFKA_SECURITY" KAFKA_SSL_CAFILE="$KAFKA_SSL_CAFILE" \
    KAFKA_SCRAM_USERS_FILE="$KAFKA_SCRAM_USERS_FILE" \
    "$PYTHON" - "127.0.0.1:$KAFKA_PORT" <<'EOF' 2>/dev/null
import os
import sys
try:
    from kafka import KafkaAdminClient
except ImportError:
    sys.exit(2)
auth = {}
if os.environ["KAFKA_SECURITY"] == "SASL_SSL":
    import ssl
    with open(os.environ["KAFKA_SCRAM_USERS_FILE"]) as users:
        first = next(l.strip() for l in users if l.strip() and not l.startswith("#"))
    user, _, password = first.partition("=")
    auth = {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user, "sasl_plain_password": password,
        "ssl_context": ssl.create_default_context(cafile=os.environ["KAFKA_SSL_CAFILE"]),
    }
try:
    admin = KafkaAdminClient(
        bootstrap_servers=sys.argv[1], client_id="tocsin-kafka-sh",
        request_timeout_ms=5000, bootstrap_timeout_ms=5000, **auth,
    )
    try:
        brokers = admin.describe_cluster().get("brokers") or []
    finally:
        admin.close()
except Exception:
    sys.exit(1)
sys.exit(0 if brokers else 1)
EOF
}

wait_ready() {
  local pid="$1" started="$2" probe=1 rc
  local deadline=$((started + KAFKA_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG_FILE" "$STDOUT_FILE" >&2 2>/dev/null || true
      rm -f "$PID_FILE"
      die "broker (pid $pid) exited during start-up; see $LOG_FILE"
    fi
    if port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOG_FILE" 2>/dev/null; then
      if ((probe)); then
        rc=0
        metadata_probe || rc=$?
        if ((rc == 0)); then return 0; fi
        if ((rc == 2)); then
          probe=0
          log "no kafka-python for $PYTHON: readiness judged from the broker log only"
          return 0
        fi
      else
        return 0
      fi
    fi
    if (($(date +%s) >= deadline)); then
      tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
      stop_pid "$pid"
      rm -f "$PID_FILE"
      die "broker not ready after ${KAFKA_START_TIMEOUT}s; stopped it (see $LOG_FILE)"
    fi
    sleep 0.3
  done
}

start() {
  check_port_number KAFKA_PORT "$KAFKA_PORT"
  check_port_number KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
  check_security
  fetch
  mkdir -p "$KAFKA_DATA_DIR"
  lock_file "$KAFKA_DATA_DIR/.lock"

  local pid
  if pid="$(live_pid)"; then
    echo "kafka already running on 127.0.0.1:$KAFKA_PORT (pid $pid, data dir $KAFKA_DATA_DIR)"
    return 0
  fi
  rm -f "$PID_FILE"
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found; Kafka $KAFKA_VERSION needs Java 17+"
  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    ! port_open "$port" || die "127.0.0.1:$port is already in use by another process"
  done

  write_config
  format_storage

  local started
  started="$(date +%s)"
  : >"$STDOUT_FILE"
  # setsid: the broker gets its own session, so closing the terminal that started it, or a
  # Ctrl-C aimed at a later foreground job, does not take it down; `stop` ends it by PID.
  # The subshell closes its copy of the lock fd (else the broker would hold the data-dir lock
  # for its whole life) and then execs, so $! is the JVM's own PID.
  (
    [[ -z "$LOCK_FD" ]] || exec {LOCK_FD}>&-
    # shellcheck disable=SC2086  # heap/JVM options are word lists
    exec setsid "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$KAFKA_DATA_DIR" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG_FILE" \
      >>"$STDOUT_FILE" 2>&1 </dev/null
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE.tmp"
  mv "$PID_FILE.tmp" "$PID_FILE"

  wait_ready "$pid" "$started"
  echo "kafka ready on 127.0.0.1:$KAFKA_PORT (pid $pid) in $(($(date +%s) - started))s, data dir $KAFKA_DATA_DIR"
}

# SIGTERM (Kafka shuts down cleanly), then SIGKILL after KAFKA_STOP_TIMEOUT seconds.
stop_pid() {
  local pid="$1" waited=0 state
  kill -TERM "$pid" 2>/dev/null || return 0
  while state="$(ps -o stat= -p "$pid" 2>/dev/null)" && [[ "$state" != Z* ]]; do
    if ((waited == KAFKA_STOP_TIMEOUT * 10)); then
      log "pid $pid still alive after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    elif ((waited >= KAFKA_STOP_TIMEOUT * 10 + 100)); then
      # SIGKILL cannot be ignored; 10 s more means the kernel is stuck on it (e.g. D state)
      log "pid $pid survived SIGKILL for 10s; giving up"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

stop() {
  local pid
  if pid="$(live_pid)"; then
    stop_pid "$pid"
    rm -f "$PID_FILE"
    echo "kafka stopped (pid $pid)"
  else
    rm -f "$PID_FILE"
    echo "kafka not running (data dir $KAFKA_DATA_DIR)"
  fi
}

status() {
  local pid
  if pid="$(live_pid)"; then
    echo "kafka running on 127.0.0.1:$KAFKA_PORT (pid $pid, data dir $KAFKA_DATA_DIR)"
    return 0
  fi
  echo "kafka not running (data dir $KAFKA_DATA_DIR)"
  return 3
}

clean() {
  stop
  [[ -d "$KAFKA_DATA_DIR" ]] || return 0
  local data cache
  data="$(cd "$KAFKA_DATA_DIR" && pwd -P)"
  cache="$(mkdir -p "$TOCSIN_CACHE/kafka" && cd "$TOCSIN_CACHE/kafka" && pwd -P)"
  # Never the jar cache, nothing inside it or holding it, and only a folder that looks like a
  # broker data dir made by this script (or an empty one): KAFKA_DATA_DIR may be mistyped.
  case "$cache/" in "$data"/*) die "refusing to delete $data: it holds the jar cache" ;; esac
  case "$data/" in "$cache"/*) die "refusing to delete $data: it is inside the jar cache" ;; esac
  if [[ ! -f "$data/server.properties" && ! -f "$data/kafka.log" && -n "$(ls -A "$data")" ]]; then
    die "refusing to delete $data: it does not look like a kafka.sh data dir"
  fi
  rm -rf "$data"
  echo "kafka data dir removed: $data"
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    fetch) fetch ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    clean) clean ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 1
      ;;
  esac
}

main "$@"
