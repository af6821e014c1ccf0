#!/usr/bin/env bash
# Print whether each server is reachable. Uses the URLs from the environment when set (as the
# services would), else the local defaults. Exit status 1 if any is unreachable.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# host_port URL DEFAULT_PORT → "host port" (URL may be scheme://user:pass@host:port/db or host:port[,..])
host_port() {
  local rest=${1#*://}
  rest=${rest%%,*}; rest=${rest%%/*}; rest=${rest%%\?*}; rest=${rest##*@}
  local host=${rest%%:*} port=$2
  [[ "$rest" == *:* ]] && port=${rest##*:}
  echo "${host:-127.0.0.1} $port"
}

rc=0
check() { # check NAME VAR DEFAULT_URL DEFAULT_PORT NOTE
  local name=$1 var=$2 url=${!2:-$3} host port source=local note
  [[ -n "${!var:-}" ]] && source="\$$var"
  read -r host port <<<"$(host_port "$url" "$4")"
  note=$5
  if port_open "$port" "$host"; then
    printf '  %-9s UP    %-45s (%s)%s\n' "$name" "$url" "$source" "${note:+  $note}"
  else
    printf '  %-9s DOWN  %-45s (%s)\n' "$name" "$url" "$source"
    rc=1
  fi
}
managed() { # managed WHAT → " started by up.sh" note
  case $1 in
    kafka) cmdline_has "$(pid_from "$KAFKA_PID")" kafka.Kafka && echo "up.sh pid $(pid_from "$KAFKA_PID")" ;;
    redis) cmdline_has "$(pid_from "$REDIS_PID")" redis-server && echo "up.sh pid $(pid_from "$REDIS_PID")" ;;
    rabbitmq) [[ -f "$RABBIT_MARK" ]] && echo "started by up.sh" ;;
    postgres) [[ -s "$PG_MARK" ]] && echo "up.sh cluster $(cat "$PG_MARK")" ;;
  esac
  return 0
}

echo "commerce-mesh infra (state: $STATE_DIR)"
check postgres DATABASE_URL "$DEFAULT_DATABASE_URL" "$PG_PORT" "$(managed postgres)"
check redis REDIS_URL "$DEFAULT_REDIS_URL" "$REDIS_PORT" "$(managed redis)"
check rabbitmq AMQP_URL "$DEFAULT_AMQP_URL" "$AMQP_PORT" "$(managed rabbitmq)"
check kafka KAFKA_BROKERS "$DEFAULT_KAFKA_BROKERS" "$KAFKA_PORT" "$(managed kafka)"
exit $rc
