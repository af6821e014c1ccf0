/**
 * The order service's SQL: orders, their items, and the idempotent creation of an order with its
 * saga row in one transaction.
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { type Money, OrderId, type PostalAddress, type UserId } from "../../rpc/common.ts"
import type { PaymentMethodId } from "../../rpc/payment.ts"
import {
  IdempotencyKeyConflict,
  type IdempotencyKey,
  Order,
  type OrderFailure,
  OrderNotFound,
  type OrderStatus,
} from "../../rpc/order.ts"

interface OrderRow {
  readonly id: string
  readonly user_id: string
  readonly status: OrderStatus
  readonly request_hash: string
  readonly total_amount: string | null
  readonly currency: string | null
  readonly failure: { step: string; reason: string; message: string } | null
  readonly delivery_zone: string
  readonly created_at: Date
  readonly updated_at: Date
}

interface ItemRow {
  readonly order_id: string
  readonly sku: string
  readonly name: string
  readonly quantity: number
  readonly unit_amount: string
  readonly currency: string
}

export interface NewOrder {
  readonly userId: UserId
  readonly idempotencyKey: IdempotencyKey
  readonly paymentMethod: PaymentMethodId
  readonly address: PostalAddress
  readonly deliveryZone: string
}

export interface CopiedItem {
  readonly sku: string
  readonly name: string
  readonly quantity: number
  readonly unitAmount: number
  readonly currency: string
}

const decodeOrder = Schema.decodeUnknownSync(Order)

/** Hash of what a request asks for, so the same key with a different request is refused, not merged. */
const requestHash = (order: NewOrder) =>
  new Bun.CryptoHasher("sha256")
    .update(JSON.stringify([order.paymentMethod, order.address, order.deliveryZone]))
    .digest("hex")

