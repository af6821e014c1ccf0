/**
 * The Kafka connection of a service: one kafkajs client whose logs go through our logger, and one
 * admin connection (topic creation, lag, readiness), opened when the Layer is built and closed with
 * its scope. Producers and consumers are built on top of it (producer.ts, consumer.ts).
 */
import { Context, Data, Duration, Effect, Layer, LogLevel, Runtime, Schedule } from "effect"
import { type Admin, Kafka, logLevel as KafkaLogLevel, type LogEntry } from "kafkajs"
import { kafkaBrokers } from "../config.ts"
// Side effect: stops kafkajs's 1 ms idle timer loop per broker connection (see the file).
import "./kafkajs-request-queue.ts"

export class KafkaError extends Data.TaggedError("KafkaError")<{
  readonly operation: string
  readonly message: string
  /** kafkajs's own judgement: a retriable error may pass (leader moved, broker restarting). */
  readonly retriable: boolean
}> {}

export const kafkaError =
  (operation: string) =>
  (error: unknown): KafkaError => {
    const retriable =
      typeof error === "object" && error !== null && "retriable" in error ? error.retriable === true : false
    const message = error instanceof Error ? error.message : String(error)
    return new KafkaError({ operation, message, retriable })
  }

export interface KafkaClientService {
  /** The service name used as the `service` metric label and in the client id. */
  readonly service: string
  readonly kafka: Kafka
  readonly admin: Admin
}

export class KafkaClient extends Context.Tag("platform/KafkaClient")<KafkaClient, KafkaClientService>() {}

export type KafkaLogLevelName = "error" | "warn" | "info" | "debug"

export interface KafkaOptions {
  /** Brokers; defaults to KAFKA_BROKERS. */
  readonly brokers?: ReadonlyArray<string>
  /**
   * kafkajs's own log threshold. Quiet by default: kafkajs logs every retriable hiccup (rebalances,
   * a broker restarting) at error level while it retries them itself, and our code reports the
   * failures that outlive those retries with their context.
   */
  readonly logLevel?: KafkaLogLevelName
}

const kafkajsLevel: Record<KafkaLogLevelName, KafkaLogLevel> = {
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
}

// kafkajs errors are mostly transient and retried by kafkajs itself, so they are warnings to us.
const effectLevel = (level: KafkaLogLevel): LogLevel.LogLevel =>
  level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN
    ? LogLevel.Warning
    : level === KafkaLogLevel.INFO
      ? LogLevel.Info
      : LogLevel.Debug

/**
 * Messages kafkajs warns about on every start although we chose them on purpose:
 * the bounded retries of the idempotent producer (our own Schedule retries the whole send and
 * consumers dedupe by event id, so a possible duplicate is already part of the contract).
 */
const expectedWarnings = ["Limiting retries for the idempotent producer"]

const routeLogs = (runtime: Runtime.Runtime<never>) => {
  const runSync = Runtime.runSync(runtime)
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log
      const lowered = expectedWarnings.some((prefix) => message.startsWith(prefix))
      runSync(
        Effect.logWithLevel(lowered ? LogLevel.Debug : effectLevel(level), `kafkajs: ${message}`).pipe(
          Effect.annotateLogs({ kafkaNamespace: namespace, ...extra }),
        ),
      )
    }
}

/** Connection attempts to a broker that is starting (or briefly away) are retried for about half a minute. */
export const connectSchedule = Schedule.exponential("200 millis").pipe(
  Schedule.union(Schedule.spaced("3 seconds")),
  Schedule.intersect(Schedule.recurs(12)),
)

export const KafkaLive = (service: string, options: KafkaOptions = {}) =>
  Layer.scoped(
    KafkaClient,
    Effect.gen(function* () {
      const brokers = options.brokers ?? (yield* kafkaBrokers)
      const runtime = yield* Effect.runtime<never>()
      const kafka = new Kafka({
        clientId: `commerce-mesh-${service}`,
        brokers: [...brokers],
        connectionTimeout: 3000,
        requestTimeout: 30_000,
        // Short internal retries: a failure reaches our Schedules (and logs) instead of hiding for minutes.
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2000 },
        logLevel: kafkajsLevel[options.logLevel ?? "error"],
        logCreator: routeLogs(runtime),
      })
      const admin = kafka.admin()
      yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => admin.connect(), catch: kafkaError("admin.connect") }).pipe(
          Effect.retry(connectSchedule),
        ),
        () => Effect.promise(() => admin.disconnect().catch(() => undefined)),
      )
      return { service, kafka, admin }
    }),
  )

export interface TopicSpec {
  readonly topic: string
  readonly partitions?: number
}

/**
 * Creates missing topics and waits for their partition leaders, so a first publish or subscribe
 * does not race the broker's auto-creation. Existing topics are left as they are.
 */
export const ensureTopics = Effect.fn("EventBus.ensureTopics")(function* (
  topics: ReadonlyArray<string | TopicSpec>,
  defaultPartitions = 3,
) {
  const { admin } = yield* KafkaClient
  const specs = topics.map((t) => (typeof t === "string" ? { topic: t } : t))
  yield* Effect.tryPromise({
    try: () =>
      admin.createTopics({
        waitForLeaders: true,
        topics: specs.map((spec) => ({
          topic: spec.topic,
          numPartitions: spec.partitions ?? defaultPartitions,
        })),
      }),
    catch: kafkaError("admin.createTopics"),
  }).pipe(Effect.retry({ schedule: connectSchedule, while: (error) => error.retriable }))
})

/** Readiness probe for the side port: a metadata round trip to the cluster. */
export const kafkaReady = Effect.flatMap(KafkaClient, ({ admin }) =>
  Effect.tryPromise({ try: () => admin.describeCluster(), catch: kafkaError("admin.describeCluster") }).pipe(
    Effect.timeoutFail({
      duration: Duration.seconds(3),
      onTimeout: () => new KafkaError({ operation: "admin.describeCluster", message: "timed out", retriable: true }),
    }),
    Effect.asVoid,
  ),
)
