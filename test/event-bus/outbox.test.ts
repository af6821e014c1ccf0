import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { SqlClient } from "@effect/sql"
import { Data, Effect, Layer } from "effect"
import { ensureTopics } from "../../src/events/index.ts"
import { registry } from "../../src/metrics.ts"
import { Outbox, OutboxRelayLive } from "../../src/events/outbox.ts"
import { testRuntime } from "../support/run.ts"
import {
  collect,
  deleteTopics,
  dropDatabase,
  groupName,
  LedgerEntryRecorded,
  platformLayer,
  suiteService,
  tally,
  topicName,
} from "./support.ts"

// Consumer group joins and a child process start take seconds; bunfig's [test] timeout is not applied by Bun 1.4.
setDefaultTimeout(30_000)
const service = suiteService("outbox")
const { run, dispose } = testRuntime(platformLayer(service))
const topic = topicName("outbox")
const topics: Array<string> = [topic]
const Recorded = LedgerEntryRecorded(topic)

class Declined extends Data.TaggedError("Declined") {}

/** A state change and its event, committed (or rolled back) together — the way services use the outbox. */
const recordEntry = (account: string, amount: number, options: { readonly rollback?: boolean } = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox
    const id = crypto.randomUUID()
    const write = Effect.gen(function* () {
      yield* sql`INSERT INTO ledger_entries (id, account, amount) VALUES (${id}, ${account}, ${amount})`
      yield* outbox.append(yield* Recorded.make({ account, amount }, { key: account, id }))
      if (options.rollback === true) return yield* new Declined()
    })
    yield* sql.withTransaction(write).pipe(Effect.catchTag("Declined", () => Effect.void))
    return id
  })

const relay = Layer.build(OutboxRelayLive({ pollInterval: "100 millis" }))

const metricValue = async (name: string, labels: Record<string, string>) => {
  const metric = await registry.getSingleMetric(name)?.get()
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
  return match?.value ?? 0
}

describe("transactional outbox", () => {
  afterAll(async () => {
    await run(deleteTopics(topics))
    await dispose()
    await dropDatabase(service)
  })

  test("a committed event is published by the relay; a rolled back one never is", () =>
    run(
      Effect.gen(function* () {
        yield* ensureTopics([topic])
        const sql = yield* SqlClient.SqlClient
        const { collector } = yield* collect({ groupId: groupName("outbox"), topics: [topic] })
        yield* relay
        const committed = yield* recordEntry("acct-1", 10)
        const rolledBack = yield* recordEntry("acct-1", 20, { rollback: true })
        // Committed after the rolled back one on the same key: once it arrives, the other would have.
        const later = yield* recordEntry("acct-1", 30)
        const seen = yield* collector.waitUntil((s) => s.some((e) => e.envelope.id === later))
        expect(seen.map((e) => e.envelope.id)).toEqual([committed, later])
        expect(seen.every((e) => e.key === "acct-1")).toBe(true)
        const rows = yield* sql<{ event_id: string; published: boolean }>`
          SELECT event_id::text AS event_id, published_at IS NOT NULL AS published FROM outbox ORDER BY id`
        expect(rows.map((r) => r.event_id)).not.toContain(rolledBack)
        const entries = yield* sql<{
          n: number
        }>`SELECT count(*)::int AS n FROM ledger_entries WHERE id = ${rolledBack}`
        expect(entries[0]?.n).toBe(0)
        // The mark lands right after the publish, in the same transaction.
        yield* Effect.sleep("300 millis")
        const marked = yield* sql<{ published: boolean }>`
          SELECT published_at IS NOT NULL AS published FROM outbox WHERE event_id IN ${sql.in([committed, later])}`
        expect(marked.every((r) => r.published)).toBe(true)
        expect(yield* Effect.promise(() => metricValue("outbox_published_total", { service, topic }))).toBe(2)
        expect(yield* Effect.promise(() => metricValue("outbox_pending", { service }))).toBe(0)
      }).pipe(Effect.scoped),
    ))

  test("appending outside a transaction is refused", () =>
    run(
      Effect.gen(function* () {
        const outbox = yield* Outbox
        const exit = yield* outbox.append(yield* Recorded.make({ account: "acct-2", amount: 1 })).pipe(Effect.exit)
        expect(exit._tag).toBe("Failure")
      }),
    ))

  test("two relays on one database publish every event exactly once between them", () =>
    run(
      Effect.gen(function* () {
        const busy = topicName("outbox-two-relays")
        topics.push(busy)
        yield* ensureTopics([busy])
        const Busy = LedgerEntryRecorded(busy)
        const sql = yield* SqlClient.SqlClient
        const outbox = yield* Outbox
        const { collector } = yield* collect({ groupId: groupName("two-relays"), topics: [busy] })
        yield* Layer.build(Layer.merge(OutboxRelayLive({ batchSize: 7 }), OutboxRelayLive({ batchSize: 7 })))
        // One writer per account (appending in order, as an aggregate's row lock would make them), four at once.
        const accounts = ["acct-0", "acct-1", "acct-2", "acct-3"]
        const perAccount = yield* Effect.forEach(
          accounts,
          (account) =>
            Effect.forEach(
              Array.from({ length: 15 }, (_, i) => i),
              (amount) =>
                sql.withTransaction(
                  Effect.flatMap(Busy.make({ account, amount }, { key: account }), (event) =>
                    Effect.as(outbox.append(event), event.id),
                  ),
                ),
            ),
          { concurrency: "unbounded" },
        )
        const ids = perAccount.flat()
        const seen = yield* collector.waitUntil((s) => tally(s).unique.size >= ids.length)
        yield* Effect.sleep("500 millis")
        const final = tally(yield* collector.seen)
        expect(final.unique).toEqual(new Set(ids))
        expect(final.duplicates).toBe(0)
        // Per key, events arrive in the order they were appended.
        for (const account of accounts) {
          const amounts = seen
            .filter((e) => e.key === account)
            .map((e) => (e.envelope.payload as { amount: number }).amount)
          expect(amounts).toEqual([...amounts].sort((a, b) => a - b))
        }
      }).pipe(Effect.scoped),
    ))

  test("a commit wakes an idle relay through LISTEN/NOTIFY instead of waiting for its poll", () =>
    run(
      Effect.gen(function* () {
        const quick = topicName("outbox-notify")
        topics.push(quick)
        yield* ensureTopics([quick])
        const Quick = LedgerEntryRecorded(quick)
        const sql = yield* SqlClient.SqlClient
        const outbox = yield* Outbox
        const { collector } = yield* collect({ groupId: groupName("notify"), topics: [quick] })
        yield* Layer.build(OutboxRelayLive({ pollInterval: "1 minute" }))
        // Let the relay finish its first round and go idle.
        yield* Effect.sleep("300 millis")
        const event = yield* Quick.make({ account: "acct-n", amount: 1 }, { key: "acct-n" })
        yield* sql.withTransaction(outbox.append(event))
        yield* collector.waitUntil((s) => s.some((e) => e.envelope.id === event.id), "10 seconds")
      }).pipe(Effect.scoped),
    ))
})
