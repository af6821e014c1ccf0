/**
 * A consumer group whose handler takes a run of events at once — the platform's runConsumer
 * (src/event-consumer.ts) hands over one event at a time. A projection that commits one database
 * transaction per event is bound by the commit's disk flush (about 200 events/s here, and the hot
 * aggregate rows serialise partitions on each other); one transaction per run of events is not.
 * Generic: a candidate for src/event-consumer.ts next to runConsumer.
 *
 * Same delivery contract as runConsumer: at least once, offsets resolved only after the handler of
 * their run succeeded, a failing run retried on a bounded Schedule and then abandoned uncommitted for
 * kafkajs to fetch again. A message that is not an envelope is counted and skipped; an envelope whose
 * payload the handler cannot use is the handler's to skip.
 */
import { Cause, Deferred, Duration, Effect, Exit, Option, Ref, Runtime, type Schedule, type Scope } from "effect"
import type { EachBatchPayload } from "kafkajs"
import {
  type ConsumedEvent,
  type ConsumerHandle,
  connectSchedule,
  decodeEnvelope,
  defaultHandlerRetry,
  KafkaClient,
  KafkaError,
  kafkaError,
} from "../../src/event-bus.ts"
import { kafkaConsumerLag, messagesHandled } from "../../src/metrics.ts"

export interface BatchConsumerOptions<E, R> {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** Where a group without committed offsets begins: the oldest event (default) or the next one. */
  readonly fromBeginning?: boolean
  /** Handles events of one partition, in offset order; called again with the same events after a failure. */
  readonly handle: (events: ReadonlyArray<ConsumedEvent>) => Effect.Effect<void, E, R>
  /** The most events handed over at once. Default 500. */
  readonly maxEvents?: number
  readonly retry?: Schedule.Schedule<unknown, E>
  /** Partitions handled at the same time. Default 3. */
  readonly concurrency?: number
  readonly sessionTimeout?: Duration.DurationInput
  readonly heartbeatInterval?: Duration.DurationInput
  readonly rebalanceTimeout?: Duration.DurationInput
  readonly maxWaitTime?: Duration.DurationInput
}

class BatchAbandoned {
  readonly _tag = "BatchAbandoned"
  constructor(readonly reason: unknown) {}
}

const millis = (input: Duration.DurationInput | undefined, fallback: number) =>
  input === undefined ? fallback : Duration.toMillis(Duration.decode(input))

export const runBatchConsumer = <E, R>(
  options: BatchConsumerOptions<E, R>,
): Effect.Effect<ConsumerHandle, KafkaError, R | KafkaClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { kafka, service } = yield* KafkaClient
    const runtime = yield* Effect.runtime<R>()
    const runExit = Runtime.runPromiseExit(runtime)
    const { groupId } = options
    const retry = options.retry ?? defaultHandlerRetry
    const maxEvents = options.maxEvents ?? 500
    const joined = yield* Deferred.make<void>()
    const crashed = yield* Ref.make(Option.none<string>())

    const count = (topic: string, outcome: string, n: number) =>
      Effect.sync(() => {
        if (n > 0) messagesHandled.inc({ service, transport: "kafka", queue: topic, outcome }, n)
      })

    const promise = (operation: string, run: () => Promise<unknown>) =>
      Effect.tryPromise({ try: run, catch: (error) => new BatchAbandoned(error) }).pipe(
        Effect.withSpan(`EventConsumer.${operation}`),
      )

    const processBatch = (payload: EachBatchPayload) =>
      Effect.gen(function* () {
        const { batch } = payload
        const { topic, partition } = batch
        const highWatermark = Number(batch.highWatermark)
        const lag = { service, group: groupId, topic, partition: String(partition) }
        for (let start = 0; start < batch.messages.length; start += maxEvents) {
          // A stopping consumer or a partition moved by a rebalance: leave the rest for whoever owns it next.
          if (!payload.isRunning() || payload.isStale()) break
          const messages = batch.messages.slice(start, start + maxEvents)
          const events: Array<ConsumedEvent> = []
          let undecodable = 0
          for (const message of messages) {
            const envelope = yield* decodeEnvelope(message.value?.toString("utf8") ?? "").pipe(Effect.option)
            if (Option.isNone(envelope)) {
              undecodable++
              continue
            }
            const key = message.key?.toString("utf8") ?? null
            events.push({ topic, partition, offset: message.offset, key, envelope: envelope.value })
          }
          if (undecodable > 0) {
            yield* Effect.logWarning("skipping messages that are not event envelopes").pipe(
              Effect.annotateLogs({ count: undecodable }),
            )
          }
          const handled = events.length === 0 ? Effect.void : options.handle(events)
          yield* handled.pipe(
            Effect.tapError(() => count(topic, "retry", events.length)),
            Effect.retry(retry),
            Effect.tapErrorCause((cause) =>
              Effect.logError("handler failed after its retries; the batch will be fetched again", cause).pipe(
                Effect.zipRight(count(topic, "failed", events.length)),
              ),
            ),
            Effect.mapError((error) => new BatchAbandoned(error)),
            Effect.withSpan("EventConsumer.handleBatch", { attributes: { topic, groupId, events: events.length } }),
          )
          yield* count(topic, "ok", events.length)
          yield* count(topic, "undecodable", undecodable)
          const last = messages[messages.length - 1]
          if (last !== undefined) {
            payload.resolveOffset(last.offset)
            kafkaConsumerLag.set(lag, Math.max(0, highWatermark - Number(last.offset) - 1))
          }
          yield* promise("heartbeat", () => payload.heartbeat())
        }
        yield* promise("commit", () => payload.commitOffsetsIfNecessary(payload.uncommittedOffsets()))
      }).pipe(Effect.annotateLogs({ topic: payload.batch.topic, partition: payload.batch.partition, groupId }))

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
      // disconnect stops fetching, waits for the run in hand (which stops at its next chunk and commits
      // what it finished), then leaves the group so the partitions move on at once.
      () => Effect.promise(() => consumer.disconnect().catch(() => undefined)),
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
  }).pipe(Effect.withSpan("EventConsumer.runBatch", { attributes: { groupId: options.groupId } }))
