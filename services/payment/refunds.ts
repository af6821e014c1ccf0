/**
 * Refunding, once per idempotency key and never past the capture. The refund is reserved first — one
 * transaction that locks the payment row, checks what is still refundable, inserts the refund `pending`
 * and raises the payment's `refunded` — and only then is the provider asked. So concurrent refunds of a
 * payment queue on its row lock and each sees the others' amounts: their sum cannot pass the capture.
 */
import { Effect, Option } from "effect"
import type { Currency } from "../../rpc/common.ts"
import {
  IdempotencyKeyReused,
  Money,
  type OrderId,
  PaymentNotFound,
  type PaymentId,
  Refund,
  RefundCurrencyMismatch,
  RefundExceedsCapture,
  type RefundRequest,
} from "../../rpc/payment.ts"
import { Charges } from "./charges.ts"
import { PaymentProvider } from "./provider.ts"
import { type PaymentRow, PaymentRepository, type RefundRow, toRefund } from "./repository.ts"

const pollDelays = [5, 10, 20, 40, 80, 100] as const
const pollDelay = (attempt: number) => pollDelays[Math.min(attempt, pollDelays.length - 1)] ?? 100

/** What a request named and asked, as stored with its refund to tell a repeat from a reuse of the key. */
const fingerprintOf = (request: RefundRequest) => ({
  requestedPaymentId: "paymentId" in request ? request.paymentId : null,
  requestedOrderId: "orderId" in request ? request.orderId : null,
  requestedAmount: request.amount?.amount ?? null,
})

const sameRequest = (row: RefundRow, request: RefundRequest) => {
  const fingerprint = fingerprintOf(request)
  return (
    row.requested_payment_id === fingerprint.requestedPaymentId &&
    row.requested_order_id === fingerprint.requestedOrderId &&
    row.requested_amount === fingerprint.requestedAmount &&
    (request.amount === undefined || request.amount.currency === row.currency)
  )
}

export class Refunds extends Effect.Service<Refunds>()("payment/Refunds", {
  effect: Effect.gen(function* () {
    const repository = yield* PaymentRepository
    const charges = yield* Charges
    const provider = yield* PaymentProvider

    /** Asks the provider and records the refund; uninterruptible for the same reason as a charge. */
    const drive = (row: RefundRow) =>
      Effect.gen(function* () {
        const chargeReference = (yield* repository.chargeReference(row.payment_id)) ?? row.payment_id
        const { reference } = yield* provider.refund({
          key: row.idempotency_key,
          chargeReference,
          amount: new Money({ amount: row.amount, currency: row.currency as Currency }, true),
        })
        yield* repository.settleRefund(row.id, reference)
      }).pipe(Effect.uninterruptible)

    const load = (id: string) =>
      Effect.flatMap(repository.findRefundById(id), (row) =>
        row === undefined ? Effect.dieMessage(`refund ${id} vanished`) : Effect.succeed(row),
      )

    const awaitRefunded = Effect.fn("Payment.awaitRefunded")(function* (id: string) {
      for (let attempt = 0; ; attempt++) {
        const row = yield* load(id)
        if (row.status === "refunded") return row
        if (row.lease_expired && (yield* repository.takeOverRefund(id))) {
          yield* drive(row)
          continue
        }
        yield* Effect.sleep(pollDelay(attempt))
      }
    })

    const noop = (request: RefundRequest, payment: PaymentRow | undefined) =>
      Effect.map(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (now) =>
          new Refund({
            id: null,
            idempotencyKey: request.idempotencyKey,
            paymentId: (payment?.id ?? null) as PaymentId | null,
            orderId: (payment?.order_id ?? ("orderId" in request ? request.orderId : null)) as OrderId | null,
            amount:
              payment === undefined ? null : new Money({ amount: 0, currency: payment.currency as Currency }, true),
            status: "noop",
            createdAt: new Date(now),
          }),
      )

    /** The payment a request is about, once it is no longer waiting for the provider. */
    const target = Effect.fn("Payment.refundTarget")(function* (request: RefundRequest) {
      if ("paymentId" in request) {
        const payment = yield* repository.findById(request.paymentId)
        if (payment === undefined) return yield* new PaymentNotFound({ paymentId: request.paymentId })
        return payment.status === "pending" ? yield* charges.awaitSettled(payment.id) : payment
      }
      // A refund by order voids it first, so a charge that has not reached us yet is declined when it does.
      yield* repository.voidOrder(request.orderId)
      // A refund racing the order's charge must see how the charge ends, or it would no-op and leave it captured.
      const pending = yield* repository.findPendingOfOrder(request.orderId)
      if (pending !== undefined) yield* charges.awaitSettled(pending.id)
      return yield* repository.findByOrder(request.orderId)
    })

    const refund = Effect.fn("Payment.refund")(function* (request: RefundRequest) {
      // Two rounds at most: a second one only after losing the insert of this key to a racing request.
      for (let round = 0; ; round++) {
        const existing = yield* repository.findRefundByKey(request.idempotencyKey)
        if (existing !== undefined) {
          if (!sameRequest(existing, request)) {
            return yield* new IdempotencyKeyReused({ idempotencyKey: request.idempotencyKey })
          }
          return toRefund(yield* awaitRefunded(existing.id))
        }
        if (round > 1) return yield* Effect.dieMessage(`refund key ${request.idempotencyKey} keeps vanishing`)

        const payment = yield* target(request)
        if (payment === undefined || payment.status !== "captured") return yield* noop(request, payment)
        const asked = request.amount
        if (asked !== undefined && asked.currency !== payment.currency) {
          return yield* new RefundCurrencyMismatch({
            paymentId: payment.id as PaymentId,
            expected: payment.currency as Currency,
            actual: asked.currency,
          })
        }

        const reservation = yield* repository
          .reserveRefund(
            payment.id,
            { id: `ref_${crypto.randomUUID()}`, idempotencyKey: request.idempotencyKey, ...fingerprintOf(request) },
            (locked) => {
              const refundable = locked.amount - locked.refunded
              const requested = asked?.amount ?? refundable
              return requested > refundable
                ? Effect.fail(new RefundExceedsCapture({ paymentId: locked.id as PaymentId, requested, refundable }))
                : Effect.succeed(requested)
            },
          )
          .pipe(
            Effect.asSome,
            Effect.catchTag("RefundKeyTaken", () => Effect.succeedNone),
          )
        if (Option.isNone(reservation)) continue
        const reserved = reservation.value
        if (reserved._tag === "NothingToRefund") return yield* noop(request, reserved.payment)
        yield* drive(reserved.refund)
        return toRefund(yield* load(reserved.refund.id))
      }
    })

    return { refund } as const
  }),
  dependencies: [PaymentRepository.Default, Charges.Default],
}) {}
