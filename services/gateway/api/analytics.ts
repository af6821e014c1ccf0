/** Admin reports from the analytics service: totals, sales series, best sellers, failure reasons, stock forecast. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  CurrencyRequired,
  FailureReason,
  InvalidRange,
  InventoryUnavailable,
  ProductRanking,
  ProductSales,
  SalesBucket,
  StockForecast,
  Summary,
} from "../../../rpc/analytics.ts"
import { Currency, Sku } from "../../../rpc/common.ts"
import { AdminOnly } from "./security.ts"

const Instant = Schema.Date.annotations({ description: "An ISO 8601 instant (UTC)" })
const IntFromQuery = (min: number, max: number) => Schema.NumberFromString.pipe(Schema.int(), Schema.between(min, max))

export const OptionalRangeQuery = Schema.Struct({
  from: Schema.optionalWith(Instant, { exact: true }),
  to: Schema.optionalWith(Instant, { exact: true }),
})
export const RangeQuery = Schema.Struct({ from: Instant, to: Instant })
export const TopProductsQuery = Schema.Struct({
  by: Schema.optionalWith(ProductRanking, { exact: true }),
  currency: Schema.optionalWith(Currency, { exact: true }),
  limit: Schema.optionalWith(IntFromQuery(1, 100), { exact: true }),
  ...OptionalRangeQuery.fields,
})
export const StockForecastQuery = Schema.Struct({
  skus: Schema.optionalWith(
    Schema.split(",").pipe(Schema.compose(Schema.Array(Sku).pipe(Schema.minItems(1), Schema.maxItems(100)))),
    { exact: true },
  ).annotations({ description: "Comma-separated SKUs; without it, the SKUs sold in the window" }),
  windowDays: Schema.optionalWith(IntFromQuery(1, 90), { exact: true }),
  limit: Schema.optionalWith(IntFromQuery(1, 100), { exact: true }),
})

export class AnalyticsApi extends HttpApiGroup.make("analytics")
  .add(
    HttpApiEndpoint.get("summary", "/admin/analytics/summary")
      .setUrlParams(OptionalRangeQuery)
      .addSuccess(Summary)
      .addError(InvalidRange, { status: 400 })
      .annotate(OpenApi.Summary, "Orders, conversion, revenue, refunds and new customers over a range"),
  )
  .add(
    HttpApiEndpoint.get("salesPerMinute", "/admin/analytics/sales/minutes")
      .setUrlParams(RangeQuery)
      .addSuccess(Schema.Array(SalesBucket))
      .addError(InvalidRange, { status: 400 }),
  )
  .add(
    HttpApiEndpoint.get("salesPerDay", "/admin/analytics/sales/days")
      .setUrlParams(RangeQuery)
      .addSuccess(Schema.Array(SalesBucket))
      .addError(InvalidRange, { status: 400 }),
  )
  .add(
    HttpApiEndpoint.get("topProducts", "/admin/analytics/top-products")
      .setUrlParams(TopProductsQuery)
      .addSuccess(Schema.Array(ProductSales))
      .addError(InvalidRange, { status: 400 })
      .addError(CurrencyRequired, { status: 400 }),
  )
  .add(
    HttpApiEndpoint.get("failureReasons", "/admin/analytics/failures")
      .setUrlParams(OptionalRangeQuery)
      .addSuccess(Schema.Array(FailureReason))
      .addError(InvalidRange, { status: 400 }),
  )
  .add(
    HttpApiEndpoint.get("stockForecast", "/admin/analytics/stock-forecast")
      .setUrlParams(StockForecastQuery)
      .addSuccess(Schema.Array(StockForecast))
      .addError(InventoryUnavailable, { status: 503 }),
  )
  .middleware(AdminOnly) {}
