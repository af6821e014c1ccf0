/**
 * The cart's SQL. Every write runs in a transaction that first locks the user's active cart row
 * (`lockActive`), so edits, freezes and check-outs of one cart are serialised: an edit either commits before
 * a freeze or sees the cart frozen. SQL failures are infrastructure and become defects here.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import {
  Cart,
  type CartId,
  CartLine,
  type CartStatus,
  Money,
  type OrderId,
  type Sku,
  type UserId,
} from "../../rpc/cart.ts"
import type { Currency, ProductId } from "../../rpc/common.ts"

export interface CartRow {
  readonly id: string
  readonly user_id: string
  readonly status: CartStatus
  readonly order_id: string | null
  readonly version: number
  readonly updated_at: Date
}

export interface ItemRow {
  readonly sku: string
  readonly product_id: string
  readonly name: string
  readonly unit_amount: string
  readonly currency: string
  readonly quantity: number
}

export interface ItemWrite {
  readonly sku: Sku
  readonly productId: ProductId
  readonly name: string
  readonly unitPrice: Money
  readonly quantity: number
}

const money = (amount: number, currency: string) => new Money({ amount, currency: currency as Currency }, true)

export const toLine = (row: ItemRow): CartLine => {
  const unit = Number(row.unit_amount)
  return new CartLine(
    {
      sku: row.sku as Sku,
      productId: row.product_id as ProductId,
      name: row.name,
      quantity: row.quantity,
      unitPrice: money(unit, row.currency),
      lineTotal: money(unit * row.quantity, row.currency),
    },
    true,
  )
}

/** Line totals and the cart total in integer minor units; a cart holds one currency (AddItem ensures it). */
export const toCart = (cart: CartRow, items: ReadonlyArray<ItemRow>): Cart => {
  const lines = items.map(toLine)
  const first = lines[0]
  return new Cart(
    {
      id: cart.id as CartId,
      userId: cart.user_id as UserId,
      status: cart.status,
      orderId: cart.order_id as OrderId | null,
      lines,
      itemCount: lines.reduce((sum, line) => sum + line.quantity, 0),
      total:
        first === undefined
          ? null
          : money(
              lines.reduce((sum, line) => sum + line.lineTotal.amount, 0),
              first.unitPrice.currency,
            ),
      version: cart.version,
      updatedAt: cart.updated_at,
    },
    true,
  )
}

