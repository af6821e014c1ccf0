/**
 * Publishing events to Kafka. One idempotent producer per process, acks from all in-sync replicas,
 * one request in flight: a retried send can neither duplicate nor reorder messages within a
 * partition on the broker's side. Services normally do not publish directly — they append to the
 * outbox and the relay publishes — but consumers that only transform events may.
 */
import { Effect } from "effect"
import type { Message, Producer } from "kafkajs"
import type { OutgoingEvent } from "./envelope.ts"
import { connectSchedule, KafkaClient, type KafkaError, kafkaError } from "./kafka.ts"
import { Murmur2Partitioner } from "./partitioner.ts"

export interface EventProducerService {
  /** Sends events in order (per topic and key); resolves once every in-sync replica has them. */
  readonly publish: (events: ReadonlyArray<OutgoingEvent>) => Effect.Effect<void, KafkaError>
}

/** Headers repeat the envelope's routing fields, so tooling can filter without parsing JSON. */
export const toMessage = (event: OutgoingEvent): Message => ({
  key: event.partitionKey,
  value: event.value,
  headers: { "event-id": event.id, "event-type": event.type, "event-version": String(event.version) },
})

const groupByTopic = (events: ReadonlyArray<OutgoingEvent>) => {
  const byTopic = new Map<string, Array<Message>>()
  for (const event of events) {
    const messages = byTopic.get(event.topic) ?? []
    messages.push(toMessage(event))
    byTopic.set(event.topic, messages)
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }))
}

export class EventProducer extends Effect.Service<EventProducer>()("platform/EventProducer", {
  scoped: Effect.gen(function* () {
    const { kafka } = yield* KafkaClient
    const producer: Producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // murmur2 like the Java client (so keys land where other clients put them), as kafkajs's
      // DefaultPartitioner chooses, at a thirtieth of its cost per message (partitioner.ts).
      createPartitioner: Murmur2Partitioner,
      // Bounded instead of kafkajs's infinite default for idempotent producers: a send that cannot
      // succeed must fail back to the caller (the relay), which retries on its own Schedule.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 3000 },
      allowAutoTopicCreation: true,
    })
    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => producer.connect(), catch: kafkaError("producer.connect") }).pipe(
        Effect.retry(connectSchedule),
      ),
      () => Effect.promise(() => producer.disconnect().catch(() => undefined)),
    )
    const publish = Effect.fn("EventProducer.publish")(function* (events: ReadonlyArray<OutgoingEvent>) {
      if (events.length === 0) return
      yield* Effect.annotateCurrentSpan("events", events.length)
      yield* Effect.tryPromise({
        try: () => producer.sendBatch({ acks: -1, topicMessages: groupByTopic(events) }),
        catch: kafkaError("producer.send"),
      })
    })
    return { publish } satisfies EventProducerService
  }),
}) {}
