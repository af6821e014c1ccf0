# Shared helpers for scripts/infra/*.sh — sourced, not executed.
# shellcheck shell=bash disable=SC2034  # (variables are used by the scripts that source this)
# Paths, defaults, port checks and step timing. Needs bash >= 5 (EPOCHREALTIME).

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Runtime data, pids and logs live outside the repo.
STATE_DIR="${COMMERCE_MESH_STATE:-$HOME/.cache/commerce-mesh/state}"
# Downloaded Kafka jars (survive clean.sh unless --all).
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/commerce-mesh"
KAFKA_LIBS="$CACHE_DIR/kafka/libs"

KAFKA_VERSION="3.9.1"
PG_PORT=5432
REDIS_PORT=6379
AMQP_PORT=5672
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
RABBIT_DIST_PORT=25672

DEFAULT_DATABASE_URL="postgres://commerce:commerce@127.0.0.1:${PG_PORT}/postgres"
DEFAULT_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"
DEFAULT_AMQP_URL="amqp://guest:guest@127.0.0.1:${AMQP_PORT}"
DEFAULT_KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT}"

# Marker files: "up.sh started/configured this server", so down.sh / clean.sh touch only those.
PG_MARK="$STATE_DIR/postgres/managed"        # contains "<version> <cluster>"
RABBIT_MARK="$STATE_DIR/rabbitmq/managed"
REDIS_PID="$STATE_DIR/redis/redis.pid"
KAFKA_PID="$STATE_DIR/kafka/kafka.pid"

# port_open PORT [HOST] — true when something accepts a TCP connection. Pure bash (/dev/tcp).
port_open() {
  timeout 1 bash -c "exec 3<>/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null
}

# wait_port PORT SECONDS — poll every 0.2 s.
wait_port() {
  local port=$1 deadline=$((SECONDS + $2))
  until port_open "$port"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pid_from() { [[ -s "$1" ]] && cat "$1" 2>/dev/null || true; }

_now() { echo "${EPOCHREALTIME/[,]/.}"; }
# elapsed START → "1.23s"
elapsed() { awk -v a="$1" -v b="$(_now)" 'BEGIN { printf "%.2fs", b - a }'; }

log() { printf '[infra %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '[infra %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[infra %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# step "what" — announces a (possibly long) step; step_done prints how long it took.
_STEP_T0=""
_STEP_NAME=""
step() { _STEP_NAME="$*"; _STEP_T0="$(_now)"; log "-> $* ..."; }
step_done() { log "   ${1:-done}: $_STEP_NAME ($(elapsed "$_STEP_T0"))"; }

# RabbitMQ (Debian package; data in /var/lib/rabbitmq, logs in /var/log/rabbitmq).
RABBIT_LOG_DIR=/var/log/rabbitmq
rabbit_env() {
  # Everything on loopback: AMQP listener, epmd, Erlang distribution (server and CLI tools).
  # Debian's /usr/sbin wrappers switch to the rabbitmq user with plain `su`, which keeps these.
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$AMQP_PORT
  export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}
rabbit_node_registered() { # the rabbit node is registered with epmd (booting or running)
  command -v epmd >/dev/null && ERL_EPMD_ADDRESS=127.0.0.1 epmd -names 2>/dev/null | grep -q '^name rabbit '
}

# cmdline_has PID WORD — the process PID is alive and its command line contains WORD
# (guards against a stale pid file whose pid now belongs to something else).
cmdline_has() {
  [[ -n "${1:-}" && -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

# apt_install LOGFILE PKG... — apt-get install without recommends. When that fails with the cached package
# lists, they are updated once and the install retried (not when APT_UPDATED=1: they were just updated).
apt_install() {
  local logfile=$1
  shift
  local apt=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold)
  "${apt[@]}" install --no-install-recommends "$@" >"$logfile" 2>&1 && return 0
  ((${APT_UPDATED:-0})) && { tail -20 "$logfile" >&2; die "apt-get install $* failed"; }
  log "   install failed with the cached lists; running apt-get update once and retrying"
  "${apt[@]}" update >/dev/null
  "${apt[@]}" install --no-install-recommends "$@" >"$logfile" 2>&1 ||
    { tail -20 "$logfile" >&2; die "apt-get install $* failed"; }
}
