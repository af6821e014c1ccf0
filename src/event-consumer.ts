/**
 * Consumer groups. `runConsumer` joins a group for the life of its scope and hands each decoded
 * envelope to a handler, partition by partition in offset order.
 *
 * Delivery is at least once: an offset is resolved only after its handler succeeded, and only
 * resolved offsets are committed (after every batch, and by kafkajs on a rebalance or shutdown).
 * A crash, a rebalance or a handler that keeps failing makes the group see a message again, so
 * handlers must be idempotent — dedupe by `envelope.id`.
 *
 * - A message that is not an envelope (or a handler failing with `UndecodableEvent`) is logged,
 *   counted (`messages_handled_total{outcome="undecodable"}`) and skipped: it can never succeed, and
 *   waiting on it would block every later event of its partition.
 * - Any other handler failure is retried with a bounded Schedule; when that is spent the batch is
 *   abandoned uncommitted and kafkajs fetches it again (outcome "failed"), so nothing is skipped.
 */
import { Cause, Deferred, Duration, Effect, Exit, Option, Predicate, Ref, Runtime, Schedule, type Scope } from "effect"
import type { Batch, EachBatchPayload, KafkaMessage } from "kafkajs"
import { decodeEnvelope, type EventEnvelope, UndecodableEvent } from "./event-envelope.ts"
import { connectSchedule, KafkaClient, KafkaError, kafkaError } from "./event-kafka.ts"
import { kafkaConsumerLag, messagesHandled } from "./metrics.ts"

export interface ConsumedEvent {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  /** The Kafka message key (the aggregate the event is about). */
  readonly key: string | null
  readonly envelope: EventEnvelope
}

export interface ConsumerOptions<E, R> {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  readonly handle: (event: ConsumedEvent) => Effect.Effect<void, E, R>
  /** Where a group with no committed offset starts. Default: the earliest offset, so a new consumer sees history. */
  readonly fromBeginning?: boolean
  /** Retries of a failing handler before the batch is abandoned for redelivery. */
  readonly retry?: Schedule.Schedule<unknown, E>
  /** Partitions handled at the same time (each one still strictly in order). Default 3. */
  readonly concurrency?: number
  readonly sessionTimeout?: Duration.DurationInput
  readonly heartbeatInterval?: Duration.DurationInput
  readonly rebalanceTimeout?: Duration.DurationInput
  /** How long the broker holds an empty fetch; also bounds how long shutdown waits on one. */
  readonly maxWaitTime?: Duration.DurationInput
}

export interface ConsumerHandle {
  readonly groupId: string
  /** Completes when the group has assigned this member its partitions for the first time. */
  readonly joined: Effect.Effect<void>
  /** Readiness: fails once kafkajs has given up on the consumer (it restarts it on retriable crashes). */
  readonly ready: Effect.Effect<void, KafkaError>
}

/** A few quick attempts: enough for a lock timeout or a dropped connection, short enough to keep the partition moving. */
export const defaultHandlerRetry = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5)),
)

/** Why a batch stopped: the original error goes back to kafkajs, which recognises its own (rebalance …). */
class BatchAbandoned {
  readonly _tag = "BatchAbandoned"
  constructor(readonly reason: unknown) {}
}

const millis = (input: Duration.DurationInput | undefined, fallback: number) =>
  input === undefined ? fallback : Duration.toMillis(Duration.decode(input))

