/**
 * What every consumer of a group shares, whatever it hands its handler: joining the group for the life
 * of a scope, the crash bookkeeping behind readiness, and kafkajs's batch contract (a batch whose Effect
 * fails is abandoned uncommitted, and kafkajs fetches it again). `runConsumer` (one event at a time) and
 * `runBatchConsumer` (a run of events at once) differ only in how they process a batch.
 */
import { Cause, Deferred, Duration, Effect, Exit, Option, Ref, Runtime, type Scope } from "effect"
import type { EachBatchPayload } from "kafkajs"
import { connectSchedule, KafkaClient, KafkaError, kafkaError } from "./kafka.ts"

export interface GroupOptions {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** Where a group with no committed offset starts. Default: the earliest offset, so a new consumer sees history. */
  readonly fromBeginning?: boolean
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

/** Why a batch stopped: the original error goes back to kafkajs, which recognises its own (rebalance …). */
export class BatchAbandoned {
  readonly _tag = "BatchAbandoned"
  constructor(readonly reason: unknown) {}
}

/** A kafkajs call inside a batch (heartbeat, commit); its failure abandons the batch. */
export const batchCall = (operation: string, run: () => Promise<unknown>) =>
  Effect.tryPromise({ try: run, catch: (error) => new BatchAbandoned(error) }).pipe(
    Effect.withSpan(`EventConsumer.${operation}`),
  )

const millis = (input: Duration.DurationInput | undefined, fallback: number) =>
  input === undefined ? fallback : Duration.toMillis(Duration.decode(input))

/** Joins the group and runs `processBatch` on every batch fetched, until the scope closes. */
export const joinGroup = <R>(
  options: GroupOptions,
  processBatch: (payload: EachBatchPayload) => Effect.Effect<void, BatchAbandoned, R>,
): Effect.Effect<ConsumerHandle, KafkaError, R | KafkaClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { kafka } = yield* KafkaClient
    const runtime = yield* Effect.runtime<R>()
    const runExit = Runtime.runPromiseExit(runtime)
    const { groupId } = options
    const joined = yield* Deferred.make<void>()
    const crashed = yield* Ref.make(Option.none<string>())

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
      // disconnect stops fetching, waits for the batch in hand (which stops at its next step and commits
      // what it finished), then leaves the group so the partitions move on at once.
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
  })
