/**
 * Every environment variable commerce-mesh reads, with its local default. The shared ones are here;
 * settings that belong to one service live in its own `services/<name>/config.ts`:
 *
 * - catalog:   CATALOG_LISTING_CACHE_TTL_SECONDS (300), CATALOG_CACHE_PREFIX (catalog:listing)
 * - inventory: INVENTORY_WRITER_MAX_BATCH, INVENTORY_SWEEP_INTERVAL_MS, INVENTORY_SWEEP_BATCH
 * - user and gateway: AUTH_TOKEN_SECRET (redacted; local default; src/auth-token.ts)
 * - gateway and payment: PAYMENT_METHOD_SEAL_KEY (redacted; local default; src/payment-method-seal.ts)
 * - user:      USER_SESSION_TTL_SECONDS (86400),
 *              USER_ARGON2_MEMORY_KIB, USER_ARGON2_TIME_COST, USER_BOOTSTRAP_ADMIN_EMAILS
 * - payment:   PAYMENT_PROVIDER_LATENCY_MS (50), PAYMENT_DECLINE_RATE (0), PAYMENT_PENDING_LEASE_MS (5000)
 * - order:     CHECKOUT_DEADLINE_SECONDS (120), SAGA_LEASE_MS (5000), SAGA_RECOVERY_INTERVAL_MS (1000),
 *              SAGA_CONCURRENCY_MAX (256), CHECKOUT_MAX_QUEUE_SECONDS (3), SAGA_STEP_BEAT_MS (100),
 *              SAGA_STEP_RETRY_SECONDS (10), SAGA_THREAD (true)
 * - gateway:   GATEWAY_RATE_LIMIT_BURST (120), GATEWAY_RATE_LIMIT_PER_SECOND (60), GATEWAY_CACHE_TTL_SECONDS (30),
 *              GATEWAY_LOCAL_CACHE_MS (1000), GATEWAY_DEFAULT_DELIVERY_ZONE (standard),
 *              GATEWAY_SESSION_CACHE_MS (60000), GATEWAY_SESSION_CACHE_SIZE (100000), GATEWAY_TRUSTED_PROXIES (none)
 * - analytics: ANALYTICS_CONSUMER_GROUP (analytics), ANALYTICS_SESSION_TIMEOUT_MS (30000),
 *              ANALYTICS_LAG_SAMPLE_INTERVAL_MS (5000), ANALYTICS_NEW_GROUP_STARTS_AT (earliest | latest)
 *
 * Shared here besides: OUTBOX_GATHER_MS (100) below; REQUEST_PATH_NICE (-10), read by the mesh runner and the
 * test harness when they start services (src/process-priority.ts).
 *
 * Tests and benchmarks also set DATABASE_NAME_SUFFIX (src/postgres.ts) to work in databases of their own.
 */
import { Config, Redacted } from "effect"

export const ServiceNames = [
  "gateway",
  "catalog",
  "inventory",
  "cart",
  "user",
  "payment",
  "delivery",
  "order",
  "analytics",
] as const
export type ServiceName = (typeof ServiceNames)[number]

/** Local port plan: RPC on 71xx, the HTTP side port (health, readiness, metrics) on 91xx. */
const portIndex: Record<ServiceName, number> = {
  gateway: 0,
  catalog: 1,
  inventory: 2,
  cart: 3,
  user: 4,
  payment: 5,
  delivery: 6,
  order: 7,
  analytics: 8,
}

const envPrefix = (service: ServiceName) => service.toUpperCase()

/** `DATABASE_URL`: the server and credentials; each service uses its own database `cm_<service>` on it. */
export const databaseUrl = Config.redacted("DATABASE_URL").pipe(
  Config.withDefault(Redacted.make("postgres://commerce:commerce@127.0.0.1:5432/postgres")),
)

/** `DATABASE_POOL_SIZE`: connections per service pool. */
export const databasePoolSize = Config.integer("DATABASE_POOL_SIZE").pipe(Config.withDefault(10))

