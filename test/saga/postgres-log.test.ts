import { afterAll, describe, expect, test } from "bun:test"
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer, Option, Schema } from "effect"
import { PostgresLive } from "../../src/postgres.ts"
import * as Saga from "../../src/saga/index.ts"
import { SagaLog } from "../../src/saga/log.ts"
import { makePostgresSagaLog } from "../../src/saga/log-postgres.ts"
import { makeSagaRunner } from "../../src/saga/runner.ts"
import { adminQuery } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"

const service = `saga_log_${crypto.randomUUID().slice(0, 8)}`
const runtime = testRuntime(PostgresLive(service, { migrations: "order", poolSize: 4 }))

afterAll(async () => {
  await runtime.dispose()
  await adminQuery(`DROP DATABASE IF EXISTS "cm_${service}" WITH (FORCE)`)
})

const Input = Schema.Struct({ amount: Schema.Int })

const twoSteps = (calls: Array<string>, failSecond = false) =>
  Saga.make("two-steps", Input)
    .step("debit", {
      result: Schema.Struct({ debited: Schema.Int }),
      action: ({ input }) => Effect.sync(() => (calls.push("debit"), { debited: input.amount })),
      compensate: (_, result) => Effect.sync(() => calls.push(`credit ${Option.getOrUndefined(result)?.debited}`)),
    })
    .step("notify", {
      result: Schema.Literal("sent"),
      action: () =>
        failSecond
          ? Effect.fail({ _tag: "MailboxFull" as const, message: "mailbox full" })
          : Effect.sync(() => (calls.push("notify"), "sent" as const)),
    })

const withLog = <A, E, R>(owner: string, lease: Duration.DurationInput, effect: Effect.Effect<A, E, R | SagaLog>) =>
  Effect.provide(effect, Layer.scoped(SagaLog, makePostgresSagaLog({ owner, lease })))

const create = (id: string, amount: number, deadline = new Date(Date.now() + 60_000)) =>
  Effect.flatMap(SagaLog, (log) => log.create(id, "two-steps", { amount }, deadline))

/** Whether the saga's row reads completed within 2 s. */
const completed = (id: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    for (let i = 0; i < 100; i++) {
      const rows = yield* sql<{ state: string }>`SELECT state FROM saga_instances WHERE id = ${id}`
      if (rows[0]?.state === "completed") return true
      yield* Effect.sleep("20 millis")
    }
    return false
  })

