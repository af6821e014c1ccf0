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
import { Effect, Option, Schedule, Schema } from "effect"
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
import { dieOnSql } from "../../src/postgres.ts"
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

/** A batch whose carts moved before its write is read and decided again, soon: the mover is usually done. */
const outdatedRetry = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(10)),
)

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
    const transaction = <A, E>(body: Effect.Effect<A, E>) => dieOnSql(sql.withTransaction(body))

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

    /**
     * The active carts of the commands' users, locked, with their lines, and the replies already stored
     * for `name`: what a batch of saga commands decides on, read in one statement whatever its size.
     */
    const loadFor = (commands: ReadonlyArray<CartCommand>, name: string) =>
      Effect.gen(function* () {
        const { replies, carts, items } = yield* repository.loadCommands(
          commands.map((command) => command.orderId),
          [...new Set(commands.map((command) => command.userId))],
          name,
          name === "reserve",
        )
        const itemsOf = new Map<string, Array<ItemRow>>()
        for (const item of items) itemsOf.set(item.cart_id, [...(itemsOf.get(item.cart_id) ?? []), item])
        return {
          stored: replies,
          cartOf: new Map(carts.map((cart) => [cart.user_id, cart])),
          itemsOf: (cartId: string) => itemsOf.get(cartId) ?? [],
        }
      })

    type Loaded = Effect.Effect.Success<ReturnType<typeof loadFor>>
    type Change = {
      readonly cartId: string
      readonly version: number
      readonly status: "frozen" | "checked_out"
      readonly orderId: string
    }

    /**
     * A batch of one saga command: one read, one guarded write. Each command is answered from its stored
     * reply (or one decided earlier in the batch), else decided on its own by `decide`, in arrival order,
     * against the state the commands before it left: a second order of the same user finds the cart
     * frozen by the first. A decisive reply is stored with the batch's writes; a refusal is not. When a
     * cart moved between the read and the write (an edit, a release, another replica), the batch is read
     * and decided again.
     */
    const decideBatch = <Reply extends { readonly _tag: string }>(
      name: "reserve" | "clear",
      commands: ReadonlyArray<CartCommand>,
      codec: {
        readonly decode: (stored: unknown) => Effect.Effect<Reply, unknown>
        readonly encode: (reply: Reply) => Effect.Effect<unknown, unknown>
      },
      decide: (
        command: CartCommand,
        state: Loaded,
        change: (change: Change) => void,
      ) => { readonly reply: Reply; readonly decisive: boolean },
    ) =>
      Effect.gen(function* () {
        const state = yield* loadFor(commands, name)
        const decided = new Map<string, Reply>()
        const changes: Array<Change> = []
        const toSave: Array<{ orderId: string; command: string; reply: unknown }> = []
        const replies: Array<Reply> = []
        for (const command of commands) {
          const stored = state.stored.get(command.orderId)
          const earlier =
            decided.get(command.orderId) ??
            (stored === undefined ? undefined : yield* codec.decode(stored).pipe(Effect.orDie))
          if (earlier !== undefined) {
            decided.set(command.orderId, earlier)
            replies.push(earlier)
            continue
          }
          const { reply, decisive } = decide(command, state, (change) => changes.push(change))
          if (decisive) {
            decided.set(command.orderId, reply)
            toSave.push({
              orderId: command.orderId,
              command: name,
              reply: yield* codec.encode(reply).pipe(Effect.orDie),
            })
          }
          replies.push(reply)
        }
        yield* repository.writeCommands(changes, toSave)
        return replies
      }).pipe(
        Effect.retry({ schedule: outdatedRetry }),
        // Carts that kept moving under the batch that long: a defect of the moment; the bus retries the commands.
        Effect.catchTag("CartsOutdated", (error) => Effect.die(error)),
      )

    /** Reserves many carts at once (the saga's commands arrive together under load). */
    const reserveMany = (commands: ReadonlyArray<CartCommand>) =>
      decideBatch<ReserveCartReply>(
        "reserve",
        commands,
        { decode: decodeReserveReply, encode: encodeReserveReply },
        (command, { cartOf, itemsOf }, change) => {
          const cart = cartOf.get(command.userId)
          if (cart?.status === "frozen" && cart.order_id !== command.orderId) {
            const orderId = cart.order_id as CartCommand["orderId"]
            return { reply: new CartFrozen({ userId: command.userId, orderId }), decisive: false }
          }
          const [first, ...rest] = cart === undefined ? [] : itemsOf(cart.id).map(toLine)
          if (cart === undefined || first === undefined) {
            return { reply: new CartEmpty({ userId: command.userId }), decisive: false }
          }
          if (cart.status !== "frozen") {
            change({ cartId: cart.id, version: cart.version, status: "frozen", orderId: command.orderId })
            cartOf.set(command.userId, { ...cart, status: "frozen", order_id: command.orderId })
          }
          const reply = new CartReserved({
            orderId: command.orderId,
            userId: command.userId,
            cartId: cart.id as CartId,
            lines: [first, ...rest],
            total: toCart(cart, itemsOf(cart.id)).total ?? first.lineTotal,
          })
          return { reply, decisive: true }
        },
      )

    /** Checks many reserved carts out at once. */
    const clearMany = (commands: ReadonlyArray<CartCommand>) =>
      decideBatch<ClearCartReply>(
        "clear",
        commands,
        { decode: decodeClearReply, encode: encodeClearReply },
        (command, { cartOf }, change) => {
          const cart = cartOf.get(command.userId)
          if (cart === undefined || cart.status !== "frozen" || cart.order_id !== command.orderId) {
            return { reply: new CartNotReserved({ userId: command.userId, orderId: command.orderId }), decisive: false }
          }
          // Checked out rather than emptied: the lines stay as the record of what the order bought, and the
          // partial unique index lets the user's next cart begin as a new row.
          change({ cartId: cart.id, version: cart.version, status: "checked_out", orderId: command.orderId })
          cartOf.delete(command.userId)
          const reply = new CartCleared({ orderId: command.orderId, userId: command.userId, cartId: cart.id as CartId })
          return { reply, decisive: true }
        },
      )

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

    return { addItem, updateItem, removeItem, getCart, reserveMany, release, clearMany }
  }),
  dependencies: [CartRepository.Default, Pricing.Default],
}) {}
