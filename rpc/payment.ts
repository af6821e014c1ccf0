/**
 * The payment service's contract: charges and refunds against the payment provider, both idempotent by
 * the caller's key. The checkout saga charges with key = order id and, when it unwinds, refunds by order
 * id — which is a no-op success when nothing was captured for that order.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { defineEvent } from "../src/events/envelope.ts"
import { Currency, Identifier, Money, OrderId, UserId } from "./common.ts"

export { Money, OrderId }

export const PaymentId = Identifier.pipe(Schema.brand("PaymentId"))
export type PaymentId = typeof PaymentId.Type

export const RefundId = Identifier.pipe(Schema.brand("RefundId"))
export type RefundId = typeof RefundId.Type

/** Chosen by the caller; the same key always means the same request. Charges and refunds have separate keys. */
export const PaymentIdempotencyKey = Identifier.pipe(Schema.brand("PaymentIdempotencyKey"))
export type PaymentIdempotencyKey = typeof PaymentIdempotencyKey.Type

/**
 * `pending` while the provider is being asked (a racing duplicate waits for it to settle);
 * `captured` or `declined` once it answered. Refunds do not change the status, only `refunded`.
 */
export const PaymentStatus = Schema.Literal("pending", "captured", "declined")
export type PaymentStatus = typeof PaymentStatus.Type

export class Payment extends Schema.Class<Payment>("Payment")({
  id: PaymentId,
  idempotencyKey: PaymentIdempotencyKey,
  orderId: OrderId,
  customer: UserId,
  amount: Money,
  status: PaymentStatus,
  /** The provider's reason, when declined. */
  declineReason: Schema.NullOr(Schema.String),
  /** The provider's reference of the charge, once it answered. */
  providerReference: Schema.NullOr(Schema.String),
  /** Minor units refunded so far, in the payment's currency; never more than `amount`. */
  refunded: Schema.NonNegativeInt,
  createdAt: Schema.Date,
}) {}

/**
 * `refunded`: money went back. `noop`: there was nothing to refund (no capture for the order, a declined
 * payment, or a payment already fully refunded when no amount was named). A no-op is not remembered by its
 * key, so a retry after a late capture refunds it.
 */
export const RefundStatus = Schema.Literal("refunded", "noop")
export type RefundStatus = typeof RefundStatus.Type

export class Refund extends Schema.Class<Refund>("Refund")({
  id: Schema.NullOr(RefundId),
  idempotencyKey: PaymentIdempotencyKey,
  paymentId: Schema.NullOr(PaymentId),
  orderId: Schema.NullOr(OrderId),
  /** Null only for a no-op on an order that has no payment at all (so no currency is known). */
  amount: Schema.NullOr(Money),
  status: RefundStatus,
  createdAt: Schema.Date,
}) {}

/**
 * What a charge pays with, without the token in the clear: either a method the payment service holds for
 * the customer (registered with `RegisterPaymentMethod`), or a card token sealed for the payment service
 * (`pms1.…`, src/payment-method-seal.ts: the gateway seals the token of each checkout). Either way the
 * services that refer to it (an order, its checkout saga) never hold a token they could read.
 */
export const PaymentMethodId = Schema.Trimmed.pipe(
  Schema.nonEmptyString(),
  Schema.maxLength(512),
  Schema.brand("PaymentMethodId"),
)
export type PaymentMethodId = typeof PaymentMethodId.Type

export const ChargeRequest = Schema.Struct({
  idempotencyKey: PaymentIdempotencyKey,
  orderId: OrderId,
  amount: Money,
  customer: UserId,
  /** What to charge: the provider decides on its token. A method never registered is declined. */
  paymentMethod: Schema.optionalWith(PaymentMethodId, { exact: true }),
})
export type ChargeRequest = typeof ChargeRequest.Type

const RefundFields = {
  idempotencyKey: PaymentIdempotencyKey,
  /** Minor units to refund, in the payment's currency; the whole refundable rest when absent. */
  amount: Schema.optionalWith(Money, { exact: true }),
}

