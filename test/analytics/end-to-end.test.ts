/**
 * End to end: real checkouts through the whole mesh (some declined, some out of stock, some finding the
 * delivery slot full after the charge, so refunded), while the analytics process is SIGKILLed and
 * restarted. Once the sources' outboxes are published and the consumer lag is 0, every figure
 * analytics reports equals the same figure computed with SQL from the source databases, and it
 * recorded exactly the events the sources wrote — each once.
 *
 * Everything runs on databases and a Kafka broker of this run's own (see private-kafka.ts), so the
 * topics hold exactly the events of these databases.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { Effect, Layer, Redacted, Schedule } from "effect"
import type { Sku } from "../../rpc/common.ts"
import type { ZoneId } from "../../rpc/delivery.ts"
import { UserRpcs } from "../../rpc/user.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import {
  checkout,
  checkoutServices,
  type Clients,
  clientsOf,
  deliveryZone,
  newCustomer,
  settled,
  stockedProduct,
} from "../order/support.ts"
import { testRuntime } from "../support/run.ts"
import type { Mesh } from "../support/service-process.ts"
import { type Amount, expectedTotals, processedEventIds, sourceEventIds, unpublishedEvents } from "./source-totals.ts"
import {
  AnalyticsClient,
  type AnalyticsWorld,
  consumerLag,
  eventually,
  NotYet,
  runId,
  startAnalyticsWorld,
  sum,
} from "./support.ts"

class UserClient extends RpcClientTag<UserClient>()("user", UserRpcs) {}

const suffix = `_analytics_e2e_${runId}`
const services = [...checkoutServices, "user", "analytics"] as const

let world: AnalyticsWorld | undefined
let mesh: Mesh | undefined
let runtime: ReturnType<typeof makeRuntime> | undefined

const makeRuntime = (started: Mesh) =>
  testRuntime(
    Layer.mergeAll(clientsOf(started), AnalyticsClient.Live, UserClient.Live).pipe(Layer.provide(started.config)),
  )

const run = <A, E>(effect: Effect.Effect<A, E, Clients | AnalyticsClient | UserClient>) => {
  if (runtime === undefined) throw new Error("the mesh did not start")
  return runtime.run(effect)
}

beforeAll(async () => {
  world = await startAnalyticsWorld(services, suffix, { USER_ARGON2_MEMORY_KIB: "1024", USER_ARGON2_TIME_COST: "1" })
  mesh = world.mesh
  runtime = makeRuntime(world.mesh)
}, 180_000)

afterAll(async () => {
  await runtime?.dispose()
  await world?.stop()
}, 60_000)

interface Purchase {
  readonly lines: ReadonlyArray<{ readonly sku: Sku; readonly quantity: number }>
  readonly zone: ZoneId
}

/** Kills analytics with SIGKILL at random moments while `work` runs, restarting it each time. */
const killAnalyticsWhile = async (work: Promise<unknown>, kills: number) => {
  let done = false
  void work.finally(() => {
    done = true
  })
  let killed = 0
  while (!done && killed < kills) {
    await Bun.sleep(700 + Math.random() * 1_500)
    if (done) break
    await mesh?.services.get("analytics")?.kill()
    killed++
    await mesh?.restart("analytics")
  }
  await work
  return killed
}

/** A call made while the restarted analytics process is still connecting is repeated. */
const whenConnected = <A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>) =>
  call.pipe(
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100, while: (e) => e._tag === "RpcClientError" }),
  )

const plain = (amounts: ReadonlyArray<{ readonly amount: number; readonly currency: string }>): Array<Amount> =>
  amounts.map(({ amount, currency }) => ({ amount, currency }))

