#!/usr/bin/env bash
# Provision the four local servers commerce-mesh needs, all on 127.0.0.1 only:
#   PostgreSQL :5432   Redis :6379   RabbitMQ :5672   Kafka 3.9.1 (KRaft, single node) :9092
#
# Per server: skipped entirely when its env var is set (DATABASE_URL, REDIS_URL, AMQP_URL,
# KAFKA_BROKERS); skipped when already reachable on its default port; otherwise installed with apt
# (if missing) and started. Idempotent, needs no stdin, a rerun with everything up takes well under 1 s.
# Runtime data/pids/logs: ${COMMERCE_MESH_STATE:-~/.cache/commerce-mesh/state}.
# Kafka jars: ${XDG_CACHE_HOME:-~/.cache}/commerce-mesh/kafka/libs (downloaded once via Maven).
# PostgreSQL and RabbitMQ are Debian's packaged servers, so their data stays where Debian keeps it
# (/var/lib/postgresql, /var/lib/rabbitmq); the state dir holds markers that say up.sh started them.
# Stop with scripts/infra/down.sh, wipe with scripts/infra/clean.sh, inspect with status.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T_START="$(_now)"
mkdir -p "$STATE_DIR"

# One up.sh at a time (two test runners starting at once must not start two brokers).
# (fd 9 is closed for every daemon launched below, or the daemon would hold the lock forever.)
exec 9>"$STATE_DIR/.up.lock"
if ! flock -n 9; then
  log "another up.sh is running; waiting for it (up to 5 min) ..."
  flock -w 300 9 || die "timed out waiting for the other up.sh (lock $STATE_DIR/.up.lock)"
fi

declare -A RESULT=()   # service -> what happened, for the summary

# --------------------------------------------------------------------------------------------------
# Which servers need work? (cheap: env vars and port checks only)
# --------------------------------------------------------------------------------------------------
want() { # want NAME ENVVAR PORT → 0 if we must provision it
  local name=$1 var=$2 port=$3
  if [[ -n "${!var:-}" ]]; then RESULT[$name]="external (\$$var set, not provisioned)"; return 1; fi
  if port_open "$port"; then RESULT[$name]="already up"; return 1; fi
  return 0
}
NEED_PG=0 NEED_REDIS=0 NEED_RABBIT=0 NEED_KAFKA=0
want postgres DATABASE_URL "$PG_PORT" && NEED_PG=1
want redis REDIS_URL "$REDIS_PORT" && NEED_REDIS=1
want rabbitmq AMQP_URL "$AMQP_PORT" && NEED_RABBIT=1
want kafka KAFKA_BROKERS "$KAFKA_PORT" && NEED_KAFKA=1

# --------------------------------------------------------------------------------------------------
# Packages: collect what is missing, one apt-get run for all of it.
# --------------------------------------------------------------------------------------------------
pg_bin_present() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }
kafka_libs_ok() {
  [[ -f "$KAFKA_LIBS/.pom.sha256" ]] &&
    [[ "$(cat "$KAFKA_LIBS/.pom.sha256")" == "$(sha256sum <"$INFRA_DIR/kafka/pom.xml" | cut -d' ' -f1)" ]]
}
PKGS=()
if ((NEED_PG)); then
  { command -v pg_ctlcluster >/dev/null && pg_bin_present; } || PKGS+=(postgresql)
  command -v psql >/dev/null || PKGS+=(postgresql-client)
