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
import { Effect, Predicate, Schedule, type Scope } from "effect"
import type { Batch, EachBatchPayload, KafkaMessage } from "kafkajs"
import { BatchAbandoned, batchCall, type ConsumerHandle, type GroupOptions, joinGroup } from "./consumer-group.ts"
import { decodeEnvelope, type EventEnvelope, UndecodableEvent } from "./envelope.ts"
import { KafkaClient, type KafkaError } from "./kafka.ts"
import { kafkaConsumerLag, messagesHandled } from "../metrics.ts"

export interface ConsumedEvent {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  /** The Kafka message key (the aggregate the event is about). */
  readonly key: string | null
  readonly envelope: EventEnvelope
}

export interface ConsumerOptions<E, R> extends GroupOptions {
  readonly handle: (event: ConsumedEvent) => Effect.Effect<void, E, R>
  /** Retries of a failing handler before the batch is abandoned for redelivery. */
  readonly retry?: Schedule.Schedule<unknown, E>
}

export type { ConsumerHandle, GroupOptions }

/** A few quick attempts: enough for a lock timeout or a dropped connection, short enough to keep the partition moving. */
export const defaultHandlerRetry = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5)),
)

export const runConsumer = <E, R>(
  options: ConsumerOptions<E, R>,
): Effect.Effect<ConsumerHandle, KafkaError, R | KafkaClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { service } = yield* KafkaClient
    const { groupId } = options
    const retry = options.retry ?? defaultHandlerRetry

    const count = (topic: string, outcome: string) =>
      Effect.sync(() => messagesHandled.add({ service, transport: "kafka", queue: topic, outcome }))

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
          yield* batchCall("heartbeat", () => payload.heartbeat())
        }
        yield* batchCall("commit", () => payload.commitOffsetsIfNecessary(payload.uncommittedOffsets()))
      })

    return yield* joinGroup(options, processBatch)
  }).pipe(Effect.withSpan("EventConsumer.run", { attributes: { groupId: options.groupId } }))
