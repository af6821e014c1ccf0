import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Rpc, RpcClientError, RpcGroup } from "@effect/rpc"
import type { Subprocess } from "bun"
import { Cause, ConfigProvider, Context, DateTime, Effect, Exit, Layer, Option, Schedule, Schema } from "effect"
import { RpcClientTag, rpcPath } from "../../src/rpc/index.ts"
import { StockHandlers } from "./fixtures/stock-handlers.ts"
import { initialStock, OutOfStock, StockRpcs } from "./fixtures/stock-rpcs.ts"
import { suiteRuntime } from "./run.ts"
import { killServer, startServer } from "./server-process.ts"

class StockClient extends RpcClientTag<StockClient>()("analytics", StockRpcs) {}

// Below the ephemeral port range (32768–60999) so that no outgoing connection holds it by chance.
const port = 27_311
const config = Layer.setConfigProvider(
  ConfigProvider.fromMap(new Map([["ANALYTICS_RPC_PORT", String(port)]])).pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
  ),
)

const remote = suiteRuntime(StockClient.Live.pipe(Layer.provide(config)))
const withTimeout = suiteRuntime(StockClient.layer({ timeout: "300 millis" }).pipe(Layer.provide(config)))
const inProcess = suiteRuntime(StockClient.InProcess.pipe(Layer.provide(StockHandlers)))

class SlowStockClient extends RpcClientTag<SlowStockClient>()("analytics", StockRpcs, { timeout: "100 millis" }) {}
const slowInProcess = suiteRuntime(SlowStockClient.InProcess.pipe(Layer.provide(StockHandlers)))

/** Something a caller and a handler may both have in context, as two services each have a SqlClient. */
class Probe extends Context.Tag("test/Probe")<Probe, string>() {}
class WhoRpcs extends RpcGroup.make(Rpc.make("Who", { success: Schema.String })) {}
class WhoClient extends RpcClientTag<WhoClient>()("analytics", WhoRpcs) {}
const WhoHandlers = WhoRpcs.toLayer(
  Effect.succeed({
    Who: () =>
      Effect.map(
        Effect.serviceOption(Probe),
        Option.getOrElse(() => "none"),
      ),
  }),
)
const whoInProcess = suiteRuntime(
  WhoClient.InProcess.pipe(Layer.provide(WhoHandlers), Layer.provide(Layer.succeed(Probe, "handler's"))),
)

let server: Subprocess
const uniqueSku = () => `sku-${crypto.randomUUID()}`

beforeAll(async () => {
  server = await startServer(port)
})

afterAll(async () => {
  await Promise.all([
    remote.dispose(),
    withTimeout.dispose(),
    inProcess.dispose(),
    slowInProcess.dispose(),
    whoInProcess.dispose(),
  ])
  await killServer(server)
})

