/**
 * A consumer group whose handler takes a run of events at once — `runConsumer` (consumer.ts) hands
 * over one event at a time. A projection that commits one database transaction per event is bound by the
 * commit's disk flush (about 200 events/s here, and hot aggregate rows serialise partitions on each other);
 * one transaction per run of events is not (analytics: ~3,900 events/s).
 *
 * Same delivery contract as runConsumer: at least once, offsets resolved only after the handler of
 * their run succeeded, a failing run retried on a bounded Schedule and then abandoned uncommitted for
 * kafkajs to fetch again. A message that is not an envelope is counted and skipped; an envelope whose
 * payload the handler cannot use is the handler's to skip.
 */
import { Effect, Option, type Schedule, type Scope } from "effect"
import type { EachBatchPayload } from "kafkajs"
import { type ConsumedEvent, defaultHandlerRetry } from "./consumer.ts"
import { BatchAbandoned, batchCall, type ConsumerHandle, type GroupOptions, joinGroup } from "./consumer-group.ts"
import { decodeEnvelope } from "./envelope.ts"
import { KafkaClient, type KafkaError } from "./kafka.ts"
import { kafkaConsumerLag, messagesHandled } from "../metrics.ts"

export interface BatchConsumerOptions<E, R> extends GroupOptions {
  /** Handles events of one partition, in offset order; called again with the same events after a failure. */
  readonly handle: (events: ReadonlyArray<ConsumedEvent>) => Effect.Effect<void, E, R>
  /** The most events handed over at once. Default 500. */
  readonly maxEvents?: number
  readonly retry?: Schedule.Schedule<unknown, E>
}

export const runBatchConsumer = <E, R>(
  options: BatchConsumerOptions<E, R>,
): Effect.Effect<ConsumerHandle, KafkaError, R | KafkaClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { service } = yield* KafkaClient
    const { groupId } = options
    const retry = options.retry ?? defaultHandlerRetry
    const maxEvents = options.maxEvents ?? 500

    const count = (topic: string, outcome: string, n: number) =>
      Effect.sync(() => {
        if (n > 0) messagesHandled.add({ service, transport: "kafka", queue: topic, outcome }, n)
      })

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
          yield* batchCall("heartbeat", () => payload.heartbeat())
        }
        yield* batchCall("commit", () => payload.commitOffsetsIfNecessary(payload.uncommittedOffsets()))
      }).pipe(Effect.annotateLogs({ topic: payload.batch.topic, partition: payload.batch.partition, groupId }))

    return yield* joinGroup(options, processBatch)
  }).pipe(Effect.withSpan("EventConsumer.runBatch", { attributes: { groupId: options.groupId } }))
