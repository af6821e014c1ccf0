# Source me: connection URLs for the local servers started by scripts/infra/up.sh.
# Only fills in what is unset, so an externally provided server (CI service, remote DB) wins.
export DATABASE_URL="${DATABASE_URL:-postgres://commerce:commerce@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
