/**
 * Shared set-up of the analytics suites: services on a Kafka broker of their own, an RPC client of the
 * service, readings of its /metrics, and the databases a run creates.
 */
import { Effect, Schedule } from "effect"
import { AnalyticsRpcs } from "../../rpc/analytics.ts"
import type { ServiceName } from "../../src/config.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { adminQuery } from "../support/postgres.ts"
import { type Mesh, startMesh } from "../support/service-process.ts"
import { type PrivateKafka, startPrivateKafka } from "./private-kafka.ts"

export class AnalyticsClient extends RpcClientTag<AnalyticsClient>()("analytics", AnalyticsRpcs, {
  timeout: "10 seconds",
}) {}

export const runId = crypto.randomUUID().slice(0, 8)

/** Values of one metric's series whose labels include all of `labels`. */
export const metricValues = (text: string, name: string, labels: Record<string, string>): ReadonlyArray<number> =>
  text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`))
    .filter((line) => Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
    .map((line) => Number(line.slice(line.lastIndexOf(" ") + 1)))

export const readMetrics = async (httpUrl: string) => (await fetch(`${httpUrl}/metrics`)).text()

export const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)

export class NotYet {
  readonly _tag = "NotYet"
  constructor(readonly what: string) {}
}

/** Polls `check` until it holds, failing with what was last seen after `times` tries 200 ms apart. */
export const eventually = <A, E, R>(check: Effect.Effect<A, E | NotYet, R>, times = 150) =>
  check.pipe(
    Effect.retry({ schedule: Schedule.spaced("200 millis"), times, while: (error) => error instanceof NotYet }),
  )

/** The consumer group's lag on every partition, as analytics reports it in kafka_consumer_lag. */
export const consumerLag = async (httpUrl: string, group = "analytics") =>
  metricValues(await readMetrics(httpUrl), "kafka_consumer_lag", { service: "analytics", group })

export const dropDatabases = (suffix: string, services: ReadonlyArray<string>) =>
  Promise.all(services.map((service) => adminQuery(`DROP DATABASE IF EXISTS "cm_${service}${suffix}" WITH (FORCE)`)))

export interface AnalyticsWorld {
  readonly kafka: PrivateKafka
  readonly mesh: Mesh
  /** Stops the services and the broker and drops the run's databases. */
  readonly stop: () => Promise<void>
}

/**
 * `services` on a private broker (the shared one holds other runs' events, so totals could never match one
 * run's databases there), in databases with `suffix`. A killed analytics member leaves its group within
 * seconds, and its lag is sampled often.
 */
export const startAnalyticsWorld = async (
  services: ReadonlyArray<ServiceName>,
  suffix: string,
  env: Record<string, string> = {},
): Promise<AnalyticsWorld> => {
  const kafka = await startPrivateKafka()
  const mesh = await startMesh(services, {
    DATABASE_NAME_SUFFIX: suffix,
    KAFKA_BROKERS: kafka.brokers,
    ANALYTICS_SESSION_TIMEOUT_MS: "6000",
    ANALYTICS_LAG_SAMPLE_INTERVAL_MS: "300",
    ...env,
  }).catch(async (error: unknown) => {
    await kafka.stop()
    throw error
  })
  return {
    kafka,
    mesh,
    stop: async () => {
      await mesh.stop()
      await kafka.stop()
      await dropDatabases(suffix, services)
    },
  }
}
