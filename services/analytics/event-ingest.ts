/**
 * The analytics consumer group over the orders, payments, inventory and users topics. Each event is
 * turned into its Fact and recorded by the AggregateStore in one transaction; runConsumer resolves the
 * event's offset only after that returned, so an offset is committed only for events whose aggregates
 * committed. What it re-delivers after a crash or a rebalance is recognised by its id and skipped.
 */
import { DateTime, Duration, Effect } from "effect"
import { type ConsumedEvent, ensureTopics, KafkaClient, runConsumer } from "../../src/event-bus.ts"
import { AggregateStore } from "./aggregate-store.ts"
import { consumerGroup, sessionTimeoutMillis } from "./config.ts"
import { analyticsTopics, factOf } from "./facts.ts"
import { analyticsEvents } from "./metrics.ts"

export class EventIngest extends Effect.Service<EventIngest>()("analytics/EventIngest", {
  scoped: Effect.gen(function* () {
    const store = yield* AggregateStore
    const { service } = yield* KafkaClient
    const groupId = yield* consumerGroup
    const sessionTimeout = yield* sessionTimeoutMillis

    const ingest = (event: ConsumedEvent) =>
      Effect.gen(function* () {
        const { envelope, topic } = event
        const fact = yield* factOf(envelope)
        const outcome = yield* store.record(
          { id: envelope.id, type: envelope.type, topic, occurredAt: DateTime.toDate(envelope.occurredAt) },
          fact,
        )
        analyticsEvents.inc({ service, topic, type: envelope.type, outcome })
        if (outcome === "duplicate") yield* Effect.logDebug("event seen before; skipped")
      })

    // A fresh broker has none of the topics until a producer first writes; subscribe to all four anyway.
    yield* ensureTopics(analyticsTopics)
    const consumer = yield* runConsumer({
      groupId,
      topics: analyticsTopics,
      handle: ingest,
      sessionTimeout: Duration.millis(sessionTimeout),
      heartbeatInterval: Duration.millis(Math.max(100, Math.floor(sessionTimeout / 10))),
    })
    return { groupId, ready: consumer.ready, joined: consumer.joined }
  }),
}) {}
