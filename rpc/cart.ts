/**
 * The cart service's contract: one active cart per user, edited over RPC (prices come from the catalog
 * when a line is added or updated, and are kept with the line), and the checkout saga's commands on
 * RabbitMQ: `cart.reserve` freezes the cart for an order and answers with its lines and total, so the
 * order copies exactly what the user saw; `cart.release` unfreezes it; `cart.clear` checks it out after a
 * confirmed order (the user's next cart starts empty). Each command is idempotent by order id.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { defineCommand } from "../src/commands/envelope.ts"
import { ProductNotFound } from "./catalog.ts"
import { Currency, Identifier, Money, OrderId, ProductId, Sku, UserId } from "./common.ts"

export { Money, OrderId, ProductNotFound, Sku, UserId }

export const CartId = Identifier.pipe(Schema.brand("CartId"))
export type CartId = typeof CartId.Type

/** Most units of one SKU in a cart. */
export const maxQuantity = 999

export class CartLine extends Schema.Class<CartLine>("CartLine")({
  sku: Sku,
  productId: ProductId,
  name: Schema.String,
  quantity: Schema.Int.pipe(Schema.between(1, maxQuantity)),
  /** The catalog's price when the line was last added or updated. */
  unitPrice: Money,
  /** unitPrice × quantity. */
  lineTotal: Money,
}) {}

/** `frozen`: reserved for an order by the checkout saga; edits are refused until it is released. */
export const CartStatus = Schema.Literal("open", "frozen")
export type CartStatus = typeof CartStatus.Type

export class Cart extends Schema.Class<Cart>("Cart")({
  id: CartId,
  userId: UserId,
  status: CartStatus,
  /** The order the cart is frozen for. */
  orderId: Schema.NullOr(OrderId),
  /** Oldest line first. */
  lines: Schema.Array(CartLine),
  itemCount: Schema.NonNegativeInt,
  /** The sum of the line totals; null for an empty cart, which has no currency yet. */
  total: Schema.NullOr(Money),
  /** Bumped by every change. */
  version: Schema.Int,
  updatedAt: Schema.Date,
}) {}

// Errors -----------------------------------------------------------------------------------------

/** The cart is reserved for an order: it cannot be edited, nor reserved for another order. */
export class CartFrozen extends Schema.TaggedError<CartFrozen>()("CartFrozen", {
  userId: UserId,
  orderId: OrderId,
}) {}

export class ItemNotFound extends Schema.TaggedError<ItemNotFound>()("ItemNotFound", {
  userId: UserId,
  sku: Sku,
}) {}

/** A quantity outside 1…maxQuantity (for AddItem: the line's quantity after adding). */
export class InvalidQuantity extends Schema.TaggedError<InvalidQuantity>()("InvalidQuantity", {
  sku: Sku,
  quantity: Schema.Int,
  max: Schema.Int,
}) {}

/** A cart holds one currency: its first line's. */
export class CurrencyMismatch extends Schema.TaggedError<CurrencyMismatch>()("CurrencyMismatch", {
  sku: Sku,
  cartCurrency: Currency,
  itemCurrency: Currency,
}) {}

/** The catalog did not answer the price lookup; nothing was changed, the call may be repeated. */
export class CatalogUnavailable extends Schema.TaggedError<CatalogUnavailable>()("CatalogUnavailable", {
  message: Schema.String,
}) {}

/** A reservation of a cart without lines. */
export class CartEmpty extends Schema.TaggedError<CartEmpty>()("CartEmpty", { userId: UserId }) {}

/** A clear for an order the cart is not reserved for. */
export class CartNotReserved extends Schema.TaggedError<CartNotReserved>()("CartNotReserved", {
  userId: UserId,
  orderId: OrderId,
}) {}

// The group --------------------------------------------------------------------------------------

const ItemRequest = { userId: UserId, sku: Sku, quantity: Schema.Int }

export class CartRpcs extends RpcGroup.make(
  /** Adds `quantity` units (to the line of the SKU if there is one), priced by the catalog now. */
  Rpc.make("AddItem", {
    payload: ItemRequest,
    success: Cart,
    error: Schema.Union(CartFrozen, ProductNotFound, InvalidQuantity, CurrencyMismatch, CatalogUnavailable),
  }),
  /** Sets the line's quantity and refreshes its price from the catalog. */
  Rpc.make("UpdateItem", {
    payload: ItemRequest,
    success: Cart,
    error: Schema.Union(
      CartFrozen,
      ItemNotFound,
      ProductNotFound,
      InvalidQuantity,
      CurrencyMismatch,
      CatalogUnavailable,
    ),
  }),
  Rpc.make("RemoveItem", {
    payload: { userId: UserId, sku: Sku },
    success: Cart,
    error: Schema.Union(CartFrozen, ItemNotFound),
  }),
  /** The user's active cart (an empty one if they have none yet). */
  Rpc.make("GetCart", {
    payload: { userId: UserId },
    success: Cart,
  }),
) {}

// Saga commands (RabbitMQ, request/reply; the reply goes to the command's replyTo) ---------------
// They live here rather than in a shared messages file so the whole cart contract is in one place.

const CartCommand = Schema.Struct({ orderId: OrderId, userId: UserId })
export type CartCommand = typeof CartCommand.Type

/** The cart is frozen for the order; the order copies these lines and this total. */
export class CartReserved extends Schema.TaggedClass<CartReserved>()("CartReserved", {
  orderId: OrderId,
  userId: UserId,
  cartId: CartId,
  lines: Schema.NonEmptyArray(CartLine),
  total: Money,
}) {}

export class CartReleased extends Schema.TaggedClass<CartReleased>()("CartReleased", {
  orderId: OrderId,
  userId: UserId,
  /** False when the cart was not reserved for this order (never was, or already released): nothing to undo. */
  wasReserved: Schema.Boolean,
}) {}

export class CartCleared extends Schema.TaggedClass<CartCleared>()("CartCleared", {
  orderId: OrderId,
  userId: UserId,
  cartId: CartId,
}) {}

export const ReserveCartReply = Schema.Union(CartReserved, CartFrozen, CartEmpty)
export type ReserveCartReply = typeof ReserveCartReply.Type
export const ClearCartReply = Schema.Union(CartCleared, CartNotReserved)
export type ClearCartReply = typeof ClearCartReply.Type

/** Freeze the user's cart for the order. Replies `cart.reserved`: CartReserved, or a refusal (CartFrozen, CartEmpty). */
export const ReserveCart = defineCommand("cart.reserve", CartCommand)
export const CartReservedReply = defineCommand("cart.reserved", ReserveCartReply)

/** Compensation: unfreeze the cart if it is frozen for the order. Replies `cart.released`. */
export const ReleaseCart = defineCommand("cart.release", CartCommand)
export const CartReleasedReply = defineCommand("cart.released", CartReleased)

/** After a confirmed order: check the frozen cart out. Replies `cart.cleared`: CartCleared or CartNotReserved. */
export const ClearCart = defineCommand("cart.clear", CartCommand)
export const CartClearedReply = defineCommand("cart.cleared", ClearCartReply)
