/**
 * The order service's contract: placing an order from a user's cart (answered at once, the checkout
 * saga then runs in the background), reading orders, cancelling one that is not yet confirmed, and
 * marking one shipped.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { PaymentMethodId } from "./payment.ts"
import { Schema } from "effect"
import { defineEvent } from "../src/events/envelope.ts"
import { Identifier, Money, OrderId, PostalAddress, Sku, UserId } from "./common.ts"

export const IdempotencyKey = Identifier.pipe(Schema.brand("IdempotencyKey"))
export type IdempotencyKey = typeof IdempotencyKey.Type

export const OrderStatus = Schema.Literal("PENDING", "CONFIRMED", "FAILED", "CANCELLED", "SHIPPED")
export type OrderStatus = typeof OrderStatus.Type

export class OrderItem extends Schema.Class<OrderItem>("OrderItem")({
  sku: Sku,
  name: Schema.String,
  quantity: Schema.Int.pipe(Schema.positive()),
  unitPrice: Money,
  lineTotal: Money,
}) {}

/** Why a checkout failed: the saga step and the typed error it met (e.g. InsufficientStock, PaymentDeclined). */
export class OrderFailure extends Schema.Class<OrderFailure>("OrderFailure")({
  step: Schema.String,
  reason: Schema.String,
  message: Schema.String,
}) {}

export class Order extends Schema.Class<Order>("Order")({
  id: OrderId,
  userId: UserId,
  status: OrderStatus,
  items: Schema.Array(OrderItem),
  total: Schema.NullOr(Money),
  failure: Schema.NullOr(OrderFailure),
  deliveryZone: Schema.String,
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
}) {}

export class OrderNotFound extends Schema.TaggedError<OrderNotFound>()("OrderNotFound", {
  orderId: OrderId,
}) {}

/** The order is past the point where the asked change is allowed (e.g. cancel a confirmed order). */
export class InvalidOrderTransition extends Schema.TaggedError<InvalidOrderTransition>()("InvalidOrderTransition", {
  orderId: OrderId,
  from: OrderStatus,
  to: OrderStatus,
}) {}

/** The idempotency key was used before for a different request. */
export class IdempotencyKeyConflict extends Schema.TaggedError<IdempotencyKeyConflict>()("IdempotencyKeyConflict", {
  key: IdempotencyKey,
  orderId: OrderId,
}) {}

/**
 * The checkouts already accepted would keep this one waiting too long: nothing was written; try again
 * after `retryAfterSeconds` (with the same idempotency key).
 */
export class CheckoutOverloaded extends Schema.TaggedError<CheckoutOverloaded>()("CheckoutOverloaded", {
  retryAfterSeconds: Schema.Int,
  message: Schema.String,
}) {}

export class OrderRpcs extends RpcGroup.make(
  Rpc.make("PlaceOrder", {
    payload: {
      userId: UserId,
      idempotencyKey: IdempotencyKey,
      /** Sealed for the payment service (the gateway's checkout) or registered with it: the order keeps no token. */
      paymentMethod: PaymentMethodId,
      address: PostalAddress,
      deliveryZone: Identifier,
    },
    success: Order,
    error: Schema.Union(IdempotencyKeyConflict, CheckoutOverloaded),
  }),
  Rpc.make("GetOrder", {
    payload: { orderId: OrderId },
    success: Order,
    error: OrderNotFound,
  }),
  Rpc.make("ListOrders", {
    payload: Schema.Struct({
      userId: UserId,
      limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 20 }),
      before: Schema.optional(Schema.Date),
    }),
    success: Schema.Array(Order),
  }),
  Rpc.make("CancelOrder", {
    payload: { orderId: OrderId },
    success: Order,
    error: Schema.Union(OrderNotFound, InvalidOrderTransition),
  }),
  Rpc.make("MarkShipped", {
    payload: { orderId: OrderId },
    success: Order,
    error: Schema.Union(OrderNotFound, InvalidOrderTransition),
  }),
) {}

// Events (Kafka topic "orders", keyed by order id, written through the outbox) -------------------

const OrderEventFields = { orderId: OrderId, userId: UserId }

export const OrderCreated = defineEvent("order.created", "orders", Schema.Struct(OrderEventFields))
export const OrderConfirmed = defineEvent(
  "order.confirmed",
  "orders",
  Schema.Struct({
    ...OrderEventFields,
    total: Money,
    items: Schema.Array(Schema.Struct({ sku: Sku, quantity: Schema.Int, lineTotal: Money })),
  }),
)
export const OrderFailed = defineEvent(
  "order.failed",
  "orders",
  Schema.Struct({ ...OrderEventFields, step: Schema.String, reason: Schema.String }),
)
export const OrderCancelled = defineEvent("order.cancelled", "orders", Schema.Struct(OrderEventFields))
export const OrderShipped = defineEvent("order.shipped", "orders", Schema.Struct(OrderEventFields))
