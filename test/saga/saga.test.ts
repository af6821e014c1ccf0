import { describe, expect, test } from "bun:test"
import { Effect, Fiber, Option, Schedule, Schema } from "effect"
import * as Saga from "../../src/saga/index.ts"
import { SagaLog } from "../../src/saga/log.ts"
import { makeBeat, makeStepBeats } from "../../src/saga/beat.ts"
import { makeMemoryLog, type MemoryLog, memoryLogLayer } from "./memory-log.ts"
import { runTest } from "../support/run.ts"

class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { sku: Schema.String }) {}
class Unreachable extends Schema.TaggedError<Unreachable>()("Unreachable", {}) {}

const fast = Schedule.spaced("1 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

const Input = Schema.Struct({ orderId: Schema.String, failAt: Schema.optional(Schema.String) })

/** A three-step saga whose actions and compensations write what they did into `calls`. */
const checkout = (
  calls: Array<string>,
  options: { flaky?: number; unreachable?: boolean; brokenUndo?: number } = {},
) => {
  let flaky = options.flaky ?? 0
  let brokenUndo = options.brokenUndo ?? 0
  return Saga.make("checkout", Input)
    .step("reserve", {
      result: Schema.Struct({ reservationId: Schema.String }),
      action: ({ key }) => Effect.sync(() => (calls.push(`reserve ${key}`), { reservationId: `r-${key}` })),
      compensate: (_, result) =>
        Effect.sync(() =>
          calls.push(`release ${Option.match(result, { onNone: () => "?", onSome: (r) => r.reservationId })}`),
        ),
    })
    .step("charge", {
      result: Schema.Struct({ paymentId: Schema.String, amount: Schema.Int }),
      action: ({ results, input }) =>
        Effect.gen(function* () {
          calls.push(`charge after ${results.reserve.reservationId}`)
          if (options.unreachable === true) return yield* new Unreachable()
          if (flaky > 0) {
            flaky--
            return yield* new Unreachable()
          }
          if (input.failAt === "charge") return yield* new OutOfStock({ sku: "x" })
          return { paymentId: `p-${input.orderId}`, amount: 1200 }
        }),
      isTransient: (error) => error._tag === "Unreachable" || error._tag === "StepTimeout",
      retry: fast,
      compensationRetry: fast,
      compensate: (_, result) =>
        Effect.gen(function* () {
          if (brokenUndo > 0) {
            brokenUndo--
            return yield* Effect.fail("refund service down")
          }
          calls.push(`refund ${Option.match(result, { onNone: () => "unknown", onSome: (p) => p.paymentId })}`)
        }),
    })
    .step("ship", {
      result: Schema.Struct({ shipmentId: Schema.String }),
      action: ({ input }) =>
        input.failAt === "ship"
          ? Effect.fail(new OutOfStock({ sku: "slot" }))
          : Effect.sync(() => (calls.push("ship"), { shipmentId: "s-1" })),
      compensate: () => Effect.sync(() => calls.push("cancel shipment")),
    })
}

const start = (memory: MemoryLog, id: string, input: typeof Input.Type) =>
  Effect.provide(
    Effect.flatMap(SagaLog, (log) => log.create(id, "checkout", input, new Date(Date.now() + 60_000))),
    memoryLogLayer(memory),
  )

const drive = <R extends Record<string, unknown>>(
  memory: MemoryLog,
  saga: Saga.Saga<typeof Input.Type, R, never>,
  id: string,
) => Effect.provide(Saga.run(saga, id), memoryLogLayer(memory))

describe("saga engine", () => {
  test("runs every step in order and completes, each step keyed by (saga id, step)", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const outcome = await runTest(
      Effect.zipRight(start(memory, "s1", { orderId: "o1" }), drive(memory, checkout(calls), "s1")),
    )
    expect(outcome.state).toBe("completed")
    expect(calls).toEqual(["reserve s1:reserve", "charge after r-s1:reserve", "ship"])
    expect(memory.events).toEqual([
      "started reserve",
      "completed reserve",
      "started charge",
      "completed charge",
      "started ship",
      "completed ship",
      "finished completed",
    ])
  })

  test("a domain failure unwinds the completed steps in reverse and ends failed with the typed reason", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const outcome = await runTest(
      Effect.zipRight(start(memory, "s2", { orderId: "o2", failAt: "ship" }), drive(memory, checkout(calls), "s2")),
    )
    expect(outcome.state).toBe("failed")
    expect(Option.getOrThrow(outcome.failure)).toMatchObject({ step: "ship", tag: "OutOfStock", outcomeUnknown: false })
    expect(calls).toEqual(["reserve s2:reserve", "charge after r-s2:reserve", "refund p-o2", "release r-s2:reserve"])
    expect(memory.events.slice(-4)).toEqual([
      "failed ship",
      "compensated charge",
      "compensated reserve",
      "finished failed",
    ])
  })

  test("transient errors are retried before they count", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const outcome = await runTest(
      Effect.zipRight(start(memory, "s3", { orderId: "o3" }), drive(memory, checkout(calls, { flaky: 2 }), "s3")),
    )
    expect(outcome.state).toBe("completed")
    expect(calls.filter((c) => c.startsWith("charge"))).toHaveLength(3)
  })

  test("a step still failing transiently after its retries is compensated itself, its outcome being unknown", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const outcome = await runTest(
      Effect.zipRight(
        start(memory, "s4", { orderId: "o4" }),
        drive(memory, checkout(calls, { unreachable: true }), "s4"),
      ),
    )
    expect(outcome.state).toBe("failed")
    expect(Option.getOrThrow(outcome.failure)).toMatchObject({
      step: "charge",
      tag: "Unreachable",
      outcomeUnknown: true,
    })
    expect(calls.slice(-2)).toEqual(["refund unknown", "release r-s4:reserve"])
  })

  test("resuming after a crash skips completed steps and re-runs the one whose outcome was not recorded", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    await runTest(start(memory, "s5", { orderId: "o5" }))
    const record = memory.records.get("s5")
    if (record === undefined) throw new Error("saga not created")
    memory.records.set("s5", {
      ...record,
      steps: {
        reserve: { action: "completed", result: { reservationId: "r-before-crash" }, compensated: false },
        charge: { action: "started", result: undefined, compensated: false },
      },
    })
    const outcome = await runTest(drive(memory, checkout(calls), "s5"))
    expect(outcome.state).toBe("completed")
    expect(calls).toEqual(["charge after r-before-crash", "ship"])
  })

  test("an unwind interrupted half way resumes with the compensations not yet logged", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    await runTest(start(memory, "s6", { orderId: "o6" }))
    const record = memory.records.get("s6")
    if (record === undefined) throw new Error("saga not created")
    memory.records.set("s6", {
      ...record,
      state: "compensating",
      failure: Option.some(new Saga.SagaFailure({ step: "ship", tag: "OutOfStock", message: "no slot" })),
      steps: {
        reserve: { action: "completed", result: { reservationId: "r-6" }, compensated: false },
        charge: { action: "completed", result: { paymentId: "p-6", amount: 5 }, compensated: true },
        ship: { action: "failed", result: undefined, compensated: false },
      },
    })
    const outcome = await runTest(drive(memory, checkout(calls), "s6"))
    expect(outcome.state).toBe("failed")
    expect(calls).toEqual(["release r-6"])
  })

  test("interrupting a step (a shutdown) fires no compensation, and the next run finishes the saga", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const slow = Saga.make("checkout", Input)
      .step("reserve", {
        result: Schema.String,
        action: () => Effect.sync(() => (calls.push("reserve"), "r")),
        compensate: () => Effect.sync(() => calls.push("release")),
      })
      .step("charge", {
        result: Schema.String,
        action: () => Effect.sync(() => calls.push("charge")).pipe(Effect.zipRight(Effect.never)),
        compensate: () => Effect.sync(() => calls.push("refund")),
      })
    await runTest(
      Effect.gen(function* () {
        yield* start(memory, "s7", { orderId: "o7" })
        const fiber = yield* Effect.fork(drive(memory, slow, "s7"))
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
      }),
    )
    expect(calls).toEqual(["reserve", "charge"])
    expect(memory.records.get("s7")?.state).toBe("running")
    const finishing = Saga.make("checkout", Input)
      .step("reserve", { result: Schema.String, action: () => Effect.sync(() => (calls.push("reserve again"), "r")) })
      .step("charge", { result: Schema.String, action: () => Effect.succeed("p") })
    const outcome = await runTest(drive(memory, finishing, "s7"))
    expect(outcome.state).toBe("completed")
    expect(calls).toEqual(["reserve", "charge"])
  })

  test("a compensation that keeps failing leaves the saga compensating; the next pass completes the unwind", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const saga = checkout(calls, { brokenUndo: 100 })
    const first = await Effect.runPromiseExit(
      Effect.zipRight(start(memory, "s8", { orderId: "o8", failAt: "ship" }), drive(memory, saga, "s8")),
    )
    expect(first._tag).toBe("Failure")
    expect(memory.records.get("s8")?.state).toBe("compensating")
    expect(calls).not.toContain("release r-s8:reserve")
    const outcome = await runTest(drive(memory, checkout(calls), "s8"))
    expect(outcome.state).toBe("failed")
    expect(calls.slice(-2)).toEqual(["refund p-o8", "release r-s8:reserve"])
  })

  test("beforeStep is waited for before each forward step, never before a compensation", async () => {
    const memory = makeMemoryLog()
    const calls: Array<string> = []
    const beat = (step: string) => Effect.sync(() => calls.push(`beat ${step}`))
    const outcome = await runTest(
      Effect.zipRight(
        start(memory, "s9", { orderId: "o9", failAt: "ship" }),
        Effect.provide(Saga.run(checkout(calls), "s9", { beforeStep: beat }), memoryLogLayer(memory)),
      ),
    )
    expect(outcome.state).toBe("failed")
    expect(calls).toEqual([
      "beat reserve",
      "reserve s9:reserve",
      "beat charge",
      "charge after r-s9:reserve",
      "beat ship",
      "refund p-o9",
      "release r-s9:reserve",
    ])
  })
})