export class OrderRepository extends Effect.Service<OrderRepository>()("order/OrderRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const toOrder = (row: OrderRow, items: ReadonlyArray<ItemRow>): Order =>
      decodeOrder({
        id: row.id,
        userId: row.user_id,
        status: row.status,
        items: items.map((item) => {
          const unit = Number(item.unit_amount)
          return {
            sku: item.sku,
            name: item.name,
            quantity: item.quantity,
            unitPrice: { amount: unit, currency: item.currency },
            lineTotal: { amount: unit * item.quantity, currency: item.currency },
          }
        }),
        total:
          row.total_amount === null || row.currency === null
            ? null
            : { amount: Number(row.total_amount), currency: row.currency },
        failure: row.failure,
        deliveryZone: row.delivery_zone,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
      })

    /** More CTEs after a statement's first: `, part0 AS (…), part1 AS (…)`. */
    const withParts = (parts: ReadonlyArray<Statement.Fragment>) =>
      sql.join(" ", false, "")(parts.map((part, index) => sql`, ${sql.literal(`part${index}`)} AS (${part})`))

    const itemsOf = (ids: ReadonlyArray<string>) =>
      ids.length === 0
        ? Effect.succeed([] as ReadonlyArray<ItemRow>)
        : sql<ItemRow>`SELECT * FROM order_items WHERE order_id IN ${sql.in(ids)} ORDER BY sku`

    const findRow = (orderId: string) =>
      sql<OrderRow>`SELECT * FROM orders WHERE id = ${orderId}`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    const get = Effect.fn("Order.get")(function* (orderId: OrderId) {
      const row = yield* findRow(orderId)
      if (Option.isNone(row)) return yield* new OrderNotFound({ orderId })
      return toOrder(row.value, yield* itemsOf([orderId]))
    })

    /**
     * Creates the order PENDING as `orderId` together with what `alongside` adds (the saga row, the event),
     * in ONE statement: each part is a CTE done only when the order row was inserted. A repeated key
     * returns the existing order and `created: false`.
     */
    const create = (
      order: NewOrder,
      orderId: OrderId,
      alongside: (onlyIf: Statement.Fragment) => ReadonlyArray<Statement.Fragment>,
    ): Effect.Effect<
      { readonly order: Order; readonly created: boolean },
      IdempotencyKeyConflict | SqlError.SqlError
    > =>
      Effect.gen(function* () {
        const hash = requestHash(order)
        const inserted = yield* sql<OrderRow>`
          WITH placed AS (
            INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, payment_method, address, delivery_zone)
            VALUES (${orderId}, ${order.userId}, ${order.idempotencyKey}, ${hash}, 'PENDING', ${order.paymentMethod},
                    ${JSON.stringify(order.address)}::jsonb, ${order.deliveryZone})
            ON CONFLICT (user_id, idempotency_key) DO NOTHING
            RETURNING *)
          ${withParts(alongside(sql`EXISTS (SELECT 1 FROM placed)`))}
          SELECT * FROM placed`
        const row = inserted[0]
        if (row !== undefined) return { order: toOrder(row, []), created: true }
        const existing = yield* sql<OrderRow>`
          SELECT * FROM orders WHERE user_id = ${order.userId} AND idempotency_key = ${order.idempotencyKey}`
        const found = existing[0]
        if (found === undefined) return yield* Effect.dieMessage("idempotency key conflict without a row")
        if (found.request_hash !== hash) {
          return yield* new IdempotencyKeyConflict({ key: order.idempotencyKey, orderId: OrderId.make(found.id) })
        }
        return { order: toOrder(found, yield* itemsOf([found.id])), created: false }
      })

    const list = Effect.fn("Order.list")(function* (userId: UserId, limit: number, before: Option.Option<Date>) {
      const rows = yield* Option.match(before, {
        onNone: () =>
          sql<OrderRow>`SELECT * FROM orders WHERE user_id = ${userId} ORDER BY created_at DESC LIMIT ${limit}`,
        onSome: (date) =>
          sql<OrderRow>`SELECT * FROM orders WHERE user_id = ${userId} AND created_at < ${date}
                        ORDER BY created_at DESC LIMIT ${limit}`,
      })
      const items = yield* itemsOf(rows.map((row) => row.id))
      return rows.map((row) =>
        toOrder(
          row,
          items.filter((item) => item.order_id === row.id),
        ),
      )
    })

    /**
     * Copies the cart's lines into the order once; a repeated copy (a resumed saga) changes nothing.
     * One statement (the items in a CTE), so lines and total land together without a transaction's
     * extra round trips.
     */
    const copyItems = (orderId: OrderId, items: ReadonlyArray<CopiedItem>, total: Money) => {
      const setTotal = sql`UPDATE orders SET total_amount = ${total.amount}, currency = ${total.currency}, updated_at = now()
                           WHERE id = ${orderId}`
      if (items.length === 0) return Effect.asVoid(setTotal)
      return Effect.asVoid(sql`
        WITH copied AS (
          INSERT INTO order_items ${sql.insert(
            items.map((item) => ({
              order_id: orderId,
              sku: item.sku,
              name: item.name,
              quantity: item.quantity,
              unit_amount: item.unitAmount,
              currency: item.currency,
            })),
          )} ON CONFLICT (order_id, sku) DO NOTHING)
        ${setTotal}`)
    }

    /**
     * Moves an order between states only from the ones allowed, with what `alongside` adds (its event) in the
     * same statement when it moved; returns None when it was not in `from`.
     */
    const transition = (
      orderId: OrderId,
      from: ReadonlyArray<OrderStatus>,
      to: OrderStatus,
      failure: Option.Option<OrderFailure> = Option.none(),
      alongside: (onlyIf: Statement.Fragment) => ReadonlyArray<Statement.Fragment> = () => [],
    ) =>
      sql<OrderRow>`
        WITH moved AS (
          UPDATE orders SET status = ${to}, updated_at = now(),
            failure = ${Option.match(failure, { onNone: () => null, onSome: (f) => JSON.stringify(f) })}::jsonb
          WHERE id = ${orderId} AND status IN ${sql.in(from)}
          RETURNING *)
        ${withParts(alongside(sql`EXISTS (SELECT 1 FROM moved)`))}
        SELECT * FROM moved`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    /**
     * Marks a PENDING order as being confirmed, after which CancelOrder refuses it; true also when it is
     * already confirmed (a resumed saga), false when it was cancelled (or failed) first.
     */
    const markConfirming = (orderId: OrderId) =>
      sql<{ status: OrderStatus }>`
        UPDATE orders SET confirming = (status = 'PENDING') WHERE id = ${orderId} RETURNING status`.pipe(
        Effect.map((rows) => rows[0]?.status === "PENDING" || rows[0]?.status === "CONFIRMED"),
      )

    /**
     * PENDING → CANCELLED unless the saga began confirming, with what `alongside` adds (the event) in the
     * same statement, done only if the order moved; returns None when not moved.
     */
    const cancel = (
      orderId: OrderId,
      alongside: (onlyIf: Statement.Fragment) => ReadonlyArray<Statement.Fragment> = () => [],
    ) =>
      sql<OrderRow>`
        WITH moved AS (
          UPDATE orders SET status = 'CANCELLED', updated_at = now()
          WHERE id = ${orderId} AND status = 'PENDING' AND NOT confirming
          RETURNING *)
        ${withParts(alongside(sql`EXISTS (SELECT 1 FROM moved)`))}
        SELECT * FROM moved`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    return { get, create, list, copyItems, transition, markConfirming, cancel }
  }),
}) {}
