/**
 * Walks one checkout through a running mesh (`bash scripts/up.sh` in another terminal): creates a
 * product with stock and a delivery zone, fills a new customer's cart, places the order and follows
 * it until the saga has confirmed or failed it.
 *
 *   bun run scripts/demo-checkout.ts [quantity = 2] [price in cents = 2499]
 */
import { BunRuntime } from "@effect/platform-bun"
import { Effect, Layer, Schedule } from "effect"
import { CartRpcs } from "../rpc/cart.ts"
import { CatalogRpcs } from "../rpc/catalog.ts"
import { Currency, Money, Sku, UserId } from "../rpc/common.ts"
import { DeliveryRpcs, SlotId, ZoneId } from "../rpc/delivery.ts"
import { InventoryRpcs, RestockId } from "../rpc/inventory.ts"
import { IdempotencyKey, OrderRpcs } from "../rpc/order.ts"
import { PaymentMethodId, PaymentRpcs } from "../rpc/payment.ts"
import { RpcClientTag } from "../src/rpc/index.ts"

class Catalog extends RpcClientTag<Catalog>()("catalog", CatalogRpcs) {}
class Inventory extends RpcClientTag<Inventory>()("inventory", InventoryRpcs) {}
class Delivery extends RpcClientTag<Delivery>()("delivery", DeliveryRpcs) {}
class Cart extends RpcClientTag<Cart>()("cart", CartRpcs) {}
class Orders extends RpcClientTag<Orders>()("order", OrderRpcs) {}
class Payments extends RpcClientTag<Payments>()("payment", PaymentRpcs) {}

const quantity = Number(process.argv[2] ?? 2)
const cents = Number(process.argv[3] ?? 2_499)

const demo = Effect.gen(function* () {
  const tag = crypto.randomUUID().slice(0, 8)
  const sku = Sku.make(`demo-${tag}`)
  const zoneId = ZoneId.make(`zone-${tag}`)
  const userId = UserId.make(`customer-${tag}`)

  const catalog = yield* Catalog
  const product = yield* catalog.CreateProduct({
    sku,
    name: "Demo kettle",
    price: Money.make({ amount: cents, currency: Currency.make("EUR") }),
  })
  yield* (yield* Inventory).Restock({ restockId: RestockId.make(`restock-${tag}`), sku, quantity: 10 })
  const delivery = yield* Delivery
  yield* delivery.CreateZone({ zoneId, name: "Demo zone", postalCodePrefixes: [] })
  const startsAt = new Date(Date.now() + 86_400_000)
  yield* delivery.CreateSlot({
    slotId: SlotId.make(`slot-${tag}`),
    zoneId,
    startsAt,
    endsAt: new Date(startsAt.getTime() + 7_200_000),
    capacity: 20,
  })
  yield* Effect.log(`product ${product.id} (${sku}) at ${cents} cents, 10 in stock, zone ${zoneId}`)

  const cart = yield* (yield* Cart).AddItem({ userId, sku, quantity })
  yield* Effect.log(`cart of ${userId}: ${cart.itemCount} item(s), total ${cart.total?.amount} ${cart.total?.currency}`)

  const paymentMethod = PaymentMethodId.make(`pm_demo_${tag}`)
  yield* (yield* Payments).RegisterPaymentMethod({ paymentMethod, customer: userId, token: "tok_demo" })
  const orders = yield* Orders
  const placed = yield* orders.PlaceOrder({
    userId,
    idempotencyKey: IdempotencyKey.make(`demo-${tag}`),
    paymentMethod,
    address: { line1: "1 Demo Street", city: "Berlin", postalCode: "10115", country: "DE" },
    deliveryZone: zoneId,
  })
  yield* Effect.log(`order ${placed.id} placed: ${placed.status}`)

  const final = yield* orders.GetOrder({ orderId: placed.id }).pipe(
    Effect.filterOrFail(
      (order) => order.status !== "PENDING",
      () => "still pending" as const,
    ),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 }),
  )
  yield* Effect.log(`order ${final.id} is ${final.status}${final.failure ? ` (${final.failure.reason})` : ""}`)
  const stock = yield* (yield* Inventory).GetStock({ sku })
  yield* Effect.log(
    `stock of ${sku}: available ${stock.available}, reserved ${stock.reserved}, sold ${stock.committed}`,
  )
  const payment = yield* (yield* Payments).GetPaymentByOrder({ orderId: final.id }).pipe(Effect.option)
  yield* Effect.log(
    `payment: ${payment._tag === "Some" ? `${payment.value.status}, refunded ${payment.value.refunded}` : "none"}`,
  )
})

const Clients = Layer.mergeAll(Catalog.Live, Inventory.Live, Delivery.Live, Cart.Live, Orders.Live, Payments.Live)

BunRuntime.runMain(Effect.scoped(Effect.provide(demo, Clients)))
