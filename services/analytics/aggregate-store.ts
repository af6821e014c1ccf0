/**
 * The write side of analytics: applies one event's Fact to the aggregates, exactly once per event id.
 *
 * The event id is inserted into processed_events in the same transaction as the aggregate updates, so
 * an event handed over again (the process died after the commit but before Kafka got the offset, or a
 * rebalance moved the partition mid-batch) finds its id taken and changes nothing. Every statement
 * locks the rows it upserts in one fixed order (activity, money, product_sales, failure_reasons,
 * stock_commits; within a table by key) so partitions applied concurrently cannot deadlock each other.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Effect } from "effect"
import { Money } from "../../rpc/common.ts"
import { dayOf, floorTo } from "./buckets.ts"
import { Fact, type SoldLine, type StockLine } from "./facts.ts"

export interface EventIdentity {
  readonly id: string
  readonly type: string
  readonly topic: string
  readonly occurredAt: Date
}

/** applied: it changed aggregates; ignored: recorded, changes nothing; duplicate: seen before, skipped. */
export type RecordOutcome = "applied" | "ignored" | "duplicate"

type ActivityCounter =
  | "orders_created"
  | "orders_confirmed"
  | "orders_failed"
  | "orders_cancelled"
  | "payments_captured"
  | "payments_declined"
  | "new_customers"

type MoneyColumn = "revenue" | "refunded"

/** Lines of one SKU (in one currency) summed: a multi-row upsert may touch each key only once. */
const mergeLines = <L extends { readonly sku: string }>(
  lines: ReadonlyArray<L>,
  keyOf: (line: L) => string,
  merge: (a: L, b: L) => L,
): ReadonlyArray<L> => {
  const merged = new Map<string, L>()
  for (const line of lines) {
    const key = keyOf(line)
    const previous = merged.get(key)
    merged.set(key, previous === undefined ? line : merge(previous, line))
  }
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line)
}

const mergeSold = (lines: ReadonlyArray<SoldLine>) =>
  mergeLines(
    lines,
    (line) => `${line.sku}\u0000${line.lineTotal.currency}`,
    (a, b) => ({
      sku: a.sku,
      quantity: a.quantity + b.quantity,
      lineTotal: Money.make({ amount: a.lineTotal.amount + b.lineTotal.amount, currency: a.lineTotal.currency }),
    }),
  )

const mergeStock = (lines: ReadonlyArray<StockLine>) =>
  mergeLines(
    lines,
    (line) => line.sku,
    (a, b) => ({ sku: a.sku, quantity: a.quantity + b.quantity }),
  )

export class AggregateStore extends Effect.Service<AggregateStore>()("analytics/AggregateStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const bumpActivity = (counter: ActivityCounter, at: Date) =>
      sql`INSERT INTO activity ${sql.insert([
        { unit: "minute", bucket: floorTo("minute", at), [counter]: 1 },
        { unit: "day", bucket: floorTo("day", at), [counter]: 1 },
      ])}
      ON CONFLICT (unit, bucket) DO UPDATE SET ${sql(counter)} = activity.${sql(counter)} + EXCLUDED.${sql(counter)}`

    const addMoney = (column: MoneyColumn, at: Date, money: Money) =>
      sql`INSERT INTO money ${sql.insert([
        { unit: "minute", bucket: floorTo("minute", at), currency: money.currency, [column]: money.amount },
        { unit: "day", bucket: floorTo("day", at), currency: money.currency, [column]: money.amount },
      ])}
      ON CONFLICT (unit, bucket, currency) DO UPDATE SET ${sql(column)} = money.${sql(column)} + EXCLUDED.${sql(column)}`

    const addProductSales = (at: Date, lines: ReadonlyArray<SoldLine>) => {
      const day = dayOf(at)
      const rows = mergeSold(lines).map((line) => ({
        day,
        sku: line.sku,
        currency: line.lineTotal.currency,
        units: line.quantity,
        orders: 1,
        revenue: line.lineTotal.amount,
      }))
      if (rows.length === 0) return Effect.void
      return sql`INSERT INTO product_sales ${sql.insert(rows)}
        ON CONFLICT (day, sku, currency) DO UPDATE SET
          units = product_sales.units + EXCLUDED.units,
          orders = product_sales.orders + EXCLUDED.orders,
          revenue = product_sales.revenue + EXCLUDED.revenue`
    }

    const addFailure = (at: Date, step: string, reason: string) =>
      sql`INSERT INTO failure_reasons ${sql.insert({ day: dayOf(at), step, reason, count: 1 })}
        ON CONFLICT (day, step, reason) DO UPDATE SET count = failure_reasons.count + 1`

    const addStockCommits = (at: Date, lines: ReadonlyArray<StockLine>) => {
      const day = dayOf(at)
      const rows = mergeStock(lines).map((line) => ({ day, sku: line.sku, units: line.quantity }))
      if (rows.length === 0) return Effect.void
      return sql`INSERT INTO stock_commits ${sql.insert(rows)}
        ON CONFLICT (day, sku) DO UPDATE SET units = stock_commits.units + EXCLUDED.units`
    }

    const apply = (fact: Fact, at: Date): Effect.Effect<void, SqlError.SqlError> =>
      Fact.$match(fact, {
        OrderCreated: () => bumpActivity("orders_created", at),
        OrderConfirmed: ({ total, lines }) =>
          Effect.all(
            [bumpActivity("orders_confirmed", at), addMoney("revenue", at, total), addProductSales(at, lines)],
            {
              discard: true,
            },
          ),
        OrderFailed: ({ step, reason }) =>
          Effect.all([bumpActivity("orders_failed", at), addFailure(at, step, reason)], { discard: true }),
        OrderCancelled: () => bumpActivity("orders_cancelled", at),
        PaymentCaptured: () => bumpActivity("payments_captured", at),
        PaymentDeclined: () => bumpActivity("payments_declined", at),
        PaymentRefunded: ({ amount }) => addMoney("refunded", at, amount),
        StockCommitted: ({ lines }) => addStockCommits(at, lines),
        CustomerRegistered: () => bumpActivity("new_customers", at),
        Ignored: () => Effect.void,
      }).pipe(Effect.asVoid)

    /** Applies `fact` unless `event` was recorded before; commits both or neither. */
    const record = Effect.fn("Analytics.record")(function* (event: EventIdentity, fact: Fact) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const claimed = yield* sql`INSERT INTO processed_events ${sql.insert({
            event_id: event.id,
            event_type: event.type,
            topic: event.topic,
            occurred_at: event.occurredAt,
          })} ON CONFLICT (event_id) DO NOTHING RETURNING event_id`
          if (claimed.length === 0) return "duplicate" satisfies RecordOutcome
          yield* apply(fact, event.occurredAt)
          return (Fact.$is("Ignored")(fact) ? "ignored" : "applied") satisfies RecordOutcome
        }),
      )
    })

    return { record }
  }),
}) {}
