/**
 * Checkout and the caller's orders. Another customer's order is answered as not found, so order ids
 * leak nothing.
 */
import { Effect } from "effect"
import { PaymentMethodId } from "../../../rpc/payment.ts"
import type { OrderId } from "../../../rpc/common.ts"
import { OrderNotFound } from "../../../rpc/order.ts"
import { AddressNotFound } from "../../../rpc/user.ts"
import { WithHeaders } from "../../../src/http-api-hono.ts"
import { PaymentMethodSeal } from "../../../src/payment-method-seal.ts"
import { implementGateway } from "./implement.ts"
import { GatewayApi } from "../api/index.ts"
import { AddressRequired, type CheckoutBody } from "../api/orders.ts"
import { CurrentUser } from "../api/security.ts"
import { AddressCache } from "../addresses.ts"
import { OrderClient } from "../clients.ts"
import { defaultDeliveryZone } from "../config.ts"
import { orUnavailable } from "../unavailable.ts"

/** The address given, else the saved one named, else the caller's default address. */
const shippingAddress = (body: CheckoutBody) =>
  Effect.gen(function* () {
    if (body.address !== undefined) return body.address
    const { userId } = yield* CurrentUser
    const addresses = yield* AddressCache
    const saved = yield* addresses.list(userId).pipe(
      orUnavailable("user"),
      Effect.orElseSucceed(() => []),
    )
    const chosen =
      body.addressId === undefined
        ? saved.find((address) => address.isDefault)
        : saved.find((address) => address.id === body.addressId)
    if (chosen !== undefined) return chosen.address
    if (body.addressId !== undefined) return yield* new AddressNotFound({ addressId: body.addressId })
    return yield* new AddressRequired({ message: "send an address or addressId, or save a default address first" })
  })

/** The order when it is the caller's. */
const ownOrder = (orderId: OrderId) =>
  Effect.gen(function* () {
    const { userId } = yield* CurrentUser
    const order = yield* Effect.flatMap(OrderClient, (orders) => orders.GetOrder({ orderId })).pipe(
      orUnavailable("order"),
    )
    if (order.userId !== userId) return yield* new OrderNotFound({ orderId })
    return order
  })

export const OrderHandlers = implementGateway(GatewayApi, "orders", {
  checkout: ({ payload, headers }) =>
    Effect.gen(function* () {
      const { userId } = yield* CurrentUser
      const address = yield* shippingAddress(payload)
      // The token is sealed for the payment service, which opens it when it charges: the order names the
      // sealed method and never holds a token it could read, and no call to payment waits before the order.
      // The same token for the same customer seals the same, so a retried checkout names the same method.
      const paymentMethod = PaymentMethodId.make((yield* PaymentMethodSeal).seal(userId, payload.paymentToken))
      const orders = yield* OrderClient
      const order = yield* orders
        .PlaceOrder({
          userId,
          idempotencyKey: headers["idempotency-key"],
          paymentMethod,
          address,
          deliveryZone: payload.deliveryZone ?? (yield* Effect.orDie(defaultDeliveryZone)),
        })
        .pipe(orUnavailable("order"))
      return new WithHeaders(order, { location: `/orders/${encodeURIComponent(order.id)}` })
    }),
  listOrders: ({ urlParams }) =>
    Effect.gen(function* () {
      const { userId } = yield* CurrentUser
      const orders = yield* OrderClient
      return yield* orders.ListOrders({ ...urlParams, userId }).pipe(orUnavailable("order"))
    }),
  getOrder: ({ path }) => ownOrder(path.id),
  cancelOrder: ({ path }) =>
    Effect.gen(function* () {
      yield* ownOrder(path.id)
      const orders = yield* OrderClient
      return yield* orders.CancelOrder({ orderId: path.id }).pipe(orUnavailable("order"))
    }),
})