/** A refund names the payment, or the order (its latest captured payment). */
export const RefundRequest = Schema.Union(
  Schema.Struct({ ...RefundFields, paymentId: PaymentId }),
  Schema.Struct({ ...RefundFields, orderId: OrderId }),
)
export type RefundRequest = typeof RefundRequest.Type

// Errors -----------------------------------------------------------------------------------------

export class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", {
  paymentId: PaymentId,
  orderId: OrderId,
  reason: Schema.String,
}) {}

export class RefundExceedsCapture extends Schema.TaggedError<RefundExceedsCapture>()("RefundExceedsCapture", {
  paymentId: PaymentId,
  requested: Schema.NonNegativeInt,
  /** What can still be refunded: captured minus refunded so far. */
  refundable: Schema.NonNegativeInt,
}) {}

/** A refund in another currency than the payment's. */
export class RefundCurrencyMismatch extends Schema.TaggedError<RefundCurrencyMismatch>()("RefundCurrencyMismatch", {
  paymentId: PaymentId,
  expected: Currency,
  actual: Currency,
}) {}

export class PaymentNotFound extends Schema.TaggedError<PaymentNotFound>()("PaymentNotFound", {
  paymentId: Schema.optionalWith(PaymentId, { exact: true }),
  orderId: Schema.optionalWith(OrderId, { exact: true }),
}) {}

/** The key was used before for a request with other content. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  idempotencyKey: PaymentIdempotencyKey,
}) {}

export type PaymentError =
  | PaymentDeclined
  | RefundExceedsCapture
  | RefundCurrencyMismatch
  | PaymentNotFound
  | IdempotencyKeyReused

// Events (Kafka topic "payments", keyed by order id, written through the outbox) ----------------

const PaymentEventFields = {
  paymentId: PaymentId,
  orderId: OrderId,
  customer: UserId,
  amount: Money,
}

export const PaymentCompleted = defineEvent(
  "payment.completed",
  "payments",
  Schema.Struct({ ...PaymentEventFields, providerReference: Schema.String }),
)
export const PaymentFailed = defineEvent(
  "payment.failed",
  "payments",
  Schema.Struct({ ...PaymentEventFields, reason: Schema.String }),
)
export const PaymentRefunded = defineEvent(
  "payment.refunded",
  "payments",
  Schema.Struct({
    refundId: RefundId,
    paymentId: PaymentId,
    orderId: OrderId,
    customer: UserId,
    amount: Money,
    /** Minor units refunded on the payment in total, this refund included. */
    totalRefunded: Schema.NonNegativeInt,
  }),
)

// The group --------------------------------------------------------------------------------------

export class PaymentRpcs extends RpcGroup.make(
  /** Holds a provider token as `paymentMethod` for the customer; registering the same again changes nothing. */
  Rpc.make("RegisterPaymentMethod", {
    payload: {
      paymentMethod: PaymentMethodId,
      customer: UserId,
      token: Schema.String.pipe(Schema.nonEmptyString(), Schema.maxLength(200)),
    },
  }),
  /**
   * Charges once per key: a repeat (or a racing duplicate) answers what the first answered — the captured
   * Payment or the same PaymentDeclined. The same key with another order, amount or customer fails with
   * IdempotencyKeyReused.
   */
  Rpc.make("Charge", {
    payload: ChargeRequest,
    success: Payment,
    error: Schema.Union(PaymentDeclined, IdempotencyKeyReused),
  }),
  /**
   * Refunds once per key, never past what was captured. Refunding an order with no capture is a no-op
   * success (status `noop`).
   */
  Rpc.make("Refund", {
    payload: RefundRequest,
    success: Refund,
    error: Schema.Union(RefundExceedsCapture, RefundCurrencyMismatch, PaymentNotFound, IdempotencyKeyReused),
  }),
  Rpc.make("GetPayment", {
    payload: { paymentId: PaymentId },
    success: Payment,
    error: PaymentNotFound,
  }),
  /** The order's latest payment, whatever its status. */
  Rpc.make("GetPaymentByOrder", {
    payload: { orderId: OrderId },
    success: Payment,
    error: PaymentNotFound,
  }),
) {}
