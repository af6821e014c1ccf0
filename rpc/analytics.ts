/**
 * The analytics service's contract: read-only reports over the aggregates it keeps from the domain
 * events of orders, payments, inventory and users. Every figure is eventually consistent with the
 * source services (it trails them by the consumer lag) and counts each event once.
 *
 * Time ranges are half-open, `[from, to)`, in UTC. Minute and day buckets start on UTC boundaries.
 * Money is integer minor units; figures in several currencies come as one `Money` per currency.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { Currency, Money, Sku } from "./common.ts"

export { Currency, Money, Sku }

const Count = Schema.NonNegativeInt

/** Per-currency amounts, one entry per currency that has any, sorted by currency code. */
export const Amounts = Schema.Array(Money)

export const TimeRange = Schema.Struct({ from: Schema.Date, to: Schema.Date })
export type TimeRange = typeof TimeRange.Type

/** The longest range one call may ask for, per bucket size (a dense series of buckets comes back). */
export const maxMinuteBuckets = 24 * 60
export const maxDayBuckets = 366

export class Summary extends Schema.Class<Summary>("Summary")({
  /** Checkouts started: `order.created`. */
  ordersCreated: Count,
  ordersConfirmed: Count,
  ordersFailed: Count,
  ordersCancelled: Count,
  /** ordersConfirmed / ordersCreated; null while no checkout was started. */
  conversionRate: Schema.NullOr(Schema.Number.pipe(Schema.between(0, 1))),
  /** Totals of confirmed orders. */
  revenue: Amounts,
  refunded: Amounts,
  paymentsCaptured: Count,
  paymentsDeclined: Count,
  /** `user.registered` events. */
  newCustomers: Count,
}) {}

/** One bucket of a time series; buckets with no activity are present with zeros. */
export class SalesBucket extends Schema.Class<SalesBucket>("SalesBucket")({
  start: Schema.Date,
  ordersCreated: Count,
  ordersConfirmed: Count,
  ordersFailed: Count,
  revenue: Amounts,
}) {}

export const ProductRanking = Schema.Literal("units", "revenue")
export type ProductRanking = typeof ProductRanking.Type

export class ProductSales extends Schema.Class<ProductSales>("ProductSales")({
  sku: Sku,
  /** Units in confirmed orders. */
  units: Count,
  /** Confirmed orders with at least one unit of the SKU. */
  orders: Count,
  revenue: Amounts,
}) {}

export class FailureReason extends Schema.Class<FailureReason>("FailureReason")({
  /** The checkout saga step that failed (reserveCart, reserveStock, charge, bookDelivery, confirm …). */
  step: Schema.String,
  /** The typed error met there (InsufficientStock, PaymentDeclined …). */
  reason: Schema.String,
  count: Count,
}) {}

export class StockForecast extends Schema.Class<StockForecast>("StockForecast")({
  sku: Sku,
  /** Current stock from the inventory service; null when inventory does not know the SKU. */
  available: Schema.NullOr(Count),
  reserved: Schema.NullOr(Count),
  /** Units committed (sold) in the window. */
  unitsSold: Count,
  windowDays: Schema.Int,
  /** unitsSold / windowDays. */
  unitsPerDay: Schema.NonNegative,
  /** available / unitsPerDay; null when nothing sold in the window (or the stock is unknown). */
  daysUntilStockOut: Schema.NullOr(Schema.NonNegative),
}) {}

// Errors -----------------------------------------------------------------------------------------

/** `from` is not before `to`, or the range holds more buckets than one call returns. */
export class InvalidRange extends Schema.TaggedError<InvalidRange>()("InvalidRange", {
  from: Schema.Date,
  to: Schema.Date,
  message: Schema.String,
}) {}

/** Revenue in different currencies cannot be ranked against each other: name one. */
export class CurrencyRequired extends Schema.TaggedError<CurrencyRequired>()("CurrencyRequired", {}) {}

/** Current stock could not be read from the inventory service. */
export class InventoryUnavailable extends Schema.TaggedError<InventoryUnavailable>()("InventoryUnavailable", {
  message: Schema.String,
}) {}

// The group --------------------------------------------------------------------------------------

const OptionalRange = {
  /** Omitted: since the first event. Rounded down to the minute. */
  from: Schema.optional(Schema.Date),
  /** Omitted: up to now. Rounded down to the minute. */
  to: Schema.optional(Schema.Date),
}

const DayRange = {
  /** Omitted: since the first event. Every UTC day that overlaps `[from, to)` counts. */
  from: Schema.optional(Schema.Date),
  to: Schema.optional(Schema.Date),
}

const Limit = (fallback: number) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => fallback })

export class AnalyticsRpcs extends RpcGroup.make(
  /** Totals over a range (default: all time). */
  Rpc.make("Summary", {
    payload: Schema.Struct(OptionalRange),
    success: Summary,
    error: InvalidRange,
  }),
  /** A dense series of minute buckets over `[from, to)`, at most a day. */
  Rpc.make("SalesPerMinute", {
    payload: TimeRange,
    success: Schema.Array(SalesBucket),
    error: InvalidRange,
  }),
  /** A dense series of UTC day buckets over the days overlapping `[from, to)`, at most 366. */
  Rpc.make("SalesPerDay", {
    payload: TimeRange,
    success: Schema.Array(SalesBucket),
    error: InvalidRange,
  }),
  /**
   * Best sellers of confirmed orders, by units or by revenue. `currency` keeps only sales in it;
   * ranking by revenue needs it (CurrencyRequired otherwise).
   */
  Rpc.make("TopProducts", {
    payload: Schema.Struct({
      by: ProductRanking,
      currency: Schema.optional(Currency),
      limit: Limit(10),
      ...DayRange,
    }),
    success: Schema.Array(ProductSales),
    error: Schema.Union(CurrencyRequired, InvalidRange),
  }),
  /** Failed checkouts by saga step and error, most frequent first. */
  Rpc.make("FailureReasons", {
    payload: Schema.Struct(DayRange),
    success: Schema.Array(FailureReason),
    error: InvalidRange,
  }),
  /**
   * Sales velocity over the last `windowDays` UTC days (today included) and days until stock-out at that
   * pace. Given `skus`, those SKUs in that order; otherwise the SKUs sold in the window, soonest out first.
   */
  Rpc.make("StockForecast", {
    payload: Schema.Struct({
      skus: Schema.optional(Schema.Array(Sku).pipe(Schema.minItems(1), Schema.maxItems(100))),
      windowDays: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 90)), { default: () => 7 }),
      limit: Limit(20),
    }),
    success: Schema.Array(StockForecast),
    error: InventoryUnavailable,
  }),
) {}
