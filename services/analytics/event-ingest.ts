/**
 * The analytics consumer group over the orders, payments, inventory and users topics. A run of events
 * of one partition is turned into Facts and recorded by the AggregateStore in one transaction; the
 * consumer resolves their offsets only after that committed, so an offset is committed only for
 * events whose aggregates are. What it re-delivers after a crash or a rebalance is recognised by its
 * id and skipped.
 */
import { DateTime, Duration, Effect, Either } from "effect"
import { type ConsumedEvent, ensureTopics, KafkaClient } from "../../src/events/index.ts"
import { AggregateStore, type FactOfEvent } from "./aggregate-store.ts"
import { runBatchConsumer } from "../../src/events/consumer-batch.ts"
import { consumerGroup, newGroupStartsAtEarliest, sessionTimeoutMillis } from "./config.ts"
import { analyticsTopics, factOf } from "./facts.ts"
import { analyticsEvents } from "../../src/metrics.ts"

export class EventIngest extends Effect.Service<EventIngest>()("analytics/EventIngest", {
  scoped: Effect.gen(function* () {
    const store = yield* AggregateStore
    const { service } = yield* KafkaClient
    const groupId = yield* consumerGroup
    const sessionTimeout = yield* sessionTimeoutMillis

    const count = (event: ConsumedEvent, outcome: string) =>
      analyticsEvents.inc({ service, topic: event.topic, type: event.envelope.type, outcome })

    const ingest = (events: ReadonlyArray<ConsumedEvent>) =>
      Effect.gen(function* () {
        const facts: Array<FactOfEvent> = []
        const counted: Array<ConsumedEvent> = []
        for (const event of events) {
          const { envelope, topic } = event
          const fact = yield* Effect.either(factOf(envelope))
          // Waiting on an event this version cannot read would stop its partition for good: skip it, visibly.
          if (Either.isLeft(fact)) {
            count(event, "undecodable")
            yield* Effect.logWarning("skipping an event analytics cannot decode").pipe(
              Effect.annotateLogs({ eventId: envelope.id, eventType: envelope.type, error: fact.left.message }),
            )
            continue
          }
          const occurredAt = DateTime.toDate(envelope.occurredAt)
          facts.push({ event: { id: envelope.id, type: envelope.type, topic, occurredAt }, fact: fact.right })
          counted.push(event)
        }
        const outcomes = yield* store.recordAll(facts)
        counted.forEach((event, i) => count(event, outcomes[i] ?? "duplicate"))
      })

    // A fresh broker has none of the topics until a producer first writes; subscribe to all four anyway.
    yield* ensureTopics(analyticsTopics)
    const consumer = yield* runBatchConsumer({
      groupId,
      topics: analyticsTopics,
      fromBeginning: yield* newGroupStartsAtEarliest,
      handle: ingest,
      sessionTimeout: Duration.millis(sessionTimeout),
      heartbeatInterval: Duration.millis(Math.max(100, Math.floor(sessionTimeout / 10))),
    })
    return { groupId, ready: consumer.ready, joined: consumer.joined }
  }),
}) {}
