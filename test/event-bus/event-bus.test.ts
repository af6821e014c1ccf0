import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { Data, Effect, Schedule, Schema } from "effect"
import { defineEvent, EventProducer, ensureTopics, kafkaReady, type OutgoingEvent } from "../../src/events/index.ts"
import { registry } from "../../src/metrics.ts"
import { testRuntime } from "../support/run.ts"
import {
  collect,
  deleteTopics,
  dropDatabase,
  groupName,
  platformLayer,
  suiteService,
  tally,
  topicName,
} from "./support.ts"

// Consumer group joins and a child process start take seconds; bunfig's [test] timeout is not applied by Bun 1.4.
setDefaultTimeout(30_000)
const service = suiteService("bus")
const { run, dispose } = testRuntime(platformLayer(service))
const topics: Array<string> = []
const newTopic = (name: string) =>
  Effect.gen(function* () {
    const topic = topicName(name)
    topics.push(topic)
    yield* ensureTopics([topic])
    return topic
  })

const ProductPriced = (topic: string) =>
  defineEvent(
    "catalog.product-priced",
    topic,
    Schema.Struct({ productId: Schema.String, amount: Schema.Int, currency: Schema.Literal("EUR", "USD") }),
    2,
  )

class TransientFailure extends Data.TaggedError("TransientFailure") {}

const messagesHandled = async (topic: string, outcome: string) => {
  const metric = await registry.getSingleMetric("messages_handled_total")?.get()
  return metric?.values.find((v) => v.labels.queue === topic && v.labels.outcome === outcome)?.value ?? 0
}

