/**
 * What analytics should report, computed straight from the source services' databases with SQL:
 * the figures the end-to-end suite holds analytics' answers against.
 */
import { adminQuery } from "../support/postgres.ts"

export interface Amount {
  amount: number
  currency: string
}

// Plain mutable shapes: what bun's toEqual compares analytics' answers with.
export interface ExpectedTotals {
  readonly summary: {
    ordersCreated: number
    ordersConfirmed: number
    ordersFailed: number
    ordersCancelled: number
    revenue: Array<Amount>
    refunded: Array<Amount>
    paymentsCaptured: number
    paymentsDeclined: number
    newCustomers: number
  }
  readonly failureReasons: Array<{ step: string; reason: string; count: number }>
  /** Confirmed order lines per SKU, most units first. */
  readonly products: Array<{ sku: string; units: number; orders: number; revenue: Array<Amount> }>
  readonly stock: ReadonlyMap<string, { readonly available: number; readonly committed: number }>
}

/** The topics analytics consumes, and the databases whose outboxes publish to them. */
export const sourceTopics = ["orders", "payments", "inventory", "users"] as const
export const sourceServices = ["order", "payment", "inventory", "user"] as const

const rows = (suffix: string, service: string, text: string) => adminQuery(text, `cm_${service}${suffix}`)

const amounts = (list: ReadonlyArray<Record<string, unknown>>): Array<Amount> =>
  list.map((row) => ({ amount: Number(row.amount), currency: String(row.currency) }))

export const expectedTotals = async (suffix: string): Promise<ExpectedTotals> => {
  const [orders] = await rows(
    suffix,
    "order",
    `SELECT count(*)::int AS created,
            count(*) FILTER (WHERE status IN ('CONFIRMED', 'SHIPPED'))::int AS confirmed,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE status = 'CANCELLED')::int AS cancelled
     FROM orders`,
  )
  const revenue = await rows(
    suffix,
    "order",
    `SELECT currency, sum(total_amount)::text AS amount FROM orders
     WHERE status IN ('CONFIRMED', 'SHIPPED') GROUP BY currency ORDER BY currency`,
  )
  const failures = await rows(
    suffix,
    "order",
    `SELECT failure->>'step' AS step, failure->>'reason' AS reason, count(*)::int AS count FROM orders
     WHERE status = 'FAILED' GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2`,
  )
  const lines = await rows(
    suffix,
    "order",
    `SELECT i.sku, i.currency, sum(i.quantity)::int AS units, count(*)::int AS orders,
            sum(i.quantity * i.unit_amount)::text AS amount
     FROM order_items i JOIN orders o ON o.id = i.order_id
     WHERE o.status IN ('CONFIRMED', 'SHIPPED') GROUP BY i.sku, i.currency`,
  )
  const [payments] = await rows(
    suffix,
    "payment",
    `SELECT count(*) FILTER (WHERE status = 'captured')::int AS captured,
            count(*) FILTER (WHERE status = 'declined')::int AS declined
     FROM payments`,
  )
  const refunded = await rows(
    suffix,
    "payment",
    `SELECT currency, sum(amount)::text AS amount FROM refunds WHERE status = 'refunded'
     GROUP BY currency ORDER BY currency`,
  )
  const [users] = await rows(suffix, "user", "SELECT count(*)::int AS registered FROM users")
  const stock = await rows(suffix, "inventory", "SELECT sku, available, committed FROM stock_items")

  const products = new Map<string, { sku: string; units: number; orders: number; revenue: Array<Amount> }>()
  for (const line of lines) {
    const sku = String(line.sku)
    const entry = products.get(sku) ?? { sku, units: 0, orders: 0, revenue: [] }
    entry.units += Number(line.units)
    entry.orders += Number(line.orders)
    entry.revenue.push({ amount: Number(line.amount), currency: String(line.currency) })
    entry.revenue.sort((a, b) => a.currency.localeCompare(b.currency))
    products.set(sku, entry)
  }

  return {
    summary: {
      ordersCreated: Number(orders?.created),
      ordersConfirmed: Number(orders?.confirmed),
      ordersFailed: Number(orders?.failed),
      ordersCancelled: Number(orders?.cancelled),
      revenue: amounts(revenue),
      refunded: amounts(refunded),
      paymentsCaptured: Number(payments?.captured),
      paymentsDeclined: Number(payments?.declined),
      newCustomers: Number(users?.registered),
    },
    failureReasons: failures.map((row) => ({
      step: String(row.step),
      reason: String(row.reason),
      count: Number(row.count),
    })),
    products: [...products.values()].sort((a, b) => b.units - a.units || (a.sku < b.sku ? -1 : 1)),
    stock: new Map(
      stock.map((row) => [String(row.sku), { available: Number(row.available), committed: Number(row.committed) }]),
    ),
  }
}

/** Events the sources' outboxes still have to publish. */
export const unpublishedEvents = async (suffix: string) => {
  const counts = await Promise.all(
    sourceServices.map((service) =>
      rows(suffix, service, "SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL"),
    ),
  )
  return counts.reduce((total, [row]) => total + Number(row?.n), 0)
}

/** Ids of every event the sources wrote for analytics' topics, sorted. */
export const sourceEventIds = async (suffix: string) => {
  const topics = sourceTopics.map((topic) => `'${topic}'`).join(", ")
  const perService = await Promise.all(
    sourceServices.map((service) =>
      rows(suffix, service, `SELECT event_id::text AS id FROM outbox WHERE topic IN (${topics})`),
    ),
  )
  return perService
    .flat()
    .map((row) => String(row.id))
    .sort()
}

export const processedEventIds = async (suffix: string) =>
  (await rows(suffix, "analytics", "SELECT event_id::text AS id FROM processed_events"))
    .map((row) => String(row.id))
    .sort()
