/**
 * Checkout and the caller's orders. `POST /checkout` answers 201 with the PENDING order at once (the
 * saga runs on in the order service) and its `Location`; poll `GET /orders/{id}` until it is CONFIRMED
 * or FAILED. The `Idempotency-Key` header makes a retried checkout return the same order.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Identifier, OrderId } from "../../../rpc/common.ts"
import { PostalAddress } from "../../../rpc/delivery.ts"
import {
  CheckoutOverloaded,
  IdempotencyKey,
  IdempotencyKeyConflict,
  InvalidOrderTransition,
  Order,
  OrderNotFound,
} from "../../../rpc/order.ts"
import { AddressId, AddressNotFound } from "../../../rpc/user.ts"
import { InstantFromQuery, IntFromQuery } from "./query.ts"
import { Authenticated } from "./security.ts"

export const CheckoutBody = Schema.Struct({
  paymentToken: Schema.String.pipe(Schema.nonEmptyString(), Schema.maxLength(200)).annotations({
    description:
      "The card token from the payment form (the simulated provider declines tokens starting with 'decline')",
  }),
  /** One of the caller's saved addresses; without it and without `address`, the default one. */
  addressId: Schema.optionalWith(AddressId, { exact: true }),
  address: Schema.optionalWith(PostalAddress, { exact: true }),
  deliveryZone: Schema.optionalWith(Identifier, { exact: true }).annotations({
    description: "The delivery zone to book a slot in; the gateway's default zone when left out",
  }),
})
export type CheckoutBody = typeof CheckoutBody.Type

export const CheckoutHeaders = Schema.Struct({
  "idempotency-key": IdempotencyKey.annotations({
    description: "Unique per checkout attempt; a retry with the same key returns the same order",
  }),
})

export class AddressRequired extends Schema.TaggedError<AddressRequired>()(
  "AddressRequired",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 422 }),
) {}

export const OrderPath = Schema.Struct({ id: OrderId })

export const OrderListQuery = Schema.Struct({
  limit: Schema.optionalWith(IntFromQuery(1, 100), { exact: true }),
  /** Orders created before this instant (the `createdAt` of the last order of the previous page). */
  before: Schema.optionalWith(InstantFromQuery, { exact: true }),
})

export class OrdersApi extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.post("checkout", "/checkout")
      .setHeaders(CheckoutHeaders)
      .setPayload(CheckoutBody)
      .addSuccess(Order, { status: 201 })
      .addError(IdempotencyKeyConflict, { status: 409 })
      .addError(AddressRequired)
      .addError(AddressNotFound, { status: 422 })
      .addError(CheckoutOverloaded, { status: 503 })
      .annotate(OpenApi.Summary, "Check the caller's cart out: 201 with the PENDING order and its Location")
      .annotate(
        OpenApi.Description,
        "Answers 201 at once; the checkout saga runs on, so poll the order until CONFIRMED or FAILED. When more " +
          "checkouts are in progress than the services can finish soon, nothing is written and the answer is 503 " +
          "CheckoutOverloaded with a Retry-After header: retry then with the same Idempotency-Key.",
      ),
  )
  .add(
    HttpApiEndpoint.get("listOrders", "/orders")
      .setUrlParams(OrderListQuery)
      .addSuccess(Schema.Array(Order))
      .annotate(OpenApi.Summary, "The caller's orders, newest first"),
  )
  .add(
    HttpApiEndpoint.get("getOrder", "/orders/:id")
      .setPath(OrderPath)
      .addSuccess(Order)
      .addError(OrderNotFound, { status: 404 })
      .annotate(OpenApi.Summary, "One of the caller's orders (status, items, failure reason)"),
  )
  .add(
    HttpApiEndpoint.post("cancelOrder", "/orders/:id/cancel")
      .setPath(OrderPath)
      .addSuccess(Order)
      .addError(OrderNotFound, { status: 404 })
      .addError(InvalidOrderTransition, { status: 409 })
      .annotate(OpenApi.Summary, "Cancel an order that is not confirmed yet"),
  )
  .middleware(Authenticated) {}