describe("event bus", () => {
  afterAll(async () => {
    await run(deleteTopics(topics))
    await dispose()
    await dropDatabase(service)
  })

  test("the readiness probe reaches the cluster", () => run(kafkaReady))

  test("an event published by the producer reaches a consumer group, typed, in key order", () =>
    run(
      Effect.gen(function* () {
        const topic = yield* newTopic("roundtrip")
        const Priced = ProductPriced(topic)
        const producer = yield* EventProducer
        const events = yield* Effect.forEach([100, 200, 300], (amount) =>
          Priced.make({ productId: "p-1", amount, currency: "EUR" }, { key: "p-1" }),
        )
        yield* producer.publish(events)
        const { collector } = yield* collect({ groupId: groupName("roundtrip"), topics: [topic] })
        const seen = yield* collector.waitUntil((s) => s.length >= 3)
        const decoded = yield* Effect.forEach(seen, (event) => Priced.decode(event.envelope))
        expect(decoded.map((e) => e.payload.amount)).toEqual([100, 200, 300])
        expect(decoded.map((e) => e.id)).toEqual(events.map((e) => e.id))
        expect(new Set(seen.map((e) => e.partition)).size).toBe(1)
        expect(seen[0]?.key).toBe("p-1")
        expect(decoded[0]?.version).toBe(2)
        const lag = yield* Effect.promise(async () => registry.getSingleMetric("kafka_consumer_lag")?.get())
        const groupLag = lag?.values.find((v) => v.labels.topic === topic && v.labels.group === groupName("roundtrip"))
        expect(groupLag?.value).toBe(0)
      }).pipe(Effect.scoped),
    ))

  test("a failing handler is retried until it succeeds; undecodable messages are skipped, not blocking", () =>
    run(
      Effect.gen(function* () {
        const topic = yield* newTopic("retry")
        const Priced = ProductPriced(topic)
        const producer = yield* EventProducer
        const garbage: OutgoingEvent = {
          id: crypto.randomUUID(),
          type: "garbage",
          version: 1,
          topic,
          partitionKey: "p-2",
          value: "{ not json",
        }
        const good = yield* Priced.make({ productId: "p-2", amount: 1, currency: "USD" }, { key: "p-2" })
        // Same key as the garbage, so it sits right behind it in the same partition.
        const wrongPayload = yield* defineEvent(
          "catalog.product-priced",
          topic,
          Schema.Struct({ x: Schema.Int }),
          2,
        ).make({ x: 1 }, { key: "p-2" })
        yield* producer.publish([garbage, wrongPayload, good])
        let attempts = 0
        const { collector } = yield* collect({
          groupId: groupName("retry"),
          topics: [topic],
          handle: (event) =>
            // A payload of the wrong shape fails with UndecodableEvent, which the runner skips.
            Priced.decode(event.envelope).pipe(
              Effect.flatMap(() => {
                attempts += 1
                return attempts < 3 ? Effect.fail(new TransientFailure()) : Effect.void
              }),
            ),
        })
        yield* collector.waitUntil((s) => s.some((e) => e.envelope.id === good.id))
        expect(attempts).toBe(3)
        expect(yield* Effect.promise(() => messagesHandled(topic, "undecodable"))).toBe(2)
        expect(yield* Effect.promise(() => messagesHandled(topic, "ok"))).toBe(1)
      }).pipe(Effect.scoped),
    ))

  test("a handler still failing after its retries gets the event again later; nothing behind it is skipped", () =>
    run(
      Effect.gen(function* () {
        const topic = yield* newTopic("redeliver")
        const Priced = ProductPriced(topic)
        const producer = yield* EventProducer
        const [stuck, behind] = yield* Effect.forEach([1, 2], (amount) =>
          Priced.make({ productId: "p-3", amount, currency: "EUR" }, { key: "p-3" }),
        )
        if (stuck === undefined || behind === undefined) return yield* Effect.dieMessage("no events")
        yield* producer.publish([stuck, behind])
        let attempts = 0
        const { collector } = yield* collect({
          groupId: groupName("redeliver"),
          topics: [topic],
          // Two attempts per delivery: the first two deliveries of `stuck` are abandoned uncommitted.
          retry: Schedule.recurs(1),
          handle: (event) =>
            Effect.suspend(() => {
              if (event.envelope.id !== stuck.id) return Effect.void
              attempts += 1
              return attempts <= 4 ? Effect.fail(new TransientFailure()) : Effect.void
            }),
        })
        const seen = yield* collector.waitUntil((s) => s.some((e) => e.envelope.id === behind.id))
        expect(attempts).toBe(5)
        expect(seen.map((e) => e.envelope.id)).toEqual([stuck.id, behind.id])
        expect(yield* Effect.promise(() => messagesHandled(topic, "failed"))).toBe(2)
      }).pipe(Effect.scoped),
    ))

  test("a restarted consumer resumes from its committed offsets: nothing lost, nothing replayed", () =>
    run(
      Effect.gen(function* () {
        const topic = yield* newTopic("resume")
        const Priced = ProductPriced(topic)
        const producer = yield* EventProducer
        const groupId = groupName("resume")
        const batch = (from: number) =>
          Effect.forEach([0, 1, 2, 3, 4, 5], (i) =>
            Priced.make({ productId: `p-${i}`, amount: from + i, currency: "EUR" }, { key: `p-${i}` }),
          )
        const first = yield* batch(0)
        yield* producer.publish(first)
        const firstRun = yield* Effect.scoped(
          Effect.gen(function* () {
            const { collector } = yield* collect({ groupId, topics: [topic] })
            return yield* collector.waitUntil((s) => s.length >= first.length)
          }),
        )
        const second = yield* batch(100)
        yield* producer.publish(second)
        const { collector } = yield* collect({ groupId, topics: [topic] })
        yield* collector.waitUntil((s) => s.length >= second.length)
        // Give a replay of the first batch the chance to show up, should offsets not have been committed.
        yield* Effect.sleep("1 second")
        const secondRun = yield* collector.seen
        expect(tally(firstRun).unique).toEqual(new Set(first.map((e) => e.id)))
        expect(tally(secondRun).unique).toEqual(new Set(second.map((e) => e.id)))
        expect(tally(secondRun).duplicates).toBe(0)
      }).pipe(Effect.scoped),
    ))
})
