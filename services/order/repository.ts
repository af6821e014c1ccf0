/**
 * The order service's SQL: orders, their items, and the idempotent creation of an order with its
 * saga row in one transaction.
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { Effect, Exit, Option, Schema } from "effect"
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
import type { OutgoingEvent } from "../../src/events/envelope.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { makeGroupCommit } from "../../src/group-commit.ts"
import { recordset } from "../../src/postgres.ts"

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
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox

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
     * Copies each cart's lines into its order once; a repeated copy (a resumed saga) changes nothing. One
     * statement for all of them (the items in a CTE), so lines and totals land together.
     */
    const copyItemsMany = (
      copies: ReadonlyArray<{
        readonly orderId: OrderId
        readonly items: ReadonlyArray<CopiedItem>
        readonly total: Money
      }>,
    ) =>
      sql`
        WITH copied AS (
          INSERT INTO order_items (order_id, sku, name, quantity, unit_amount, currency)
          SELECT i.order_id, i.sku, i.name, i.quantity, i.unit_amount, i.currency
          FROM ${recordset(
            sql,
            copies.flatMap(({ orderId, items }) =>
              items.map((item) => ({
                order_id: orderId,
                sku: item.sku,
                name: item.name,
                quantity: item.quantity,
                unit_amount: item.unitAmount,
                currency: item.currency,
              })),
            ),
            "i (order_id text, sku text, name text, quantity int, unit_amount bigint, currency text)",
          )}
          ON CONFLICT (order_id, sku) DO NOTHING)
        UPDATE orders o SET total_amount = t.amount, currency = t.currency, updated_at = now()
        FROM ${recordset(
          sql,
          copies.map(({ orderId, total }) => ({ id: orderId, amount: total.amount, currency: total.currency })),
          "t (id text, amount bigint, currency text)",
        )}
        WHERE o.id = t.id`.pipe(Effect.as(copies.map(() => Exit.void)))

    /**
     * Marks each PENDING order as being confirmed, after which CancelOrder refuses it; true also when it
     * is already confirmed (a resumed saga), false when it was cancelled (or failed) first.
     */
    const markConfirmingMany = (orderIds: ReadonlyArray<OrderId>) =>
      sql<{ id: string; status: OrderStatus }>`
        UPDATE orders o SET confirming = (o.status = 'PENDING')
        FROM jsonb_array_elements_text(${JSON.stringify(orderIds)}::jsonb) AS v (id)
        WHERE o.id = v.id
        RETURNING o.id, o.status`.pipe(
        Effect.map((rows) => {
          const status = new Map(rows.map((row) => [row.id, row.status]))
          return orderIds.map((id) => Exit.succeed(status.get(id) === "PENDING" || status.get(id) === "CONFIRMED"))
        }),
      )

    /**
     * PENDING → CONFIRMED for each order, with its events in the same statement, written only for an
     * order that moved (an order's events carry its id as their key). None for an order not PENDING.
     */
    const confirmMany = (
      confirmations: ReadonlyArray<{ readonly orderId: OrderId; readonly events: ReadonlyArray<OutgoingEvent> }>,
    ) =>
      sql<OrderRow>`
        WITH moved AS (
          UPDATE orders o SET status = 'CONFIRMED', updated_at = now(), failure = NULL
          FROM jsonb_array_elements_text(${JSON.stringify(confirmations.map(({ orderId }) => orderId))}::jsonb) AS v (id)
          WHERE o.id = v.id AND o.status = 'PENDING'
          RETURNING o.*),
        events AS (${outbox.appendIf(
          confirmations.flatMap(({ events }) => events),
          sql`EXISTS (SELECT 1 FROM moved m WHERE m.id = e.event_key)`,
        )})
        SELECT * FROM moved`.pipe(
        Effect.map((rows) => {
          const moved = new Map(rows.map((row) => [row.id, row]))
          return confirmations.map(({ orderId }) => Exit.succeed(Option.fromNullable(moved.get(orderId))))
        }),
      )

    // Sagas at the same step reach these together (src/saga's beat); each runs once for all of them.
    const copyItems = yield* makeGroupCommit("order.copy-items", copyItemsMany)
    const markConfirming = yield* makeGroupCommit("order.mark-confirming", markConfirmingMany)
    const confirm = yield* makeGroupCommit("order.confirm", confirmMany)

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

    return {
      get,
      create,
      list,
      copyItems: (orderId: OrderId, items: ReadonlyArray<CopiedItem>, total: Money) =>
        copyItems({ orderId, items, total }),
      transition,
      markConfirming,
      confirm: (orderId: OrderId, events: ReadonlyArray<OutgoingEvent>) => confirm({ orderId, events }),
      cancel,
    }
  }),
  dependencies: [Outbox.Default],
}) {}