/**
 * `DATABASE_PREPARED_STATEMENTS`: name statements so each connection plans them once (default true).
 * Turn off behind a pooler in transaction mode (PgBouncer), where a connection's statements do not follow it.
 */
export const databasePreparedStatements = Config.boolean("DATABASE_PREPARED_STATEMENTS").pipe(Config.withDefault(true))

/** `REDIS_URL` */
export const redisUrl = Config.redacted("REDIS_URL").pipe(Config.withDefault(Redacted.make("redis://127.0.0.1:6379")))

/** `AMQP_URL` */
export const amqpUrl = Config.redacted("AMQP_URL").pipe(
  Config.withDefault(Redacted.make("amqp://guest:guest@127.0.0.1:5672")),
)

/** A comma-separated list in `name` (items trimmed, empty ones dropped). */
export const commaSeparated = (name: string, fallback = "") =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.map((list) =>
      list
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    ),
  )

/** `KAFKA_BROKERS`: comma separated host:port list. */
export const kafkaBrokers = commaSeparated("KAFKA_BROKERS", "127.0.0.1:9092")

/**
 * `COMMAND_QUEUE_PREFIX`: put before every command queue's name (`cart.reserve` …), so that processes
 * sharing one RabbitMQ but not one set of databases (tests with their own DATABASE_NAME_SUFFIX next to
 * a running mesh) do not take each other's commands. Default: none.
 */
export const commandQueuePrefix = Config.string("COMMAND_QUEUE_PREFIX").pipe(Config.withDefault(""))

/**
 * `OUTBOX_GATHER_MS`: after a commit wakes the outbox relay, how long it waits for more before publishing
 * them together (src/events/outbox.ts). Longer: fewer, larger batches (less CPU); shorter: events reach Kafka sooner.
 */
export const outboxGatherMillis = Config.integer("OUTBOX_GATHER_MS").pipe(Config.withDefault(100))

/** `LOG_LEVEL`: TRACE | DEBUG | INFO | WARN | ERROR | FATAL | OFF | ALL */
export const logLevel = Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(undefined))

/** `<SERVICE>_HOST`: where a service's ports are reached (Kubernetes sets a DNS name). */
export const serviceHost = (service: ServiceName) =>
  Config.string(`${envPrefix(service)}_HOST`).pipe(Config.withDefault("127.0.0.1"))

/** `<SERVICE>_BIND`: the interface a service listens on. */
export const serviceBind = (service: ServiceName) =>
  Config.string(`${envPrefix(service)}_BIND`).pipe(Config.withDefault("127.0.0.1"))

/** `<SERVICE>_RPC_PORT`: the port a service's RpcGroup is served on. */
export const rpcPort = (service: ServiceName) =>
  Config.port(`${envPrefix(service)}_RPC_PORT`).pipe(Config.withDefault(7100 + portIndex[service]))

/** `<SERVICE>_HTTP_PORT`: the side port with /healthz, /readyz and /metrics (the gateway serves its REST API here). */
export const httpPort = (service: ServiceName) =>
  Config.port(`${envPrefix(service)}_HTTP_PORT`).pipe(
    Config.withDefault(service === "gateway" ? 8080 : 9100 + portIndex[service]),
  )

/** `MONOLITH_HTTP_PORT`: the monolith's one side port (scripts/monolith.ts), for every service in it. */
export const monolithHttpPort = Config.port("MONOLITH_HTTP_PORT").pipe(Config.withDefault(9100))

/** `MONOLITH_BIND`: the interface the monolith's side port listens on. */
export const monolithBind = Config.string("MONOLITH_BIND").pipe(Config.withDefault("127.0.0.1"))

/** `SHUTDOWN_GRACE_MS`: how long in-flight work may drain after SIGTERM before the process exits. */
export const shutdownGraceMillis = Config.integer("SHUTDOWN_GRACE_MS").pipe(Config.withDefault(10_000))
