/**
 * The checkout suites' world: every service the saga touches, started as real processes, and typed
 * clients of them for setting up data and checking what the saga did.
 */
import { Effect, Layer, Option, Schedule } from "effect"
import { CartRpcs } from "../../rpc/cart.ts"
import { CatalogRpcs } from "../../rpc/catalog.ts"
import { Currency, Money, type OrderId, Sku, UserId } from "../../rpc/common.ts"
import { DeliveryRpcs, SlotId, ZoneId } from "../../rpc/delivery.ts"
import { InventoryRpcs, RestockId } from "../../rpc/inventory.ts"
import { IdempotencyKey, type Order, OrderRpcs } from "../../rpc/order.ts"
import { PaymentMethodId, PaymentRpcs } from "../../rpc/payment.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { testRuntime } from "../support/run.ts"
import { type Mesh, startMesh } from "../support/service-process.ts"

export class CatalogClient extends RpcClientTag<CatalogClient>()("catalog", CatalogRpcs) {}
export class CartClient extends RpcClientTag<CartClient>()("cart", CartRpcs) {}
export class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs) {}
export class PaymentClient extends RpcClientTag<PaymentClient>()("payment", PaymentRpcs) {}
export class DeliveryClient extends RpcClientTag<DeliveryClient>()("delivery", DeliveryRpcs) {}
export class OrderClient extends RpcClientTag<OrderClient>()("order", OrderRpcs) {}

export const checkoutServices = ["catalog", "inventory", "payment", "delivery", "cart", "order"] as const

/** Clients of every checkout service, at the addresses the Config they are given names. */
export const checkoutClients = Layer.mergeAll(
  CatalogClient.Live,
  CartClient.Live,
  InventoryClient.Live,
  PaymentClient.Live,
  DeliveryClient.Live,
  OrderClient.Live,
)

export const clientsOf = (mesh: Mesh) => checkoutClients.pipe(Layer.provide(mesh.config))

export type Clients = CatalogClient | CartClient | InventoryClient | PaymentClient | DeliveryClient | OrderClient

/** The checkout services as processes, and a runtime with clients of all of them. */
export interface CheckoutWorld {
  readonly mesh: Mesh
  readonly run: <A, E>(effect: Effect.Effect<A, E, Clients>) => Promise<A>
  readonly stop: () => Promise<void>
}

export const startCheckoutWorld = async (env: Record<string, string>): Promise<CheckoutWorld> => {
  const mesh = await startMesh(checkoutServices, env)
  const runtime = testRuntime(clientsOf(mesh))
  return {
    mesh,
    run: runtime.run,
    stop: async () => {
      await runtime.dispose()
      await mesh.stop()
    },
  }
}

const usd = Currency.make("USD")
export const dollars = (cents: number) => Money.make({ amount: cents, currency: usd })

export const address = {
  line1: "1 Main St",
  city: "Springfield",
  postalCode: "12345",
  country: "US",
}

/** A product with `stock` units on hand, priced `cents`. */
export const stockedProduct = (stock: number, cents: number) =>
  Effect.gen(function* () {
    const catalog = yield* CatalogClient
    const inventory = yield* InventoryClient
    const sku = Sku.make(`sku-${crypto.randomUUID().slice(0, 12)}`)
    yield* catalog.CreateProduct({ sku, name: `Thing ${sku}`, price: dollars(cents) })
    if (stock > 0) {
      yield* inventory.Restock({ restockId: RestockId.make(`initial-${sku}`), sku, quantity: stock })
    }
    return sku
  })

/** A delivery zone with one slot of `capacity` places, starting in an hour. */
export const deliveryZone = (capacity: number) =>
  Effect.gen(function* () {
    const delivery = yield* DeliveryClient
    const zoneId = ZoneId.make(`zone-${crypto.randomUUID().slice(0, 12)}`)
    yield* delivery.CreateZone({ zoneId, name: "Test zone", postalCodePrefixes: [] })
    const startsAt = new Date(Date.now() + 3_600_000)
    yield* delivery.CreateSlot({
      slotId: SlotId.make(`slot-${zoneId}`),
      zoneId,
      startsAt,
      endsAt: new Date(startsAt.getTime() + 3_600_000),
      capacity,
    })
    return zoneId
  })

export const newCustomer = () => UserId.make(`user-${crypto.randomUUID()}`)

/** A payment method of the customer with a card the simulated provider accepts (registering is idempotent). */
export const paymentMethodOf = (userId: UserId, token = "tok_test") =>
  Effect.gen(function* () {
    const paymentMethod = PaymentMethodId.make(`pm_${token}_${userId}`)
    yield* (yield* PaymentClient).RegisterPaymentMethod({ paymentMethod, customer: userId, token })
    return paymentMethod
  })

/** Fills the customer's cart and places the order (paying with `paymentMethod`, else a good card); returns the immediate answer. */
export const checkout = (
  userId: UserId,
  lines: ReadonlyArray<{ readonly sku: Sku; readonly quantity: number }>,
  zone: ZoneId,
  key: string = crypto.randomUUID(),
  paymentMethod?: PaymentMethodId,
) =>
  Effect.gen(function* () {
    const cart = yield* CartClient
    const orders = yield* OrderClient
    for (const line of lines) yield* cart.AddItem({ userId, sku: line.sku, quantity: line.quantity })
    return yield* orders.PlaceOrder({
      userId,
      idempotencyKey: IdempotencyKey.make(key),
      paymentMethod: paymentMethod ?? (yield* paymentMethodOf(userId)),
      address,
      deliveryZone: zone,
    })
  })

/** Polls the order until it leaves PENDING (or gives up after ~30 s). */
export const settled = (orderId: OrderId) =>
  Effect.gen(function* () {
    const orders = yield* OrderClient
    return yield* orders.GetOrder({ orderId }).pipe(
      Effect.flatMap((order) => (order.status === "PENDING" ? Effect.fail("pending" as const) : Effect.succeed(order))),
      Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 600, while: (e) => e === "pending" }),
    )
  })

export const failureReason = (order: Order) => Option.fromNullable(order.failure).pipe(Option.map((f) => f.reason))
