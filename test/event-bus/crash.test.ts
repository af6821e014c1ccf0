/**
 * The outbox's promise under SIGKILL: whatever moment a service process dies at, every committed
 * event reaches Kafka once the relay runs again, and nothing else does. Duplicates are allowed
 * (at least once) and counted; consumers dedupe by event id.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { ensureTopics } from "../../src/events/index.ts"
import { OutboxRelayLive } from "../../src/events/outbox.ts"
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
const service = suiteService("crash")
const { run, dispose } = testRuntime(platformLayer(service))
const fixture = join(import.meta.dir, "fixtures", "outbox-writer.ts")
const topics: Array<string> = []
const count = 25

interface WriterRun {
  readonly committed: ReadonlyArray<string>
  readonly published: ReadonlyArray<string> | undefined
  readonly signal: string | number | null
}

/** Runs the writer until it dies: killed by us after it committed, or by its own fault hook. */
const runWriter = (mode: "no-relay" | "die-after-publish", topic: string) =>
  Effect.tryPromise(async (): Promise<WriterRun> => {
    const child = Bun.spawn([process.execPath, "run", fixture], {
      env: { ...process.env, EVBUS_SERVICE: service, EVBUS_TOPIC: topic, EVBUS_COUNT: String(count), EVBUS_MODE: mode },
      stdout: "pipe",
      stderr: "inherit",
    })
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000)
    let committed: ReadonlyArray<string> = []
    let published: ReadonlyArray<string> | undefined
    let buffered = ""
    const decoder = new TextDecoder()
    for await (const chunk of child.stdout) {
      buffered += decoder.decode(chunk, { stream: true })
      let newline = buffered.indexOf("\n")
      while (newline >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        newline = buffered.indexOf("\n")
        if (line.startsWith("COMMITTED ")) {
          committed = JSON.parse(line.slice("COMMITTED ".length)) as ReadonlyArray<string>
          // Between commit and publish: the relay of this process never ran.
          if (mode === "no-relay") child.kill("SIGKILL")
        }
        if (line.startsWith("PUBLISHED "))
          published = JSON.parse(line.slice("PUBLISHED ".length)) as ReadonlyArray<string>
      }
    }
    await child.exited
    clearTimeout(watchdog)
    return { committed, published, signal: child.signalCode }
  })

const unpublished = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ n: number }>`
      SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND event_id IN ${sql.in([...ids])}`,
  ).pipe(Effect.map((rows) => rows[0]?.n ?? -1))

/** Starts a fresh relay and a consumer, and returns what arrived once every committed id did. */
const recover = (topic: string, committed: ReadonlyArray<string>, expectedArrivals: number) =>
  Effect.gen(function* () {
    const { collector } = yield* collect({ groupId: groupName(`crash-${topic}`), topics: [topic] })
    yield* Layer.build(OutboxRelayLive({ pollInterval: "100 millis" }))
    yield* collector.waitUntil((s) => tally(s).unique.size >= committed.length && s.length >= expectedArrivals)
    // Anything extra (an invented or third copy) would show up now.
    yield* Effect.sleep("500 millis")
    return { arrived: tally(yield* collector.seen), stillPending: yield* unpublished(committed) }
  }).pipe(Effect.scoped)

describe("outbox under SIGKILL", () => {
  afterAll(async () => {
    await run(deleteTopics(topics))
    await dispose()
    await dropDatabase(service)
  })

  test("killed after commit, before its relay published: a fresh relay delivers every event once", () =>
    run(
      Effect.gen(function* () {
        const topic = topicName("crash-before-publish")
        topics.push(topic)
        yield* ensureTopics([topic])
        const writer = yield* runWriter("no-relay", topic)
        expect(writer.signal).toBe("SIGKILL")
        expect(writer.committed).toHaveLength(count)
        expect(yield* unpublished(writer.committed)).toBe(count)

        const { arrived, stillPending } = yield* recover(topic, writer.committed, count)
        expect(arrived.unique).toEqual(new Set(writer.committed))
        expect(arrived.duplicates).toBe(0)
        expect(stillPending).toBe(0)
      }),
    ))

  test("killed after publishing, before marking: the batch is published again and dedupes to every event once", () =>
    run(
      Effect.gen(function* () {
        const topic = topicName("crash-after-publish")
        topics.push(topic)
        yield* ensureTopics([topic])
        const writer = yield* runWriter("die-after-publish", topic)
        expect(writer.signal).toBe("SIGKILL")
        expect(writer.committed).toHaveLength(count)
        expect(writer.published).toEqual(writer.committed)
        // It reached Kafka, but the database never heard: the mark died with the process.
        expect(yield* unpublished(writer.committed)).toBe(count)

        const { arrived, stillPending } = yield* recover(topic, writer.committed, 2 * count)
        expect(arrived.unique).toEqual(new Set(writer.committed))
        expect(arrived.arrivals).toBe(2 * count)
        expect(arrived.duplicates).toBe(count)
        expect(stillPending).toBe(0)
      }),
    ))
})
