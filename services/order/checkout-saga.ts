/**
 * The checkout saga: reserve the cart → reserve stock → charge → book delivery → confirm. Each call
 * carries an idempotency key derived from the order id, so a resumed step never acts twice, and each
 * compensation is safe whether or not its action happened (a refund of a charge that never happened
 * is a no-op; releasing an unknown reservation is ignored).
 */
import { Array as Arr, Effect, Option, Schema } from "effect"
import { CartReleasedReply, CartReservedReply, ClearCart, ReleaseCart, ReserveCart } from "../../rpc/cart.ts"
import { Currency, Money, OrderId, Sku, UserId } from "../../rpc/common.ts"
import { PostalAddress, ZoneId } from "../../rpc/delivery.ts"
import { ReservationId } from "../../rpc/inventory.ts"
import { PaymentIdempotencyKey, PaymentMethodId } from "../../rpc/payment.ts"
import { OrderConfirmed, OrderFailed, OrderFailure } from "../../rpc/order.ts"
import { CommandBus } from "../../src/commands/index.ts"
import { Outbox } from "../../src/events/outbox.ts"
import * as Saga from "../../src/saga/index.ts"
import { DeliveryClient, PaymentClient } from "./clients.ts"
import { OrderRepository } from "./repository.ts"
import { StockCalls } from "./stock-calls.ts"

export const CheckoutInput = Schema.Struct({
  orderId: OrderId,
  userId: UserId,
  address: PostalAddress,
  deliveryZone: ZoneId,
  /** Absent in sagas created before orders named one. */
  paymentMethod: Schema.optionalWith(PaymentMethodId, { exact: true }),
})
export type CheckoutInput = typeof CheckoutInput.Type

/** The order was cancelled while its saga ran: confirming refuses, and the saga unwinds. */
export class OrderCancelledDuringCheckout extends Schema.TaggedError<OrderCancelledDuringCheckout>()(
  "OrderCancelledDuringCheckout",
  { orderId: OrderId },
) {}

const CopiedLine = Schema.Struct({
  sku: Sku,
  name: Schema.String,
  quantity: Schema.Int,
  unitAmount: Schema.Int,
  currency: Currency,
})

/** Transport trouble is worth a retry; a typed answer from a service is final. */
const isTransient = (error: { readonly _tag: string }) =>
  error._tag === "RpcClientError" ||
  error._tag === "StepTimeout" ||
  error._tag === "ConcurrencyConflict" ||
  error._tag === "CommandBusError" ||
  error._tag === "ReplyTimeout" ||
  error._tag === "SqlError"

const ignoreTag =
  <T extends string>(tag: T) =>
  <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      Effect.asVoid(effect),
      (error): error is Extract<E, { readonly _tag: T }> => error._tag === tag,
      () => Effect.void,
    )

