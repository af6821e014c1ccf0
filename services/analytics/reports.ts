/**
 * The read side of analytics: the report queries over the aggregates. Ranges are validated here and
 * fail as the contract's InvalidRange; SQL failures are infrastructure and become defects at this edge.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import {
  FailureReason,
  InvalidRange,
  maxDayBuckets,
  maxMinuteBuckets,
  ProductSales,
  type ProductRanking,
  SalesBucket,
  Summary,
} from "../../rpc/analytics.ts"
import { Currency, Money, Sku } from "../../rpc/common.ts"
import { type BucketUnit, bucketCount, bucketStarts, dayOf, floorTo } from "./buckets.ts"

export interface OpenRange {
  readonly from?: Date | undefined
  readonly to?: Date | undefined
}

export interface TopProductsQuery extends OpenRange {
  readonly by: ProductRanking
  readonly currency?: Currency | undefined
  readonly limit: number
}

export interface UnitsCommitted {
  readonly sku: Sku
  readonly units: number
}

/** SUMs of bigint come back as numeric text; our amounts stay far below 2^53. */
const num = (value: string | number | null): number => (value === null ? 0 : Number(value))

const money = (currency: string, amount: string | number | null) =>
  Money.make({ amount: num(amount), currency: Currency.make(currency) })

const checkOrder = (from: Date, to: Date) =>
  from.getTime() < to.getTime()
    ? Effect.void
    : Effect.fail(new InvalidRange({ from, to, message: "`from` must be before `to`" }))

const checkOpenRange = (range: OpenRange) =>
  range.from !== undefined && range.to !== undefined ? checkOrder(range.from, range.to) : Effect.void

const seriesLimit: Record<BucketUnit, number> = { minute: maxMinuteBuckets, day: maxDayBuckets }

interface ActivityRow {
  readonly orders_created: string | null
  readonly orders_confirmed: string | null
  readonly orders_failed: string | null
  readonly orders_cancelled: string | null
  readonly payments_captured: string | null
  readonly payments_declined: string | null
  readonly new_customers: string | null
}

interface MoneyRow {
  readonly currency: string
  readonly revenue: string
  readonly refunded: string
}

