/**
 * The order service's RpcGroup. PlaceOrder is the Checkout's (checkout.ts): the order answered at once,
 * its saga running on in the background.
 */
import { Effect, Option } from "effect"
import type { OrderId } from "../../rpc/common.ts"
import { InvalidOrderTransition, OrderCancelled, OrderRpcs, OrderShipped } from "../../rpc/order.ts"
import type { OrderStatus } from "../../rpc/order.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { Checkout } from "./checkout.ts"
import { DeliveryClient } from "./clients.ts"
import { OrderRepository } from "./repository.ts"

export const OrderHandlers = OrderRpcs.toLayer(
  Effect.gen(function* () {
    const orders = yield* OrderRepository
    const outbox = yield* Outbox
    const checkout = yield* Checkout
    const delivery = yield* DeliveryClient

    /** The order `moving` moved to `to`, or why it could not move: the status it is in. */
    const move = <A, E>(orderId: OrderId, to: OrderStatus, moving: Effect.Effect<Option.Option<A>, E>) =>
      Effect.gen(function* () {
        const moved = yield* moving
        if (Option.isSome(moved)) return moved.value
        const current = yield* orders.get(orderId)
        return yield* new InvalidOrderTransition({ orderId, from: current.status, to })
      })

    return {
      PlaceOrder: (request) => checkout.place(request),

      GetOrder: ({ orderId }) => orders.get(orderId).pipe(Effect.catchTag("SqlError", Effect.die)),

      ListOrders: ({ userId, limit, before }) =>
        orders.list(userId, limit, Option.fromNullable(before)).pipe(Effect.catchTag("SqlError", Effect.die)),

      // A cancelled order's saga finds it cancelled when it tries to confirm, and unwinds.
      CancelOrder: ({ orderId }) =>
        Effect.gen(function* () {
          const { userId } = yield* orders.get(orderId)
          const event = yield* OrderCancelled.make({ orderId, userId }, { key: orderId })
          // Once the saga began confirming, the order is past cancelling (its stock may be committed). The
          // move and its event are one statement; the event only if the order moved.
          yield* move(
            orderId,
            "CANCELLED",
            orders.cancel(orderId, (onlyIf) => [outbox.appendIf([event], onlyIf)]),
          )
          return yield* orders.get(orderId)
        }).pipe(Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })),

      MarkShipped: ({ orderId }) =>
        Effect.gen(function* () {
          const order = yield* orders.get(orderId)
          if (order.status !== "CONFIRMED" && order.status !== "SHIPPED") {
            return yield* new InvalidOrderTransition({ orderId, from: order.status, to: "SHIPPED" })
          }
          // Delivery first: a shipment marked shipped twice is refused there, which is fine on a retry.
          yield* delivery.MarkShipped({ orderId }).pipe(
            Effect.catchTag("InvalidTransition", () => Effect.void),
            Effect.catchTag("ShipmentNotFound", () => Effect.void),
            Effect.orDie,
          )
          if (order.status === "SHIPPED") return order
          const event = yield* OrderShipped.make({ orderId, userId: order.userId }, { key: orderId })
          yield* move(
            orderId,
            "SHIPPED",
            orders.transition(orderId, ["CONFIRMED"], "SHIPPED", Option.none(), (onlyIf) => [
              outbox.appendIf([event], onlyIf),
            ]),
          )
          return yield* orders.get(orderId)
        }).pipe(Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })),
    }
  }),
)
