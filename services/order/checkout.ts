/**
 * Placing an order: the order row, its checkout saga and its `order.created` event in one statement,
 * then the saga started by the checkout's runner (checkout-sagas.ts), which also resumes the sagas a
 * crash left. A checkout that the sagas already waiting would keep waiting too long is refused
 * before anything is written. The saga itself is in checkout-saga.ts.
 */
import { Effect, Option } from "effect"
import { OrderId } from "../../rpc/common.ts"
import { ZoneId } from "../../rpc/delivery.ts"
import { CheckoutOverloaded, OrderCreated } from "../../rpc/order.ts"
import { sagaAdmissionsRefused } from "../../src/metrics.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { type CheckoutInput, checkoutSaga } from "./checkout-saga.ts"
import { CheckoutSagas } from "./checkout-sagas.ts"
import { checkoutDeadlineSeconds } from "./config.ts"
import { type NewOrder, OrderRepository } from "./repository.ts"

export class Checkout extends Effect.Service<Checkout>()("order/Checkout", {
  scoped: Effect.gen(function* () {
    const orders = yield* OrderRepository
    const outbox = yield* Outbox
    const deadlineSeconds = yield* checkoutDeadlineSeconds
    const runner = yield* CheckoutSagas

    /** The order PENDING with its saga running, or the order an earlier request with the same key made. */
    const place = (request: NewOrder) =>
      Effect.gen(function* () {
        // Refused before anything is written, so a retry later with the same key starts clean.
        const refused = yield* runner.admission
        if (Option.isSome(refused)) {
          sagaAdmissionsRefused.inc({ service: "order", saga: checkoutSaga.name })
          return yield* new CheckoutOverloaded({
            retryAfterSeconds: refused.value,
            message: "too many checkouts in progress; retry after the given seconds",
          })
        }
        const orderId = OrderId.make(crypto.randomUUID())
        const input: CheckoutInput = {
          orderId,
          userId: request.userId,
          address: request.address,
          deliveryZone: ZoneId.make(request.deliveryZone),
          paymentMethod: request.paymentMethod,
        }
        const deadline = new Date(Date.now() + deadlineSeconds * 1000)
        const saga = yield* runner.create(checkoutSaga.name, orderId, input, deadline)
        const event = yield* OrderCreated.make({ orderId, userId: request.userId }, { key: orderId })
        // The order's row decides whether the saga and the event land with it.
        const { order, created } = yield* orders.create(request, orderId, (onlyIf) => [
          ...saga.createIf(onlyIf),
          outbox.appendIf([event], onlyIf),
        ])
        if (created) yield* saga.start
        return order
      }).pipe(Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }), Effect.withSpan("Order.placeOrder"))

    return { place, recover: runner.recover, running: runner.running } as const
  }),
}) {}