export class AnalyticsReports extends Effect.Service<AnalyticsReports>()("analytics/AnalyticsReports", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** All time from the day rows (few); a range from the minute rows overlapping it. */
    const bucketFilter = (range: OpenRange) => {
      if (range.from === undefined && range.to === undefined) return sql`unit = 'day'`
      return sql.and([
        sql`unit = 'minute'`,
        ...(range.from === undefined ? [] : [sql`bucket >= ${floorTo("minute", range.from)}`]),
        ...(range.to === undefined ? [] : [sql`bucket < ${range.to}`]),
      ])
    }

    const dayFilter = (range: OpenRange) => {
      const clauses = []
      if (range.from !== undefined) clauses.push(sql`day >= ${dayOf(range.from)}::date`)
      // The last day overlapping a half-open range is the day of its last instant.
      if (range.to !== undefined) clauses.push(sql`day <= ${dayOf(new Date(range.to.getTime() - 1))}::date`)
      return sql.and(clauses)
    }

    const summary = Effect.fn("Analytics.summary")(function* (range: OpenRange) {
      yield* checkOpenRange(range)
      const where = bucketFilter(range)
      const [counts] = yield* sql<ActivityRow>`
        SELECT SUM(orders_created) AS orders_created, SUM(orders_confirmed) AS orders_confirmed,
               SUM(orders_failed) AS orders_failed, SUM(orders_cancelled) AS orders_cancelled,
               SUM(payments_captured) AS payments_captured, SUM(payments_declined) AS payments_declined,
               SUM(new_customers) AS new_customers
        FROM activity WHERE ${where}`.pipe(Effect.orDie)
      const amounts = yield* sql<MoneyRow>`
        SELECT currency, SUM(revenue) AS revenue, SUM(refunded) AS refunded
        FROM money WHERE ${where} GROUP BY currency ORDER BY currency`.pipe(Effect.orDie)
      const created = num(counts?.orders_created ?? null)
      const confirmed = num(counts?.orders_confirmed ?? null)
      return Summary.make({
        ordersCreated: created,
        ordersConfirmed: confirmed,
        ordersFailed: num(counts?.orders_failed ?? null),
        ordersCancelled: num(counts?.orders_cancelled ?? null),
        // A confirmation whose order.created was before the range can push a short range above 1.
        conversionRate: created === 0 ? null : Math.min(1, confirmed / created),
        revenue: amounts.filter((row) => num(row.revenue) > 0).map((row) => money(row.currency, row.revenue)),
        refunded: amounts.filter((row) => num(row.refunded) > 0).map((row) => money(row.currency, row.refunded)),
        paymentsCaptured: num(counts?.payments_captured ?? null),
        paymentsDeclined: num(counts?.payments_declined ?? null),
        newCustomers: num(counts?.new_customers ?? null),
      })
    })

    const salesSeries = Effect.fn("Analytics.salesSeries")(function* (unit: BucketUnit, from: Date, to: Date) {
      yield* checkOrder(from, to)
      if (bucketCount(unit, from, to) > seriesLimit[unit]) {
        return yield* new InvalidRange({ from, to, message: `at most ${seriesLimit[unit]} ${unit} buckets per call` })
      }
      const starts = bucketStarts(unit, from, to)
      const first = starts[0] ?? floorTo(unit, from)
      const counts = yield* sql<{
        readonly bucket: Date
        readonly orders_created: number
        readonly orders_confirmed: number
        readonly orders_failed: number
      }>`SELECT bucket, orders_created, orders_confirmed, orders_failed FROM activity
         WHERE unit = ${unit} AND bucket >= ${first} AND bucket < ${to}`.pipe(Effect.orDie)
      const amounts = yield* sql<{ readonly bucket: Date; readonly currency: string; readonly revenue: string }>`
        SELECT bucket, currency, revenue FROM money
        WHERE unit = ${unit} AND bucket >= ${first} AND bucket < ${to} AND revenue > 0
        ORDER BY currency`.pipe(Effect.orDie)
      const countsAt = new Map(counts.map((row) => [row.bucket.getTime(), row]))
      const revenueAt = new Map<number, Array<Money>>()
      for (const row of amounts) {
        const key = row.bucket.getTime()
        revenueAt.set(key, [...(revenueAt.get(key) ?? []), money(row.currency, row.revenue)])
      }
      return starts.map((start) => {
        const row = countsAt.get(start.getTime())
        return SalesBucket.make({
          start,
          ordersCreated: row?.orders_created ?? 0,
          ordersConfirmed: row?.orders_confirmed ?? 0,
          ordersFailed: row?.orders_failed ?? 0,
          revenue: revenueAt.get(start.getTime()) ?? [],
        })
      })
    })

    const topProducts = Effect.fn("Analytics.topProducts")(function* (query: TopProductsQuery) {
      yield* checkOpenRange(query)
      const where = sql.and([
        dayFilter(query),
        ...(query.currency === undefined ? [] : [sql`currency = ${query.currency}`]),
      ])
      const rankColumn = query.by === "units" ? "units" : "ranked_revenue"
      const rows = yield* sql<{
        readonly sku: string
        readonly units: string
        readonly orders: string
        readonly currency: string
        readonly revenue: string
      }>`
        WITH sales AS (SELECT * FROM product_sales WHERE ${where}),
        ranked AS (
          SELECT sku, SUM(units) AS units, SUM(orders) AS orders,
                 COALESCE(SUM(revenue) FILTER (WHERE currency = ${query.currency ?? null}), 0) AS ranked_revenue
          FROM sales GROUP BY sku
          ORDER BY ${sql(rankColumn)} DESC, sku LIMIT ${query.limit}
        )
        SELECT ranked.sku, ranked.units, ranked.orders, sales.currency, SUM(sales.revenue) AS revenue
        FROM ranked JOIN sales USING (sku)
        GROUP BY ranked.sku, ranked.units, ranked.orders, ranked.ranked_revenue, sales.currency
        ORDER BY ranked.${sql(rankColumn)} DESC, ranked.sku, sales.currency`.pipe(Effect.orDie)
      const bySku = new Map<string, { units: number; orders: number; revenue: Array<Money> }>()
      for (const row of rows) {
        const entry = bySku.get(row.sku) ?? { units: num(row.units), orders: num(row.orders), revenue: [] }
        if (num(row.revenue) > 0) entry.revenue.push(money(row.currency, row.revenue))
        bySku.set(row.sku, entry)
      }
      return [...bySku].map(([sku, entry]) => ProductSales.make({ sku: Sku.make(sku), ...entry }))
    })

    const failureReasons = Effect.fn("Analytics.failureReasons")(function* (range: OpenRange) {
      yield* checkOpenRange(range)
      const rows = yield* sql<{ readonly step: string; readonly reason: string; readonly count: string }>`
        SELECT step, reason, SUM(count) AS count FROM failure_reasons WHERE ${dayFilter(range)}
        GROUP BY step, reason ORDER BY SUM(count) DESC, step, reason`.pipe(Effect.orDie)
      return rows.map((row) => FailureReason.make({ step: row.step, reason: row.reason, count: num(row.count) }))
    })

    /** Units committed per SKU on the days from `firstDay` on; the given SKUs, or the best sellers. */
    const unitsCommitted = Effect.fn("Analytics.unitsCommitted")(function* (
      firstDay: string,
      skus: ReadonlyArray<Sku> | undefined,
      limit: number,
    ) {
      const rows = yield* sql<{ readonly sku: string; readonly units: string }>`
        SELECT sku, SUM(units) AS units FROM stock_commits
        WHERE day >= ${firstDay}::date ${skus === undefined ? sql`` : sql`AND ${sql.in("sku", skus)}`}
        GROUP BY sku ORDER BY SUM(units) DESC, sku LIMIT ${limit}`.pipe(Effect.orDie)
      return rows.map((row): UnitsCommitted => ({ sku: Sku.make(row.sku), units: num(row.units) }))
    })

    return { summary, salesSeries, topProducts, failureReasons, unitsCommitted }
  }),
}) {}