fi
((NEED_REDIS)) && ! command -v redis-server >/dev/null && PKGS+=(redis-server)
((NEED_RABBIT)) && [[ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] && PKGS+=(rabbitmq-server)
if ((NEED_KAFKA)); then
  command -v java >/dev/null || PKGS+=(openjdk-17-jre-headless)
  kafka_libs_ok || command -v mvn >/dev/null || PKGS+=(maven)
fi

apt_lists_fresh() { # package lists exist and are younger than a day
  local f
  f=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit 2>/dev/null)
  [[ -n "$f" ]]
}
if ((${#PKGS[@]})); then
  ((EUID == 0)) || die "missing packages (${PKGS[*]}) and not root; install them or run as root"
  APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold)
  if ! apt_lists_fresh; then
    step "apt-get update (package lists missing or older than a day)"
    "${APT[@]}" update >/dev/null
    step_done
    APT_UPDATED=1
  else
    APT_UPDATED=0
  fi
  step "apt-get install ${PKGS[*]} (can take a minute or two)"
  apt_install "$STATE_DIR/apt.log" "${PKGS[@]}"
  step_done
fi

# --------------------------------------------------------------------------------------------------
# RabbitMQ (started first: it boots in the background while the others are provisioned)
# --------------------------------------------------------------------------------------------------
rabbit_start() {
  ((NEED_RABBIT)) || return 0
  rabbit_env
  mkdir -p "$STATE_DIR/rabbitmq"
  if rabbit_node_registered; then
    log "-> rabbitmq: node already booting; will wait for it"
  else
    step "rabbitmq: starting (rabbitmq-server -detached)"
    # Debian's wrapper drops to the rabbitmq user with su, whose pam_limits puts the node at 1024 open
    # files: a broker with more queues than that on disk hangs while recovering them (seen: 1026 queues
    # left by earlier test runs, :5672 never opened). So drop to the user here, without PAM, with the
    # soft limit raised to the hard one; the wrapper then runs the server directly.
    (
      ulimit -n "$(ulimit -Hn)"
      cd /var/lib/rabbitmq &&
        exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
          env HOME=/var/lib/rabbitmq USER=rabbitmq LOGNAME=rabbitmq rabbitmq-server -detached
    ) >"$STATE_DIR/rabbitmq/start.out" 2>&1 9>&- ||
      { cat "$STATE_DIR/rabbitmq/start.out" >&2; die "rabbitmq-server -detached failed"; }
    step_done "launched"
  fi
  echo "started by scripts/infra/up.sh at $(date -Is)" >"$RABBIT_MARK"
  T_RABBIT="$(_now)"
}
rabbit_wait() {
  ((NEED_RABBIT)) || return 0
  step "rabbitmq: waiting for :$AMQP_PORT (boot usually takes 5-15 s)"
  if ! wait_port "$AMQP_PORT" 120; then
    tail -30 "$RABBIT_LOG_DIR"/rabbit@*.log "$RABBIT_LOG_DIR/startup_err" 2>/dev/null >&2 || true
    die "rabbitmq did not open :$AMQP_PORT within 120 s (logs: $RABBIT_LOG_DIR)"
  fi
  step_done "ready"
  rabbit_expire_throwaway_queues
  RESULT[rabbitmq]="started ($(elapsed "$T_RABBIT") to ready)"
}

# Tests and benches give every run command queues of its own (COMMAND_QUEUE_PREFIX test_…, bench_…,
# fuzz-…). They are durable, so without this each run left a dozen behind for good, and the broker's
# boot slowed with them until it hung. Queues with such names go 10 minutes after their last use
# (no consumer, no declare); the mesh's own queues (no prefix) never expire.
rabbit_expire_throwaway_queues() {
  step "rabbitmq: policy throwaway-queues (test/bench/fuzz queues expire 10 min after last use)"
  rabbitmqctl -q set_policy --apply-to queues throwaway-queues \
    '^(test|bench|fuzz|gateway-test|gateway-overload|monolith-test|deploy-test)[._-]' '{"expires":600000}' \
    >"$STATE_DIR/rabbitmq/policy.out" 2>&1 9>&- ||
    { cat "$STATE_DIR/rabbitmq/policy.out" >&2; die "rabbitmqctl set_policy failed"; }
  step_done
}

# --------------------------------------------------------------------------------------------------
# Kafka 3.9.1, KRaft single node (see /work/shared/KAFKA.md)
# --------------------------------------------------------------------------------------------------
KDIR="$STATE_DIR/kafka"
kafka_java() { java -cp "$KAFKA_LIBS/*" "$@"; }
write_if_changed() { # write_if_changed FILE ← stdin
  local tmp; tmp="$(mktemp "$1.XXXX")"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}
kafka_start() {
  ((NEED_KAFKA)) || return 0
  mkdir -p "$KDIR/data" "$KDIR/logs"

  if ! kafka_libs_ok; then
    step "kafka: downloading Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS (first run only, about 1 min on an empty ~/.m2)"
    local tmp="$CACHE_DIR/kafka/libs.tmp.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    mvn -q -B -Dstyle.color=never -f "$INFRA_DIR/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null >"$STATE_DIR/mvn.log" 2>&1 ||
      { tail -30 "$STATE_DIR/mvn.log" >&2; rm -rf "$tmp"; die "mvn dependency:copy-dependencies failed"; }
    sha256sum <"$INFRA_DIR/kafka/pom.xml" | cut -d' ' -f1 >"$tmp/.pom.sha256"
    rm -rf "$KAFKA_LIBS"; mv "$tmp" "$KAFKA_LIBS"
    step_done "$(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars"
  fi

  write_if_changed "$KDIR/server.properties" <<EOF
# Generated by scripts/infra/up.sh — single-node KRaft broker+controller on loopback, local dev only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
# Single node: every replication factor / ISR is 1.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# Dev conveniences: topics appear on first use, 3 partitions by default.
auto.create.topics.enable=true
num.partitions=3
delete.topic.enable=true
# Keep the disk footprint small: 2 h or 64 MB per partition, 16 MB segments.
log.retention.hours=2
log.retention.bytes=67108864
log.segment.bytes=16777216
log.retention.check.interval.ms=60000
# 2-core box: fewer threads, small log-cleaner buffer (default 128 MB of a 512 MB heap).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=16777216
EOF
  write_if_changed "$KDIR/log4j.properties" <<'EOF'
# Generated by scripts/infra/up.sh. Broker log: ${kafka.logs.dir}/server.log (10 MB x 3).
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF

  local pid; pid="$(pid_from "$KAFKA_PID")"
  if cmdline_has "$pid" kafka.Kafka; then
    log "-> kafka: broker pid $pid already starting; will wait for it"
    T_KAFKA="$(_now)"; return 0
  fi

  if [[ ! -f "$KDIR/data/meta.properties" ]]; then
    step "kafka: formatting KRaft storage (once)"
    if [[ ! -s "$KDIR/cluster.id" ]]; then
      kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$KDIR/cluster.id"
    fi
    kafka_java kafka.tools.StorageTool format --cluster-id="$(cat "$KDIR/cluster.id")" \
      -c "$KDIR/server.properties" --ignore-formatted >"$KDIR/logs/format.out" 2>&1 ||
      { cat "$KDIR/logs/format.out" >&2; die "kafka storage format failed"; }
    step_done "cluster id $(cat "$KDIR/cluster.id")"
  fi

  step "kafka: starting broker (JVM, -Xmx512m)"
  [[ -f "$KDIR/logs/server.log" ]] && mv -f "$KDIR/logs/server.log" "$KDIR/logs/server.log.prev"
  # setsid + nohup: own session, survives the shell/CI job that started it.
  setsid nohup java -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KDIR/log4j.properties" -Dkafka.logs.dir="$KDIR/logs" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KDIR/server.properties" \
    >"$KDIR/logs/kafka.out" 2>&1 </dev/null 9>&- &
  echo $! >"$KAFKA_PID"
  step_done "launched pid $(cat "$KAFKA_PID")"
  T_KAFKA="$(_now)"
}
kafka_wait() {
  ((NEED_KAFKA)) || return 0
  step "kafka: waiting for :$KAFKA_PORT and \"Kafka Server started\" (timeout 90 s)"
  local pid deadline=$((SECONDS + 90))
  pid="$(pid_from "$KAFKA_PID")"
  until port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$KDIR/logs/server.log" 2>/dev/null; do
    if ! pid_alive "$pid"; then
      echo "---- $KDIR/logs/server.log (tail) ----" >&2; tail -40 "$KDIR/logs/server.log" >&2 2>/dev/null || true
      echo "---- $KDIR/logs/kafka.out (tail) ----" >&2; tail -20 "$KDIR/logs/kafka.out" >&2 2>/dev/null || true
      rm -f "$KAFKA_PID"
      die "kafka broker (pid $pid) exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      echo "---- $KDIR/logs/server.log (tail) ----" >&2; tail -40 "$KDIR/logs/server.log" >&2 2>/dev/null || true
      die "kafka not ready after 90 s (pid $pid still running; logs in $KDIR/logs)"
    fi
    sleep 0.3
  done
  step_done "ready"
  RESULT[kafka]="started ($(elapsed "$T_KAFKA") to ready)"
}

# --------------------------------------------------------------------------------------------------
# PostgreSQL (Debian cluster tools: they run the server as the postgres user; initdb refuses root)
# --------------------------------------------------------------------------------------------------
as_postgres_psql() { (cd / && runuser -u postgres -- psql -p "$PG_PORT" -qAtX -v ON_ERROR_STOP=1 -d postgres); }
pg_login_ok() {
  command -v psql >/dev/null || return 0
  PGCONNECT_TIMEOUT=3 psql "$DEFAULT_DATABASE_URL" -qAtX -c 'select 1' >/dev/null 2>&1
}
pg_cluster_on_port() { pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }'; }
pg_configure_role() {
  # Idempotent; PostgreSQL 15 no longer lets ordinary roles create in the public schema, and the
  # default URL points at the "postgres" database, so grant that explicitly.
  as_postgres_psql <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'commerce') THEN
    CREATE ROLE commerce LOGIN CREATEDB PASSWORD 'commerce';
  ELSE
    ALTER ROLE commerce LOGIN CREATEDB PASSWORD 'commerce';
  END IF;
END$$;
GRANT ALL ON SCHEMA public TO commerce;
-- Tests drop their databases WITH (FORCE); an autovacuum worker in one belongs to no role of ours.
GRANT pg_signal_backend TO commerce;
-- bench/checkout reads statement counts of every service database from the postgres database.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT pg_read_all_stats TO commerce;
SQL
}
pg_up() {
  if ((NEED_PG == 0)); then
    # Reachable already: make sure the commerce login works when it is our local Debian cluster.
    if [[ "${RESULT[postgres]}" == "already up" ]] && ! pg_login_ok; then
      if command -v pg_lsclusters >/dev/null && [[ -n "$(pg_cluster_on_port)" ]] && ((EUID == 0)); then
        step "postgres: up, but commerce/commerce cannot log in; fixing role and pg_hba"
        local ver name; read -r ver name <<<"$(pg_cluster_on_port)"
        pg_ensure_hba "$ver" "$name" && pg_ctlcluster "$ver" "$name" reload
        pg_configure_role >/dev/null
        step_done
      else
        warn "postgres on :$PG_PORT is not ours and rejects commerce/commerce — set DATABASE_URL"
      fi
    fi
    return 0
  fi
  local ver name cluster
  cluster="$(pg_cluster_on_port)"
  if [[ -z "$cluster" ]]; then
    ver="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    name=main
    if [[ -d "/etc/postgresql/$ver/main" ]]; then name=commerce; fi
    step "postgres: creating cluster $ver/$name on port $PG_PORT (pg_createcluster)"
    pg_createcluster "$ver" "$name" --port "$PG_PORT" >"$STATE_DIR/pg_createcluster.log" 2>&1 ||
      { cat "$STATE_DIR/pg_createcluster.log" >&2; die "pg_createcluster failed"; }
    step_done
  else
    read -r ver name <<<"$cluster"
  fi
  local confdir="/etc/postgresql/$ver/$name"

  mkdir -p "$confdir/conf.d"
  write_if_changed "$confdir/conf.d/90-commerce-mesh.conf" <<EOF
# Written by commerce-mesh scripts/infra/up.sh — local development settings, NOT for production.
listen_addresses = '127.0.0.1'
port = $PG_PORT
# Every service keeps a pool of ~10 connections, plus tests and migrations.
max_connections = 300
shared_buffers = 256MB
effective_cache_size = 1GB
work_mem = 8MB
maintenance_work_mem = 128MB
wal_buffers = 16MB
max_wal_size = 2GB
checkpoint_timeout = 15min
random_page_cost = 1.1
# Local dev only: commits return before their WAL reaches disk. A crash can lose the last few
# hundred ms of commits but never corrupts data (fsync stays on). Never copy this to production.
synchronous_commit = off
# bench/checkout counts SQL statements per checkout per service database from pg_stat_statements.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 10000
EOF
  chown postgres:postgres "$confdir/conf.d/90-commerce-mesh.conf"
  pg_ensure_hba "$ver" "$name" || true

  step "postgres: starting cluster $ver/$name (pg_ctlcluster)"
  # pg_ctlcluster creates /var/run/postgresql after a fresh boot and starts the server as postgres.
  pg_ctlcluster "$ver" "$name" start >"$STATE_DIR/pg_start.log" 2>&1 9>&- || {
    cat "$STATE_DIR/pg_start.log" >&2
    tail -20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
    die "pg_ctlcluster $ver $name start failed"
  }
  wait_port "$PG_PORT" 30 || die "postgres did not open :$PG_PORT"
  step_done

  step "postgres: ensuring role commerce (LOGIN CREATEDB, pg_signal_backend, password commerce)"
  pg_configure_role >/dev/null
  step_done
  mkdir -p "$(dirname "$PG_MARK")"
  echo "$ver $name" >"$PG_MARK"
  RESULT[postgres]="started (cluster $ver/$name)"
}
pg_ensure_hba() { # returns 0 if it changed pg_hba.conf
  local hba="/etc/postgresql/$1/$2/pg_hba.conf"
  grep -q 'commerce-mesh' "$hba" && return 1
  # First match wins in pg_hba.conf, so put the loopback password rule for commerce on top.
  sed -i '1i # commerce-mesh (scripts/infra/up.sh): password auth for the dev role over loopback TCP\nhost    all    commerce    127.0.0.1/32    scram-sha-256' "$hba"
  return 0
}

# --------------------------------------------------------------------------------------------------
# Redis (no persistence)
# --------------------------------------------------------------------------------------------------
redis_up() {
  ((NEED_REDIS)) || return 0
  mkdir -p "$STATE_DIR/redis"
  step "redis: starting redis-server on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --daemonize yes --pidfile "$REDIS_PID" --logfile "$STATE_DIR/redis/redis.log" \
    --dir "$STATE_DIR/redis" --save "" --appendonly no </dev/null 9>&-
  wait_port "$REDIS_PORT" 10 ||
    { tail -20 "$STATE_DIR/redis/redis.log" >&2; die "redis did not open :$REDIS_PORT"; }
  step_done
  RESULT[redis]="started"
}

# --------------------------------------------------------------------------------------------------
rabbit_start
kafka_start
pg_up
redis_up
rabbit_wait
kafka_wait

echo
log "summary ($(elapsed "$T_START") total)"
printf '  %-9s %-52s %s\n' \
  postgres "DATABASE_URL=${DATABASE_URL:-$DEFAULT_DATABASE_URL}" "${RESULT[postgres]}" \
  redis "REDIS_URL=${REDIS_URL:-$DEFAULT_REDIS_URL}" "${RESULT[redis]}" \
  rabbitmq "AMQP_URL=${AMQP_URL:-$DEFAULT_AMQP_URL}" "${RESULT[rabbitmq]}" \
  kafka "KAFKA_BROKERS=${KAFKA_BROKERS:-$DEFAULT_KAFKA_BROKERS}" "${RESULT[kafka]}"
log "state: $STATE_DIR   (source scripts/infra/env.sh for the URLs)"
