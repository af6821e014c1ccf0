#!/usr/bin/env bash
# down.sh + delete the data of what up.sh manages:
#   - the state dir (Kafka log dirs + cluster id, Redis files, pids, logs, markers)
#   - PostgreSQL (up.sh-managed cluster only): databases owned by `commerce`, everything `commerce`
#     owns in the other databases, and the role itself. The Debian cluster itself stays.
#   - RabbitMQ (up.sh-managed node only): its mnesia directory (queues, exchanges, users; a fresh
#     node recreates guest/guest on the next start).
# The downloaded Kafka jars are kept unless --all is given.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T_START="$(_now)"

ALL=0
for arg in "$@"; do
  case $arg in
    --all) ALL=1 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (only --all)" ;;
  esac
done

# Read the markers before down.sh removes them.
PG_CLUSTER=""; [[ -s "$PG_MARK" ]] && PG_CLUSTER="$(cat "$PG_MARK")"
RABBIT_MANAGED=0; [[ -f "$RABBIT_MARK" ]] && RABBIT_MANAGED=1

if [[ -n "$PG_CLUSTER" ]]; then
  read -r ver name <<<"$PG_CLUSTER"
  if port_open "$PG_PORT"; then
    step "postgres: dropping everything owned by role commerce"
    psql_pg() { (cd / && runuser -u postgres -- psql -p "$PG_PORT" -qAtX -v ON_ERROR_STOP=1 "$@"); }
    if [[ "$(psql_pg -d postgres -c "select 1 from pg_roles where rolname = 'commerce'")" == 1 ]]; then
      for db in $(psql_pg -d postgres -c "select datname from pg_database d join pg_roles r on r.oid = d.datdba where r.rolname = 'commerce'"); do
        psql_pg -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)"
      done
      for db in $(psql_pg -d postgres -c "select datname from pg_database where datallowconn"); do
        psql_pg -d "$db" -c 'DROP OWNED BY commerce CASCADE'
      done
      psql_pg -d postgres -c 'DROP ROLE commerce'
    fi
    step_done
  else
    warn "postgres cluster $ver/$name is not running; its commerce data was not dropped (run up.sh, then clean.sh)"
  fi
fi

bash "$INFRA_DIR/down.sh"

if ((RABBIT_MANAGED)) && [[ -d /var/lib/rabbitmq/mnesia ]]; then
  step "rabbitmq: removing node data in /var/lib/rabbitmq/mnesia"
  find /var/lib/rabbitmq/mnesia -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  step_done
fi

case "$STATE_DIR" in
  "" | / | "$HOME" | "$HOME/") die "refusing to delete state dir '$STATE_DIR'" ;;
esac
step "removing state dir $STATE_DIR"
rm -rf "$STATE_DIR"
step_done

if ((ALL)); then
  step "removing Kafka jar cache $CACHE_DIR/kafka (--all)"
  rm -rf "$CACHE_DIR/kafka"
  step_done
else
  log "kept Kafka jar cache $KAFKA_LIBS (use --all to remove it)"
fi
log "clean in $(elapsed "$T_START")"