describe("PostgreSQL saga log", () => {
  test("a saga's steps, results and failure survive in the log and drive the unwind", async () => {
    const calls: Array<string> = []
    const id = crypto.randomUUID()
    const outcome = await runtime.run(
      withLog("owner-a", "10 seconds", Effect.zipRight(create(id, 700), Saga.run(twoSteps(calls, true), id))),
    )
    expect(outcome.state).toBe("failed")
    expect(calls).toEqual(["debit", "credit 700"])
    const record = await runtime.run(
      withLog(
        "owner-a",
        "10 seconds",
        Effect.flatMap(SagaLog, (log) => log.load(id)),
      ),
    )
    expect(record.state).toBe("failed")
    expect(record.steps).toEqual({
      debit: { action: "completed", result: { debited: 700 }, compensated: true },
      notify: { action: "failed", result: null, compensated: false },
    })
    expect(Option.getOrThrow(record.failure)).toMatchObject({ step: "notify", tag: "MailboxFull" })
  })

  test("a replica cannot claim a saga under a live lease, takes it over once expired, and the old owner is fenced off", async () => {
    const id = crypto.randomUUID()
    const result = await runtime.run(
      Effect.gen(function* () {
        yield* withLog("owner-a", "300 millis", create(id, 5))
        const early = yield* withLog(
          "owner-b",
          "10 seconds",
          Effect.flatMap(SagaLog, (log) => log.claim(1000)),
        )
        yield* Effect.sleep("400 millis")
        const late = yield* withLog(
          "owner-b",
          "10 seconds",
          Effect.flatMap(SagaLog, (log) => log.claim(1000)),
        )
        const fenced = yield* withLog(
          "owner-a",
          "300 millis",
          Effect.flatMap(SagaLog, (log) => log.stepStarted(id, "debit")).pipe(Effect.flip),
        )
        return { early: early.map((s) => s.id), late: late.map((s) => s.id), fenced }
      }),
    )
    expect(result.early).not.toContain(id)
    expect(result.late).toContain(id)
    expect(result.fenced.reason).toBe("lease-lost")
  })

  test("forward writes of many sagas share one statement; a saga whose lease is lost fails alone", async () => {
    const held = Array.from({ length: 20 }, () => crypto.randomUUID())
    const lost = crypto.randomUUID()
    const counted = await runtime.run(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* withLog("owner-b", "10 seconds", create(lost, 1))
        return yield* withLog(
          "owner-a",
          "10 seconds",
          Effect.gen(function* () {
            yield* Effect.forEach(held, (id) => create(id, 1), { discard: true })
            const log = yield* SagaLog
            const before = yield* sql<{ n: number }>`
              SELECT count(*)::int AS n FROM saga_steps WHERE saga_id IN ${sql.in([...held, lost])}`
            // All at once: the writer takes what piled up, so several go in one statement.
            const outcomes = yield* Effect.forEach(
              [...held, lost],
              (id) => Effect.either(log.stepCompletedThen(id, "debit", { debited: 1 }, "finish")),
              { concurrency: "unbounded" },
            )
            const states = yield* sql<{ id: string; state: string }>`
              SELECT id, state FROM saga_instances WHERE id IN ${sql.in([...held, lost])}`
            return { before: before[0]?.n, outcomes, states }
          }),
        )
      }),
    )
    expect(counted.before).toBe(0)
    const lostOutcome = counted.outcomes.at(-1)
    expect(lostOutcome?._tag).toBe("Left")
    if (lostOutcome?._tag === "Left") expect(lostOutcome.left.reason).toBe("lease-lost")
    expect(counted.outcomes.slice(0, -1).map((outcome) => outcome._tag)).toEqual(held.map(() => "Right"))
    const stateOf = new Map(counted.states.map((row) => [row.id, row.state]))
    for (const id of held) expect(stateOf.get(id)).toBe("completed")
    expect(stateOf.get(lost)).toBe("running")
  })

  test("the runner's recovery pass resumes a saga left running by a dead process", async () => {
    const calls: Array<string> = []
    const id = crypto.randomUUID()
    await runtime.run(
      withLog(
        "dead-process",
        "100 millis",
        Effect.gen(function* () {
          yield* create(id, 42)
          const log = yield* SagaLog
          yield* log.stepStarted(id, "debit")
        }),
      ),
    )
    await Bun.sleep(150)
    const state = await runtime.run(
      withLog(
        "survivor",
        "5 seconds",
        Effect.scoped(
          Effect.gen(function* () {
            const runner = yield* makeSagaRunner([twoSteps(calls)], {
              service: "test",
              recoveryInterval: "1 hour",
            })
            yield* runner.recover
            return (yield* completed(id)) ? "completed" : "still running"
          }),
        ),
      ),
    )
    expect(state).toBe("completed")
    expect(calls).toEqual(["debit", "notify"])
  })

  test("a saga created in the caller's statement has its first step logged as started, and runs to completion", async () => {
    const calls: Array<string> = []
    const id = crypto.randomUUID()
    const outcome = await runtime.run(
      withLog(
        "creator",
        "5 seconds",
        Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            const runner = yield* makeSagaRunner([twoSteps(calls)], { service: "test", recoveryInterval: "1 hour" })
            const saga = yield* runner.create("two-steps", id, { amount: 5 }, new Date(Date.now() + 60_000))
            const parts = saga.createIf(sql`true`)
            yield* sql`WITH ${sql.join(", ", false)(parts.map((part, i) => sql`${sql.literal(`p${i}`)} AS (${part})`))} SELECT 1`
            // Created and not started yet: the first step is already logged as begun (its action may act at once).
            const logged = yield* sql<{
              step: string
              action: string
            }>`SELECT step, action FROM saga_steps WHERE saga_id = ${id}`
            yield* saga.start
            return (yield* completed(id)) ? logged : "still running"
          }),
        ),
      ),
    )
    expect(outcome).toEqual([{ step: "debit", action: "started" }])
    expect(calls).toEqual(["debit", "notify"])
  })

  test("a running saga past its deadline is turned to compensating and unwound", async () => {
    const calls: Array<string> = []
    const id = crypto.randomUUID()
    const outcome = await runtime.run(
      withLog(
        "owner-d",
        "5 seconds",
        Effect.gen(function* () {
          yield* create(id, 9, new Date(Date.now() - 1000))
          const log = yield* SagaLog
          yield* log.stepStarted(id, "debit")
          yield* log.stepCompleted(id, "debit", { debited: 9 })
          const sql = yield* SqlClient.SqlClient
          // Only this test's saga is overdue-and-running in this database's scope of interest.
          yield* log.abandonOverdue
          const rows = yield* sql<{ state: string }>`SELECT state FROM saga_instances WHERE id = ${id}`
          expect(rows[0]?.state).toBe("compensating")
          return yield* Saga.run(twoSteps(calls), id)
        }),
      ),
    )
    expect(outcome.state).toBe("failed")
    expect(Option.getOrThrow(outcome.failure).tag).toBe("DeadlineExceeded")
    expect(calls).toEqual(["credit 9"])
  })

  test("a run hanging past the runner's runTimeout is interrupted and released; the next recovery pass finishes it", async () => {
    const calls: Array<string> = []
    let hangs = 1
    const hangsOnce = Saga.make("hangs-once", Input).step("wait", {
      result: Schema.Literal("done"),
      action: () =>
        Effect.suspend(() => {
          calls.push("wait")
          return hangs-- > 0 ? Effect.never : Effect.succeed("done" as const)
        }),
    })
    const id = crypto.randomUUID()
    const outcome = await runtime.run(
      withLog(
        "owner-hang",
        "5 seconds",
        Effect.scoped(
          Effect.gen(function* () {
            const runner = yield* makeSagaRunner([hangsOnce], {
              service: "test",
              recoveryInterval: "1 hour",
              runTimeout: "300 millis",
            })
            yield* Effect.flatMap(SagaLog, (log) =>
              log.create(id, "hangs-once", { amount: 1 }, new Date(Date.now() + 60_000)),
            )
            yield* runner.start(id, "hangs-once")
            yield* Effect.sleep("600 millis")
            const afterTimeout = yield* runner.running
            yield* runner.recover
            return { afterTimeout, done: yield* completed(id) }
          }),
        ),
      ),
    )
    // Interrupted and let go (nothing running), then resumed by the recovery pass and completed.
    expect(outcome).toEqual({ afterTimeout: 0, done: true })
    expect(calls).toEqual(["wait", "wait"])
  })
})