describe("RPC client and server in separate processes", () => {
  test("a success value round-trips through the schemas", () =>
    remote.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const echoed = yield* stock.Echo({ text: "ab", times: 3 })
        expect(echoed.text).toBe("ababab")
        expect(echoed.times).toBe(3)
        expect(echoed.serverPid).toBe(server.pid)
        expect(DateTime.isDateTime(echoed.at)).toBe(true)
      }),
    ))

  test("a typed error arrives as the real TaggedError class and catchTag handles it", () =>
    remote.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const sku = uniqueSku()
        expect(yield* stock.Reserve({ sku, quantity: 2 })).toEqual({ sku, remaining: initialStock - 2 })
        const error = yield* stock.Reserve({ sku, quantity: 4 }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(OutOfStock)
        expect(error._tag).toBe("OutOfStock")
        if (error._tag !== "OutOfStock") throw new Error("expected OutOfStock")
        expect({ sku: error.sku, requested: error.requested, available: error.available }).toEqual({
          sku,
          requested: 4,
          available: initialStock - 2,
        })
        const recovered = yield* stock
          .Reserve({ sku, quantity: 4 })
          .pipe(Effect.catchTag("OutOfStock", (e) => Effect.succeed({ sku: e.sku, remaining: e.available })))
        expect(recovered).toEqual({ sku, remaining: initialStock - 2 })
      }),
    ))

  test("the client refuses a payload that fails its schema before sending", () =>
    remote.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const exit = yield* Effect.exit(stock.Echo({ text: "x", times: 0 }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toContain("Expected a positive number")
      }),
    ))

  test("the server refuses a payload that fails its schema, and keeps serving", async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${rpcPath}`)
    const replies: Array<unknown> = []
    const answered = new Promise<void>((resolve, reject) => {
      socket.addEventListener("message", (event) => {
        replies.push(JSON.parse(String(event.data)))
        resolve()
      })
      socket.addEventListener("error", () => reject(new Error("websocket error")))
    })
    await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }))
    socket.send(
      JSON.stringify({ _tag: "Request", id: "1", tag: "Reserve", payload: { sku: 7, quantity: -1 }, headers: [] }),
    )
    await answered
    socket.close()
    expect(replies[0]).toMatchObject({
      _tag: "Exit",
      requestId: "1",
      exit: { _tag: "Failure", cause: { _tag: "Die" } },
    })
    expect(JSON.stringify(replies[0])).toContain("Expected string, actual 7")
    await remote.run(
      Effect.flatMap(StockClient, (stock) => stock.Echo({ text: "still", times: 1 })).pipe(
        Effect.map((echoed) => expect(echoed.text).toBe("still")),
      ),
    )
  })

  test("a call that outlives the client's timeout fails with RpcClientError", () =>
    withTimeout.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        yield* stock.Delay({ millis: 10 })
        const started = performance.now()
        const error = yield* stock.Delay({ millis: 2_000 }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(RpcClientError.RpcClientError)
        expect(error.message).toContain("timed out")
        expect(performance.now() - started).toBeLessThan(1_000)
      }),
    ))

  test("a call on a dead server fails fast, and a call after its restart succeeds", async () => {
    const before = await remote.run(Effect.flatMap(StockClient, (stock) => stock.Echo({ text: "a", times: 1 })))
    expect(before.serverPid).toBe(server.pid)

    await killServer(server)
    const down = await remote.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const started = performance.now()
        const error = yield* stock.Echo({ text: "b", times: 1 }).pipe(Effect.flip)
        return { error, millis: performance.now() - started }
      }),
    )
    expect(down.error).toBeInstanceOf(RpcClientError.RpcClientError)
    expect(down.millis).toBeLessThan(3_000)

    server = await startServer(port)
    const after = await remote.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const started = performance.now()
        const echoed = yield* stock.Echo({ text: "c", times: 2 }).pipe(
          Effect.retry({
            schedule: Schedule.spaced("100 millis"),
            times: 50,
            while: (e) => e._tag === "RpcClientError",
          }),
        )
        return { echoed, millis: performance.now() - started }
      }),
    )
    expect(after.echoed.text).toBe("cc")
    expect(after.echoed.serverPid).toBe(server.pid)
    expect(after.millis).toBeLessThan(3_000)
  })
})

describe("RPC client served in-process", () => {
  test("calls the handlers directly with typed errors", () =>
    inProcess.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const sku = uniqueSku()
        expect(yield* stock.Reserve({ sku, quantity: initialStock })).toEqual({ sku, remaining: 0 })
        const error = yield* stock.Reserve({ sku, quantity: 1 }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(OutOfStock)
        expect((yield* stock.Echo({ text: "in", times: 2 })).serverPid).toBe(process.pid)
      }),
    ))

  test("a handler runs with its own context, never the caller's (as it would in its own process)", () =>
    whoInProcess.run(
      Effect.gen(function* () {
        const who = yield* WhoClient
        expect(yield* who.Who()).toBe("handler's")
        // A caller's SqlClient or open transaction connection must not leak into another service's handler.
        expect(yield* who.Who().pipe(Effect.provideService(Probe, "caller's"))).toBe("handler's")
      }),
    ))

  test("the client's timeout fails the call with RpcClientError and interrupts the handler", () =>
    slowInProcess.run(
      Effect.gen(function* () {
        const stock = yield* SlowStockClient
        const started = Date.now()
        const error = yield* stock.Delay({ millis: 5_000 }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(RpcClientError.RpcClientError)
        expect(Date.now() - started).toBeLessThan(1_000)
      }),
    ))
})
