/**
 * The order service's RpcGroup. PlaceOrder writes the order and its saga in one transaction,
 * answers at once, and hands the saga to the background runner.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { ZoneId } from "../../rpc/delivery.ts"
import {
  CheckoutOverloaded,
  InvalidOrderTransition,
  OrderCancelled,
  OrderCreated,
  OrderRpcs,
  OrderShipped,
} from "../../rpc/order.ts"
import { OrderId } from "../../rpc/common.ts"
import type { OrderStatus } from "../../rpc/order.ts"
import { Outbox } from "../../src/outbox.ts"
import { sagaAdmissionsRefused } from "../../src/metrics.ts"
import { SagaLog } from "../../src/saga-log.ts"
import { CheckoutInput } from "./checkout.ts"
import { CheckoutRunner } from "./checkout-runner.ts"
import { DeliveryClient } from "./clients.ts"
import { checkoutDeadlineSeconds } from "./config.ts"
import { OrderRepository } from "./repository.ts"

const encodeInput = Schema.encode(CheckoutInput)

export const OrderHandlers = OrderRpcs.toLayer(
  Effect.gen(function* () {
    const orders = yield* OrderRepository
    const sagaLog = yield* SagaLog
    const outbox = yield* Outbox
    const runner = yield* CheckoutRunner
    const delivery = yield* DeliveryClient
    const sql = yield* SqlClient.SqlClient
    const deadlineSeconds = yield* checkoutDeadlineSeconds

    /** Moves `orderId` from one of `from` to `to`, or says why it cannot. */
    const move = (orderId: OrderId, from: ReadonlyArray<OrderStatus>, to: OrderStatus) =>
      Effect.gen(function* () {
        const moved = yield* orders.transition(orderId, from, to)
        if (Option.isSome(moved)) return moved.value
        const current = yield* orders.get(orderId)
        return yield* new InvalidOrderTransition({ orderId, from: current.status, to })
      })

    return {
      PlaceOrder: (request) =>
        Effect.gen(function* () {
          // Refused before anything is written, so a retry later with the same key starts clean.
          const refused = yield* runner.admission
          if (Option.isSome(refused)) {
            sagaAdmissionsRefused.inc({ service: "order", saga: "checkout" })
            return yield* new CheckoutOverloaded({
              retryAfterSeconds: refused.value,
              message: "too many checkouts in progress; retry after the given seconds",
            })
          }
          const orderId = OrderId.make(crypto.randomUUID())
          const input = yield* encodeInput({
            orderId,
            userId: request.userId,
            address: request.address,
            deliveryZone: ZoneId.make(request.deliveryZone),
            paymentMethod: request.paymentMethod,
          })
          const deadline = new Date(Date.now() + deadlineSeconds * 1000)
          const event = yield* OrderCreated.make({ orderId, userId: request.userId }, { key: orderId })
          const createSaga = sagaLog.createIf
          if (createSaga === undefined)
            return yield* Effect.dieMessage("the order service needs a saga log in its database")
          // The order, its saga and its event in one statement (the order's row decides whether the others land).
          const { order, created } = yield* orders.create(request, orderId, (onlyIf) => [
            createSaga(orderId, "checkout", input, deadline, onlyIf),
            outbox.appendIf([event], onlyIf),
          ])
          if (created) yield* runner.start(order.id, "checkout", input)
          return order
        }).pipe(
          Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
          Effect.withSpan("Order.placeOrder"),
        ),

      GetOrder: ({ orderId }) => orders.get(orderId).pipe(Effect.catchTag("SqlError", Effect.die)),

      ListOrders: ({ userId, limit, before }) =>
        orders.list(userId, limit, Option.fromNullable(before)).pipe(Effect.catchTag("SqlError", Effect.die)),

      // A cancelled order's saga finds it cancelled when it tries to confirm, and unwinds.
      CancelOrder: ({ orderId }) =>
        Effect.gen(function* () {
          // Once the saga began confirming, the order is past cancelling (its stock may be committed).
          const cancelled = yield* orders.cancel(orderId)
          if (Option.isNone(cancelled)) {
            const current = yield* orders.get(orderId)
            return yield* new InvalidOrderTransition({ orderId, from: current.status, to: "CANCELLED" })
          }
          const order = yield* orders.get(orderId)
          yield* outbox.append(yield* OrderCancelled.make({ orderId, userId: order.userId }, { key: orderId }))
          return order
        }).pipe(sql.withTransaction, Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })),

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
          yield* Effect.gen(function* () {
            yield* move(orderId, ["CONFIRMED"], "SHIPPED")
            yield* outbox.append(yield* OrderShipped.make({ orderId, userId: order.userId }, { key: orderId }))
          }).pipe(sql.withTransaction)
          return yield* orders.get(orderId)
        }).pipe(Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })),
    }
  }),
)