test("after checkouts and SIGKILLs of analytics, its figures equal the source databases' and each event counts once", async () => {
  const testStarted = new Date()
  const world = await run(
    Effect.gen(function* () {
      const [plenty, scarce, declined, extra] = yield* Effect.all([
        stockedProduct(500, 1_500),
        stockedProduct(10, 2_200),
        // 9.13 a unit: an order of one is declined by the simulated provider (amounts ending in 13 cents).
        stockedProduct(100, 913),
        stockedProduct(500, 700),
      ])
      const [roomy, tiny] = yield* Effect.all([deliveryZone(10_000), deliveryZone(2)])
      const users = yield* UserClient
      for (let i = 0; i < 5; i++) {
        yield* users.Register({
          email: `analytics-${runId}-${i}@example.com`,
          password: Redacted.make("correct horse battery"),
          name: `Customer ${i}`,
        })
      }
      return { plenty, scarce, declined, extra, roomy, tiny }
    }),
  )
  const purchases: ReadonlyArray<Purchase> = [
    ...Array.from({ length: 24 }, (_, i) => ({
      lines: [{ sku: world.plenty, quantity: 1 + (i % 3) }],
      zone: world.roomy,
    })),
    ...Array.from({ length: 8 }, () => ({
      lines: [
        { sku: world.plenty, quantity: 1 },
        { sku: world.extra, quantity: 2 },
      ],
      zone: world.roomy,
    })),
    // 10 units for 8 orders of 2: some run out of stock.
    ...Array.from({ length: 8 }, () => ({ lines: [{ sku: world.scarce, quantity: 2 }], zone: world.roomy })),
    ...Array.from({ length: 6 }, () => ({ lines: [{ sku: world.declined, quantity: 1 }], zone: world.roomy })),
    // Two places in the slot: the rest fail after the charge and are refunded.
    ...Array.from({ length: 5 }, () => ({ lines: [{ sku: world.extra, quantity: 1 }], zone: world.tiny })),
  ]

  const shopping = run(
    Effect.forEach(
      purchases,
      (purchase) =>
        Effect.gen(function* () {
          const placed = yield* checkout(newCustomer(), purchase.lines, purchase.zone)
          return yield* settled(placed.id)
        }),
      { concurrency: 6 },
    ),
  )
  const killed = await killAnalyticsWhile(shopping, 2)
  const orders = await shopping
  expect(killed).toBeGreaterThanOrEqual(1)
  const reasons = new Set(orders.flatMap((order) => (order.failure === null ? [] : [order.failure.reason])))
  expect(reasons.has("PaymentDeclined")).toBe(true)
  expect(reasons.has("InsufficientStock")).toBe(true)
  expect(orders.filter((order) => order.status === "CONFIRMED").length).toBeGreaterThan(30)

  // Caught up: nothing left in the sources' outboxes, then no lag on any partition twice in a row.
  await run(
    eventually(
      Effect.promise(() => unpublishedEvents(suffix)).pipe(
        Effect.flatMap((n) => (n === 0 ? Effect.void : Effect.fail(new NotYet(`${n} unpublished`)))),
      ),
    ),
  )
  const httpUrl = () => mesh?.services.get("analytics")?.httpUrl ?? ""
  const noLag = Effect.promise(() => consumerLag(httpUrl())).pipe(
    Effect.flatMap((lags) =>
      lags.length === 12 && sum(lags) === 0 ? Effect.void : Effect.fail(new NotYet(`lag ${JSON.stringify(lags)}`)),
    ),
  )
  await run(eventually(noLag.pipe(Effect.zipRight(Effect.sleep("1 second")), Effect.zipRight(noLag)), 300))

  const expected = await expectedTotals(suffix)
  const reported = await run(
    Effect.gen(function* () {
      const analytics = yield* AnalyticsClient
      const summary = yield* whenConnected(analytics.Summary({}))
      const failures = yield* whenConnected(analytics.FailureReasons({}))
      const products = yield* whenConnected(analytics.TopProducts({ by: "units", limit: 100 }))
      const forecast = yield* whenConnected(
        analytics.StockForecast({ skus: [world.plenty, world.scarce, world.declined, world.extra], windowDays: 2 }),
      )
      const minutes = yield* whenConnected(
        analytics.SalesPerMinute({ from: new Date(testStarted.getTime() - 60_000), to: new Date(Date.now() + 60_000) }),
      )
      return { summary, failures, products, forecast, minutes }
    }),
  )

  const { summary } = reported
  expect({
    ordersCreated: summary.ordersCreated,
    ordersConfirmed: summary.ordersConfirmed,
    ordersFailed: summary.ordersFailed,
    ordersCancelled: summary.ordersCancelled,
    revenue: plain(summary.revenue),
    refunded: plain(summary.refunded),
    paymentsCaptured: summary.paymentsCaptured,
    paymentsDeclined: summary.paymentsDeclined,
    newCustomers: summary.newCustomers,
  }).toEqual(expected.summary)
  expect(summary.ordersCreated).toBe(purchases.length)
  expect(summary.newCustomers).toBe(5)
  expect(summary.refunded.length).toBe(1)
  expect(summary.conversionRate).toBeCloseTo(expected.summary.ordersConfirmed / expected.summary.ordersCreated, 10)

  expect(reported.failures.map(({ step, reason, count }) => ({ step, reason, count }))).toEqual(expected.failureReasons)
  expect(
    reported.products.map(({ sku, units, orders, revenue }) => ({
      sku: sku as string,
      units,
      orders,
      revenue: plain(revenue),
    })),
  ).toEqual(expected.products)

  // Units committed by inventory, counted from inventory.committed events, against inventory's own ledger.
  expect(reported.forecast).toHaveLength(4)
  for (const row of reported.forecast) {
    const stock = expected.stock.get(row.sku)
    expect({ sku: row.sku as string, unitsSold: row.unitsSold, available: row.available }).toEqual({
      sku: row.sku,
      unitsSold: stock?.committed ?? -1,
      available: stock?.available ?? -1,
    })
  }

  const minutes = reported.minutes
  expect(sum(minutes.map((bucket) => bucket.ordersCreated))).toBe(expected.summary.ordersCreated)
  expect(sum(minutes.map((bucket) => bucket.ordersConfirmed))).toBe(expected.summary.ordersConfirmed)
  expect(sum(minutes.flatMap((bucket) => bucket.revenue.map((money) => money.amount)))).toBe(
    sum(expected.summary.revenue.map((money) => money.amount)),
  )

  // Exactly once: analytics recorded every event the sources wrote to its topics, and nothing else.
  const [written, recorded] = await Promise.all([sourceEventIds(suffix), processedEventIds(suffix)])
  expect(recorded.length).toBe(written.length)
  expect(recorded).toEqual(written)
}, 240_000)
