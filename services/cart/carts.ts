/**
 * The cart's behaviour: edits by the user over RPC and the checkout saga's commands. Each runs in one
 * transaction that locks the user's active cart first (see repository.ts), so an edit never slips past a
 * freeze. Prices are fetched from the catalog before the transaction: no lock is held across a network call.
 *
 * Saga commands are idempotent by order id: the first decisive reply to (order, command) is stored with the
 * state change and returned for every repetition. Refusals (frozen for another order, empty, not reserved)
 * are not stored: they describe a moment, and the same command may rightly succeed later.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Schema } from "effect"
import {
  CartCleared,
  CartEmpty,
  CartFrozen,
  type CartCommand,
  type CartId,
  CartNotReserved,
  CartReleased,
  CartReserved,
  type ClearCartReply,
  CurrencyMismatch,
  InvalidQuantity,
  ItemNotFound,
  maxQuantity,
  type ReserveCartReply,
  ReserveCartReply as ReserveCartReplySchema,
  ClearCartReply as ClearCartReplySchema,
  type Sku,
  type UserId,
} from "../../rpc/cart.ts"
import type { Currency } from "../../rpc/common.ts"
import { Pricing } from "./catalog-client.ts"
import { type CartRow, CartRepository, type ItemRow, toCart, toLine } from "./repository.ts"

const checkQuantity = (sku: Sku, quantity: number) =>
  Number.isInteger(quantity) && quantity >= 1 && quantity <= maxQuantity
    ? Effect.void
    : Effect.fail(new InvalidQuantity({ sku, quantity, max: maxQuantity }))

const checkOpen = (cart: CartRow) =>
  cart.status === "frozen" && cart.order_id !== null
    ? Effect.fail(new CartFrozen({ userId: cart.user_id as UserId, orderId: cart.order_id as CartCommand["orderId"] }))
    : Effect.void

/** The cart's currency is that of its lines; a line being replaced does not count. */
const checkCurrency = (items: ReadonlyArray<ItemRow>, sku: Sku, currency: Currency) => {
  const other = items.find((item) => item.sku !== sku)
  return other === undefined || other.currency === currency
    ? Effect.void
    : Effect.fail(new CurrencyMismatch({ sku, cartCurrency: other.currency as Currency, itemCurrency: currency }))
}

const encodeReserveReply = Schema.encode(ReserveCartReplySchema)
const decodeReserveReply = Schema.decodeUnknown(ReserveCartReplySchema)
const encodeClearReply = Schema.encode(ClearCartReplySchema)
const decodeClearReply = Schema.decodeUnknown(ClearCartReplySchema)
const encodeReleased = Schema.encode(CartReleased)
const decodeReleased = Schema.decodeUnknown(CartReleased)