export const runConsumer = <E, R>(
  options: ConsumerOptions<E, R>,
): Effect.Effect<ConsumerHandle, KafkaError, R | KafkaClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { kafka, service } = yield* KafkaClient
    const runtime = yield* Effect.runtime<R>()
    const runExit = Runtime.runPromiseExit(runtime)
    const { groupId } = options
    const retry = options.retry ?? defaultHandlerRetry
    const joined = yield* Deferred.make<void>()
    const crashed = yield* Ref.make(Option.none<string>())

    const count = (topic: string, outcome: string) =>
      Effect.sync(() => messagesHandled.inc({ service, transport: "kafka", queue: topic, outcome }))

    const handleMessage = (batch: Batch, message: KafkaMessage) =>
      Effect.gen(function* () {
        const decoded = yield* decodeEnvelope(message.value?.toString("utf8") ?? "")
        const event: ConsumedEvent = {
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key?.toString("utf8") ?? null,
          envelope: decoded,
        }
        yield* Effect.annotateLogsScoped({ eventId: decoded.id, eventType: decoded.type })
        yield* options.handle(event).pipe(
          Effect.tapError((error) =>
            Predicate.isTagged(error, "UndecodableEvent") ? Effect.void : count(batch.topic, "retry"),
          ),
          Effect.retry({ schedule: retry, while: (error) => !Predicate.isTagged(error, "UndecodableEvent") }),
        )
        yield* count(batch.topic, "ok")
      }).pipe(
        Effect.catchIf(
          (error): error is UndecodableEvent => error instanceof UndecodableEvent,
          (error) =>
            Effect.logWarning("skipping an event this consumer cannot decode").pipe(
              Effect.annotateLogs({ reason: error.reason, error: error.message }),
              Effect.zipRight(count(batch.topic, "undecodable")),
            ),
        ),
        Effect.tapErrorCause((cause) =>
          Effect.logError("handler failed after its retries; the batch will be fetched again", cause).pipe(
            Effect.zipRight(count(batch.topic, "failed")),
          ),
        ),
        Effect.annotateLogs({ topic: batch.topic, partition: batch.partition, offset: message.offset, groupId }),
        Effect.scoped,
        Effect.withSpan("EventConsumer.handle", { attributes: { topic: batch.topic, groupId } }),
      )

    const promise = (operation: string, run: () => Promise<unknown>) =>
      Effect.tryPromise({ try: run, catch: (error) => new BatchAbandoned(error) }).pipe(
        Effect.withSpan(`EventConsumer.${operation}`),
      )

    const processBatch = (payload: EachBatchPayload) =>
      Effect.gen(function* () {
        const { batch } = payload
        const highWatermark = Number(batch.highWatermark)
        const lag = { service, group: groupId, topic: batch.topic, partition: String(batch.partition) }
        for (const message of batch.messages) {
          // A stopping consumer or a partition moved by a rebalance: leave the rest for whoever owns it next.
          if (!payload.isRunning() || payload.isStale()) break
          yield* handleMessage(batch, message).pipe(Effect.mapError((error) => new BatchAbandoned(error)))
          payload.resolveOffset(message.offset)
          kafkaConsumerLag.set(lag, Math.max(0, highWatermark - Number(message.offset) - 1))
          yield* promise("heartbeat", () => payload.heartbeat())
        }
        yield* promise("commit", () => payload.commitOffsetsIfNecessary(payload.uncommittedOffsets()))
      })

    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: millis(options.sessionTimeout, 30_000),
      heartbeatInterval: millis(options.heartbeatInterval, 3_000),
      rebalanceTimeout: millis(options.rebalanceTimeout, 60_000),
      maxWaitTimeInMs: millis(options.maxWaitTime, 1_000),
      allowAutoTopicCreation: true,
    })
    consumer.on(consumer.events.GROUP_JOIN, () => {
      Deferred.unsafeDone(joined, Exit.void)
    })
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const message = payload.error.message
      Runtime.runSync(runtime)(
        Effect.logError(payload.restart ? "consumer crashed; kafkajs restarts it" : "consumer crashed for good").pipe(
          Effect.annotateLogs({ groupId, error: message }),
          Effect.zipRight(payload.restart ? Effect.void : Ref.set(crashed, Option.some(message))),
        ),
      )
    })

    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => consumer.connect(), catch: kafkaError("consumer.connect") }).pipe(
        Effect.retry(connectSchedule),
      ),
      // disconnect stops fetching, waits for the batch in hand (which stops at its next message and
      // commits what it finished), then leaves the group so the partitions move on at once.
      () =>
        Effect.promise(() => consumer.disconnect().catch(() => undefined)).pipe(
          Effect.withSpan("EventConsumer.disconnect"),
        ),
    )
    yield* Effect.tryPromise({
      try: () => consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? true }),
      catch: kafkaError("consumer.subscribe"),
    })
    yield* Effect.tryPromise({
      try: () =>
        consumer.run({
          partitionsConsumedConcurrently: options.concurrency ?? 3,
          eachBatchAutoResolve: false,
          autoCommit: true,
          // kafkajs's contract: a rejected promise abandons the batch without committing it.
          eachBatch: async (payload) => {
            const exit = await runExit(processBatch(payload))
            if (Exit.isSuccess(exit)) return
            const failure = Cause.failureOption(exit.cause)
            const reason = Option.isSome(failure) ? failure.value.reason : Cause.squash(exit.cause)
            throw reason instanceof Error ? reason : new Error(String(reason))
          },
        }),
      catch: kafkaError("consumer.run"),
    })

    return {
      groupId,
      joined: Deferred.await(joined),
      ready: Effect.flatMap(Ref.get(crashed), (reason) =>
        Option.match(reason, {
          onNone: () => Effect.void,
          onSome: (message) => Effect.fail(new KafkaError({ operation: "consumer", message, retriable: false })),
        }),
      ),
    }
  }).pipe(Effect.withSpan("EventConsumer.run", { attributes: { groupId: options.groupId } }))
