/**
 * The crash test of the checkout saga: a few hundred checkouts while a service is killed with SIGKILL
 * at random moments and restarted — the order service (its saga log and order writes are group-committed),
 * then the cart and the inventory services, then payment and delivery (whose writes are all batched across
 * checkouts). Afterwards every order is terminal, no SKU is oversold, no payment is captured without a
 * confirmed order or a full refund, every confirmed order has one booked shipment and no failed one keeps
 * one, no key made two orders, and stock, payments and orders reconcile. The figures are printed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { Effect, Schedule } from "effect"
import type { Sku, UserId } from "../../rpc/common.ts"
import type { Order } from "../../rpc/order.ts"
import type { ServiceName } from "../../src/config.ts"
import {
  CartClient,
  type CheckoutWorld,
  DeliveryClient,
  type Clients,
  checkout,
  deliveryZone,
  InventoryClient,
  newCustomer,
  OrderClient,
  PaymentClient,
  settled,
  startCheckoutWorld,
  stockedProduct,
} from "./support.ts"

const checkouts = Number(process.env.CRASH_CHECKOUTS ?? 200)
const kills = Number(process.env.CRASH_KILLS ?? 4)
const inFlight = 16

let world: CheckoutWorld
const run = <A, E>(effect: Effect.Effect<A, E, Clients>) => world.run(effect)

beforeAll(async () => {
  // A short lease so a killed owner's sagas are picked up within a couple of seconds.
  world = await startCheckoutWorld({
    DATABASE_NAME_SUFFIX: "_crash_test",
    SAGA_LEASE_MS: "1500",
    SAGA_RECOVERY_INTERVAL_MS: "500",
  })
}, 180_000)

afterAll(() => world?.stop())

/** Kills `victims` in turn at random moments while `work` runs, restarting each one. */
const killWhile = async (work: Promise<unknown>, victims: ReadonlyArray<ServiceName>) => {
  let done = false
  void work.finally(() => {
    done = true
  })
  let killed = 0
  while (!done && killed < kills) {
    // Soon and often: 200 checkouts settle in a few seconds, and a run that kills nobody (or only the first
    // victim) proves little.
    await Bun.sleep(100 + Math.random() * 400)
    if (done) break
    const victim: ServiceName = victims[killed % victims.length] ?? "order"
    await world.mesh.services.get(victim)?.kill()
    killed++
    await world.mesh.restart(victim)
  }
  await work
  return killed
}

/** Retries a call while the order service is down or restarting: the same key makes it safe. */
const throughCrashes = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 }))

