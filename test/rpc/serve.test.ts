/**
 * RpcServe and the clients in one process, each on its own port: the stock fallback for a group with
 * a stream, the metrics seam, and spans across the hop.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { Rpc, RpcGroup } from "@effect/rpc"
import { Chunk, ConfigProvider, Effect, FiberRef, HashMap, Layer, Option, Schema, Stream } from "effect"
import { currentRequestId, withRequestId } from "../../src/request-id.ts"
import { RpcClientTag, type RpcObserver, RpcServe } from "../../src/rpc/index.ts"
import { FeedRpcs } from "./fixtures/feed-rpcs.ts"
import { StockHandlers } from "./fixtures/stock-handlers.ts"
import { initialStock, OutOfStock, StockRpcs } from "./fixtures/stock-rpcs.ts"
import { suiteRuntime } from "./run.ts"

class FeedClient extends RpcClientTag<FeedClient>()("delivery", FeedRpcs) {}

/** What a handler knows of the request it works for. */
class WhoRpcs extends RpcGroup.make(
  Rpc.make("Who", {
    success: Schema.Struct({ requestId: Schema.NullOr(Schema.String), logged: Schema.NullOr(Schema.String) }),
  }),
) {}
class WhoClient extends RpcClientTag<WhoClient>()("user", WhoRpcs) {}
const WhoHandlers = WhoRpcs.toLayer({
  Who: () =>
    Effect.gen(function* () {
      const requestId = yield* FiberRef.get(currentRequestId)
      const annotations = yield* FiberRef.get(FiberRef.currentLogAnnotations)
      const logged = HashMap.get(annotations, "requestId").pipe(Option.map(String), Option.getOrNull)
      return { requestId: requestId ?? null, logged }
    }),
})
class StockClient extends RpcClientTag<StockClient>()("payment", StockRpcs, { tracing: true }) {}

const config = Layer.setConfigProvider(
  ConfigProvider.fromMap(
    new Map([
      ["DELIVERY_RPC_PORT", "27321"],
      ["PAYMENT_RPC_PORT", "27322"],
      ["USER_RPC_PORT", "27324"],
    ]),
  ),
)

const FeedHandlers = FeedRpcs.toLayer({
  Count: ({ upTo }) => Stream.range(1, upTo),
  Check: ({ sku }) => Effect.fail(new OutOfStock({ sku, requested: 1, available: 0 })),
})

const observed: Array<{ method: string; outcome: string }> = []
const observe: RpcObserver = ({ method, outcome, seconds }) => {
  expect(seconds).toBeGreaterThanOrEqual(0)
  observed.push({ method, outcome })
}

const servers = Layer.mergeAll(
  RpcServe.layer(FeedRpcs, { service: "delivery" }).pipe(Layer.provide(FeedHandlers)),
  RpcServe.layer(StockRpcs, { service: "payment", tracing: true, observe }).pipe(Layer.provide(StockHandlers)),
  RpcServe.layer(WhoRpcs, { service: "user" }).pipe(Layer.provide(WhoHandlers)),
)
const clients = Layer.mergeAll(FeedClient.Live, StockClient.Live, WhoClient.Live)
const suite = suiteRuntime(Layer.provideMerge(clients, servers).pipe(Layer.provide(config)))

afterAll(() => suite.dispose())

describe("RpcServe", () => {
  test("a group with a streaming method is served and called through the stock client and server", () =>
    suite.run(
      Effect.gen(function* () {
        const feed = yield* FeedClient
        const counted = yield* Stream.runCollect(feed.Count({ upTo: 4 }))
        expect(Chunk.toReadonlyArray(counted)).toEqual([1, 2, 3, 4])
        const error = yield* feed.Check({ sku: "sku-stream" }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(OutOfStock)
      }),
    ))

  test("the observer hears every finished call with its outcome, with spans on both sides", () =>
    suite.run(
      Effect.gen(function* () {
        const stock = yield* StockClient
        const sku = `sku-${crypto.randomUUID()}`
        yield* stock.Reserve({ sku, quantity: initialStock })
        yield* stock.Reserve({ sku, quantity: 1 }).pipe(Effect.flip)
        const span = yield* Effect.currentSpan.pipe(Effect.option)
        expect(span._tag).toBe("Some")
        expect(observed).toEqual([
          { method: "Reserve", outcome: "ok" },
          { method: "Reserve", outcome: "OutOfStock" },
        ])
      }).pipe(Effect.withSpan("test.caller")),
    ))

  test("a call made for a request carries its id: the handler runs under it and logs with it", () =>
    suite.run(
      Effect.gen(function* () {
        const who = yield* WhoClient
        expect(yield* withRequestId("req-42")(who.Who())).toEqual({ requestId: "req-42", logged: "req-42" })
        expect(yield* who.Who()).toEqual({ requestId: null, logged: null })
      }),
    ))

  test("releasing the server Layer frees its port", async () => {
    const port = 27323
    const layer = RpcServe.layer(StockRpcs, { service: "cart" }).pipe(
      Layer.provide(StockHandlers),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CART_RPC_PORT", String(port)]])))),
    )
    const listening = () =>
      Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
        (socket) => {
          socket.end()
          return true
        },
        () => false,
      )
    await Effect.runPromise(Effect.scoped(Effect.zipRight(Layer.build(layer), Effect.promise(listening)))).then((up) =>
      expect(up).toBe(true),
    )
    expect(await listening()).toBe(false)
  })
})