export class CartRepository extends Effect.Service<CartRepository>()("cart/CartRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const cartColumns = sql`id, user_id, status, order_id, version, updated_at`

    /** Creates the user's active cart unless there is one; racing creators meet on the partial unique index. */
    const ensureActive = (userId: UserId) =>
      sql`
        INSERT INTO carts (id, user_id) VALUES (${crypto.randomUUID()}, ${userId})
        ON CONFLICT (user_id) WHERE status <> 'checked_out' DO NOTHING`

    const selectActive = (userId: UserId, lock: boolean) =>
      sql<CartRow>`
        SELECT ${cartColumns} FROM carts WHERE user_id = ${userId} AND status <> 'checked_out'
        ${sql.literal(lock ? "FOR UPDATE" : "")}`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    /** The user's active cart, created when missing, locked until the transaction ends. */
    const lockActive = (userId: UserId) =>
      ensureActive(userId).pipe(
        Effect.zipRight(selectActive(userId, true)),
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.dieMessage(`active cart of ${userId} vanished inside its transaction`),
            onSome: Effect.succeed,
          }),
        ),
        Effect.orDie,
      )

    /** The user's active cart if there is one, locked; for commands that must not create a cart. */
    const lockExisting = (userId: UserId) => selectActive(userId, true).pipe(Effect.orDie)

    /** For reads: the active cart, created when missing (outside any lock). */
    const getOrCreate = (userId: UserId) =>
      selectActive(userId, false).pipe(
        Effect.flatMap(
          Option.match({
            onSome: Effect.succeed,
            onNone: () => lockActive(userId),
          }),
        ),
        Effect.orDie,
      )

    const items = (cartId: string) =>
      sql<ItemRow>`
        SELECT sku, product_id, name, unit_amount::text AS unit_amount, currency, quantity
        FROM cart_items WHERE cart_id = ${cartId} ORDER BY added_at, sku`.pipe(Effect.orDie)

    /** Inserts the line or, if the SKU is there, replaces its quantity and price. */
    const putItem = (cartId: string, item: ItemWrite) =>
      sql`
        INSERT INTO cart_items (cart_id, sku, product_id, name, unit_amount, currency, quantity)
        VALUES (${cartId}, ${item.sku}, ${item.productId}, ${item.name}, ${item.unitPrice.amount},
                ${item.unitPrice.currency}, ${item.quantity})
        ON CONFLICT (cart_id, sku) DO UPDATE
        SET product_id = excluded.product_id, name = excluded.name, unit_amount = excluded.unit_amount,
            currency = excluded.currency, quantity = excluded.quantity`.pipe(Effect.orDie)

    /** True when the line existed. */
    const deleteItem = (cartId: string, sku: Sku) =>
      sql<{ sku: string }>`DELETE FROM cart_items WHERE cart_id = ${cartId} AND sku = ${sku} RETURNING sku`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.orDie,
      )

    /** Moves the cart to `status` (with the order it belongs to) and bumps its version. */
    const setState = (cartId: string, status: CartStatus | "checked_out", orderId: OrderId | null) =>
      sql<CartRow>`
        UPDATE carts SET status = ${status}, order_id = ${orderId}, version = version + 1, updated_at = now()
        WHERE id = ${cartId}
        RETURNING ${cartColumns}`.pipe(
        Effect.flatMap((rows) =>
          rows[0] === undefined
            ? Effect.dieMessage(`cart ${cartId} vanished inside its transaction`)
            : Effect.succeed(rows[0]),
        ),
        Effect.orDie,
      )

    const touch = (cart: CartRow) => setState(cart.id, cart.status, cart.order_id as OrderId | null)

    const findReply = (orderId: OrderId, command: string) =>
      sql<{ reply: unknown }>`
        SELECT reply FROM cart_command_replies WHERE order_id = ${orderId} AND command = ${command}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => row.reply)),
        Effect.orDie,
      )

    /** Records the reply inside the command's transaction; a concurrent duplicate of the command keeps the first. */
    const saveReply = (orderId: OrderId, command: string, reply: unknown) =>
      sql`
        INSERT INTO cart_command_replies (order_id, command, reply)
        VALUES (${orderId}, ${command}, ${JSON.stringify(reply)}::jsonb)
        ON CONFLICT (order_id, command) DO NOTHING`.pipe(Effect.asVoid, Effect.orDie)

    // Many commands at once (the saga's reserve and clear, group-committed): one statement each. ---------

    /** The active carts of these users, locked in id order (so two batches never wait on each other in a circle). */
    const lockExistingMany = (userIds: ReadonlyArray<string>) =>
      userIds.length === 0
        ? Effect.succeed([] as ReadonlyArray<CartRow>)
        : sql<CartRow>`
            SELECT ${cartColumns} FROM carts WHERE user_id IN ${sql.in(userIds)} AND status <> 'checked_out'
            ORDER BY id FOR UPDATE`.pipe(Effect.orDie)

    const itemsOfMany = (cartIds: ReadonlyArray<string>) =>
      cartIds.length === 0
        ? Effect.succeed([] as ReadonlyArray<ItemRow & { readonly cart_id: string }>)
        : sql<ItemRow & { readonly cart_id: string }>`
            SELECT cart_id, sku, product_id, name, unit_amount::text AS unit_amount, currency, quantity
            FROM cart_items WHERE cart_id IN ${sql.in(cartIds)} ORDER BY added_at, sku`.pipe(Effect.orDie)

    const setStateMany = (
      changes: ReadonlyArray<{
        readonly cartId: string
        readonly status: CartStatus | "checked_out"
        readonly orderId: string | null
      }>,
    ) =>
      changes.length === 0
        ? Effect.void
        : sql`
            UPDATE carts c SET status = v.status, order_id = v.order_id, version = c.version + 1, updated_at = now()
            FROM jsonb_to_recordset(${JSON.stringify(
              changes.map((change) => ({ id: change.cartId, status: change.status, order_id: change.orderId })),
            )}::jsonb) AS v (id text, status text, order_id text)
            WHERE c.id = v.id`.pipe(Effect.asVoid, Effect.orDie)

    const findReplies = (orderIds: ReadonlyArray<string>, command: string) =>
      orderIds.length === 0
        ? Effect.succeed(new Map<string, unknown>())
        : sql<{ order_id: string; reply: unknown }>`
            SELECT order_id, reply FROM cart_command_replies
            WHERE order_id IN ${sql.in(orderIds)} AND command = ${command}`.pipe(
            Effect.map((rows) => new Map(rows.map((row) => [row.order_id, row.reply]))),
            Effect.orDie,
          )

    const saveReplies = (
      replies: ReadonlyArray<{ readonly orderId: string; readonly command: string; readonly reply: unknown }>,
    ) =>
      replies.length === 0
        ? Effect.void
        : sql`
            INSERT INTO cart_command_replies ${sql.insert(
              replies.map((entry) => ({
                order_id: entry.orderId,
                command: entry.command,
                reply: JSON.stringify(entry.reply),
              })),
            )}
            ON CONFLICT (order_id, command) DO NOTHING`.pipe(Effect.asVoid, Effect.orDie)

    return {
      lockExistingMany,
      itemsOfMany,
      setStateMany,
      findReplies,
      saveReplies,
      lockActive,
      lockExisting,
      getOrCreate,
      items,
      putItem,
      deleteItem,
      setState,
      touch,
      findReply,
      saveReply,
    }
  }),
}) {}