export class Carts extends Effect.Service<Carts>()("cart/Carts", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repository = yield* CartRepository
    const pricing = yield* Pricing

    /** Runs `body` in a transaction; a failing SQL statement is a defect (the cart has no typed I/O errors). */
    const transaction = <A, E>(body: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      sql
        .withTransaction(body)
        .pipe(Effect.catchAll((error) => (error instanceof SqlError ? Effect.die(error) : Effect.fail(error as E))))

    const current = (cart: CartRow) => Effect.map(repository.items(cart.id), (items) => toCart(cart, items))

    const addItem = Effect.fn("Cart.addItem")(function* (userId: UserId, sku: Sku, quantity: number) {
      yield* checkQuantity(sku, quantity)
      const price = yield* pricing.price(sku)
      return yield* transaction(
        Effect.gen(function* () {
          const cart = yield* repository.lockActive(userId)
          yield* checkOpen(cart)
          const items = yield* repository.items(cart.id)
          yield* checkCurrency(items, sku, price.price.currency)
          const total = (items.find((item) => item.sku === sku)?.quantity ?? 0) + quantity
          yield* checkQuantity(sku, total)
          yield* repository.putItem(cart.id, {
            sku,
            productId: price.productId,
            name: price.name,
            unitPrice: price.price,
            quantity: total,
          })
          return yield* current(yield* repository.touch(cart))
        }),
      )
    })

    const updateItem = Effect.fn("Cart.updateItem")(function* (userId: UserId, sku: Sku, quantity: number) {
      yield* checkQuantity(sku, quantity)
      const price = yield* pricing.price(sku)
      return yield* transaction(
        Effect.gen(function* () {
          const cart = yield* repository.lockActive(userId)
          yield* checkOpen(cart)
          const items = yield* repository.items(cart.id)
          if (!items.some((item) => item.sku === sku)) return yield* new ItemNotFound({ userId, sku })
          yield* checkCurrency(items, sku, price.price.currency)
          yield* repository.putItem(cart.id, {
            sku,
            productId: price.productId,
            name: price.name,
            unitPrice: price.price,
            quantity,
          })
          return yield* current(yield* repository.touch(cart))
        }),
      )
    })

    const removeItem = Effect.fn("Cart.removeItem")(function* (userId: UserId, sku: Sku) {
      return yield* transaction(
        Effect.gen(function* () {
          const cart = yield* repository.lockActive(userId)
          yield* checkOpen(cart)
          if (!(yield* repository.deleteItem(cart.id, sku))) return yield* new ItemNotFound({ userId, sku })
          return yield* current(yield* repository.touch(cart))
        }),
      )
    })

    const getCart = Effect.fn("Cart.getCart")(function* (userId: UserId) {
      return yield* current(yield* repository.getOrCreate(userId))
    })

    // Saga commands --------------------------------------------------------------------------------

    /** The stored reply of an earlier run of the command, if any. */
    const storedReply = <A>(command: CartCommand, name: string, decode: (u: unknown) => Effect.Effect<A, unknown>) =>
      repository.findReply(command.orderId, name).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeedNone,
            // Our own rows always decode; one that does not is corruption, not a business outcome.
            onSome: (reply) => decode(reply).pipe(Effect.orDie, Effect.asSome),
          }),
        ),
      )

    const reserve = Effect.fn("Cart.reserve")(function* (command: CartCommand) {
      return yield* transaction(
        Effect.gen(function* () {
          const stored = yield* storedReply(command, "reserve", decodeReserveReply)
          if (Option.isSome(stored)) return stored.value
          const cart = yield* repository.lockActive(command.userId)
          if (cart.status === "frozen" && cart.order_id !== command.orderId) {
            return new CartFrozen({ userId: command.userId, orderId: cart.order_id as CartCommand["orderId"] })
          }
          const items = yield* repository.items(cart.id)
          const [first, ...rest] = items.map(toLine)
          if (first === undefined) return new CartEmpty({ userId: command.userId })
          const frozen =
            cart.status === "frozen" ? cart : yield* repository.setState(cart.id, "frozen", command.orderId)
          const snapshot = toCart(frozen, items)
          const reply: ReserveCartReply = new CartReserved({
            orderId: command.orderId,
            userId: command.userId,
            cartId: cart.id as CartId,
            lines: [first, ...rest],
            total: snapshot.total ?? first.lineTotal,
          })
          yield* repository.saveReply(command.orderId, "reserve", yield* encodeReserveReply(reply).pipe(Effect.orDie))
          return reply
        }),
      )
    })

    /** Locks the user's cart and returns it only when it is frozen for this command's order. */
    const lockReservedFor = (command: CartCommand) =>
      Effect.map(repository.lockExisting(command.userId), (cart) =>
        Option.filter(cart, (cart) => cart.status === "frozen" && cart.order_id === command.orderId),
      )

    const release = Effect.fn("Cart.release")(function* (command: CartCommand) {
      return yield* transaction(
        Effect.gen(function* () {
          const stored = yield* storedReply(command, "release", decodeReleased)
          if (Option.isSome(stored)) return stored.value
          const reservedForOrder = yield* lockReservedFor(command)
          if (Option.isNone(reservedForOrder)) {
            return new CartReleased({ orderId: command.orderId, userId: command.userId, wasReserved: false })
          }
          yield* repository.setState(reservedForOrder.value.id, "open", null)
          const reply = new CartReleased({ orderId: command.orderId, userId: command.userId, wasReserved: true })
          yield* repository.saveReply(command.orderId, "release", yield* encodeReleased(reply).pipe(Effect.orDie))
          return reply
        }),
      )
    })

    const clear = Effect.fn("Cart.clear")(function* (command: CartCommand) {
      return yield* transaction(
        Effect.gen(function* () {
          const stored = yield* storedReply(command, "clear", decodeClearReply)
          if (Option.isSome(stored)) return stored.value
          const reservedForOrder = yield* lockReservedFor(command)
          if (Option.isNone(reservedForOrder)) {
            return new CartNotReserved({ userId: command.userId, orderId: command.orderId })
          }
          // Checked out rather than emptied: the lines stay as the record of what the order bought, and the
          // partial unique index lets the user's next cart begin as a new row.
          yield* repository.setState(reservedForOrder.value.id, "checked_out", command.orderId)
          const reply: ClearCartReply = new CartCleared({
            orderId: command.orderId,
            userId: command.userId,
            cartId: reservedForOrder.value.id as CartId,
          })
          yield* repository.saveReply(command.orderId, "clear", yield* encodeClearReply(reply).pipe(Effect.orDie))
          return reply
        }),
      )
    })

    return { addItem, updateItem, removeItem, getCart, reserve, release, clear }
  }),
  dependencies: [CartRepository.Default, Pricing.Default],
}) {}
