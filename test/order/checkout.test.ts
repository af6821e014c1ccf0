/**
 * The checkout saga end to end over real processes: catalog, inventory, payment, delivery, cart and
 * order, on real PostgreSQL, RabbitMQ and Kafka. Each failure point is forced in turn, and what the
 * earlier steps did is checked to be undone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Option, Schedule } from "effect"
import { OrderId } from "../../rpc/common.ts"
import { IdempotencyKey } from "../../rpc/order.ts"
import {
  address,
  CartClient,
  checkout,
  type CheckoutWorld,
  type Clients,
  DeliveryClient,
  deliveryZone,
  failureReason,
  InventoryClient,
  newCustomer,
  OrderClient,
  PaymentClient,
  paymentMethodOf,
  settled,
  startCheckoutWorld,
  stockedProduct,
} from "./support.ts"

let world: CheckoutWorld
const run = <A, E>(effect: Effect.Effect<A, E, Clients>) => world.run(effect)

beforeAll(async () => {
  // A slow payment provider leaves a window in which an order is still PENDING mid-saga.
  world = await startCheckoutWorld({
    DATABASE_NAME_SUFFIX: "_checkout_test",
    PAYMENT_PROVIDER_LATENCY_MS: "300",
    // A step gives up on a service that stays down after a second (the default rides out a 10 s restart).
    SAGA_STEP_RETRY_SECONDS: "1",
  })
}, 180_000)

afterAll(() => world?.stop())

const stockOf = (sku: Parameters<InventoryClient["Type"]["GetStock"]>[0]["sku"]) =>
  Effect.flatMap(InventoryClient, (inventory) => inventory.GetStock({ sku }))

describe("checkout saga", () => {
  test("a customer's checkout is answered PENDING at once and becomes CONFIRMED: stock sold, payment captured, cart emptied", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(10, 2_500)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const placed = yield* checkout(userId, [{ sku, quantity: 3 }], zone)
        expect(placed.status).toBe("PENDING")
        const order = yield* settled(placed.id)
        expect(order.status).toBe("CONFIRMED")
        expect(order.total).toEqual(expect.objectContaining({ amount: 7_500, currency: "USD" }))
        expect(order.items.map((item) => [item.sku, item.quantity, item.unitPrice.amount])).toEqual([[sku, 3, 2_500]])
        const stock = yield* stockOf(sku)
        expect([stock.available, stock.reserved, stock.committed]).toEqual([7, 0, 3])
        const payment = yield* Effect.flatMap(PaymentClient, (p) => p.GetPaymentByOrder({ orderId: order.id }))
        expect([payment.status, payment.amount.amount, payment.refunded]).toEqual(["captured", 7_500, 0])
        // The cart is cleared by a command sent after confirmation; it arrives shortly after.
        const carts = yield* CartClient
        const cart = yield* carts.GetCart({ userId }).pipe(
          Effect.filterOrFail(
            (c) => c.lines.length === 0,
            () => "not cleared yet" as const,
          ),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }),
        )
        expect(cart.lines).toHaveLength(0)
      }),
    ))

  test("the same idempotency key returns the same order, never a second one", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(10, 1_000)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const key = crypto.randomUUID()
        const first = yield* checkout(userId, [{ sku, quantity: 1 }], zone, key)
        const orders = yield* OrderClient
        const again = yield* orders.PlaceOrder({
          userId,
          idempotencyKey: IdempotencyKey.make(key),
          paymentMethod: yield* paymentMethodOf(userId),
          address,
          deliveryZone: zone,
        })
        expect(again.id).toBe(first.id)
        const listed = yield* orders.ListOrders({ userId })
        expect(listed.map((o) => o.id)).toEqual([first.id])
        expect((yield* settled(first.id)).status).toBe("CONFIRMED")
      }),
    ))

  test("out of stock: FAILED with InsufficientStock, stock untouched, nothing charged, cart released", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(2, 1_000)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const order = yield* settled((yield* checkout(userId, [{ sku, quantity: 5 }], zone)).id)
        expect(order.status).toBe("FAILED")
        expect(failureReason(order)).toEqual(Option.some("InsufficientStock"))
        const stock = yield* stockOf(sku)
        expect([stock.available, stock.reserved, stock.committed]).toEqual([2, 0, 0])
        const payment = yield* Effect.flatMap(PaymentClient, (p) => p.GetPaymentByOrder({ orderId: order.id })).pipe(
          Effect.flip,
        )
        expect(payment._tag).toBe("PaymentNotFound")
        const cart = yield* Effect.flatMap(CartClient, (c) => c.GetCart({ userId }))
        expect([cart.status, cart.lines.length]).toEqual(["open", 1])
      }),
    ))

  test("payment declined: FAILED with PaymentDeclined, stock released, cart released", () =>
    run(
      Effect.gen(function* () {
        // The simulated provider declines every amount ending in 13 minor units.
        const sku = yield* stockedProduct(4, 1_013)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const order = yield* settled((yield* checkout(userId, [{ sku, quantity: 1 }], zone)).id)
        expect(order.status).toBe("FAILED")
        expect(failureReason(order)).toEqual(Option.some("PaymentDeclined"))
        const stock = yield* stockOf(sku)
        expect([stock.available, stock.reserved, stock.committed]).toEqual([4, 0, 0])
        const cart = yield* Effect.flatMap(CartClient, (c) => c.GetCart({ userId }))
        expect(cart.status).toBe("open")
      }),
    ))

  test("no delivery slot: FAILED with NoSlotAvailable, the payment refunded exactly once, stock back", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(4, 2_000)
        const zone = yield* deliveryZone(0)
        const userId = newCustomer()
        const order = yield* settled((yield* checkout(userId, [{ sku, quantity: 2 }], zone)).id)
        expect(order.status).toBe("FAILED")
        expect(failureReason(order)).toEqual(Option.some("NoSlotAvailable"))
        const payment = yield* Effect.flatMap(PaymentClient, (p) => p.GetPaymentByOrder({ orderId: order.id }))
        expect([payment.status, payment.amount.amount, payment.refunded]).toEqual(["captured", 4_000, 4_000])
        const stock = yield* stockOf(sku)
        expect([stock.available, stock.reserved, stock.committed]).toEqual([4, 0, 0])
      }),
    ))

  test("an empty cart: FAILED with CartEmpty before anything else happened", () =>
    run(
      Effect.gen(function* () {
        const zone = yield* deliveryZone(5)
        const order = yield* settled((yield* checkout(newCustomer(), [], zone)).id)
        expect(order.status).toBe("FAILED")
        expect(failureReason(order)).toEqual(Option.some("CartEmpty"))
      }),
    ))

  test("payment down past the retries: the unwind waits for it, then the order is FAILED with stock and cart released", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(3, 1_200)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const card = yield* paymentMethodOf(userId)
        yield* Effect.promise(() => world.mesh.services.get("payment")?.stop() ?? Promise.resolve())
        const placed = yield* checkout(userId, [{ sku, quantity: 1 }], zone, crypto.randomUUID(), card)
        // The charge fails after its retries; its refund cannot run either, so the saga keeps compensating.
        yield* Effect.sleep("3 seconds")
        expect((yield* Effect.flatMap(OrderClient, (o) => o.GetOrder({ orderId: placed.id }))).status).toBe("PENDING")
        yield* Effect.promise(() => world.mesh.restart("payment"))
        const order = yield* settled(placed.id)
        expect(order.status).toBe("FAILED")
        expect(failureReason(order)).toEqual(Option.some("RpcClientError"))
        const stock = yield* stockOf(sku)
        expect([stock.available, stock.reserved, stock.committed]).toEqual([3, 0, 0])
        const cart = yield* Effect.flatMap(CartClient, (c) => c.GetCart({ userId }))
        expect([cart.status, cart.lines.length]).toEqual(["open", 1])
        const payment = yield* Effect.flatMap(PaymentClient, (p) => p.GetPaymentByOrder({ orderId: order.id })).pipe(
          Effect.flip,
        )
        expect(payment._tag).toBe("PaymentNotFound")
      }),
    ))

  test("a cart frozen by one order refuses the second: one CONFIRMED, the other FAILED with CartFrozen", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(10, 1_100)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const first = yield* checkout(userId, [{ sku, quantity: 1 }], zone)
        const second = yield* checkout(userId, [], zone)
        const outcomes = yield* Effect.all([settled(first.id), settled(second.id)])
        const statuses = outcomes.map((o) => `${o.status}${o.failure ? `:${o.failure.reason}` : ""}`).sort()
        expect(statuses).toEqual(["CONFIRMED", "FAILED:CartFrozen"])
        const stock = yield* stockOf(sku)
        expect([stock.available, stock.reserved, stock.committed]).toEqual([9, 0, 1])
      }),
    ))

  test("CancelOrder while PENDING: the saga unwinds at confirm; stock back, payment refunded, order CANCELLED", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(5, 3_000)
        const zone = yield* deliveryZone(5)
        const userId = newCustomer()
        const placed = yield* checkout(userId, [{ sku, quantity: 2 }], zone)
        const orders = yield* OrderClient
        const cancelled = yield* orders.CancelOrder({ orderId: placed.id })
        expect(cancelled.status).toBe("CANCELLED")
        const again = yield* orders.CancelOrder({ orderId: placed.id }).pipe(Effect.flip)
        expect(again._tag).toBe("InvalidOrderTransition")
        // The unwind ends with the stock released and any capture refunded. Its steps wait on the charge's
        // and the delivery's calls, so under a loaded CI machine it can take well over the usual second.
        const stock = yield* stockOf(sku).pipe(
          Effect.filterOrFail(
            (s) => s.available === 5,
            (s) => `not released yet: available ${s.available}, reserved ${s.reserved}, committed ${s.committed}`,
          ),
          Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 }),
        )
        expect([stock.available, stock.reserved, stock.committed]).toEqual([5, 0, 0])
        const payment = yield* Effect.flatMap(PaymentClient, (p) => p.GetPaymentByOrder({ orderId: placed.id })).pipe(
          Effect.filterOrFail(
            (p) => p.refunded === p.amount.amount,
            () => "not refunded yet" as const,
          ),
          Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }),
        )
        expect(payment.refunded).toBe(6_000)
        expect((yield* orders.GetOrder({ orderId: placed.id })).status).toBe("CANCELLED")
      }),
    ))

  test("MarkShipped moves a CONFIRMED order to SHIPPED (and its shipment); a FAILED one is refused", () =>
    run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(5, 900)
        const zone = yield* deliveryZone(5)
        const orders = yield* OrderClient
        const confirmed = yield* settled((yield* checkout(newCustomer(), [{ sku, quantity: 1 }], zone)).id)
        expect(confirmed.status).toBe("CONFIRMED")
        const shipped = yield* orders.MarkShipped({ orderId: confirmed.id })
        expect(shipped.status).toBe("SHIPPED")
        const shipment = yield* Effect.flatMap(DeliveryClient, (d) => d.GetShipment({ orderId: confirmed.id }))
        expect(shipment.status).toBe("shipped")
        const failed = yield* settled((yield* checkout(newCustomer(), [], zone)).id)
        const refused = yield* orders.MarkShipped({ orderId: failed.id }).pipe(Effect.flip)
        expect(refused._tag).toBe("InvalidOrderTransition")
      }),
    ))

  test("an unknown order is a typed OrderNotFound", () =>
    run(
      Effect.gen(function* () {
        const orders = yield* OrderClient
        const error = yield* orders.GetOrder({ orderId: OrderId.make(crypto.randomUUID()) }).pipe(Effect.flip)
        expect(error._tag).toBe("OrderNotFound")
      }),
    ))
})
