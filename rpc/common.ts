/**
 * Identifiers and values shared by several contracts. A contract imports these instead of declaring
 * its own, so an `OrderId` from the order service is the same type in inventory, payment and delivery.
 */
import { Schema } from "effect"

/** Every external identifier: trimmed, non-empty, bounded. */
export const Identifier = Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(128))

export const Sku = Identifier.pipe(Schema.brand("Sku"))
export type Sku = typeof Sku.Type

export const OrderId = Identifier.pipe(Schema.brand("OrderId"))
export type OrderId = typeof OrderId.Type

export const UserId = Identifier.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

export const ProductId = Identifier.pipe(Schema.brand("ProductId"))
export type ProductId = typeof ProductId.Type

/** ISO 4217 code, upper case. */
export const Currency = Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/), Schema.brand("Currency"))
export type Currency = typeof Currency.Type

/** Money is integer minor units (cents) with a currency; never a float. */
export class Money extends Schema.Class<Money>("Money")({
  amount: Schema.Int.pipe(Schema.nonNegative(), Schema.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER)),
  currency: Currency,
}) {}

/** A page of results with an opaque cursor for the next one. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.NullOr(Schema.String) })

/** Non-empty text without surrounding whitespace, of at most `max` characters. */
export const Text = (max: number) => Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(max))

/**
 * A postal address, the one shape every contract uses: a customer's saved address (user), the address an
 * order ships to (order), the one a shipment is booked for (delivery).
 */
export const PostalAddress = Schema.Struct({
  line1: Text(200),
  line2: Schema.optionalWith(Text(200), { exact: true }),
  city: Text(100),
  postalCode: Text(20),
  /** ISO 3166-1 alpha-2. */
  country: Schema.String.pipe(Schema.pattern(/^[A-Z]{2}$/)),
})
export type PostalAddress = typeof PostalAddress.Type