export const checkoutSaga = Saga.make("checkout", CheckoutInput)
  .step("reserveCart", {
    result: Schema.Struct({ lines: Schema.NonEmptyArray(CopiedLine), total: Money }),
    action: ({ input, key }) =>
      Effect.gen(function* () {
        const bus = yield* CommandBus
        const orders = yield* OrderRepository
        const reply = yield* bus.sendAndAwait(
          ReserveCart,
          { orderId: input.orderId, userId: input.userId },
          CartReservedReply,
          { id: key, timeout: "5 seconds" },
        )
        if (reply._tag !== "CartReserved") return yield* reply
        const lines = Arr.map(reply.lines, (line) => ({
          sku: line.sku,
          name: line.name,
          quantity: line.quantity,
          unitAmount: line.unitPrice.amount,
          currency: line.unitPrice.currency,
        }))
        yield* orders.copyItems(input.orderId, lines, reply.total)
        return { lines, total: reply.total }
      }),
    isTransient,
    compensate: ({ input, key }) =>
      Effect.flatMap(CommandBus, (bus) =>
        bus.sendAndAwait(ReleaseCart, { orderId: input.orderId, userId: input.userId }, CartReleasedReply, {
          id: `${key}:release`,
          timeout: "5 seconds",
        }),
      ),
  })
  .step("reserveStock", {
    result: Schema.Struct({ reservationId: ReservationId }),
    action: ({ input, results }) =>
      Effect.gen(function* () {
        const stock = yield* StockCalls
        const reservation = yield* stock.reserve({
          reservationId: ReservationId.make(input.orderId),
          orderId: input.orderId,
          lines: Arr.map(results.reserveCart.lines, (line) => ({ sku: line.sku, quantity: line.quantity })),
        })
        return { reservationId: reservation.id }
      }),
    isTransient,
    compensate: ({ input }) =>
      Effect.flatMap(StockCalls, (stock) =>
        stock.release(ReservationId.make(input.orderId)).pipe(ignoreTag("ReservationNotFound")),
      ),
  })
  .step("charge", {
    result: Schema.Struct({ paymentId: Schema.String }),
    action: ({ input, results }) =>
      Effect.gen(function* () {
        const payment = yield* PaymentClient
        const charged = yield* payment.Charge({
          idempotencyKey: PaymentIdempotencyKey.make(`${input.orderId}:charge`),
          orderId: input.orderId,
          amount: results.reserveCart.total,
          customer: input.userId,
          ...(input.paymentMethod === undefined ? {} : { paymentMethod: input.paymentMethod }),
        })
        return { paymentId: charged.id }
      }),
    isTransient,
    compensate: ({ input }) =>
      Effect.flatMap(PaymentClient, (payment) =>
        payment.Refund({
          idempotencyKey: PaymentIdempotencyKey.make(`${input.orderId}:refund`),
          orderId: input.orderId,
        }),
      ),
  })
  .step("bookDelivery", {
    result: Schema.Struct({ shipmentId: Schema.String }),
    action: ({ input }) =>
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const shipment = yield* delivery.BookSlot({
          orderId: input.orderId,
          zoneId: input.deliveryZone,
          address: input.address,
        })
        return { shipmentId: shipment.id }
      }),
    isTransient,
    compensate: ({ input }) =>
      Effect.flatMap(DeliveryClient, (delivery) =>
        delivery.CancelShipment({ orderId: input.orderId }).pipe(ignoreTag("ShipmentNotFound")),
      ),
  })
  .step("confirm", {
    result: Schema.Literal("CONFIRMED"),
    action: ({ input, results, key }) =>
      Effect.gen(function* () {
        const stock = yield* StockCalls
        const bus = yield* CommandBus
        // Committed stock cannot be released, so a concurrent CancelOrder must lose before the commit, not
        // after: the order is marked confirming (which CancelOrder respects) or found cancelled first.
        const orders = yield* OrderRepository
        if (!(yield* orders.markConfirming(input.orderId))) {
          return yield* new OrderCancelledDuringCheckout({ orderId: input.orderId })
        }
        yield* stock.commit(results.reserveStock.reservationId)
        yield* markConfirmed(input, results.reserveCart)
        // The cart is emptied after the order is confirmed; a lost clear leaves a frozen cart that the
        // next reserve for this order would find already done, so it is sent, not awaited.
        yield* bus.send(ClearCart, { orderId: input.orderId, userId: input.userId }, { id: `${key}:clear` })
        return "CONFIRMED" as const
      }),
    isTransient,
  })
  .onFailed(({ input }, failure) => markFailed(input, failure))

const markConfirmed = (
  input: CheckoutInput,
  cart: { readonly lines: ReadonlyArray<typeof CopiedLine.Type>; readonly total: Money },
) =>
  Effect.gen(function* () {
    const orders = yield* OrderRepository
    const event = yield* OrderConfirmed.make(
      {
        orderId: input.orderId,
        userId: input.userId,
        total: cart.total,
        items: cart.lines.map((line) => ({
          sku: line.sku,
          quantity: line.quantity,
          lineTotal: Money.make({ amount: line.unitAmount * line.quantity, currency: line.currency }),
        })),
      },
      { key: input.orderId },
    )
    // The move and its event in one statement; the event only if the order moved.
    const confirmed = yield* orders.confirm(input.orderId, [event])
    if (Option.isSome(confirmed)) return
    const order = yield* orders.get(input.orderId)
    if (order.status !== "CONFIRMED") return yield* new OrderCancelledDuringCheckout({ orderId: input.orderId })
  }).pipe(Effect.catchTags({ ParseError: Effect.die, OrderNotFound: Effect.die }))

const markFailed = (input: CheckoutInput, failure: Saga.SagaFailure) =>
  Effect.gen(function* () {
    const orders = yield* OrderRepository
    const outbox = yield* Outbox
    const reason = new OrderFailure({ step: failure.step, reason: failure.tag, message: failure.message })
    const event = yield* OrderFailed.make(
      { orderId: input.orderId, userId: input.userId, step: failure.step, reason: failure.tag },
      { key: input.orderId },
    )
    yield* orders.transition(input.orderId, ["PENDING"], "FAILED", Option.some(reason), (onlyIf) => [
      outbox.appendIf([event], onlyIf),
    ])
  })
