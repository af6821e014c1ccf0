/**
 * Facts folded into the changes they make to each aggregate table, summed per row key in memory, so
 * a run of events becomes one upsert per table instead of one per event. Rows come out sorted by
 * key: concurrent transactions then lock shared rows in the same order and cannot deadlock.
 */
import { type BucketUnit, dayOf, floorTo } from "./buckets.ts"
import { Fact } from "./facts.ts"

export const activityCounters = [
  "orders_created",
  "orders_confirmed",
  "orders_failed",
  "orders_cancelled",
  "payments_captured",
  "payments_declined",
  "new_customers",
] as const
export type ActivityCounter = (typeof activityCounters)[number]

// Row shapes are type aliases, not interfaces: sql.insert takes them as plain records.
export type ActivityRow = { unit: BucketUnit; bucket: Date } & Record<ActivityCounter, number>
export type MoneyRow = {
  unit: BucketUnit
  bucket: Date
  currency: string
  revenue: number
  refunded: number
}
export type ProductSalesRow = {
  day: string
  sku: string
  currency: string
  units: number
  orders: number
  revenue: number
}
export type FailureRow = {
  day: string
  step: string
  reason: string
  count: number
}
export type StockCommitRow = {
  day: string
  sku: string
  units: number
}

export interface AggregateDeltas {
  readonly activity: ReadonlyArray<ActivityRow>
  readonly money: ReadonlyArray<MoneyRow>
  readonly productSales: ReadonlyArray<ProductSalesRow>
  readonly failures: ReadonlyArray<FailureRow>
  readonly stockCommits: ReadonlyArray<StockCommitRow>
}

export interface DatedFact {
  readonly fact: Fact
  readonly occurredAt: Date
}

/** Rows by key; a new key starts from `empty`, and `add` folds a change into the row. */
class RowsByKey<Row> {
  private readonly rows = new Map<string, Row>()
  constructor(private readonly empty: (key: ReadonlyArray<string | Date>) => Row) {}

  change(key: ReadonlyArray<string | Date>, add: (row: Row) => void) {
    const id = key.map((part) => (part instanceof Date ? part.toISOString() : part)).join("\u0000")
    const row = this.rows.get(id) ?? this.empty(key)
    add(row)
    this.rows.set(id, row)
  }

  sorted(): ReadonlyArray<Row> {
    return [...this.rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row)
  }
}

const units: ReadonlyArray<BucketUnit> = ["day", "minute"]

export const foldFacts = (facts: ReadonlyArray<DatedFact>): AggregateDeltas => {
  const activity = new RowsByKey<ActivityRow>(([unit, bucket]) => ({
    unit: unit as BucketUnit,
    bucket: bucket as Date,
    orders_created: 0,
    orders_confirmed: 0,
    orders_failed: 0,
    orders_cancelled: 0,
    payments_captured: 0,
    payments_declined: 0,
    new_customers: 0,
  }))
  const money = new RowsByKey<MoneyRow>(([unit, bucket, currency]) => ({
    unit: unit as BucketUnit,
    bucket: bucket as Date,
    currency: currency as string,
    revenue: 0,
    refunded: 0,
  }))
  const productSales = new RowsByKey<ProductSalesRow>(([day, sku, currency]) => ({
    day: day as string,
    sku: sku as string,
    currency: currency as string,
    units: 0,
    orders: 0,
    revenue: 0,
  }))
  const failures = new RowsByKey<FailureRow>(([day, step, reason]) => ({
    day: day as string,
    step: step as string,
    reason: reason as string,
    count: 0,
  }))
  const stockCommits = new RowsByKey<StockCommitRow>(([day, sku]) => ({
    day: day as string,
    sku: sku as string,
    units: 0,
  }))

  for (const { fact, occurredAt: at } of facts) {
    const day = dayOf(at)
    const count = (counter: ActivityCounter) => {
      for (const unit of units) activity.change([unit, floorTo(unit, at)], (row) => void (row[counter] += 1))
    }
    const addMoney = (column: "revenue" | "refunded", currency: string, amount: number) => {
      for (const unit of units) {
        money.change([unit, floorTo(unit, at), currency], (row) => void (row[column] += amount))
      }
    }
    Fact.$match(fact, {
      OrderCreated: () => count("orders_created"),
      OrderConfirmed: ({ total, lines }) => {
        count("orders_confirmed")
        addMoney("revenue", total.currency, total.amount)
        // An order counts once per SKU and currency, however many lines name them.
        const seen = new Set<string>()
        for (const line of lines) {
          const key = [day, line.sku, line.lineTotal.currency]
          const first = !seen.has(key.join("\u0000"))
          seen.add(key.join("\u0000"))
          productSales.change(key, (row) => {
            row.units += line.quantity
            row.revenue += line.lineTotal.amount
            if (first) row.orders += 1
          })
        }
      },
      OrderFailed: ({ step, reason }) => {
        count("orders_failed")
        failures.change([day, step, reason], (row) => void (row.count += 1))
      },
      OrderCancelled: () => count("orders_cancelled"),
      PaymentCaptured: () => count("payments_captured"),
      PaymentDeclined: () => count("payments_declined"),
      PaymentRefunded: ({ amount }) => addMoney("refunded", amount.currency, amount.amount),
      StockCommitted: ({ lines }) => {
        for (const line of lines) stockCommits.change([day, line.sku], (row) => void (row.units += line.quantity))
      },
      CustomerRegistered: () => count("new_customers"),
      Ignored: () => undefined,
    })
  }

  return {
    activity: activity.sorted(),
    money: money.sorted(),
    productSales: productSales.sorted(),
    failures: failures.sorted(),
    stockCommits: stockCommits.sorted(),
  }
}
