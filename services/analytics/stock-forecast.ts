/**
 * Days until stock-out per SKU: units committed per day over a recent window (from inventory.committed
 * events) against the stock inventory has now. Restocks and adjustments publish no events, so current
 * stock is asked of the inventory service instead of being derived.
 */
import { Clock, Effect } from "effect"
import { InventoryUnavailable, StockForecast } from "../../rpc/analytics.ts"
import type { Sku } from "../../rpc/common.ts"
import type { StockItem } from "../../rpc/inventory.ts"
import { daysBefore } from "./buckets.ts"
import { InventoryClient } from "./clients.ts"
import { AnalyticsReports } from "./reports.ts"

export interface ForecastQuery {
  readonly skus?: ReadonlyArray<Sku> | undefined
  readonly windowDays: number
  readonly limit: number
}

/** Without a SKU list, the forecast looks at this many best sellers of the window before ranking. */
const candidateLimit = 1_000

export const forecastOf = (sku: Sku, unitsSold: number, windowDays: number, stock: StockItem | undefined) => {
  const unitsPerDay = unitsSold / windowDays
  return StockForecast.make({
    sku,
    available: stock?.available ?? null,
    reserved: stock?.reserved ?? null,
    unitsSold,
    windowDays,
    unitsPerDay,
    daysUntilStockOut: stock === undefined || unitsPerDay === 0 ? null : stock.available / unitsPerDay,
  })
}

const soonestOutFirst = (a: StockForecast, b: StockForecast) =>
  (a.daysUntilStockOut ?? Number.POSITIVE_INFINITY) - (b.daysUntilStockOut ?? Number.POSITIVE_INFINITY) ||
  b.unitsSold - a.unitsSold ||
  (a.sku < b.sku ? -1 : 1)

export class StockForecaster extends Effect.Service<StockForecaster>()("analytics/StockForecaster", {
  effect: Effect.gen(function* () {
    const reports = yield* AnalyticsReports
    const inventory = yield* InventoryClient

    const forecast = Effect.fn("Analytics.stockForecast")(function* (query: ForecastQuery) {
      const now = new Date(yield* Clock.currentTimeMillis)
      const firstDay = daysBefore(now, query.windowDays - 1)
      const sold = yield* reports.unitsCommitted(firstDay, query.skus, query.skus?.length ?? candidateLimit)
      const skus = query.skus ?? sold.map((row) => row.sku)
      if (skus.length === 0) return []
      const stock = yield* inventory
        .GetStocks({ skus })
        .pipe(Effect.mapError((error) => new InventoryUnavailable({ message: error.message })))
      const stockOf = new Map(stock.map((item) => [item.sku, item]))
      const soldOf = new Map(sold.map((row) => [row.sku, row.units]))
      const forecasts = skus.map((sku) => forecastOf(sku, soldOf.get(sku) ?? 0, query.windowDays, stockOf.get(sku)))
      return query.skus === undefined ? forecasts.sort(soonestOutFirst).slice(0, query.limit) : forecasts
    })

    return { forecast }
  }),
}) {}