const survive = async (victims: ReadonlyArray<ServiceName>) => {
  const prepared = await run(
    Effect.gen(function* () {
      // The last test's restarted victim may still be reconnecting its clients: set-up calls are retried too
      // (a retried product is another product, unused).
      const zone = yield* throughCrashes(deliveryZone(10_000))
      // Scarce stock so some checkouts fail and unwind; one price the provider always declines.
      const skus = yield* Effect.all([
        throughCrashes(stockedProduct(60, 1_500)),
        throughCrashes(stockedProduct(60, 2_200)),
        throughCrashes(stockedProduct(40, 913)),
      ])
      return { zone, skus }
    }),
  )
  const initial = new Map<Sku, number>([
    [prepared.skus[0], 60],
    [prepared.skus[1], 60],
    [prepared.skus[2], 40],
  ])
  const customers: Array<{ userId: UserId; sku: Sku; key: string; quantity: number }> = Array.from(
    { length: checkouts },
    (_, i) => ({
      userId: newCustomer(),
      sku: prepared.skus[i % 3] as Sku,
      key: crypto.randomUUID(),
      quantity: 1 + (i % 2),
    }),
  )
  // Carts are filled first: what is killed is the checkouts' work, not the shopping before it. Retried like
  // the set-up (a retried line at most raises a quantity; the checks below read quantities from the orders).
  await run(
    Effect.forEach(
      customers,
      (c) =>
        throughCrashes(
          Effect.flatMap(CartClient, (cart) => cart.AddItem({ userId: c.userId, sku: c.sku, quantity: c.quantity })),
        ),
      { concurrency: inFlight, discard: true },
    ),
  )
  const started = performance.now()
  const placing = run(
    Effect.forEach(customers, (c) => throughCrashes(checkout(c.userId, [], prepared.zone, c.key)), {
      concurrency: inFlight,
    }),
  )
  // The kills go on while the sagas run after the answers, until every order is terminal.
  const settling = placing.then((placed) =>
    run(
      Effect.forEach(placed, (order) => throughCrashes(settled(order.id)), { concurrency: 8 }).pipe(
        Effect.timeout("120 seconds"),
      ),
    ),
  )
  const killed = await killWhile(settling, victims)
  const finals = await settling
  const seconds = (performance.now() - started) / 1000

  const report = await run(
    Effect.gen(function* () {
      const orders = yield* OrderClient
      const inventory = yield* InventoryClient
      const payments = yield* PaymentClient
      // The clients may still be reconnecting to a service restarted by the last kill: reads are retried too.
      const perUser = yield* Effect.forEach(customers, (c) => throughCrashes(orders.ListOrders({ userId: c.userId })), {
        concurrency: 16,
      })
      const stock = yield* throughCrashes(inventory.GetStocks({ skus: [...initial.keys()] }))
      const paymentOf = (order: Order) =>
        throughCrashes(
          payments.GetPaymentByOrder({ orderId: order.id }).pipe(
            Effect.map((p) => ({ status: p.status, amount: p.amount.amount, refunded: p.refunded })),
            Effect.catchTag("PaymentNotFound", () => Effect.void),
          ),
        )
      const charged = yield* Effect.forEach(finals, paymentOf, { concurrency: 16 })
      const delivery = yield* DeliveryClient
      const shipped = yield* Effect.forEach(
        finals,
        (order) =>
          throughCrashes(
            delivery.GetShipment({ orderId: order.id }).pipe(
              Effect.map((shipment) => shipment.status),
              Effect.catchTag("ShipmentNotFound", () => Effect.succeed("none" as const)),
            ),
          ),
        { concurrency: 16 },
      )
      return { perUser, stock, charged, shipped }
    }),
  )

  const confirmed = finals.filter((o) => o.status === "CONFIRMED")
  const failed = finals.filter((o) => o.status === "FAILED")
  const reasons = new Map<string, number>()
  for (const order of failed) {
    const reason = order.failure?.reason ?? "?"
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
  }
  const soldPerSku = new Map<string, number>()
  for (const order of confirmed) {
    for (const item of order.items) soldPerSku.set(item.sku, (soldPerSku.get(item.sku) ?? 0) + item.quantity)
  }
  let capturedWithoutOrder = 0
  let confirmedUnpaid = 0
  let refundedTwice = 0
  let confirmedUnbooked = 0
  let failedStillBooked = 0
  finals.forEach((order, i) => {
    const shipment = report.shipped[i]
    if (order.status === "CONFIRMED" && shipment !== "booked") confirmedUnbooked++
    if (order.status === "FAILED" && shipment === "booked") failedStillBooked++
    const payment = report.charged[i]
    if (order.status === "CONFIRMED" && (payment?.status !== "captured" || payment.refunded !== 0)) confirmedUnpaid++
    if (order.status === "FAILED" && payment?.status === "captured" && payment.refunded !== payment.amount) {
      capturedWithoutOrder++
    }
    if (payment !== undefined && payment.refunded > payment.amount) refundedTwice++
  })

  console.log(
    JSON.stringify(
      {
        checkouts,
        killed: victims,
        kills: killed,
        seconds: Number(seconds.toFixed(1)),
        confirmed: confirmed.length,
        failed: failed.length,
        failureReasons: Object.fromEntries(reasons),
        ordersPerKey: [...new Set(report.perUser.map((list) => list.length))],
        stock: report.stock.map((s) => ({
          initial: initial.get(s.sku),
          available: s.available,
          reserved: s.reserved,
          committed: s.committed,
          soldByConfirmedOrders: soldPerSku.get(s.sku) ?? 0,
        })),
        capturedWithoutConfirmedOrderOrRefund: capturedWithoutOrder,
        confirmedWithoutCapture: confirmedUnpaid,
        overRefunded: refundedTwice,
        confirmedWithoutShipment: confirmedUnbooked,
        failedWithShipment: failedStillBooked,
      },
      null,
      2,
    ),
  )

  expect(killed).toBeGreaterThan(0)
  expect(finals.every((o) => o.status === "CONFIRMED" || o.status === "FAILED")).toBe(true)
  expect(confirmed.length).toBeGreaterThan(0)
  expect(failed.length).toBeGreaterThan(0)
  // A killed service is down for moments: no checkout fails for it, only for stock or payment. (A charge left
  // pending by a killed payment process once held its key for 30 s, past the saga's retries: all failed.)
  expect(
    [...reasons.keys()].filter((reason) => reason !== "InsufficientStock" && reason !== "PaymentDeclined"),
  ).toEqual([])
  // One order per idempotency key (each customer used one key, retried through the crashes).
  expect(report.perUser.every((list) => list.length === 1)).toBe(true)
  for (const s of report.stock) {
    expect(s.available + s.reserved + s.committed).toBe(initial.get(s.sku) ?? -1)
    expect(s.available).toBeGreaterThanOrEqual(0)
    expect(s.reserved).toBe(0)
    expect(s.committed).toBe(soldPerSku.get(s.sku) ?? 0)
  }
  expect(capturedWithoutOrder).toBe(0)
  expect(confirmedUnpaid).toBe(0)
  expect(refundedTwice).toBe(0)
  expect(confirmedUnbooked).toBe(0)
  expect(failedStillBooked).toBe(0)
}

test(
  "checkouts survive SIGKILLs of the order service: all terminal, no oversell, payments reconcile",
  () => survive(["order"]),
  600_000,
)

test(
  "checkouts survive SIGKILLs of the cart and inventory services mid-batch: nothing acknowledged lost or doubled",
  () => survive(["cart", "inventory"]),
  600_000,
)

test(
  "checkouts survive SIGKILLs of the payment and delivery services mid-batch: nothing acknowledged lost or doubled",
  () => survive(["payment", "delivery"]),
  600_000,
)
