/**
 * The cart's SQL. An edit runs in a transaction that first locks the user's active cart row
 * (`lockActive`) and bumps its version. The saga's batched commands (freeze, check out) read without
 * locks and write in one statement guarded by the versions they read, so an edit either commits before a
 * freeze reads or makes the freeze's write find the version moved and decide again. SQL failures are
 * infrastructure and become defects here.
 */
import { SqlClient } from "@effect/sql"
import { Data, Effect, Option } from "effect"
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
import { onGuardFailure, recordset } from "../../src/postgres.ts"

/** A cart changed since the batch read it; nothing of the batch was written. */
export class CartsOutdated extends Data.TaggedError("CartsOutdated")<{}> {}

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

    /**
     * The user's active cart, created when missing, locked until the transaction ends. The cart found may be
     * checked out while this waits for its lock (the saga's clear): then the next one is created and locked.
     */
    const lockActive = (userId: UserId) => {
      const attempt = ensureActive(userId).pipe(Effect.zipRight(selectActive(userId, true)))
      return attempt.pipe(
        Effect.flatMap(Option.match({ onNone: () => attempt, onSome: (cart) => Effect.succeed(Option.some(cart)) })),
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.dieMessage(`active cart of ${userId} vanished inside its transaction`),
            onSome: Effect.succeed,
          }),
        ),
        Effect.orDie,
      )
    }

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

    // Many commands at once (the saga's reserve and clear, group-committed): one read, one write. -------

    /**
     * What a batch of saga commands decides on, in ONE statement (one snapshot): the replies already
     * stored for `command`, the users' active carts with their versions and (`withItems`) those carts'
     * lines. Nothing is locked: the batch's write is guarded by the versions read here.
     */
    const loadCommands = (
      orderIds: ReadonlyArray<string>,
      userIds: ReadonlyArray<string>,
      command: string,
      withItems: boolean,
    ) =>
      sql<{ kind: "reply" | "cart" | "item"; row: Record<string, unknown> }>`
        WITH active AS (
          SELECT id, user_id, status, order_id, version, updated_at FROM carts
          WHERE user_id IN ${sql.in(userIds)} AND status <> 'checked_out')
        SELECT 'reply' AS kind, jsonb_build_object('order_id', order_id, 'reply', reply) AS row
        FROM cart_command_replies WHERE order_id IN ${sql.in(orderIds)} AND command = ${command}
        UNION ALL
        SELECT 'cart', to_jsonb(active) FROM active
        UNION ALL
        SELECT 'item', jsonb_build_object('cart_id', cart_id, 'sku', sku, 'product_id', product_id, 'name', name,
                 'unit_amount', unit_amount::text, 'currency', currency, 'quantity', quantity, 'added_at', added_at)
        FROM cart_items WHERE ${withItems}::boolean AND cart_id IN (SELECT id FROM active)`.pipe(
        Effect.map((rows) => {
          const replies = new Map<string, unknown>()
          const carts: Array<CartRow> = []
          const items: Array<ItemRow & { readonly cart_id: string; readonly added_at: string }> = []
          for (const { kind, row } of rows) {
            if (kind === "reply") replies.set(row.order_id as string, row.reply)
            else if (kind === "cart")
              carts.push({ ...(row as unknown as CartRow), updated_at: new Date(row.updated_at as string) })
            else items.push(row as unknown as ItemRow & { readonly cart_id: string; readonly added_at: string })
          }
          // Lines in the order they were added, as `items` reads them.
          items.sort((a, b) =>
            a.added_at === b.added_at ? a.sku.localeCompare(b.sku) : a.added_at < b.added_at ? -1 : 1,
          )
          return { replies, carts, items }
        }),
        Effect.orDie,
      )

    /**
     * A batch's outcome in ONE statement: the carts' new states and the replies to keep — or nothing at
     * all (CartsOutdated) when a cart's version moved since the batch read it.
     */
    const writeCommands = (
      changes: ReadonlyArray<{
        readonly cartId: string
        readonly version: number
        readonly status: CartStatus | "checked_out"
        readonly orderId: string | null
      }>,
      replies: ReadonlyArray<{ readonly orderId: string; readonly command: string; readonly reply: unknown }>,
    ) =>
      changes.length === 0 && replies.length === 0
        ? Effect.void
        : sql`
            WITH changed AS (
              UPDATE carts c SET status = v.status, order_id = v.order_id, version = c.version + 1, updated_at = now()
              FROM ${recordset(
                sql,
                changes.map((change) => ({
                  id: change.cartId,
                  version: change.version,
                  status: change.status,
                  order_id: change.orderId,
                })),
                "v (id text, version int, status text, order_id text)",
              )}
              WHERE c.id = v.id AND c.version = v.version
              RETURNING 1),
            replied AS (
              INSERT INTO cart_command_replies (order_id, command, reply)
              SELECT v.order_id, v.command, v.reply
              FROM ${recordset(
                sql,
                replies.map((entry) => ({ order_id: entry.orderId, command: entry.command, reply: entry.reply })),
                "v (order_id text, command text, reply jsonb)",
              )}
              ON CONFLICT (order_id, command) DO NOTHING)
            SELECT cm_guard((SELECT count(*) FROM changed) = ${changes.length}, 'carts') AS ok`.pipe(
            Effect.asVoid,
            onGuardFailure(() => new CartsOutdated()),
            Effect.catchTag("SqlError", Effect.die),
          )

    return {
      loadCommands,
      writeCommands,
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
