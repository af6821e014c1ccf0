/**
 * Shared set-up of the event bus suites: a database and Kafka topics of their own per run (so
 * reruns never see each other's data), the platform Layers under test, and a collecting consumer.
 */
import { Data, Duration, Effect, Layer, Ref, Schema } from "effect"
import {
  type ConsumedEvent,
  type ConsumerOptions,
  defineEvent,
  EventProducer,
  KafkaClient,
  KafkaLive,
  runConsumer,
} from "../../src/events/index.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { adminQuery } from "../support/postgres.ts"

export const runId = crypto.randomUUID().slice(0, 8)
export const migrations = "platform-test"

/** A service name per suite and run: its database is `cm_<service>`. */
export const suiteService = (suite: string) => `evbus_${suite}_${runId}`
export const topicName = (name: string) => `test.evbus.${runId}.${name}`
export const groupName = (name: string) => `test-evbus-${runId}-${name}`

export const dropDatabase = (service: string) => adminQuery(`DROP DATABASE IF EXISTS "cm_${service}" WITH (FORCE)`)

export const LedgerEntryRecorded = (topic: string) =>
  defineEvent("ledger.entry-recorded", topic, Schema.Struct({ account: Schema.String, amount: Schema.Int }), 1)

/** Everything the event bus and the outbox need, against the real servers. */
export const platformLayer = (service: string) =>
  Layer.mergeAll(Outbox.Default, EventProducer.Default).pipe(
    Layer.provideMerge(Layer.merge(PostgresLive(service, { migrations, poolSize: 4 }), KafkaLive(service))),
  )

/** Short group timings: a test group joins, leaves and rejoins in well under a second. */
export const fastGroup = {
  sessionTimeout: Duration.seconds(6),
  heartbeatInterval: Duration.millis(500),
  rebalanceTimeout: Duration.seconds(6),
  maxWaitTime: Duration.millis(200),
} as const

export class DeliveryTimeout extends Data.TaggedError("DeliveryTimeout")<{ readonly groupId: string }> {}

export interface Collector {
  readonly seen: Effect.Effect<ReadonlyArray<ConsumedEvent>>
  /** Waits until `predicate` holds for what was received, failing the test after `timeout`. */
  readonly waitUntil: (
    predicate: (seen: ReadonlyArray<ConsumedEvent>) => boolean,
    timeout?: Duration.DurationInput,
  ) => Effect.Effect<ReadonlyArray<ConsumedEvent>, DeliveryTimeout>
}

/** A consumer in the caller's scope that records every event it is handed. */
export const collect = <E = never>(
  options: Omit<ConsumerOptions<E, never>, "handle"> & {
    readonly handle?: ConsumerOptions<E, never>["handle"]
  },
) =>
  Effect.gen(function* () {
    const received = yield* Ref.make<ReadonlyArray<ConsumedEvent>>([])
    const extra: ConsumerOptions<E, never>["handle"] = options.handle ?? (() => Effect.void)
    const consumer = yield* runConsumer({
      ...fastGroup,
      ...options,
      handle: (event) => extra(event).pipe(Effect.zipRight(Ref.update(received, (events) => [...events, event]))),
    })
    const collector: Collector = {
      seen: Ref.get(received),
      waitUntil: (predicate, timeout = Duration.seconds(20)) =>
        Ref.get(received).pipe(
          Effect.delay("50 millis"),
          Effect.repeat({ until: predicate }),
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () => new DeliveryTimeout({ groupId: options.groupId }),
          }),
        ),
    }
    return { consumer, collector }
  })

/** Deletes this run's topics at the end of a suite, so a local broker does not fill up with them. */
export const deleteTopics = (topics: ReadonlyArray<string>) =>
  Effect.flatMap(KafkaClient, ({ admin }) =>
    Effect.promise(() => admin.deleteTopics({ topics: [...topics] }).catch(() => undefined)),
  )

/** Counts every arrival and every distinct id: duplicates are allowed, losses and inventions are not. */
export const tally = (events: ReadonlyArray<ConsumedEvent>) => {
  const ids = events.map((event) => event.envelope.id)
  const unique = new Set(ids)
  return { arrivals: ids.length, unique, duplicates: ids.length - unique.size }
}
