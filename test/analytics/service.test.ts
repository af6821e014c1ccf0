/**
 * services/analytics/main.ts as a process, on a Kafka broker of the suite's own: events published to
 * the real topics reach the aggregates once, whatever is published twice; the reports answer over RPC
 * with typed errors; readiness, lag and event counters show on the side port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Layer } from "effect"
import { Currency, Money, type OrderId, Sku, type UserId } from "../../rpc/common.ts"
import { InventoryCommitted, type ReservationId, RestockId } from "../../rpc/inventory.ts"
import { OrderConfirmed, OrderCreated } from "../../rpc/order.ts"
import { EventProducer, KafkaLive } from "../../src/events/index.ts"
import { InventoryClient } from "../../services/analytics/clients.ts"
import { testRuntime } from "../support/run.ts"
import type { Mesh } from "../support/service-process.ts"
import {
  AnalyticsClient,
  consumerLag,
  eventually,
  metricValues,
  NotYet,
  readMetrics,
  runId,
  sum,
  type AnalyticsWorld,
  startAnalyticsWorld,
} from "./support.ts"

const suffix = `_analytics_svc_${runId}`
const services = ["inventory", "analytics"] as const

let world: AnalyticsWorld | undefined
let mesh: Mesh | undefined
let runtime: ReturnType<typeof makeRuntime> | undefined

const makeRuntime = (started: Mesh) =>
  testRuntime(
    Layer.mergeAll(AnalyticsClient.Live, InventoryClient.Live, EventProducer.Default).pipe(
      Layer.provideMerge(KafkaLive("analytics-test")),
      Layer.provide(started.config),
    ),
  )

const run = <A, E>(effect: Effect.Effect<A, E, AnalyticsClient | InventoryClient | EventProducer>) => {
  if (runtime === undefined) throw new Error("the suite did not start")
  return runtime.run(effect)
}

const analyticsUrl = () => mesh?.services.get("analytics")?.httpUrl ?? ""

beforeAll(async () => {
  world = await startAnalyticsWorld(services, suffix)
  mesh = world.mesh
  runtime = makeRuntime(world.mesh)
}, 120_000)

afterAll(async () => {
  await runtime?.dispose()
  await world?.stop()
}, 60_000)

const usd = (amount: number) => Money.make({ amount, currency: Currency.make("USD") })

const summary = Effect.flatMap(AnalyticsClient, (analytics) => analytics.Summary({}))

describe("the analytics service", () => {
  test("reports ready with postgres, kafka and its consumer; health and metrics answer", async () => {
    const readiness = (await (await fetch(`${analyticsUrl()}/readyz`)).json()) as {
      status: string
      checks: ReadonlyArray<{ name: string; ok: boolean }>
    }
    expect(readiness.status).toBe("ready")
    expect(readiness.checks.map((check) => [check.name, check.ok]).sort()).toEqual([
      ["consumer", true],
      ["kafka", true],
      ["postgres", true],
    ])
    expect((await fetch(`${analyticsUrl()}/healthz`)).status).toBe(200)
  })

  test("an order's events published twice to Kafka count once; the duplicates are counted as such", () =>
    run(
      Effect.gen(function* () {
        const producer = yield* EventProducer
        const before = yield* summary
        const order = { orderId: crypto.randomUUID() as OrderId, userId: crypto.randomUUID() as UserId }
        const sku = Sku.make(`sku-${crypto.randomUUID().slice(0, 8)}`)
        const created = yield* OrderCreated.make(order, { key: order.orderId })
        const confirmed = yield* OrderConfirmed.make(
          { ...order, total: usd(4_500), items: [{ sku, quantity: 3, lineTotal: usd(4_500) }] },
          { key: order.orderId },
        )
        yield* producer.publish([created, confirmed])
        yield* producer.publish([confirmed, created])
        yield* eventually(
          Effect.promise(() => readMetrics(analyticsUrl())).pipe(
            Effect.flatMap((text) => {
              const duplicates = sum(metricValues(text, "analytics_events_total", { outcome: "duplicate" }))
              return duplicates >= 2 ? Effect.void : Effect.fail(new NotYet(`${duplicates} duplicates`))
            }),
          ),
        )
        const after = yield* summary
        expect(after.ordersCreated - before.ordersCreated).toBe(1)
        expect(after.ordersConfirmed - before.ordersConfirmed).toBe(1)
        const revenue = (s: typeof after) => s.revenue.find((m) => m.currency === "USD")?.amount ?? 0
        expect(revenue(after) - revenue(before)).toBe(4_500)
        const top = yield* (yield* AnalyticsClient).TopProducts({ by: "units", limit: 100 })
        expect(top.find((row) => row.sku === sku)?.units).toBe(3)
        const text = yield* Effect.promise(() => readMetrics(analyticsUrl()))
        expect(sum(metricValues(text, "analytics_events_total", { topic: "orders", outcome: "duplicate" }))).toBe(2)
        expect(
          sum(metricValues(text, "analytics_events_total", { type: "order.confirmed", outcome: "applied" })),
        ).toBeGreaterThanOrEqual(1)
      }),
    ))

  test("the stock forecast sets sales from inventory.committed events against inventory's current stock", () =>
    run(
      Effect.gen(function* () {
        const producer = yield* EventProducer
        const inventory = yield* InventoryClient
        const analytics = yield* AnalyticsClient
        const sku = Sku.make(`sku-${crypto.randomUUID().slice(0, 8)}`)
        yield* inventory.Restock({ restockId: RestockId.make(`restock-${sku}`), sku, quantity: 100 })
        for (const quantity of [9, 5]) {
          yield* producer.publish([
            yield* InventoryCommitted.make({
              reservationId: crypto.randomUUID() as ReservationId,
              orderId: crypto.randomUUID() as OrderId,
              lines: [{ sku, quantity }],
            }),
          ])
        }
        const [forecast] = yield* eventually(
          analytics
            .StockForecast({ skus: [sku], windowDays: 7 })
            .pipe(
              Effect.flatMap((rows) =>
                rows[0]?.unitsSold === 14 ? Effect.succeed(rows) : Effect.fail(new NotYet("sales not in yet")),
              ),
            ),
        )
        expect(forecast?.available).toBe(100)
        expect(forecast?.unitsPerDay).toBe(2)
        expect(forecast?.daysUntilStockOut).toBe(50)
        // Without a SKU list: the SKUs sold in the window, soonest out first.
        const ranked = yield* analytics.StockForecast({ windowDays: 7 })
        expect(ranked.map((row) => row.sku)).toContain(sku)
        const unknown = Sku.make(`sku-unknown-${crypto.randomUUID().slice(0, 8)}`)
        const [unknownForecast] = yield* analytics.StockForecast({ skus: [unknown] })
        expect([unknownForecast?.available, unknownForecast?.daysUntilStockOut]).toEqual([null, null])
      }),
    ))

  test("bad requests fail with the contract's typed errors over the wire", () =>
    run(
      Effect.gen(function* () {
        const analytics = yield* AnalyticsClient
        const now = new Date()
        const backwards = yield* analytics
          .SalesPerMinute({ from: now, to: new Date(now.getTime() - 60_000) })
          .pipe(Effect.flip)
        expect(backwards._tag).toBe("InvalidRange")
        const tooLong = yield* analytics
          .SalesPerMinute({ from: new Date(now.getTime() - 2 * 86_400_000), to: now })
          .pipe(Effect.flip)
        expect(tooLong._tag).toBe("InvalidRange")
        const mixedCurrencies = yield* analytics.TopProducts({ by: "revenue" }).pipe(Effect.flip)
        expect(mixedCurrencies._tag).toBe("CurrencyRequired")
        const perDay = yield* analytics.SalesPerDay({ from: new Date(now.getTime() - 86_400_000), to: now })
        expect(perDay.length).toBe(2)
        expect(perDay[0]?.start).toBeInstanceOf(Date)
      }),
    ))

  test("once caught up, kafka_consumer_lag reads 0 on every partition of the four topics", async () => {
    const lags = await run(
      eventually(
        Effect.promise(() => consumerLag(analyticsUrl())).pipe(
          Effect.flatMap((values) =>
            values.length === 12 && sum(values) === 0
              ? Effect.succeed(values)
              : Effect.fail(new NotYet(`lag ${JSON.stringify(values)}`)),
          ),
        ),
      ),
    )
    expect(lags).toHaveLength(12)
    const text = await readMetrics(analyticsUrl())
    for (const topic of ["orders", "payments", "inventory", "users"]) {
      expect(metricValues(text, "kafka_consumer_lag", { group: "analytics", topic })).toHaveLength(3)
    }
  })
})
