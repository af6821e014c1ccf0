/**
 * Samples the consumer group's lag from the broker into kafka_consumer_lag (src/metrics.ts).
 *
 * runConsumer sets the same gauge after each message it handles, but only then: a consumer that is
 * stuck, or partitions that have not delivered anything since start-up, would show a stale or no value.
 * Here lag is the committed offset's distance to the high watermark, so it also counts what a crashed
 * member left behind, and reads 0 only once every event up to the end of every partition is committed.
 */
import { Duration, Effect, Layer, Schedule } from "effect"
import { KafkaClient, kafkaError } from "../../src/events/index.ts"
import { kafkaConsumerLag } from "../../src/metrics.ts"
import { consumerGroup, lagSampleIntervalMillis } from "./config.ts"
import { analyticsTopics } from "./facts.ts"

export interface PartitionLag {
  readonly topic: string
  readonly partition: number
  readonly lag: number
}

/** The lag of `groupId` on every partition of `topics`, as the broker sees it now. */
export const readGroupLag = (groupId: string, topics: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { admin } = yield* KafkaClient
    const committed = yield* Effect.tryPromise({
      try: () => admin.fetchOffsets({ groupId, topics: [...topics] }),
      catch: kafkaError("admin.fetchOffsets"),
    })
    const lags: Array<PartitionLag> = []
    for (const { topic, partitions } of committed) {
      const ends = yield* Effect.tryPromise({
        try: () => admin.fetchTopicOffsets(topic),
        catch: kafkaError("admin.fetchTopicOffsets"),
      })
      for (const end of ends) {
        const offset = Number(partitions.find((p) => p.partition === end.partition)?.offset ?? -1)
        // No commit yet: the group will start at the earliest retained offset.
        const position = offset < 0 ? Number(end.low) : offset
        lags.push({ topic, partition: end.partition, lag: Math.max(0, Number(end.high) - position) })
      }
    }
    return lags
  })

export const LagSamplerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { service } = yield* KafkaClient
    const groupId = yield* consumerGroup
    const interval = yield* lagSampleIntervalMillis
    const sample = readGroupLag(groupId, analyticsTopics).pipe(
      Effect.tap((lags) =>
        Effect.sync(() => {
          for (const { topic, partition, lag } of lags) {
            kafkaConsumerLag.set({ service, group: groupId, topic, partition: String(partition) }, lag)
          }
        }),
      ),
      Effect.catchAll((error) =>
        Effect.logWarning("could not read the consumer group's lag").pipe(
          Effect.annotateLogs({ error: error.message }),
        ),
      ),
    )
    yield* sample.pipe(Effect.repeat(Schedule.spaced(Duration.millis(interval))), Effect.forkScoped)
  }),
)