describe("the beat sagas act on", () => {
  test("fibers waiting within one beat go on together; one arriving after it waits for the next", async () => {
    const beat = makeBeat(40)
    const resumed = await runTest(
      Effect.gen(function* () {
        const wait = (delay: number) =>
          Effect.zipRight(
            Effect.sleep(delay),
            Effect.zipRight(
              beat,
              Effect.sync(() => performance.now()),
            ),
          )
        // Just past a tick, so the three begin to wait early in the next period.
        yield* beat
        const started = performance.now()
        const [a, b, c] = yield* Effect.all([wait(0), wait(10), wait(20)], { concurrency: "unbounded" })
        const late = yield* wait(0)
        return { started, a, b, c, late }
      }),
    )
    // The three began to wait 10 ms apart and resumed together, at the next tick. (A timer may fire a few ms
    // late on a busy machine, so a tick's distance from the one before is a period less that lateness: the
    // bounds tell "the next tick" (~40 ms) from "the same one" (~0), not the timer's precision.)
    expect(Math.max(resumed.a, resumed.b, resumed.c) - Math.min(resumed.a, resumed.b, resumed.c)).toBeLessThan(3)
    expect(resumed.a - resumed.started).toBeGreaterThanOrEqual(30)
    // The late one waited for the next tick.
    expect(resumed.late - resumed.a).toBeGreaterThanOrEqual(30)
  })

  test("a beat ticks on the clock, at its offset past each multiple of the period", async () => {
    const phase = (at: number) => ((at % 60) + 60) % 60
    const ticks = await runTest(
      Effect.forEach(
        [makeBeat(60), makeBeat(60, 20), makeBeat(60, 40)],
        (beat) =>
          Effect.zipRight(
            beat,
            Effect.sync(() => Date.now()),
          ),
        { concurrency: "unbounded" },
      ),
    )
    // Timers may fire a little late, never early.
    ticks.forEach((at, index) => {
      const late = (phase(at) - index * 20 + 60) % 60
      expect(late).toBeLessThan(8)
    })
  })

  test("the steps' beats are spread over the period; sagas at one step go on together", async () => {
    const beats = makeStepBeats(60, ["reserve", "charge", "ship"])
    const resumed = await runTest(
      Effect.forEach(
        ["reserve", "reserve", "charge", "ship", "ship"],
        (step) =>
          Effect.zipRight(
            beats(step),
            Effect.sync(() => ({ step, at: performance.now() })),
          ),
        { concurrency: "unbounded" },
      ),
    )
    const at = (step: string) => resumed.filter((r) => r.step === step).map((r) => r.at)
    const [reserve, charge, ship] = [at("reserve"), at("charge"), at("ship")]
    expect(Math.abs((reserve[0] as number) - (reserve[1] as number))).toBeLessThan(2)
    expect(Math.abs((ship[0] as number) - (ship[1] as number))).toBeLessThan(2)
    // A third of the period apart, in a cycle: each step's tick is 20 ms after the one before it.
    const gap = (from: number, to: number) => (((to - from) % 60) + 60) % 60
    for (const [from, to] of [
      [reserve[0], charge[0]],
      [charge[0], ship[0]],
      [ship[0], reserve[0]],
    ] as Array<[number, number]>) {
      expect(gap(from, to)).toBeGreaterThan(13)
      expect(gap(from, to)).toBeLessThan(27)
    }
  })
})
