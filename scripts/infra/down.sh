#!/usr/bin/env bash
# Stop what scripts/infra/up.sh started — and only that: Kafka and Redis by their pid files in the
# state dir, PostgreSQL / RabbitMQ only when up.sh left its "managed" marker for them.
# Servers that were already running, or provided through env vars, are left alone. Data is kept
# (scripts/infra/clean.sh removes it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T_START="$(_now)"

# stop_pid NAME PIDFILE MATCH SECONDS — SIGTERM, wait, SIGKILL as a last resort.
stop_pid() {
  local name=$1 pidfile=$2 match=$3 secs=$4 pid
  pid="$(pid_from "$pidfile")"
  if [[ -z "$pid" ]]; then log "$name: no pid file — not started by up.sh, leaving it"; return 0; fi
  if ! cmdline_has "$pid" "$match"; then
    log "$name: pid $pid is gone (stale pid file removed)"; rm -f "$pidfile"; return 0
  fi
  step "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name: pid $pid still alive after ${secs}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  step_done "stopped"
}

# Kafka first (clients of the others may be mid-flight; order barely matters locally).
stop_pid kafka "$KAFKA_PID" kafka.Kafka 40
stop_pid redis "$REDIS_PID" redis-server 10

if [[ -f "$RABBIT_MARK" ]]; then
  rabbit_env
  if rabbit_node_registered; then
    step "rabbitmq: rabbitmqctl stop"
    rabbitmqctl -q stop >/dev/null 2>&1 || warn "rabbitmqctl stop failed"
    # rabbitmqctl returns once the node has agreed to stop; the VM exits a moment later.
    for _ in $(seq 1 100); do
      port_open "$RABBIT_DIST_PORT" || port_open "$AMQP_PORT" || rabbit_node_registered || break
      sleep 0.2
    done
    step_done "stopped"
  else
    log "rabbitmq: not running"
  fi
  # epmd was started with the node; stop it too unless another Erlang node still uses it.
  # (The node takes a moment to unregister after rabbitmqctl stop returns.)
  if command -v epmd >/dev/null; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do epmd -names 2>/dev/null | grep -q '^name ' || break; sleep 0.3; done
    epmd -names 2>/dev/null | grep -q '^name ' || epmd -kill >/dev/null 2>&1 || true
  fi
  rm -f "$RABBIT_MARK"
else
  log "rabbitmq: not started by up.sh, leaving it"
fi

if [[ -s "$PG_MARK" ]]; then
  read -r ver name <"$PG_MARK"
  if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v n="$name" '$1 == v && $2 == n && $4 == "online" { f = 1 } END { exit !f }'; then
    step "postgres: pg_ctlcluster $ver $name stop (fast)"
    pg_ctlcluster "$ver" "$name" stop -m fast
    step_done "stopped"
  else
    log "postgres: cluster $ver/$name not running"
  fi
  rm -f "$PG_MARK"
else
  log "postgres: not started by up.sh, leaving it"
fi

log "down in $(elapsed "$T_START")"
